//! The fuzz targets' logic, in one place: each `fuzz/fuzz_targets/<name>.rs` calls the function of
//! the same name here, and `tests/fuzz_replay.rs` runs every file of `fuzz/corpus/<name>/` and
//! `fuzz/artifacts/<name>/` through it under `cargo test`.
//!
//! Each function takes arbitrary bytes and returns normally; it panics only when jwtctl panics or
//! breaks one of the invariants asserted here. Included with `#[path]`, so it can use only what
//! both the fuzz crate and jwtctl's tests depend on: jwtctl, jsonwebtoken, serde_json, base64.
#![allow(dead_code)]

use std::io::{BufReader, Cursor};
use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::EncodingKey;
use jwtctl::commands::batch::{Line, read_line_bounded};
use jwtctl::error::{Error, Reason};
use jwtctl::keys::{self, JwkSet, KeyKind, Keyring, Secret, SetOrigin};
use jwtctl::token::{self, Algorithm, ClaimPath, Lifetime, Policy, Verified};
use serde_json::{Value, json};

/// The instant every target verifies as of (2027-01-15T08:00:00Z).
pub const NOW: i64 = 1_800_000_000;

/// The HMAC key of `verify_hmac` and `claims_policy` (40 bytes: strong enough for HS256).
pub const HMAC_SECRET: &[u8] = b"jwtctl-fuzz-hmac-secret-0123456789abcdef";

/// The ES256 key of `verify_es256`.
pub const ES256_PEM: &[u8] = include_bytes!("../tests/fixtures/keys/ec256_pkcs8.pem");

/// A fuzz target's logic: arbitrary bytes in, a panic only on a bug.
pub type Target = fn(&[u8]);

/// Every target, by name, as `tests/fuzz_replay.rs` runs them.
pub const TARGETS: [(&str, Target); 10] = [
    ("verify_hmac", verify_hmac),
    ("verify_es256", verify_es256),
    ("key_classify", key_classify),
    ("jwks_parse", jwks_parse),
    ("jwks_remote", jwks_remote),
    ("claims_policy", claims_policy),
    ("batch_lines", batch_lines),
    ("syslog_format", syslog_format),
    ("log_verify", log_verify),
    ("policy_file", policy_file),
];

/// The verify key the `log_verify` seeds are sealed with (`fuzz/make_log_seeds.py`).
pub const LOG_SEAL_KEY: &str = "jwtctl-seal-v1:00112233445566778899aabbccddeeff:1800000000:10:\
                                000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

/// `log verify`'s reader over arbitrary bytes, with and without the verify key: it returns a
/// report (never panics), and a report is consistent: an intact one names no break, seals are
/// records, and the seals it checked were checked with the key.
pub fn log_verify(data: &[u8]) {
    let key = jwtctl::audit::Seal::from_verify_key(LOG_SEAL_KEY).expect("the fuzz verify key");
    for key in [None, Some(key)] {
        let checked = key.is_some();
        let options = jwtctl::audit::verify::Options {
            key,
            // Bounds the epochs a seal may claim (the key's start, plus a day).
            now: Some(0),
            ..Default::default()
        };
        let report = jwtctl::audit::verify::verify_reader(
            std::path::Path::new("fuzz.log"),
            Cursor::new(data),
            options,
        )
        .expect("reading from memory cannot fail");
        assert_eq!(report.intact(), report.broken.is_none());
        assert!(report.seals <= report.records, "{report:?}");
        assert_eq!(report.seals_checked, checked);
        if report.intact() && checked && report.records > 0 {
            assert!(
                report.sealed,
                "a key-checked intact log holds its sealing: {report:?}"
            );
        }
    }
}

fn provider() {
    // What `jwtctl::execute` does first; a second install is refused, which is fine.
    let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
}

fn keyring(material: &[u8]) -> Keyring {
    provider();
    match keys::classify(&Secret::new(material.to_vec())) {
        Ok(key) => Keyring::One(key),
        Err(e) => panic!("the fuzz key does not load: {}", e.message()),
    }
}

