//! Which records a reader of the log asks for: fields that must equal given values, a token (by
//! its hash), a time range. Matched fast, then exactly: a line is a candidate only when it holds
//! each field as jwtctl writes it (`"sub":"alice"`, found by a substring search over a whole
//! chunk of lines), and a candidate matches only when it parses as a record whose fields equal
//! the values asked for.

use std::borrow::Cow;

use memchr::memmem::Finder;
use serde::Deserialize;

use crate::hash::Sha256Hex;

/// The fields of a record that readers match on and show; the rest of the line is not decoded.
/// A line that is not a JSON object with these fields as strings (a torn line, a foreign one,
/// a key written twice) is not a record.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Fields<'a> {
    #[serde(borrow)]
    pub(crate) timestamp: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) level: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) op: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) event: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) outcome: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) reason: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) sub: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) iss: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) jti: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) kid: Option<Cow<'a, str>>,
    #[serde(borrow)]
    token_sha256: Option<Cow<'a, str>>,
    #[serde(borrow)]
    parent_token_sha256: Option<Cow<'a, str>>,
    pub(crate) pid: Option<u64>,
}

impl Fields<'_> {
    /// Parse a line as a record's fields; `None` when it is not a record.
    pub(crate) fn of(line: &[u8]) -> Option<Fields<'_>> {
        serde_json::from_slice(line).ok()
    }

    fn get(&self, field: Field) -> Option<&str> {
        match field {
            Field::Op => self.op.as_deref(),
            Field::Outcome => self.outcome.as_deref(),
            Field::Reason => self.reason.as_deref(),
            Field::Sub => self.sub.as_deref(),
            Field::Iss => self.iss.as_deref(),
            Field::Jti => self.jti.as_deref(),
            Field::Kid => self.kid.as_deref(),
        }
    }

    /// The record's time in whole seconds since the epoch.
    fn seconds(&self) -> Option<i64> {
        let text = self.timestamp.as_deref()?;
        chrono::DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|t| t.timestamp())
    }
}

/// A field a query can ask to equal a value, most telling first: a candidate search looks for
/// the first one asked, which the fewest lines hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Field {
    Jti,
    Sub,
    Kid,
    Iss,
    Reason,
    Op,
    Outcome,
}

impl Field {
    fn name(self) -> &'static str {
        match self {
            Field::Op => "op",
            Field::Outcome => "outcome",
            Field::Reason => "reason",
            Field::Sub => "sub",
            Field::Iss => "iss",
            Field::Jti => "jti",
            Field::Kid => "kid",
        }
    }
}

/// What a reader asks of each record; every condition given must hold.
pub(crate) struct Query {
    fields: Vec<(Field, String)>,
    token: Option<Sha256Hex>,
    since: Option<i64>,
    until: Option<i64>,
    /// `since` and `until` as the log writes times to the second (`2026-11-26T09:00:00`), for
    /// turning lines away before parsing them.
    since_text: Option<String>,
    until_text: Option<String>,
    /// What each matching line must hold as written, most telling first.
    needles: Vec<Finder<'static>>,
    timestamp_key: Finder<'static>,
}

impl Query {
    /// Records whose `fields` equal the values given, that name `token` (as `token_sha256` or
    /// `parent_token_sha256`), stamped at or after `since` and before `until` (Unix seconds).
    pub(crate) fn new(
        mut fields: Vec<(Field, String)>,
        token: Option<Sha256Hex>,
        since: Option<i64>,
        until: Option<i64>,
    ) -> Query {
        fields.sort_by_key(|(field, _)| *field);
        let mut needles = Vec::new();
        if let Some(hash) = &token {
            // Both `"token_sha256":"H"` and `"parent_token_sha256":"H"` hold this.
            needles.push(format!("token_sha256\":\"{}\"", hash.as_str()));
        }
        for (field, value) in &fields {
            // As the log writes the value: serde_json's escapes (the writer's own).
            let value = serde_json::to_string(value).unwrap_or_default();
            needles.push(format!("\"{}\":{value}", field.name()));
        }
        let second = |secs: i64| {
            chrono::DateTime::from_timestamp(secs, 0)
                .map(|t| t.format("%Y-%m-%dT%H:%M:%S").to_string())
        };
        Query {
            needles: needles
                .iter()
                .map(|n| Finder::new(n.as_bytes()).into_owned())
                .collect(),
            fields,
            token,
            since_text: since.and_then(second),
            until_text: until.and_then(second),
            since,
            until,
            timestamp_key: Finder::new(b"\"timestamp\":\"").into_owned(),
        }
    }

    /// Hand each line of `chunk` (whole lines, as `read::Lines::next_chunk` gives them) that
    /// matches to `each`, with its fields, oldest first; `each` returns false to stop. Returns
    /// whether to go on, and counts in `not_records` the candidate lines that did not parse.
    pub(crate) fn scan(
        &self,
        chunk: &[u8],
        not_records: &mut u64,
        each: &mut dyn FnMut(&[u8], &Fields) -> bool,
    ) -> bool {
        let Some(first) = self.needles.first() else {
            for line in chunk.split_inclusive(|&b| b == b'\n') {
                if !self.line(line, not_records, each) {
                    return false;
                }
            }
            return true;
        };
        let mut from = 0;
        while let Some(hit) = first.find(&chunk[from..]) {
            let hit = from + hit;
            let start = memchr::memrchr(b'\n', &chunk[..hit]).map_or(0, |at| at + 1);
            let end = memchr::memchr(b'\n', &chunk[hit..]).map_or(chunk.len(), |at| hit + at + 1);
            if !self.line(&chunk[start..end], not_records, each) {
                return false;
            }
            from = end;
        }
        true
    }

