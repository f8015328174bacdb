//! The error type, the rejection a token verdict carries, their stable reason codes, and the one
//! mapping to exit codes.

use std::fmt;

/// Why an operation failed. The code is stable: it is written to the security log and documented
/// in docs/reference.md, so scripts and auditors can match on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// The token is not three base64url segments of JSON objects.
    Malformed,
    /// The signature does not match the key.
    BadSignature,
    /// `now >= exp + leeway`.
    Expired,
    /// `now + leeway < nbf`.
    NotYetValid,
    /// `iat > now + leeway`.
    IssuedInFuture,
    /// A claim is present but does not match what was asked for.
    ClaimMismatch,
    /// A claim that is required is absent.
    MissingClaim,
    /// A registered claim has the wrong JSON type.
    InvalidClaim,
    /// The token's algorithm is not the pinned one (or is `none`).
    AlgNotAllowed,
    /// A refresh at or after `orig_iat + max-lifetime`.
    MaxLifetimeExceeded,
    /// A token the ledger has already seen refreshed.
    Reused,
    /// A token the ledger holds as revoked.
    Revoked,
    /// The token is longer than `--max-token-size`.
    TooLarge,
    /// No configured key fits the token's `kid` and algorithm.
    NoMatchingKey,
    /// The header has a `crit` parameter; we understand no JWS extensions.
    CritUnsupported,
    /// The header's `typ` is not the one required.
    TypMismatch,
    /// The token expires sooner than `--min-remaining`.
    ExpiresTooSoon,
    /// The token's `iat` is older than `--max-age`.
    TooOld,
    /// The key is missing, unreadable, of an unsupported kind, weak, or cannot serve the algorithm.
    KeyError,
    /// The command line or the claims given to it are wrong.
    Usage,
    /// An input file (claims, token) could not be read.
    IoError,
    /// The ledger could not be opened, read or written.
    LedgerError,
    /// A remote JWK Set (or discovery document) could not be fetched and no usable copy is cached.
    JwksUnavailable,
    /// A `--policy` file could not be read, or is not a valid policy.
    PolicyError,
    /// The security log could not be opened or written.
    LogError,
    /// `log verify` found the log's chain or seals broken.
    LogTampered,
}

impl Reason {
    /// The snake_case code written to the log and to stderr.
    pub fn code(self) -> &'static str {
        match self {
            Reason::Malformed => "malformed",
            Reason::BadSignature => "bad_signature",
            Reason::Expired => "expired",
            Reason::NotYetValid => "not_yet_valid",
            Reason::IssuedInFuture => "issued_in_future",
            Reason::ClaimMismatch => "claim_mismatch",
            Reason::MissingClaim => "missing_claim",
            Reason::InvalidClaim => "invalid_claim",
            Reason::AlgNotAllowed => "alg_not_allowed",
            Reason::MaxLifetimeExceeded => "max_lifetime_exceeded",
            Reason::Reused => "reused",
            Reason::Revoked => "revoked",
            Reason::TooLarge => "too_large",
            Reason::NoMatchingKey => "no_matching_key",
            Reason::CritUnsupported => "crit_unsupported",
            Reason::TypMismatch => "typ_mismatch",
            Reason::ExpiresTooSoon => "expires_too_soon",
            Reason::TooOld => "too_old",
            Reason::KeyError => "key_error",
            Reason::Usage => "usage",
            Reason::IoError => "io_error",
            Reason::LedgerError => "ledger_error",
            Reason::JwksUnavailable => "jwks_unavailable",
            Reason::PolicyError => "policy_error",
            Reason::LogError => "log_error",
            Reason::LogTampered => "log_tampered",
        }
    }

    /// True when the token itself was refused (exit 1), as opposed to a configuration problem.
    pub fn is_rejection(self) -> bool {
        self.exit_status() == Exit::Rejected
    }

    /// The documented exit status for this reason.
    pub fn exit_status(self) -> Exit {
        match self {
            Reason::Malformed
            | Reason::BadSignature
            | Reason::Expired
            | Reason::NotYetValid
            | Reason::IssuedInFuture
            | Reason::ClaimMismatch
            | Reason::MissingClaim
            | Reason::InvalidClaim
            | Reason::AlgNotAllowed
            | Reason::MaxLifetimeExceeded
            | Reason::Reused
            | Reason::Revoked
            | Reason::TooLarge
            | Reason::NoMatchingKey
            | Reason::CritUnsupported
            | Reason::TypMismatch
            | Reason::ExpiresTooSoon
            | Reason::TooOld
            | Reason::LogTampered => Exit::Rejected,
            Reason::KeyError
            | Reason::Usage
            | Reason::IoError
            | Reason::LedgerError
            | Reason::JwksUnavailable
            | Reason::PolicyError => Exit::Config,
            Reason::LogError => Exit::Log,
        }
    }
}

/// The exit codes, as the README and docs/reference.md list them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// 0: the operation succeeded.
    Success = 0,
    /// 1: the token was rejected.
    Rejected = 1,
    /// 2: usage or configuration error.
    Config = 2,
    /// 3: the security log could not be written.
    Log = 3,
}

