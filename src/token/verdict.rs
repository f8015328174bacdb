//! A judgment on one token: valid, or rejected with a stable reason. A rejection is a verdict,
//! not an error; errors are left for usage, configuration, I/O and the log.

use super::checks::Policy;
use super::verify::{KeySource, Verified, verify_precise};
use crate::error::{Rejection, Result};

/// The verdict on a token: what was made of it (the verified token, or what a command built
/// from it), or why it was refused.
#[derive(Debug)]
pub enum Verdict<T = Verified> {
    Valid(T),
    Rejected(Rejection),
}

impl<T> Verdict<T> {
    /// Split a result of the core: a rejection becomes a verdict, a failure stays an error.
    pub fn of(result: Result<T>) -> Result<Verdict<T>> {
        match result {
            Ok(valid) => Ok(Verdict::Valid(valid)),
            Err(e) => e.into_rejection().map(Verdict::Rejected),
        }
    }

    /// Judge further what is still valid; a rejection stands.
    pub fn and_then<U>(self, next: impl FnOnce(T) -> Result<Verdict<U>>) -> Result<Verdict<U>> {
        match self {
            Verdict::Valid(valid) => next(valid),
            Verdict::Rejected(r) => Ok(Verdict::Rejected(r)),
        }
    }

    pub fn is_valid(&self) -> bool {
        matches!(self, Verdict::Valid(_))
    }
}

/// Verify `text` at `now` (fractional seconds) and say what is made of it: [`verify_precise`]
/// as a verdict. Only a failure to check at all (a key that cannot serve) is an error.
pub fn judge(text: &str, keys: &dyn KeySource, policy: &Policy, now: f64) -> Result<Verdict> {
    Verdict::of(verify_precise(text, keys, policy, now))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{Error, Reason};

    #[test]
    fn rejections_become_verdicts_and_failures_stay_errors() {
        let rejected = Verdict::of(Err::<(), _>(Error::rejected(Reason::Expired, "late")));
        assert!(matches!(rejected, Ok(Verdict::Rejected(r)) if r.reason() == Reason::Expired));
        let failed = Verdict::of(Err::<(), _>(Error::key("no key")));
        assert_eq!(failed.unwrap_err(), Error::key("no key"));
        let chained = Verdict::of(Ok(1))
            .unwrap()
            .and_then(|n| Ok(Verdict::Valid(n + 1)));
        assert!(matches!(chained, Ok(Verdict::Valid(2))));
    }
}
