//! `jwtctl log search` and `jwtctl log tail`: the records of the log and the files rotated from
//! it that match a query, as a table or as the log's own lines; `tail -f` follows the log.
//!
//! Each run writes its own record (`log_search`, `log_tail`) before printing anything, as every
//! command does. The files are opened, and their lengths noted, before that record is written:
//! a search reads the log as it was when it started, so it never reads its own record, and
//! `tail -f`, which reads on, skips the records of its own process.

use std::collections::VecDeque;
use std::ffi::OsStr;
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{Ctx, Done, read_stdin};
use crate::audit::Record;
use crate::audit::query::{Field, Fields, Query};
use crate::audit::read::{self, Followed, LogFile};
use crate::cli::{LogFilterArgs, LogSearchArgs, LogTailArgs, Output};
use crate::error::{Error, Exit, Result, io_words};
use crate::escape::{json_escaped, output_escaped};
use crate::hash::Sha256Hex;

/// How often `tail -f` looks for new records and for a rotation.
const POLL: Duration = Duration::from_millis(250);

/// What a `log` command was asked for, judged before any file is opened.
struct Plan {
    query: Query,
    output: Output,
}

fn plan(args: &LogFilterArgs, now: i64) -> Result<Plan> {
    let since = args.since.map(|w| w.resolve(now));
    let until = args.until.map(|w| w.resolve(now));
    if let (Some(since), Some(until)) = (since, until)
        && since >= until
    {
        return Err(Error::usage(
            "--since is not before --until: nothing can match; swap them",
        ));
    }
    let named = [
        (Field::Op, &args.op),
        (Field::Outcome, &args.outcome),
        (Field::Reason, &args.reason),
        (Field::Sub, &args.sub),
        (Field::Iss, &args.iss),
        (Field::Jti, &args.jti),
        (Field::Kid, &args.kid),
    ];
    let fields = named
        .into_iter()
        .filter_map(|(field, value)| value.clone().map(|v| (field, v)))
        .collect();
    let token = token_hash(args.token.as_deref())?;
    Ok(Plan {
        query: Query::new(fields, token, since, until),
        output: args.output,
    })
}

/// The SHA-256 of `--token`'s token (from stdin for `-`), as records hold it: the token text
/// less surrounding whitespace and `Bearer `, as `verify` reads it. The token itself is dropped.
fn token_hash(arg: Option<&OsStr>) -> Result<Option<Sha256Hex>> {
    let input = match arg {
        None => return Ok(None),
        Some(arg) if arg == "-" => read_stdin("a token (--token -)", Error::usage)
            .map_err(|e| Error::usage(e.message()))?,
        Some(arg) => arg
            .to_str()
            .ok_or_else(|| Error::usage("--token is not UTF-8, so no record can name it"))?
            .to_owned(),
    };
    let text = crate::token::token_text(&input);
    if text.is_empty() {
        return Err(Error::usage(
            "--token got no token; give it, or - to read it from stdin",
        ));
    }
    Ok(Some(Sha256Hex::of(text.as_bytes())))
}

/// The files of each log named (none: the security log), rotated ones first, opened now. Each
/// file is read once even when named twice.
fn open_logs(named: &[PathBuf], default: &Path) -> Result<Vec<LogFile>> {
    let logs = match named {
        [] if default.as_os_str() == "none" => {
            return Err(Error::usage(
                "--log-file none writes no file to read; name the log file to read as FILE",
            ));
        }
        [] => std::slice::from_ref(&default.to_path_buf()).to_vec(),
        named => named.to_vec(),
    };
    let mut files: Vec<LogFile> = Vec::new();
    for log in &logs {
        let paths = read::files_of(log).map_err(|e| unreadable(log, &e))?;
        if paths.is_empty() {
            return Err(Error::io(format!(
                "there is no log {} (nor a file rotated from it); name the log with --log-file \
                 or as FILE",
                log.display()
            )));
        }
        for path in paths {
            let file = LogFile::open(&path).map_err(|e| unreadable(&path, &e))?;
            if !files.iter().any(|f| f.id == file.id) {
                files.push(file);
            }
        }
    }
    Ok(files)
}

fn unreadable(path: &Path, e: &io::Error) -> Error {
    Error::io(format!(
        "cannot read the log {}: {}",
        path.display(),
        io_words(e)
    ))
}

fn read_error(path: &Path, e: &io::Error) -> Error {
    Error::io(format!(
        "cannot read the log {}: {}",
        path.display(),
        read::read_words(e)
    ))
}

/// Where matching records go: the table or the log's lines, escaped for a terminal.
struct Printer<W: Write> {
    out: W,
    output: Output,
    header: bool,
    printed: u64,
    /// Candidate lines that were not records, and lines too long to be.
    not_records: u64,
    /// The reader of stdout went away: stop quietly.
    gone: bool,
    failed: Option<io::Error>,
}

impl<W: Write> Printer<W> {
    fn new(out: W, output: Output) -> Self {
        Printer {
            out,
            output,
            header: false,
            printed: 0,
            not_records: 0,
            gone: false,
            failed: None,
        }
    }

