//! `jwtctl log verify|head|seal init`: prove the security log was not touched.

use std::fmt::Write as _;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use tracing::Level;

use super::{Ctx, Done};
use crate::audit::verify::{self, Report};
use crate::audit::{Head, Record, Seal};
use crate::cli::{LogHeadArgs, LogVerifyArgs, Output, SealInitArgs};
use crate::error::{Error, Reason, Result};
use crate::hash::Sha256Hex;

/// What `log verify` was asked, checked before any file is read.
struct VerifyPlan {
    files: Vec<PathBuf>,
    key: Option<Seal>,
    expect_head: Option<Head>,
    /// The log checked by name (not FILEs), whose state file names its head.
    named: Option<PathBuf>,
}

fn verify_plan(args: &LogVerifyArgs, ctx: &Ctx) -> Result<VerifyPlan> {
    let expect_head = match &args.expect_head {
        // The head `log head` prints for an empty log: every log holds its start.
        Some((0, hash)) if hash.as_str() == crate::audit::genesis().as_str() => None,
        Some((0, _)) => {
            return Err(Error::usage(format!(
                "--expect-head 0:HASH names the log's start, whose hash is always {}",
                crate::audit::genesis().as_str()
            )));
        }
        Some((seq, hash)) => Some(Head {
            seq: *seq,
            hash: Sha256Hex::from_hex(hash).unwrap_or_else(crate::audit::genesis),
        }),
        None => None,
    };
    let key = args
        .verify_key
        .as_deref()
        .map(read_verify_key)
        .transpose()?;
    let no_file = ctx.audit.state_path().is_none();
    let mut named = None;
    let files = if args.files.is_empty() {
        if no_file && args.log.log_file.is_none() {
            return Err(Error::usage(
                "--log-file none writes no file to verify: name the files to check",
            ));
        }
        // The log and every file rotated from it (gzip-compressed ones too), oldest first: the
        // log `--log-file` names after `log verify`, else the security log.
        let log = args.log.log_file.as_deref().unwrap_or(ctx.audit.base());
        let files = crate::audit::read::files_of(log).map_err(|e| {
            Error::io(format!(
                "cannot list the files of the log {}: {}",
                log.display(),
                crate::error::io_words(&e)
            ))
        })?;
        if files.is_empty() && args.log.log_file.is_some() {
            return Err(Error::io(format!(
                "there is no log at {}; name an existing log with --log-file, or its files",
                log.display()
            )));
        }
        named = Some(log.to_path_buf());
        files
    } else {
        args.files.clone()
    };
    Ok(VerifyPlan {
        files,
        key,
        expect_head,
        named,
    })
}

/// Read a verify key file: checked as a key file is (no other user can replace it).
fn read_verify_key(path: &Path) -> Result<Seal> {
    let shown = path.display();
    let contents = crate::trusted::read(path).map_err(|e| match e {
        crate::trusted::ReadError::Refused(r) => Error::usage(r.message("verify key", path)),
        crate::trusted::ReadError::Io(e) => Error::io(format!(
            "cannot read the verify key {shown}: {}; give the file log seal init wrote",
            crate::error::io_words(&e)
        )),
    })?;
    std::str::from_utf8(&contents.bytes)
        .ok()
        .and_then(Seal::from_verify_key)
        .ok_or_else(|| {
            Error::usage(format!(
                "{shown} is not a verify key (one line jwtctl-seal-v1:…, as log seal init \
                 printed it)"
            ))
        })
}

