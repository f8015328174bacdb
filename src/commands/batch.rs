//! `jwtctl verify --batch`: stream tokens from stdin, one JSON result and one record per token.

use std::cell::{Cell, RefCell};
use std::io::{self, BufRead, BufWriter, IsTerminal, Write};
use std::time::{Duration, Instant};

use tracing::Level;

use super::policy::{Loaded, Passed};
use super::verify::verify_one;
use super::{Ctx, Done, note_verified, open_ledger, policy, present};
use crate::audit::{Record, TokenDigest};
use crate::cli::VerifyArgs;
use crate::error::io_words;
use crate::error::{Error, Exit, Reason, Result};
use crate::hash::Sha256Hex;
use crate::keys::Keyring;
use crate::keys::remote::Remote;
use crate::ledger::Ledger;
use crate::token::{self, Policy, Verdict};

/// How many records a batch writes together (one `write(2)`), before printing their verdicts.
const GROUP: usize = 256;

/// Room kept beyond `--max-token-size` for whitespace and `Bearer ` around a token.
const LINE_SLACK: usize = 64;

pub fn run(args: &VerifyArgs, ctx: &Ctx, rec: &mut Record) -> Result<Done> {
    if args.output == Some(crate::cli::Output::Text) {
        return Err(Error::usage(
            "--batch prints one JSON result per line; drop --output text",
        ));
    }
    if io::stdin().is_terminal() {
        return Err(Error::usage(
            "--batch reads tokens from stdin, but stdin is a terminal",
        ));
    }
    let check = &args.check;
    // Judged before anything is opened or fetched: a usage error follows no side effect.
    let mut policy = policy(check, Vec::new())?;
    let rules = match args.policy.as_deref() {
        Some(path) => Some(super::policy::load(path, ctx, rec)?),
        None => None,
    };
    let ledger = open_ledger(
        check.ledger.as_deref(),
        check.leeway,
        crate::ledger::Access::Read,
        ctx,
        rec.op,
    )?;
    // With --policy, each issuer's keys are loaded when a token first names it.
    let keys = match &rules {
        Some(_) => None,
        None => {
            let (keys, algs) = super::check_keys(check, None, ctx, rec)?;
            policy.algs = algs;
            Some(keys)
        }
    };
    let batch = Batch {
        args,
        ctx,
        alg: rec.alg,
        policy,
        keys: RefCell::new(keys),
        rules: rules.map(|loaded| Rules {
            issuers: RefCell::new(loaded.file.issuers.iter().map(|_| Slot::Unloaded).collect()),
            loaded,
            passed: RefCell::new(None),
        }),
        remote: super::remote(&check.remote),
        refetched: Cell::new(false),
        loosening_noted: Cell::new(false),
        unloaded: Cell::new(0),
        ledger: RefCell::new(ledger),
        now: args
            .at
            .map_or(ctx.now_precise, |at| at.resolve(ctx.now) as f64),
        // Each line's record names where the keys came from, as a single verification's does.
        scratch: RefCell::new(Record {
            at: args.at.map(|at| at.resolve(ctx.now)),
            alg: rec.alg,
            key_source: rec.key_source.clone(),
            key_fetch: rec.key_fetch,
            policy: rec.policy.clone(),
            policy_sha256: rec.policy_sha256.clone(),
            ..Record::new(rec.op)
        }),
    };
    // A buffer of our own, so that a batch knows when its next read may wait for the writer.
    let mut input = io::BufReader::with_capacity(1 << 16, io::stdin().lock());
    let mut out = BufWriter::with_capacity(1 << 16, io::stdout().lock());
    let (exit, stopped) = batch
        .stream(&mut input, &mut out)
        .map_err(|e| after_printed(e, &mut out))?;
    let stopped = stopped || reader_gone(out.flush())?;
    if stopped {
        // The reader went away (`| head -1`): stop quietly, as ripgrep does, and say so.
        ctx.audit.notice(rec.op, "stopped_early")?;
    }
    if batch.unloaded.get() > 0 {
        // The exit status is 2: say why on stderr, in one line, as any exit 2 does.
        crate::sys::eprint_line(&format!(
            "jwtctl: {} line(s) were refused because the keys of the issuer they name could not \
             be loaded (key_error or jwks_unavailable: their results say which setting of the \
             policy); the other lines were judged",
            batch.unloaded.get()
        ));
    }
    Ok(Done::Streamed(exit))
}

