//! Key ring files: a private JWK Set that `key gen --add-to`, `key retire` and `key remove`
//! change under an exclusive lock and rewrite atomically.
//!
//! Invariant: no change to a ring loses a key another process added meanwhile. Each change takes
//! an exclusive `flock` on the ring's directory (no lock file is left), reads the ring, changes it
//! and replaces it by rename (never half-written), all while the lock is held.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use super::source::write_private_file;
use crate::error::{Error, Result, io_words};
use crate::trusted::ReadError;

/// Run `change` on the ring at `path` (created empty when missing) under its lock, and write
/// the result back.
pub fn update(path: &Path, change: impl FnOnce(&mut Vec<Value>) -> Result<()>) -> Result<()> {
    // Judged before the lock file or the ring is created: a refused place is left as it was.
    crate::trusted::check_place(path).map_err(|why| Error::key(why.message("key ring", path)))?;
    let _lock = lock(path)?;
    let mut keys = read(path)?;
    change(&mut keys)?;
    let text = format!("{:#}\n", json!({ "keys": keys }));
    write_private_file(path, text.as_bytes(), true).map_err(|e| cannot("write", path, &e))
}

/// Append a private JWK; a `kid` already in the ring is refused.
pub fn add(path: &Path, jwk: Map<String, Value>) -> Result<()> {
    update(path, |keys| {
        let kid = jwk.get("kid").and_then(Value::as_str).unwrap_or_default();
        if keys.iter().any(|k| kid_of(k) == Some(kid)) {
            return Err(Error::usage(format!(
                "the key ring already holds kid '{kid}'; give another --kid"
            )));
        }
        keys.push(Value::Object(jwk));
        Ok(())
    })
}

/// Keep the key `kid` for verification only: its `key_ops` become `["verify"]`. Every key with
/// that kid is retired (a hand-edited ring may hold two), so none of them signs on under it.
pub fn retire(path: &Path, kid: &str) -> Result<()> {
    update(path, |keys| {
        let mut found = false;
        for key in keys.iter_mut().filter(|k| kid_of(k) == Some(kid)) {
            if let Value::Object(jwk) = key {
                jwk.insert("key_ops".into(), json!(["verify"]));
                found = true;
            }
        }
        if found { Ok(()) } else { Err(no_kid(kid)) }
    })
}

/// Delete the key `kid` from the ring.
pub fn remove(path: &Path, kid: &str) -> Result<()> {
    update(path, |keys| {
        let before = keys.len();
        keys.retain(|k| kid_of(k) != Some(kid));
        if keys.len() == before {
            return Err(no_kid(kid));
        }
        Ok(())
    })
}

fn kid_of(jwk: &Value) -> Option<&str> {
    jwk.get("kid").and_then(Value::as_str)
}

fn no_kid(kid: &str) -> Error {
    let shown: String = kid.chars().take(60).flat_map(char::escape_debug).collect();
    Error::usage(format!("the key ring has no key with kid '{shown}'"))
}

fn cannot(what: &str, path: &Path, e: &io::Error) -> Error {
    Error::key(format!(
        "cannot {what} the key ring {}: {}",
        path.display(),
        io_words(e)
    ))
}

/// The ring's keys; a missing ring is an empty one.
fn read(path: &Path) -> Result<Vec<Value>> {
    let bytes = match crate::trusted::read(path) {
        Ok(contents) => contents.bytes,
        Err(ReadError::Io(e)) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(ReadError::Io(e)) => return Err(cannot("read", path, &e)),
        Err(ReadError::Refused(refusal)) => {
            return Err(Error::key(refusal.message("key ring", path)));
        }
    };
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(mut set)) => match set.remove("keys") {
            Some(Value::Array(keys)) => Ok(keys),
            _ => Err(Error::key("the key ring has no \"keys\" array")),
        },
        _ => Err(Error::key(
            "the key ring is not a JWK Set ({\"keys\":[...]}); give another file",
        )),
    }
}

/// An exclusive lock on the ring's directory, held until the returned descriptor is dropped:
/// every change to a ring in that directory waits for the one before. A directory, not a
/// `RING.lock` file beside the ring, so that nothing is left behind (a lock file that is
/// removed after use can be locked by two processes at once: one holding the old file, one a
/// new one).
fn lock(path: &Path) -> Result<fs::File> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file = crate::sys::open_for_reading(&dir).map_err(|e| cannot("lock", path, &e))?;
    crate::sys::lock_exclusive(&file).map_err(|e| cannot("lock", path, &e))?;
    Ok(file)
}
