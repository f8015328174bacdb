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

/// A name from a policy or the command line (an issuer, an audience) as one item of a message:
/// quoted, escaped (a quote, comma or control character in it cannot pass for the end of the
/// item, another item or another line) and cut at 100 characters.
pub fn quoted(s: &str) -> String {
    let mut out: String = s.chars().take(100).flat_map(char::escape_debug).collect();
    if s.chars().count() > 100 {
        out.push('…');
    }
    format!("\"{out}\"")
}

/// The most items a list in a message shows; the rest are counted, so that a policy's long
/// list cannot make a refusal (its stderr line, record and JSON) grow without bound.
pub const SHOWN_ITEMS: usize = 8;

/// `one of [A, B, ...]` of items already shown (quoted), at most [`SHOWN_ITEMS`] of them, then
/// how many more.
pub fn one_of(items: impl IntoIterator<Item = String>) -> String {
    let mut shown = Vec::new();
    let mut more = 0usize;
    for item in items {
        match shown.len() < SHOWN_ITEMS {
            true => shown.push(item),
            false => more += 1,
        }
    }
    if more > 0 {
        shown.push(format!("… {more} more"));
    }
    format!("one of [{}]", shown.join(", "))
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

/// A claim's value found by walking the claims rather than hashing `name`: a token carries a
/// handful of claims, and a walk is several times cheaper than the map's SipHash lookup (a
/// batch at `--log-level info` looks up three claims per record).
pub fn claim<'a>(claims: &'a Claims, name: &str) -> Option<&'a Value> {
    claims.iter().find(|(k, _)| *k == name).map(|(_, v)| v)
}

/// The name of `alg` as a token's header writes it (`HS256`), without formatting.
pub fn alg_name(alg: super::Algorithm) -> &'static str {
    alg.name()
}

/// A claim's value as whole seconds (floored; out-of-range values saturate).
pub fn seconds(claims: &Claims, name: &str) -> Option<i64> {
    claim(claims, name).and_then(whole_seconds)
}

/// A numeric claim value as whole seconds (floored; out-of-range values saturate).
pub fn whole_seconds(value: &Value) -> Option<i64> {
    value.as_f64().map(|n| n.floor() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claim_is_found_by_name_or_not_at_all() {
        let claims: Claims = serde_json::from_str(r#"{"sub":"a","exp":7.9,"ex":1}"#).unwrap();
        assert_eq!(claim(&claims, "sub"), Some(&Value::from("a")));
        assert_eq!(claim(&claims, "nope"), None);
        assert_eq!(seconds(&claims, "exp"), Some(7));
    }
}
