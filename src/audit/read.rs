//! Reading the log back: a log's file and the rotated files named after it, oldest first, opened
//! (gzip-compressed or not) and read as runs of whole lines in large buffers, in bounded memory.
//!
//! The readers of the log (`log search`, `log tail`, and `log verify`) share this module. It
//! reads; it never writes, creates or checks the safety of a log file as `file` does.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

/// How much is read at a time: large reads keep a search near the disk's (or page cache's) speed.
const CHUNK: usize = 1 << 20;

/// The longest line kept whole. A longer one (no record is: each field is cut at 1 KiB) is
/// skipped to its end and counted, so memory stays bounded whatever the file holds.
pub(crate) const MAX_LINE: usize = 16 << 20;

/// Where a file stands among the files of one log: rotated files oldest first, the log last.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Age {
    /// `NAME.2026-11-26[-09]` (jwtctl's rotation) or `NAME-20261126[09]` (logrotate `dateext`),
    /// either maybe `.gz`: the digits of the date, padded to a common length.
    Dated(String),
    /// `NAME.N` or `NAME.N.gz` (logrotate's numbering): a larger N is older, so it is negated.
    Numbered(i64),
    /// `NAME` itself: the newest.
    Current,
}

/// The rotation a file name stands at for the log named `base`, or `None` for a name that is
/// not the log or one rotated from it (`NAME.lock`, `NAME.seal`, another log's files).
fn age(base: &[u8], name: &[u8]) -> Option<Age> {
    let rest = name.strip_prefix(base)?;
    if rest.is_empty() {
        return Some(Age::Current);
    }
    let rest = rest.strip_suffix(b".gz").unwrap_or(rest);
    let (sep, stamp) = rest.split_first()?;
    if stamp.is_empty() || !stamp.iter().all(|b| b.is_ascii_digit() || *b == b'-') {
        return None;
    }
    let digits: String = stamp
        .iter()
        .filter(|b| b.is_ascii_digit())
        .map(|&b| char::from(b))
        .collect();
    match (sep, digits.len() == stamp.len()) {
        // `.N`: short, all digits.
        (b'.', true) if digits.len() < 8 => digits.parse().ok().map(|n: i64| Age::Numbered(-n)),
        // A date: at least the eight digits of a day.
        (b'.' | b'-', _) if digits.len() >= 8 && digits.len() <= 14 => {
            Some(Age::Dated(format!("{digits:0<14}")))
        }
        _ => None,
    }
}

/// The files of the log at `log`: the files rotated from it (jwtctl's `NAME.2026-11-26` and
/// `NAME.2026-11-26-09`; logrotate's `NAME.1`, `NAME.2.gz`, `NAME-20261126[.gz]`) oldest first,
/// then the log itself if it exists. Empty when there is none.
pub(crate) fn files_of(log: &Path) -> io::Result<Vec<PathBuf>> {
    let Some(base) = log.file_name() else {
        return Ok(Vec::new());
    };
    let dir = match log.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        if let Some(age) = age(base.as_bytes(), name.as_bytes()) {
            // Only files (or links to them): a directory that happens to be named so is not.
            if std::fs::metadata(entry.path()).is_ok_and(|m| m.is_file()) {
                found.push((age, dir.join(&name)));
            }
        }
    }
    found.sort();
    Ok(found.into_iter().map(|(_, path)| path).collect())
}

/// A log file open for reading, at most `len` bytes of it for an uncompressed file (its length
/// when it was opened, so a search reads the file as it was then: records written while it
/// runs, its own included, are not read).
pub(crate) struct LogFile {
    pub(crate) path: PathBuf,
    file: File,
    gzip: bool,
    len: u64,
    /// Device and inode: the same file under another name (a rotation) is still this one.
    pub(crate) id: (u64, u64),
}

impl LogFile {
    /// Open `path` for reading (never blocking on a FIFO), noting its length now and whether it
    /// is gzip-compressed (by its first bytes, not its name).
    pub(crate) fn open(path: &Path) -> io::Result<LogFile> {
        let file = crate::sys::open_for_reading(path)?;
        let meta = file.metadata()?;
        if meta.is_dir() {
            return Err(io::ErrorKind::IsADirectory.into());
        }
        let mut magic = [0u8; 2];
        let gzip = std::os::unix::fs::FileExt::read_exact_at(&file, &mut magic, 0).is_ok()
            && magic == [0x1f, 0x8b];
        Ok(LogFile {
            path: path.to_path_buf(),
            file,
            gzip,
            // A pipe or device (`log verify <(zcat …)`) has no length: it is read to its end,
            // never taken for an empty file.
            len: if meta.is_file() { meta.len() } else { u64::MAX },
            id: (meta.dev(), meta.ino()),
        })
    }

