//! `jwtctl log verify`: walk a log (its files in order) in constant memory and say whether its
//! chain and seals are intact, and if not, the first place and kind of the break.
//!
//! Invariant: a log passes only when every chained record follows the one before it (its `seq`
//! one more, its `prev` the hash of that record's line), starting from the genesis; with a verify
//! key, every seal's MAC is checked with the key derived for its own epoch (never a later one),
//! its epochs continue the previous seal's, and no record stands in an epoch whose predecessor
//! was never sealed. What the seal cannot prove (the tail after the last seal) is reported as
//! such, never as intact-and-sealed.

use std::io::{self, BufRead, Read as _};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::chain::{self, Head, Seal};
use crate::hash::Sha256Hex;

/// No record is longer (a batch group is many lines); a longer line is `unparsable`.
const MAX_LINE: u64 = 1 << 20;

/// What the check is given besides the files.
#[derive(Default)]
pub struct Options {
    /// The verify key `log seal init` printed: check every seal.
    pub key: Option<Seal>,
    /// `--expect-head SEQ:HASH`: a head noted elsewhere that the log must still hold.
    pub expect_head: Option<Head>,
    /// The head the live log's state file holds: the log must not end before it.
    pub state_head: Option<Head>,
    /// The sealing the live log's state file holds (`Some(None)`: none), when the log checked
    /// is the live one: a log sealed up to an earlier epoch than the state's lost its seals
    /// (cut back to before them), and with the verify key the state's key must be the one
    /// derived for its epoch (an intruder cannot roll it back).
    pub state_seal: Option<Option<Seal>>,
    /// The verifier's clock (Unix seconds): no seal may claim epochs that end more than
    /// [`CLOCK_SKEW`] after it (or after the sealing's start, if that is later). Without it, a
    /// seal made with a stolen current key could claim 2^62 epochs, and deriving the key for
    /// the next seal would never end.
    pub now: Option<i64>,
}

/// How far the writer's clock may run ahead of the verifier's.
pub const CLOCK_SKEW: i64 = 24 * 3600;

/// Where and how the chain broke.
#[derive(Debug, Clone)]
pub struct Break {
    pub file: PathBuf,
    pub line: u64,
    pub seq: Option<u64>,
    /// `edited`, `deleted`, `reordered`, `inserted`, `truncated`, `bad_seal`, `epoch_gap`,
    /// `not_sealed` or `unparsable`.
    pub kind: &'static str,
    pub detail: String,
}

/// What the walk found.
#[derive(Debug, Default)]
pub struct Report {
    pub records: u64,
    pub seals: u64,
    /// Records before the chain began (written before jwtctl chained its records).
    pub unchained: u64,
    pub first_seq: Option<u64>,
    pub head: Option<(u64, String)>,
    /// Whether `log seal init` set sealing up for this log (an init record or a seal was seen).
    pub sealed: bool,
    pub seals_checked: bool,
    /// The last seal: the seq it covers, and the end of the last epoch it seals.
    pub last_sealed_seq: Option<u64>,
    pub sealed_until: Option<DateTime<Utc>>,
    /// Records after the last seal (all of them when the log is not sealed).
    pub unsealed: u64,
    /// Records a crash cut short, each named by the writer after it (`log_torn_line`).
    pub torn: u64,
    pub broken: Option<Break>,
}

impl Report {
    pub fn intact(&self) -> bool {
        self.broken.is_none()
    }
}

/// Sealing as the walk knows it: its parameters, the next epoch a seal must start at, and (with
/// a verify key) that epoch's key.
struct Track {
    id: String,
    start: i64,
    interval: u64,
    next_epoch: u64,
    key: Option<Seal>,
}

