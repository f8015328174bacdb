//! A verification's verdict: one token checked (signature, claims, ledger), and the one JSON shape
//! `verify --output json` and `verify --batch` print it in.

use serde::Serialize;
use serde_json::{Map, Value};

use super::ledger_entry;
use crate::error::{Error, Result};
use crate::ledger::{Ledger, State, revoked};
use crate::token::{self, KeySource, Policy, Verified};

/// Verify one token and, with a ledger, check that it is not revoked.
pub fn verify_one(
    text: &str,
    keys: &dyn KeySource,
    policy: &Policy,
    ledger: Option<&mut Ledger>,
    now: f64,
) -> Result<Verified> {
    let verified = token::verify_precise(text, keys, policy, now)?;
    if let Some(ledger) = ledger {
        let (id, _) = ledger_entry(&verified, text, now.floor() as i64);
        if ledger.state(&id)? == Some(State::Revoked) {
            return Err(revoked());
        }
    }
    Ok(verified)
}

/// `{"line":N,"valid":true,"header":{..},"claims":{..}}` or
/// `{"line":N,"valid":false,"reason":"..","message":".."}`; `line` only in a batch.
#[derive(Debug, Serialize)]
pub struct Verdict<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    pub valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header: Option<&'a Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claims: Option<&'a Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<&'a str>,
}

impl<'a> Verdict<'a> {
    /// The verdict on `result`, at input line `line` of a batch.
    pub fn of(result: &'a Result<Verified>, line: Option<u64>) -> Verdict<'a> {
        match result {
            Ok(v) => Verdict::valid(v, line),
            Err(e) => Verdict::rejected(e, line),
        }
    }

    pub fn valid(v: &'a Verified, line: Option<u64>) -> Verdict<'a> {
        Verdict {
            line,
            valid: true,
            header: Some(&v.header),
            claims: Some(&v.claims),
            reason: None,
            message: None,
        }
    }

    pub fn rejected(e: &'a Error, line: Option<u64>) -> Verdict<'a> {
        Verdict {
            line,
            valid: false,
            header: None,
            claims: None,
            reason: Some(e.reason().code()),
            message: Some(e.message()),
        }
    }

    /// One line of JSON and its newline; header and claims come from the token, so C1 controls
    /// and bidi/format characters in them are `\uXXXX` escapes (serde_json escapes only C0).
    pub fn line(&self) -> String {
        let text = serde_json::to_string(self).unwrap_or_default();
        format!("{}\n", crate::escape::json_escaped(&text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Reason;

    #[test]
    fn single_and_batch_verdicts_share_one_shape() {
        let e = Error::rejected(Reason::Expired, "the token expired");
        assert_eq!(
            Verdict::rejected(&e, None).line(),
            "{\"valid\":false,\"reason\":\"expired\",\"message\":\"the token expired\"}\n"
        );
        assert_eq!(
            Verdict::rejected(&e, Some(4)).line(),
            "{\"line\":4,\"valid\":false,\"reason\":\"expired\",\"message\":\"the token expired\"}\n"
        );
    }
}
