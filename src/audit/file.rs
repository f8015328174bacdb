//! The log file: opened without following links and checked (a regular file with one link, owned
//! by us or root, in a directory others cannot write), then written through that descriptor only,
//! one record per `write(2)`. Rotation opens each new file the same way.
//!
//! Invariant: a record is only ever written through a descriptor that was opened `O_NOFOLLOW` and
//! checked with `fstat`. Nothing opens the log by name after the checks, so a user who can write
//! the log's directory cannot swap in a link between check and write and redirect root's records
//! to a file of their choosing.

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, Write as _};
use std::os::unix::fs::{FileExt, FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Utc};

use super::chain::{self, State};
use super::sink::{Sink, SinkError, SinkResult};
use super::{LogConfig, LogRotate};
use crate::error::io_words;
use crate::error::{Error, Result};

/// How every refusal to open the log ends: what to do instead.
const OTHER_PATH: &str = "choose another path with --log-file / JWTCTL_LOG_FILE";

/// The file records go to now, and the rotation suffix it was opened for.
struct Current {
    suffix: String,
    path: PathBuf,
    file: File,
    /// Nothing written through this descriptor yet: the first record checks whether the file
    /// ends in a partial line (a crash elsewhere) and if so starts a new line.
    first_write: bool,
    /// The buffer records are stamped into, swapped with the caller's after each write: a batch
    /// reuses the same two buffers for every group.
    stamped: String,
}

/// The checked log file as a sink (replaced by the next checked file when rotation moves on).
pub(super) struct FileSink {
    dir: PathBuf,
    name: OsString,
    rotate: LogRotate,
    sync: bool,
    current: Mutex<Current>,
    /// The chain head and seal key (`<log>.state`), checked as the log is; every write holds
    /// an exclusive lock on it (see `chain`).
    /// Opened at the first write (a command that records nothing leaves no state file).
    state: std::sync::OnceLock<File>,
    state_path: PathBuf,
}

impl Sink for FileSink {
    /// Write one record (a whole line) stamped `at`: to the file rotation names for `at`, opened
    /// and checked when it differs from the current one.
    fn write_line(&self, line: &mut String, at: DateTime<Utc>) -> SinkResult {
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        let suffix = suffix(self.rotate, at);
        if suffix != current.suffix {
            // The next file's own refusal (a link, another owner, a missing directory, a full
            // disk), not a flattened kind: the operator must know what to fix.
            match open_checked(&self.file_path(&suffix)) {
                Ok(next) => *current = next.with_suffix(suffix),
                Err(e) => {
                    return Err(SinkError(format!(
                        "cannot rotate the security log: {}",
                        e.message()
                    )));
                }
            }
        }
        // Every record is written holding an exclusive `flock` on the file, so the tail check
        // below never sees another writer's record half-copied (the kernel raises the size page
        // by page, so an unlocked reader can find a record's first page without its newline and
        // wrongly start a new line). A failing lock (a file system without locks) is not a
        // reason to lose the record: it is written anyway.
        let Current {
            file,
            first_write,
            path,
            stamped,
            ..
        } = &mut *current;
        // The state's lock first: it is one file for the whole log, so writers to two rotated
        // files (a clock just past the hour) are still one chain.
        let state_file = self
            .state_file()
            .map_err(|e| SinkError(e.message().to_owned()))?;
        let _chain = crate::sys::FileLock::exclusive(state_file);
        let _lock = crate::sys::FileLock::exclusive(file);
        let state = self.read_state(state_file)?;
        // The file's last record wins over the state (a writer died between its append and
        // the state's update) only when no other user could have written it: a log others can
        // write (warned about) could otherwise be handed a chained record of theirs, which the
        // chain would adopt and the next seal cover. Continued from the state, it is a break.
        let others_write = file.metadata().is_ok_and(|m| m.mode() & 0o022 != 0);
        let tail = match others_write {
            true => None,
            false => chain::tail_head(file, state.head.as_ref())
                .map_err(|e| self.cannot_write(path, &e))?,
        };
        let state = State {
            head: chain::choose(state.head, tail),
            ..state
        };
        let epoch = state.seal.as_ref().map(|s| s.epoch);
        let now = Utc::now();
        // A record a crash elsewhere left torn at the end: named by a record of its own, so the
        // chain (which skips it) says what it was, and log verify tells it from an edit. In a
        // file a rotation just began, it ends the file before, which no later writer reads.
        let torn = match *first_write {
            true => match chain::torn_tail(file).map_err(|e| self.cannot_write(path, &e))? {
                None if state.head.is_some() && file.metadata().is_ok_and(|m| m.len() == 0) => {
                    self.torn_before(path)
                }
                torn => torn,
            },
            false => None,
        };
        let noticed;
        let lines = match torn {
            Some((hash, bytes)) => {
                noticed = format!(
                    "{{\"timestamp\":\"{}\",\"level\":\"ERROR\",\"op\":\"log_torn_line\",\
                     \"outcome\":\"warning\",\"torn_sha256\":\"{}\",\"torn_bytes\":{bytes}}}\n{line}",
                    now.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                    hash.as_str()
                );
                noticed.as_str()
            }
            None => line.as_str(),
        };
        let state = chain::stamp(lines, state, now, stamped);
        let before = file.metadata().map(|m| m.len()).ok();
        write_record(file, first_write, stamped, self.sync)
            .map_err(|e| self.cannot_write(path, &e))?;
        // A new epoch's key is synced at once (the old one must not come back after a crash);
        // the head needs no sync: after a crash the log's own tail is further on, and wins.
        let evolved = state.seal.as_ref().map(|s| s.epoch) != epoch;
        let kept = state.write(state_file).and_then(|()| match evolved {
            true => state_file.sync_data(),
            false => Ok(()),
        });
        if let Err(e) = kept {
            // The state could not follow: take the records back, so that nothing was done.
            if let Some(before) = before {
                let _ = file.set_len(before);
            }
            return Err(SinkError(format!(
                "cannot update the log state {}: {}; nothing was kept",
                self.state_path.display(),
                io_words(&e)
            )));
        }
        // The caller's buffer takes the stamped lines (the sinks after this one get them), and
        // this one keeps the caller's old buffer for the next group.
        std::mem::swap(line, stamped);
        Ok(())
    }