/// Whether the live state's sealing is the one the log's seals lead to: the same sealing, not
/// further on than the log's seals (a record written meanwhile only makes the log further on),
/// at an epoch the log's seals pass through (`met`: the walk reached it, and with the verify
/// key, the state's key is that epoch's). Every epoch a state ever held is where a seal ended
/// (or 0), so a state at another epoch was rolled back or made up: one rolled back below the
/// log's last seal would otherwise hide a log cut back to before seals made since.
fn state_matches(
    state: Option<&Seal>,
    track: &Track,
    met: Option<bool>,
    end: &Place<'_>,
) -> Option<Break> {
    let Some(state) = state else {
        return end.broke(
            None,
            "bad_seal",
            "the log was sealed, but its state file holds no sealing: the state was removed or \
             replaced, and records written since are not sealed"
                .into(),
        );
    };
    if state.id != track.id {
        return end.broke(
            None,
            "bad_seal",
            "the state file holds another sealing than the log's".into(),
        );
    }
    if state.epoch > track.next_epoch {
        return end.broke(
            None,
            "truncated",
            format!(
                "the log's seals end at epoch {}, but its state file says epoch {} was sealed: \
                 seals (and what they sealed) were cut from the log",
                track.next_epoch, state.epoch
            ),
        );
    }
    match met {
        Some(true) => None,
        Some(false) => end.broke(
            None,
            "bad_seal",
            format!(
                "the state file's key is not the verify key's for epoch {}: the state was forged",
                state.epoch
            ),
        ),
        None => end.broke(
            None,
            "bad_seal",
            format!(
                "the state file says epoch {}, where none of the log's seals ends: the state was \
                 rolled back or forged (and the log perhaps cut back to before seals made since)",
                state.epoch
            ),
        ),
    }
}

/// A sealing's epoch arithmetic, without a key.
fn probe(track: &Track) -> Seal {
    Seal {
        id: String::new(),
        start: track.start,
        interval: track.interval,
        epoch: 0,
        key: [0; 32],
    }
}

struct Walk {
    options: Options,
    report: Report,
    last: Option<Head>,
    track: Option<Track>,
    /// After a gap: the seq that was expected, to tell a swap (it comes next) from a deletion.
    gap: Option<u64>,
    /// A line that is no record, inside the chain: a break unless the next record is the
    /// writer's `log_torn_line` naming its hash (a record a crash cut short).
    torn: Option<(Break, crate::hash::Sha256Hex)>,
    expect_seen: bool,
    /// Whether the seals reached the live state's epoch (and with the verify key, whether the
    /// state's key is that epoch's): see [`state_matches`].
    state_met: Option<bool>,
    /// The files walked so far, and where the last record stands in them (index, line): a
    /// record found changed by the one after it is named at its own place, in its own file.
    files: Vec<PathBuf>,
    last_at: (usize, u64),
}

/// Walk `files` in order (oldest first). A file that cannot be opened or read to its end (a
/// corrupt gzip file) is an error naming it.
pub fn verify(files: &[PathBuf], options: Options) -> Result<Report, (PathBuf, io::Error)> {
    let mut walk = Walk::new(options);
    for path in files {
        let go_on = super::read::open(path)
            .and_then(|reader| walk.read(path, reader))
            .map_err(|e| (path.clone(), e))?;
        if !go_on {
            break;
        }
    }
    walk.finish(files.last().map(PathBuf::as_path));
    Ok(walk.report)
}

/// Walk one log read from `reader`, named `name` in the report: for the fuzz target.
pub fn verify_reader(name: &Path, reader: impl BufRead, options: Options) -> io::Result<Report> {
    let mut walk = Walk::new(options);
    walk.read(name, reader)?;
    walk.finish(Some(name));
    Ok(walk.report)
}

struct Place<'a> {
    file: &'a Path,
    line: u64,
}

impl Place<'_> {
    fn broke(&self, seq: Option<u64>, kind: &'static str, detail: String) -> Option<Break> {
        Some(Break {
            file: self.file.to_path_buf(),
            line: self.line,
            seq,
            kind,
            detail,
        })
    }
}

