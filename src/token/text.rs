//! What the token modules share: the claims type, and values made safe for one-line messages.

use serde_json::{Map, Value};

use crate::error::{Error, Reason};

pub type Claims = Map<String, Value>;

/// A value from the token, made safe and short for a one-line message.
pub(crate) fn shown(s: &str) -> String {
    let mut out: String = s.chars().take(40).flat_map(char::escape_debug).collect();
    if s.chars().count() > 40 {
        out.push('…');
    }
    out
}

pub(crate) fn reject(reason: Reason, message: impl Into<String>) -> Error {
    Error::rejected(reason, message)
}

/// An instant for a message: RFC 3339 UTC, or the number when it is out of range.
pub(crate) fn when(secs: f64) -> String {
    chrono::DateTime::from_timestamp(secs.floor() as i64, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| format!("{secs} (out of range)"))
}

/// A claim's value as whole seconds (floored; out-of-range values saturate).
pub fn seconds(claims: &Claims, name: &str) -> Option<i64> {
    claims
        .get(name)
        .and_then(Value::as_f64)
        .map(|n| n.floor() as i64)
}
