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
