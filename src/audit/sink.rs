//! The log sink seam: where formatted records go (the checked file today; room for syslog).

use std::io;
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Utc};

/// Takes one record, formatted as one line, stamped with the instant of its timestamp. A sink
/// reports a failed or partial delivery as the returned error; it never swallows one.
pub(crate) trait Sink: Send + Sync {
    fn write_line(&self, line: &str, at: DateTime<Utc>) -> io::Result<()>;
}

/// Several sinks (the file and syslog): a record goes to each; the first failure is reported,
/// after every sink was tried.
pub(crate) struct Fanout(pub(crate) Vec<Box<dyn Sink>>);

impl Sink for Fanout {
    fn write_line(&self, line: &str, at: DateTime<Utc>) -> io::Result<()> {
        let mut result = Ok(());
        for sink in &self.0 {
            let written = sink.write_line(line, at);
            if result.is_ok() {
                result = written;
            }
        }
        result
    }
}

/// Records held back to be written together (`Audit::hold`): one `write(2)` for many records,
/// as `verify --batch` at `--log-level info` needs. A group never spans two rotation periods:
/// a record of a new hour writes the group so far first.
#[derive(Default)]
pub(crate) struct Group(Mutex<Option<Held>>);

pub(crate) struct Held {
    lines: String,
    at: Option<DateTime<Utc>>,
}

impl Group {
    pub(crate) fn start(&self) {
        let mut held = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        held.get_or_insert(Held {
            lines: String::new(),
            at: None,
        });
    }

    /// Hold `line` when a group is open (writing the group so far first if `at` starts a new
    /// hour); `None` when no group is open and the line must be written now.
    pub(crate) fn hold(
        &self,
        sink: &dyn Sink,
        line: &str,
        at: DateTime<Utc>,
    ) -> Option<io::Result<()>> {
        let mut guard = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let held = guard.as_mut()?;
        let mut result = Ok(());
        // UTC hours since the epoch: Unix time has no leap seconds, so an hour is 3600 of them
        // (formatting the two times to compare them was a tenth of a batch record's cost).
        let hour = |t: &DateTime<Utc>| t.timestamp().div_euclid(3600);
        if held
            .at
            .as_ref()
            .is_some_and(|first| hour(first) != hour(&at))
        {
            result = Self::write(sink, held);
        }
        held.at.get_or_insert(at);
        held.lines.push_str(line);
        Some(result)
    }

    /// Write what is held, in one write; the group stays open when `keep` is true.
    pub(crate) fn release(&self, sink: &dyn Sink, keep: bool) -> io::Result<()> {
        let mut guard = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let result = match guard.as_mut() {
            Some(held) => Self::write(sink, held),
            None => Ok(()),
        };
        if !keep {
            *guard = None;
        }
        result
    }

    fn write(sink: &dyn Sink, held: &mut Held) -> io::Result<()> {
        let Some(at) = held.at.take() else {
            return Ok(());
        };
        let lines = std::mem::take(&mut held.lines);
        sink.write_line(&lines, at)
    }
}

/// The outcome of the last delivery, handed from the subscriber (which cannot return a value to
/// the code that emitted the event) to `Audit::emit`, which holds its emit lock meanwhile.
#[derive(Debug, Default)]
pub(crate) struct Outcome(Mutex<Option<io::ErrorKind>>);

impl Outcome {
    /// Before an event is dispatched: until the sink reports, the record counts as undelivered,
    /// so an event that never reaches the subscriber fails closed instead of passing silently.
    pub(crate) fn arm(&self) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(io::ErrorKind::Other);
    }

    pub(crate) fn set(&self, result: io::Result<()>) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = result.err().map(|e| e.kind());
    }

    pub(crate) fn take(&self) -> Option<io::ErrorKind> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}
