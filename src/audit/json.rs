//! Records as JSON lines: the `tracing` subscriber that formats each event and hands it to the sink.

use std::fmt::{self, Write as _};
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};

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
    /// The timestamp up to the second (`2026-11-27T17:30:00`) and the second it is for: chrono
    /// formats it once a second, not once a record (a batch writes thousands a second).
    pub(super) second: Mutex<(i64, String)>,
}

impl AuditSubscriber {
    /// Append `now` as RFC 3339 UTC with microseconds, as `to_rfc3339_opts(Micros, true)` does.
    fn push_timestamp(&self, line: &mut String, now: DateTime<Utc>) {
        let micros = now.timestamp_subsec_micros();
        if micros >= 1_000_000 {
            // A leap second (never from the system clock): chrono's own form.
            line.push_str(&now.to_rfc3339_opts(chrono::SecondsFormat::Micros, true));
            return;
        }
        let mut second = self.second.lock().unwrap_or_else(PoisonError::into_inner);
        if second.0 != now.timestamp() || second.1.is_empty() {
            *second = (now.timestamp(), now.format("%Y-%m-%dT%H:%M:%S").to_string());
        }
        line.push_str(&second.1);
        let mut digits = [b'0'; 6];
        let mut rest = micros;
        for digit in digits.iter_mut().rev() {
            *digit = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
        line.push('.');
        line.extend(digits.iter().map(|&d| char::from(d)));
        line.push('Z');
    }
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
        let mut line = String::with_capacity(512);
        if !self.enabled(event.metadata()) {
            return;
        }
        let now = chrono::Utc::now();
        line.push_str("{\"timestamp\":\"");
        self.push_timestamp(&mut line, now);
        line.push_str("\",\"level\":\"");
        line.push_str(event.metadata().level().as_str());
        line.push('"');
        event.record(&mut JsonFields(&mut line));
        line.push_str("}\n");
        // Rotation names the file from the same clock reading as the record's timestamp.
        let written = match self.group.hold(&*self.sink, &line, now) {
            Some(held) => held,
            None => self.sink.write_line(&line, now),
        };
        self.outcome.set(written);
    }

    fn enter(&self, _span: &span::Id) {}

    fn exit(&self, _span: &span::Id) {}
}

/// Appends `,"name":value` for each field; strings are JSON-escaped and bounded.
struct JsonFields<'a>(&'a mut String);

impl JsonFields<'_> {
    fn key(&mut self, field: &Field) {
        // Field names are identifiers from our own source; they need no escaping.
        self.0.push_str(",\"");
        self.0.push_str(field.name());
        self.0.push_str("\":");
    }
}

/// Append `value` as a JSON string, cut to [`MAX_FIELD_BYTES`].
pub(super) fn push_json_str(line: &mut String, value: &str) {
    let value = bounded(value);
    // Most values (ids, hashes, names) need no escaping: copy them as they are.
    if value
        .bytes()
        .all(|b| b >= 0x20 && b != b'"' && b != b'\\' && b < 0x7f)
    {
        line.push('"');
        line.push_str(&value);
        line.push('"');
        return;
    }
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

impl Visit for JsonFields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.key(field);
        push_json_str(self.0, value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.key(field);
        let _ = write!(self.0, "{value}");
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.key(field);
        let _ = write!(self.0, "{value}");
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.key(field);
        self.0.push_str(if value { "true" } else { "false" });
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == super::ORIGIN_FIELD {
            // The process's own fields, serialised once (see `Origin::fields`): spliced in as
            // they are, not as one string.
            let _ = write!(self.0, ",{value:?}");
            return;
        }
        self.record_str(field, &format!("{value:?}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_timestamps_read_as_chrono_writes_them() {
        use chrono::TimeZone;
        let subscriber = AuditSubscriber {
            sink: Arc::new(super::super::sink::Fanout(Vec::new())),
            outcome: Arc::default(),
            group: Arc::default(),
            max_level: LevelFilter::INFO,
            second: Mutex::new((0, String::new())),
        };
        let base = Utc.with_ymd_and_hms(2026, 11, 27, 17, 30, 59).unwrap();
        // Same second twice (the cache), the next second, leading zeros, another day.
        for micros in [0, 7, 999_999, 1_000_000, 1_000_042, 86_400_000_123] {
            let at = base + chrono::Duration::microseconds(micros);
            let mut line = String::new();
            subscriber.push_timestamp(&mut line, at);
            assert_eq!(
                line,
                at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
            );
        }
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