    /// Print one record; false once nothing more can be printed.
    fn print(&mut self, line: &[u8], fields: &Fields) -> bool {
        let written = match self.output {
            Output::Json => match std::str::from_utf8(line) {
                Ok(text) => {
                    let text = output_escaped(text.trim_end_matches(['\n', '\r']));
                    self.out
                        .write_all(text.as_bytes())
                        .and_then(|()| self.out.write_all(b"\n"))
                }
                Err(_) => {
                    self.not_records += 1;
                    return true;
                }
            },
            Output::Text => {
                let mut text = String::new();
                if !self.header {
                    self.header = true;
                    text.push_str(&row([
                        "TIME", "LEVEL", "OP", "OUTCOME", "SUB", "ISS", "JTI", "KID",
                    ]));
                }
                text.push_str(&table_row(fields));
                self.out.write_all(output_escaped(&text).as_bytes())
            }
        };
        self.printed += 1;
        self.check(written)
    }

    fn flush(&mut self) -> bool {
        let flushed = self.out.flush();
        self.check(flushed)
    }

    fn check(&mut self, written: io::Result<()>) -> bool {
        match written {
            Ok(()) => true,
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.gone = true;
                false
            }
            Err(e) => {
                self.failed = Some(e);
                false
            }
        }
    }

    /// The error that stopped printing, if it was not the reader going away.
    fn outcome(&mut self) -> Result<()> {
        match self.failed.take() {
            None => Ok(()),
            Some(_) => Err(Error::io("cannot write the records to stdout")),
        }
    }

    /// Say on stderr how many lines were skipped as not records.
    fn warn_skipped(&self) {
        if self.not_records > 0 {
            crate::sys::eprint_line(&format!(
                "jwtctl: warning: {} line(s) of the log that could have matched are not records \
                 (torn, cut or not jwtctl's) and were skipped",
                self.not_records
            ));
        }
    }
}

/// Columns: padded so that short values line up; a longer value pushes the rest along.
fn row(cells: [&str; 8]) -> String {
    const WIDTHS: [usize; 7] = [20, 5, 14, 24, 16, 24, 22];
    let mut line = String::new();
    for (i, cell) in cells.iter().enumerate() {
        match WIDTHS.get(i) {
            Some(width) => line.push_str(&format!("{cell:<width$}  ")),
            None => line.push_str(cell),
        }
    }
    line.truncate(line.trim_end().len());
    line.push('\n');
    line
}

/// A record as a table row; every value from the log escaped (a hostile `sub` cannot put an
/// escape sequence on the terminal or break the row).
fn table_row(f: &Fields) -> String {
    let shown = |v: &Option<std::borrow::Cow<str>>| match v.as_deref() {
        None | Some("") => "-".to_string(),
        Some(v) => json_escaped(v).into_owned(),
    };
    // To the second, as UTC: `2026-11-26T16:19:17Z`.
    let time = match f.timestamp.as_deref() {
        Some(t) if t.len() > 19 && t.ends_with('Z') && t.is_char_boundary(19) => {
            format!("{}Z", &t[..19])
        }
        _ => shown(&f.timestamp),
    };
    let outcome = [&f.outcome, &f.reason, &f.event]
        .into_iter()
        .filter_map(|v| v.as_deref())
        .map(|v| json_escaped(v).into_owned())
        .collect::<Vec<_>>()
        .join("/");
    let (level, op) = (shown(&f.level), shown(&f.op));
    let (sub, iss, jti, kid) = (shown(&f.sub), shown(&f.iss), shown(&f.jti), shown(&f.kid));
    row([&time, &level, &op, &outcome, &sub, &iss, &jti, &kid])
}

/// `log search`: `log` is the security log, read when no FILE is given.
pub fn search(args: &LogSearchArgs, log: &Path, ctx: &Ctx, rec: &mut Record) -> Result<Done> {
    let plan = plan(&args.filter, ctx.now)?;
    let files = open_logs(&args.files, log)?;
    ctx.audit.success(rec.clone())?;
    let mut printer = Printer::new(
        BufWriter::with_capacity(1 << 16, io::stdout().lock()),
        plan.output,
    );
    'files: for file in files {
        let path = file.path.clone();
        let mut lines = file.lines();
        while let Some(chunk) = lines.next_chunk().map_err(|e| read_error(&path, &e))? {
            let mut not_records = 0;
            let go_on = plan
                .query
                .scan(chunk, &mut not_records, &mut |line, fields| {
                    printer.print(line, fields)
                });
            printer.not_records += not_records;
            if !go_on {
                break 'files;
            }
        }
        printer.not_records += lines.overlong;
    }
    printer.flush();
    printer.outcome()?;
    printer.warn_skipped();
    Ok(Done::Streamed(match printer.printed {
        0 => Exit::Rejected,
        _ => Exit::Success,
    }))
}

/// Whether a record is one this process wrote (`tail -f` reading its own record).
fn own(fields: &Fields) -> bool {
    fields.op.as_deref() == Some("log_tail") && fields.pid == Some(u64::from(std::process::id()))
}

