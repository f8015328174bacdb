//! `jwtctl verify --batch`: stream tokens from stdin, one JSON result and one record per token.

use std::io::{self, BufRead, BufWriter, IsTerminal, Write};

use serde_json::json;
use tracing::Level;

use super::verify::verify_one;
use super::{Ctx, Done, note_verified, open_ledger, policy, verifying_keys};
use crate::audit::{Record, TokenDigest};
use crate::cli::VerifyArgs;
use crate::error::{Error, Exit, Reason, Result};
use crate::token::{self, Verified};

/// Room kept beyond `--max-token-size` for whitespace and `Bearer ` around a token.
const LINE_SLACK: usize = 64;

pub fn run(args: &VerifyArgs, ctx: &Ctx, rec: &mut Record) -> Result<Done> {
    let check = &args.check;
    let now = args.at.map_or(ctx.now_precise, |at| at as f64);
    let ledger = open_ledger(check.ledger.as_deref(), check.leeway, ctx)?;
    let (keys, algs) = verifying_keys(&check.key, check.jwks.as_deref(), ctx, rec)?;
    let policy = policy(check, algs);
    let stdin = io::stdin();
    if stdin.is_terminal() {
        return Err(Error::usage(
            "--batch reads tokens from stdin, but stdin is a terminal",
        ));
    }
    let mut input = stdin.lock();
    let mut out = BufWriter::with_capacity(1 << 16, io::stdout().lock());
    let mut line = Vec::new();
    let (mut number, mut rejected) = (0u64, false);
    let limit = policy.max_size.saturating_add(LINE_SLACK);
    while let Some(overflow) = read_line_bounded(&mut input, &mut line, limit)
        .map_err(|e| Error::io(format!("cannot read stdin: {}", crate::error::io_words(&e))))?
    {
        number += 1;
        let utf8 = std::str::from_utf8(&line).ok();
        let text = utf8.map_or("", token::token_text);
        if utf8.is_some() && text.is_empty() && !overflow {
            continue;
        }
        let result = if overflow {
            Err(Error::rejected(
                Reason::TooLarge,
                format!(
                    "the line is over the {}-byte limit (--max-token-size)",
                    policy.max_size
                ),
            ))
        } else if utf8.is_none() {
            Err(Error::rejected(Reason::Malformed, "the line is not UTF-8"))
        } else {
            verify_one(text, &keys, &policy, ledger.as_ref(), now)
        };
        let record = || Record {
            line: Some(number),
            at: args.at,
            alg: rec.alg.clone(),
            // An overlong line is recorded without a hash: a hash of its prefix would name
            // another token.
            token: (!overflow && !text.is_empty()).then(|| TokenDigest::of(text)),
            ..Record::new(rec.op)
        };
        match &result {
            Ok(verified) if ctx.audit.keeps(Level::INFO) => {
                let mut r = record();
                note_verified(&mut r, verified);
                ctx.audit.success(r)?;
            }
            Ok(_) => {}
            Err(e) if !e.reason().is_rejection() => return Err(e.clone()),
            Err(e) => {
                rejected = true;
                ctx.audit.failure(record(), e.reason())?;
            }
        }
        if !args.quiet {
            write_result(&mut out, number, &result).map_err(|_| stdout_error())?;
        }
    }
    out.flush().map_err(|_| stdout_error())?;
    Ok(Done::Streamed(if rejected {
        Exit::Rejected
    } else {
        Exit::Success
    }))
}

fn stdout_error() -> Error {
    Error::io("cannot write results to stdout")
}

/// One result line: `{"line":N,"valid":true,"header":{..},"claims":{..}}` or
/// `{"line":N,"valid":false,"reason":"..","message":".."}`.
fn write_result(out: &mut impl Write, line: u64, result: &Result<Verified>) -> io::Result<()> {
    match result {
        Ok(v) => {
            write!(out, "{{\"line\":{line},\"valid\":true,\"header\":")?;
            serde_json::to_writer(&mut *out, &v.header)?;
            out.write_all(b",\"claims\":")?;
            serde_json::to_writer(&mut *out, &v.claims)?;
            out.write_all(b"}\n")
        }
        Err(e) => {
            let result = json!({"line": line, "valid": false, "reason": e.reason().code(), "message": e.message()});
            writeln!(out, "{result}")
        }
    }
}

/// Read one line (without its `\n`) into `buf`, keeping at most `limit` bytes so memory stays
/// flat however long the line. `None` at the end of input; `Some(true)` when the line was cut.
pub fn read_line_bounded(
    r: &mut impl BufRead,
    buf: &mut Vec<u8>,
    limit: usize,
) -> io::Result<Option<bool>> {
    buf.clear();
    let (mut seen, mut overflow) = (false, false);
    loop {
        let available = r.fill_buf()?;
        if available.is_empty() {
            return Ok(seen.then_some(overflow));
        }
        seen = true;
        let newline = available.iter().position(|&b| b == b'\n');
        let chunk = &available[..newline.unwrap_or(available.len())];
        let room = limit.saturating_sub(buf.len());
        overflow |= chunk.len() > room;
        buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let used = newline.map_or(available.len(), |i| i + 1);
        r.consume(used);
        if newline.is_some() {
            return Ok(Some(overflow));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_read_whole_or_cut_at_the_limit() {
        let mut input = io::Cursor::new(b"abc\n\nlong-line-here\nlast".to_vec());
        let mut buf = Vec::new();
        assert_eq!(
            read_line_bounded(&mut input, &mut buf, 8).unwrap(),
            Some(false)
        );
        assert_eq!(buf, b"abc");
        assert_eq!(
            read_line_bounded(&mut input, &mut buf, 8).unwrap(),
            Some(false)
        );
        assert_eq!(buf, b"");
        assert_eq!(
            read_line_bounded(&mut input, &mut buf, 8).unwrap(),
            Some(true)
        );
        assert_eq!(buf, b"long-lin");
        assert_eq!(
            read_line_bounded(&mut input, &mut buf, 8).unwrap(),
            Some(false)
        );
        assert_eq!(buf, b"last");
        assert_eq!(read_line_bounded(&mut input, &mut buf, 8).unwrap(), None);
    }
}