/// A log failure in the middle of a batch: the verdicts printed before it stand (each had its
/// record), so the message says that rather than "nothing was done"; they are flushed first.
fn after_printed(e: Error, out: &mut impl Write) -> Error {
    if e.reason() != Reason::LogError {
        return e;
    }
    let _ = out.flush();
    let stand = "; the results printed before this line stand, no result was printed for the \
                 lines after them";
    let message = e.message();
    Error::log(match message.contains("; nothing was done") {
        true => message.replacen("; nothing was done", stand, 1),
        false => format!("{message}{stand}"),
    })
}

/// What every line of a batch is checked with.
struct Batch<'a> {
    args: &'a VerifyArgs,
    ctx: &'a Ctx<'a>,
    alg: Option<&'static str>,
    policy: Policy,
    /// The keys the flags name (none with `--policy`).
    keys: RefCell<Option<Keyring>>,
    /// `--policy`: the policy, each issuer's keys, and what the last token passed as.
    rules: Option<Rules>,
    /// The remote set the keys came from, if any: one refetch per batch for a rotated key.
    remote: Option<Remote>,
    refetched: Cell<bool>,
    /// Whether the loosening flags were said and recorded: once, at the first valid token.
    loosening_noted: Cell<bool>,
    /// How many lines were refused because their issuer's keys could not be loaded.
    unloaded: Cell<u64>,
    /// A cell: a store's reads need `&mut` (one connection).
    ledger: RefCell<Option<Ledger>>,
    now: f64,
    /// The record of the line being checked (see `record`).
    scratch: RefCell<Record>,
}

/// A batch's policy: the file, and each issuer's keys and verification policy once loaded.
struct Rules {
    loaded: Loaded,
    issuers: RefCell<Vec<Slot>>,
    /// What the token just judged passed as, for its line.
    passed: RefCell<Option<Passed>>,
}

/// How long a failure to load an issuer's keys is given again to the lines naming it before
/// the keys are tried again: a missing file or a provider that is down is not asked once per
/// line (a remote set's failures are also remembered for this long, see `keys::remote`), and
/// is not given up on for the rest of a long batch either.
const RETRY_AFTER: Duration = Duration::from_secs(60);

/// An issuer's keys in a batch: not yet needed, loaded (with the verification policy and where
/// they came from, for each line's record), or failed to load (and when).
enum Slot {
    Unloaded,
    Loaded(Box<IssuerKeys>),
    Failed {
        error: Error,
        at: Instant,
        source: Option<String>,
    },
}

struct IssuerKeys {
    keys: Keyring,
    policy: Policy,
    source: Option<String>,
    fetch: Option<&'static str>,
}