/// `log verify`.
pub fn verify(args: &LogVerifyArgs, ctx: &Ctx) -> Result<Done> {
    let plan = verify_plan(args, ctx)?;
    // The state first: a record appended meanwhile only makes the log longer than it says.
    // A state file that is missing reads as one without sealing: a sealed log whose state
    // was removed is caught (sealing was silently turned off).
    let (state_head, state_seal) = match &plan.named {
        Some(log) => {
            let (head, seal) = crate::audit::read_state(log).map_err(|e| {
                Error::io(format!(
                    "cannot read the state of the log {}: {}; name the log's files (log verify \
                     FILE...) to check them without it",
                    log.display(),
                    crate::error::io_words(&e)
                ))
            })?;
            (head, Some(seal))
        }
        None => (None, None),
    };
    let options = verify::Options {
        key: plan.key,
        expect_head: plan.expect_head,
        state_head,
        state_seal,
        now: Some(ctx.now),
    };
    let report = verify::verify(&plan.files, options).map_err(|(file, e)| {
        Error::io(format!(
            "cannot read the log {}: {}; name readable log files, oldest first",
            file.display(),
            crate::audit::read::read_words(&e)
        ))
    })?;
    let json_out = args.output == Output::Json;
    let mut doc = report_json(&report, &plan.files).to_string();
    doc.push('\n');
    match &report.broken {
        Some(b) => {
            let message = format!(
                "the log was tampered with: {} line {}{}: {}: {}",
                b.file.display(),
                b.line,
                b.seq.map(|s| format!(" (seq {s})")).unwrap_or_default(),
                b.kind,
                b.detail
            );
            Ok(Done::Broken {
                reason: Reason::LogTampered,
                message,
                stdout: if json_out { doc } else { String::new() },
            })
        }
        None => {
            crate::sys::eprint_line(&format!("jwtctl: {}", summary(&report)));
            Ok(Done::Print(if json_out { doc } else { String::new() }))
        }
    }
}

/// The one line an intact log gets.
fn summary(r: &Report) -> String {
    let mut line = format!("log intact: {} records", r.records);
    if let (Some(first), Some((last, _))) = (r.first_seq, &r.head) {
        let _ = write!(line, " (seq {first} to {last})");
    }
    if r.unchained > 0 {
        let _ = write!(
            line,
            ", {} older records before the chain began (not covered)",
            r.unchained
        );
    }
    if r.torn > 0 {
        let _ = write!(
            line,
            ", {} cut short by a crash (each named by the record after it)",
            r.torn
        );
    }
    if !r.sealed {
        line.push_str("; chained but NOT sealed: run jwtctl log seal init to seal it");
        return line;
    }
    if r.seals == 0 {
        let _ = write!(
            line,
            ", no seal yet (the first epoch's seal is written by the first record after it ends: \
             --interval of log seal init); {} records not yet sealed",
            r.unsealed
        );
        return line;
    }
    let _ = write!(line, ", {} seals", r.seals);
    if !r.seals_checked {
        line.push_str(" NOT checked (give --verify-key to check them)");
    } else {
        line.push_str(" checked");
    }
    if let (Some(seq), Some(until)) = (r.last_sealed_seq, r.sealed_until) {
        let _ = write!(line, "; sealed up to seq {seq} ({})", until.to_rfc3339());
    }
    let _ = write!(line, "; {} records at the tail not yet sealed", r.unsealed);
    line
}

fn report_json(r: &Report, files: &[PathBuf]) -> Value {
    let broken = r.broken.as_ref().map(|b| {
        json!({
            "file": b.file.display().to_string(),
            "line": b.line,
            "seq": b.seq,
            "kind": b.kind,
            "detail": b.detail,
        })
    });
    json!({
        "intact": r.intact(),
        "files": files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>(),
        "records": r.records,
        "seals": r.seals,
        "sealed": r.sealed,
        "seals_checked": r.seals_checked,
        "unchained": r.unchained,
        "first_seq": r.first_seq,
        "head": r.head.as_ref().map(|(seq, hash)| format!("{seq}:{hash}")),
        "last_sealed_seq": r.last_sealed_seq,
        "sealed_until": r.sealed_until.map(|t| t.to_rfc3339()),
        "unsealed": r.unsealed,
        "torn": r.torn,
        "break": broken,
    })
}

