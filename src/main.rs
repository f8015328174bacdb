//! The jwtctl binary: parse the command line, run it, return the documented exit code.

use std::process::ExitCode;

use clap::Parser;
use jwtctl::cli::Cli;

fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().collect();
    match Cli::try_parse_from(&args) {
        Ok(cli) => jwtctl::execute(&cli),
        Err(err) => jwtctl::usage_error(&err, &args),
    }
}