    fn name(&self) -> String {
        self.path().display().to_string()
    }
}

/// Append `line` (one whole record) to `file`, first starting a new line when this is its
/// `first_write` and the file ends in a partial one; a short write is taken back.
fn write_record(file: &File, first_write: &mut bool, line: &str, sync: bool) -> io::Result<()> {
    // Copied only in the rare case that needs a newline first (a batch's group is ~80 KiB).
    let prefixed;
    let bytes = if *first_write && ends_mid_line(file) {
        prefixed = [b"\n", line.as_bytes()].concat();
        &prefixed[..]
    } else {
        line.as_bytes()
    };
    match (&*file).write(bytes) {
        Ok(n) if n == bytes.len() => {
            *first_write = false;
            if sync { file.sync_data() } else { Ok(()) }
        }
        Ok(n) => {
            remove_fragment(file, &bytes[..n]);
            // A short append is what a full disk gives.
            Err(io::Error::from(io::ErrorKind::StorageFull))
        }
        Err(e) => Err(e),
    }
}

impl FileSink {
    fn cannot_write(&self, path: &Path, e: &io::Error) -> SinkError {
        SinkError(format!(
            "cannot write the security log {}: {}",
            path.display(),
            io_words(e)
        ))
    }

    /// The record a crash left torn at the end of the log's newest file other than `current`
    /// (uncompressed, read without following a link), for the first record of a new file: a
    /// rotation (jwtctl's, or logrotate renaming the log) began it after the crash. Best
    /// effort: a file that cannot be read is left as it is (log verify still names it).
    fn torn_before(&self, current: &Path) -> Option<(crate::hash::Sha256Hex, u64)> {
        let files = super::read::files_of(&self.dir.join(&self.name)).ok()?;
        let before = files.iter().rev().find(|p| p.as_path() != current)?;
        let file = fs::OpenOptions::new()
            .read(true)
            .custom_flags(crate::sys::OPEN_NOFOLLOW_NONBLOCK)
            .open(before)
            .ok()?;
        let mut magic = [0u8; 2];
        let gzip = file.read_exact_at(&mut magic, 0).is_ok() && magic == [0x1f, 0x8b];
        if gzip || !file.metadata().ok()?.is_file() {
            return None;
        }
        chain::torn_tail(&file).ok()?
    }

