//! The process's dealings with the OS (set-up, argv, umask, user, host): where `unsafe` lives.
#![allow(unsafe_code)]

use std::ffi::{CStr, OsStr, OsString, c_char, c_int};
use std::os::unix::ffi::OsStrExt;

/// Do what Rust's runtime start-up would have done for `main`, and that jwtctl relies on (the
/// binary has its own C `main` and skips the rest, see `main.rs`):
/// - fds 0, 1 and 2 that the caller left closed are opened on `/dev/null`, so no file jwtctl
///   opens (the log, a key, the ledger) can become its stdout or stderr by taking a free number;
/// - SIGPIPE is ignored, so a closed stdout is a write error (exit 2), not a silent death.
///
/// Returns false when a closed standard fd cannot be replaced; the caller must stop then.
pub fn prepare_process() -> bool {
    prepare_fds() && {
        // SAFETY: setting a signal's disposition to SIG_IGN touches no memory of ours.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        }
        true
    }
}

/// Whether fd 1 was closed when the process started (and now points at `/dev/null`).
static STDOUT_WAS_CLOSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether a result printed now can reach a reader: stdout was open when jwtctl started, and it
/// is not a pipe or socket whose reader has gone. A command checks this before any step it
/// cannot undo (consuming a ledger id), so a result that cannot be delivered burns nothing.
pub fn stdout_deliverable() -> bool {
    if STDOUT_WAS_CLOSED.load(std::sync::atomic::Ordering::Relaxed) {
        return false;
    }
    let mut pfd = libc::pollfd {
        fd: 1,
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: poll reads and writes exactly one pollfd of ours.
    let polled = unsafe { libc::poll(&mut pfd, 1, 0) };
    if polled >= 0 && pfd.revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0 {
        return false;
    }
    // A write of nothing fails where every write would (`/dev/full`, a closed socket) and
    // writes nothing anywhere else.
    // SAFETY: a zero-length write reads no memory; the pointer is valid anyway.
    unsafe { libc::write(1, c"".as_ptr().cast(), 0) >= 0 }
}

fn prepare_fds() -> bool {
    let mut fds = [0, 1, 2].map(|fd| libc::pollfd {
        fd,
        events: 0,
        revents: 0,
    });
    // SAFETY: poll reads and writes exactly `fds.len()` pollfd entries of our array.
    let polled = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 0) };
    if polled == -1 {
        return false;
    }
    for pfd in fds {
        if pfd.revents & libc::POLLNVAL != 0 {
            // SAFETY: the path is a NUL-terminated literal; open returns the lowest free fd,
            // which is this one, since the ones below it are open or were just reopened.
            let fd = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) };
            if fd != pfd.fd {
                return false;
            }
            if fd == 1 {
                STDOUT_WAS_CLOSED.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        }
    }
    true
}

/// Unset every `JWTCTL_*` variable that is set but empty, so that an empty variable counts as
/// unset for every setting (clap would take it as an empty value).
///
/// # Safety
/// No other thread may be running: the environment is process-global, and reading it from one
/// thread while another changes it is undefined behaviour (`std::env::remove_var`).
pub unsafe fn unset_empty_settings() {
    let empty: Vec<OsString> = std::env::vars_os()
        .filter(|(name, value)| name.as_bytes().starts_with(b"JWTCTL_") && value.is_empty())
        .map(|(name, _)| name)
        .collect();
    for name in empty {
        // SAFETY: the caller vouches that no other thread runs (see `# Safety`).
        unsafe { std::env::remove_var(name) };
    }
}

/// The command line as the C runtime hands it to `main`: taken from `argv` itself rather than from
/// `std::env::args_os`, which without Rust's start-up only works on glibc.
///
/// # Safety
/// `argv` must be null or point to `argc` pointers to NUL-terminated strings, as `main` gets them.
pub unsafe fn args(argc: c_int, argv: *const *const c_char) -> Vec<OsString> {
    if argv.is_null() {
        return Vec::new();
    }
    let count = usize::try_from(argc).unwrap_or(0);
    (0..count)
        .map(|i| {
            // SAFETY: i < argc, and the caller vouches for argv[0..argc] as C strings.
            let arg = unsafe { CStr::from_ptr(*argv.add(i)) };
            OsStr::from_bytes(arg.to_bytes()).to_os_string()
        })
        .collect()
}

/// Make every file this process creates private (0600 at most), whatever the caller's umask.
/// The log, the key and anything a rotating writer creates later are covered by this.
pub fn restrict_umask() {
    // SAFETY: umask(2) cannot fail and touches no memory of ours.
    unsafe {
        libc::umask(0o077);
    }
}

