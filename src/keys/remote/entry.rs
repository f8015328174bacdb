//! The on-disk cache of fetched documents: one checked, private file per URL.
//!
//! Invariant: an entry is trusted only when opened without following links and found, through
//! that descriptor, to be a regular file of ours that no one else can write; anything else in
//! its place (a link, another user's file, a 0666 file) is discarded and refetched, with a WARN
//! record. No entry holds URL credentials: the file is named by, and stores, the URL without
//! them (see `net::without_credentials`).

use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Notes;
use crate::error::{Error, Result};
use crate::hash::sha256_hex;
use crate::keys::write_private_file;
use crate::net::{shown_url, without_credentials};

/// One cached response, or only the memory of a failed fetch (`body` absent).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    /// The URL as records show it: no credentials, no query.
    pub url: String,
    pub fetched_at: i64,
    pub max_age: u64,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// The last network attempt that counts against the once-a-minute limit: a refetch for an
    /// unknown kid, or any fetch that failed.
    pub last_refetch: i64,
    #[serde(default)]
    pub body: Option<String>,
    /// Why the last refetch failed (the error line, in our words), while it is remembered.
    #[serde(default)]
    pub failure: Option<String>,
    /// The trust settings that failure happened under (`net::trust_id`).
    #[serde(default)]
    pub failed_trust: Option<String>,
}

impl Entry {
    /// The memory of a failed first fetch of `url`.
    pub fn failed(url: &str, now: i64) -> Entry {
        Entry {
            url: shown_url(url),
            fetched_at: 0,
            max_age: 0,
            etag: None,
            last_modified: None,
            last_refetch: now,
            body: None,
            failure: None,
            failed_trust: None,
        }
    }

    pub fn fresh(&self, now: i64) -> bool {
        self.body.is_some() && now.saturating_sub(self.fetched_at) < self.max_age as i64
    }

    pub fn usable_stale(&self, now: i64, max_stale: i64) -> bool {
        self.body.is_some() && now.saturating_sub(self.fetched_at) <= max_stale
    }
}

/// The file that caches `url`: named by the SHA-256 of the URL without credentials.
pub fn path(dir: &Path, url: &str) -> PathBuf {
    dir.join(format!(
        "{}.json",
        sha256_hex(without_credentials(url).as_bytes())
    ))
}

/// The entry for `url`, if a trustworthy one is there. An entry that fails the checks is
/// removed (unlinking never follows a link) and noted as `cache_entry_refused`.
pub fn read(dir: &Path, url: &str, notes: &mut Notes) -> Option<Entry> {
    let path = path(dir, url);
    match read_checked(&path) {
        Checked::Missing => None,
        Checked::Refused => {
            let _ = std::fs::remove_file(&path);
            notes.warn("cache_entry_refused", None);
            None
        }
        Checked::Good(entry) => Some(entry).filter(|e| e.url == shown_url(url)),
    }
}

enum Checked {
    Missing,
    Refused,
    Good(Entry),
}

/// Open `path` without following a link and judge it by its descriptor: a regular file owned
/// by this user, not writable by group or others, holding an entry.
fn read_checked(path: &Path) -> Checked {
    let opened = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(crate::sys::OPEN_NOFOLLOW_NONBLOCK)
        .open(path);
    let file = match opened {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Checked::Missing,
        // ELOOP: a symbolic link; anything else we cannot open is no entry of ours either.
        Err(_) => return Checked::Refused,
    };
    let Ok(meta) = file.metadata() else {
        return Checked::Refused;
    };
    let ours = meta.uid() == crate::sys::effective_uid();
    if !meta.file_type().is_file() || !ours || meta.mode() & 0o022 != 0 {
        return Checked::Refused;
    }
    let mut bytes = Vec::new();
    let read = file
        .take(crate::sys::MAX_FILE_BYTES * 2 + 1)
        .read_to_end(&mut bytes);
    match read.ok().and_then(|_| serde_json::from_slice(&bytes).ok()) {
        Some(entry) => Checked::Good(entry),
        None => Checked::Refused,
    }
}

/// Write a cache entry, 0600, atomically. A cache that cannot be written costs a refetch later,
/// never the verification at hand: the caller is told why, to warn.
pub fn write(dir: &Path, url: &str, entry: &Entry) -> std::result::Result<(), String> {
    let text = serde_json::to_vec(entry).map_err(|_| "the entry cannot be encoded".to_string())?;
    write_private_file(&path(dir, url), &text, true).map_err(|e| crate::error::io_words(&e))
}

