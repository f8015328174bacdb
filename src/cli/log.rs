//! The log options: where the security log goes and what it records, given before the
//! subcommand (`LogArgs`, with the environment and the defaults) or after it (`LogAfter`, which
//! wins), and the one `LogConfig` they make for every path (`Cli::log_settings`).

use std::path::PathBuf;

use clap::Args;

use super::Cli;
use crate::audit::{LogConfig, LogLevel, LogRotate};

// Where the security log goes and what it records, given before the subcommand.
#[derive(Debug, Clone, Args)]
pub struct LogArgs {
    /// The security log (JSON lines, created mode 0600).
    #[arg(
        long,
        env = "JWTCTL_LOG_FILE",
        value_name = "PATH",
        default_value = "security.log"
    )]
    pub log_file: PathBuf,

    /// Lowest level recorded: failures are ERROR, successes INFO.
    #[arg(
        long,
        env = "JWTCTL_LOG_LEVEL",
        value_name = "LEVEL",
        value_parser = level_parser(),
        ignore_case = true,
        default_value = "error"
    )]
    pub log_level: LogLevel,

    /// fsync the log after each record, so records survive power loss
    #[arg(
        long,
        env = "JWTCTL_LOG_SYNC",
        action = clap::ArgAction::SetTrue,
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub log_sync: bool,

    /// Start a new log file every hour or day (`security.log.2026-11-26[-09]`, UTC)
    #[arg(
        long,
        env = "JWTCTL_LOG_ROTATE",
        value_name = "WHEN",
        value_parser = rotate_parser(),
        ignore_case = true,
        default_value = "never"
    )]
    pub log_rotate: LogRotate,

    /// The client address this operation is done for, recorded as `peer`
    #[arg(long, env = "JWTCTL_PEER", value_name = "ADDR")]
    pub peer: Option<String>,

    /// Also send each record to syslog: unix:PATH (default unix:/dev/log), udp://HOST:PORT or
    /// tcp://HOST:PORT (RFC 5424; `--log-file none` then writes no file)
    #[arg(
        long,
        env = "JWTCTL_LOG_SYSLOG",
        value_name = "TARGET",
        num_args = 0..=1,
        default_missing_value = "",
        value_parser = crate::audit::SyslogTarget::parse
    )]
    pub log_syslog: Option<crate::audit::SyslogTarget>,
}

// The same log options given after the subcommand (`jwtctl verify --log-level info`); they win
// over those given before it. Plain per-subcommand flags rather than clap globals: propagating
// globals cost ~110k of ~760k instructions at every start-up.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Log options (also accepted before the subcommand)")]
pub struct LogAfter {
    /// The security log (JSON lines, created mode 0600) [env: JWTCTL_LOG_FILE]
    #[arg(long = "log-file", value_name = "PATH")]
    pub log_file: Option<PathBuf>,

    /// Lowest level recorded [env: JWTCTL_LOG_LEVEL]
    #[arg(long = "log-level", value_name = "LEVEL", value_parser = level_parser(), ignore_case = true)]
    pub log_level: Option<LogLevel>,

    /// fsync the log after each record [env: JWTCTL_LOG_SYNC]
    #[arg(long = "log-sync")]
    pub log_sync: bool,

    /// Start a new log file every hour or day [env: JWTCTL_LOG_ROTATE]
    #[arg(long = "log-rotate", value_name = "WHEN", value_parser = rotate_parser(), ignore_case = true)]
    pub log_rotate: Option<LogRotate>,

    /// The client address this operation is done for [env: JWTCTL_PEER]
    #[arg(long = "peer", value_name = "ADDR")]
    pub peer: Option<String>,

    /// Also send each record to syslog [env: JWTCTL_LOG_SYSLOG]
    #[arg(
        long = "log-syslog",
        value_name = "TARGET",
        num_args = 0..=1,
        default_missing_value = "",
        value_parser = crate::audit::SyslogTarget::parse
    )]
    pub log_syslog: Option<crate::audit::SyslogTarget>,
}

impl Cli {
    /// The log settings in force, built once for every path (a refused command line too):
    /// options after the subcommand win over those before it, which carry the environment and
    /// the defaults.
    pub fn log_settings(&self) -> LogConfig {
        let after = self.command.log_after();
        let before = &self.log;
        LogConfig {
            path: after
                .log_file
                .clone()
                .unwrap_or_else(|| before.log_file.clone()),
            level: after.log_level.unwrap_or(before.log_level),
            sync: after.log_sync || before.log_sync,
            rotate: after.log_rotate.unwrap_or(before.log_rotate),
            peer: after.peer.clone().or_else(|| before.peer.clone()),
            syslog: after
                .log_syslog
                .clone()
                .or_else(|| before.log_syslog.clone()),
        }
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