/// The real user id and, when the user database knows it, the user name.
pub fn user() -> (u32, Option<String>) {
    // SAFETY: getuid(2) cannot fail.
    let uid = unsafe { libc::getuid() };
    // SAFETY: passwd is plain old data; getpwuid_r writes only into `pwd` and `buf`, whose sizes
    // we pass, and sets `result` to null or to `&pwd`. pw_name points into `buf`, alive here.
    let name = unsafe {
        let mut pwd: libc::passwd = std::mem::zeroed();
        let mut buf = vec![0 as libc::c_char; 2048];
        let mut result = std::ptr::null_mut();
        let rc = libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut result);
        if rc != 0 || result.is_null() || pwd.pw_name.is_null() {
            None
        } else {
            Some(CStr::from_ptr(pwd.pw_name).to_string_lossy().into_owned())
        }
    };
    (uid, name)
}

/// Write one line to stderr, ignoring failure: an unwritable or closed stderr must never change
/// the exit code or abort the process (`eprintln!` panics when the write fails, and jwtctl is
/// built with `panic = "abort"`).
///
/// Every message reaches the terminal escaped (see `escape`): a claim value, kid or path quoted
/// in it cannot move the cursor, retitle the window or reorder the text (C1, bidi overrides).
pub fn eprint_line(line: &str) {
    use std::io::Write;
    let line = crate::escape::json_escaped(line);
    let mut err = std::io::stderr().lock();
    let _ = err
        .write_all(line.as_bytes())
        .and_then(|()| err.write_all(b"\n"));
}

/// `open(2)` flags for a file jwtctl opens by name where another user may have planted a link:
/// never follow a symbolic link (`ELOOP` instead, see [`is_link_refused`]), never leak the
/// descriptor into a child.
pub const OPEN_NOFOLLOW: i32 = libc::O_NOFOLLOW | libc::O_CLOEXEC;

/// [`OPEN_NOFOLLOW`], and never block on a FIFO planted where a regular file was expected.
pub const OPEN_NOFOLLOW_NONBLOCK: i32 = OPEN_NOFOLLOW | libc::O_NONBLOCK;

/// Whether an open with [`OPEN_NOFOLLOW`] failed because the name is a symbolic link.
pub fn is_link_refused(e: &std::io::Error) -> bool {
    e.raw_os_error() == Some(libc::ELOOP)
}

/// Whether an open failed because the name is a FIFO or socket with nobody at the other end
/// (`ENXIO`, as a write-only open of a FIFO without a reader fails).
pub fn is_no_device(e: &std::io::Error) -> bool {
    e.raw_os_error() == Some(libc::ENXIO)
}

/// Whether a datagram `connect(2)` to a unix socket failed because the socket is a stream one.
pub fn is_wrong_socket_type(e: &std::io::Error) -> bool {
    e.raw_os_error() == Some(libc::EPROTOTYPE)
}

/// The largest key, JWK Set or claims file jwtctl reads: 1 MiB.
pub const MAX_FILE_BYTES: u64 = 1 << 20;

/// Read a whole input file, at most [`MAX_FILE_BYTES`] (`FileTooLarge` beyond: `/dev/zero` must
/// not grow memory until the process dies), without ever blocking on a FIFO nobody writes to.
/// A pipe with a writer (`--key-file <(pass show jwt)`) is read to its end as usual.
pub fn read_file_bounded(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    read_bounded(&open_for_reading(path)?)
}

/// Open a file for reading without ever blocking on a FIFO nobody writes to (the descriptor is
/// switched back to blocking reads: a pipe's writer may be slower than us).
pub fn open_for_reading(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    use std::os::unix::io::AsRawFd;
    // O_NONBLOCK: opening a FIFO for reading would wait for a writer.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)?;
    let fd = file.as_raw_fd();
    // SAFETY: fcntl on a descriptor we own, reading and setting its status flags only. Reads
    // block again; a FIFO without a writer reads as EOF.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags >= 0 {
            libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK);
        }
    }
    Ok(file)
}

/// Read an open file to its end, at most [`MAX_FILE_BYTES`] (`FileTooLarge` beyond).
pub fn read_bounded(file: &std::fs::File) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(std::io::ErrorKind::FileTooLarge.into());
    }
    Ok(bytes)
}

/// Fill `buf` from the kernel's CSPRNG (getrandom(2)), the source ring and OpenSSL seed from.
/// jwtctl's own randomness (a `jti`, the default key) comes from here rather than from AWS-LC's
/// DRBG, whose seeding costs ~30 ms of CPU when the library is built with jitter entropy (as a
/// plain `cargo install` builds it).
pub fn random_bytes(buf: &mut [u8]) -> std::io::Result<()> {
    let mut filled = 0;
    while filled < buf.len() {
        let rest = &mut buf[filled..];
        // SAFETY: getrandom writes at most rest.len() bytes into rest.
        let n = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(e);
            }
        } else {
            filled += n as usize;
        }
    }
    Ok(())
}

