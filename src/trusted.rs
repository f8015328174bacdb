//! The owner and directory rule for files whose contents jwtctl trusts (the log, the ledger, keys).
//!
//! Invariant: a file that decides which tokens pass, or how keys are read (a key file, a JWK Set
//! or key ring, a password file, a CA file), is used only when no other user can replace it: it
//! belongs to the running user or root, and so does its directory, which others may not write
//! unless it has the sticky bit (the directory of the name given and of every name a link
//! chain leads through; directories above those are not judged). The owner is judged from the descriptor the bytes are read through
//! (`fstat`), never from a second look by name, so a swap between check and read cannot pass.
//! Modes that let others read or write the file are the caller's warning, not a refusal.

use std::fs::{self, Metadata};
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The uid of a file's owner when that is another user (root aside), who could replace it.
pub fn foreign_owner(meta: &Metadata) -> Option<u32> {
    let uid = meta.uid();
    (uid != crate::sys::effective_uid() && uid != 0).then_some(uid)
}

/// A directory's mode when other users can write it without the sticky bit (as sshd's
/// StrictModes judges): world-writable, or group-writable by a group other than root's.
pub fn open_dir_mode(meta: &Metadata) -> Option<u32> {
    let mode = meta.permissions().mode();
    let sticky = mode & 0o1000 != 0;
    let group_writable = mode & 0o020 != 0 && meta.gid() != 0;
    (!sticky && (mode & 0o002 != 0 || group_writable)).then_some(mode & 0o7777)
}

/// The directory a path's file lives in (`.` for a bare name).
pub fn dir_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Why a file was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// It belongs to another user (this uid).
    Owner(u32),
    /// Its directory (this one, with this mode) can be written by others and is not sticky.
    Dir(PathBuf, u32),
    /// Its directory (this one) belongs to another user (this uid), who can replace any file
    /// in it, or plant a link there to a file of root's whose contents they know.
    DirOwner(PathBuf, u32),
    /// It is not a regular file (this kind), where only one will do ([`read_regular`]).
    NotRegular(&'static str),
}

impl Refusal {
    /// One sentence naming `what` (e.g. "key file") at `path` and the fix.
    pub fn message(&self, what: &str, path: &Path) -> String {
        let p = path.display();
        match self {
            Refusal::Owner(uid) => format!(
                "refusing the {what} {p}: it belongs to another user (uid {uid}), who could \
                 replace it; use a copy you own (or one root owns)"
            ),
            Refusal::Dir(dir, mode) => format!(
                "refusing the {what} {p}: its directory {} can be written by other users (mode \
                 {mode:04o}) and has no sticky bit, so they could replace it; run chmod go-w {} \
                 or move the file",
                dir.display(),
                dir.display()
            ),
            Refusal::DirOwner(dir, uid) => format!(
                "refusing the {what} {p}: its directory {} belongs to another user (uid {uid}), \
                 who could replace it; keep it in a directory you (or root) own",
                dir.display()
            ),
            Refusal::NotRegular(kind) => format!(
                "refusing the {what} {p}: it is {kind}, not a regular file; give the path of \
                 the file itself"
            ),
        }
    }
}

/// What [`read`] found: the bytes and the file's permission bits.
pub struct Contents {
    pub bytes: Vec<u8>,
    pub mode: u32,
}

/// Why [`read`] gave no contents.
#[derive(Debug)]
pub enum ReadError {
    Io(io::Error),
    Refused(Refusal),
}

/// Read `path` (at most 1 MiB, never blocking on a FIFO) if no other user can replace it: the
/// owner from the open descriptor, then the directory of the name given and, for a link, of the
/// file it leads to.
pub fn read(path: &Path) -> Result<Contents, ReadError> {
    read_checked(path, false)
}

/// [`read`], refusing anything but a regular file (judged from the open descriptor): for a
/// file whose bytes are reviewed and recorded by hash (a policy), where a FIFO would read as
/// whatever is written to it then (or as empty, with nobody writing) and a directory as nothing.
pub fn read_regular(path: &Path) -> Result<Contents, ReadError> {
    read_checked(path, true)
}

fn read_checked(path: &Path, regular: bool) -> Result<Contents, ReadError> {
    let file = crate::sys::open_for_reading(path).map_err(ReadError::Io)?;
    let meta = file.metadata().map_err(ReadError::Io)?;
    if regular && !meta.is_file() {
        return Err(ReadError::Refused(Refusal::NotRegular(kind(&meta))));
    }
    if let Some(uid) = foreign_owner(&meta) {
        return Err(ReadError::Refused(Refusal::Owner(uid)));
    }
    check_links(path).map_err(ReadError::Refused)?;
    let bytes = crate::sys::read_bounded(&file).map_err(ReadError::Io)?;
    Ok(Contents {
        bytes,
        mode: meta.permissions().mode() & 0o7777,
    })
}

/// What a file that is not a regular one is, for a message.
fn kind(meta: &Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    match () {
        _ if t.is_dir() => "a directory",
        _ if t.is_fifo() => "a FIFO (named pipe)",
        _ if t.is_socket() => "a socket",
        _ if t.is_char_device() => "a character device",
        _ if t.is_block_device() => "a block device",
        _ => "not a file",
    }
}

/// Whether a file may be created at `path` under this rule (its directory, and the directories
/// of a link chain already there, are ours or root's and not open to others): judged before a
/// key ring or the default key is created, so a refused place is left as it was.
pub fn check_place(path: &Path) -> Result<(), Refusal> {
    check_links(path)
}

/// The directory of `path` and, link by link, of every name a symbolic link leads through: a
/// link in another user's directory could be pointed at any file (`~/k -> /srv/bob/k -> ...`).
fn check_links(path: &Path) -> Result<(), Refusal> {
    let mut at = path.to_path_buf();
    // As the kernel, give up on a chain longer than 40 links (ELOOP).
    for _ in 0..40 {
        check_dir(&dir_of(&at))?;
        match fs::read_link(&at) {
            Ok(target) if target.is_absolute() => at = target,
            Ok(target) => at = dir_of(&at).join(target),
            Err(_) => return Ok(()),
        }
    }
    Ok(())
}

fn check_dir(dir: &Path) -> Result<(), Refusal> {
    match fs::metadata(dir) {
        Ok(meta) => match (foreign_owner(&meta), open_dir_mode(&meta)) {
            (Some(uid), _) => Err(Refusal::DirOwner(dir.to_path_buf(), uid)),
            (None, Some(mode)) => Err(Refusal::Dir(dir.to_path_buf(), mode)),
            (None, None) => Ok(()),
        },
        // A name that opened has a directory; one we cannot stat is not ours to judge.
        Err(_) => Ok(()),
    }
}
