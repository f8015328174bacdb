//! The security log: opening it safely, the record's fields, and fail-closed writes.
//!
//! Each operation emits one `tracing` event; [`AuditSubscriber`] turns it into one JSON line and
//! writes it with a single `write(2)` through the checked file descriptor (see `file`). A failed
//! or short write is kept and reported by [`Audit::emit`], so a caller prints its result only
//! after its record is safely written.
//!
//! Invariant: the audit path cannot fail open. [`Audit::emit`] dispatches its event to the audit
//! subscriber explicitly, on whichever thread calls it (not through a thread-local default that
//! another thread would not see), and the subscriber takes only jwtctl's own audit events: events
//! of dependencies (an HTTP or database client using `tracing`) never enter the log.

mod chain;
mod file;
mod json;
pub(crate) mod query;
pub(crate) mod read;
mod sink;
mod syslog;
pub mod verify;

pub use chain::Seal;
pub(crate) use chain::{Head, genesis, read_state};

pub use syslog::Target as SyslogTarget;

/// The RFC 5424 message the syslog sink sends for one record (a JSON line) stamped `at` (Unix
/// seconds): for the fuzz target of the formatter.
pub fn syslog_message(line: &str, at: i64, host: &str) -> String {
    let at = chrono::DateTime::from_timestamp(at, 0).unwrap_or_default();
    syslog::rfc5424(line, at, host)
}

use std::fmt::{self, Write as _};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use tracing::Level;
use tracing::level_filters::LevelFilter;

use crate::error::{Error, Reason, Rejection, Result};
use crate::hash::Sha256Hex;
use crate::sys;
use json::AuditSubscriber;
use sink::Outcome;

/// Levels that can be recorded. There is deliberately no `off`: failures are always recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
}

impl LogLevel {
    /// The names the command line and the environment take, as the log writes them (any case).
    pub const NAMES: [&'static str; 4] = ["error", "warn", "info", "debug"];

    pub fn from_name(name: &str) -> Option<LogLevel> {
        let all = [
            LogLevel::Error,
            LogLevel::Warn,
            LogLevel::Info,
            LogLevel::Debug,
        ];
        Self::NAMES
            .iter()
            .position(|n| n.eq_ignore_ascii_case(name))
            .map(|i| all[i])
    }

    /// Whether a record at `level` is kept: the level policy, applied once, in [`Audit::emit`].
    pub fn keeps(self, level: Level) -> bool {
        let lowest = match self {
            LogLevel::Error => Level::ERROR,
            LogLevel::Warn => Level::WARN,
            LogLevel::Info => Level::INFO,
            LogLevel::Debug => Level::DEBUG,
        };
        // tracing orders levels by verbosity: ERROR is the least verbose.
        level <= lowest
    }
}

/// When the log moves to a new file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogRotate {
    Never,
    Hourly,
    Daily,
}

impl LogRotate {
    /// The names the command line and the environment take (any case).
    pub const NAMES: [&'static str; 3] = ["never", "hourly", "daily"];

    pub fn from_name(name: &str) -> Option<LogRotate> {
        let all = [LogRotate::Never, LogRotate::Hourly, LogRotate::Daily];
        Self::NAMES
            .iter()
            .position(|n| n.eq_ignore_ascii_case(name))
            .map(|i| all[i])
    }
}

/// How the log is opened and written: the one log-settings type, built once from flags and
/// environment (`cli::log::resolve`) for every path, a refused command line's too.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// The log file; `none` together with a syslog target writes no file.
    pub path: PathBuf,
    pub level: LogLevel,
    pub sync: bool,
    pub rotate: LogRotate,
    pub peer: Option<String>,
    /// Where records also go (`--log-syslog`).
    pub syslog: Option<SyslogTarget>,
}

impl LogConfig {
    /// The defaults, for a log at `path`.
    pub fn at(path: PathBuf) -> Self {
        LogConfig {
            path,
            level: LogLevel::Error,
            sync: false,
            rotate: LogRotate::Never,
            peer: None,
            syslog: None,
        }
    }
}