    /// The state file, opened (created 0600) and checked as the log is, at its first use.
    fn state_file(&self) -> Result<&File> {
        if let Some(file) = self.state.get() {
            return Ok(file);
        }
        let file = open_no_follow(&self.state_path, false)?;
        check_descriptor(&file, &self.state_path)?;
        // It holds the seal key: whoever can read it can seal the current epoch, whoever can
        // write it can move the chain. Refused, not warned about (the log is only warned about).
        let mode = file.metadata().map(|m| m.mode() & 0o777).unwrap_or(0);
        if mode & 0o077 != 0 {
            return Err(Error::log(format!(
                "the log state {p} can be read or changed by other users (mode {mode:04o}), and \
                 it holds the seal key; run chmod 600 {p} (and, if the log is sealed, consider \
                 its current key exposed)",
                p = self.state_path.display()
            )));
        }
        let _ = self.state.set(file);
        self.state
            .get()
            .ok_or_else(|| Error::log("the log state could not be kept open"))
    }

    /// The state file's content; one we did not write is a failure (never silently restarted).
    fn read_state(&self, file: &File) -> Result<State, SinkError> {
        match State::read(file) {
            Ok(Some(state)) => Ok(state),
            // Not "move the state away": the same file would then hold a second chain (and a
            // second sealing), a break `log verify` reports for good.
            Ok(None) => Err(SinkError(format!(
                "the log state {} is damaged; restore it from a backup, or run jwtctl log \
                 verify, then move the log and its state aside together and start a new log",
                self.state_path.display()
            ))),
            Err(e) => Err(SinkError(format!(
                "cannot read the log state {}: {}",
                self.state_path.display(),
                io_words(&e)
            ))),
        }
    }

    /// Run `f` on the state, holding its lock, and write what it returns.
    pub(super) fn update_state<T>(&self, f: impl FnOnce(State) -> Result<(State, T)>) -> Result<T> {
        let file = self.state_file()?;
        let _chain = crate::sys::FileLock::exclusive(file);
        let state = self.read_state(file).map_err(|e| Error::log(e.0))?;
        let (state, out) = f(state)?;
        state
            .write(file)
            .and_then(|()| file.sync_data())
            .map_err(|e| {
                Error::log(format!(
                    "cannot update the log state {}: {}",
                    self.state_path.display(),
                    io_words(&e)
                ))
            })?;
        Ok(out)
    }

    /// The state as it is now (read under its lock).
    pub(super) fn state(&self) -> Result<State> {
        let file = self.state_file()?;
        let _chain = crate::sys::FileLock::exclusive(file);
        self.read_state(file).map_err(|e| Error::log(e.0))
    }

    pub(super) fn state_path(&self) -> &Path {
        &self.state_path
    }

    /// The path of the file records go to now.
    pub(super) fn path(&self) -> PathBuf {
        let current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        current.path.clone()
    }

    fn file_path(&self, suffix: &str) -> PathBuf {
        let mut name = self.name.clone();
        name.push(suffix);
        self.dir.join(name)
    }
}

/// After a short write (a full disk), take our torn fragment off the end of the file if it is
/// still the last thing there, so the next record does not continue a broken line.
fn remove_fragment(file: &File, fragment: &[u8]) {
    let Ok(meta) = file.metadata() else {
        return;
    };
    let Some(start) = meta.len().checked_sub(fragment.len() as u64) else {
        return;
    };
    let mut tail = vec![0u8; fragment.len()];
    if file.read_exact_at(&mut tail, start).is_ok() && tail == fragment {
        let _ = file.set_len(start);
    }
}