static HMAC: LazyLock<Keyring> = LazyLock::new(|| keyring(HMAC_SECRET));
static ES256: LazyLock<Keyring> = LazyLock::new(|| keyring(ES256_PEM));

/// `claims_policy`'s strict policy: every claim check is switched on.
static STRICT: LazyLock<Policy> = LazyLock::new(|| Policy {
    leeway_secs: 30,
    iss: Some("https://issuer.example".into()),
    aud: vec!["api".into(), "web".into()],
    require: vec![ClaimPath::name("sub"), ClaimPath::name("scope")],
    min_remaining_secs: Some(60),
    max_age_secs: Some(3600),
    ..Policy::new(vec![Algorithm::HS256])
});

/// `claims_policy`'s lenient policy: leeway and a grace window, so more tokens reach `renew`.
static LENIENT: LazyLock<Policy> = LazyLock::new(|| Policy {
    leeway_secs: 300,
    grace_secs: 600,
    typ: Some("JWT".into()),
    ..Policy::new(vec![Algorithm::HS256])
});

/// Error messages are one line in jwtctl's own words: bounded, no control characters, whatever
/// the input echoed into them.
fn check_error(e: &Error) {
    let m = e.message();
    assert!(
        !m.chars().any(char::is_control),
        "an error message has a control character: {m:?}"
    );
    assert!(m.len() <= 1024, "an error message is {} bytes", m.len());
}

/// A verified token: an `exp` still ahead once leeway and grace are counted, the pinned
/// algorithm, and what `decode_unverified` reads from the same text.
fn check_verified(v: &Verified, text: &str, policy: &Policy) {
    assert!(policy.algs.contains(&v.alg));
    let exp = token::seconds(&v.claims, "exp").expect("a verified token has a numeric exp");
    assert!(exp.saturating_add(policy.leeway_secs + policy.grace_secs) >= NOW);
    let decoded = token::decode_unverified(text, policy.max_size)
        .expect("a verified token decodes without a key");
    assert_eq!((&decoded.header, &decoded.claims), (&v.header, &v.claims));
    let _ = token::grace_used(v, policy, NOW);
}

/// Arbitrary text through the verification path with one pinned algorithm.
fn verify_text(data: &[u8], keys: &Keyring, alg: Algorithm) {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let text = token::token_text(input);
    let policy = Policy::new(vec![alg]);
    if let Err(e) = token::decode_unverified(text, policy.max_size) {
        check_error(&e);
    }
    match token::verify(text, keys, &policy, NOW) {
        Ok(v) => check_verified(&v, text, &policy),
        Err(e) => check_error(&e),
    }
}

/// Arbitrary bytes as token text, verified with a fixed HMAC key (HS256 pinned).
pub fn verify_hmac(data: &[u8]) {
    verify_text(data, &HMAC, Algorithm::HS256);
}

/// Arbitrary bytes as token text, verified with a fixed ES256 key.
pub fn verify_es256(data: &[u8]) {
    verify_text(data, &ES256, Algorithm::ES256);
}

/// Arbitrary bytes as key material. A key that loads names an algorithm it serves; a key that
/// can sign verifies what it signs.
pub fn key_classify(data: &[u8]) {
    provider();
    let key = match keys::classify(&Secret::new(data.to_vec())) {
        Ok(key) => key,
        Err(e) => return check_error(&e),
    };
    let _ = format!("{key:?}");
    let alg = key
        .pick_alg(None)
        .expect("a loaded key has an algorithm of its own");
    assert!(key.kind.serves(alg));
    if let Err(e) = key.check_strength(alg, false) {
        check_error(&e);
    }
    if !key.can_sign() {
        return;
    }
    let claims = json!({"sub": "fuzz", "exp": NOW + 60});
    let Value::Object(claims) = claims else {
        unreachable!()
    };
    let signer = key
        .signer("fuzz", alg, Some("k".into()))
        .expect("a key that can sign has a signing half");
    let token = match token::sign(&claims, Some("JWT"), &signer) {
        Ok(token) => token,
        Err(e) => panic!("a private {:?} key cannot sign: {}", key.kind, e.message()),
    };
    drop(signer);
    let ring = Keyring::One(key);
    match token::verify(&token, &ring, &Policy::new(vec![alg]), NOW) {
        Ok(v) => assert_eq!(v.claims, claims),
        Err(e) => panic!(
            "a key does not verify its own {alg:?} token: {}",
            e.message()
        ),
    }
}