/// A record field's key as the log writes it, `,"name":`, made at compile time.
macro_rules! key {
    ($name:literal) => {
        concat!(",\"", $name, "\":")
    };
}

/// One audit record. Values come from our own code or, escaped, from input; never a secret,
/// never a whole token (tokens are written as their SHA-256), never library error text.
#[derive(Debug, Default, Clone)]
pub struct Record {
    pub op: &'static str,
    /// For records that are not an operation's own (e.g. `key_created`).
    pub event: Option<&'static str>,
    pub outcome: &'static str,
    pub reason: Option<&'static str>,
    /// The claim a rejection is about (`claim_mismatch`, `missing_claim`): its name only.
    pub claim: Option<String>,
    pub sub: Option<String>,
    /// The token's `iss`: with `jti`, what `revoke --jti ID --iss ISS` takes.
    pub iss: Option<String>,
    pub jti: Option<String>,
    pub parent_jti: Option<String>,
    pub kid: Option<String>,
    pub alg: Option<&'static str>,
    pub exp: Option<i64>,
    /// `iat` and `nbf` when `issue --iat`/`--nbf` set them (a test token).
    pub iat: Option<i64>,
    pub nbf: Option<i64>,
    /// The token, written as `token_sha256` (the new token's, for a refresh).
    pub token: Option<TokenDigest>,
    /// The presented token of a refresh, written as `parent_token_sha256`.
    pub parent_token: Option<TokenDigest>,
    /// Start of the token family, for a refresh.
    pub orig_iat: Option<i64>,
    /// Seconds past `exp` a refresh was granted through the grace window; such a refresh is
    /// recorded at WARN.
    pub grace_used: Option<i64>,
    pub dry_run: Option<bool>,
    /// `refresh --no-ledger`: the token can be refreshed again; such a record is at WARN.
    pub no_ledger: Option<bool>,
    /// The instant a token was verified as of (`verify --at`).
    pub at: Option<i64>,
    /// The input line of a token in `verify --batch`.
    pub line: Option<u64>,
    /// The kind of key a `key` command made or read (`rsa`, `ec`, `ed25519`, `hmac`).
    pub key_type: Option<&'static str>,
    /// Where a fetched JWK Set came from (its URL, without credentials or query).
    pub key_source: Option<String>,
    /// How it was obtained: `cache`, `network`, `revalidated` or `stale`.
    pub key_fetch: Option<&'static str>,
    /// The sink (log file path or syslog target) that failed to take the record a `not_done`
    /// record withdraws.
    pub failed_sink: Option<String>,
    /// `log seal init`: the sealing's id, the start of its epoch 0 and its interval (seconds).
    pub seal_id: Option<String>,
    pub seal_start: Option<i64>,
    pub seal_interval: Option<u64>,
    /// `--policy`: the policy file, its SHA-256, and the rule (its path in the file) a token
    /// was refused by.
    pub policy: Option<String>,
    pub policy_sha256: Option<String>,
    pub policy_rule: Option<String>,
}

impl Record {
    pub fn new(op: &'static str) -> Self {
        Record {
            op,
            ..Record::default()
        }
    }

