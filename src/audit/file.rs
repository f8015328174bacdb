//! The log file: opened safely (regular file, 0600, no links), written one record per `write(2)`.

use std::fs::{self, File};
use std::io::{self, Write as _};
use std::os::unix::fs::{FileExt, FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use tracing_appender::rolling::{RollingFileAppender, Rotation};

use super::LogConfig;
use crate::cli::LogRotate;
use crate::error::{Error, Result};
use crate::keys::io_words;

/// Where records go: the appender, our own handle on the same file (for fsync and clean-up),
/// and the first error met while writing.
pub(super) struct Sink {
    writer: Mutex<RollingFileAppender>,
    file: File,
    sync: bool,
    failed: Mutex<Option<io::ErrorKind>>,
}

impl Sink {
    pub(super) fn write_line(&self, line: &str) {
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

    pub(super) fn take_failure(&self) -> Option<io::ErrorKind> {
        self.failed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

/// Open the log `config` names: refuse anything but a regular file, create it 0600, hand it to
/// tracing-appender, and check the appender opened that same file. Returns the sink and the path
/// of the file records go to now.
pub(super) fn open(config: &LogConfig) -> Result<(Arc<Sink>, PathBuf)> {
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
    let sink = Sink {
        writer: Mutex::new(writer),
        file,
        sync: config.sync,
        failed: Mutex::new(None),
    };
    Ok((Arc::new(sink), current))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotated_names_follow_tracing_appender() {
        let (_, daily) = rotation(LogRotate::Daily, "security.log");
        assert_eq!(daily.len(), "security.log.2026-11-26".len());
        let (_, hourly) = rotation(LogRotate::Hourly, "security.log");
        assert_eq!(hourly.len(), "security.log.2026-11-26-09".len());
        assert_eq!(rotation(LogRotate::Never, "security.log").1, "security.log");
    }
}