    /// Its length when it was opened (compressed, for a gzip file).
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Its lines, as they were when it was opened (decompressed when it is gzip).
    pub(crate) fn lines(self) -> Lines<Box<dyn Read>> {
        Lines::new(self.bytes())
    }

    /// Its bytes, as they were when it was opened (decompressed when it is gzip).
    pub(crate) fn bytes(self) -> Box<dyn Read> {
        if self.gzip {
            // Every member: `cat a.gz b.gz` is one valid gzip file.
            Box::new(flate2::read::MultiGzDecoder::new(BufReader::with_capacity(
                CHUNK, self.file,
            )))
        } else {
            Box::new(self.file.take(self.len))
        }
    }
}

/// Our words for a failure to read a log file: a gzip file's decoder fails with these kinds.
pub(crate) fn read_words(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof => {
            "it is not valid gzip (corrupt or cut short)".to_string()
        }
        _ => crate::error::io_words(e),
    }
}

/// One log file (gzip or not) as a buffered reader of its bytes as they were when it was
/// opened: what `log verify` walks line by line.
pub(crate) fn open(path: &Path) -> io::Result<Box<dyn BufRead>> {
    Ok(Box::new(BufReader::with_capacity(
        CHUNK,
        LogFile::open(path)?.bytes(),
    )))
}

/// Lines read in large chunks: [`Lines::next_chunk`] gives a run of whole lines at once, for a
/// search that scans a chunk for a needle (`split_inclusive(|&b| b == b'\n')` gives its lines).
pub(crate) struct Lines<R> {
    inner: R,
    buf: Vec<u8>,
    /// `buf[start..end]` holds bytes read and not yet handed out.
    start: usize,
    end: usize,
    eof: bool,
    /// Lines longer than [`MAX_LINE`], skipped.
    pub(crate) overlong: u64,
}

impl<R: Read> Lines<R> {
    pub(crate) fn new(inner: R) -> Self {
        Lines {
            inner,
            buf: vec![0; CHUNK],
            start: 0,
            end: 0,
            eof: false,
            overlong: 0,
        }
    }

    /// The next run of whole lines, each ending in `\n` (the input's last line may lack it),
    /// or `None` at the end of the input.
    pub(crate) fn next_chunk(&mut self) -> io::Result<Option<&[u8]>> {
        loop {
            let pending = &self.buf[self.start..self.end];
            if let Some(last) = memchr::memrchr(b'\n', pending) {
                let chunk = self.start..self.start + last + 1;
                self.start = chunk.end;
                return Ok(Some(&self.buf[chunk]));
            }
            if self.eof {
                if pending.is_empty() {
                    return Ok(None);
                }
                let chunk = self.start..self.end;
                self.start = self.end;
                return Ok(Some(&self.buf[chunk]));
            }
            self.fill()?;
        }
    }

