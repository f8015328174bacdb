//! Command input: a token from the argument or stdin, and bounded reads of stdin.

use std::io::{self, IsTerminal, Read};

use crate::audit::{Record, TokenDigest};
use crate::error::{Error, Reason, Result};
use crate::token;

/// Largest input read from stdin for one token or claims object.
const MAX_INPUT: u64 = 1 << 20;

/// Read all of stdin, at most 1 MiB (`oversize` makes the error past it). Refuses to wait on a
/// terminal: nothing prompts.
pub fn read_stdin(what: &str, oversize: fn(String) -> Error) -> Result<String> {
    let stdin = io::stdin();
    if stdin.is_terminal() {
        return Err(Error::usage(format!(
            "expected {what} on stdin, but stdin is a terminal; pipe it in or pass it as an argument"
        )));
    }
    let mut text = String::new();
    let read = stdin.lock().take(MAX_INPUT + 1).read_to_string(&mut text);
    match read {
        Ok(n) if n as u64 > MAX_INPUT => {
            Err(oversize(format!("{what} on stdin is larger than 1 MiB")))
        }
        Ok(_) => Ok(text),
        Err(e) if e.kind() == io::ErrorKind::InvalidData => Err(Error::rejected(
            Reason::Malformed,
            format!("{what} on stdin is not UTF-8"),
        )),
        Err(e) => Err(Error::io(format!(
            "cannot read stdin: {}",
            crate::error::io_words(&e)
        ))),
    }
}

/// The token text from the argument, or from stdin when the argument is absent or `-`, less
/// surrounding whitespace and `Bearer `. Its hash goes into the record (as
/// `parent_token_sha256` when it is the parent of a new token).
///
/// One verdict for one input: a token that is not UTF-8 is `malformed` and one over 1 MiB is
/// `too_large` (exit 1), whether it comes as the argument or on stdin.
pub fn read_token(
    arg: Option<&std::ffi::OsStr>,
    rec: &mut Record,
    as_parent: bool,
) -> Result<String> {
    let input = match arg {
        Some(token) if token != "-" => token
            .to_str()
            .map(str::to_owned)
            .ok_or_else(|| Error::rejected(Reason::Malformed, "the token argument is not UTF-8"))?,
        _ => read_stdin("a token", |m| Error::rejected(Reason::TooLarge, m))?,
    };
    let text = token::token_text(&input).to_string();
    let digest = Some(TokenDigest::of(&text));
    if as_parent {
        rec.parent_token = digest;
    } else {
        rec.token = digest;
    }
    if let Some(hint) = misfed(&text, arg.filter(|a| *a != "-")) {
        return Err(Error::rejected(Reason::Malformed, hint));
    }
    Ok(text)
}

/// What went wrong when the input is plainly not one token, said with the fix: a file named
/// where a token goes, `@FILE`, several tokens on stdin, a token broken over lines. `None` for
/// anything else (the token's own checks then say what is wrong with it). Never repeats the
/// input: it may be a token or a secret.
fn misfed(text: &str, arg: Option<&std::ffi::OsStr>) -> Option<String> {
    let shaped = |t: &str| t.split('.').count() == 3 && !t.contains(char::is_whitespace);
    if shaped(text) {
        return None;
    }
    let from_file = "to read a token from a file, redirect it: jwtctl verify < FILE (or pass - \
                     and pipe it in)";
    if let Some(arg) = arg {
        let named = std::path::Path::new(arg);
        if text.starts_with('@') {
            return Some(format!(
                "a token is three base64url parts separated by '.', not @FILE; {from_file}"
            ));
        }
        if named.is_file() {
            return Some(format!(
                "the TOKEN argument names a file, not a token; {from_file}"
            ));
        }
    }
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if lines.len() > 1 && lines.iter().all(|l| shaped(token::token_text(l))) {
        return Some(format!(
            "the input holds {} tokens, one per line; to verify each, add --batch (jwtctl verify \
             --batch < tokens.txt)",
            lines.len()
        ));
    }
    let joined: String = text.split_whitespace().collect();
    if text.contains(char::is_whitespace) && shaped(&joined) {
        let at = text.find(char::is_whitespace).unwrap_or(0);
        let what = if text[at..].starts_with(['\n', '\r']) {
            "a line break"
        } else {
            "a space"
        };
        return Some(format!(
            "the token has {what} at character {}: it was broken when copied; join its parts \
             (tr -d ' \\n' < FILE)",
            at + 1
        ));
    }
    None
}