/// What asking for the fetch lock of a URL came to.
pub enum Lock {
    /// This process fetches; the lock is held until the file is dropped.
    Held(#[allow(dead_code)] std::fs::File),
    /// No lock file could be had (why): this process goes on alone.
    Unavailable(String),
    /// Another process is fetching and did not finish within the wait.
    Busy,
}

/// Take the lock that makes one process at a time decide, fetch and store `url`: an exclusive
/// `flock` on `<entry>.lock` beside the entry, created 0600 and held to the entry's rules (opened
/// without following a link, a regular file of ours no one else can write; anything else is
/// removed, noted as `cache_entry_refused`, and made anew). The wait is bounded by `wait`.
pub fn lock(dir: &Path, url: &str, wait: Duration, notes: &mut Notes) -> Lock {
    let path = path(dir, url).with_extension("lock");
    let file = match open_lock(&path) {
        Ok(file) => file,
        Err(None) => {
            let _ = std::fs::remove_file(&path);
            notes.warn("cache_entry_refused", None);
            match open_lock(&path) {
                Ok(file) => file,
                Err(_) => return Lock::Unavailable("its lock file is refused".into()),
            }
        }
        Err(Some(e)) => return Lock::Unavailable(crate::error::io_words(&e)),
    };
    // flock(2) has no timeout: a thread waits for it, and hands the locked file over unless the
    // wait is over (then the file, and so the lock, is dropped as soon as it is had).
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        if crate::sys::lock_exclusive(&file).is_ok() {
            let _ = tx.send(file);
        }
    });
    match rx.recv_timeout(wait) {
        Ok(file) => Lock::Held(file),
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Lock::Busy,
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            Lock::Unavailable("the file system cannot lock files".into())
        }
    }
}

/// Open (creating, 0600) the lock file at `path` and check it as an entry is checked:
/// `Err(None)` when what is there is refused, `Err(Some(e))` when it cannot be opened at all.
fn open_lock(path: &Path) -> std::result::Result<std::fs::File, Option<std::io::Error>> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .mode(0o600)
        .custom_flags(crate::sys::OPEN_NOFOLLOW_NONBLOCK)
        .open(path)
        .map_err(|e| (!crate::sys::is_link_refused(&e)).then_some(e))?;
    let meta = file.metadata().map_err(Some)?;
    let ours = meta.uid() == crate::sys::effective_uid();
    if !meta.file_type().is_file() || !ours || meta.mode() & 0o022 != 0 {
        return Err(None);
    }
    Ok(file)
}

/// A cache directory other users can write would let them plant a key set: refuse it. A missing
/// one is created 0700 (the umask is 077) when the first set is stored.
pub fn check_dir(dir: &Path) -> Result<()> {
    let Ok(meta) = std::fs::symlink_metadata(dir) else {
        return Ok(());
    };
    let euid = crate::sys::effective_uid();
    let safe = meta.is_dir() && (meta.uid() == euid || meta.uid() == 0) && meta.mode() & 0o022 == 0;
    if safe {
        return Ok(());
    }
    Err(Error::usage(format!(
        "the cache directory {} is not a directory only you can write (another user could plant \
         a key set there); chmod go-w it, or choose another with --cache-dir",
        dir.display()
    )))
}

/// Each cached URL with its age in seconds and size, for `jwtctl cache list`: trustworthy
/// entries that hold a copy.
pub fn list(dir: &Path, now: i64) -> Vec<(String, i64, usize)> {
    let Ok(files) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut rows: Vec<_> = files
        .filter_map(|e| e.ok())
        .filter_map(|f| match read_checked(&f.path()) {
            Checked::Good(entry) => Some(entry),
            _ => None,
        })
        .filter_map(|e| {
            let size = e.body.as_ref()?.len();
            Some((shown_url(&e.url), now.saturating_sub(e.fetched_at), size))
        })
        .collect();
    rows.sort();
    rows
}

/// Remove every cache entry (any file named as one, trustworthy or not: unlinking follows no
/// link); returns how many went.
pub fn clear(dir: &Path) -> Result<usize> {
    let Ok(files) = std::fs::read_dir(dir) else {
        return Ok(0);
    };
    let mut removed = 0;
    for file in files.filter_map(|e| e.ok()) {
        let name = file.file_name();
        let is_entry = name.to_str().is_some_and(|n| {
            n.strip_suffix(".json")
                .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        });
        if !is_entry {
            continue;
        }
        std::fs::remove_file(file.path()).map_err(|e| {
            Error::io(format!(
                "cannot clear the cache: {}",
                crate::error::io_words(&e)
            ))
        })?;
        removed += 1;
    }
    Ok(removed)
}