/// Arbitrary bytes as a JWK Set; a set that parses is asked for keys by algorithm and `kid`.
pub fn jwks_parse(data: &[u8]) {
    provider();
    let set = match JwkSet::parse(&Secret::new(data.to_vec())) {
        Ok(set) => set,
        Err(e) => return check_error(&e),
    };
    // The set's own kids (the first few), and kids no key has.
    let mut kids: Vec<Option<String>> = vec![None, Some(String::new()), Some("nope".into())];
    let doc: Value = serde_json::from_slice(data).unwrap_or_default();
    if let Some(Value::Array(entries)) = doc.get("keys") {
        let own = entries
            .iter()
            .filter_map(|e| e.get("kid").and_then(Value::as_str))
            .take(4)
            .map(|k| Some(k.to_owned()));
        kids.extend(own);
    }
    let algs = [
        Algorithm::HS256,
        Algorithm::HS512,
        Algorithm::RS256,
        Algorithm::PS384,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::ES512,
        Algorithm::EdDSA,
        Algorithm::Ed25519,
    ];
    for alg in algs {
        for kid in &kids {
            match set.select(alg, kid.as_deref()) {
                Ok(key) => {
                    assert!(key.kind.serves(alg), "{alg:?} selected {:?}", key.kind);
                    if let Some(kid) = kid {
                        assert_eq!(key.jwk_kid.as_deref(), Some(kid.as_str()));
                    }
                }
                Err(e) => {
                    assert_eq!(e.reason(), Reason::NoMatchingKey);
                    check_error(&e);
                }
            }
        }
    }
    let mut ring = Keyring::Set(set);
    for requested in [&[][..], &[Algorithm::HS256, Algorithm::ES256][..]] {
        match ring.algorithms(requested) {
            Ok(found) => assert!(!found.is_empty()),
            Err(e) => check_error(&e),
        }
    }
    for allow_weak in [false, true] {
        if let Err(e) = ring.check_strength(&[Algorithm::HS256, Algorithm::HS512], allow_weak) {
            check_error(&e);
        }
    }
}

/// Arbitrary bytes as a JWK Set fetched from a provider (`--jwks-url`, `--oidc`). Whatever it
/// holds, what loads is public asymmetric keys only: no key can sign, none is an HMAC secret, and
/// every member with secret or private parts is ignored, by kid; then as `jwks_parse`.
pub fn jwks_remote(data: &[u8]) {
    provider();
    let set = match JwkSet::parse_from(&Secret::new(data.to_vec()), SetOrigin::Remote) {
        Ok(set) => set,
        Err(e) => return check_error(&e),
    };
    let doc: Value = serde_json::from_slice(data).expect("a set that parsed is JSON");
    let entries = doc["keys"].as_array().expect("a set that parsed has keys");
    let private = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];
    let hostile: Vec<Option<&str>> = entries
        .iter()
        .filter_map(Value::as_object)
        .filter(|e| {
            e.get("kty") == Some(&json!("oct")) || private.iter().any(|m| e.contains_key(*m))
        })
        .map(|e| e.get("kid").and_then(Value::as_str))
        .collect();
    let ignored: Vec<Option<&str>> = set.ignored.iter().map(|i| i.kid.as_deref()).collect();
    assert_eq!(
        ignored, hostile,
        "the ignored members are exactly the secret and private ones"
    );
    let ring = Keyring::Set(set);
    for key in ring.keys() {
        assert!(!key.can_sign(), "a fetched set yielded a key that signs");
        assert_ne!(
            key.kind,
            KeyKind::Hmac,
            "a fetched set yielded an HMAC secret"
        );
        assert!(key.encoding("refresh").is_err());
    }
    let Keyring::Set(set) = ring else {
        unreachable!()
    };
    for alg in [
        Algorithm::HS256,
        Algorithm::ES256,
        Algorithm::RS256,
        Algorithm::EdDSA,
    ] {
        for kid in [None, Some("k"), Some("nope")] {
            if let Ok(key) = set.select(alg, kid) {
                assert!(key.verifies && key.kind.serves(alg) && !key.can_sign());
            }
        }
    }
    jwks_parse(data);
}

