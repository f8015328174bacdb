//! From argv to a command line jwtctl accepts (`Invocation`: the parsed arguments and the log
//! settings they resolve to), or the reason it refuses one (`Refusal`).

use std::ffi::OsString;

use super::{Cli, Command, EnvFault};
use crate::audit::LogConfig;

/// A command line jwtctl accepted.
#[derive(Debug)]
pub struct Invocation {
    pub cli: Cli,
    /// The log settings in force; `None` for the commands that run without the log
    /// (`completions`, `man`), whose settings are never read, so a bad one cannot fail them.
    pub log: Option<LogConfig>,
}

/// Why a command line was refused: each is a usage error (exit 2).
#[derive(Debug)]
pub enum Refusal {
    /// clap refused it.
    Clap(clap::Error),
    /// A log setting in the environment cannot be used.
    Env(EnvFault),
    /// A rule of jwtctl's own (its message, which holds no typed value).
    Rule(&'static str),
}

/// Parse the command line with `cmd`, jwtctl's clap definition (`Cli::command()`). The matches
/// are returned beside the invocation so that the caller decides when, or whether, they are
/// freed (`main` never frees them, nor `cmd`: see there).
pub fn parse(
    cmd: &mut clap::Command,
    args: &[OsString],
) -> Result<(Invocation, clap::ArgMatches), Refusal> {
    use clap::FromArgMatches;
    let mut matches = cmd.try_get_matches_from_mut(args).map_err(Refusal::Clap)?;
    refuse_password_in_argv(&matches)?;
    let cli = Cli::from_arg_matches_mut(&mut matches).map_err(|e| Refusal::Clap(e.format(cmd)))?;
    let log = match cli.command {
        // Invariant: a command that uses no log never fails on log settings.
        Command::Completions(_) | Command::Man(_) => None,
        _ => Some(cli.log_settings().map_err(Refusal::Env)?),
    };
    Ok((Invocation { cli, log }, matches))
}

/// Invariant: no password comes from the command line, where every user of the host can read
/// it (`ps`). A `--ledger` URL with one is a usage error; from `JWTCTL_LEDGER` it is taken.
fn refuse_password_in_argv(matches: &clap::ArgMatches) -> Result<(), Refusal> {
    let mut m = matches;
    while let Some((_, sub)) = m.subcommand() {
        m = sub;
    }
    let given = m
        .try_get_raw("ledger")
        .ok()
        .flatten()
        .and_then(|mut values| values.next())
        .filter(|_| m.value_source("ledger") == Some(clap::parser::ValueSource::CommandLine));
    match given {
        Some(url) if crate::ledger::url_has_password(url) => Err(Refusal::Rule(
            "a password in --ledger is visible to every user of this host (ps); put it in \
             PGPASSFILE or PGPASSWORD, or the whole URL in JWTCTL_LEDGER",
        )),
        _ => Ok(()),
    }
}
