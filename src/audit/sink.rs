//! The log sink seam: where formatted records go (the checked file, syslog), and how a failed
//! delivery is reported.

use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Utc};

use super::json::Second;

/// A failed or unconfirmed delivery, as one line in our words that names the sink that failed
/// (the log file's path, the syslog target) and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SinkError(pub(crate) String);

impl fmt::Display for SinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub(crate) type SinkResult = Result<(), SinkError>;

/// Takes records (whole lines), stamped with the instant of the first one's timestamp. A sink
/// that chains records (the log file) stamps them in place with `seq` and `prev`, so the sinks
/// after it (syslog) get the same lines. A sink reports a failed, partial or unconfirmed delivery as the returned error; it never swallows
/// one, and every write ends within a deadline.
pub(crate) trait Sink: Send + Sync {
    fn write_line(&self, line: &mut String, at: DateTime<Utc>) -> SinkResult;

    /// The sink as a record names it: the log file's path, the syslog target.
    fn name(&self) -> String;

    /// After a failed write: which sinks took it all the same (only several sinks can split).
    fn take_split(&self) -> Option<Split> {
        None
    }

    /// Send the next writes only to the sinks `only` lists (all of them again with `None`).
    fn restrict(&self, _only: Option<Vec<usize>>) {}
}

impl<S: Sink + ?Sized> Sink for std::sync::Arc<S> {
    fn write_line(&self, line: &mut String, at: DateTime<Utc>) -> SinkResult {
        (**self).write_line(line, at)
    }

    fn name(&self) -> String {
        (**self).name()
    }

    fn take_split(&self) -> Option<Split> {
        (**self).take_split()
    }

    fn restrict(&self, only: Option<Vec<usize>>) {
        (**self).restrict(only)
    }
}

/// A write some sinks took and others did not: the sinks that took it (their indices and names)
/// and the names of those that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Split {
    pub(crate) took: Vec<usize>,
    pub(crate) took_names: String,
    pub(crate) failed: String,
}

/// Several sinks (the file and syslog): a record goes to each; the first failure is reported,
/// after every sink was tried, and a write some sinks took is kept as a [`Split`] so that those
/// sinks can be told the operation was not done (see `Audit::emit`).
pub(crate) struct Fanout {
    sinks: Vec<Box<dyn Sink>>,
    only: Mutex<Option<Vec<usize>>>,
    split: Mutex<Option<Split>>,
}

impl Fanout {
    pub(crate) fn new(sinks: Vec<Box<dyn Sink>>) -> Self {
        Fanout {
            sinks,
            only: Mutex::default(),
            split: Mutex::default(),
        }
    }
}

impl Sink for Fanout {
    fn write_line(&self, line: &mut String, at: DateTime<Utc>) -> SinkResult {
        let only = self.only.lock().unwrap_or_else(PoisonError::into_inner);
        let mut result = Ok(());
        let (mut took, mut failed) = (Vec::new(), Vec::new());
        for (i, sink) in self.sinks.iter().enumerate() {
            if only.as_ref().is_some_and(|only| !only.contains(&i)) {
                continue;
            }
            match sink.write_line(line, at) {
                Ok(()) => took.push(i),
                Err(e) => {
                    failed.push(sink.name());
                    if result.is_ok() {
                        result = Err(e);
                    }
                }
            }
        }
        let split = (!took.is_empty() && !failed.is_empty()).then(|| Split {
            took_names: self.names(&took),
            took,
            failed: failed.join(", "),
        });
        *self.split.lock().unwrap_or_else(PoisonError::into_inner) = split;
        result
    }

    fn name(&self) -> String {
        self.names(&(0..self.sinks.len()).collect::<Vec<_>>())
    }

