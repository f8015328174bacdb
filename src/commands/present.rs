//! The one presenter: every outcome (a result, a token's verdict, a failure) as what goes to
//! stdout, the stderr line and the exit code, in the style the command line asks for; and the
//! line a batch prints for each token. Pure: `lib` writes what it returns.

use serde::Serialize;
use serde_json::{Map, Value};

use super::policy::Passed;
use crate::cli::{Command, Output};
use crate::error::{Error, Exit, Reason, Rejection};
use crate::escape::json_escaped;
use crate::token::{Verdict, Verified};

/// The one message for a result stdout cannot take (closed, full, its reader gone), whether the
/// check before the command finds it or the final write does; what follows it says what was
/// done ([`lost`]).
pub const UNDELIVERED: &str = "stdout cannot be written (closed, full, or its reader has gone), \
     so the result could not be delivered";

/// What a command that succeeded had done when its result then could not be written (the final
/// write failed after the check before the command passed: a reader that left in between, a
/// disk that filled): the end of the stderr line, and the `event` of its ERROR `io_error`
/// record (none: nothing was done, as when the check fails).
pub fn lost(command: &Command) -> (&'static str, Option<&'static str>) {
    use crate::cli::{CacheAction, KeyAction, LedgerAction, LogAction};
    match command {
        // Invariant: the ledger consumed the presented token inside the transaction that wrote
        // the refresh's record, before the new token was printed (the record and the state
        // change happen together); so the presented token is used up and the new one is lost,
        // and both the message and the record say so.
        Command::Refresh(args) if args.dry_run => ("nothing was done", None),
        Command::Refresh(args) if args.check.ledger.is_some() => (
            "the presented token was used up (the ledger consumed it) and the new token is \
             lost: the presented token cannot be refreshed again; get a new one by signing in",
            Some("token_used_up"),
        ),
        Command::Refresh(_) => (
            "the new token is lost (nothing was consumed: refresh again)",
            Some("output_lost"),
        ),
        Command::Issue(_) => (
            "the token was signed (its record stands) but is lost: issue another",
            Some("output_lost"),
        ),
        Command::Revoke(_) => (
            "the revocation was done and stands; only its id was not printed",
            Some("output_lost"),
        ),
        Command::Key(key)
            if !matches!(key.action, KeyAction::Public(_) | KeyAction::Thumbprint(_)) =>
        {
            (
                "what it did stands (see its record); only its output was lost",
                Some("output_lost"),
            )
        }
        Command::Ledger(ledger)
            if matches!(
                ledger.action,
                LedgerAction::Init(_) | LedgerAction::Prune(_)
            ) =>
        {
            (
                "what it did stands (see its record); only its output was lost",
                Some("output_lost"),
            )
        }
        Command::Cache(cache) if matches!(cache.action, CacheAction::Clear(_)) => (
            "what it did stands (see its record); only its output was lost",
            Some("output_lost"),
        ),
        Command::Log(log) if matches!(log.action, LogAction::Seal(_)) => (
            "the sealing is set up but its verify key is lost; the log cannot be sealed again: \
             keep it with --verify-key-out FILE next time",
            Some("output_lost"),
        ),
        _ => ("nothing was done", None),
    }
}

/// How a token's verdict is shown: only a single `verify` has a choice, every other command
/// (and a batch's failures) shows [`Style::Text`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// A valid token's claims line on stdout; a rejection or a failure as one stderr line.
    Text,
    /// One JSON object on stdout for a valid or rejected token, and for a failure too unless
    /// it is a log failure (exit 3): `verify --output json`.
    Json,
    /// Nothing for a valid or rejected token, only the exit code; a failure still says what is
    /// wrong on stderr: `verify --quiet`.
    Quiet,
}

impl Style {
    /// The style `command` asks for.
    pub fn of(command: &Command) -> Style {
        match command {
            Command::Verify(args) if args.batch => Style::Text,
            Command::Verify(args) if args.quiet => Style::Quiet,
            Command::Verify(args) if args.output() == Output::Json => Style::Json,
            _ => Style::Text,
        }
    }
}

/// What an outcome shows: text for stdout (possibly none), a line for stderr (without its
/// newline), and the exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    pub stdout: String,
    pub stderr: Option<String>,
    pub exit: Exit,
}

impl Shown {
    fn stdout(stdout: String, exit: Exit) -> Shown {
        Shown {
            stdout,
            stderr: None,
            exit,
        }
    }

    fn stderr(line: String, exit: Exit) -> Shown {
        Shown {
            stdout: String::new(),
            stderr: Some(line),
            exit,
        }
    }
}

/// A verdict on something other than a token (a tampered log): its report on stdout when there
/// is one, else its one line on stderr; the reason's exit code.
pub fn broken(reason: Reason, message: &str, stdout: String) -> Shown {
    match stdout.is_empty() {
        true => Shown::stderr(format!("jwtctl: {message}"), reason.exit_status()),
        false => Shown::stdout(stdout, reason.exit_status()),
    }
}

