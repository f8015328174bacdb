//! Every loosening flag is said on stderr and recorded at the default log level (error): a
//! loosening is a security event the level policy never drops.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use serde_json::{Value, json};

use crate::common::{Env, mint, now, stderr, stdout};

/// The run succeeded, printed its result, said one warning per loosening (naming its flag), and
/// left a WARN loosening record of `op` for each (`events`, in order) although the level is the
/// default, and no other record.
fn assert_loosened(
    env: &Env,
    out: &std::process::Output,
    flags: &[&str],
    op: &str,
    events: &[&str],
) {
    assert!(out.status.success(), "{flags:?}: {}", stderr(out));
    assert_ne!(stdout(out), "", "{flags:?}: the result is printed");
    let err = stderr(out);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), flags.len(), "{flags:?}: {err}");
    for (line, flag) in lines.iter().zip(flags) {
        assert!(
            line.starts_with("jwtctl: warning: ") && line.contains(flag),
            "{flag}: {err}"
        );
    }
    let records: Vec<Value> = env.log();
    assert_eq!(records.len(), events.len(), "{flags:?}: {records:?}");
    for (r, event) in records.iter().zip(events) {
        assert_eq!(
            (&r["level"], &r["op"], &r["outcome"], &r["event"]),
            (&json!("WARN"), &json!(op), &json!("warning"), &json!(event)),
            "{flags:?}: {r}"
        );
        // It names the token it let through (authenticated claims).
        assert_eq!(r["sub"], "alice", "{flags:?}: {r}");
    }
}

/// A command line, the flags it loosens with, its op, and the loosening events it records.
type Case<'a> = (&'a [&'a str], &'a [&'a str], &'a str, &'a [&'a str]);

#[test]
fn leeway_at_grace_and_no_ledger_are_recorded_at_the_default_level() {
    let cases: [Case; 4] = [
        (
            &["verify", "--leeway", "120s"],
            &["--leeway"],
            "verify",
            &["leeway_allowed"],
        ),
        (
            &["verify", "--at", "5m ago"],
            &["--at"],
            "verify",
            &["verify_at_allowed"],
        ),
        (
            &["refresh", "--no-ledger", "--grace", "1h"],
            &["--grace", "--no-ledger"],
            "refresh",
            &["grace_allowed", "no_ledger_allowed"],
        ),
        (
            &["refresh", "--no-ledger", "--leeway", "120s"],
            &["--leeway", "--no-ledger"],
            "refresh",
            &["leeway_allowed", "no_ledger_allowed"],
        ),
    ];
    for (args, flags, op, events) in cases {
        let env = Env::new();
        // Expired a minute ago: accepted only thanks to the flag (--at, --leeway, --grace).
        let token =
            mint(json!({"sub": "alice", "jti": "j1", "exp": now() - 60, "iat": now() - 600}));
        let out = env.jwtctl().args(args).arg(&token).output().unwrap();
        assert_loosened(&env, &out, flags, op, events);
    }
    // --no-ledger alone, on a token still valid.
    let env = Env::new();
    let token = mint(json!({"sub": "alice", "exp": now() + 600}));
    let out = env.run(&["refresh", "--no-ledger", &token]);
    assert_loosened(
        &env,
        &out,
        &["--no-ledger"],
        "refresh",
        &["no_ledger_allowed"],
    );
}