    fn take_split(&self) -> Option<Split> {
        self.split
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    fn restrict(&self, only: Option<Vec<usize>>) {
        *self.only.lock().unwrap_or_else(PoisonError::into_inner) = only;
    }
}

impl Fanout {
    fn names(&self, which: &[usize]) -> String {
        let names: Vec<String> = which.iter().map(|&i| self.sinks[i].name()).collect();
        names.join(", ")
    }
}

/// The buffer every record is formatted into, and records held back to be written together
/// (`Audit::hold`): one `write(2)` for many records, as `verify --batch` at `--log-level info`
/// needs. A group never spans two rotation periods: a record of a new hour writes the group so
/// far first. The buffer keeps its capacity from record to record and group to group, so a
/// batch formats its records in place instead of allocating and copying each one.
#[derive(Default)]
pub(crate) struct Group(Mutex<Held>);

#[derive(Default)]
struct Held {
    /// Whether records are held (a group is open) or written one by one.
    open: bool,
    lines: String,
    /// The instant of the first record held.
    at: Option<DateTime<Utc>>,
    /// The clock's second records are stamped in, formatted once (under this lock, which every
    /// record takes anyway: a lock of its own was two more atomic operations a record).
    second: Second,
}

impl Group {
    pub(crate) fn start(&self) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).open = true;
    }

    /// Append one record, formatted by `format` (which returns the instant it is stamped with),
    /// and write it now unless a group is open. A record of a new hour is written apart from
    /// the group so far, which is written first.
    pub(crate) fn add(
        &self,
        sink: &dyn Sink,
        format: impl FnOnce(&mut String, &mut Second) -> DateTime<Utc>,
    ) -> SinkResult {
        let mut held = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if held.open {
            // A record is at most a few KiB: room for it, and for a group at the first.
            reserve_apart(&mut held.lines, 16 << 10);
        }
        let start = held.lines.len();
        let Held { lines, second, .. } = &mut *held;
        let at = format(lines, second);
        // UTC hours since the epoch: Unix time has no leap seconds, so an hour is 3600 of them
        // (formatting the two times to compare them was a tenth of a batch record's cost).
        let hour = |t: &DateTime<Utc>| t.timestamp().div_euclid(3600);
        let mut result = Ok(());
        if let Some(first) = held.at.filter(|first| hour(first) != hour(&at)) {
            let record = held.lines.split_off(start);
            result = sink.write_line(&mut held.lines, first);
            held.lines = record;
            held.at = None;
        }
        held.at.get_or_insert(at);
        if !held.open {
            result = Self::write(sink, &mut held);
        }
        result
    }

    /// Write what is held, in one write; the group stays open when `keep` is true.
    pub(crate) fn release(&self, sink: &dyn Sink, keep: bool) -> SinkResult {
        let mut held = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let result = Self::write(sink, &mut held);
        held.open = keep;
        result
    }

    /// Write the buffer, then empty it (keeping its capacity), whether or not the write worked:
    /// a record that failed is reported, never retried behind its caller's back.
    fn write(sink: &dyn Sink, held: &mut Held) -> SinkResult {
        let Some(at) = held.at.take() else {
            return Ok(());
        };
        let result = sink.write_line(&mut held.lines, at);
        held.lines.clear();
        result
    }
}

/// Room a group's buffer starts with: a batch's group of 256 records is ~110 KiB.
const GROUP_BYTES: usize = 256 << 10;

/// Make room for `bytes` more in `buf` at once, and at least [`GROUP_BYTES`], for a buffer
/// that holds or stamps a group. One allocation that size is mapped apart from the heap (glibc
/// maps 128 KiB and more), where the buffer growing by doubling in the heap (8, 16, 32, 64 KiB)
/// left holes between the small allocations each token's verification makes, and every later
/// malloc and free worked around them (callgrind: ~600 more instructions a token in malloc).
pub(crate) fn reserve_apart(buf: &mut String, bytes: usize) {
    if buf.capacity() - buf.len() < bytes {
        buf.reserve(bytes.max(GROUP_BYTES));
    }
}

/// The outcome of the last delivery, handed from the subscriber (which cannot return a value to
/// the code that emitted the event) to `Audit::emit`, which holds its emit lock meanwhile. The
/// common case (delivered) is two plain atomic stores and a load, no lock: a batch hands over
/// one outcome per token.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    state: AtomicU8,
    /// The failure, when `state` is `FAILED`.
    failure: Mutex<Option<SinkError>>,
}

