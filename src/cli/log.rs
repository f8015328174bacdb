//! The log options: declared once (`LogOpts`), accepted before and after the subcommand, and
//! resolved in one place, with the environment and the defaults, into the one `LogConfig` every
//! path uses (`resolve`).
//!
//! Not clap globals: propagating globals to every subcommand cost ~110k of ~760k instructions at
//! every start-up (callgrind). The same struct is flattened into the top-level command and into
//! each subcommand instead, and the environment is read here rather than by clap, so each
//! setting has one definition, one value type and one order of precedence: after the subcommand,
//! before it, the environment, the default.

use std::path::PathBuf;

use clap::Args;

use super::Cli;
use crate::audit::{LogConfig, LogLevel, LogRotate, SyslogTarget};

// Where the security log goes and what it records; the same options before or after the
// subcommand (after wins). Unset fields fall back to the environment, then the defaults. (A `//`
// comment: a doc comment here would become each subcommand's description.)
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Log options (before or after the subcommand)")]
pub struct LogOpts {
    /// The security log (JSON lines, created mode 0600) [env: JWTCTL_LOG_FILE] [default:
    /// security.log]
    #[arg(long, value_name = "PATH")]
    pub log_file: Option<PathBuf>,

    /// Lowest level recorded: failures are ERROR, successes INFO, and `debug` adds a record of
    /// each load of a fetched key set (docs/log.md) [env: JWTCTL_LOG_LEVEL] [default: error]
    #[arg(long, value_name = "LEVEL", value_parser = level_parser(), ignore_case = true)]
    pub log_level: Option<LogLevel>,

    /// fsync the log after each record, so records survive power loss [env: JWTCTL_LOG_SYNC]
    #[arg(long)]
    pub log_sync: bool,

    /// Start a new log file every hour or day (`security.log.2026-11-26[-09]`, UTC)
    /// [env: JWTCTL_LOG_ROTATE] [default: never]
    #[arg(long, value_name = "WHEN", value_parser = rotate_parser(), ignore_case = true)]
    pub log_rotate: Option<LogRotate>,

    /// The client address this operation is done for, recorded as `peer` [env: JWTCTL_PEER]
    #[arg(long, value_name = "ADDR")]
    pub peer: Option<String>,

    /// Also send each record to syslog: unix:PATH (default unix:/dev/log), udp://HOST:PORT or
    /// tcp://HOST:PORT (RFC 5424; `--log-file none` then writes no file) [env: JWTCTL_LOG_SYSLOG]
    #[arg(
        long,
        value_name = "TARGET",
        num_args = 0..=1,
        default_missing_value = "",
        value_parser = SyslogTarget::parse
    )]
    pub log_syslog: Option<SyslogTarget>,
}

/// A log setting from the environment that jwtctl cannot use: the variable and what it takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvFault {
    pub var: &'static str,
    pub takes: &'static str,
}

impl std::fmt::Display for EnvFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "environment variable {} has a value jwtctl cannot use; it takes {}",
            self.var, self.takes
        )
    }
}

impl Cli {
    /// The log settings in force (see [`resolve`]), or the first log variable in the
    /// environment whose value cannot be used.
    pub fn log_settings(&self) -> Result<LogConfig, EnvFault> {
        let after = self.command.log_after();
        let (mut config, fault) = resolve(after, &self.log);
        // `log verify --log-file F` checks F; its own record goes to the log named otherwise
        // (before the subcommand, JWTCTL_LOG_FILE, ./security.log), not into the log checked.
        if self.command.checks_log_file() && after.log_file.is_some() {
            let writer = LogOpts {
                log_file: None,
                ..after.clone()
            };
            config.path = resolve(&writer, &self.log).0.path;
        }
        fault.map_or(Ok(config), Err)
    }
}

