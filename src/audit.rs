//! The security log: opening it safely, the record's fields, and fail-closed writes.
//!
//! Each operation emits one `tracing` event; [`AuditSubscriber`] turns it into one JSON line and
//! writes it with a single `write(2)` through a `tracing-appender` file writer. A failed or short
//! write is kept and reported by [`Audit::emit`], so a caller prints its result only after its
//! record is safely written.

use std::fmt::{self, Write as _};
use std::fs::{self, File};
use std::io::{self, Write as _};
use std::os::unix::fs::{FileExt, FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber, span};
use tracing_appender::rolling::{RollingFileAppender, Rotation};

use crate::cli::{LogLevel, LogRotate};
use crate::error::{Error, Reason, Result};
use crate::keys::io_words;
use crate::sys;

/// Longest value a record keeps for one field, in bytes; longer values are cut and marked.
pub const MAX_FIELD_BYTES: usize = 1024;

/// How the log is opened and written.
#[derive(Debug, Clone)]
pub struct LogConfig {
    pub path: PathBuf,
    pub level: LogLevel,
    pub sync: bool,
    pub rotate: LogRotate,
    pub peer: Option<String>,
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
        }
    }
}

/// Where records go: the appender, our own handle on the same file (for fsync and clean-up),
/// and the first error met while writing.
struct Sink {
    writer: Mutex<RollingFileAppender>,
    file: File,
    sync: bool,
    failed: Mutex<Option<io::ErrorKind>>,
}

impl Sink {
    fn write_line(&self, line: &str) {
        let mut writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let result = match writer.write(line.as_bytes()) {
            Ok(n) if n == line.len() => {
                if self.sync {
                    self.file.sync_data()
                } else {
                    Ok(())
                }
            }
            Ok(n) => {
                self.remove_fragment(&line.as_bytes()[..n]);
                Err(io::Error::from(io::ErrorKind::WriteZero))
            }
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            let mut failed = self.failed.lock().unwrap_or_else(PoisonError::into_inner);
            failed.get_or_insert(e.kind());
        }
    }

    /// After a short write (a full disk), take our torn fragment off the end of the file if it is
    /// still the last thing there, so the next record does not continue a broken line.
    fn remove_fragment(&self, fragment: &[u8]) {
        let Ok(meta) = self.file.metadata() else {
            return;
        };
        let Some(start) = meta.len().checked_sub(fragment.len() as u64) else {
            return;
        };
        let mut tail = vec![0u8; fragment.len()];
        if self.file.read_exact_at(&mut tail, start).is_ok() && tail == fragment {
            let _ = self.file.set_len(start);
        }
    }

    fn take_failure(&self) -> Option<io::ErrorKind> {
        self.failed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

/// The `tracing` subscriber: writes each enabled event as one JSON object per line. It handles
/// events only (jwtctl opens no spans), which keeps start-up to a struct and an `Arc`.
struct AuditSubscriber {
    sink: Arc<Sink>,
    max_level: LevelFilter,
}

impl Subscriber for AuditSubscriber {
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        if self.enabled(meta) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, meta: &Metadata<'_>) -> bool {
        *meta.level() <= self.max_level
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(self.max_level)
    }

    fn new_span(&self, _span: &span::Attributes<'_>) -> span::Id {
        span::Id::from_u64(1)
    }

    fn record(&self, _span: &span::Id, _values: &span::Record<'_>) {}

    fn record_follows_from(&self, _span: &span::Id, _follows: &span::Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut line = String::with_capacity(512);
        let timestamp = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        line.push_str("{\"timestamp\":\"");
        line.push_str(&timestamp);
        line.push_str("\",\"level\":\"");
        line.push_str(event.metadata().level().as_str());
        line.push('"');
        event.record(&mut JsonFields(&mut line));
        line.push_str("}\n");
        self.sink.write_line(&line);
    }

    fn enter(&self, _span: &span::Id) {}

    fn exit(&self, _span: &span::Id) {}
}

/// Appends `,"name":value` for each field; strings are JSON-escaped and bounded.
struct JsonFields<'a>(&'a mut String);

impl JsonFields<'_> {
    fn key(&mut self, field: &Field) {
        // Field names are identifiers from our own source; they need no escaping.
        let _ = write!(self.0, ",\"{}\":", field.name());
    }
}

/// Cut `s` to at most [`MAX_FIELD_BYTES`] on a character boundary, marking the cut.
pub fn bounded(s: &str) -> std::borrow::Cow<'_, str> {
    if s.len() <= MAX_FIELD_BYTES {
        return s.into();
    }
    let mut end = MAX_FIELD_BYTES;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…[cut]", &s[..end]).into()
}

impl Visit for JsonFields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.key(field);
        let escaped = serde_json::to_string(&bounded(value)).unwrap_or_else(|_| "\"\"".into());
        self.0.push_str(&escaped);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.key(field);
        let _ = write!(self.0, "{value}");
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.key(field);
        let _ = write!(self.0, "{value}");
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.key(field);
        self.0.push_str(if value { "true" } else { "false" });
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.record_str(field, &format!("{value:?}"));
    }
}

