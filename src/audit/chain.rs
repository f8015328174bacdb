//! The chain and the seal: every record written to the log file carries `seq` (1, 2, 3, … per
//! log, across rotated files and processes) and `prev` (the hex SHA-256 of the previous record's
//! line, without its newline); once `jwtctl log seal init` has set sealing up, every epoch that
//! ended is sealed by a `log_seal` record holding an HMAC-SHA256, made with that epoch's key, over
//! the chain head. The key evolves one way at each epoch (K(i+1) = HMAC(K(i), "jwtctl-seal-evolve"))
//! and the old one is overwritten, so whoever reads the state file later cannot seal, and so
//! cannot rewrite, an epoch that has already ended. docs/log.md specifies the format.
//!
//! Invariants:
//! - The chain head and the seal key live in one state file beside the log (`<log>.state`,
//!   opened and checked as the log is), and every writer updates them holding an exclusive lock
//!   on it: many processes, one file, one gapless chain, also across rotation.
//! - A record is appended only after every ended epoch was sealed in the same write, before it
//!   (a gap of empty epochs is sealed as such, by one record naming the epochs it covers).
//! - A state file that cannot be read or written is a log failure: the records are not kept
//!   (an append whose state could not follow is taken back).

use std::fmt::Write as _;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use aws_lc_rs::hmac;
use chrono::{DateTime, Utc};

use crate::hash::Sha256Hex;

/// What the first record's `prev` is the SHA-256 of.
pub(crate) const GENESIS: &[u8] = b"jwtctl security log v1";
/// The prefix of a verify key, and of every MAC's input.
pub(crate) const SEAL_VERSION: &str = "jwtctl-seal-v1";
const EVOLVE: &[u8] = b"jwtctl-seal-evolve";
/// The state file's size: always written whole, in one `pwrite`.
const STATE_LEN: usize = 256;
const STATE_MAGIC: &str = "jwtctl-log-state-v1";
/// The largest `seq` a chained line can hold (19 digits, as [`prefix`] reads it).
const MAX_SEQ: u64 = 9_999_999_999_999_999_999;
/// Interval bounds of `log seal init --interval`.
pub(crate) const MIN_INTERVAL: u64 = 1;
pub(crate) const MAX_INTERVAL: u64 = 24 * 3600;

/// The hash `prev` names: SHA-256 of a record's line without its newline.
pub(crate) fn line_hash(line: &[u8]) -> Sha256Hex {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    Sha256Hex::of(line)
}

/// The `prev` of a log's first record.
pub(crate) fn genesis() -> Sha256Hex {
    Sha256Hex::of(GENESIS)
}

/// The last record of the chain: its `seq` and the hash of its line.
#[derive(Clone, Copy)]
pub struct Head {
    pub(crate) seq: u64,
    pub(crate) hash: Sha256Hex,
}

impl Head {
    /// Before the first record: seq 0, the genesis hash.
    pub(crate) fn start() -> Head {
        Head {
            seq: 0,
            hash: genesis(),
        }
    }

    /// `SEQ:HASH`, as `log head` prints it and `--expect-head` takes it.
    pub(crate) fn text(&self) -> String {
        format!("{}:{}", self.seq, self.hash.as_str())
    }
}

/// How a log is sealed, and the key of its current epoch.
#[derive(Clone)]
pub struct Seal {
    /// Random, 32 hex digits: names this sealing in every seal and in the verify key.
    pub(crate) id: String,
    /// Unix time epoch 0 starts at.
    pub(crate) start: i64,
    /// Seconds per epoch.
    pub(crate) interval: u64,
    /// The current (not yet sealed) epoch.
    pub(crate) epoch: u64,
    /// Its key.
    pub(crate) key: [u8; 32],
}

impl Seal {
    /// The epoch `at` falls in (epochs before `start` count as epoch 0).
    pub(crate) fn epoch_of(&self, at: i64) -> u64 {
        let since = at.saturating_sub(self.start).max(0) as u64;
        since / self.interval.max(1)
    }

    /// The verify key a new sealing hands to the operator: everything needed to check every
    /// seal, which is why it must leave the host.
    pub fn verify_key(&self) -> String {
        format!(
            "{SEAL_VERSION}:{}:{}:{}:{}",
            self.id,
            self.start,
            self.interval,
            hex(&self.key)
        )
    }