impl Walk {
    fn new(options: Options) -> Walk {
        Walk {
            options,
            report: Report::default(),
            last: None,
            track: None,
            gap: None,
            torn: None,
            expect_seen: false,
            state_met: None,
            files: Vec::new(),
            last_at: (0, 0),
        }
    }

    /// Note whether the seals just reached the live state's epoch, and with the verify key,
    /// whether the state's key is the one derived for it.
    fn reached(&mut self) {
        let (Some(Some(state)), Some(track)) = (&self.options.state_seal, &self.track) else {
            return;
        };
        if state.epoch == track.next_epoch {
            self.state_met = Some(track.key.as_ref().is_none_or(|key| key.key == state.key));
        }
    }

    /// Check the lines of one file; false once the walk is over (a break was found).
    fn read(&mut self, path: &Path, mut reader: impl BufRead) -> io::Result<bool> {
        let mut buf = Vec::with_capacity(4096);
        let mut line_no = 0u64;
        self.files.push(path.to_path_buf());
        loop {
            buf.clear();
            let n = (&mut reader).take(MAX_LINE).read_until(b'\n', &mut buf)?;
            if n == 0 {
                return Ok(self.report.broken.is_none() || self.gap.is_some());
            }
            line_no += 1;
            let at = Place {
                file: path,
                line: line_no,
            };
            if let Some(b) = self.line(&buf, &at) {
                // After a gap, the line that decides its kind may break the chain too: the
                // gap, further back, stays the first break.
                if self.report.broken.is_some() {
                    return Ok(false);
                }
                self.report.broken = Some(b);
                // A gap waits for one more line: a swap shows as the missing seq right after.
                if self.gap.is_none() {
                    return Ok(false);
                }
            } else if self.report.broken.is_some() {
                return Ok(false);
            }
        }
    }

    /// Check one line; the break it shows, if any.
    fn line(&mut self, raw: &[u8], at: &Place<'_>) -> Option<Break> {
        let Some(body) = raw.strip_suffix(b"\n") else {
            if raw.len() as u64 == MAX_LINE {
                if let Some((held, _)) = self.torn.take() {
                    return Some(held);
                }
                return at.broke(
                    None,
                    "unparsable",
                    "the line is longer than 1 MiB, which no record is".into(),
                );
            }
            let b = at.broke(
                None,
                "unparsable",
                "the line does not end: a record cut short (the file was cut, or a write \
                 failed)"
                    .into(),
            );
            return self.maybe_torn(b, raw);
        };
        let Some((seq, prev)) = chain::prefix(body) else {
            if let Some(b) = self.torn.take() {
                return Some(b.0);
            }
            return match self.unchained(body, at) {
                Some(b) if b.kind == "unparsable" => self.maybe_torn(Some(b), body),
                other => other,
            };
        };
        // A gap is a deletion unless the missing seq comes right after it (two lines swapped).
        if let Some(expected) = self.gap.take() {
            let kind = if seq == expected {
                "reordered"
            } else {
                "deleted"
            };
            let b = self.report.broken.as_mut()?;
            b.kind = kind;
            if kind == "reordered" {
                b.detail = format!("seq {seq} comes after seq {}: lines were swapped", seq + 1);
            }
            return None;
        }
        let hash = chain::line_hash(body);
        let record: Option<Value> = match serde_json::from_slice::<Value>(body) {
            Ok(v @ Value::Object(_)) => Some(v),
            _ => {
                if let Some(b) = self.torn.take() {
                    return Some(b.0);
                }
                let b = at.broke(
                    Some(seq),
                    "unparsable",
                    "the line is not a JSON object".into(),
                );
                return self.maybe_torn(b, body);
            }
        };
        // A member given twice (or its name written with escapes, `\u0073eq`) makes the JSON say
        // another seq or prev than the chain read: jq, log search and the chain would disagree.
        if record.as_ref().is_some_and(|r| {
            r.get("seq").and_then(Value::as_u64) != Some(seq)
                || r.get("prev").and_then(Value::as_str) != Some(prev)
        }) {
            if let Some(b) = self.torn.take() {
                return Some(b.0);
            }
            return at.broke(
                Some(seq),
                "unparsable",
                "the record names seq or prev twice: its JSON says another than its chain".into(),
            );
        }
        if let Some((b, torn)) = self.torn.take() {
            let named = record.as_ref().is_some_and(|r| {
                r.get("op").and_then(Value::as_str) == Some("log_torn_line")
                    && r.get("torn_sha256").and_then(Value::as_str) == Some(torn.as_str())
            });
            if !named {
                return Some(b);
            }
            self.report.torn += 1;
        }
        if let Some(b) = self.link(seq, prev, at) {
            return Some(b);
        }
        let record = record?;
        let here = Head { seq, hash };
        if let Some(b) = self.sealing(&record, seq, at) {
            return Some(b);
        }
        self.last = Some(here);
        self.last_at = (self.files.len().saturating_sub(1), at.line);
        self.report.records += 1;
        self.report.first_seq.get_or_insert(seq);
        if let Some(expect) = &self.options.expect_head
            && expect.seq == seq
        {
            self.expect_seen = true;
            if expect.hash != hash {
                return at.broke(
                    Some(seq),
                    "edited",
                    format!(
                        "seq {seq} is not the record --expect-head names: it was changed since"
                    ),
                );
            }
        }
        None
    }

