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
pub mod id;
pub mod keys;
pub mod ledger;
pub mod net;
pub mod policy;
pub mod sys;
pub mod token;
pub mod trusted;

use std::ffi::OsString;
use std::io::Write;

use audit::{Audit, Record};
use cli::usage::{
    clap_message, named_command, op_of, settings_of_refused, usage_line, verify_json_in,
};
use cli::{Cli, Command, Invocation, LogAction, Refusal};
use commands::present::{self, Shown, Style};
use commands::{Ctx, Done};
use error::{Exit, Result};

/// Run one parsed command against an open security log. Returns its outcome for
/// [`commands::present`]; the operation's record (a success, a rejection, a failure) has been
/// written (when the level policy keeps it) before this returns.
pub fn run(cli: &Cli, audit: &Audit, now: chrono::DateTime<chrono::Utc>) -> Result<Done> {
    run_keeping(cli, audit, now, &mut Record::new(cli.command.op()))
}

/// [`run`], leaving in `rec` the operation's record as written (for the record of a result the
/// final write then could not deliver: it names what was lost).
fn run_keeping(
    cli: &Cli,
    audit: &Audit,
    now: chrono::DateTime<chrono::Utc>,
    rec: &mut Record,
) -> Result<Done> {
    let ctx = Ctx {
        audit,
        now: now.timestamp(),
        now_precise: now.timestamp_micros() as f64 / 1e6,
        durable: audit.durable(),
    };
    // A result nobody can receive is not a success: find out before anything irreversible.
    let result = if cli.command.prints() && !sys::stdout_deliverable() {
        Err(error::Error::io(format!(
            "{}; nothing was done",
            present::UNDELIVERED
        )))
    } else {
        dispatch(cli, &ctx, rec)
    };
    // A success leaves its record in `rec`; a failure's is not needed after (taken).
    let taken = |rec: &mut Record| std::mem::take(rec);
    match result {
        Ok(Done::Print(out)) => audit.success_of(rec).map(|()| Done::Print(out)),
        Ok(Done::Recorded(out)) => Ok(Done::Print(out)),
        Ok(Done::Valid(token, passed)) => {
            audit.success_of(rec).map(|()| Done::Valid(token, passed))
        }
        Ok(Done::Rejected(r)) => audit.rejection(taken(rec), &r).map(|()| Done::Rejected(r)),
        Ok(broken @ Done::Broken { reason, .. }) => {
            audit.failure(taken(rec), reason).map(|()| broken)
        }
        Ok(streamed) => Ok(streamed),
        Err(e) if e.reason() == error::Reason::LogError => Err(e),
        Err(e) => audit.failure_of(taken(rec), &e).and(Err(e)),
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
        Command::Log(log) => match &log.action {
            LogAction::Search(args) => {
                commands::log_search::search(args, ctx.audit.base(), ctx, rec)
            }
            LogAction::Tail(args) => commands::log_search::tail(args, ctx.audit.base(), ctx, rec),
            LogAction::Verify(args) => commands::log::verify(args, ctx),
            LogAction::Head(args) => commands::log::head(args, ctx),
            LogAction::Seal(args) => match args.action {
                cli::SealVerb::Init => commands::log::seal_init(args, ctx, rec),
            },
        },
        Command::Policy(policy) => commands::policy::run(&policy.action, ctx, rec),
        Command::Completions(args) => commands::docs::completions(args),
        Command::Man(args) => commands::docs::man(args),
    }
}

/// Open the log, run the command, and show its outcome (through [`commands::present`]) with its
/// exit code.
pub fn execute(invocation: &Invocation) -> Exit {
    sys::restrict_umask();
    // jsonwebtoken must never fall back to a panicking default provider.
    let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
    let cli = &invocation.cli;
    let mut opened = None;
    let mut rec = Record::new(cli.command.op());
    let outcome = match (unrecorded(cli), &invocation.log) {
        (Some(outcome), _) => outcome,
        (None, Some(config)) => Audit::open(config).and_then(|audit| {
            let audit = opened.insert(audit);
            audit.warn_if_exposed(cli.command.op())?;
            run_keeping(cli, audit, chrono::Utc::now(), &mut rec)
        }),
        (None, None) => Err(error::Error::io(
            "no log settings for a command that records (a bug in jwtctl); nothing was done",
        )),
    };
    let style = Style::of(&cli.command);
    let succeeded = matches!(
        outcome,
        Ok(Done::Print(_) | Done::Recorded(_) | Done::Valid(..))
    );
    let shown = match outcome {
        Ok(Done::Streamed(exit)) => return exit,
        Ok(Done::Print(out) | Done::Recorded(out)) => present::result(out),
        Ok(Done::Valid(token, passed)) => present::valid(&token, passed.as_deref(), style),
        Ok(Done::Rejected(rejection)) => present::rejected(&rejection, style),
        Ok(Done::Broken {
            reason,
            message,
            stdout,
        }) => present::broken(reason, &message, stdout),
        // A failure goes to stdout as a JSON verdict only when stdout can take it.
        Err(e) => {
            let style = match style {
                Style::Json if !sys::stdout_deliverable() => Style::Text,
                style => style,
            };
            present::failure(&e, style, Some(cli.command.op()))
        }
    };
    match show(&shown) {
        Some(exit) => exit,
        None => undelivered(cli, opened.as_ref(), succeeded.then_some(rec)),
    }
}