/// Sign `payload` (raw bytes) into an HS256 token with the fixed HMAC key.
pub fn hs256_token(payload: &[u8]) -> String {
    provider();
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let input = format!("{header}.{}", URL_SAFE_NO_PAD.encode(payload));
    let sig = jsonwebtoken::crypto::sign(
        input.as_bytes(),
        &EncodingKey::from_secret(HMAC_SECRET),
        jsonwebtoken::Algorithm::HS256,
    )
    .expect("HMAC signing does not fail");
    format!("{input}.{sig}")
}

/// Arbitrary bytes as a claims object, signed into a valid HS256 token and verified with every
/// claim check switched on, then refreshed with `renew`.
pub fn claims_policy(data: &[u8]) {
    let Ok(Value::Object(claims)) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let token = hs256_token(data);
    for policy in [&*STRICT, &*LENIENT] {
        match token::verify(&token, &*HMAC, policy, NOW) {
            Ok(v) => {
                assert_eq!(v.claims, claims);
                check_verified(&v, &token, policy);
                refresh(&v, policy);
            }
            Err(e) => {
                check_error(&e);
                // The signature is good and the payload is a JSON object: only a claim (or the
                // size) can be wrong.
                let size = token.len() > policy.max_size;
                assert!(
                    !matches!(
                        e.reason(),
                        Reason::Malformed
                            | Reason::BadSignature
                            | Reason::AlgNotAllowed
                            | Reason::NoMatchingKey
                            | Reason::CritUnsupported
                            | Reason::TypMismatch
                    ) && (e.reason() == Reason::TooLarge) == size,
                    "a well-signed token was refused as {:?}: {}",
                    e.reason(),
                    e.message()
                );
            }
        }
    }
}

/// Refresh a verified token as `jwtctl refresh` does: the new claims keep the family's start,
/// expire after now and no later than the cap, and are themselves verifiable.
fn refresh(v: &Verified, policy: &Policy) {
    let life = Lifetime {
        ttl_secs: 1800,
        leeway_secs: policy.leeway_secs,
        max_lifetime_secs: 86_400,
    };
    let renewal = match token::renew(v, NOW, life, "fuzz-jti") {
        Ok(r) => r,
        Err(e) => {
            check_error(&e);
            assert!(
                matches!(
                    e.reason(),
                    Reason::InvalidClaim | Reason::MaxLifetimeExceeded
                ),
                "renew refused as {:?}",
                e.reason()
            );
            return;
        }
    };
    let c = &renewal.claims;
    assert!(renewal.orig_iat <= NOW + life.leeway_secs);
    assert!(renewal.exp > NOW && renewal.exp <= NOW + life.ttl_secs);
    assert!(renewal.exp <= renewal.orig_iat.saturating_add(life.max_lifetime_secs));
    assert_eq!(c.get("exp"), Some(&Value::from(renewal.exp)));
    assert_eq!(c.get("iat"), Some(&Value::from(NOW)));
    assert_eq!(c.get("jti"), Some(&Value::from("fuzz-jti")));
    assert_eq!(c.get("orig_iat"), Some(&Value::from(renewal.orig_iat)));
    if v.claims.contains_key("nbf") {
        assert_eq!(c.get("nbf"), Some(&Value::from(NOW)));
    }
    let carried = |(name, value): (&String, &Value)| {
        ["exp", "iat", "nbf", "jti", "orig_iat"].contains(&name.as_str())
            || c.get(name) == Some(value)
    };
    assert!(
        v.claims.iter().all(carried),
        "renew dropped or changed a claim"
    );
    let text = serde_json::to_vec(c).expect("claims serialize");
    // The refreshed token passes the checks the old one passed, unless it now expires too soon
    // for --min-remaining (its exp was cut at the family's cap).
    let again = match token::verify(&hs256_token(&text), &*HMAC, policy, NOW) {
        Ok(again) => again,
        Err(e) => {
            assert_eq!(
                e.reason(),
                Reason::ExpiresTooSoon,
                "a refreshed token fails verification: {}",
                e.message()
            );
            return;
        }
    };
    // Every value comes back exactly, floats to the bit (serde_json's `float_roundtrip`).
    assert_eq!(&again.claims, c, "a refreshed token's claims changed");
    // And it can be refreshed in turn, in the same family: the cap does not move.
    match token::renew(&again, NOW, life, "fuzz-jti-2") {
        Ok(next) => assert_eq!(next.orig_iat, renewal.orig_iat, "the family start moved"),
        Err(e) => panic!(
            "a refreshed token cannot be refreshed again ({:?}): {}",
            e.reason(),
            e.message()
        ),
    }
}