    /// Write the record's fields as JSON (`,"name":value` each; absent ones left out), in the
    /// order the log has always had them. `peer` is the process's own `--log-peer`.
    fn write_fields(&self, f: &mut json::Fields<'_>, peer: Option<&str>) {
        let token_sha256 = self.token.as_ref().map(TokenDigest::hex);
        let parent_token_sha256 = self.parent_token.as_ref().map(TokenDigest::hex);
        f.name(key!("op"), Some(self.op));
        f.name(key!("event"), self.event);
        f.name(key!("outcome"), Some(self.outcome));
        f.name(key!("reason"), self.reason);
        f.str(key!("claim"), self.claim.as_deref());
        f.str(key!("sub"), self.sub.as_deref());
        f.str(key!("iss"), self.iss.as_deref());
        f.str(key!("jti"), self.jti.as_deref());
        f.str(key!("parent_jti"), self.parent_jti.as_deref());
        f.str(key!("kid"), self.kid.as_deref());
        f.name(key!("alg"), self.alg);
        f.int(key!("exp"), self.exp);
        f.int(key!("iat"), self.iat);
        f.int(key!("nbf"), self.nbf);
        f.name(
            key!("token_sha256"),
            token_sha256.as_ref().map(Sha256Hex::as_str),
        );
        let parent = parent_token_sha256.as_ref().map(Sha256Hex::as_str);
        f.name(key!("parent_token_sha256"), parent);
        f.int(key!("orig_iat"), self.orig_iat);
        f.int(key!("grace_used"), self.grace_used);
        f.bool(key!("dry_run"), self.dry_run);
        f.bool(key!("no_ledger"), self.no_ledger);
        f.int(key!("at"), self.at);
        f.uint(key!("line"), self.line);
        f.name(key!("key_type"), self.key_type);
        f.str(key!("key_source"), self.key_source.as_deref());
        f.name(key!("key_fetch"), self.key_fetch);
        f.str(key!("failed_sink"), self.failed_sink.as_deref());
        f.name(key!("seal_id"), self.seal_id.as_deref());
        f.int(key!("seal_start"), self.seal_start);
        f.uint(key!("seal_interval"), self.seal_interval);
        f.str(key!("policy"), self.policy.as_deref());
        f.name(key!("policy_sha256"), self.policy_sha256.as_deref());
        f.str(key!("policy_rule"), self.policy_rule.as_deref());
        f.str(key!("peer"), peer);
    }

    /// Make this a success record; returns its level: INFO, or WARN for a refresh granted
    /// through the grace window or without a ledger.
    pub fn succeed(&mut self) -> Level {
        self.outcome = "success";
        self.reason = None;
        if self.grace_used.is_some() || self.no_ledger.is_some() {
            Level::WARN
        } else {
            Level::INFO
        }
    }

    /// Make this a failure record (ERROR) with the error's stable reason code; returns its level.
    pub fn fail(&mut self, reason: Reason) -> Level {
        self.outcome = "failure";
        self.reason = Some(reason.code());
        Level::ERROR
    }

    /// Make this the failure record of `error`: its reason, and the claim it is about.
    pub fn fail_with(&mut self, error: &Error) -> Level {
        self.claim = error.claim().map(str::to_owned);
        self.fail(error.reason())
    }

    /// Make this the failure record of a rejected token: its reason, the claim it is about, and,
    /// when it was rejected after its signature checked out, who it is (`iss`, `sub`, `jti`,
    /// `kid`: authenticated claims, never an unverified token's).
    pub fn reject(&mut self, rejection: &Rejection) -> Level {
        if let Some(signed) = rejection.signed() {
            self.iss.clone_from(&signed.iss);
            self.sub.clone_from(&signed.sub);
            self.jti.clone_from(&signed.jti);
            self.kid.clone_from(&signed.kid);
        }
        self.claim = rejection.claim().map(str::to_owned);
        self.policy_rule = rejection.rule().map(|rule| rule.path.clone());
        self.fail(rejection.reason())
    }
}

/// A token a record names. It is hashed only when the record is written (successes at the
/// default level are not), unless the caller knows it will be ([`TokenDigest::hashed`]); its
/// Debug never shows the token.
#[derive(Clone)]
pub enum TokenDigest {
    Text(String),
    Hashed(Sha256Hex),
}

impl TokenDigest {
    pub fn of(token: &str) -> Self {
        TokenDigest::Text(token.to_owned())
    }

    /// Hash now, without keeping a copy of the token: for a record that will be written.
    pub fn hashed(token: &str) -> Self {
        TokenDigest::Hashed(Sha256Hex::of(token.as_bytes()))
    }

    /// The hex SHA-256 the record carries, as `printf %s "$TOKEN" | sha256sum` prints it.
    pub fn hex(&self) -> Sha256Hex {
        match self {
            TokenDigest::Text(token) => Sha256Hex::of(token.as_bytes()),
            TokenDigest::Hashed(hex) => *hex,
        }
    }
}

impl fmt::Debug for TokenDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenDigest(..)")
    }
}

