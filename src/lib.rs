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

use audit::{Audit, LogConfig, Record};
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
const OPS: [&str; 10] = [
    "issue",
    "verify",
    "refresh",
    "revoke",
    "inspect",
    "key",
    "cache",
    "ledger",
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

/// Whether a refused command line asked for `verify --output json` (its usage error is then a
/// JSON verdict on stdout).
fn verify_json_in(args: &[OsString]) -> bool {
    let words: Vec<&str> = args.iter().skip(1).filter_map(|a| a.to_str()).collect();
    words.contains(&"verify")
        && !words.contains(&"--batch")
        && (words.contains(&"--output=json") || words.windows(2).any(|w| w == ["--output", "json"]))
}

/// When a bad value came from an environment variable (its flag is not on the command line), a
/// message naming the variable and the values it takes, instead of a flag never given.
fn variable_at_fault(err: &clap::Error, args: &[OsString]) -> Option<String> {
    use clap::CommandFactory;
    use clap::error::{ContextKind, ContextValue};
    let Some(ContextValue::String(arg)) = err.get(ContextKind::InvalidArg) else {
        return None;
    };
    let flag = arg.split([' ', '=']).next()?;
    let given = args.iter().skip(1).any(|a| {
        a.to_str()
            .is_some_and(|a| a == flag || a.starts_with(&format!("{flag}=")))
    });
    if given {
        return None;
    }
    let mut cmd = Cli::command();
    cmd.build();
    let var = std::iter::once(&cmd)
        .chain(cmd.get_subcommands())
        .flat_map(|c| c.get_arguments())
        .find(|a| {
            a.get_long()
                .is_some_and(|l| flag.strip_prefix("--") == Some(l))
        })?
        .get_env()?
        .to_str()?
        .to_owned();
    std::env::var_os(&var)?;
    let accepted = match err.get(ContextKind::ValidValue) {
        Some(ContextValue::Strings(values)) => format!("; it takes {}", values.join(", ")),
        _ => match err.kind() {
            clap::error::ErrorKind::ValueValidation if var == "JWTCTL_LOG_SYNC" => {
                "; it takes 1/0, true/false, yes/no, on/off".to_string()
            }
            _ => std::error::Error::source(err)
                .map(|why| format!(": {why}"))
                .unwrap_or_default(),
        },
    };
    Some(format!(
        "environment variable {var} has a value jwtctl cannot use{accepted}"
    ))
}

/// The log settings a refused command line meant: the arguments clap objected to are dropped
/// one at a time until the rest parses, and the settings come from [`Cli::log_settings`], as
/// for any other command line (flags before and after the subcommand, then the environment).
/// When nothing parses, what clap can read leniently, then the environment and the defaults.
fn settings_of_refused(args: &[OsString]) -> LogConfig {
    let mut args = args.to_vec();
    for _ in 0..16 {
        match <Cli as clap::Parser>::try_parse_from(&args) {
            Ok(cli) => return cli.log_settings(),
            Err(e) if drop_offender(&mut args, &e) => {}
            Err(_) => break,
        }
    }
    // What is left, leniently (a missing subcommand is not an error here): the log flags given
    // before a missing or refused subcommand (`jwtctl --log-file b.log`), then the environment
    // and the defaults.
    use clap::{CommandFactory, FromArgMatches};
    Cli::command()
        .ignore_errors(true)
        .try_get_matches_from(&args)
        .ok()
        .and_then(|m| cli::LogArgs::from_arg_matches(&m).ok())
        .map_or_else(
            || LogConfig::at("security.log".into()),
            |log| LogConfig {
                path: log.log_file,
                level: log.log_level,
                sync: log.log_sync,
                rotate: log.log_rotate,
                peer: log.peer,
                syslog: log.log_syslog,
            },
        )
}

/// Remove the argument clap refused (with its value, for a bad value); false when there is
/// nothing to remove.
fn drop_offender(args: &mut Vec<OsString>, err: &clap::Error) -> bool {
    use clap::error::{ContextKind, ContextValue};
    let Some(ContextValue::String(arg)) = err.get(ContextKind::InvalidArg) else {
        return false;
    };
    let flag = arg.split([' ', '=']).next().unwrap_or(arg);
    let found = args.iter().skip(1).position(|a| {
        a.to_str().is_some_and(|a| {
            a == arg || a == flag || a.strip_prefix(flag).is_some_and(|r| r.starts_with('='))
        })
    });
    let Some(i) = found.map(|i| i + 1) else {
        return false;
    };
    let takes_value = arg.contains(' ') && args[i].to_str().is_some_and(|a| !a.contains('='));
    args.remove(i);
    if takes_value && i < args.len() {
        args.remove(i);
    }
    true
}

/// What clap says below its first line that helps: its suggestions ("a similar subcommand
/// exists: 'verify'", names from jwtctl's definition) and the values an option takes, folded into
/// the one stderr line (scripts read one line; people still get "did you mean"). `rendered` has
/// been through [`redact_typed`], so no typed value (say, one with a newline) can pose as one.
fn hints(rendered: &str) -> String {
    rendered
        .lines()
        .skip(1)
        .map(str::trim)
        .filter_map(|line| {
            let tip = line.strip_prefix("tip: ").unwrap_or(line);
            (tip.starts_with("a similar") || tip.starts_with("some similar"))
                .then(|| format!(" ({tip})"))
                .or_else(|| {
                    line.starts_with("[possible values:")
                        .then(|| format!(" {line}"))
                })
        })
        .collect()
}

/// clap's first line without its `error: `. With `listed` (missing required arguments), the
/// arguments' names clap lists under it, as jwtctl defines them, are folded into it.
fn first_line(rendered: &str, listed: bool) -> String {
    let mut lines = rendered.lines();
    let first = lines.next().unwrap_or("invalid arguments");
    let mut line = first.strip_prefix("error: ").unwrap_or(first).to_owned();
    if listed && line.ends_with(':') {
        let names: Vec<&str> = lines
            .take_while(|l| l.starts_with("  "))
            .map(str::trim)
            .collect();
        line.push(' ');
        line.push_str(&names.join(", "));
    }
    line
}

/// For a command line that names a command with subcommands but not which (`jwtctl key`), or no
/// command at all: one line naming the choices, rather than the whole help on stderr.
fn missing_command(path: &str, cmd: &clap::Command) -> String {
    let names: Vec<&str> = cmd
        .get_subcommands()
        .map(clap::Command::get_name)
        .filter(|name| *name != "help")
        .collect();
    format!(
        "no command given after '{path}'; give one of: {}",
        names.join(", ")
    )
}

/// The (sub)command a refused command line names, as words (`jwtctl key gen`), and its clap
/// definition, as clap's own parser finds them (an option's value that happens to be a command's
/// name is not taken for one). Built only on this error path.
fn named_command(args: &[OsString]) -> (String, clap::Command) {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    cmd.build();
    let matches = cmd.clone().ignore_errors(true).try_get_matches_from(args);
    let mut path = String::from("jwtctl");
    let mut m = matches.as_ref().ok();
    while let Some((name, sub_matches)) = m.and_then(clap::ArgMatches::subcommand) {
        let Some(sub) = cmd.find_subcommand(name).cloned() else {
            break;
        };
        path.push(' ');
        path.push_str(name);
        cmd = sub;
        m = Some(sub_matches);
    }
    // The parser stops at a nested command's own error (`key gen --bogus`): below a command it
    // found, a word naming one of that command's subcommands is taken for it.
    if path != "jwtctl" {
        for word in args.iter().skip(1).filter_map(|a| a.to_str()) {
            if let Some(sub) = cmd.find_subcommand(word).cloned() {
                path.push(' ');
                path.push_str(word);
                cmd = sub;
            }
        }
    }
    (path, cmd)
}

/// The command's usage line (`Usage: jwtctl verify [OPTIONS] [TOKEN]`), kept in the one stderr
/// line (scripts read one line). It is rendered from jwtctl's own definition, not taken from
/// clap's message, where a typed value could pose as one.
fn usage_line(cmd: &clap::Command) -> String {
    cmd.clone().render_usage().to_string()
}

/// clap's whole message with each command-line value that could be a token or a secret replaced
/// wherever clap quotes it, the value as typed (newlines, quotes and all) or the `VALUE` of a
/// `--flag=VALUE`. [`redact_values`] then handles the quoted parts clap forms itself.
///
/// Invariant: stderr never carries a token or secret given on the command line by mistake (a
/// second token, a secret pasted where a flag or name was expected).
fn redact_typed(rendered: &str, args: &[OsString], surplus: bool) -> String {
    let mut typed: Vec<String> = Vec::new();
    for arg in args.iter().skip(1) {
        let arg = arg.to_string_lossy();
        if let Some((_, value)) = arg.split_once('=').filter(|_| arg.starts_with("--")) {
            typed.push(value.to_owned());
        }
        typed.push(arg.into_owned());
    }
    typed.sort_by_key(|v| std::cmp::Reverse(v.len()));
    let mut out = rendered.to_owned();
    for value in typed {
        let shown = shown_value(&value, surplus);
        if shown != value && !value.is_empty() {
            out = out.replace(&format!("'{value}'"), &format!("'{shown}'"));
        }
    }
    out
}

/// clap's message with every quoted command-line value that could be a token or a secret
/// replaced: option names stay (less any `=VALUE`), short plain words stay (a subcommand typo, an
/// enum value), and with `surplus` (an unexpected argument) every non-option value goes.
fn redact_values(message: &str, surplus: bool) -> String {
    let mut out = String::with_capacity(message.len());
    let mut parts = message.split('\'');
    out.push_str(parts.next().unwrap_or_default());
    let mut quoted = true;
    for part in parts {
        out.push('\'');
        if quoted {
            out.push_str(&shown_value(part, surplus));
        } else {
            out.push_str(part);
        }
        quoted = !quoted;
    }
    out
}

fn shown_value(value: &str, surplus: bool) -> String {
    if value.starts_with('-') {
        return match value.split_once('=') {
            Some((name, _)) => format!("{name}=…"),
            None => value.to_string(),
        };
    }
    let plain = value.len() <= 24
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ' ' | '<' | '>'));
    if plain && !surplus {
        value.to_string()
    } else {
        "(value not shown: it may be a token or secret)".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_values_that_could_be_tokens_are_not_repeated() {
        let surplus = redact_values("unexpected argument 'eyJ.a.b' found", true);
        assert_eq!(
            surplus,
            "unexpected argument '(value not shown: it may be a token or secret)' found"
        );
        assert_eq!(
            redact_values("unexpected argument '--secret=hunter2' found", true),
            "unexpected argument '--secret=…' found"
        );
        assert_eq!(
            redact_values("invalid value 'RS257' for '--alg <ALG>'", false),
            "invalid value 'RS257' for '--alg <ALG>'"
        );
        let long = redact_values(
            "unrecognized subcommand 'c2VjcmV0LXNlY3JldC1zZWNyZXQ'",
            false,
        );
        assert!(!long.contains("c2Vj"), "{long}");
    }

    #[test]
    fn ops_name_every_subcommand() {
        let cmd = <Cli as clap::CommandFactory>::command();
        let names: Vec<&str> = cmd.get_subcommands().map(|c| c.get_name()).collect();
        assert_eq!(names, OPS);
    }
}