    /// Whether `line` matches: every needle is in it, its time is in range, and it parses as a
    /// record whose fields are those asked for.
    fn line(
        &self,
        line: &[u8],
        not_records: &mut u64,
        each: &mut dyn FnMut(&[u8], &Fields) -> bool,
    ) -> bool {
        if line.iter().all(u8::is_ascii_whitespace)
            || !self.needles.iter().all(|n| n.find(line).is_some())
            || self.outside_time(line)
        {
            return true;
        }
        match Fields::of(line) {
            Some(fields) if self.matches(&fields) => each(line, &fields),
            Some(_) => true,
            None => {
                *not_records += 1;
                true
            }
        }
    }

    /// Whether the parsed record holds every condition.
    pub(crate) fn matches(&self, fields: &Fields) -> bool {
        let named =
            |hash: &Option<Cow<str>>| hash.as_deref() == self.token.as_ref().map(|h| h.as_str());
        self.fields
            .iter()
            .all(|(field, value)| fields.get(*field) == Some(value.as_str()))
            && (self.token.is_none()
                || named(&fields.token_sha256)
                || named(&fields.parent_token_sha256))
            && (self.since.is_none() && self.until.is_none()
                || fields.seconds().is_some_and(|secs| {
                    self.since.is_none_or(|since| secs >= since)
                        && self.until.is_none_or(|until| secs < until)
                }))
    }

    /// A quick look at the line's `timestamp` as jwtctl writes it (`2026-11-26T09:00:00.123456Z`,
    /// which sorts as text): true only when it is certainly out of range. Anything else is left
    /// to the exact check after parsing.
    fn outside_time(&self, line: &[u8]) -> bool {
        if self.since_text.is_none() && self.until_text.is_none() {
            return false;
        }
        let Some(at) = self.timestamp_key.find(line) else {
            return false;
        };
        let Some(stamp) = line.get(at + 13..at + 13 + 19) else {
            return false;
        };
        let canonical = stamp.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            10 => *b == b'T',
            13 | 16 => *b == b':',
            _ => b.is_ascii_digit(),
        });
        canonical
            && (self
                .since_text
                .as_ref()
                .is_some_and(|since| stamp < since.as_bytes())
                || self
                    .until_text
                    .as_ref()
                    .is_some_and(|until| stamp >= until.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(query: &Query, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut bad = 0;
        query.scan(text.as_bytes(), &mut bad, &mut |line, _| {
            out.push(String::from_utf8_lossy(line).trim_end().to_string());
            true
        });
        out
    }

    const LOG: &str = concat!(
        r#"{"seq":1,"prev":"00","timestamp":"2026-11-26T09:00:00.000001Z","level":"INFO","op":"issue","outcome":"success","sub":"alice","jti":"a1","token_sha256":"aa"}"#,
        "\n",
        r#"{"timestamp":"2026-11-26T10:00:00.5Z","level":"INFO","op":"refresh","outcome":"success","sub":"alice","jti":"a2","parent_jti":"a1","token_sha256":"bb","parent_token_sha256":"aa"}"#,
        "\n",
        r#"{"timestamp":"2026-11-26T11:00:00.000000Z","level":"ERROR","op":"verify","outcome":"failure","reason":"expired","sub":"bob \"the\" builder","note":"\"sub\":\"alice\""}"#,
        "\n",
        r#"{"timestamp":"2026-11-26T12:00:00.000000Z","op":"verify","sub":"alice""#,
        "\n",
    );

    #[test]
    fn fields_match_exactly_not_as_text() {
        let q = Query::new(vec![(Field::Sub, "alice".into())], None, None, None);
        let hits = found(&q, LOG);
        assert_eq!(hits.len(), 2, "{hits:?}");
        let q = Query::new(vec![(Field::Jti, "a1".into())], None, None, None);
        assert_eq!(found(&q, LOG).len(), 1, "parent_jti a1 is not jti a1");
        let q = Query::new(
            vec![(Field::Sub, "bob \"the\" builder".into())],
            None,
            None,
            None,
        );
        assert_eq!(found(&q, LOG).len(), 1);
    }

    #[test]
    fn a_token_is_found_as_itself_and_as_a_parent() {
        let hash = Sha256Hex::of(b"x");
        let log = LOG.replace("\"aa\"", &format!("\"{}\"", hash.as_str()));
        let q = Query::new(Vec::new(), Some(hash), None, None);
        assert_eq!(found(&q, &log).len(), 2);
    }

    #[test]
    fn times_bound_the_range_to_the_second() {
        let ten = 1_795_687_200; // 2026-11-26T10:00:00Z
        let q = Query::new(Vec::new(), None, Some(ten), Some(ten + 3600));
        let hits = found(&q, LOG);
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert!(hits[0].contains("\"a2\""));
        let q = Query::new(Vec::new(), None, None, Some(ten));
        assert_eq!(found(&q, LOG).len(), 1);
    }

    #[test]
    fn a_torn_line_is_counted_not_matched() {
        let q = Query::new(vec![(Field::Op, "verify".into())], None, None, None);
        let mut bad = 0;
        let mut n = 0;
        q.scan(LOG.as_bytes(), &mut bad, &mut |_, _| {
            n += 1;
            true
        });
        assert_eq!((n, bad), (1, 1));
    }
}