/// Open the log `config` names, as of `now`: its directory must not be writable by others, the
/// file must pass [`open_checked`]. Returns the sink and whether the file's mode lets other
/// users read or write it (a warning, not a refusal).
pub(super) fn open(config: &LogConfig, now: DateTime<Utc>) -> Result<(FileSink, Option<u32>)> {
    let path = &config.path;
    let Some(name) = path.file_name() else {
        return Err(Error::log(format!(
            "the log path {} does not name a file; give a file path with --log-file / \
             JWTCTL_LOG_FILE",
            path.display()
        )));
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    check_dir(&dir, path)?;
    let suffix = suffix(config.rotate, now);
    let mut file_name = name.to_os_string();
    file_name.push(&suffix);
    let current = open_checked(&dir.join(file_name))?.with_suffix(suffix);
    let mut state_name = name.to_os_string();
    state_name.push(".state");
    let state_path = dir.join(state_name);

    let mode = current
        .file
        .metadata()
        .map(|m| m.mode() & 0o777)
        .unwrap_or(0);
    let sink = FileSink {
        dir,
        name: name.to_os_string(),
        rotate: config.rotate,
        sync: config.sync,
        current: Mutex::new(current),
        state: std::sync::OnceLock::new(),
        state_path,
    };
    Ok((sink, (mode & 0o077 != 0).then_some(mode)))
}

/// The rotation suffix for `at`: the file name tracing-appender would give (UTC).
fn suffix(rotate: LogRotate, at: DateTime<Utc>) -> String {
    match rotate {
        LogRotate::Never => String::new(),
        LogRotate::Hourly => format!(".{}", at.format("%Y-%m-%d-%H")),
        LogRotate::Daily => format!(".{}", at.format("%Y-%m-%d")),
    }
}

/// Refuse a log directory that other users can write without the sticky bit (as sshd's
/// StrictModes and logrotate do): whoever can write it can replace the log between runs.
fn check_dir(dir: &Path, log: &Path) -> Result<()> {
    let meta = match fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => meta,
        Ok(_) | Err(_) => {
            return Err(Error::log(format!(
                "the directory of the security log {} does not exist; create it first, or \
                 {OTHER_PATH}",
                log.display()
            )));
        }
    };
    if let Some(uid) = crate::trusted::foreign_owner(&meta) {
        return Err(Error::log(format!(
            "the directory of the security log {} belongs to another user (uid {uid}), who \
             could remove or replace the log; choose a directory you (or root) own with \
             --log-file / JWTCTL_LOG_FILE",
            log.display()
        )));
    }
    if let Some(mode) = crate::trusted::open_dir_mode(&meta) {
        return Err(Error::log(format!(
            "the directory of the security log {} can be written by other users (mode {mode:04o}) \
             and has no sticky bit, so they could replace the log; run chmod go-w {} or choose \
             another path with --log-file / JWTCTL_LOG_FILE",
            log.display(),
            dir.display()
        )));
    }
    Ok(())
}

impl Current {
    fn with_suffix(mut self, suffix: String) -> Current {
        self.suffix = suffix;
        self
    }
}

/// Open (creating mode 0600 if missing) the log file at `path` without following a link, then
/// check the descriptor itself: a regular file, one link, owned by the running user or root.
fn open_checked(path: &Path) -> Result<Current> {
    let file = open_no_follow(path, true)?;
    check_descriptor(&file, path)?;
    Ok(Current {
        suffix: String::new(),
        path: path.to_path_buf(),
        file,
        first_write: true,
        stamped: String::new(),
    })
}

/// Whether the directory `path` would be created in exists (`/proc/x` is "not found" although
/// `/proc` is there: no file can be created in it).
fn parent_exists(path: &Path) -> bool {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.is_dir(),
        _ => true,
    }
}

/// Open the log for appending (its state file for writing in place: `append` false), creating
/// it 0600, refusing a symbolic link, never blocking.
fn open_no_follow(path: &Path, append: bool) -> Result<File> {
    let shown = path.display();
    fs::OpenOptions::new()
        .read(true)
        .append(append)
        .write(true)
        .create(true)
        .mode(0o600)
        // O_NONBLOCK: a FIFO swapped in at the path must not block the open.
        .custom_flags(crate::sys::OPEN_NOFOLLOW_NONBLOCK)
        .open(path)
        .map_err(|e| match () {
            _ if crate::sys::is_link_refused(&e) => Error::log(format!(
                "the security log {shown} is a symbolic link; refusing to follow it; {OTHER_PATH}"
            )),
            _ if crate::sys::is_no_device(&e) => Error::log(format!(
                "the security log {shown} is not a regular file; {OTHER_PATH}"
            )),
            _ if e.kind() == io::ErrorKind::NotFound && !parent_exists(path) => {
                Error::log(format!(
                    "the directory of the security log {shown} does not exist; create it first, or \
                 {OTHER_PATH}"
                ))
            }
            _ => Error::log(format!(
                "cannot open the security log {shown}: {}; {OTHER_PATH}",
                io_words(&e)
            )),
        })
}