/// Who and where: the same for every record of this process, found on the first record written.
struct Origin {
    /// `"user":…,"uid":…,"pid":…,"host":…,"version":…` as the record's last fields, serialised
    /// once per process rather than once per record.
    fields: String,
}

/// The one field of an audit event: the record's fields as JSON (`,"op":…` and so on, the
/// origin's last), which the subscriber splices in raw.
pub(super) const RECORD_FIELD: &str = "record";

impl Origin {
    fn find() -> Self {
        let (uid, name) = sys::user();
        let user = name.unwrap_or_else(|| uid.to_string());
        let host = sys::host().unwrap_or_default();
        let mut fields = String::from("\"user\":");
        json::push_json_str(&mut fields, &user);
        let _ = write!(fields, ",\"uid\":{uid},\"pid\":{}", std::process::id());
        fields.push_str(",\"host\":");
        json::push_json_str(&mut fields, &host);
        fields.push_str(",\"version\":");
        json::push_json_str(&mut fields, env!("CARGO_PKG_VERSION"));
        Origin { fields }
    }
}

/// The sinks `config` names: the checked file (unless `--log-file none` with syslog) and the
/// syslog target; the path messages name, and the file's mode when others can get at it.
type Opened = (
    Arc<dyn sink::Sink>,
    Option<Arc<file::FileSink>>,
    PathBuf,
    Option<u32>,
);

fn open_sinks(config: &LogConfig) -> Result<Opened> {
    let no_file = config.path.as_os_str() == "none";
    if no_file && config.syslog.is_none() {
        return Err(Error::usage(
            "--log-file none writes no file: give it together with --log-syslog TARGET",
        ));
    }
    let mut sinks: Vec<Box<dyn sink::Sink>> = Vec::new();
    let (mut path, mut exposed, mut file) = (PathBuf::from("(syslog)"), None, None);
    if !no_file {
        let (file_sink, mode) = file::open(config, chrono::Utc::now())?;
        path = file_sink.path();
        exposed = mode;
        let file_sink = Arc::new(file_sink);
        file = Some(Arc::clone(&file_sink));
        sinks.push(Box::new(file_sink));
    }
    if let Some(target) = &config.syslog {
        let host = sys::host().unwrap_or_default();
        sinks.push(Box::new(syslog::open(target, host)?));
    }
    let sink: Arc<dyn sink::Sink> = match sinks.len() {
        1 => Arc::from(sinks.remove(0)),
        _ => Arc::new(sink::Fanout::new(sinks)),
    };
    Ok((sink, file, path, exposed))
}

/// What a failed delivery means for the operation, as its message says.
const NOT_DONE: &str = "nothing was done";

thread_local! {
    /// The log whose dispatcher `Audit::in_scope` made this thread's default (its
    /// `scope_id`), 0 outside any.
    static IN_SCOPE: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// The target of every audit event; the subscriber takes no other.
pub(crate) const TARGET: &str = "jwtctl::audit";

/// The open security log.
pub struct Audit {
    outcome: Arc<Outcome>,
    path: PathBuf,
    /// The log as configured (`--log-file`), before any rotation suffix.
    base: PathBuf,
    /// `--log-level`, as parsed from argv or the environment; [`Audit::keeps`] applies it.
    level: LogLevel,
    peer: Option<String>,
    durable: bool,
    origin: std::sync::OnceLock<Origin>,
    dispatch: tracing::Dispatch,
    /// Held from an event to the check of its write, so concurrent emitters never read each
    /// other's failures.
    /// Its buffer holds the record's fields as JSON, written once per record.
    emitting: Mutex<String>,
    /// The log file's mode when others may read or write it.
    exposed: Option<u32>,
    sink: Arc<dyn sink::Sink>,
    /// The log file (absent with `--log-file none`): where the chain and seal state live.
    file: Option<Arc<file::FileSink>>,
    group: Arc<sink::Group>,
    /// The operation whose records are held (`hold`), for the record that withdraws them.
    group_op: Mutex<&'static str>,
}

impl fmt::Debug for Audit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Audit").field("path", &self.path).finish()
    }
}