impl Batch<'_> {
    /// Check each line of `input`, record it, then print its verdict. Returns whether any token
    /// was rejected, and whether the reader of stdout went away (the batch stops there).
    ///
    /// Records are written in groups of up to [`GROUP`] (one `write(2)` each), and a group's
    /// verdicts are printed only after the group is written: a printed result always has its
    /// record on disk, even after a SIGKILL.
    fn stream(
        &self,
        input: &mut io::BufReader<impl io::Read>,
        out: &mut impl Write,
    ) -> Result<(Exit, bool)> {
        let audit = self.ctx.audit;
        audit.hold(self.scratch.borrow().op);
        let mut pending = Vec::new();
        let result = audit.in_scope(|| self.stream_held(input, out, &mut pending));
        // Whatever happened, what was recorded is written before anything more is printed.
        audit.release(false)?;
        let (exit, stopped) = result?;
        if stopped || reader_gone(out.write_all(&pending))? {
            return Ok((exit, true));
        }
        Ok((exit, false))
    }

    fn stream_held(
        &self,
        input: &mut io::BufReader<impl io::Read>,
        out: &mut impl Write,
        pending: &mut Vec<u8>,
    ) -> Result<(Exit, bool)> {
        let mut line = Vec::new();
        let (mut number, mut exit, mut held) = (0u64, Exit::Success, 0usize);
        let limit = self.policy.max_size.saturating_add(LINE_SLACK);
        loop {
            if held > 0 && input.buffer().is_empty() {
                // The next read may wait for the writer (a coprocess that sends a line, then
                // waits for its verdict): write the records held and print their verdicts first.
                self.ctx.audit.release(true)?;
                held = 0;
                let written = out.write_all(pending).and_then(|()| out.flush());
                pending.clear();
                if reader_gone(written)? {
                    return Ok((exit, true));
                }
            }
            let Some(end) = read_line_bounded(input, &mut line, limit)
                .map_err(|e| Error::io(format!("cannot read stdin: {}", io_words(&e))))?
            else {
                break;
            };
            number += 1;
            let cut = match end {
                Line::Whole => None,
                Line::Cut(hash) => Some(hash),
            };
            let overflow = cut.is_some();
            let utf8 = std::str::from_utf8(&line).ok();
            let text = utf8.map_or("", token::token_text);
            if utf8.is_some() && text.is_empty() && !overflow {
                continue;
            }
            // A failure (a ledger that cannot be read, a log) ends the batch.
            let verdict = self.check(text, utf8.is_some(), overflow)?;
            // The worst line decides: 1 for a rejected token, 2 for a line whose issuer's keys
            // could not be loaded (as `verify` alone would exit for it).
            if let Verdict::Rejected(r) = &verdict {
                exit = worse(exit, r.reason().exit_status());
            }
            self.record(number, text, cut, &verdict)?;
            held += 1;
            let passed = self.rules.as_ref().and_then(|r| r.passed.take());
            if !self.args.quiet {
                let line = present::batch_line(&verdict, passed.as_ref(), number);
                pending.extend_from_slice(line.as_bytes());
            }
            if held >= GROUP {
                self.ctx.audit.release(true)?;
                held = 0;
                let written = out.write_all(pending);
                pending.clear();
                if reader_gone(written)? {
                    return Ok((exit, true));
                }
            }
        }
        Ok((exit, false))
    }

    fn check(&self, text: &str, utf8: bool, overflow: bool) -> Result<Verdict> {
        if overflow {
            return Verdict::of(Err(Error::rejected(
                Reason::TooLarge,
                format!(
                    "the line is over the {}-byte limit (--max-token-size)",
                    self.policy.max_size
                ),
            )));
        }
        if !utf8 {
            return Verdict::of(Err(Error::rejected(
                Reason::Malformed,
                "the line is not UTF-8",
            )));
        }
        if let Some(rules) = &self.rules {
            return self.judge(rules, text);
        }
        let verdict = self.verify(text)?;
        match (&verdict, &self.remote) {
            (Verdict::Rejected(r), Some(remote))
                if r.reason() == Reason::NoMatchingKey && !self.refetched.replace(true) =>
            {
                // A provider may have rotated since the set was fetched: one refetch per batch
                // (and at most one a minute per URL, see keys::remote).
                let kid = super::unverified_kid(text);
                match super::keys::reload_remote(remote, kid.as_deref(), self.ctx, "verify") {
                    Ok(keys) => {
                        *self.keys.borrow_mut() = Some(keys);
                        self.verify(text)
                    }
                    Err(_) => Ok(verdict),
                }
            }
            _ => Ok(verdict),
        }
    }

    fn verify(&self, text: &str) -> Result<Verdict> {
        let keys = self.keys.borrow();
        let Some(keys) = keys.as_ref() else {
            return Err(Error::key("no keys to verify with"));
        };
        verify_one(
            text,
            keys,
            &self.policy,
            self.ledger.borrow_mut().as_mut(),
            self.now,
        )
    }

    /// Judge a token by the policy: the issuer it names (the only one, when the policy lists
    /// one: verification then requires its `iss`), that issuer's keys (loaded once), its rules.
    fn judge(&self, rules: &Rules, text: &str) -> Result<Verdict> {
        let issuers = &rules.loaded.file.issuers;
        {
            // Each line's record names where its issuer's keys came from, or nothing when the
            // line names no issuer.
            let mut scratch = self.scratch.borrow_mut();
            scratch.key_source = None;
            scratch.key_fetch = None;
        }
        let index = match issuers.len() {
            1 => 0,
            _ => {
                let issuer = token::decode_unverified(text, self.policy.max_size)
                    .and_then(|decoded| super::policy::issuer_of(&rules.loaded, &decoded.claims));
                match issuer {
                    Ok(issuer) => issuers
                        .iter()
                        .position(|i| i.path == issuer.path)
                        .unwrap_or_default(),
                    Err(e) => return Verdict::of(Err(e)),
                }
            }
        };
        let issuer = &issuers[index];
        let mut slots = rules.issuers.borrow_mut();
        let slot = &mut slots[index];
        let retry = matches!(slot, Slot::Failed { at, .. } if at.elapsed() >= RETRY_AFTER);
        if matches!(slot, Slot::Unloaded) || retry {
            *slot = self.load_issuer(rules, issuer)?;
        }
        let mut scratch = self.scratch.borrow_mut();
        let (keys, policy) = match slot {
            Slot::Loaded(loaded) => {
                scratch.key_source.clone_from(&loaded.source);
                scratch.key_fetch = loaded.fetch;
                (&loaded.keys, &loaded.policy)
            }
            Slot::Failed { error, source, .. } => {
                scratch.key_source.clone_from(source);
                scratch.key_fetch = None;
                self.unloaded.set(self.unloaded.get() + 1);
                let setting = super::policy::key_setting(issuer);
                let expected = super::policy::key_source_shown(issuer);
                return Ok(Verdict::Rejected(
                    error
                        .clone()
                        .with_rule(setting, expected)
                        .into_line_refusal(),
                ));
            }
            Slot::Unloaded => return Err(Error::key("no keys to verify with")),
        };
        drop(scratch);
        let verdict =
            super::policy::judge_with(&rules.loaded, issuer, text, keys, policy, self.now)?;
        verdict.and_then(|(verified, passed)| {
            let verdict = super::verify::not_revoked(
                verified,
                text,
                self.ledger.borrow_mut().as_mut(),
                self.now,
            )?;
            if verdict.is_valid() {
                *rules.passed.borrow_mut() = Some(passed);
            }
            Ok(verdict)
        })
    }

    /// Load an issuer's keys for the batch: a failure (but the log's) is kept for the lines
    /// that name the issuer, each refused with it, until [`RETRY_AFTER`] has passed.
    fn load_issuer(&self, rules: &Rules, issuer: &crate::policy::Issuer) -> Result<Slot> {
        let mut rec = Record::new(self.scratch.borrow().op);
        let loaded = super::policy::issuer_keys(
            &rules.loaded,
            issuer,
            &self.args.check.key,
            &self.args.check.remote,
            None,
            self.ctx,
            &mut rec,
        );
        Ok(match loaded {
            Ok((keys, algs)) => Slot::Loaded(Box::new(IssuerKeys {
                keys,
                policy: super::policy::issuer_policy(issuer, &self.policy, algs),
                source: rec.key_source,
                fetch: rec.key_fetch,
            })),
            Err(e) if e.reason() == Reason::LogError => return Err(e),
            Err(error) => Slot::Failed {
                error,
                at: Instant::now(),
                source: rec.key_source,
            },
        })
    }

    /// The line's record, as the level policy says.
    fn record(
        &self,
        number: u64,
        text: &str,
        cut: Option<Sha256Hex>,
        verdict: &Verdict,
    ) -> Result<()> {
        if verdict.is_valid() && !self.loosening_noted.replace(true) {
            let at = self.args.at.map(|at| at.resolve(self.ctx.now));
            // Once per batch, so naming no token.
            let op = self.scratch.borrow().op;
            super::note_check_loosening(&self.args.check, at, self.ctx, op, None)?;
        }
        if verdict.is_valid() && !self.ctx.audit.keeps(Level::INFO) {
            return Ok(());
        }
        // One record serves every line, its strings reused: each field a line's record carries
        // is set here or by `note_verified`, so nothing is left from the line before.
        let mut r = self.scratch.borrow_mut();
        r.line = Some(number);
        // An overlong line carries the hash of its whole token text, computed as it was read
        // and discarded (a hash of its prefix would name another token).
        r.token = match cut {
            Some(hash) => Some(TokenDigest::Hashed(hash)),
            None => (!text.is_empty()).then(|| TokenDigest::hashed(text)),
        };
        let level = match verdict {
            Verdict::Valid(verified) => {
                note_verified(&mut r, verified);
                r.claim = None;
                r.policy_rule = None;
                r.succeed()
            }
            Verdict::Rejected(rejection) => {
                (r.sub, r.iss, r.jti, r.kid, r.exp, r.alg) =
                    (None, None, None, None, None, self.alg);
                r.reject(rejection)
            }
        };
        self.ctx.audit.emit(level, &r)
    }
}