/// A command's result, printed as it is (exit 0).
pub fn result(text: String) -> Shown {
    Shown::stdout(text, Exit::Success)
}

/// A token `verify` found valid: its claims as one line of JSON (in the token's order), the
/// JSON verdict, or nothing.
pub fn valid(token: &Verified, passed: Option<&Passed>, style: Style) -> Shown {
    let stdout = match style {
        // Claims reach the terminal with controls and bidi characters escaped.
        Style::Text => format!(
            "{}\n",
            json_escaped(&Value::from(token.claims.clone()).to_string())
        ),
        Style::Json => Json::valid(token, passed, None).line(),
        Style::Quiet => String::new(),
    };
    Shown::stdout(stdout, Exit::Success)
}

/// A rejected token (exit 1): `jwtctl: token rejected: REASON: MESSAGE` on stderr, the JSON
/// verdict on stdout, or nothing.
pub fn rejected(rejection: &Rejection, style: Style) -> Shown {
    match style {
        Style::Text => Shown::stderr(format!("jwtctl: {rejection}"), Exit::Rejected),
        Style::Json => Shown::stdout(Json::rejected(rejection, None).line(), Exit::Rejected),
        Style::Quiet => Shown::stdout(String::new(), Exit::Rejected),
    }
}

/// A failure (usage, configuration, I/O, log): one stderr line, a usage error naming the help of
/// `op` when given; with [`Style::Json`] a verdict on stdout instead, so that a script piping into
/// jq sees one, except for a log failure, which leaves stdout empty.
pub fn failure(error: &Error, style: Style, op: Option<&str>) -> Shown {
    if style == Style::Json && error.reason() != Reason::LogError {
        return Shown::stdout(Json::failed(error).line(), error.exit_status());
    }
    let help = match op {
        Some(op) if error.reason() == Reason::Usage => {
            format!("; see 'jwtctl {} --help'", op.replace('_', " "))
        }
        _ => String::new(),
    };
    Shown::stderr(format!("jwtctl: {error}{help}"), error.exit_status())
}

/// The line `verify --batch` prints for the token on line `line` of its input.
pub fn batch_line(verdict: &Verdict, passed: Option<&Passed>, line: u64) -> String {
    match verdict {
        Verdict::Valid(token) => Json::valid(token, passed, Some(line)),
        Verdict::Rejected(rejection) => Json::rejected(rejection, Some(line)),
    }
    .line()
}

/// `{"line":N,"valid":true,"header":{..},"claims":{..}}` or
/// `{"line":N,"valid":false,"reason":"..","message":".."}`; `line` only in a batch. The one JSON
/// shape of a verdict, single or batch.
#[derive(Debug, Serialize)]
struct Json<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<u64>,
    valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    header: Option<&'a Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    claims: Option<&'a Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
    /// With `--policy`: the rule that refused the token, its claim and what it expected; or,
    /// for a token let through, the policy and the identity it passed.
    #[serde(skip_serializing_if = "Option::is_none")]
    rule: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    claim: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expected: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    policy: Option<&'a Passed>,
}