/// The one place log options are resolved, and the log variables read: each setting from the
/// options after the subcommand, else those before it, else the environment, else the default.
/// A variable whose value cannot be used is returned (the first one) beside settings that take
/// its default instead, so that a refused command line can still be recorded.
pub fn resolve(after: &LogOpts, before: &LogOpts) -> (LogConfig, Option<EnvFault>) {
    let mut fault = None;
    let level = after
        .log_level
        .or(before.log_level)
        .or_else(|| from_env("JWTCTL_LOG_LEVEL", LEVELS, LogLevel::from_name, &mut fault));
    let rotate = after.log_rotate.or(before.log_rotate).or_else(|| {
        from_env(
            "JWTCTL_LOG_ROTATE",
            ROTATIONS,
            LogRotate::from_name,
            &mut fault,
        )
    });
    let sync = after.log_sync
        || before.log_sync
        || from_env("JWTCTL_LOG_SYNC", BOOLS, boolish, &mut fault).unwrap_or(false);
    let syslog = (after.log_syslog.clone())
        .or_else(|| before.log_syslog.clone())
        .or_else(|| {
            let parse = |v: &str| SyslogTarget::parse(v).ok();
            from_env("JWTCTL_LOG_SYSLOG", SYSLOG, parse, &mut fault)
        });
    let peer = (after.peer.clone())
        .or_else(|| before.peer.clone())
        .or_else(|| {
            from_env(
                "JWTCTL_PEER",
                "UTF-8 text",
                |v| Some(v.to_owned()),
                &mut fault,
            )
        });
    let path = (after.log_file.clone())
        .or_else(|| before.log_file.clone())
        .or_else(|| std::env::var_os("JWTCTL_LOG_FILE").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("security.log"));
    let defaults = LogConfig::at(path);
    let config = LogConfig {
        level: level.unwrap_or(defaults.level),
        sync,
        rotate: rotate.unwrap_or(defaults.rotate),
        peer,
        syslog,
        ..defaults
    };
    (config, fault)
}

/// The setting in environment variable `var`, if set and usable; a value `parse` refuses (or
/// one that is not UTF-8) is noted in `fault` (the first one only) and taken as unset.
fn from_env<T>(
    var: &'static str,
    takes: &'static str,
    parse: impl Fn(&str) -> Option<T>,
    fault: &mut Option<EnvFault>,
) -> Option<T> {
    let value = std::env::var_os(var)?;
    let parsed = value.to_str().and_then(parse);
    if parsed.is_none() {
        fault.get_or_insert(EnvFault { var, takes });
    }
    parsed
}

/// What each log variable takes, as its usage error says.
const LEVELS: &str = "error, warn, info, debug";
const ROTATIONS: &str = "never, hourly, daily";
const BOOLS: &str = "1/0, true/false, yes/no, on/off";
const SYSLOG: &str = "unix:PATH, udp://HOST:PORT or tcp://HOST:PORT";

/// A yes or no as clap's `BoolishValueParser` reads one (any case).
fn boolish(value: &str) -> Option<bool> {
    const YES: [&str; 6] = ["y", "yes", "t", "true", "on", "1"];
    const NO: [&str; 6] = ["n", "no", "f", "false", "off", "0"];
    let is = |words: [&str; 6]| words.iter().any(|w| w.eq_ignore_ascii_case(value));
    match (is(YES), is(NO)) {
        (true, _) => Some(true),
        (_, true) => Some(false),
        _ => None,
    }
}

/// `--log-level` values, named as the log writes them (any case).
fn level_parser() -> impl clap::builder::TypedValueParser<Value = LogLevel> {
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(LogLevel::NAMES)
        .try_map(|name| LogLevel::from_name(&name).ok_or("not a level"))
}

/// `--log-rotate` values (any case).
fn rotate_parser() -> impl clap::builder::TypedValueParser<Value = LogRotate> {
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(LogRotate::NAMES)
        .try_map(|name| LogRotate::from_name(&name).ok_or("not a rotation"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_variables_take_what_their_messages_say() {
        assert_eq!(LEVELS, LogLevel::NAMES.join(", "));
        assert_eq!(ROTATIONS, LogRotate::NAMES.join(", "));
        for (word, value) in [("YES", true), ("on", true), ("0", false), ("False", false)] {
            assert_eq!(boolish(word), Some(value), "{word}");
        }
        assert_eq!(boolish("maybe"), None);
    }
}
