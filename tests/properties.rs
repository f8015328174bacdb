//! Properties, through the library API: issue → sign → verify gives the claims back for every
//! algorithm jwtctl supports, and any string in any record field is written as exactly one JSON
//! line that parses back to the same value.

use std::fs;
use std::path::Path;
use std::sync::LazyLock;

use jwtctl::audit::{Audit, LogConfig, Record};
use jwtctl::keys::{self, Keyring, Secret};
use jwtctl::token::Algorithm;
use jwtctl::token::{self, Claims, IssueRequest, Policy};
use proptest::prelude::*;
use serde_json::Value;

/// The instant tokens are issued and verified at (2027-01-15T08:00:00Z).
const NOW: i64 = 1_800_000_000;

/// Claims `issue` sets itself (and refuses in `--claims`), and those the policy checks by value.
const NOT_EXTRA: [&str; 8] = ["exp", "iat", "nbf", "jti", "orig_iat", "aud", "iss", "sub"];

fn fixture_key(name: &str) -> Keyring {
    let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/keys")
        .join(name);
    let material = fs::read(&path).expect("a key fixture");
    Keyring::One(keys::classify(&Secret::new(material)).expect("the fixture loads"))
}

static HMAC: LazyLock<Keyring> = LazyLock::new(|| {
    let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
    let secret: Vec<u8> = (0..64u8).map(|i| b'A' + i % 58).collect();
    Keyring::One(keys::classify(&Secret::new(secret)).expect("a 64-byte secret"))
});
static RSA: LazyLock<Keyring> = LazyLock::new(|| fixture_key("rsa_pkcs8.pem"));
static EC256: LazyLock<Keyring> = LazyLock::new(|| fixture_key("ec256_pkcs8.pem"));
static EC384: LazyLock<Keyring> = LazyLock::new(|| fixture_key("ec384_pkcs8.pem"));
static EC521: LazyLock<Keyring> = LazyLock::new(|| fixture_key("ec521_sec1.pem"));
static ED25519: LazyLock<Keyring> = LazyLock::new(|| fixture_key("ed25519.pem"));

/// Characters that break naive escaping, and any other `char`.
fn character() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => any::<char>(),
        2 => prop::sample::select(vec![
            '\0', '\n', '\r', '\t', '\u{8}', '\u{c}', '"', '\\', '/', '\u{7f}', '\u{1b}',
            '\u{85}', '\u{2028}', '\u{2029}', '\u{feff}', '\u{fffd}', 'é', '\u{1f600}',
            '\u{9b}', '\u{9d}', '\u{202e}', '\u{2066}', ']',
        ]),
        1 => (0x20u8..0x7f).prop_map(char::from),
    ]
}

/// A string of up to `max` characters (4 bytes at most each).
fn text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(character(), 0..=max).prop_map(String::from_iter)
}

/// JSON numbers: integers of either sign and width, short decimals, and any finite float (which
/// must come back bit-exact: jwtctl builds serde_json with `float_roundtrip`).
fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (any::<i32>(), 0..7i32).prop_map(|(m, k)| Value::from(f64::from(m) / 10f64.powi(k))),
        any::<f64>()
            .prop_filter("JSON has no NaN or infinity", |f| f.is_finite())
            .prop_map(Value::from),
    ]
}

/// Arbitrary JSON: null, bools, numbers, strings, and arrays and objects nested a few deep.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number(),
        text(24).prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((text(12), inner), 0..5)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// Extra claims for `--claims`: any names but the reserved and the policy-checked ones.
fn extra_claims() -> impl Strategy<Value = Claims> {
    let name = text(12).prop_filter("a claim jwtctl sets or checks", |n| {
        !NOT_EXTRA.contains(&n.as_str())
    });
    prop::collection::vec((name, json()), 0..8).prop_map(|kv| kv.into_iter().collect())
}

/// What one round trip issues: extra claims, sub, iss, aud, TTL, jti and kid.
#[derive(Debug, Clone)]
struct Issued {
    extra: Claims,
    sub: Option<String>,
    iss: Option<String>,
    aud: Vec<String>,
    ttl_secs: i64,
    jti: String,
    kid: Option<String>,
}

fn issued() -> impl Strategy<Value = Issued> {
    (
        extra_claims(),
        prop::option::of(text(16)),
        prop::option::of(text(16)),
        prop::collection::vec(text(8), 0..3),
        1i64..=10 * 365 * 86_400,
        text(16),
        prop::option::of(text(8)),
    )
        .prop_map(|(extra, sub, iss, aud, ttl_secs, jti, kid)| Issued {
            extra,
            sub,
            iss,
            aud,
            ttl_secs,
            jti,
            kid,
        })
}

