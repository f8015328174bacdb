//! The SQLite ledger's files checked by the security log's rules: its directory, the file and
//! SQLite's `-wal`, `-shm` and `-journal` side files.
//!
//! Invariant: a ledger is used only when no other user can change it. Whoever can write the
//! ledger, a side file or (without the sticky bit) its directory, or owns one of them (root
//! aside), could delete revocations or consumed ids; such a ledger is refused. One that others
//! can only read is used with a warning (it shows which tokens were refreshed or revoked).

use std::ffi::OsString;
use std::fs::{self, File, Metadata};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::Access;
use crate::error::{Error, Reason, Result};

/// SQLite's side files beside the ledger. SQLite gives each the mode of the ledger itself
/// (whatever the umask), so a ledger created 0600 keeps them 0600.
const SIDE_FILES: [&str; 3] = ["-wal", "-shm", "-journal"];

/// The ledger's file, opened (and with `create`, created 0600) without following a link, and
/// checked. Returns the file and the mode of any file others can read (a warning).
pub fn open_checked(path: &Path, access: Access) -> Result<(File, Option<u32>)> {
    check_dir(path)?;
    let create = access == Access::Create;
    let file = fs::OpenOptions::new()
        .read(true)
        .write(access != Access::Read)
        .create(create)
        .truncate(false)
        .mode(0o600)
        .custom_flags(crate::sys::OPEN_NOFOLLOW_NONBLOCK)
        .open(path)
        .map_err(|e| match () {
            _ if e.kind() == std::io::ErrorKind::NotFound && !create => {
                not_set_up(path, "does not exist")
            }
            _ if crate::sys::is_link_refused(&e) => refused(path, "it is a symbolic link"),
            _ => open_error(path, crate::error::io_words(&e)),
        })?;
    let meta = file
        .metadata()
        .map_err(|e| open_error(path, crate::error::io_words(&e)))?;
    let mut exposed = check_file(path, &meta)?;
    for suffix in SIDE_FILES {
        let side = side_path(path, suffix);
        match fs::symlink_metadata(&side) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(refused(&side, "it is a symbolic link"));
            }
            Ok(meta) => exposed = exposed.or(check_file(&side, &meta)?),
            Err(_) => {}
        }
    }
    Ok((file, exposed))
}

/// `PATH-wal` and its siblings.
fn side_path(path: &Path, suffix: &str) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(suffix);
    PathBuf::from(name)
}

/// A regular file, ours or root's, that no other user can write; returns its mode when others
/// can read it.
fn check_file(path: &Path, meta: &Metadata) -> Result<Option<u32>> {
    if !meta.is_file() {
        return Err(refused(path, "it is not a regular file"));
    }
    if let Some(uid) = crate::trusted::foreign_owner(meta) {
        return Err(refused(
            path,
            &format!("it belongs to another user (uid {uid}), who could change it"),
        ));
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(refused(
            path,
            &format!(
                "other users can write it (mode {mode:04o}); run chmod go-w {}",
                path.display()
            ),
        ));
    }
    Ok((mode & 0o044 != 0).then_some(mode))
}

/// The directory must be ours or root's, and not writable by others unless sticky: whoever
/// can write it can replace the ledger or plant its side files.
fn check_dir(path: &Path) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let meta = match fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => meta,
        _ => return Err(open_error(path, "its directory does not exist")),
    };
    if let Some(uid) = crate::trusted::foreign_owner(&meta) {
        return Err(refused(
            path,
            &format!("its directory belongs to another user (uid {uid}), who could replace it"),
        ));
    }
    if let Some(mode) = crate::trusted::open_dir_mode(&meta) {
        return Err(refused(
            path,
            &format!(
                "other users can write its directory (mode {mode:04o}, no sticky bit) and \
                 replace it; run chmod go-w {}",
                dir.display()
            ),
        ));
    }
    Ok(())
}

/// The message for a ledger that is missing or not set up: a mistyped path must never turn
/// revocation off, so only `ledger init` creates one.
pub fn not_set_up(path: &Path, what: &str) -> Error {
    if crate::escape::looks_like_material(path) {
        return not_a_ledger();
    }
    Error::new(
        Reason::LedgerError,
        format!(
            "the ledger {p} {what}; create it with jwtctl ledger init --ledger {p}, or check \
             --ledger / JWTCTL_LEDGER for a typo",
            p = path.display()
        ),
    )
}

fn refused(path: &Path, why: &str) -> Error {
    Error::new(
        Reason::LedgerError,
        format!(
            "refusing the ledger file {}: {why}; or choose another path with --ledger / \
             JWTCTL_LEDGER",
            path.display()
        ),
    )
}

/// A ledger "path" that looks like a token or a secret: never echoed.
fn not_a_ledger() -> Error {
    Error::new(
        Reason::LedgerError,
        crate::escape::not_a_file(
            "--ledger",
            "give the path of a ledger file (jwtctl ledger init creates one) or a postgres:// URL",
        ),
    )
}

fn open_error(path: &Path, why: impl std::fmt::Display) -> Error {
    if crate::escape::looks_like_material(path) {
        return not_a_ledger();
    }
    Error::new(
        Reason::LedgerError,
        format!(
            "cannot open the ledger {}: {why}; check --ledger / JWTCTL_LEDGER",
            path.display()
        ),
    )
}