/// Arbitrary bytes as `verify --batch` input: the first byte picks the line limit, the second
/// the reader's buffer size, the rest is the input. Each line comes back whole, or cut to exactly
/// the limit and marked, in order, as `split('\n')` would give them.
pub fn batch_lines(data: &[u8]) {
    let (limit, capacity, input) = match data {
        [l, c, rest @ ..] => (usize::from(*l), usize::from(*c % 64) + 1, rest),
        _ => return,
    };
    let mut expected: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
    if input.is_empty() || input.ends_with(b"\n") {
        expected.pop();
    }
    let mut reader = BufReader::with_capacity(capacity, Cursor::new(input));
    let mut line = Vec::new();
    let mut n = 0;
    while let Some(end) =
        read_line_bounded(&mut reader, &mut line, limit).expect("reading memory cannot fail")
    {
        assert!(line.len() <= limit, "a line of {} bytes", line.len());
        let whole = expected.get(n).expect("more lines than the input has");
        let overflow = matches!(end, Line::Cut(_));
        assert_eq!(overflow, whole.len() > limit);
        // A cut line is hashed whole, as its token text (ASCII whitespace and `Bearer ` off).
        if let (Line::Cut(hash), Ok(text)) = (end, std::str::from_utf8(whole)) {
            let trimmed = text.trim_matches(|c: char| c.is_ascii_whitespace());
            let token = token::token_text(trimmed);
            let lead = text.len() - text.trim_start().len();
            let plain = token.len() == token.trim().len() && trimmed.len() == text.trim().len();
            // The `Bearer ` scheme is looked for in the kept prefix (a batch keeps 64+ bytes).
            if plain && lead + 7 <= limit {
                let want = jwtctl::hash::sha256_hex(token.as_bytes());
                assert_eq!(hash.as_str(), want, "the hash of a cut line");
            }
        }
        assert_eq!(&line[..], &whole[..whole.len().min(limit)]);
        n += 1;
    }
    assert_eq!(n, expected.len(), "lines were lost");
}