impl Exit {
    /// The number the process exits with.
    pub fn code(self) -> i32 {
        self as i32
    }
}

/// A failed operation: a stable reason and a one-line message in our own words that says what
/// to do. Library error text is never put in the message, since it can echo hostile input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    reason: Reason,
    message: String,
    /// The claim a rejection is about (its name, never its value), for the record's `claim`.
    claim: Option<String>,
    /// The policy rule a rejection is about: its path in the policy file, and what it expected.
    rule: Option<Box<RuleRef>>,
    /// For a rejection after the token's signature checked out: what it says about itself.
    signed: Option<Box<Signed>>,
}

/// What a token whose signature checked out says about itself (`iss`, `sub`, `jti`, its
/// header's `kid`), for the record of a rejection reached after that (expired, revoked, a claim
/// that does not match).
///
/// Invariant: only a token's authenticated claims become a `Signed`, so a rejection's record
/// names who a token is only when its signature was verified; claims of a token refused before
/// that (malformed, a bad signature, an algorithm not allowed) are attacker-controlled and are
/// never recorded (see `token::Authenticated::signed` and SECURITY.md).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Signed {
    pub iss: Option<String>,
    pub sub: Option<String>,
    pub jti: Option<String>,
    pub kid: Option<String>,
}

/// A policy rule a token failed: its path in the policy file (`issuer[0].rule[2]`) and what it
/// expected, in words from the policy (never from the token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleRef {
    pub path: String,
    pub expected: String,
}

impl Error {
    pub fn new(reason: Reason, message: impl Into<String>) -> Self {
        Error {
            reason,
            message: message.into(),
            claim: None,
            rule: None,
            signed: None,
        }
    }

    /// A rejection of a token whose signature checked out, with what it says about itself; a
    /// failure (not a rejection) is left as it is.
    pub fn signed_by(mut self, signed: Signed) -> Self {
        if self.reason.is_rejection() {
            self.signed = Some(Box::new(signed));
        }
        self
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Error::new(Reason::Usage, message)
    }

    pub fn key(message: impl Into<String>) -> Self {
        Error::new(Reason::KeyError, message)
    }

    pub fn io(message: impl Into<String>) -> Self {
        Error::new(Reason::IoError, message)
    }

    pub fn log(message: impl Into<String>) -> Self {
        Error::new(Reason::LogError, message)
    }

    pub fn rejected(reason: Reason, message: impl Into<String>) -> Self {
        Error::new(reason, message)
    }

    /// Name the claim this rejection is about (a name from jwtctl or its command line).
    pub fn with_claim(mut self, name: &str) -> Self {
        self.claim = Some(name.to_owned());
        self
    }

    /// The claim this rejection is about, if it is about one.
    pub fn claim(&self) -> Option<&str> {
        self.claim.as_deref()
    }

    /// Name the policy rule this rejection is about.
    pub fn with_rule(mut self, path: impl Into<String>, expected: impl Into<String>) -> Self {
        self.rule = Some(Box::new(RuleRef {
            path: path.into(),
            expected: expected.into(),
        }));
        self
    }

    pub fn reason(&self) -> Reason {
        self.reason
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn exit_status(&self) -> Exit {
        self.reason.exit_status()
    }
}

impl fmt::Display for Error {
    /// The stderr line, less the `jwtctl: ` prefix.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.reason.is_rejection() {
            write!(
                f,
                "token rejected: {}: {}",
                self.reason.code(),
                self.message
            )
        } else {
            f.write_str(&self.message)
        }
    }
}

/// Why a token was refused: a normal result (exit 1), not a failure. The token core and the
/// ledger raise it as an [`Error`] with a rejection reason; [`Error::into_rejection`] takes it
/// out at the boundary where a verdict is made (`token::Verdict::of`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    reason: Reason,
    message: String,
    /// The claim the rejection is about (its name, never its value), for the record's `claim`.
    claim: Option<String>,
    /// The policy rule the rejection is about.
    rule: Option<Box<RuleRef>>,
    /// What the token says about itself, when its signature checked out ([`Signed`]).
    signed: Option<Box<Signed>>,
}

impl Rejection {
    /// The stable reason code's reason: one with exit 1 ([`Reason::is_rejection`]), but for a
    /// batch line's configuration failure ([`Error::into_line_refusal`]).
    pub fn reason(&self) -> Reason {
        self.reason
    }

    /// The same rejection with `hint` (what to try) after its message.
    pub fn with_hint(mut self, hint: &str) -> Self {
        self.message.push_str("; ");
        self.message.push_str(hint);
        self
    }

    /// What is wrong with the token, in our words.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The claim this rejection is about, if it is about one.
    pub fn claim(&self) -> Option<&str> {
        self.claim.as_deref()
    }

    /// What the token says about itself, when it was rejected after its signature checked out.
    pub fn signed(&self) -> Option<&Signed> {
        self.signed.as_deref()
    }

    /// The same rejection of a token whose signature checked out, with what it says about itself.
    pub fn signed_by(mut self, signed: Signed) -> Self {
        self.signed = Some(Box::new(signed));
        self
    }