    /// Read a verify key as [`Seal::verify_key`] writes it (epoch 0).
    pub fn from_verify_key(text: &str) -> Option<Seal> {
        let mut parts = text.trim().split(':');
        if parts.next()? != SEAL_VERSION {
            return None;
        }
        let id = parts.next()?;
        let start = parts.next()?.parse().ok()?;
        let interval: u64 = parts.next()?.parse().ok()?;
        let key = unhex32(parts.next()?)?;
        if parts.next().is_some()
            || !is_hex(id, 32)
            || !(MIN_INTERVAL..=MAX_INTERVAL).contains(&interval)
        {
            return None;
        }
        Some(Seal {
            id: id.to_owned(),
            start,
            interval,
            epoch: 0,
            key,
        })
    }

    /// A new sealing starting at `now`, with a random key.
    pub fn new(interval: u64, now: i64) -> io::Result<Seal> {
        let mut id = [0u8; 16];
        let mut key = [0u8; 32];
        crate::sys::random_bytes(&mut id)?;
        crate::sys::random_bytes(&mut key)?;
        Ok(Seal {
            id: hex(&id),
            start: now,
            interval,
            epoch: 0,
            key,
        })
    }

    /// Move the key on `n` epochs, one way.
    pub(crate) fn advance(&mut self, n: u64) {
        for _ in 0..n {
            let next = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &self.key), EVOLVE);
            self.key.copy_from_slice(next.as_ref());
        }
        self.epoch += n;
    }

    /// The MAC of a seal of `epochs` epochs from the current one over `head`.
    pub(crate) fn mac(&self, epochs: u64, head: &Head) -> String {
        let input = format!(
            "{SEAL_VERSION}|{}|{}|{}|{}|{}",
            self.id,
            self.epoch,
            epochs,
            head.seq,
            head.hash.as_str()
        );
        hex(hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, &self.key),
            input.as_bytes(),
        )
        .as_ref())
    }

    /// Whether `mac` is the MAC of a seal of `epochs` epochs from the current one over `head`.
    pub(crate) fn check(&self, epochs: u64, head: &Head, mac: &str) -> bool {
        let Some(tag) = unhex32(mac) else {
            return false;
        };
        let input = format!(
            "{SEAL_VERSION}|{}|{}|{}|{}|{}",
            self.id,
            self.epoch,
            epochs,
            head.seq,
            head.hash.as_str()
        );
        hmac::verify(
            &hmac::Key::new(hmac::HMAC_SHA256, &self.key),
            input.as_bytes(),
            &tag,
        )
        .is_ok()
    }
}

/// What the state file holds: the chain head (absent before the first record) and the sealing.
#[derive(Clone, Default)]
pub(crate) struct State {
    pub(crate) head: Option<Head>,
    pub(crate) seal: Option<Seal>,
}

