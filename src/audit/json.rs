//! Records as JSON lines: the `tracing` subscriber that formats each event and hands it to the sink.

use std::fmt;
use std::sync::Arc;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Timelike as _, Utc};

use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber, span};

use super::sink::{Group, Outcome, Sink};

/// Longest value a record keeps for one field, in bytes; longer values are cut and marked.
const MAX_FIELD_BYTES: usize = 1024;

/// The `tracing` subscriber: writes each enabled event as one JSON object per line. It handles
/// events only (jwtctl opens no spans), which keeps start-up to a struct and an `Arc`.
pub(super) struct AuditSubscriber {
    pub(super) sink: Arc<dyn Sink>,
    pub(super) outcome: Arc<Outcome>,
    pub(super) group: Arc<Group>,
    pub(super) max_level: LevelFilter,
}

/// The second records are being written in: its Unix time, its timestamp text
/// (`2026-11-27T17:30:00`), and the instant it starts. Formatted once a second rather than once
/// a record (a batch writes thousands a second); kept with the group's buffer, under its lock.
#[derive(Default)]
pub(super) struct Second {
    secs: i64,
    text: String,
    start: DateTime<Utc>,
}

impl Second {
    /// Append the instant `since_epoch` (the system clock) as RFC 3339 UTC with microseconds,
    /// as `to_rfc3339_opts(Micros, true)` writes it, and return it as the instant rotation
    /// names the file from.
    fn push_timestamp(
        &mut self,
        line: &mut String,
        since_epoch: Option<Duration>,
    ) -> DateTime<Utc> {
        let in_range = |secs: i64| DateTime::from_timestamp(secs, 0);
        let Some((since, secs)) =
            since_epoch.and_then(|d| i64::try_from(d.as_secs()).ok().map(|secs| (d, secs)))
        else {
            return push_timestamp_slowly(line);
        };
        let second = self;
        if second.secs != secs || second.text.is_empty() {
            let Some(start) = in_range(secs) else {
                return push_timestamp_slowly(line);
            };
            let text = start.format("%Y-%m-%dT%H:%M:%S").to_string();
            *second = Second { secs, text, start };
        }
        line.push_str(&second.text);
        // Six digits with their leading zeros: those of 1_000_000 + micros (always seven) after
        // its leading 1.
        let mut digits = itoa::Buffer::new();
        let micros = digits.format(1_000_000 + since.subsec_micros());
        line.push('.');
        line.push_str(micros.get(1..).unwrap_or_default());
        line.push('Z');
        second
            .start
            .with_nanosecond(since.subsec_nanos())
            .unwrap_or(second.start)
    }
}

/// A clock set before 1970 or past chrono's range: chrono's own conversion and format (which
/// handles times before the epoch, unlike `Utc::now`, which panics on them).
fn push_timestamp_slowly(line: &mut String) -> DateTime<Utc> {
    let now = DateTime::<Utc>::from(SystemTime::now());
    line.push_str(&now.to_rfc3339_opts(chrono::SecondsFormat::Micros, true));
    now
}

impl Subscriber for AuditSubscriber {
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        if self.enabled(meta) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, meta: &Metadata<'_>) -> bool {
        meta.target() == super::TARGET && *meta.level() <= self.max_level
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(self.max_level)
    }

    fn new_span(&self, _span: &span::Attributes<'_>) -> span::Id {
        span::Id::from_u64(1)
    }

    fn record(&self, _span: &span::Id, _values: &span::Record<'_>) {}

    fn record_follows_from(&self, _span: &span::Id, _follows: &span::Id) {}

    fn event(&self, event: &Event<'_>) {
        if !self.enabled(event.metadata()) {
            return;
        }
        let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).ok();
        // Rotation names the file from the same clock reading as the record's timestamp.
        let written = self.group.add(&*self.sink, |line, second| {
            line.push_str("{\"timestamp\":\"");
            let at = second.push_timestamp(line, since_epoch);
            line.push_str("\",\"level\":\"");
            line.push_str(event.metadata().level().as_str());
            line.push('"');
            event.record(&mut JsonFields(Fields(line)));
            line.push_str("}\n");
            at
        });
        self.outcome.set(written);
    }

    fn enter(&self, _span: &span::Id) {}

    fn exit(&self, _span: &span::Id) {}
}

/// Appends `,"name":value` for each field; strings are JSON-escaped and bounded. Each takes
/// the field's key as written, `,"name":` (the `key!` macro of `audit` makes it from the name
/// at compile time: one copy per field instead of three).
pub(super) struct Fields<'a>(pub(super) &'a mut String);