    /// A line that is no record, seen inside the chain: held as a break until the next line
    /// says whether the writer named it as torn. Before the chain began, a break at once.
    fn maybe_torn(&mut self, b: Option<Break>, body: &[u8]) -> Option<Break> {
        let b = b?;
        // Two lines that are no records in a row: the first is the break.
        if let Some((held, _)) = self.torn.take() {
            return Some(held);
        }
        if self.last.is_none() {
            return Some(b);
        }
        self.torn = Some((b, crate::hash::Sha256Hex::of(body)));
        None
    }

    /// A line without `seq`/`prev`: before the chain began (an older jwtctl's), or inserted.
    fn unchained(&mut self, body: &[u8], at: &Place<'_>) -> Option<Break> {
        let json = matches!(serde_json::from_slice::<Value>(body), Ok(Value::Object(_)));
        match (json, self.last) {
            (true, None) => {
                self.report.unchained += 1;
                None
            }
            (true, Some(_)) => at.broke(
                None,
                "inserted",
                "a record without seq and prev stands inside the chain".into(),
            ),
            (false, _) => at.broke(None, "unparsable", "the line is not a JSON record".into()),
        }
    }

    /// Check that `seq`/`prev` follow the record before.
    fn link(&mut self, seq: u64, prev: &str, at: &Place<'_>) -> Option<Break> {
        let (expected, last_hash) = match self.last {
            Some(last) => (last.seq + 1, last.hash),
            None => (1, chain::genesis()),
        };
        if seq == expected && prev == last_hash.as_str() {
            return None;
        }
        if self.last.is_none() && seq > 1 {
            return at.broke(
                Some(seq),
                "deleted",
                format!(
                    "the log starts at seq {seq}: {} (an earlier file or the log's start was \
                     removed)",
                    missing(1, seq - 1)
                ),
            );
        }
        if seq == expected {
            // The record before, where it stands (maybe the last line of the file before).
            let place = match self.last {
                Some(_) => Place {
                    file: self
                        .files
                        .get(self.last_at.0)
                        .map_or(at.file, PathBuf::as_path),
                    line: self.last_at.1,
                },
                None => Place {
                    file: at.file,
                    line: at.line,
                },
            };
            let detail = if self.last.is_none() {
                "the first record's prev is not the genesis hash".to_owned()
            } else {
                format!(
                    "seq {} no longer hashes to the prev of seq {seq}: it was changed",
                    seq - 1
                )
            };
            let seq_at = if self.last.is_none() { seq } else { seq - 1 };
            return place.broke(Some(seq_at), "edited", detail);
        }
        if seq > expected {
            self.gap = Some(expected);
            return at.broke(
                Some(seq),
                "deleted",
                format!("{} before seq {seq}", missing(expected, seq - 1)),
            );
        }
        let kind = if Some(seq) == self.last.map(|l| l.seq) {
            "inserted"
        } else {
            "reordered"
        };
        at.broke(
            Some(seq),
            kind,
            format!("seq {seq} stands where seq {expected} should"),
        )
    }