/// `log head`.
pub fn head(args: &LogHeadArgs, ctx: &Ctx) -> Result<Done> {
    let Some((head, seal)) = ctx.audit.chain_state()? else {
        return Err(Error::usage(
            "--log-file none writes no file, so there is no chain head on this host",
        ));
    };
    let head = head.unwrap_or_else(Head::start);
    let sealed = seal.as_ref().map(|s| {
        let until = s
            .start
            .saturating_add((s.epoch.saturating_mul(s.interval)) as i64);
        (s.epoch, chrono::DateTime::from_timestamp(until, 0))
    });
    if args.output == Output::Json {
        let doc = json!({
            "seq": head.seq,
            "hash": head.hash.as_str(),
            "head": head.text(),
            "sealed": seal.is_some(),
            "sealed_epochs": sealed.map(|(e, _)| e),
            "sealed_until": sealed.and_then(|(_, t)| t).map(|t| t.to_rfc3339()),
        });
        return Ok(Done::Print(format!("{doc}\n")));
    }
    match sealed {
        Some((0, _)) => crate::sys::eprint_line(
            "jwtctl: sealed, but no epoch has ended yet: the first seal is written by the first \
             record after the first --interval ends",
        ),
        Some((epochs, Some(until))) => crate::sys::eprint_line(&format!(
            "jwtctl: sealed: {epochs} epochs up to {} are ended (each is sealed by the next \
             write)",
            until.to_rfc3339()
        )),
        _ => {}
    }
    Ok(Done::Print(format!("{}\n", head.text())))
}

/// `log seal init`.
pub fn seal_init(args: &SealInitArgs, ctx: &Ctx, rec: &mut Record) -> Result<Done> {
    // Judged before anything is made: the key file's place must be ours and the name free.
    if let Some(out) = &args.verify_key_out {
        crate::trusted::check_place(out)
            .map_err(|r| Error::usage(r.message("verify key file", out)))?;
        if std::fs::symlink_metadata(out).is_ok() {
            return Err(Error::usage(format!(
                "{} exists already; the verify key is written once, to a new file",
                out.display()
            )));
        }
    }
    let interval = args.interval.as_secs();
    // Epoch 0 starts at the next whole second from now (not when the process started, and
    // never a fraction of a second before its end): with a 1s interval, epoch 0 must not end
    // before the init record that opens it is written.
    let seal = ctx
        .audit
        .seal_init(interval, chrono::Utc::now().timestamp() + 1)?;
    let undo = |e: Error| {
        let _ = ctx.audit.seal_undo(&seal.id);
        e
    };
    if let Some(out) = &args.verify_key_out {
        write_new(out, &format!("{}\n", seal.verify_key())).map_err(undo)?;
    }
    rec.seal_id = Some(seal.id.clone());
    rec.seal_start = Some(seal.start);
    rec.seal_interval = Some(interval);
    rec.succeed();
    // Written whatever the level policy: `log verify` reads the sealing from it.
    if let Err(e) = ctx.audit.emit(Level::ERROR, rec) {
        if let Some(out) = &args.verify_key_out {
            let _ = std::fs::remove_file(out);
        }
        return Err(undo(e));
    }
    let start = chrono::DateTime::from_timestamp(seal.start, 0).unwrap_or_default();
    let whereto = match &args.verify_key_out {
        Some(out) => format!("the verify key is in {}", out.display()),
        None => "the verify key is on stdout".to_owned(),
    };
    crate::sys::eprint_line(&format!(
        "jwtctl: sealing set up: an epoch every {}s from {}; {whereto}: keep it off this host, \
         it is shown only once",
        interval,
        start.to_rfc3339()
    ));
    Ok(Done::Recorded(match &args.verify_key_out {
        Some(_) => String::new(),
        None => format!("{}\n", seal.verify_key()),
    }))
}

/// Create `path` (it must not exist), mode 0600, holding `text`, synced.
fn write_new(path: &Path, text: &str) -> Result<()> {
    let fail = |e: std::io::Error| {
        Error::io(format!(
            "cannot write the verify key to {}: {}; nothing was set up",
            path.display(),
            crate::error::io_words(&e)
        ))
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(crate::sys::OPEN_NOFOLLOW_NONBLOCK)
        .open(path)
        .map_err(fail)?;
    let written = file
        .write_all(text.as_bytes())
        .and_then(|()| file.sync_all());
    if let Err(e) = written {
        let _ = std::fs::remove_file(path);
        return Err(fail(e));
    }
    Ok(())
}