impl Audit {
    /// Open (creating if needed) the security log and route audit events to it. Fails with exit
    /// 3 when the log cannot be opened, before any operation runs.
    pub fn open(config: &LogConfig) -> Result<Audit> {
        let (sink, file, path, exposed) = open_sinks(config)?;
        let outcome = Arc::new(Outcome::default());
        let group = Arc::new(sink::Group::default());
        let subscriber = AuditSubscriber {
            sink: Arc::clone(&sink),
            group: Arc::clone(&group),
            outcome: Arc::clone(&outcome),
            // Every event the subscriber sees has passed the level policy in `emit`.
            max_level: LevelFilter::TRACE,
        };
        Ok(Audit {
            path,
            base: config.path.clone(),
            outcome,
            sink,
            file,
            group,
            level: config.level,
            peer: config.peer.clone(),
            durable: config.sync,
            origin: std::sync::OnceLock::new(),
            dispatch: tracing::Dispatch::new(subscriber),
            emitting: Mutex::default(),
            exposed,
            group_op: Mutex::new("jwtctl"),
        })
    }

    /// The path of the log file records go to now.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// The log as configured (`--log-file`): the name its rotated files are found by.
    pub fn base(&self) -> &std::path::Path {
        &self.base
    }

    /// The chain and seal state of the log file, read under its lock; `None` without a file.
    pub(crate) fn chain_state(&self) -> Result<Option<(Option<Head>, Option<Seal>)>> {
        let Some(file) = &self.file else {
            return Ok(None);
        };
        let state = file.state()?;
        Ok(Some((state.head, state.seal)))
    }

    /// Set sealing up for the log file with epochs of `interval` seconds from `now`; returns the
    /// new sealing (its verify key goes to the operator). Refused when it is set up already.
    pub(crate) fn seal_init(&self, interval: u64, now: i64) -> Result<Seal> {
        let Some(file) = &self.file else {
            return Err(Error::usage(
                "sealing needs a log file: --log-file none writes only to syslog",
            ));
        };
        let state_path = file.state_path().display().to_string();
        file.update_state(|mut state| {
            if let Some(seal) = &state.seal {
                return Err(Error::usage(format!(
                    "sealing is already set up for this log (since {}, see {state_path}); \
                     a log is sealed once, with one verify key",
                    chrono::DateTime::from_timestamp(seal.start, 0).unwrap_or_default()
                )));
            }
            let seal = Seal::new(interval, now)
                .map_err(|e| Error::log(format!("cannot make a seal key: {e}")))?;
            state.seal = Some(seal.clone());
            Ok((state, seal))
        })
    }

    /// Take back a sealing `seal_init` set up (its record could not be written).
    pub(crate) fn seal_undo(&self, id: &str) -> Result<()> {
        let Some(file) = &self.file else {
            return Ok(());
        };
        file.update_state(|mut state| {
            if state.seal.as_ref().is_some_and(|s| s.id == id) {
                state.seal = None;
            }
            Ok((state, ()))
        })
    }

    /// The path of the chain and seal state, when there is a log file.
    pub(crate) fn state_path(&self) -> Option<PathBuf> {
        self.file.as_ref().map(|f| f.state_path().to_path_buf())
    }

    /// Warn, on stderr and with a WARN record `log_file_exposed`, when other users may read or
    /// write the log file: never silently accepted, but not refused (one chmod fixes it).
    pub fn warn_if_exposed(&self, op: &'static str) -> Result<()> {
        let Some(mode) = self.exposed else {
            return Ok(());
        };
        crate::sys::eprint_line(&format!(
            "jwtctl: warning: security log {p} can be read or changed by other users (mode \
             {mode:04o}); run chmod 600 {p}",
            p = self.path.display()
        ));
        self.warning(op, "log_file_exposed")
    }

    /// Whether records must survive power loss (`--log-sync`); the ledger follows it too.
    pub fn durable(&self) -> bool {
        self.durable
    }

