//! jwtctl: issue, refresh and verify JSON Web Tokens, recording every operation in a security log.
//!
//! `main` parses the command line and calls [`execute`]; [`run`] dispatches to one module per
//! subcommand under [`commands`], which check their arguments, call the pure [`token`] core with
//! keys from [`keys`], and leave one record in the [`audit`] log. [`error`] maps every failure to
//! its reason code and exit code.

// jwtctl is Unix-only: its log and ledger checks rest on file modes, owners, `O_NOFOLLOW` and
// `flock` (see `sys`).
#[cfg(not(unix))]
compile_error!("jwtctl builds on Unix only (Linux, the BSDs, macOS)");

pub mod audit;
pub mod cli;
pub mod commands;
pub mod error;
pub mod escape;
pub mod hash;
pub mod keys;
pub mod ledger;
pub mod net;
pub mod sys;
pub mod token;
pub mod trusted;

use std::ffi::OsString;
use std::io::Write;

use audit::{Audit, Record};
use cli::usage::{
    first_line, hints, missing_command, named_command, redact_typed, redact_values,
    settings_of_refused, usage_line, variable_at_fault, verify_json_in,
};
use cli::{Cli, Command};
use commands::{Ctx, Done, Reply};
use error::{Exit, Result};

/// Run one parsed command against an open security log. Returns what goes to stdout; the
/// operation's record has been written (when the level policy keeps it) before this returns.
pub fn run(cli: &Cli, audit: &Audit, now: chrono::DateTime<chrono::Utc>) -> Result<Done> {
    let ctx = Ctx {
        audit,
        now: now.timestamp(),
        now_precise: now.timestamp_micros() as f64 / 1e6,
        durable: audit.durable(),
    };
    let mut rec = Record::new(cli.command.op());
    // A result nobody can receive is not a success: find out before anything irreversible.
    let result = if cli.command.prints() && !sys::stdout_deliverable() {
        Err(error::Error::io(
            "stdout cannot be written (closed, full, or its reader has gone), so the result \
             could not be delivered; nothing was done",
        ))
    } else {
        dispatch(cli, &ctx, &mut rec)
    };
    match result {
        Ok(Done::Print(out)) => audit.success(rec).map(|()| Done::Print(out)),
        Ok(Done::Recorded(out)) => Ok(Done::Print(out)),
        Ok(Done::Refused(e, reply)) => audit.failure_of(rec, &e).map(|()| Done::Refused(e, reply)),
        Ok(streamed) => Ok(streamed),
        Err(e) if e.reason() == error::Reason::LogError => Err(e),
        Err(e) => audit.failure_of(rec, &e).and(Err(e)),
    }
}

/// Run the subcommand the command line names.
fn dispatch(cli: &Cli, ctx: &Ctx, rec: &mut Record) -> Result<Done> {
    match &cli.command {
        Command::Issue(args) => commands::issue::run(args, ctx, rec),
        Command::Verify(args) if args.batch => commands::batch::run(args, ctx, rec),
        Command::Verify(args) => commands::verify::run(args, ctx, rec),
        Command::Refresh(args) => commands::refresh::run(args, ctx, rec),
        Command::Revoke(args) => commands::revoke::run(args, ctx, rec),
        Command::Inspect(args) => commands::inspect::run(args, ctx, rec),
        Command::Key(key) => commands::key::run(&key.action, ctx, rec),
        Command::Cache(cache) => commands::cache::run(&cache.action, ctx),
        Command::Ledger(ledger) => commands::ledgers::run(&ledger.action, ctx),
        Command::Log(log) => {
            commands::log_search::run(&log.action, &cli.log_settings().path, ctx, rec)
        }
        Command::Completions(args) => commands::docs::completions(args),
        Command::Man(args) => commands::docs::man(args),
    }
}

/// Parse the command line with `cmd`, jwtctl's clap definition (`Cli::command()`). The matches
/// are returned beside the arguments so that the caller decides when, or whether, they are freed
/// (`main` never frees them, nor `cmd`: see there).
pub fn parse(
    cmd: &mut clap::Command,
    args: &[OsString],
) -> std::result::Result<(Cli, clap::ArgMatches), clap::Error> {
    use clap::FromArgMatches;
    let mut matches = match cmd.try_get_matches_from_mut(args) {
        Ok(matches) => matches,
        Err(e) if runs_without_log(args) => {
            // Invariant: a command that uses no log never fails on log settings. Its command
            // line is parsed again without the environment (`JWTCTL_LOG_LEVEL=bogus` is
            // ignored); a flag typed on its command line is still checked.
            *cmd = <Cli as clap::CommandFactory>::command().mut_args(|a| a.env(None));
            cmd.try_get_matches_from_mut(args).map_err(|_| e)?
        }
        Err(e) => return Err(e),
    };
    refuse_password_in_argv(&matches).map_err(|e| e.format(cmd))?;
    let cli = Cli::from_arg_matches_mut(&mut matches).map_err(|e| e.format(cmd))?;
    Ok((cli, matches))
}

/// Whether the command line names a command that runs without the log (see [`unrecorded`]),
/// as clap's own parser finds it (an option's value that names one does not count).
fn runs_without_log(args: &[OsString]) -> bool {
    let (path, _) = named_command(args);
    ["jwtctl completions", "jwtctl man"].contains(&path.as_str())
}

/// Invariant: no password comes from the command line, where every user of the host can read
/// it (`ps`). A `--ledger` URL with one is a usage error; from `JWTCTL_LEDGER` it is taken.
fn refuse_password_in_argv(matches: &clap::ArgMatches) -> std::result::Result<(), clap::Error> {
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
        Some(url) if ledger::url_has_password(url) => Err(clap::Error::raw(
            clap::error::ErrorKind::ValueValidation,
            "a password in --ledger is visible to every user of this host (ps); put it in \
             PGPASSFILE or PGPASSWORD, or the whole URL in JWTCTL_LEDGER\n",
        )),
        _ => Ok(()),
    }
}

