//! Usage errors: the one stderr line for what clap refused (clap's first line, its hints and the
//! usage line, with no typed value repeated), the variable at fault when a bad value came from
//! the environment, and the log settings a refused command line meant.

use std::ffi::OsString;

use super::{Cli, LogOpts, resolve};
use crate::audit::LogConfig;

/// Whether a refused command line asked for `verify --output json` (its usage error is then a
/// JSON verdict on stdout).
pub(crate) fn verify_json_in(args: &[OsString]) -> bool {
    let words: Vec<&str> = args.iter().skip(1).filter_map(|a| a.to_str()).collect();
    words.contains(&"verify")
        && !words.contains(&"--batch")
        && (words.contains(&"--output=json") || words.windows(2).any(|w| w == ["--output", "json"]))
}

/// When a bad value came from an environment variable (its flag is not on the command line), a
/// message naming the variable and the values it takes, instead of a flag never given.
pub(crate) fn variable_at_fault(err: &clap::Error, args: &[OsString]) -> Option<String> {
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
        _ => std::error::Error::source(err)
            .map(|why| format!(": {why}"))
            .unwrap_or_default(),
    };
    Some(format!(
        "environment variable {var} has a value jwtctl cannot use{accepted}"
    ))
}

/// The log settings a refused command line meant: the arguments clap objected to are dropped
/// one at a time until the rest parses, and the settings are resolved from what is left as for
/// any other command line ([`resolve`]: flags after the subcommand, before it, the environment,
/// the defaults). When nothing parses, the log options clap can read leniently before a missing
/// or refused subcommand (`jwtctl --log-file b.log`). A log variable that cannot be used counts
/// as unset here.
pub(crate) fn settings_of_refused(args: &[OsString]) -> LogConfig {
    use clap::{CommandFactory, FromArgMatches};
    let mut args = args.to_vec();
    for _ in 0..16 {
        match <Cli as clap::Parser>::try_parse_from(&args) {
            Ok(cli) => return resolve(cli.command.log_after(), &cli.log).0,
            Err(e) if drop_offender(&mut args, &e) => {}
            Err(_) => break,
        }
    }
    let before = Cli::command()
        .ignore_errors(true)
        .try_get_matches_from(&args)
        .ok()
        .and_then(|m| LogOpts::from_arg_matches(&m).ok())
        .unwrap_or_default();
    resolve(&LogOpts::default(), &before).0
}

/// Remove the argument clap refused (with its value, for a bad value); false when there is
/// nothing to remove.
pub(crate) fn drop_offender(args: &mut Vec<OsString>, err: &clap::Error) -> bool {
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

/// The operation a refused command line is recorded as: the record name of the command it names
/// (`key_gen` for `jwtctl key gen`; `key` when it names no subcommand of `key`), else `jwtctl`.
pub fn op_of(path: &str) -> &'static str {
    let name = path
        .strip_prefix("jwtctl ")
        .unwrap_or("jwtctl")
        .replace(' ', "_");
    // `log_seal` is the op of seal records alone (log verify reads them as seals).
    let name = if name == "log_seal" {
        "log_seal_init".to_owned()
    } else {
        name
    };
    super::OPERATIONS
        .into_iter()
        .find(|op| *op == name)
        .unwrap_or("jwtctl")
}