/// The exit status of the worse of two outcomes (a configuration failure over a rejection).
fn worse(a: Exit, b: Exit) -> Exit {
    match b.code() > a.code() {
        true => b,
        false => a,
    }
}

/// Whether a write to stdout found its reader gone (a broken pipe); any other failure is exit 2.
fn reader_gone(written: io::Result<()>) -> Result<bool> {
    match written {
        Ok(()) => Ok(false),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(true),
        Err(_) => Err(Error::io("cannot write results to stdout")),
    }
}

/// How a line was read: whole, or cut at the limit, with the SHA-256 of the whole line's token
/// text (what `printf %s "$TOKEN" | sha256sum` gives for the token on it), so its record names
/// the token like any other.
#[derive(Clone, Copy)]
pub enum Line {
    Whole,
    Cut(Sha256Hex),
}

/// Read one line (without its `\n`) into `buf`, keeping at most `limit` bytes so memory stays
/// flat however long the line; the rest of a longer line is hashed as it is discarded. `None` at
/// the end of input.
pub fn read_line_bounded(
    r: &mut impl BufRead,
    buf: &mut Vec<u8>,
    limit: usize,
) -> io::Result<Option<Line>> {
    buf.clear();
    let (mut seen, mut cut) = (false, None::<CutDigest>);
    let end = |cut: Option<CutDigest>| cut.map_or(Line::Whole, |d| Line::Cut(d.finish()));
    loop {
        let available = r.fill_buf()?;
        if available.is_empty() {
            return Ok(seen.then(|| end(cut)));
        }
        seen = true;
        let newline = available.iter().position(|&b| b == b'\n');
        let chunk = &available[..newline.unwrap_or(available.len())];
        match &mut cut {
            Some(digest) => digest.feed(chunk),
            None => {
                let room = limit.saturating_sub(buf.len());
                let kept = chunk.len().min(room);
                buf.extend_from_slice(&chunk[..kept]);
                if chunk.len() > room {
                    let mut digest = CutDigest::starting(buf);
                    digest.feed(&chunk[kept..]);
                    cut = Some(digest);
                }
            }
        }
        let used = newline.map_or(available.len(), |i| i + 1);
        r.consume(used);
        if newline.is_some() {
            return Ok(Some(end(cut)));
        }
    }
}