/// One audit record. Values come from our own code or, escaped, from input; never a secret,
/// never a whole token, never library error text.
#[derive(Debug, Default, Clone)]
pub struct Record {
    pub op: &'static str,
    /// For records that are not an operation's own (e.g. `key_created`).
    pub event: Option<&'static str>,
    pub outcome: &'static str,
    pub reason: Option<&'static str>,
    pub sub: Option<String>,
    pub jti: Option<String>,
    pub parent_jti: Option<String>,
    pub kid: Option<String>,
    pub alg: Option<String>,
    pub exp: Option<i64>,
    /// Hex SHA-256 of the token's exact text (the new token's, for a refresh).
    pub token_sha256: Option<String>,
    /// Hex SHA-256 of the presented token, for a refresh.
    pub parent_token_sha256: Option<String>,
    /// Start of the token family, for a refresh.
    pub orig_iat: Option<i64>,
    /// Seconds past `exp` a refresh was granted through the grace window; such a refresh is
    /// recorded at WARN.
    pub grace_used: Option<i64>,
    pub dry_run: Option<bool>,
    /// The instant a token was verified as of (`verify --at`).
    pub at: Option<i64>,
    /// The input line of a token in `verify --batch`.
    pub line: Option<u64>,
}

impl Record {
    pub fn new(op: &'static str) -> Self {
        Record {
            op,
            ..Record::default()
        }
    }
}

/// Hex SHA-256 of a token's text, as `printf %s "$TOKEN" | sha256sum` prints it.
pub fn token_sha256(token: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    let mut hex = String::with_capacity(64);
    for byte in digest.as_ref() {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// Who and where: the same for every record of this process, found on the first record written.
struct Origin {
    user: String,
    uid: u32,
    pid: u32,
    host: String,
}

impl Origin {
    fn find() -> Self {
        let (uid, name) = sys::user();
        Origin {
            user: name.unwrap_or_else(|| uid.to_string()),
            uid,
            pid: std::process::id(),
            host: sys::host().unwrap_or_default(),
        }
    }
}

/// The open security log.
pub struct Audit {
    sink: Arc<Sink>,
    path: PathBuf,
    max_level: LevelFilter,
    peer: Option<String>,
    origin: std::sync::OnceLock<Origin>,
    _dispatch: tracing::subscriber::DefaultGuard,
}

impl fmt::Debug for Audit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Audit").field("path", &self.path).finish()
    }
}

fn level_filter(level: LogLevel) -> LevelFilter {
    match level {
        LogLevel::Error => LevelFilter::ERROR,
        LogLevel::Warn => LevelFilter::WARN,
        LogLevel::Info => LevelFilter::INFO,
        LogLevel::Debug => LevelFilter::DEBUG,
    }
}

/// tracing-appender's rotation, and the file name it writes to now (UTC, as the appender does).
fn rotation(rotate: LogRotate, name: &str) -> (Rotation, String) {
    let now = chrono::Utc::now();
    match rotate {
        LogRotate::Never => (Rotation::NEVER, name.to_string()),
        LogRotate::Hourly => (
            Rotation::HOURLY,
            format!("{name}.{}", now.format("%Y-%m-%d-%H")),
        ),
        LogRotate::Daily => (
            Rotation::DAILY,
            format!("{name}.{}", now.format("%Y-%m-%d")),
        ),
    }
}

/// Refuse anything at `path` but a regular file; create it mode 0600 when missing; return a
/// handle on it.
fn open_regular(path: &Path) -> Result<File> {
    let shown = path.display();
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => {
            return Err(Error::log(format!(
                "the security log {shown} is a symbolic link; refusing to follow it"
            )));
        }
        Ok(meta) if !meta.is_file() => {
            let kind = meta.file_type();
            let what = if kind.is_dir() {
                "a directory"
            } else if kind.is_char_device() || kind.is_block_device() {
                "a device"
            } else {
                "not a regular file"
            };
            return Err(Error::log(format!(
                "the security log {shown} is {what}; give a file path"
            )));
        }
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            if !dir.is_dir() {
                return Err(Error::log(format!(
                    "the directory of the security log {shown} does not exist; create it first"
                )));
            }
        }
        Err(e) => {
            return Err(Error::log(format!(
                "cannot open the security log {shown}: {}",
                io_words(&e)
            )));
        }
    }
    fs::OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| {
            Error::log(format!(
                "cannot open the security log {shown}: {}",
                io_words(&e)
            ))
        })
}