impl State {
    /// Read the state file (empty: a new log). `None` when it is not one we wrote.
    pub(crate) fn read(file: &File) -> io::Result<Option<State>> {
        let mut buf = [0u8; STATE_LEN + 1];
        let mut len = 0;
        loop {
            match file.read_at(&mut buf[len..], len as u64) {
                Ok(0) => break,
                Ok(n) => {
                    len += n;
                    if len == buf.len() {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if len == 0 {
            return Ok(Some(State::default()));
        }
        Ok(std::str::from_utf8(&buf[..len]).ok().and_then(State::parse))
    }

    fn parse(text: &str) -> Option<State> {
        let mut words = text.split_ascii_whitespace();
        if words.next()? != STATE_MAGIC {
            return None;
        }
        let seq: u64 = words.next()?.strip_prefix("seq=")?.parse().ok()?;
        let hash = words.next()?.strip_prefix("hash=")?;
        let seal = words.next()?.strip_prefix("seal=")?;
        // The next seq must still be one `prefix` reads (19 digits): a head further on would
        // make the next record's seq overflow.
        if words.next().is_some() || !is_hex(hash, 64) || seq >= MAX_SEQ {
            return None;
        }
        let head = (seq > 0).then(|| Head {
            seq,
            hash: Sha256Hex::from_hex(hash).unwrap_or_else(genesis),
        });
        let seal = match seal {
            "none" => None,
            _ => {
                let mut p = seal.split(':');
                let id = p.next()?.to_owned();
                let start = p.next()?.parse().ok()?;
                let interval: u64 = p.next()?.parse().ok()?;
                let epoch = p.next()?.parse().ok()?;
                let key = unhex32(p.next()?)?;
                if p.next().is_some()
                    || !is_hex(&id, 32)
                    || !(MIN_INTERVAL..=MAX_INTERVAL).contains(&interval)
                {
                    return None;
                }
                Some(Seal {
                    id,
                    start,
                    interval,
                    epoch,
                    key,
                })
            }
        };
        Some(State { head, seal })
    }

    /// Write the state whole, in place, in one `pwrite` of a fixed size (the old key is
    /// overwritten where it stood).
    pub(crate) fn write(&self, file: &File) -> io::Result<()> {
        let head = self.head.unwrap_or_else(Head::start);
        let mut text = format!(
            "{STATE_MAGIC} seq={:020} hash={} seal=",
            head.seq,
            head.hash.as_str()
        );
        match &self.seal {
            None => text.push_str("none"),
            Some(s) => {
                let _ = write!(
                    text,
                    "{}:{}:{}:{:020}:{}",
                    s.id,
                    s.start,
                    s.interval,
                    s.epoch,
                    hex(&s.key)
                );
            }
        }
        let mut bytes = text.into_bytes();
        bytes.resize(STATE_LEN - 1, b' ');
        bytes.push(b'\n');
        file.write_all_at(&bytes, 0)?;
        if file.metadata()?.len() != STATE_LEN as u64 {
            file.set_len(STATE_LEN as u64)?;
        }
        Ok(())
    }
}

/// The state file of the log at `log` (`<log>.state`).
pub(crate) fn state_path(log: &std::path::Path) -> std::path::PathBuf {
    let mut name = log.as_os_str().to_os_string();
    name.push(".state");
    std::path::PathBuf::from(name)
}

/// The head and sealing the state file of the log at `log` holds, read without changing
/// anything (no file is created): both `None` when there is no state file.
pub(crate) fn read_state(log: &std::path::Path) -> io::Result<(Option<Head>, Option<Seal>)> {
    let path = state_path(log);
    let file = match crate::sys::open_for_reading(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((None, None)),
        Err(e) => return Err(e),
    };
    if !file.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "not a regular file",
        ));
    }
    match State::read(&file)? {
        Some(state) => Ok((state.head, state.seal)),
        None => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "not a state file jwtctl wrote",
        )),
    }
}

/// Stamp `lines` (whole records, each ending in a newline) as the records that follow `state`,
/// at `now`, into `text` (emptied first; a batch passes the same buffer for every group, so a
/// group of ~100 KiB is neither allocated nor freed: freeing one that size made glibc walk its
/// free lists every group): first a seal of every epoch that ended, then each line with `seq`
/// and `prev` inserted at its start. Returns the head and seal state they leave.
pub(crate) fn stamp(lines: &str, mut state: State, now: DateTime<Utc>, text: &mut String) -> State {
    let mut head = state.head.unwrap_or_else(Head::start);
    text.clear();
    let room = lines.len() + 100 * (1 + lines.len() / 256);
    match lines.len() > 4096 {
        true => super::sink::reserve_apart(text, room),
        false => text.reserve(room),
    }
    if let Some(seal) = &mut state.seal {
        let due = seal.epoch_of(now.timestamp());
        if due > seal.epoch {
            let epochs = due - seal.epoch;
            let mac = seal.mac(epochs, &head);
            let mut record = String::with_capacity(400);
            record.push_str(",\"timestamp\":\"");
            record.push_str(&now.to_rfc3339_opts(chrono::SecondsFormat::Micros, true));
            let _ = write!(
                record,
                "\",\"level\":\"INFO\",\"op\":\"log_seal\",\"outcome\":\"success\",\
                 \"seal_id\":\"{}\",\"epoch\":{},\"epochs\":{},\"sealed_seq\":{},\
                 \"sealed_hash\":\"{}\",\"mac\":\"{mac}\"}}",
                seal.id,
                seal.epoch,
                epochs,
                head.seq,
                head.hash.as_str()
            );
            record.push('\n');
            push_stamped(text, &mut head, &[&record]);
            seal.advance(epochs);
        }
    }
    // Lines split with memchr (a group is many KiB: `split_inclusive` was visible in profiles).
    let mut start = 0;
    let ends = memchr::memchr_iter(b'\n', lines.as_bytes()).map(|i| i + 1);
    for end in ends.chain((!lines.is_empty() && !lines.ends_with('\n')).then_some(lines.len())) {
        let line = &lines[start..end];
        start = end;
        let rest = line.strip_prefix('{').unwrap_or(line);
        let comma = if rest.starts_with('}') { "" } else { "," };
        push_stamped(text, &mut head, &[comma, rest]);
    }
    state.head = Some(head).filter(|h| h.seq > 0);
    state
}