    /// Whether a record at `level` is kept by the level policy.
    pub fn keeps(&self, level: Level) -> bool {
        self.level.keeps(level)
    }

    /// Emit one record at `level` and confirm it reached every sink (when the level policy keeps
    /// it). An error here is exit 3: the caller must not print its result.
    ///
    /// Invariant: no sink keeps an unwithdrawn record of an operation that was not done. When
    /// some sinks took the record and another failed, the operation fails (exit 3) and each sink
    /// that took it gets a `not_done` ERROR record for the same operation (see [`Audit::withdraw`]).
    pub fn emit(&self, level: Level, r: &Record) -> Result<()> {
        if !self.keeps(level) {
            return Ok(());
        }
        self.emit_always(level, r)
    }

    /// [`Audit::emit`] past the level policy: for a record every level keeps.
    fn emit_always(&self, level: Level, r: &Record) -> Result<()> {
        let mut fields = self.emitting.lock().unwrap_or_else(PoisonError::into_inner);
        match self.send(level, r, &mut fields) {
            None => Ok(()),
            Some(failure) => Err(self.withdraw(r.clone(), &failure, &mut fields)),
        }
    }

    /// Format `r` into `fields` and dispatch it; the failure of its delivery, if any. The caller
    /// holds the emit lock (`fields` is its buffer).
    fn send(&self, level: Level, r: &Record, fields: &mut String) -> Option<sink::SinkError> {
        let o = self.origin.get_or_init(Origin::find);
        fields.clear();
        r.write_fields(&mut json::Fields(fields), self.peer.as_deref());
        fields.push(',');
        fields.push_str(&o.fields);
        let fields = fields.as_str();
        self.outcome.arm();
        let event = || match level {
            Level::ERROR => tracing::event!(target: TARGET, Level::ERROR, record = fields),
            Level::WARN => tracing::event!(target: TARGET, Level::WARN, record = fields),
            Level::INFO => tracing::event!(target: TARGET, Level::INFO, record = fields),
            _ => tracing::event!(target: TARGET, Level::DEBUG, record = fields),
        };
        match IN_SCOPE.get() == self.scope_id() {
            true => event(),
            false => tracing::dispatcher::with_default(&self.dispatch, event),
        }
        self.outcome.take()
    }

    /// Run `f` with this log's dispatcher as the thread's default, so that the records `f`
    /// emits on this thread are dispatched without setting it again for each (a batch at
    /// `info` emits one a token; setting the default is four locked instructions each). Records
    /// go to the audit subscriber as before: [`Audit::send`] dispatches them itself when not in
    /// this scope. Events of other crates emitted meanwhile reach the subscriber and are
    /// refused by its target check, as outside it.
    pub fn in_scope<T>(&self, f: impl FnOnce() -> T) -> T {
        /// Puts the scope before back, whatever way `f` ends.
        struct Restore(usize);
        impl Drop for Restore {
            fn drop(&mut self) {
                IN_SCOPE.set(self.0);
            }
        }
        tracing::dispatcher::with_default(&self.dispatch, || {
            let _restore = Restore(IN_SCOPE.replace(self.scope_id()));
            f()
        })
    }

    /// What names this log's dispatcher in [`IN_SCOPE`]: its address, which stays put while
    /// `in_scope` borrows the log.
    fn scope_id(&self) -> usize {
        std::ptr::from_ref(&self.dispatch) as usize
    }

    /// After `failure`: when some sinks took `r` all the same, write to those sinks only a
    /// `not_done` ERROR record of the same operation (its fields, `reason` `log_error`, the
    /// failed sink in `failed_sink`), so none keeps a record of work that was not done. Returns
    /// the error (exit 3) saying so.
    fn withdraw(&self, mut r: Record, failure: &sink::SinkError, fields: &mut String) -> Error {
        let Some(split) = self.sink.take_split() else {
            return Error::log(format!("{failure}; {NOT_DONE}"));
        };
        r.fail(Reason::LogError);
        r.event = Some("not_done");
        r.failed_sink = Some(split.failed);
        self.sink.restrict(Some(split.took));
        let again = self.send(Level::ERROR, &r, fields);
        self.sink.restrict(None);
        match again {
            None => Error::log(format!(
                "{failure}; {NOT_DONE} (a not_done record in {} says so)",
                split.took_names
            )),
            Some(also) => Error::log(format!(
                "{failure}; {NOT_DONE}, but {} kept the record and could not be told so: {also}",
                split.took_names
            )),
        }
    }