/// The hash of an overlong line's token text, computed as the line streams past: the line less
/// surrounding whitespace and a leading `Bearer ` (exactly as `token::token_text` trims a whole
/// line: Unicode whitespace, and the scheme after any amount of it). Trailing whitespace is held
/// back until more text follows; past [`MAX_HELD`] it is hashed as text (the hash of an absurd
/// line may then differ from its trimmed token's; memory stays bounded).
struct CutDigest {
    hash: crate::hash::Sha256Stream,
    phase: Phase,
    /// The start of the text while it may still be the scheme `Bearer ` (at most 7 bytes).
    scheme: Vec<u8>,
    /// The bytes of a UTF-8 character not yet complete (at most 4).
    partial: Vec<u8>,
    held: Vec<u8>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Leading whitespace, skipped.
    Lead,
    /// The text's first bytes, while they are a start of `Bearer ` (any case).
    Scheme,
    /// Whitespace after `Bearer `, skipped; the text is `Bearer` if nothing follows.
    AfterScheme,
    /// The token text.
    Body,
}

/// The most trailing whitespace held back from the hash.
const MAX_HELD: usize = 1 << 16;

impl CutDigest {
    /// Start with the kept `prefix` of the line.
    fn starting(prefix: &[u8]) -> CutDigest {
        let mut digest = CutDigest {
            hash: Sha256Hex::stream(),
            phase: Phase::Lead,
            scheme: Vec::new(),
            partial: Vec::new(),
            held: Vec::new(),
        };
        digest.feed(prefix);
        digest
    }