/// Append `{"seq":N,"prev":"HASH"` + `rest` (the record's other fields, from their comma, in
/// pieces) and move `head` on to it.
fn push_stamped(text: &mut String, head: &mut Head, rest: &[&str]) {
    let start = text.len();
    text.push_str("{\"seq\":");
    super::json::push_digits(text, head.seq + 1);
    text.push_str(",\"prev\":\"");
    text.push_str(head.hash.as_str());
    text.push('"');
    for piece in rest {
        text.push_str(piece);
    }
    if !text.ends_with('\n') {
        text.push('\n');
    }
    *head = Head {
        seq: head.seq + 1,
        hash: line_hash(&text.as_bytes()[start..]),
    };
}

/// The chain head the last line of `file` shows, when it is a chained record further on than
/// `known` (the head the state file names): its `seq` and the hash of its line. Reads backwards
/// from the end, a few KiB at a time; the line is hashed only when it is further on, which
/// happens only after a state update failed.
pub(crate) fn tail_head(file: &File, known: Option<&Head>) -> io::Result<Option<Head>> {
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(None);
    }
    let mut want = 4096u64;
    loop {
        let from = len.saturating_sub(want);
        let mut buf = vec![0u8; (len - from) as usize];
        file.read_exact_at(&mut buf, from)?;
        // A file that does not end in a newline ends in a record torn by a crash elsewhere:
        // never a head to continue from (the state names the last whole record).
        let Some(body) = buf.strip_suffix(b"\n") else {
            return Ok(None);
        };
        let line = match body.iter().rposition(|&b| b == b'\n') {
            Some(i) => &body[i + 1..],
            None if from == 0 => body,
            // A record longer than what was read: read more, up to a bound no record reaches.
            None if want >= 1 << 20 => return Ok(None),
            None => {
                want *= 4;
                continue;
            }
        };
        let further = |seq: u64| known.is_none_or(|k| seq > k.seq);
        return Ok(prefix(line)
            .filter(|(seq, _)| further(*seq))
            .map(|(seq, _)| Head {
                seq,
                hash: line_hash(line),
            }));
    }
}

/// The record a crash elsewhere left torn at the end of `file` (it does not end in a newline):
/// the SHA-256 of its bytes and their number, for the `log_torn_line` record the next writer puts
/// after it, so that `log verify` can tell a torn record from an edited one. Reads backwards
/// from the end to the fragment's start (up to 16 MiB; a longer fragment is hashed from there).
pub(crate) fn torn_tail(file: &File) -> io::Result<Option<(Sha256Hex, u64)>> {
    let len = file.metadata()?.len();
    let mut last = [0u8; 1];
    if len == 0 {
        return Ok(None);
    }
    file.read_exact_at(&mut last, len - 1)?;
    if last[0] == b'\n' {
        return Ok(None);
    }
    const CHUNK: u64 = 1 << 16;
    let limit = len.saturating_sub(16 << 20);
    let mut start = limit;
    let mut end = len;
    while end > limit {
        let from = end.saturating_sub(CHUNK).max(limit);
        let mut buf = vec![0u8; (end - from) as usize];
        file.read_exact_at(&mut buf, from)?;
        if let Some(i) = buf.iter().rposition(|&b| b == b'\n') {
            start = from + i as u64 + 1;
            break;
        }
        end = from;
    }
    let mut hash = Sha256Hex::stream();
    let mut at = start;
    while at < len {
        let mut buf = vec![0u8; (len - at).min(CHUNK) as usize];
        file.read_exact_at(&mut buf, at)?;
        hash.update(&buf);
        at += buf.len() as u64;
    }
    Ok(Some((hash.finish(), len - start)))
}

/// The `seq` and `prev` a chained line starts with: `{"seq":N,"prev":"<64 hex>"`, nothing else.
pub(crate) fn prefix(line: &[u8]) -> Option<(u64, &str)> {
    let rest = line.strip_prefix(b"{\"seq\":")?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || digits > 19 || (digits > 1 && rest[0] == b'0') {
        return None;
    }
    let seq = std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()?;
    let rest = rest[digits..].strip_prefix(b",\"prev\":\"")?;
    let prev = std::str::from_utf8(rest.get(..64)?).ok()?;
    if !is_hex(prev, 64) || rest.get(64) != Some(&b'"') {
        return None;
    }
    Some((seq, prev))
}