impl<'a> Json<'a> {
    fn valid(token: &'a Verified, passed: Option<&'a Passed>, line: Option<u64>) -> Json<'a> {
        Json {
            line,
            valid: true,
            header: Some(&token.header),
            claims: Some(&token.claims),
            reason: None,
            message: None,
            rule: None,
            claim: None,
            expected: None,
            policy: passed,
        }
    }

    fn refused(reason: Reason, message: &'a str, line: Option<u64>) -> Json<'a> {
        Json {
            line,
            valid: false,
            header: None,
            claims: None,
            reason: Some(reason.code()),
            message: Some(message),
            rule: None,
            claim: None,
            expected: None,
            policy: None,
        }
    }

    fn rejected(rejection: &'a Rejection, line: Option<u64>) -> Json<'a> {
        let json = Json::refused(rejection.reason(), rejection.message(), line);
        match rejection.rule() {
            Some(rule) => Json {
                rule: Some(&rule.path),
                claim: rejection.claim(),
                expected: Some(&rule.expected),
                ..json
            },
            None => json,
        }
    }

    fn failed(error: &'a Error) -> Json<'a> {
        Json::refused(error.reason(), error.message(), None)
    }

    /// One line of JSON and its newline; header and claims come from the token, so C1 controls
    /// and bidi/format characters in them are `\uXXXX` escapes (serde_json escapes only C0).
    fn line(&self) -> String {
        let text = serde_json::to_string(self).unwrap_or_default();
        format!("{}\n", json_escaped(&text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Result;
    use crate::token::Algorithm;
    use crate::token::{self, KeySource, Policy};
    use jsonwebtoken::{DecodingKey, EncodingKey, Header};

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    struct One(DecodingKey);

    impl KeySource for One {
        fn key_for(&self, _alg: Algorithm, _kid: Option<&str>) -> Result<&DecodingKey> {
            Ok(&self.0)
        }
    }

    /// A verified token whose `sub` carries a bidi override (U+202E), which must never reach
    /// a terminal raw.
    fn verified() -> Verified {
        let claims = serde_json::json!({"sub": "al\u{202e}ice", "exp": 2_000_000_000});
        let text = jsonwebtoken::encode(
            &Header::new(jsonwebtoken::Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap();
        let keys = One(DecodingKey::from_secret(SECRET));
        let policy = Policy::new(vec![Algorithm::HS256]);
        match token::judge(&text, &keys, &policy, 1_900_000_000.0).unwrap() {
            Verdict::Valid(verified) => verified,
            Verdict::Rejected(r) => panic!("valid: {r}"),
        }
    }

    fn rejection() -> Rejection {
        Error::rejected(Reason::Expired, "the token expired 5s ago")
            .into_rejection()
            .unwrap()
    }

    fn out(stdout: &str, exit: Exit) -> Shown {
        Shown::stdout(stdout.into(), exit)
    }

    fn err(line: &str, exit: Exit) -> Shown {
        Shown::stderr(line.into(), exit)
    }

    const CLAIMS: &str = r#"{"sub":"al\u202eice","exp":2000000000}"#;
    const HEADER: &str = r#"{"typ":"JWT","alg":"HS256"}"#;
    const EXPIRED: &str = r#""reason":"expired","message":"the token expired 5s ago"}"#;

    #[test]
    fn a_valid_token_in_each_style() {
        let token = verified();
        assert_eq!(
            valid(&token, None, Style::Text),
            out(&format!("{CLAIMS}\n"), Exit::Success)
        );
        assert_eq!(
            valid(&token, None, Style::Json),
            out(
                &format!("{{\"valid\":true,\"header\":{HEADER},\"claims\":{CLAIMS}}}\n"),
                Exit::Success
            )
        );
        assert_eq!(valid(&token, None, Style::Quiet), out("", Exit::Success));
    }

    #[test]
    fn a_rejected_token_in_each_style() {
        let r = rejection();
        assert_eq!(
            rejected(&r, Style::Text),
            err(
                "jwtctl: token rejected: expired: the token expired 5s ago",
                Exit::Rejected
            )
        );
        assert_eq!(
            rejected(&r, Style::Json),
            out(&format!("{{\"valid\":false,{EXPIRED}\n"), Exit::Rejected)
        );
        assert_eq!(rejected(&r, Style::Quiet), out("", Exit::Rejected));
    }

    #[test]
    fn a_failure_in_each_style() {
        let usage = Error::usage("--ttl must be positive");
        let line = "jwtctl: --ttl must be positive; see 'jwtctl key public --help'";
        for style in [Style::Text, Style::Quiet] {
            assert_eq!(
                failure(&usage, style, Some("key_public")),
                err(line, Exit::Config)
            );
        }
        assert_eq!(
            failure(&usage, Style::Text, None),
            err("jwtctl: --ttl must be positive", Exit::Config)
        );
        let key = Error::key("no key");
        assert_eq!(
            failure(&key, Style::Text, Some("verify")),
            err("jwtctl: no key", Exit::Config),
            "only a usage error points to the help"
        );
        assert_eq!(
            failure(&key, Style::Json, Some("verify")),
            out(
                "{\"valid\":false,\"reason\":\"key_error\",\"message\":\"no key\"}\n",
                Exit::Config
            )
        );
        let log = Error::log("the log is full");
        assert_eq!(
            failure(&log, Style::Json, Some("verify")),
            err("jwtctl: the log is full", Exit::Log),
            "a log failure leaves stdout empty"
        );
    }

    #[test]
    fn a_result_prints_as_it_is() {
        assert_eq!(result("ready\n".into()), out("ready\n", Exit::Success));
    }

    #[test]
    fn batch_lines_carry_their_number_in_the_single_shape() {
        assert_eq!(
            batch_line(&Verdict::Valid(verified()), None, 1),
            format!("{{\"line\":1,\"valid\":true,\"header\":{HEADER},\"claims\":{CLAIMS}}}\n")
        );
        assert_eq!(
            batch_line(&Verdict::Rejected(rejection()), None, 4),
            format!("{{\"line\":4,\"valid\":false,{EXPIRED}\n")
        );
    }

    #[test]
    fn only_a_single_verify_chooses_a_style() {
        use clap::Parser;
        let style = |args: &[&str]| {
            let cli = crate::cli::Cli::try_parse_from(args).unwrap();
            Style::of(&cli.command)
        };
        assert_eq!(
            style(&["jwtctl", "verify", "--output", "json", "t"]),
            Style::Json
        );
        assert_eq!(
            style(&["jwtctl", "verify", "-q", "--output", "json", "t"]),
            Style::Quiet
        );
        assert_eq!(style(&["jwtctl", "verify", "t"]), Style::Text);
        assert_eq!(style(&["jwtctl", "verify", "--batch", "-q"]), Style::Text);
        assert_eq!(
            style(&["jwtctl", "inspect", "--output", "json", "t"]),
            Style::Text
        );
    }
}