/// The final write of a result failed: say what was done ([`present::lost`]) in the one message
/// every undelivered result gives, and record it (ERROR, `io_error`), as the check before the
/// command does. `done`: the record of the operation when it succeeded; the failure record keeps
/// its fields, so it names what was lost (a refresh's new `jti` and `token_sha256`, its
/// `parent_jti`). Exit 2, or 3 when the record cannot be written either.
fn undelivered(cli: &Cli, audit: Option<&Audit>, done: Option<Record>) -> Exit {
    let ((said, event), mut rec) = match done {
        Some(rec) => (present::lost(&cli.command), rec),
        None => (("nothing was done", None), Record::new(cli.command.op())),
    };
    let mut line = format!("jwtctl: {}; {said}", present::UNDELIVERED);
    let mut exit = Exit::Config;
    if let Some(audit) = audit {
        rec.event = event;
        if let Err(e) = audit.failure(rec, error::Reason::IoError) {
            line.push_str(&format!(
                "; and its record could not be written: {}",
                e.message()
            ));
            exit = e.exit_status();
        }
    }
    sys::eprint_line(&line);
    exit
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

/// Deliver what the presenter made: its stderr line, its stdout text; its exit code, or `None`
/// when stdout could not take the text (the caller says so: [`undelivered`]).
fn show(shown: &Shown) -> Option<Exit> {
    if let Some(line) = &shown.stderr {
        sys::eprint_line(line);
    }
    if shown.stdout.is_empty() {
        return Some(shown.exit);
    }
    print(&shown.stdout).then_some(shown.exit)
}

/// Write a command's answer to stdout; whether it was written. Every answer passes
/// [`escape::output_escaped`]: whatever a path forgot, nothing hostile reaches a terminal.
fn print(text: &str) -> bool {
    let text = escape::output_escaped(text);
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .is_ok()
}

/// Answer a refused command line: help and version as clap prints them; a usage error as one
/// line (what is wrong, with clap's suggestions and the values an option takes, and the
/// command's usage line), exit 2, and (best effort) an ERROR record in the log the arguments
/// point to.
pub fn usage_error(refusal: &Refusal, args: &[OsString]) -> Exit {
    use clap::error::ErrorKind;
    if let Refusal::Clap(err) = refusal
        && matches!(
            err.kind(),
            ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
        )
    {
        // Help and version are output like any other: one that cannot be written is exit 2
        // (with no record: help and version are never recorded).
        if err
            .print()
            .and_then(|()| std::io::stdout().flush())
            .is_err()
        {
            sys::eprint_line(&format!(
                "jwtctl: {}; nothing was done",
                present::UNDELIVERED
            ));
            return Exit::Config;
        }
        return Exit::Success;
    }
    let (path, cmd) = named_command(args);
    let shown = match refusal {
        Refusal::Clap(err) => clap_message(err, args, &path, &cmd),
        Refusal::Env(fault) => fault.to_string(),
        Refusal::Rule(rule) => (*rule).to_owned(),
    };
    let message = format!("{shown}; {}; see '{path} --help'", usage_line(&cmd));
    // With `verify --output json`, the usage error is a verdict on stdout, as any failure is.
    let style = match verify_json_in(args) {
        true => Style::Json,
        false => Style::Text,
    };
    if show(&present::failure(
        &error::Error::usage(message),
        style,
        None,
    ))
    .is_none()
    {
        sys::eprint_line(&format!(
            "jwtctl: {}; nothing was done",
            present::UNDELIVERED
        ));
    }
    sys::restrict_umask();
    // A command that uses no log does not open (or create) one for its usage error either.
    if ["jwtctl completions", "jwtctl man"].contains(&path.as_str()) {
        return Exit::Config;
    }
    if let Ok(audit) = Audit::open(&settings_of_refused(args)) {
        let _ = audit.failure(Record::new(op_of(&path)), error::Reason::Usage);
    }
    Exit::Config
}