    /// Seal records, the record that set sealing up, and whether a record's epoch was sealed
    /// before it.
    fn sealing(&mut self, record: &Value, seq: u64, at: &Place<'_>) -> Option<Break> {
        let op = record.get("op").and_then(Value::as_str);
        match op {
            Some("log_seal") => self.seal(record, seq, at),
            Some("log_seal_init") if record.get("outcome") == Some(&"success".into()) => {
                self.init(record, seq, at)
            }
            _ => {
                self.report.unsealed += 1;
                self.due(record, seq, at)
            }
        }
    }

    fn init(&mut self, record: &Value, seq: u64, at: &Place<'_>) -> Option<Break> {
        let id = record.get("seal_id").and_then(Value::as_str).unwrap_or("");
        let start = record.get("seal_start").and_then(Value::as_i64);
        let interval = record.get("seal_interval").and_then(Value::as_u64);
        let (Some(start), Some(interval)) = (start, interval) else {
            return at.broke(
                Some(seq),
                "unparsable",
                "a log_seal_init record without its start and interval".into(),
            );
        };
        if self.track.is_some() {
            return at.broke(
                Some(seq),
                "inserted",
                "a second log_seal_init record: sealing cannot be set up twice".into(),
            );
        }
        let key = self.options.key.clone();
        if let Some(k) = &key
            && (k.id != id || k.start != start || k.interval != interval)
        {
            return at.broke(
                Some(seq),
                "bad_seal",
                "this log was sealed with another key than the verify key given".into(),
            );
        }
        self.report.sealed = true;
        self.report.unsealed += 1;
        self.track = Some(Track {
            id: id.to_owned(),
            start,
            interval,
            next_epoch: 0,
            key,
        });
        self.reached();
        None
    }

    fn seal(&mut self, record: &Value, seq: u64, at: &Place<'_>) -> Option<Break> {
        let num = |name: &str| record.get(name).and_then(Value::as_u64);
        let text = |name: &str| record.get(name).and_then(Value::as_str).unwrap_or("");
        let (Some(epoch), Some(epochs), Some(sealed_seq)) =
            (num("epoch"), num("epochs"), num("sealed_seq"))
        else {
            return at.broke(Some(seq), "bad_seal", "a seal without its fields".into());
        };
        let Some(track) = self.track.as_mut() else {
            return at.broke(
                Some(seq),
                "inserted",
                "a seal before any log_seal_init record".into(),
            );
        };
        let before = self.last.unwrap_or_else(Head::start);
        let sealed = Sha256Hex::from_hex(text("sealed_hash"));
        if sealed_seq != before.seq || sealed != Some(before.hash) || epochs == 0 {
            return at.broke(
                Some(seq),
                "bad_seal",
                format!(
                    "the seal of epoch {epoch} does not cover the records before it (seq {})",
                    before.seq
                ),
            );
        }
        if text("seal_id") != track.id {
            return at.broke(Some(seq), "bad_seal", "a seal of another sealing".into());
        }
        let limit = self.options.now.map(|now| {
            let probe = probe(track);
            probe.epoch_of(now.max(track.start).saturating_add(CLOCK_SKEW))
        });
        let Some(end) = epoch
            .checked_add(epochs)
            .filter(|end| limit.is_none_or(|limit| *end <= limit))
        else {
            return at.broke(
                Some(seq),
                "bad_seal",
                format!(
                    "the seal of epoch {epoch} claims {epochs} epochs, which end in the future: \
                     jwtctl never made it"
                ),
            );
        };
        if epoch != track.next_epoch {
            return at.broke(
                Some(seq),
                "epoch_gap",
                format!(
                    "the seal of epoch {epoch} follows epoch {}: a seal is missing or repeated",
                    track.next_epoch as i64 - 1
                ),
            );
        }
        if let Some(key) = track.key.as_mut() {
            if !key.check(epochs, &before, text("mac")) {
                return at.broke(
                    Some(seq),
                    "bad_seal",
                    format!("the seal of epoch {epoch} was not made with that epoch's key"),
                );
            }
            key.advance(epochs);
        }
        track.next_epoch = end;
        self.report.seals += 1;
        self.report.last_sealed_seq = Some(before.seq);
        self.report.sealed_until = DateTime::from_timestamp(
            track
                .start
                .saturating_add((track.next_epoch.saturating_mul(track.interval)) as i64),
            0,
        );
        self.report.unsealed = 0;
        self.reached();
        None
    }