/// For a command line that names a command with subcommands but not which (`jwtctl key`), or no
/// command at all: one line naming the choices, rather than the whole help on stderr.
pub(crate) fn missing_command(path: &str, cmd: &clap::Command) -> String {
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
pub(crate) fn named_command(args: &[OsString]) -> (String, clap::Command) {
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
pub(crate) fn usage_line(cmd: &clap::Command) -> String {
    cmd.clone().render_usage().to_string()
}

/// What is wrong with a command line clap refused, for the one stderr line: built from clap's
/// error kind and the arguments' names as jwtctl defines them, with clap's suggestions (names
/// from the definition too) and the values an option takes. `path` and `cmd` are the command the
/// line names ([`named_command`]).
///
/// Invariant: no value typed on the command line is repeated (a token or secret given by
/// mistake, a second token, a secret pasted where a flag was expected); of what the user typed
/// only the name of an unknown flag is shown, and only when it looks like one.
pub fn clap_message(
    err: &clap::Error,
    args: &[OsString],
    path: &str,
    cmd: &clap::Command,
) -> String {
    use clap::error::{ContextKind as Kind, ErrorKind};
    if err.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        return missing_command(path, cmd);
    }
    if let Some(message) = variable_at_fault(err, args) {
        return message;
    }
    if err.kind() == ErrorKind::UnknownArgument
        && let Some(message) = one(err, Kind::InvalidArg).and_then(|a| misplaced(a, args))
    {
        return message;
    }
    let arg = one(err, Kind::InvalidArg).unwrap_or("an argument");
    let mut line = match err.kind() {
        ErrorKind::InvalidValue if one(err, Kind::InvalidValue) == Some("") => {
            format!("a value is required for '{arg}' but none was supplied")
        }
        ErrorKind::InvalidValue => format!("invalid value for '{arg}'"),
        ErrorKind::ValueValidation => match std::error::Error::source(err) {
            // An id flag's refusal names the flag and what to give: `--jti is empty; give …`.
            Some(why) if why.downcast_ref::<super::BadId>().is_some() => {
                format!("{} {why}", arg.split(' ').next().unwrap_or(arg))
            }
            Some(why) => format!("invalid value for '{arg}': {why}"),
            None => format!("invalid value for '{arg}'"),
        },
        ErrorKind::UnknownArgument => format!("unexpected argument '{}' found", flag_name(arg)),
        ErrorKind::InvalidSubcommand => "unrecognized subcommand".to_owned(),
        ErrorKind::NoEquals => format!("equal sign is needed when assigning values to '{arg}'"),
        ErrorKind::TooManyValues => {
            format!("unexpected value for '{arg}' found; no more were expected")
        }
        ErrorKind::TooFewValues | ErrorKind::WrongNumberOfValues => {
            format!("wrong number of values for '{arg}'")
        }
        ErrorKind::ArgumentConflict => {
            let prior = quoted(err, Kind::PriorArg);
            let batch_and_token = [arg, prior.as_str()].iter().any(|a| a.contains("--batch"))
                && [arg, prior.as_str()].iter().any(|a| a.contains("TOKEN"));
            match one(err, Kind::InvalidSubcommand) {
                Some(sub) => format!("the subcommand '{sub}' cannot be used with {prior}"),
                None if batch_and_token => format!(
                    "the argument '{arg}' cannot be used with {prior}: --batch reads one token \
                     per line from stdin (jwtctl verify --batch < tokens.txt)"
                ),
                None => format!("the argument '{arg}' cannot be used with {prior}"),
            }
        }
        ErrorKind::MissingRequiredArgument => {
            let missing = many(err, Kind::InvalidArg);
            let mut line = format!(
                "the following required arguments were not provided: {}",
                missing.join(", ")
            );
            // `key gen` makes a key in one of three places: name them all.
            if path.ends_with("key gen") && missing.iter().any(|m| m.starts_with("--out")) {
                line.push_str(
                    " (or --add-to RING to add the key to a key ring, or --pkcs11 URI to make \
                     it in a hardware token)",
                );
            }
            line
        }
        ErrorKind::MissingSubcommand => format!(
            "'{}' requires a subcommand but one was not provided",
            one(err, Kind::InvalidSubcommand).unwrap_or(path)
        ),
        ErrorKind::InvalidUtf8 => "invalid UTF-8 was detected in one or more arguments".into(),
        _ => "invalid arguments".into(),
    };
    let valid = many(err, Kind::ValidValue);
    if !valid.is_empty() {
        line.push_str(&format!(" [possible values: {}]", valid.join(", ")));
    }
    for (kind, what) in [
        (Kind::SuggestedSubcommand, "subcommand"),
        (Kind::SuggestedArg, "argument"),
        (Kind::SuggestedValue, "value"),
    ] {
        match many(err, kind).as_slice() {
            [] => {}
            [one] => line.push_str(&format!(" (a similar {what} exists: '{one}')")),
            some => line.push_str(&format!(
                " (some similar {what}s exist: '{}')",
                some.join("', '")
            )),
        }
    }
    line
}

/// For an option typed before the subcommand it belongs to (`jwtctl --ledger l.db revoke …`):
/// where it goes (`--ledger goes after the subcommand: jwtctl revoke --ledger …`). Only the
/// flag's name is shown, never its value.
fn misplaced(typed: &str, args: &[OsString]) -> Option<String> {
    use clap::CommandFactory;
    let flag = flag_name(typed);
    let long = flag.strip_prefix("--")?;
    let words: Vec<&str> = args.iter().skip(1).filter_map(|a| a.to_str()).collect();
    let at = words
        .iter()
        .position(|w| *w == flag || w.strip_prefix(flag).is_some_and(|r| r.starts_with('=')))?;
    let mut cmd = Cli::command();
    cmd.build();
    let mut path = String::from("jwtctl");
    for (i, word) in words.iter().enumerate() {
        let Some(sub) = cmd.find_subcommand(word).cloned() else {
            continue;
        };
        path.push(' ');
        path.push_str(word);
        cmd = sub;
        if i > at && cmd.get_arguments().any(|a| a.get_long() == Some(long)) {
            return Some(format!("{flag} goes after the subcommand: {path} {flag} …"));
        }
    }
    None
}

/// A context value clap gives as one string.
fn one(err: &clap::Error, kind: clap::error::ContextKind) -> Option<&str> {
    match err.get(kind) {
        Some(clap::error::ContextValue::String(value)) => Some(value),
        _ => None,
    }
}

/// A context value clap gives as one string or several.
fn many(err: &clap::Error, kind: clap::error::ContextKind) -> Vec<&str> {
    match err.get(kind) {
        Some(clap::error::ContextValue::String(value)) => vec![value],
        Some(clap::error::ContextValue::Strings(values)) => {
            values.iter().map(String::as_str).collect()
        }
        _ => Vec::new(),
    }
}

/// Arguments' names (as jwtctl defines them), each quoted: `'--a <X>', '--b'`.
fn quoted(err: &clap::Error, kind: clap::error::ContextKind) -> String {
    let names: Vec<String> = many(err, kind).iter().map(|n| format!("'{n}'")).collect();
    names.join(", ")
}

/// An unknown argument as shown: the name of a flag (without any `=VALUE`) when it looks like
/// one, else nothing of what was typed.
fn flag_name(typed: &str) -> &str {
    let name = typed.split('=').next().unwrap_or_default();
    let flag = name.starts_with('-')
        && name.len() <= 40
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if flag {
        name
    } else {
        "(value not shown: it may be a token or secret)"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(argv: &[&str]) -> String {
        let args: Vec<OsString> = argv.iter().map(OsString::from).collect();
        let err = <Cli as clap::Parser>::try_parse_from(&args).expect_err("refused");
        let (path, cmd) = named_command(&args);
        clap_message(&err, &args, &path, &cmd)
    }

    #[test]
    fn messages_come_from_the_error_kind_and_the_definition() {
        assert_eq!(
            message(&["jwtctl", "verfy"]),
            "unrecognized subcommand (a similar subcommand exists: 'verify')"
        );
        assert_eq!(
            message(&["jwtctl", "issue", "--alg", "XX999"]),
            "invalid value for '--alg <ALG>' [possible values: HS256, HS384, HS512, RS256, \
             RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA, Ed25519]"
        );
        assert_eq!(
            message(&["jwtctl", "issue", "--ttl", "soon"]),
            "invalid value for '--ttl <DURATION>': expected a duration such as 90s, 30m, 12h, \
             7d or 1h30m"
        );
        assert_eq!(
            message(&["jwtctl", "issue", "--log-level", "inf"]),
            "invalid value for '--log-level <LEVEL>' [possible values: error, warn, info, \
             debug] (a similar value exists: 'info')"
        );
        assert_eq!(
            message(&["jwtctl", "revoke", "--jti", " "]),
            "--jti is blank; give the token's jti (jwtctl inspect or log search --token - shows \
             it)"
        );
        assert_eq!(
            message(&["jwtctl", "--ledger", "ledgr.db", "revoke", "a.b.c"]),
            "--ledger goes after the subcommand: jwtctl revoke --ledger …"
        );
        assert_eq!(
            message(&["jwtctl", "--kid=old", "key", "retire", "ring.json"]),
            "--kid goes after the subcommand: jwtctl key retire --kid …"
        );
        assert_eq!(
            message(&["jwtctl", "ledger", "--ledger", "l.db", "list"]),
            "--ledger goes after the subcommand: jwtctl ledger list --ledger …"
        );
        assert_eq!(
            message(&["jwtctl", "man"]),
            "the following required arguments were not provided: --dir <DIR>"
        );
    }

    #[test]
    fn a_refused_command_line_is_recorded_as_the_operation_it_names() {
        for (argv, op) in [
            (&["jwtctl", "key", "gen", "--bogus"][..], "key_gen"),
            (&["jwtctl", "key"], "key"),
            (&["jwtctl", "--log-file", "key"], "jwtctl"),
            (&["jwtctl", "verify", "--bogus"], "verify"),
            (&["jwtctl", "ledger", "list", "--state", "x"], "ledger_list"),
        ] {
            let args: Vec<OsString> = argv.iter().map(OsString::from).collect();
            assert_eq!(op_of(&named_command(&args).0), op, "{argv:?}");
        }
    }

    #[test]
    fn refused_values_that_could_be_tokens_are_not_repeated() {
        for (argv, shown) in [
            (
                &["jwtctl", "verify", "a.b.c", "eyJ.a.b"][..],
                "unexpected argument '(value not shown: it may be a token or secret)' found",
            ),
            (
                &["jwtctl", "verify", "--secret=hunter2"],
                "unexpected argument '--secret' found",
            ),
            (
                &["jwtctl", "c2VjcmV0LXNlY3JldC1zZWNyZXQ"],
                "unrecognized subcommand",
            ),
            (
                &["jwtctl", "issue", "--typ", "it's hunter2"],
                "invalid value for '--typ <TYP>'",
            ),
        ] {
            assert!(
                message(argv).starts_with(shown),
                "{argv:?}: {}",
                message(argv)
            );
        }
    }
}