    /// Hold the records emitted from now on, to be written together by [`Audit::release`]: many
    /// records in one `write(2)`. The caller must not act on (print the result of) a held record
    /// before releasing it. `op` names the operation the records are of.
    pub fn hold(&self, op: &'static str) {
        *self.group_op.lock().unwrap_or_else(PoisonError::into_inner) = op;
        self.group.start();
    }

    /// Write the held records (one write), keeping the group open when `keep`. An error here is
    /// exit 3: none of the held records' results may be printed. When some sinks took the group
    /// and another failed, those sinks get one `not_done` record of the group's operation: the
    /// records of this process (`pid`) since its last printed result were not acted on.
    pub fn release(&self, keep: bool) -> Result<()> {
        let mut fields = self.emitting.lock().unwrap_or_else(PoisonError::into_inner);
        let Err(failure) = self.group.release(&*self.sink, keep) else {
            return Ok(());
        };
        // Closed: the record that withdraws the group is written at once.
        let _ = self.group.release(&*self.sink, false);
        let op = *self.group_op.lock().unwrap_or_else(PoisonError::into_inner);
        Err(self.withdraw(Record::new(op), &failure, &mut fields))
    }

    /// A success record: INFO, or WARN for a refresh granted through the grace window.
    pub fn success(&self, r: Record) -> Result<()> {
        self.success_kept(r).map(drop)
    }

    /// [`Audit::success`] of a record the caller keeps (made a success record in place).
    pub fn success_of(&self, r: &mut Record) -> Result<()> {
        let level = r.succeed();
        self.emit(level, r)
    }

    /// [`Audit::success`], saying whether the record was written (the level policy may drop it).
    pub fn success_kept(&self, mut r: Record) -> Result<bool> {
        let level = r.succeed();
        self.emit(level, &r)?;
        Ok(self.keeps(level))
    }

    /// The failure record (ERROR) of `error`: its reason code and the claim it is about.
    pub fn failure_of(&self, mut r: Record, error: &Error) -> Result<()> {
        let level = r.fail_with(error);
        self.emit(level, &r)
    }

    /// The failure record (ERROR) of a rejected token: its reason code and the claim it is about.
    pub fn rejection(&self, mut r: Record, rejection: &Rejection) -> Result<()> {
        let level = r.reject(rejection);
        self.emit(level, &r)
    }

    /// A failure record (ERROR) with the error's stable reason code.
    pub fn failure(&self, mut r: Record, reason: Reason) -> Result<()> {
        let level = r.fail(reason);
        self.emit(level, &r)
    }

    /// A WARN record of its own, for loosened security or side effects such as a created key.
    pub fn warning(&self, op: &'static str, event: &'static str) -> Result<()> {
        self.side_record(Level::WARN, op, event)
    }

    /// A WARN record of its own about a key source: the `kid` it names, if any, and where the
    /// keys came from (a fetched set's ignored member, a refused cache entry, a stale copy).
    pub fn warning_about(
        &self,
        op: &'static str,
        event: &'static str,
        kid: Option<String>,
        key_source: Option<String>,
    ) -> Result<()> {
        let r = Record {
            op,
            event: Some(event),
            outcome: "warning",
            kid,
            key_source,
            ..Record::default()
        };
        self.emit(Level::WARN, &r)
    }