    /// A record stamped in epoch E comes after the seal of every epoch before E.
    fn due(&mut self, record: &Value, seq: u64, at: &Place<'_>) -> Option<Break> {
        let track = self.track.as_ref()?;
        let ts = record
            .get("timestamp")
            .and_then(Value::as_str)
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())?;
        let epoch = probe(track).epoch_of(ts.timestamp());
        if epoch <= track.next_epoch {
            return None;
        }
        let kind = if self.report.seals == 0 {
            "not_sealed"
        } else {
            "epoch_gap"
        };
        at.broke(
            Some(seq),
            kind,
            format!(
                "seq {seq} was written in epoch {epoch}, but epoch {} was never sealed",
                epoch - 1
            ),
        )
    }

    fn finish(&mut self, last_file: Option<&Path>) {
        if let Some((b, _)) = self.torn.take()
            && self.report.broken.is_none()
        {
            self.report.broken = Some(b);
        }
        self.report.seals_checked = self.options.key.is_some();
        if let Some(last) = self.last {
            self.report.head = Some((last.seq, last.hash.as_str().to_owned()));
        }
        if !self.report.sealed {
            self.report.unsealed = self.report.records;
        }
        if self.report.broken.is_some() {
            return;
        }
        let end = Place {
            file: last_file.unwrap_or(Path::new("")),
            line: 0,
        };
        let last_seq = self.last.map_or(0, |l| l.seq);
        if let Some(expect) = &self.options.expect_head
            && !self.expect_seen
        {
            self.report.broken = end.broke(
                Some(last_seq),
                "truncated",
                format!(
                    "the log ends at seq {last_seq}, before seq {} that --expect-head names",
                    expect.seq
                ),
            );
            return;
        }
        if let Some(state) = self.options.state_head {
            if state.seq > last_seq {
                self.report.broken = end.broke(
                    Some(last_seq),
                    "truncated",
                    format!(
                        "the log ends at seq {last_seq}, but its state file says seq {} was \
                         written",
                        state.seq
                    ),
                );
                return;
            }
            if state.seq == last_seq && self.last.is_some_and(|l| l.hash != state.hash) {
                self.report.broken = end.broke(
                    Some(last_seq),
                    "edited",
                    format!("the last record (seq {last_seq}) is not the one the state file names"),
                );
                return;
            }
        }
        if let (Some(state), Some(track)) = (&self.options.state_seal, &self.track)
            && let Some(b) = state_matches(state.as_ref(), track, self.state_met, &end)
        {
            self.report.broken = Some(b);
            return;
        }
        if self.options.key.is_some() && self.track.is_none() {
            self.report.broken = end.broke(
                None,
                "not_sealed",
                "a verify key was given, but the log holds no log_seal_init record: it was \
                 never sealed (or its sealed part was removed)"
                    .into(),
            );
        }
    }
}