/// Arbitrary bytes as the values of a record's fields (split at 0xff into op, sub, jti, kid and
/// peer; lossy UTF-8), formatted as the syslog sink sends the record. The message holds no
/// control, line-separator or bidi character, its header words are printable ASCII, its one
/// SD-ELEMENT closes, and its MSG parses back to the very record.
pub fn syslog_format(data: &[u8]) {
    let mut parts = data.split(|&b| b == 0xff).map(String::from_utf8_lossy);
    let mut record = serde_json::Map::new();
    record.insert("timestamp".into(), "2027-01-15T08:00:00.000000Z".into());
    record.insert("level".into(), "ERROR".into());
    for name in ["op", "sub", "jti", "kid", "peer"] {
        if let Some(value) = parts.next() {
            record.insert(name.into(), Value::from(value.into_owned()));
        }
    }
    let record = Value::Object(record);
    let message = jwtctl::audit::syslog_message(&format!("{record}\n"), NOW, "host\nname");
    let raw: Vec<char> = message
        .chars()
        .filter(|c| {
            c.is_control()
                || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        })
        .collect();
    assert!(raw.is_empty(), "raw {raw:?} in {message:?}");
    let mut words = message.splitn(7, ' ');
    for _ in 0..6 {
        let word = words.next().expect("six header words");
        assert!(word.chars().all(|c| c.is_ascii_graphic()), "{word:?}");
    }
    let rest = words.next().expect("structured data and a MSG");
    assert!(rest.starts_with("[jwtctl@32473"), "{rest}");
    let (mut chars, mut quoted) = (rest.char_indices(), false);
    let end = loop {
        match chars.next().expect("the SD-ELEMENT closes") {
            (_, '\\') if quoted => {
                chars.next();
            }
            (_, '"') => quoted = !quoted,
            (i, ']') if !quoted => break i,
            _ => {}
        }
    };
    let msg = rest[end + 1..]
        .strip_prefix(' ')
        .expect("a space before the MSG");
    let parsed: Value = serde_json::from_str(msg).expect("the MSG is JSON");
    assert_eq!(parsed, record);
}

/// Claims shaped to confuse a policy's claim paths: nested objects, an array of objects where an
/// object is expected, a dotted top-level name, the keys split at the dots, ids as numbers and
/// arrays, nulls, hostile key and value text.
static POLICY_CLAIMS: LazyLock<Vec<token::Claims>> = LazyLock::new(|| {
    let uid = "1a2b3c4d";
    [
        json!({"iss": "https://ci.example", "sub": "system:serviceaccount:prod:deployer",
            "aud": ["vault", "api"], "repository_id": "2002", "ref": "refs/heads/main",
            "kubernetes.io": {"namespace": "prod", "serviceaccount": {"name": "deployer", "uid": uid}}}),
        json!({"iss": "accounts.google.com", "kubernetes.io": [{"serviceaccount": {"uid": uid}}],
            "kubernetes.io.serviceaccount.uid": uid, "kubernetes": {"io": {"serviceaccount": {"uid": uid}}}}),
        json!({"repository_id": ["999", "2002"], "sub": null, "n": 7, "b": true,
            "kubernetes.io": {"serviceaccount": {"uid": ["x", uid]}, "namespace": null},
            "a\"b": {"c\u{1b}[2J\n": "\u{202e}x"}, "": {"": ""}}),
        json!({"repository_id": 2002, "aud": "api", "kubernetes.io": "serviceaccount",
            "deep": {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": 1}}}}}}}}}),
    ]
    .into_iter()
    .filter_map(|v| v.as_object().cloned())
    .collect()
});

/// A policy file's text: parsing never panics; a policy that parses prints (normalised) as text
/// that parses to a policy printing the same; `policy check`'s findings, the issuer a token
/// names, and judging claims shaped to confuse its paths never panic; a refusal is one line.
pub fn policy_file(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(policy) = jwtctl::policy::parse(text) else {
        return;
    };
    let shown = jwtctl::policy::normalised(&policy);
    let again = jwtctl::policy::parse(&shown)
        .unwrap_or_else(|e| panic!("the normalised policy does not parse: {e}\n{shown}"));
    assert_eq!(jwtctl::policy::normalised(&again), shown);
    for finding in jwtctl::policy::warnings(&policy) {
        assert!(
            !finding.message.contains(['\n', '\r']),
            "{}",
            finding.message
        );
    }
    for claims in POLICY_CLAIMS.iter() {
        if let Some(issuer) = policy.issuer_for(claims) {
            let iss = token::claim(claims, "iss").and_then(Value::as_str);
            assert!(iss.is_some_and(|iss| issuer.names(iss)));
        }
        for issuer in &policy.issuers {
            if let Err(refusal) = issuer.judge(claims) {
                let line = refusal.message("p.toml");
                assert!(!line.contains(['\n', '\r', '\u{1b}']), "{line}");
            }
            let _ = jwtctl::policy::identity(issuer, claims);
        }
    }
}