impl Fields<'_> {
    pub(super) fn str(&mut self, key: &str, value: Option<&str>) {
        if let Some(value) = value {
            self.0.push_str(key);
            push_json_str(self.0, value);
        }
    }

    /// A value from jwtctl's own source (an op, outcome, reason code, alg name) or a hex digest:
    /// printable ASCII without quotes or backslashes, written without the check input needs.
    pub(super) fn name(&mut self, key: &str, value: Option<&str>) {
        if let Some(value) = value {
            debug_assert!(is_plain(value), "{value:?} needs escaping");
            self.0.push_str(key);
            self.0.reserve(value.len() + 2);
            self.0.push('"');
            self.0.push_str(value);
            self.0.push('"');
        }
    }

    pub(super) fn int(&mut self, key: &str, value: Option<i64>) {
        if let Some(value) = value {
            self.0.push_str(key);
            if value < 0 {
                self.0.push('-');
            }
            push_digits(self.0, value.unsigned_abs());
        }
    }

    pub(super) fn uint(&mut self, key: &str, value: Option<u64>) {
        if let Some(value) = value {
            self.0.push_str(key);
            push_digits(self.0, value);
        }
    }

    pub(super) fn bool(&mut self, key: &str, value: Option<bool>) {
        if let Some(value) = value {
            self.0.push_str(key);
            self.0.push_str(if value { "true" } else { "false" });
        }
    }
}

/// Append `n` in decimal, with itoa (serde_json's own integer writer, already linked):
/// `write!` goes through the formatting machinery, and digits assembled in a byte buffer
/// needed `str::from_utf8` to become text again, a visible share of a batch record's cost.
pub(super) fn push_digits(line: &mut String, n: u64) {
    line.push_str(itoa::Buffer::new().format(n));
}

/// Whether `value` can be written in quotes as it is: printable ASCII, no quote, no backslash.
/// The check reads every byte without stopping early, which lets the compiler check many at once.
fn is_plain(value: &str) -> bool {
    value.bytes().fold(true, |plain, b| {
        plain & (b >= 0x20 && b != b'"' && b != b'\\' && b < 0x7f)
    })
}

/// Append `value` as a JSON string, cut to [`MAX_FIELD_BYTES`].
pub(super) fn push_json_str(line: &mut String, value: &str) {
    // Most values (ids, names) are short and need no escaping: copy them as they are.
    if value.len() <= MAX_FIELD_BYTES && is_plain(value) {
        line.reserve(value.len() + 2);
        line.push('"');
        line.push_str(value);
        line.push('"');
        return;
    }
    let value = bounded(value);
    let escaped = serde_json::to_string(&value).unwrap_or_else(|_| "\"\"".into());
    line.push_str(&escaped);
}

/// Cut `s` to at most [`MAX_FIELD_BYTES`] on a character boundary, marking the cut.
fn bounded(s: &str) -> std::borrow::Cow<'_, str> {
    if s.len() <= MAX_FIELD_BYTES {
        return s.into();
    }
    let mut end = MAX_FIELD_BYTES;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…[cut]", &s[..end]).into()
}

/// The key of a field other than `record` (none is emitted today): its name is an identifier
/// from our own source and needs no escaping.
fn key_of(field: &Field) -> String {
    format!(",\"{}\":", field.name())
}

/// An event's fields, through [`Fields`]. An audit event carries one field, `record`: the
/// record's fields, written as JSON by `Record::write_fields` (one pass over the record, not one
/// visitor call per field: the per-field dispatch was a tenth of a batch record's cost), and
/// spliced in as they are.
struct JsonFields<'a>(Fields<'a>);

impl Visit for JsonFields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == super::RECORD_FIELD {
            self.0.0.push_str(value);
            return;
        }
        self.0.str(&key_of(field), Some(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.int(&key_of(field), Some(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.uint(&key_of(field), Some(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.bool(&key_of(field), Some(value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.str(&key_of(field), Some(&format!("{value:?}")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_timestamps_read_as_chrono_writes_them() {
        use chrono::TimeZone;
        let mut second = Second::default();
        let base = Utc.with_ymd_and_hms(2026, 11, 27, 17, 30, 59).unwrap();
        // Same second twice (the cache), the next second, leading zeros, another day.
        for micros in [0, 7, 999_999, 1_000_000, 1_000_042, 86_400_000_123] {
            let at = base + chrono::Duration::microseconds(micros);
            let since = Duration::from_micros(at.timestamp_micros() as u64);
            let mut line = String::new();
            assert_eq!(second.push_timestamp(&mut line, Some(since)), at);
            assert_eq!(
                line,
                at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
            );
        }
    }

    #[test]
    fn numbers_are_written_as_display_writes_them() {
        let edges = [99, 100, 101, 1_795_806_466, u64::MAX - 1, u64::MAX];
        for n in (0..10_000).chain(edges) {
            let mut line = String::new();
            push_digits(&mut line, n);
            assert_eq!(line, n.to_string());
        }
        let min = i64::MIN;
        let mut line = String::from("-");
        push_digits(&mut line, min.unsigned_abs());
        assert_eq!(line, min.to_string());
    }

    #[test]
    fn long_values_are_cut_on_a_char_boundary_and_marked() {
        let long = "é".repeat(600);
        let cut = bounded(&long);
        assert!(cut.len() <= MAX_FIELD_BYTES + "…[cut]".len());
        assert!(cut.ends_with("…[cut]"));
        assert_eq!(bounded("short"), "short");
    }
}
