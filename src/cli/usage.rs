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

/// What is wrong with a command line clap refused, for the one stderr line: clap's first line,
/// its hints, with no typed value repeated; `path` and `cmd` are the command it names
/// ([`named_command`]).
pub fn clap_message(
    err: &clap::Error,
    args: &[OsString],
    path: &str,
    cmd: &clap::Command,
) -> String {
    use clap::error::ErrorKind;
    let surplus = err.kind() == ErrorKind::UnknownArgument;
    let rendered = redact_typed(&err.render().to_string(), args, surplus);
    if err.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        missing_command(path, cmd)
    } else if let Some(message) = variable_at_fault(err, args) {
        message
    } else {
        let listed = err.kind() == ErrorKind::MissingRequiredArgument;
        redact_values(&first_line(&rendered, listed), surplus) + &hints(&rendered)
    }
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

/// What clap says below its first line that helps: its suggestions ("a similar subcommand
/// exists: 'verify'", names from jwtctl's definition) and the values an option takes, folded into
/// the one stderr line (scripts read one line; people still get "did you mean"). `rendered` has
/// been through [`redact_typed`], so no typed value (say, one with a newline) can pose as one.
pub(crate) fn hints(rendered: &str) -> String {
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
pub(crate) fn first_line(rendered: &str, listed: bool) -> String {
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

/// clap's whole message with each command-line value that could be a token or a secret replaced
/// wherever clap quotes it, the value as typed (newlines, quotes and all) or the `VALUE` of a
/// `--flag=VALUE`. [`redact_values`] then handles the quoted parts clap forms itself.
///
/// Invariant: stderr never carries a token or secret given on the command line by mistake (a
/// second token, a secret pasted where a flag or name was expected).
pub(crate) fn redact_typed(rendered: &str, args: &[OsString], surplus: bool) -> String {
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
pub(crate) fn redact_values(message: &str, surplus: bool) -> String {
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

pub(crate) fn shown_value(value: &str, surplus: bool) -> String {
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
}