    /// Take the next bytes of the line, one character (or one byte that is not UTF-8) at a time;
    /// a run of ASCII text in the token's body (the whole of a token, in practice) is hashed in
    /// one update, not byte by byte (a line of many MiB is hashed at SHA-256's own speed).
    fn feed(&mut self, mut bytes: &[u8]) {
        while let Some((&b, rest)) = bytes.split_first() {
            if self.phase == Phase::Body && self.partial.is_empty() {
                let run = bytes
                    .iter()
                    .position(|&b| b >= 0x80 || (b as char).is_whitespace())
                    .unwrap_or(bytes.len());
                if run > 0 {
                    // As `unit` takes text: the whitespace held before it first.
                    self.hash.update(&self.held);
                    self.held.clear();
                    self.hash.update(&bytes[..run]);
                    bytes = &bytes[run..];
                    continue;
                }
            }
            bytes = rest;
            if !self.partial.is_empty() && (b & 0xC0 != 0x80) {
                // A character cut short: its bytes are text, not whitespace.
                let unit = std::mem::take(&mut self.partial);
                self.unit(&unit, false);
            }
            if self.partial.is_empty() && b < 0x80 {
                self.unit(&[b], (b as char).is_whitespace());
                continue;
            }
            self.partial.push(b);
            let want = match self.partial[0] {
                0xC0..=0xDF => 2,
                0xE0..=0xEF => 3,
                0xF0..=0xF7 => 4,
                _ => 1,
            };
            if self.partial.len() >= want {
                let unit = std::mem::take(&mut self.partial);
                let space = std::str::from_utf8(&unit)
                    .ok()
                    .and_then(|s| s.chars().next())
                    .is_some_and(char::is_whitespace);
                self.unit(&unit, space);
            }
        }
    }

    /// One character of the line (its bytes), and whether it is whitespace.
    fn unit(&mut self, unit: &[u8], space: bool) {
        const SCHEME: &[u8] = b"bearer ";
        match self.phase {
            Phase::Lead if space => {}
            Phase::Lead => {
                self.phase = Phase::Scheme;
                self.unit(unit, space);
            }
            Phase::Scheme => {
                let at = self.scheme.len();
                if unit.len() == 1 && unit[0].eq_ignore_ascii_case(&SCHEME[at]) {
                    self.scheme.push(unit[0]);
                    if self.scheme.len() == SCHEME.len() {
                        self.phase = Phase::AfterScheme;
                    }
                    return;
                }
                // Not the scheme: what was kept of it is text.
                self.phase = Phase::Body;
                let kept = std::mem::take(&mut self.scheme);
                self.hash.update(&kept);
                self.unit(unit, space);
            }
            Phase::AfterScheme if space => {}
            Phase::AfterScheme => {
                self.scheme.clear();
                self.phase = Phase::Body;
                self.unit(unit, space);
            }
            Phase::Body if space => {
                self.held.extend_from_slice(unit);
                if self.held.len() > MAX_HELD {
                    self.hash.update(&self.held);
                    self.held.clear();
                }
            }
            Phase::Body => {
                self.hash.update(&self.held);
                self.held.clear();
                self.hash.update(unit);
            }
        }
    }