/// Issue, sign with `alg` and verify with a policy pinned to it and expecting sub, iss and aud:
/// the claims and the header's `kid` come back as issued.
fn round_trip(keys: &Keyring, alg: Algorithm, case: Issued) -> Result<(), TestCaseError> {
    let req = IssueRequest {
        base: case.extra.clone(),
        sub: case.sub.clone(),
        iss: case.iss.clone(),
        aud: case.aud.clone(),
        ttl_secs: case.ttl_secs,
        ..IssueRequest::default()
    };
    let claims = token::issue_claims(&req, NOW, &case.jti)
        .map_err(|e| TestCaseError::fail(format!("issue_claims: {}", e.message())))?;
    let key = keys
        .select(alg, None)
        .expect("the key serves the algorithm");
    let signer = key
        .signer("issue", alg, case.kid.clone())
        .expect("a private key");
    let jwt = token::sign(&claims, Some("JWT"), &signer)
        .map_err(|e| TestCaseError::fail(format!("sign: {}", e.message())))?;
    let policy = Policy {
        iss: case.iss.clone(),
        sub: case.sub.clone(),
        aud: case.aud.clone(),
        max_size: 1 << 20,
        ..Policy::new(vec![alg])
    };
    let verified = token::verify(&jwt, keys, &policy, NOW)
        .map_err(|e| TestCaseError::fail(format!("verify: {}", e.message())))?;
    prop_assert_eq!(verified.alg, alg);
    prop_assert_eq!(verified.header_str("kid"), case.kid.as_deref());
    prop_assert_eq!(&verified.claims, &claims);
    for (name, value) in &case.extra {
        prop_assert_eq!(verified.claims.get(name), Some(value));
    }
    prop_assert_eq!(
        token::seconds(&verified.claims, "exp"),
        Some(NOW + case.ttl_secs)
    );
    Ok(())
}

macro_rules! round_trips {
    ($($name:ident: $keys:ident, $alg:ident;)*) => {
        proptest! {
            #![proptest_config(ProptestConfig::with_cases(64))]
            $(
                #[test]
                fn $name(case in issued()) {
                    round_trip(&$keys, Algorithm::$alg, case)?;
                }
            )*
        }
    };
}

round_trips! {
    round_trip_hs256: HMAC, HS256;
    round_trip_hs384: HMAC, HS384;
    round_trip_hs512: HMAC, HS512;
    round_trip_rs256: RSA, RS256;
    round_trip_rs384: RSA, RS384;
    round_trip_rs512: RSA, RS512;
    round_trip_ps256: RSA, PS256;
    round_trip_ps384: RSA, PS384;
    round_trip_ps512: RSA, PS512;
    round_trip_es256: EC256, ES256;
    round_trip_es384: EC384, ES384;
    round_trip_es512: EC521, ES512;
    round_trip_eddsa: ED25519, EdDSA;
    round_trip_ed25519: ED25519, Ed25519;
}

/// The log's lines, each with its newline; empty when it does not exist yet.
fn log_lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .split_inclusive('\n')
        .map(str::to_owned)
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Any strings under the 1 KiB field bound (any Unicode: newlines, U+2028, quotes,
    /// backslashes, NUL) in every string field: one more line in the log, and it parses back to
    /// exactly those strings.
    #[test]
    fn any_record_strings_are_one_json_line(
        sub in text(255),
        jti in text(255),
        parent_jti in text(255),
        kid in text(255),
        key_source in text(255),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("security.log");
        let audit = Audit::open(&LogConfig::at(path.clone())).unwrap();
        let before = log_lines(&path);
        let record = Record {
            sub: Some(sub.clone()),
            jti: Some(jti.clone()),
            parent_jti: Some(parent_jti.clone()),
            kid: Some(kid.clone()),
            key_source: Some(key_source.clone()),
            ..Record::new("verify")
        };
        audit.emit(tracing::Level::ERROR, &record).unwrap();
        drop(audit);
        let after = log_lines(&path);
        prop_assert_eq!(after.len(), before.len() + 1, "{:?}", after);
        prop_assert_eq!(&after[..before.len()], &before[..]);
        let line = &after[before.len()];
        prop_assert!(line.ends_with('\n'));
        let value: Value = serde_json::from_str(line).unwrap();
        for (name, want) in [
            ("sub", &sub),
            ("jti", &jti),
            ("parent_jti", &parent_jti),
            ("kid", &kid),
            ("key_source", &key_source),
        ] {
            prop_assert_eq!(value.get(name).and_then(Value::as_str), Some(want.as_str()), "{}", name);
        }
        prop_assert_eq!(value.get("op").and_then(Value::as_str), Some("verify"));
    }

    /// The same record lines as syslog messages: no control, separator or bidi character
    /// anywhere, and the MSG (after the structured data) parses back to the record.
    #[test]
    fn any_record_strings_make_a_clean_syslog_message(sub in text(255), kid in text(255)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("security.log");
        let audit = Audit::open(&LogConfig::at(path.clone())).unwrap();
        let record = Record { sub: Some(sub), kid: Some(kid), ..Record::new("verify") };
        audit.emit(tracing::Level::ERROR, &record).unwrap();
        drop(audit);
        let line = log_lines(&path).pop().unwrap();
        let message = jwtctl::audit::syslog_message(&line, NOW, "host");
        let raw: Vec<char> = message
            .chars()
            .filter(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'))
            .collect();
        prop_assert!(raw.is_empty(), "{:?} in {:?}", raw, message);
        let want: Value = serde_json::from_str(&line).unwrap();
        let json = &message[message.rfind(" {\"seq\"").unwrap() + 1..];
        let got: Value = serde_json::from_str(json).unwrap();
        prop_assert_eq!(got, want);
    }
}