/// Check the open descriptor itself: a regular file with one link, owned by us or root.
/// Returns its length.
fn check_descriptor(file: &File, path: &Path) -> Result<u64> {
    let shown = path.display();
    let meta = file.metadata().map_err(|e| {
        Error::log(format!(
            "cannot check the security log {shown}: {}; {OTHER_PATH}",
            io_words(&e)
        ))
    })?;
    if !meta.is_file() {
        let kind = meta.file_type();
        let what = if kind.is_dir() {
            "a directory"
        } else if kind.is_char_device() || kind.is_block_device() {
            "a device"
        } else {
            "not a regular file"
        };
        return Err(Error::log(format!(
            "the security log {shown} is {what}; {OTHER_PATH}"
        )));
    }
    if meta.nlink() != 1 {
        return Err(Error::log(format!(
            "the security log {shown} has {} hard links; a log must have exactly one, so \
             nobody can make another name write into it; {OTHER_PATH}",
            meta.nlink()
        )));
    }
    if let Some(uid) = crate::trusted::foreign_owner(&meta) {
        return Err(Error::log(format!(
            "the security log {shown} belongs to another user (uid {uid}); refusing to write to \
             it; {OTHER_PATH}"
        )));
    }
    Ok(meta.len())
}

/// True when a non-empty file's last byte is not a newline (a record torn by a crash elsewhere).
fn ends_mid_line(file: &File) -> bool {
    let Ok(len) = file.metadata().map(|m| m.len()) else {
        return false;
    };
    let mut last = [0u8; 1];
    len > 0 && file.read_exact_at(&mut last, len - 1).is_ok() && last[0] != b'\n'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotated_names_follow_tracing_appender() {
        let at = DateTime::from_timestamp(1_795_683_600, 0).unwrap(); // 2026-11-26T09:00:00Z
        assert_eq!(suffix(LogRotate::Daily, at), ".2026-11-26");
        assert_eq!(suffix(LogRotate::Hourly, at), ".2026-11-26-09");
        assert_eq!(suffix(LogRotate::Never, at), "");
    }

    /// Rotation happens mid-run only when the hour turns, which a test of the binary cannot
    /// bring about (no clock override): the sink is driven with the next hour's instant.
    #[test]
    fn a_rotation_that_cannot_open_the_next_file_reports_its_own_reason() {
        let dir = tempfile::tempdir().unwrap();
        let config = LogConfig {
            rotate: LogRotate::Hourly,
            ..LogConfig::at(dir.path().join("security.log"))
        };
        let nine = DateTime::from_timestamp(1_795_683_600, 0).unwrap(); // 09:00Z
        let (sink, _) = open(&config, nine).unwrap();
        sink.write_line(&mut "{}\n".to_owned(), nine).unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "").unwrap();
        std::os::unix::fs::symlink(&victim, dir.path().join("security.log.2026-11-26-10")).unwrap();
        std::fs::create_dir(dir.path().join("security.log.2026-11-26-11")).unwrap();
        let hour = chrono::Duration::hours(1);
        let linked = sink
            .write_line(&mut "{}\n".to_owned(), nine + hour)
            .unwrap_err()
            .0;
        assert!(
            linked.contains("security.log.2026-11-26-10 is a symbolic link"),
            "{linked}"
        );
        let dir_err = sink
            .write_line(&mut "{}\n".to_owned(), nine + hour * 2)
            .unwrap_err()
            .0;
        assert!(dir_err.contains("security.log.2026-11-26-11"), "{dir_err}");
        assert!(!dir_err.contains("permission denied"), "{dir_err}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "");
    }
}