/// Take an exclusive `flock` on `file`, waiting for other holders; released when it is closed.
pub fn lock_exclusive(file: &std::fs::File) -> std::io::Result<()> {
    use std::os::unix::io::AsRawFd;
    loop {
        // SAFETY: flock on a descriptor we own touches no memory of ours.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } == 0 {
            return Ok(());
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// The effective user id: whose files this process may write.
pub fn effective_uid() -> u32 {
    // SAFETY: geteuid(2) cannot fail.
    unsafe { libc::geteuid() }
}

/// The host name, or `None` when the OS will not say.
pub fn host() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into buf.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return None;
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    Some(String::from_utf8_lossy(&buf[..end]).into_owned())
}

/// Bytes written to a TCP socket that its peer's TCP has not acknowledged yet (SIOCOUTQ, the
/// same request number as TIOCOUTQ: unacknowledged plus unsent bytes).
pub fn unacknowledged_bytes(socket: &std::net::TcpStream) -> std::io::Result<usize> {
    use std::os::fd::AsRawFd;
    let mut queued: c_int = 0;
    // SAFETY: SIOCOUTQ writes one int into `queued`; the descriptor is kept open by `socket`.
    let rc = unsafe { libc::ioctl(socket.as_raw_fd(), libc::TIOCOUTQ, &mut queued) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(usize::try_from(queued).unwrap_or(0))
}

/// Whether the peer of a connected stream socket has closed its end (a FIN was received), without
/// waiting or consuming anything (`recv` with `MSG_PEEK | MSG_DONTWAIT`). A reset connection is
/// the returned error (`ConnectionReset`).
pub fn peer_closed(socket: &impl std::os::fd::AsRawFd) -> std::io::Result<bool> {
    let mut byte = 0u8;
    loop {
        // SAFETY: recv writes at most one byte into `byte`; the descriptor is kept open by
        // `socket`.
        let n = unsafe {
            libc::recv(
                socket.as_raw_fd(),
                (&raw mut byte).cast(),
                1,
                libc::MSG_PEEK | libc::MSG_DONTWAIT,
            )
        };
        if n >= 0 {
            return Ok(n == 0);
        }
        let e = std::io::Error::last_os_error();
        match e.kind() {
            std::io::ErrorKind::WouldBlock => return Ok(false),
            std::io::ErrorKind::Interrupted => {}
            _ => return Err(e),
        }
    }
}

/// An exclusive `flock(2)` on an open file, released when dropped.
pub struct FileLock<'a>(&'a std::fs::File);

impl<'a> FileLock<'a> {
    /// Wait for an exclusive lock on `file`; `None` when the file system cannot lock (the caller
    /// goes on without one).
    pub fn exclusive(file: &'a std::fs::File) -> Option<FileLock<'a>> {
        use std::os::fd::AsRawFd;
        loop {
            // SAFETY: flock only reads the descriptor number, which `file` keeps open.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } == 0 {
                return Some(FileLock(file));
            }
            if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
                return None;
            }
        }
    }
}

impl Drop for FileLock<'_> {
    fn drop(&mut self) {
        use std::os::fd::AsRawFd;
        // SAFETY: as above; unlocking a lock we hold cannot fail in a way we could act on.
        unsafe {
            libc::flock(self.0.as_raw_fd(), libc::LOCK_UN);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_are_taken_from_argv_byte_for_byte() {
        let owned = [c"jwtctl", c"verify", c"\xff-not-utf8"];
        let argv: Vec<*const c_char> = owned.iter().map(|s| s.as_ptr()).collect();
        // SAFETY: argv holds argc pointers to C strings that outlive the call.
        let got = unsafe { args(3, argv.as_ptr()) };
        assert_eq!(got.len(), 3);
        assert_eq!(got[1], "verify");
        assert_eq!(got[2].as_bytes(), b"\xff-not-utf8");
        // SAFETY: a null argv is allowed and read as no arguments.
        assert!(unsafe { args(1, std::ptr::null()) }.is_empty());
    }

    #[test]
    fn random_bytes_fill_the_whole_buffer() {
        let (mut a, mut b) = ([0u8; 64], [0u8; 64]);
        random_bytes(&mut a).unwrap();
        random_bytes(&mut b).unwrap();
        assert_ne!(a, b);
        assert!(a.iter().any(|&x| x != 0));
    }

    #[test]
    fn user_and_host_are_known_here() {
        let (uid, name) = user();
        if uid == 0 {
            assert_eq!(name.as_deref(), Some("root"));
        }
        assert!(host().is_some_and(|h| !h.is_empty()));
    }
}