/// The head to continue from: the state's, unless the file's last record is further on (the
/// state could not follow the last append). A file cut back to before the state's head is
/// continued from the state, so the cut shows as a gap.
pub(crate) fn choose(state: Option<Head>, tail: Option<Head>) -> Option<Head> {
    match (state, tail) {
        (Some(s), Some(t)) if t.seq > s.seq => Some(t),
        (Some(s), _) => Some(s),
        (None, t) => t,
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Whether `text` is `len` lowercase hex digits.
pub(crate) fn is_hex(text: &str, len: usize) -> bool {
    text.len() == len
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn unhex32(text: &str) -> Option<[u8; 32]> {
    if !is_hex(text, 64) {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in text.as_bytes().chunks_exact(2).enumerate() {
        out[i] = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).unwrap()
    }

    struct Stamped {
        text: String,
        state: State,
    }

    fn stamp(lines: &str, state: State, now: DateTime<Utc>) -> Stamped {
        let mut text = "left from the group before\n".to_owned();
        let state = super::stamp(lines, state, now, &mut text);
        Stamped { text, state }
    }

    #[test]
    fn lines_are_stamped_in_order_from_genesis() {
        let s = stamp("{\"a\":1}\n{\"b\":2}\n", State::default(), t(0));
        let lines: Vec<&str> = s.text.lines().collect();
        assert_eq!(lines.len(), 2);
        let g = genesis();
        assert_eq!(
            lines[0],
            format!("{{\"seq\":1,\"prev\":\"{}\",\"a\":1}}", g.as_str())
        );
        let h1 = line_hash(lines[0].as_bytes());
        assert!(lines[1].starts_with(&format!("{{\"seq\":2,\"prev\":\"{}\",", h1.as_str())));
        let head = s.state.head.unwrap();
        assert_eq!(head.seq, 2);
        assert_eq!(head.hash.as_str(), line_hash(lines[1].as_bytes()).as_str());
        assert_eq!(prefix(lines[1].as_bytes()).unwrap().0, 2);
    }

    #[test]
    fn ended_epochs_are_sealed_first_and_the_key_moves_on() {
        let seal = Seal::new(10, 1000).unwrap();
        let k0 = seal.clone();
        let state = State {
            head: None,
            seal: Some(seal),
        };
        let s = stamp("{\"a\":1}\n", state.clone(), t(1005));
        assert_eq!(s.text.lines().count(), 1, "epoch 0 is still open");
        let s = stamp("{\"a\":1}\n", s.state, t(1035));
        let lines: Vec<&str> = s.text.lines().collect();
        assert_eq!(lines.len(), 2);
        let seal: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(seal["op"], "log_seal");
        assert_eq!(seal["epoch"], 0);
        assert_eq!(seal["epochs"], 3, "epochs 0, 1 and 2 ended");
        let after = s.state.seal.unwrap();
        assert_eq!(after.epoch, 3);
        let mut k3 = k0.clone();
        k3.advance(3);
        assert_eq!(after.key, k3.key);
        let head = Head {
            seq: 1,
            hash: Sha256Hex::from_hex(seal["sealed_hash"].as_str().unwrap()).unwrap(),
        };
        assert!(k0.check(3, &head, seal["mac"].as_str().unwrap()));
        assert!(!k3.check(3, &head, seal["mac"].as_str().unwrap()));
    }

    #[test]
    fn state_round_trips_at_a_fixed_size() {
        let dir = tempfile::tempdir().unwrap();
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(dir.path().join("s"))
            .unwrap();
        let s = stamp("{\"a\":1}\n", State::default(), t(0));
        let mut state = s.state;
        state.seal = Some(Seal::new(900, 5).unwrap());
        state.write(&file).unwrap();
        assert_eq!(file.metadata().unwrap().len(), STATE_LEN as u64);
        let back = State::read(&file).unwrap().unwrap();
        assert_eq!(back.head.unwrap().seq, 1);
        assert_eq!(back.seal.unwrap().key, state.seal.as_ref().unwrap().key);
        let key = state.seal.unwrap().verify_key();
        assert_eq!(Seal::from_verify_key(&key).unwrap().interval, 900);
    }

    #[test]
    fn the_tail_wins_only_when_it_is_further_on() {
        let h = |seq| Head {
            seq,
            hash: genesis(),
        };
        assert_eq!(choose(Some(h(5)), Some(h(7))).unwrap().seq, 7);
        assert_eq!(choose(Some(h(5)), Some(h(3))).unwrap().seq, 5);
        assert_eq!(choose(None, Some(h(3))).unwrap().seq, 3);
        assert!(choose(None, None).is_none());
    }
}
