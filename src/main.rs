//! The jwtctl binary: prepare the process, parse the command line, run it, return the exit code.
//!
//! `main` is the C entry point rather than Rust's: Rust's runtime start-up reads
//! `/proc/self/maps` and installs a stack-overflow handler before `main`, which is a tenth of
//! jwtctl's start-up time. [`jwtctl::sys::prepare_process`] does the parts jwtctl relies on
//! (standard fds, SIGPIPE); a stack overflow, which nothing here recurses deep enough to cause,
//! would end in a plain SIGSEGV instead of a message.
#![no_main]
// `no_mangle` is how a crate names its C `main`; nothing else in this file is unsafe.
#![allow(unsafe_code)]

use std::ffi::{c_char, c_int};
use std::io::Write;

use clap::Parser;
use jwtctl::cli::Cli;
use jwtctl::error::Exit;

#[unsafe(no_mangle)]
extern "C" fn main(_argc: c_int, _argv: *const *const c_char) -> c_int {
    if !jwtctl::sys::prepare_process() {
        return Exit::Config.code();
    }
    // The standard library has the arguments from glibc, as it does under Rust's own start-up.
    let args: Vec<_> = std::env::args_os().collect();
    let exit = match Cli::try_parse_from(&args) {
        Ok(cli) => jwtctl::execute(&cli),
        Err(err) => jwtctl::usage_error(&err, &args),
    };
    // Rust's runtime flushes stdout at exit; jwtctl's own output is flushed already, clap's help
    // may not be.
    let _ = std::io::stdout().flush();
    exit.code()
}