/// True when `path` (not followed) is the very file `file` has open.
fn same_file(path: &Path, file: &File) -> bool {
    match (fs::symlink_metadata(path), file.metadata()) {
        (Ok(a), Ok(b)) => a.is_file() && a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

impl Audit {
    /// Open (creating if needed) the security log and route audit events to it. Fails with exit
    /// 3 when the log cannot be opened, before any operation runs.
    pub fn open(config: &LogConfig) -> Result<Audit> {
        let path = &config.path;
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            return Err(Error::log(format!(
                "the log path {} does not name a file",
                path.display()
            )));
        };
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let (rotation, current) = rotation(config.rotate, name);
        let current = dir.join(current);
        let file = open_regular(&current)?;
        let writer = RollingFileAppender::builder()
            .rotation(rotation)
            .filename_prefix(name)
            .build(&dir)
            .map_err(|_| Error::log(format!("cannot open the security log {}", path.display())))?;
        // The appender opened the file by name: make sure it is still the file we checked.
        if !same_file(&current, &file) {
            return Err(Error::log(format!(
                "the security log {} changed while it was opened; refusing it",
                current.display()
            )));
        }
        let sink = Arc::new(Sink {
            writer: Mutex::new(writer),
            file,
            sync: config.sync,
            failed: Mutex::new(None),
        });
        let max_level = level_filter(config.level);
        let subscriber = AuditSubscriber {
            sink: Arc::clone(&sink),
            max_level,
        };
        let dispatch = tracing::subscriber::set_default(subscriber);
        Ok(Audit {
            sink,
            path: current,
            max_level,
            peer: config.peer.clone(),
            origin: std::sync::OnceLock::new(),
            _dispatch: dispatch,
        })
    }

    /// Whether a record at `level` is kept by the level policy.
    pub fn keeps(&self, level: Level) -> bool {
        level <= self.max_level
    }

    /// Emit one record at `level` and confirm it reached the file (when the level policy keeps
    /// it). An error here is exit 3: the caller must not print its result.
    pub fn emit(&self, level: Level, r: &Record) -> Result<()> {
        if !self.keeps(level) {
            return Ok(());
        }
        let o = self.origin.get_or_init(Origin::find);
        macro_rules! event_at {
            ($lvl:expr) => {
                tracing::event!(
                    target: "jwtctl::audit",
                    $lvl,
                    op = r.op,
                    event = r.event,
                    outcome = r.outcome,
                    reason = r.reason,
                    sub = r.sub.as_deref(),
                    jti = r.jti.as_deref(),
                    parent_jti = r.parent_jti.as_deref(),
                    kid = r.kid.as_deref(),
                    alg = r.alg.as_deref(),
                    exp = r.exp,
                    token_sha256 = r.token_sha256.as_deref(),
                    parent_token_sha256 = r.parent_token_sha256.as_deref(),
                    orig_iat = r.orig_iat,
                    grace_used = r.grace_used,
                    dry_run = r.dry_run,
                    at = r.at,
                    line = r.line,
                    peer = self.peer.as_deref(),
                    user = o.user.as_str(),
                    uid = o.uid,
                    pid = o.pid,
                    host = o.host.as_str(),
                    version = env!("CARGO_PKG_VERSION"),
                )
            };
        }
        match level {
            Level::ERROR => event_at!(Level::ERROR),
            Level::WARN => event_at!(Level::WARN),
            Level::INFO => event_at!(Level::INFO),
            _ => event_at!(Level::DEBUG),
        }
        match self.sink.take_failure() {
            None => Ok(()),
            Some(kind) => Err(Error::log(format!(
                "cannot write the security log {}: {}; nothing was done",
                self.path.display(),
                io_words(&io::Error::from(kind))
            ))),
        }
    }

    /// A success record: INFO, or WARN for a refresh granted through the grace window.
    pub fn success(&self, mut r: Record) -> Result<()> {
        r.outcome = "success";
        let level = if r.grace_used.is_some() {
            Level::WARN
        } else {
            Level::INFO
        };
        self.emit(level, &r)
    }

    /// A failure record (ERROR) with the error's stable reason code.
    pub fn failure(&self, mut r: Record, reason: Reason) -> Result<()> {
        r.outcome = "failure";
        r.reason = Some(reason.code());
        self.emit(Level::ERROR, &r)
    }

    /// A WARN record of its own, for loosened security or side effects such as a created key.
    pub fn warning(&self, op: &'static str, event: &'static str) -> Result<()> {
        let r = Record {
            op,
            event: Some(event),
            outcome: "warning",
            ..Record::default()
        };
        self.emit(Level::WARN, &r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_cut_on_a_char_boundary_and_marked() {
        let long = "é".repeat(600);
        let cut = bounded(&long);
        assert!(cut.len() <= MAX_FIELD_BYTES + "…[cut]".len());
        assert!(cut.ends_with("…[cut]"));
        assert_eq!(bounded("short"), "short");
    }

    #[test]
    fn token_hashes_match_sha256sum() {
        // printf %s abc | sha256sum
        assert_eq!(
            token_sha256("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn rotated_names_follow_tracing_appender() {
        let (_, daily) = rotation(LogRotate::Daily, "security.log");
        assert_eq!(daily.len(), "security.log.2026-11-26".len());
        let (_, hourly) = rotation(LogRotate::Hourly, "security.log");
        assert_eq!(hourly.len(), "security.log.2026-11-26-09".len());
        assert_eq!(rotation(LogRotate::Never, "security.log").1, "security.log");
    }
}