/// Invariant: a limit raised above its default is a loosening like any other: `--max-lifetime`
/// (or `JWTCTL_MAX_LIFETIME`) above 24h and `--max-token-size` above 64 KiB are said and recorded
/// at every level; at or below the default they loosen nothing and say nothing.
#[test]
fn limits_raised_above_their_defaults_are_recorded_at_the_default_level() {
    let cases: [Case; 4] = [
        (
            &["refresh", "--no-ledger", "--max-lifetime", "30d"],
            &["--max-lifetime", "--no-ledger"],
            "refresh",
            &["max_lifetime_allowed", "no_ledger_allowed"],
        ),
        (
            &["verify", "--max-token-size", "1000000"],
            &["--max-token-size"],
            "verify",
            &["max_token_size_allowed"],
        ),
        (
            &["refresh", "--no-ledger", "--max-token-size", "65537"],
            &["--max-token-size", "--no-ledger"],
            "refresh",
            &["max_token_size_allowed", "no_ledger_allowed"],
        ),
        (
            &[
                "refresh",
                "--no-ledger",
                "--max-lifetime",
                "24h",
                "--max-token-size",
                "65536",
            ],
            &["--no-ledger"],
            "refresh",
            &["no_ledger_allowed"],
        ),
    ];
    let token = mint(json!({"sub": "alice", "exp": now() + 600}));
    for (args, flags, op, events) in cases {
        let env = Env::new();
        let out = env.jwtctl().args(args).arg(&token).output().unwrap();
        assert_loosened(&env, &out, flags, op, events);
    }
    let env = Env::new();
    let out = env
        .jwtctl()
        .env("JWTCTL_MAX_LIFETIME", "25h")
        .args(["refresh", "--no-ledger", &token])
        .output()
        .unwrap();
    assert_loosened(
        &env,
        &out,
        &["JWTCTL_MAX_LIFETIME", "--no-ledger"],
        "refresh",
        &["max_lifetime_allowed", "no_ledger_allowed"],
    );
}

#[test]
fn a_loosening_that_lets_nothing_through_says_nothing_beyond_the_refusal() {
    let env = Env::new();
    let token = mint(json!({"sub": "alice", "exp": now() - 3600}));
    let out = env.run(&["verify", "--leeway", "60s", &token]);
    crate::common::assert_rejected(&env, &out, "expired");
    assert_eq!(env.log().len(), 1, "{:?}", env.log());
}

/// `refresh --policy`: a token of an issuer whose keys are HMAC (HS384, from a JWK Set file
/// beside the policy), to be re-signed with `key` (refresh's own key, 40 bytes).
fn hs384_issuer(env: &Env) -> String {
    let secret = [b'k'; 64];
    let b64 =
        |b: &[u8]| base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, b);
    env.write(
        "ci.json",
        &json!({"keys": [{"kty": "oct", "k": b64(&secret), "alg": "HS384", "kid": "ci"}]})
            .to_string(),
    );
    env.write(
        "policy.toml",
        "[[issuer]]\nurl = \"https://ci.example\"\njwks_file = \"ci.json\"\naudiences = \
         [\"deploy\"]\nalgorithms = [\"HS384\"]\n\n[[issuer.rule]]\nclaim = \"sub\"\neq = \
         \"deploy\"\n",
    );
    env.write("own.key", &"w".repeat(40));
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS384);
    header.kid = Some("ci".into());
    let t = now();
    let claims = json!({"iss": "https://ci.example", "sub": "deploy", "aud": "deploy",
        "iat": t, "exp": t + 300});
    jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(&secret),
    )
    .unwrap()
}

/// Invariant: a key's strength is judged for the algorithm it signs with. Under a policy,
/// refresh signs with the parent's algorithm when its own key serves it: a 40-byte secret
/// (enough for HS256, its own) does not sign HS384 (48 bytes needed), and `--allow-weak-secret`
/// does not make it: the key's own algorithm serves, with nothing loosened.
#[test]
fn refresh_under_a_policy_signs_only_with_an_algorithm_its_key_is_strong_enough_for() {
    let env = Env::new();
    let parent = hs384_issuer(&env);
    for extra in [&[][..], &["--allow-weak-secret"]] {
        let out = env
            .bare()
            .args([
                "refresh",
                "--policy",
                "policy.toml",
                "--iss",
                "https://jwtctl.example",
            ])
            .args(["--no-ledger", "--key-file", "own.key"])
            .args(extra)
            .arg(&parent)
            .output()
            .unwrap();
        assert!(out.status.success(), "{extra:?}: {}", stderr(&out));
        let (header, _) = crate::common::parts(stdout(&out).trim_end());
        assert_eq!(header["alg"], "HS256", "{extra:?}");
        let err = stderr(&out);
        assert!(!err.contains("HMAC secret is shorter"), "{extra:?}: {err}");
        let events: Vec<Value> = env.log().iter().map(|r| r["event"].clone()).collect();
        assert_eq!(
            events,
            [json!("no_ledger_allowed")],
            "{extra:?}: {events:?}"
        );
        std::fs::remove_file(env.path("security.log")).unwrap();
    }
}