/// Open the log, run the command, print its result, and map the outcome to an exit code.
pub fn execute(cli: &Cli) -> Exit {
    sys::restrict_umask();
    // jsonwebtoken must never fall back to a panicking default provider.
    let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
    let outcome = unrecorded(cli).unwrap_or_else(|| {
        let config = cli.log_settings();
        Audit::open(&config).and_then(|audit| {
            audit.warn_if_exposed(cli.command.op())?;
            run(cli, &audit, chrono::Utc::now())
        })
    });
    match outcome {
        Ok(Done::Print(out) | Done::Recorded(out)) => print(&out, Exit::Success),
        Ok(Done::Streamed(exit)) => exit,
        Ok(Done::Refused(e, Reply::Stdout(answer))) => print(&answer, e.exit_status()),
        Ok(Done::Refused(e, Reply::Silent)) => e.exit_status(),
        // With `verify --output json`, configuration errors are verdicts on stdout too, so a
        // script piping into jq sees one; only a log failure (exit 3) leaves stdout empty.
        Err(e)
            if wants_json(cli)
                && e.reason() != error::Reason::LogError
                && sys::stdout_deliverable() =>
        {
            print(
                &commands::verdict::Verdict::rejected(&e, None).line(),
                e.exit_status(),
            )
        }
        Ok(Done::Refused(e, Reply::Stderr)) | Err(e) => {
            // A usage error points to the command's help, as clap's own do.
            let help = if e.reason() == error::Reason::Usage {
                format!(
                    "; see 'jwtctl {} --help'",
                    cli.command.op().replace('_', " ")
                )
            } else {
                String::new()
            };
            sys::eprint_line(&format!("jwtctl: {e}{help}"));
            e.exit_status()
        }
    }
}

/// Commands that do no token work (shell completions, man pages) run without the security log:
/// they neither open nor create it, so they work in a read-only directory. Like `--help` and
/// `--version`, they are not recorded. `None` for every other command.
fn unrecorded(cli: &Cli) -> Option<Result<Done>> {
    match &cli.command {
        Command::Completions(args) => Some(commands::docs::completions(args)),
        Command::Man(args) => Some(commands::docs::man(args)),
        _ => None,
    }
}

/// Whether the command is a single `verify --output json`.
fn wants_json(cli: &Cli) -> bool {
    matches!(&cli.command, Command::Verify(args)
        if args.output() == cli::Output::Json && !args.batch && !args.quiet)
}

/// Write a command's answer to stdout; a stdout that cannot be written is exit 2. Every answer
/// passes [`escape::output_escaped`]: whatever a path forgot, nothing hostile reaches a terminal.
fn print(text: &str, status: Exit) -> Exit {
    let text = escape::output_escaped(text);
    let mut stdout = std::io::stdout().lock();
    if stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .is_err()
    {
        sys::eprint_line("jwtctl: cannot write to stdout");
        return Exit::Config;
    }
    status
}

/// The subcommands' names, as records name their operations (a test keeps it in step with clap).
const OPS: [&str; 11] = [
    "issue",
    "verify",
    "refresh",
    "revoke",
    "inspect",
    "key",
    "cache",
    "ledger",
    "log",
    "completions",
    "man",
];

/// Answer a command line clap refused: help and version as clap prints them; a usage error as
/// one line with clap's whole message (suggestions, possible values, its usage line), exit 2,
/// and (best effort) an ERROR record in the log the arguments point to.
pub fn usage_error(err: &clap::Error, args: &[OsString]) -> Exit {
    use clap::error::ErrorKind;
    if matches!(
        err.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
    ) {
        // Help and version are output like any other: one that cannot be written is exit 2.
        if err
            .print()
            .and_then(|()| std::io::stdout().flush())
            .is_err()
        {
            sys::eprint_line("jwtctl: cannot write to stdout");
            return Exit::Config;
        }
        return Exit::Success;
    }
    let surplus = err.kind() == ErrorKind::UnknownArgument;
    let rendered = redact_typed(&err.render().to_string(), args, surplus);
    let (path, cmd) = named_command(args);
    let shown = if err.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        missing_command(&path, &cmd)
    } else if let Some(message) = variable_at_fault(err, args) {
        message
    } else {
        let listed = err.kind() == ErrorKind::MissingRequiredArgument;
        redact_values(&first_line(&rendered, listed), surplus) + &hints(&rendered)
    };
    let op = args
        .iter()
        .skip(1)
        .filter_map(|a| a.to_str())
        .find_map(|a| OPS.into_iter().find(|op| *op == a));
    let message = format!("{shown}; {}; see '{path} --help'", usage_line(&cmd));
    if verify_json_in(args) {
        let e = error::Error::usage(message);
        let _ = print(
            &commands::verdict::Verdict::rejected(&e, None).line(),
            Exit::Config,
        );
    } else {
        sys::eprint_line(&format!("jwtctl: {message}"));
    }
    let op = op.unwrap_or("jwtctl");
    sys::restrict_umask();
    // A command that uses no log does not open (or create) one for its usage error either.
    if runs_without_log(args) {
        return Exit::Config;
    }
    if let Ok(audit) = Audit::open(&settings_of_refused(args)) {
        let _ = audit.failure(Record::new(op), error::Reason::Usage);
    }
    Exit::Config
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_name_every_subcommand() {
        let cmd = <Cli as clap::CommandFactory>::command();
        let names: Vec<&str> = cmd.get_subcommands().map(|c| c.get_name()).collect();
        assert_eq!(names, OPS);
    }
}