    /// The policy rule this rejection is about, if a policy refused the token.
    pub fn rule(&self) -> Option<&RuleRef> {
        self.rule.as_deref()
    }

    /// The rejection as a policy says it: under the setting or rule `path` (what a policy
    /// replaced a flag with), in `message`'s words.
    pub fn under_policy(mut self, path: String, expected: String, message: String) -> Rejection {
        self.rule = Some(Box::new(RuleRef { path, expected }));
        self.message = message;
        self
    }
}

impl Rejection {
    /// The same rejection about `claim` (its name), when it names one.
    pub fn about(mut self, claim: Option<String>) -> Rejection {
        if claim.is_some() {
            self.claim = claim;
        }
        self
    }
}

/// A rejection carried on as an error, for a command whose verdict is reached by `?`
/// (`refresh`, `revoke`); [`Error::into_rejection`] gives it back unchanged.
impl From<Rejection> for Error {
    fn from(r: Rejection) -> Error {
        Error {
            reason: r.reason,
            message: r.message,
            claim: r.claim,
            rule: r.rule,
            signed: r.signed,
        }
    }
}

impl fmt::Display for Rejection {
    /// The stderr line, less the `jwtctl: ` prefix.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "token rejected: {}: {}",
            self.reason.code(),
            self.message
        )
    }
}

impl Error {
    /// The rejection this error carries, or the error itself when it is a failure (usage,
    /// configuration, I/O, log).
    pub fn into_rejection(self) -> Result<Rejection, Error> {
        if !self.reason.is_rejection() {
            return Err(self);
        }
        Ok(Rejection {
            reason: self.reason,
            message: self.message,
            claim: self.claim,
            rule: self.rule,
            signed: self.signed,
        })
    }
}

impl Error {
    /// A failure confined to one token of a batch (under a policy, the keys of the issuer one
    /// line names could not be loaded): that line is refused with the failure's own reason
    /// (`key_error`, `jwks_unavailable`: exit 2), and the batch judges the other lines.
    pub fn into_line_refusal(self) -> Rejection {
        Rejection {
            reason: self.reason,
            message: self.message,
            claim: self.claim,
            rule: self.rule,
            // No key checked the token: its claims are the sender's word, never recorded.
            signed: None,
        }
    }
}

impl std::error::Error for Error {}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Our words for an I/O error (the OS text, without the library's decoration).
pub fn io_words(e: &std::io::Error) -> String {
    use std::io;
    if is_name_lookup_failure(e) {
        return "the host name does not resolve".into();
    }
    match e.kind() {
        io::ErrorKind::NotFound => "no such file".into(),
        io::ErrorKind::PermissionDenied => "permission denied".into(),
        io::ErrorKind::IsADirectory => "it is a directory".into(),
        io::ErrorKind::StorageFull => "no space left on device".into(),
        io::ErrorKind::FileTooLarge => "it is larger than 1 MiB, the limit for key, JWK Set \
                                        and claims files"
            .into(),
        _ => e.kind().to_string(),
    }
}

/// Whether `e` is a failed name lookup (getaddrinfo), which std reports with an error kind of
/// no name ("uncategorized") and a message of its own that names the lookup; recognised by that
/// fixed prefix only, so no resolver or attacker text is ever passed on.
pub fn is_name_lookup_failure(e: &std::io::Error) -> bool {
    e.get_ref().is_some_and(|inner| {
        inner
            .to_string()
            .starts_with("failed to lookup address information")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejections_exit_1_and_name_their_reason() {
        let e = Error::rejected(Reason::Expired, "the token expired 5s ago");
        assert_eq!(e.exit_status(), Exit::Rejected);
        assert_eq!(
            e.to_string(),
            "token rejected: expired: the token expired 5s ago"
        );
    }

    #[test]
    fn a_rejection_leaves_the_error_type_and_a_failure_stays() {
        let e = Error::rejected(Reason::ClaimMismatch, "aud is not api").with_claim("aud");
        let r = e.clone().into_rejection().unwrap();
        assert_eq!(
            (r.reason(), r.claim()),
            (Reason::ClaimMismatch, Some("aud"))
        );
        assert_eq!(r.to_string(), e.to_string());
        assert_eq!(Error::key("x").into_rejection(), Err(Error::key("x")));
    }

    #[test]
    fn a_failed_name_lookup_is_said_in_our_words() {
        use std::net::ToSocketAddrs;
        let e = "nohost.invalid:443".to_socket_addrs().unwrap_err();
        assert_eq!(io_words(&e), "the host name does not resolve");
        let other = std::io::Error::other("failed");
        assert!(!is_name_lookup_failure(&other));
    }

    #[test]
    fn configuration_errors_exit_2_and_log_errors_exit_3() {
        assert_eq!(Error::key("x").exit_status(), Exit::Config);
        assert_eq!(Error::usage("x").exit_status(), Exit::Config);
        assert_eq!(Error::io("x").exit_status(), Exit::Config);
        assert_eq!(Error::log("x").exit_status(), Exit::Log);
        assert_eq!(Error::usage("use --ttl").to_string(), "use --ttl");
    }
}