    fn finish(mut self) -> Sha256Hex {
        if !self.partial.is_empty() {
            let unit = std::mem::take(&mut self.partial);
            self.unit(&unit, false);
        }
        match self.phase {
            // The line's text is a start of the scheme, or `Bearer` and whitespace only: the
            // trimmed text is what was kept, less its final space.
            Phase::Scheme | Phase::AfterScheme => {
                let text = self.scheme.trim_ascii_end();
                self.hash.update(text);
            }
            Phase::Lead | Phase::Body => {}
        }
        self.hash.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(input: &mut io::Cursor<Vec<u8>>, buf: &mut Vec<u8>) -> Option<bool> {
        read_line_bounded(input, buf, 8)
            .unwrap()
            .map(|end| matches!(end, Line::Cut(_)))
    }

    #[test]
    fn a_cut_line_is_hashed_whole_as_its_token_text() {
        let token = "eyJ.".repeat(5000);
        let line = format!("  Bearer  {token} \r\nnext\n");
        let mut input = io::BufReader::with_capacity(7, io::Cursor::new(line.into_bytes()));
        let mut buf = Vec::new();
        let Some(Line::Cut(hash)) = read_line_bounded(&mut input, &mut buf, 100).unwrap() else {
            panic!("the line is cut");
        };
        assert_eq!(hash.as_str(), Sha256Hex::of(token.as_bytes()).as_str());
        assert_eq!(buf.len(), 100);
        assert!(matches!(
            read_line_bounded(&mut input, &mut buf, 100).unwrap(),
            Some(Line::Whole)
        ));
        assert_eq!(buf, b"next");
    }

    /// Whatever surrounds the token (Unicode whitespace, a vertical tab, `Bearer ` after more
    /// leading whitespace than is kept), a cut line's hash is that of its text as
    /// `token::token_text` trims it, read in pieces of any size.
    #[test]
    fn a_cut_line_is_trimmed_as_a_whole_line_is() {
        let token = "eyJ.".repeat(100);
        let lines = [
            format!("\u{3000}{token}\u{3000}"),
            format!("\u{a0}\u{2028} {token}\u{85}"),
            format!("\u{b}{token}\u{b}\r"),
            format!("{}Bearer {token}", " ".repeat(150)),
            format!("{}bEARER \u{3000}{token} \u{2029}", "\t".repeat(97)),
            format!("Bearer{token}"),
            format!("Bea {token}"),
            format!("{token}\u{a0}x\u{a0}"),
            format!("Bearer{}", " ".repeat(300)),
            format!("{}bear", " ".repeat(300)),
            format!("\u{e9}{token}\u{1f600}"),
        ];
        for line in &lines {
            for capacity in [1, 2, 3, 7, 64] {
                let mut input =
                    io::BufReader::with_capacity(capacity, io::Cursor::new(line.as_bytes()));
                let mut buf = Vec::new();
                let Some(Line::Cut(hash)) = read_line_bounded(&mut input, &mut buf, 100).unwrap()
                else {
                    panic!("{line:?} is cut");
                };
                let text = token::token_text(line);
                assert_eq!(
                    hash.as_str(),
                    Sha256Hex::of(text.as_bytes()).as_str(),
                    "{line:?} read {capacity} bytes at a time"
                );
            }
        }
    }

    #[test]
    fn lines_are_read_whole_or_cut_at_the_limit() {
        let mut input = io::Cursor::new(b"abc\n\nlong-line-here\nlast".to_vec());
        let mut buf = Vec::new();
        assert_eq!(read(&mut input, &mut buf), Some(false));
        assert_eq!(buf, b"abc");
        assert_eq!(read(&mut input, &mut buf), Some(false));
        assert_eq!(buf, b"");
        assert_eq!(read(&mut input, &mut buf), Some(true));
        assert_eq!(buf, b"long-lin");
        assert_eq!(read(&mut input, &mut buf), Some(false));
        assert_eq!(buf, b"last");
        assert_eq!(read(&mut input, &mut buf), None);
    }
}