/// `log tail`: `log` is the security log, read when no FILE is given.
pub fn tail(args: &LogTailArgs, log: &Path, ctx: &Ctx, rec: &mut Record) -> Result<Done> {
    let plan = plan(&args.filter, ctx.now)?;
    let named: Vec<PathBuf> = args.file.iter().cloned().collect();
    let files = open_logs(&named, log)?;
    let log = named.first().map_or(log, PathBuf::as_path).to_path_buf();
    // Where following starts: the newest file, from its length as it was opened.
    let newest = files.last().map(|f| (f.path.clone(), f.len()));
    ctx.audit.success(rec.clone())?;
    let last = last_records(files, &plan.query, args.lines)?;
    let mut printer = Printer::new(
        BufWriter::with_capacity(1 << 16, io::stdout().lock()),
        plan.output,
    );
    for line in &last {
        if let Some(fields) = Fields::of(line)
            && !printer.print(line, &fields)
        {
            break;
        }
    }
    if printer.flush()
        && args.follow
        && let Some((path, at)) = newest
    {
        follow(&log, &path, at, &plan.query, &mut printer)?;
    }
    printer.outcome()?;
    printer.warn_skipped();
    Ok(Done::Streamed(Exit::Success))
}

/// The last `n` matching lines of `files` (oldest first), reading the newest file first and
/// older ones only while fewer than `n` have been found.
fn last_records(files: Vec<LogFile>, query: &Query, n: usize) -> Result<Vec<Vec<u8>>> {
    let mut found: VecDeque<Vec<u8>> = VecDeque::new();
    for file in files.into_iter().rev() {
        if found.len() >= n {
            break;
        }
        let need = n - found.len();
        let path = file.path.clone();
        let mut lines = file.lines();
        let mut ring: VecDeque<Vec<u8>> = VecDeque::with_capacity(need);
        let mut skipped = 0;
        while let Some(chunk) = lines.next_chunk().map_err(|e| read_error(&path, &e))? {
            query.scan(chunk, &mut skipped, &mut |line, fields| {
                if !own(fields) {
                    if ring.len() == need {
                        ring.pop_front();
                    }
                    ring.push_back(line.to_vec());
                }
                true
            });
        }
        for line in ring.into_iter().rev() {
            found.push_front(line);
        }
    }
    Ok(found.into())
}

/// Print matching records as they are written to `log`, from byte `at` of `path` (its newest
/// file), moving on to the next file when the log rotates, until stdout's reader goes away.
fn follow(
    log: &Path,
    path: &Path,
    at: u64,
    query: &Query,
    printer: &mut Printer<impl Write>,
) -> Result<()> {
    let mut followed = Followed::open(path, at).map_err(|e| unreadable(path, &e))?;
    let mut buf = Vec::new();
    loop {
        let go_on = read_new(&mut followed, &mut buf, query, printer)? && printer.flush();
        if !go_on || !crate::sys::stdout_deliverable() {
            return Ok(());
        }
        // A rotation: the newest file of the log is another file now. What was written to the
        // old one before it moved is read first.
        if let Some(newest) = read::files_of(log)
            .ok()
            .and_then(|paths| paths.last().cloned())
            && std::fs::metadata(&newest).is_ok_and(|m| (m.dev(), m.ino()) != followed.id)
            && let Ok(next) = Followed::open(&newest, 0)
        {
            if !read_new(&mut followed, &mut buf, query, printer)? {
                return Ok(());
            }
            followed = next;
            continue;
        }
        std::thread::sleep(POLL);
    }
}

/// Print the matching records written to `followed` since the last look; false when printing
/// has stopped.
fn read_new(
    followed: &mut Followed,
    buf: &mut Vec<u8>,
    query: &Query,
    printer: &mut Printer<impl Write>,
) -> Result<bool> {
    let mut skipped = 0;
    let path = followed.path.clone();
    let go_on = followed
        .read_new(buf, &mut |line| {
            let mut go_on = true;
            query.scan(line, &mut skipped, &mut |line, fields| {
                go_on = own(fields) || printer.print(line, fields);
                go_on
            });
            Ok(go_on)
        })
        .map_err(|e| read_error(&path, &e))?;
    printer.not_records += skipped;
    Ok(go_on)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_escapes_what_the_log_holds() {
        let line = br#"{"timestamp":"2026-11-26T16:19:17.262902Z","level":"ERROR","op":"verify","outcome":"failure","reason":"expired","sub":"a\u001b[2Jb c\u202e","jti":"x"}"#;
        let fields = Fields::of(line).unwrap();
        let row = table_row(&fields);
        assert!(
            row.starts_with("2026-11-26T16:19:17Z  ERROR  verify"),
            "{row}"
        );
        assert!(row.contains("failure/expired"), "{row}");
        assert!(row.contains("a\\u001b[2Jb c\\u202e"), "{row}");
        assert!(!row.contains(['\u{1b}', '\u{202e}']));
        assert_eq!(row.lines().count(), 1);
    }
}