    /// A loosening record: a WARN side record (`outcome` `warning`) that every level keeps,
    /// whatever `--log-level` says, for a flag that loosened a security default
    /// (`weak_secret_allowed`, `leeway_allowed`, `grace_allowed`, `no_ledger_allowed`,
    /// `verify_at_allowed`, `max_token_size_allowed`, `max_lifetime_allowed`).
    ///
    /// Invariant: a loosening is a security event, so the level policy never drops its record;
    /// it stays at WARN (its severity), and `--log-level` filters by severity for every other
    /// record only. `about`: the record of the operation whose verified token the loosening let
    /// through, whose `iss`, `sub`, `jti` and `kid` it names (authenticated claims).
    pub fn loosening(
        &self,
        op: &'static str,
        event: &'static str,
        about: Option<&Record>,
    ) -> Result<()> {
        let mut r = Record {
            op,
            event: Some(event),
            outcome: "warning",
            ..Record::default()
        };
        if let Some(about) = about {
            r.iss.clone_from(&about.iss);
            r.sub.clone_from(&about.sub);
            r.jti.clone_from(&about.jti);
            r.kid.clone_from(&about.kid);
        }
        self.emit_always(Level::WARN, &r)
    }

    /// A side record every level keeps (written at ERROR, though not a failure): for what the
    /// log must show however it is set, such as a batch that stopped before its input ended.
    pub fn notice(&self, op: &'static str, event: &'static str) -> Result<()> {
        self.side_record(Level::ERROR, op, event)
    }

    fn side_record(&self, level: Level, op: &'static str, event: &'static str) -> Result<()> {
        let r = Record {
            op,
            event: Some(event),
            outcome: "warning",
            ..Record::default()
        };
        self.emit(level, &r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open_in(dir: &std::path::Path) -> Audit {
        Audit::open(&LogConfig::at(dir.join("security.log"))).unwrap()
    }

    #[test]
    fn a_record_emitted_on_another_thread_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let audit = open_in(dir.path());
        std::thread::scope(|s| {
            s.spawn(|| audit.failure(Record::new("verify"), Reason::Malformed))
                .join()
                .unwrap()
        })
        .unwrap();
        let text = std::fs::read_to_string(dir.path().join("security.log")).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.contains("\"reason\":\"malformed\""), "{text}");
    }

    /// In a batch's scope the dispatcher is not set again for each record: records still reach
    /// their own log (another log's too, on the same thread), other crates' events none, and the
    /// thread's default is back as it was after the scope.
    #[test]
    fn records_in_scope_reach_their_own_log_and_nothing_else_does() {
        let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (a, b) = (open_in(one.path()), open_in(two.path()));
        a.in_scope(|| {
            a.failure(Record::new("verify"), Reason::Malformed).unwrap();
            tracing::error!(target: "hyper::client", "connection reset");
            b.failure(Record::new("issue"), Reason::Expired).unwrap();
            a.failure(Record::new("refresh"), Reason::Expired).unwrap();
        });
        assert_eq!(IN_SCOPE.get(), 0);
        let log = |dir: &tempfile::TempDir| {
            std::fs::read_to_string(dir.path().join("security.log")).unwrap()
        };
        let (a_log, b_log) = (log(&one), log(&two));
        assert_eq!(a_log.lines().count(), 2, "{a_log}");
        assert!(a_log.contains("\"op\":\"verify\"") && a_log.contains("\"op\":\"refresh\""));
        assert_eq!(b_log.lines().count(), 1, "{b_log}");
        assert!(b_log.contains("\"op\":\"issue\""), "{b_log}");
        assert!(!a_log.contains("connection reset") && !b_log.contains("connection reset"));
        a.failure(Record::new("revoke"), Reason::Expired).unwrap();
        assert_eq!(log(&one).lines().count(), 3);
    }

    #[test]
    fn events_of_other_crates_never_enter_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let audit = open_in(dir.path());
        // As if an HTTP or database client logged while jwtctl's dispatcher was in force, and
        // outside it.
        tracing::dispatcher::with_default(&audit.dispatch, || {
            tracing::error!(target: "hyper::client", "connection reset");
            tracing::error!("no target given");
        });
        tracing::error!(target: "postgres", "outside the audit dispatcher");
        audit
            .failure(Record::new("verify"), Reason::Malformed)
            .unwrap();
        let text = std::fs::read_to_string(dir.path().join("security.log")).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(!text.contains("connection reset") && !text.contains("no target"));
    }
}