const DELIVERED: u8 = 0;
const ARMED: u8 = 1;
const FAILED: u8 = 2;

impl Outcome {
    /// Before an event is dispatched: until the sink reports, the record counts as undelivered,
    /// so an event that never reaches the subscriber fails closed instead of passing silently.
    pub(crate) fn arm(&self) {
        self.state.store(ARMED, Ordering::Release);
    }

    pub(crate) fn set(&self, result: SinkResult) {
        match result {
            Ok(()) => self.state.store(DELIVERED, Ordering::Release),
            Err(e) => {
                *self.failure.lock().unwrap_or_else(PoisonError::into_inner) = Some(e);
                self.state.store(FAILED, Ordering::Release);
            }
        }
    }

    /// The failure of the last event (an armed event that was never delivered is one too),
    /// leaving the outcome delivered.
    ///
    /// Plain loads and stores (release/acquire), no read-modify-write: arm, set and take run
    /// one after another under `Audit::emit`'s lock (the subscriber is called on the emitting
    /// thread), so nothing can come between this load and the store after it. Three locked
    /// instructions a record were measurable in a batch.
    pub(crate) fn take(&self) -> Option<SinkError> {
        let never = || SinkError("the record never reached the security log".into());
        let state = self.state.load(Ordering::Acquire);
        if state != DELIVERED {
            self.state.store(DELIVERED, Ordering::Relaxed);
        }
        match state {
            DELIVERED => None,
            ARMED => Some(never()),
            _ => Some(
                self.failure
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .take()
                    .unwrap_or_else(never),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// Keeps what it was given; fails every write while `failing` is set.
    #[derive(Default)]
    struct Recorder {
        writes: Mutex<Vec<(String, DateTime<Utc>)>>,
        failing: std::sync::atomic::AtomicBool,
    }

    impl Sink for Recorder {
        fn write_line(&self, line: &mut String, at: DateTime<Utc>) -> SinkResult {
            if self.failing.load(std::sync::atomic::Ordering::Relaxed) {
                return Err(SinkError("full".into()));
            }
            self.writes.lock().unwrap().push((line.to_owned(), at));
            Ok(())
        }

        fn name(&self) -> String {
            "recorder".into()
        }
    }

    fn add(group: &Group, sink: &Recorder, text: &str, at: DateTime<Utc>) -> SinkResult {
        group.add(sink, |line, _| {
            line.push_str(text);
            at
        })
    }

    #[test]
    fn a_group_is_one_write_and_never_spans_two_hours() {
        let (group, sink) = (Group::default(), Recorder::default());
        let t = |h, m, s| Utc.with_ymd_and_hms(2026, 11, 27, h, m, s).unwrap();
        group.start();
        add(&group, &sink, "a\n", t(10, 59, 58)).unwrap();
        add(&group, &sink, "b\n", t(10, 59, 59)).unwrap();
        assert!(
            sink.writes.lock().unwrap().is_empty(),
            "held until released"
        );
        add(&group, &sink, "c\n", t(11, 0, 0)).unwrap();
        group.release(&sink, false).unwrap();
        let writes = sink.writes.lock().unwrap().clone();
        assert_eq!(
            writes,
            [
                ("a\nb\n".to_owned(), t(10, 59, 58)),
                ("c\n".to_owned(), t(11, 0, 0))
            ]
        );
    }

    #[test]
    fn outside_a_group_each_record_is_written_at_once_and_a_failed_one_is_not_retried() {
        let (group, sink) = (Group::default(), Recorder::default());
        let at = Utc.with_ymd_and_hms(2026, 11, 27, 10, 0, 0).unwrap();
        sink.failing
            .store(true, std::sync::atomic::Ordering::Relaxed);
        assert!(add(&group, &sink, "lost\n", at).is_err());
        sink.failing
            .store(false, std::sync::atomic::Ordering::Relaxed);
        add(&group, &sink, "next\n", at).unwrap();
        assert_eq!(*sink.writes.lock().unwrap(), [("next\n".to_owned(), at)]);
    }
}