    /// Read more after what is pending (moved to the front), growing the buffer for a long line
    /// up to [`MAX_LINE`]; past it, the line is dropped and the rest of it skipped.
    fn fill(&mut self) -> io::Result<()> {
        self.buf.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
        if self.end == self.buf.len() {
            if self.buf.len() >= MAX_LINE {
                self.overlong += 1;
                self.end = 0;
                return self.skip_line();
            }
            self.buf.resize(self.buf.len() * 2, 0);
        }
        while self.end < self.buf.len() {
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => self.end += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Discard input up to and including the next `\n`.
    fn skip_line(&mut self) -> io::Result<()> {
        loop {
            let n = match self.inner.read(&mut self.buf) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(());
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if let Some(at) = memchr::memchr(b'\n', &self.buf[..n]) {
                self.buf.copy_within(at + 1..n, 0);
                self.end = n - at - 1;
                return Ok(());
            }
        }
    }
}

/// A file being followed as it grows (`log tail -f`): read from an offset by position, so a
/// rotation that renames it leaves the reader on the same file.
pub(crate) struct Followed {
    pub(crate) path: PathBuf,
    file: File,
    pub(crate) id: (u64, u64),
    at: u64,
    /// A last line not ended yet (its writer is mid-record, or a torn line).
    partial: Vec<u8>,
    /// Inside a line longer than [`MAX_LINE`]: the rest of it, to its newline, is dropped (not
    /// read as a line of its own).
    skipping: bool,
}

impl Followed {
    /// Follow `path` from byte `at`.
    pub(crate) fn open(path: &Path, at: u64) -> io::Result<Followed> {
        let file = crate::sys::open_for_reading(path)?;
        let meta = file.metadata()?;
        Ok(Followed {
            path: path.to_path_buf(),
            file,
            id: (meta.dev(), meta.ino()),
            at,
            partial: Vec::new(),
            skipping: false,
        })
    }

    /// Hand each whole line written since the last call to `each`. A file that became shorter
    /// than what was read (truncated in place, logrotate's `copytruncate`) is read again from
    /// its start.
    pub(crate) fn read_new(
        &mut self,
        buf: &mut Vec<u8>,
        each: &mut dyn FnMut(&[u8]) -> io::Result<bool>,
    ) -> io::Result<bool> {
        let len = self.file.metadata()?.len();
        if len < self.at {
            self.at = 0;
            self.partial.clear();
            self.skipping = false;
        }
        buf.resize(CHUNK, 0);
        while self.at < len {
            let n = std::os::unix::fs::FileExt::read_at(&self.file, buf, self.at)?;
            if n == 0 {
                break;
            }
            self.at += n as u64;
            let mut rest = &buf[..n];
            while let Some(at) = memchr::memchr(b'\n', rest) {
                if self.skipping {
                    self.skipping = false;
                    rest = &rest[at + 1..];
                    continue;
                }
                let keep_going = if self.partial.is_empty() {
                    each(&rest[..=at])?
                } else {
                    self.partial.extend_from_slice(&rest[..=at]);
                    let line = std::mem::take(&mut self.partial);
                    each(&line)?
                };
                if !keep_going {
                    return Ok(false);
                }
                rest = &rest[at + 1..];
            }
            if !self.skipping && self.partial.len() + rest.len() <= MAX_LINE {
                self.partial.extend_from_slice(rest);
            } else {
                self.partial.clear();
                self.skipping = true;
            }
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotated_names_sort_oldest_first_and_others_are_not_the_log() {
        let base = b"security.log";
        let mut names: Vec<&[u8]> = vec![
            b"security.log",
            b"security.log.1",
            b"security.log.2.gz",
            b"security.log.10.gz",
            b"security.log-20261125.gz",
            b"security.log-20261126",
            b"security.log.2026-11-24",
            b"security.log.2026-11-24-09",
        ];
        names.sort_by_key(|n| age(base, n).unwrap());
        let names: Vec<&str> = names
            .iter()
            .map(|n| std::str::from_utf8(n).unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "security.log.2026-11-24",
                "security.log.2026-11-24-09",
                "security.log-20261125.gz",
                "security.log-20261126",
                "security.log.10.gz",
                "security.log.2.gz",
                "security.log.1",
                "security.log",
            ]
        );
        for other in [
            &b"security.log.lock"[..],
            b"security.log.seal",
            b"security.log.gz",
            b"security.log.1.bak",
            b"security.logs",
            b"other.log.1",
            b"security.log.-1",
        ] {
            assert_eq!(
                age(base, other),
                None,
                "{:?}",
                String::from_utf8_lossy(other)
            );
        }
    }

    #[test]
    fn chunks_hold_whole_lines_and_long_lines_are_dropped() {
        let text = b"one\ntwo\nthree";
        let mut lines = Lines::new(&text[..]);
        assert_eq!(lines.next_chunk().unwrap(), Some(&b"one\ntwo\n"[..]));
        assert_eq!(lines.next_chunk().unwrap(), Some(&b"three"[..]));
        assert_eq!(lines.next_chunk().unwrap(), None);
        let mut long = vec![b'x'; MAX_LINE + 10];
        long.extend_from_slice(b"\nafter\n");
        let mut lines = Lines::new(&long[..]);
        assert_eq!(lines.next_chunk().unwrap(), Some(&b"after\n"[..]));
        assert_eq!(lines.next_chunk().unwrap(), None);
        assert_eq!(lines.overlong, 1);
    }
}