/// "record 3 is missing", "records 3 to 5 are missing".
fn missing(first: u64, last: u64) -> String {
    if first == last {
        format!("record {first} is missing")
    } else {
        format!("records {first} to {last} are missing")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::chain::{State, stamp};

    /// A sealed log of `n` records over several epochs (10 s each), with the key it was sealed
    /// with and the state it left.
    fn sealed_log(n: u64) -> (String, Seal, State) {
        let seal = Seal::new(10, 1_000_000).unwrap();
        let key = seal.clone();
        let init = format!(
            "{{\"timestamp\":\"x\",\"level\":\"ERROR\",\"op\":\"log_seal_init\",\
             \"outcome\":\"success\",\"seal_id\":\"{}\",\"seal_start\":1000000,\
             \"seal_interval\":10}}\n",
            seal.id
        );
        let mut state = State {
            head: None,
            seal: Some(seal),
        };
        let at = |secs: i64| DateTime::from_timestamp(1_000_000 + secs, 0).unwrap();
        let mut text = String::new();
        let mut group = String::new();
        state = stamp(&init, state, at(0), &mut group);
        text.push_str(&group);
        for i in 0..n {
            let secs = (i * 7) as i64;
            let line = format!(
                "{{\"timestamp\":\"{}\",\"level\":\"INFO\",\"op\":\"verify\",\"outcome\":\"success\",\"sub\":\"u{i}\"}}\n",
                at(secs).to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
            );
            state = stamp(&line, state, at(secs), &mut group);
            text.push_str(&group);
        }
        (text, key, state)
    }

    fn check(text: &[u8], key: &Seal, state: &State) -> Report {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("security.log");
        std::fs::write(&path, text).unwrap();
        let options = Options {
            key: Some(key.clone()),
            expect_head: None,
            state_head: state.head,
            state_seal: Some(state.seal.clone()),
            now: Some(1_000_000),
        };
        verify(&[path], options).unwrap()
    }

    #[test]
    fn an_untouched_sealed_log_is_intact() {
        let (text, key, state) = sealed_log(12);
        let r = check(text.as_bytes(), &key, &state);
        assert!(r.intact(), "{:?}", r.broken);
        assert!(r.seals >= 5, "{r:?}");
        assert!(r.seals_checked && r.sealed);
    }

    /// Any single-byte change anywhere in a sealed log is detected (the property the seal and
    /// the chain, with the head the state file names, give together).
    #[test]
    fn every_single_byte_change_is_detected() {
        let (text, key, state) = sealed_log(8);
        let bytes = text.as_bytes();
        for i in 0..bytes.len() {
            for flip in [0x01u8, 0x20] {
                let mut changed = bytes.to_vec();
                changed[i] ^= flip;
                let r = check(&changed, &key, &state);
                assert!(
                    !r.intact(),
                    "byte {i} ({:?}) ^ {flip:#x} went unnoticed",
                    bytes[i] as char
                );
            }
        }
    }

    #[test]
    fn a_seal_made_with_a_later_key_is_refused() {
        let (text, key, state) = sealed_log(8);
        // Re-make the first seal's MAC with the key of a later epoch (a copied state file).
        let mut later = key.clone();
        later.advance(3);
        let lines: Vec<&str> = text.lines().collect();
        let idx = lines
            .iter()
            .position(|l| l.contains("\"log_seal\""))
            .unwrap();
        let mut seal: Value = serde_json::from_str(lines[idx]).unwrap();
        let before = Head {
            seq: seal["sealed_seq"].as_u64().unwrap(),
            hash: Sha256Hex::from_hex(seal["sealed_hash"].as_str().unwrap()).unwrap(),
        };
        let mut forged_key = later.clone();
        forged_key.epoch = seal["epoch"].as_u64().unwrap();
        seal["mac"] = forged_key
            .mac(seal["epochs"].as_u64().unwrap(), &before)
            .into();
        let mut out: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
        out[idx] = seal.to_string();
        let forged = out.join("\n") + "\n";
        let r = check(forged.as_bytes(), &key, &state);
        let b = r.broken.expect("not intact");
        assert_eq!(b.kind, "bad_seal", "{b:?}");
    }
}
