//! `jwtctl verify`: input forms, every rejection reason, and the output contract.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use crate::common::{
    Env, assert_refused, assert_rejected, mint, mint_alg, mint_raw, now, stderr, stdout,
};
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};

#[test]
fn a_valid_token_prints_its_claims_as_one_json_line() {
    let env = Env::new();
    let token = env.issue(&["--sub", "alice", "--claim", "role=admin"]);
    let out = env.verify(&[], &token);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 1);
    let claims: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        (&claims["sub"], &claims["role"]),
        (&json!("alice"), &json!("admin"))
    );
    assert!(!text.contains(": "), "compact JSON: {text}");
}

#[test]
fn the_token_comes_from_stdin_with_or_without_dash_and_bearer() {
    let env = Env::new();
    let token = env.issue(&["--sub", "alice"]);
    for (args, input) in [
        (vec![], format!("{token}\n")),
        (vec!["-"], format!("  {token}  \n")),
        (vec![], format!("Bearer {token}\n")),
    ] {
        let out = env
            .jwtctl()
            .arg("verify")
            .args(&args)
            .write_stdin(input)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let out = env.verify(&[], &format!("Bearer {token}"));
    assert!(out.status.success());
}

#[test]
fn malformed_input_is_rejected() {
    let env = Env::new();
    let good = env.issue(&[]);
    for bad in [
        "".to_string(),
        "not-a-token".into(),
        "a.b".into(),
        format!("{good}.extra"),
        format!("{good} trailing"),
        "e30.e30.!!!".into(),
        mint_raw("[1]", r#"{"exp":4102444800}"#),
    ] {
        let out = env
            .jwtctl()
            .arg("verify")
            .write_stdin(bad.clone())
            .output()
            .unwrap();
        assert_rejected(&env, &out, "malformed");
    }
}

#[test]
fn expired_means_on_or_after_exp_plus_leeway() {
    let env = Env::new();
    let token = mint(json!({"exp": now() - 5}));
    assert_rejected(&env, &env.verify(&[], &token), "expired");
    let out = env.verify(&["--leeway", "1m"], &token);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn exp_is_required() {
    let env = Env::new();
    assert_rejected(
        &env,
        &env.verify(&[], &mint(json!({"sub": "a"}))),
        "missing_claim",
    );
}

#[test]
fn nbf_and_a_future_iat_are_checked_with_leeway() {
    let env = Env::new();
    let exp = now() + 3600;
    let early = mint(json!({"exp": exp, "nbf": now() + 120}));
    assert_rejected(&env, &env.verify(&[], &early), "not_yet_valid");
    assert!(env.verify(&["--leeway", "5m"], &early).status.success());
    let future = mint(json!({"exp": exp, "iat": now() + 120}));
    assert_rejected(&env, &env.verify(&[], &future), "issued_in_future");
    assert!(env.verify(&["--leeway", "5m"], &future).status.success());
}

#[test]
fn issuer_subject_and_audience_must_match_when_asked() {
    let env = Env::new();
    let exp = now() + 3600;
    let token = mint(json!({"exp": exp, "iss": "idp", "sub": "alice", "aud": ["api", "web"]}));
    assert!(
        env.verify(&["--iss", "idp", "--sub", "alice", "--aud", "web"], &token)
            .status
            .success()
    );
    assert!(
        env.verify(&["--aud", "x", "--aud", "api"], &token)
            .status
            .success()
    );
    assert_rejected(
        &env,
        &env.verify(&["--aud", "api", "--iss", "other"], &token),
        "claim_mismatch",
    );
    assert_rejected(
        &env,
        &env.verify(&["--aud", "api", "--sub", "bob"], &token),
        "claim_mismatch",
    );
    assert_rejected(
        &env,
        &env.verify(&["--aud", "nope"], &token),
        "claim_mismatch",
    );
    // RFC 7519 §4.1.3: a token with an audience is refused when no --aud is given.
    assert_rejected(&env, &env.verify(&[], &token), "claim_mismatch");
    let bare = mint(json!({"exp": exp}));
    assert_rejected(&env, &env.verify(&["--iss", "idp"], &bare), "missing_claim");
    assert_rejected(&env, &env.verify(&["--aud", "api"], &bare), "missing_claim");
}

#[test]
fn the_algorithm_is_pinned_never_taken_from_the_token() {
    let env = Env::new();
    let exp = now() + 3600;
    let none = format!(
        "{}.{}.",
        "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0",
        base64_json(&json!({"exp": exp}))
    );
    assert_rejected(&env, &env.verify(&[], &none), "alg_not_allowed");
    let hs512 = mint_alg(Algorithm::HS512, json!({"exp": exp}));
    assert_rejected(&env, &env.verify(&[], &hs512), "alg_not_allowed");
    let rs = mint_raw(r#"{"alg":"RS256"}"#, &json!({"exp": exp}).to_string());
    assert_rejected(&env, &env.verify(&[], &rs), "alg_not_allowed");
    // Asking for an algorithm the key cannot serve is a configuration error.
    assert_refused(
        &env,
        &env.verify(&["--alg", "ES256"], &hs512),
        2,
        "key_error",
    );
}

fn base64_json(v: &Value) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

#[test]
fn a_changed_payload_or_another_key_is_a_bad_signature() {
    let env = Env::new();
    let token = env.issue(&["--sub", "alice"]);
    let pieces: Vec<&str> = token.split('.').collect();
    let forged = format!(
        "{}.{}.{}",
        pieces[0],
        base64_json(&json!({"sub": "root", "exp": now() + 3600})),
        pieces[2]
    );
    assert_rejected(&env, &env.verify(&[], &forged), "bad_signature");
    env.write("other.key", &"o".repeat(40));
    assert_rejected(
        &env,
        &env.verify(&["--key-file", "other.key"], &token),
        "bad_signature",
    );
}

#[test]
fn registered_claims_of_the_wrong_type_are_rejected() {
    let env = Env::new();
    for claims in [
        json!({"exp": "tomorrow"}),
        json!({"exp": 4102444800u64, "aud": 123}),
        json!({"exp": 4102444800u64, "iss": 1}),
    ] {
        let out = env.verify(&["--aud", "123"], &mint(claims));
        assert_rejected(&env, &out, "invalid_claim");
    }
}

#[test]
fn verify_never_creates_a_key() {
    let env = Env::new();
    let token = mint(json!({"exp": now() + 60}));
    let out = env.run_bare(&["verify", &token]);
    assert_refused(&env, &out, 2, "key_error");
    assert!(stderr(&out).contains("--key-file") && stderr(&out).contains("--secret-env"));
    assert!(!env.path("jwtctl.key").exists());
}

#[test]
fn empty_input_is_reported_as_no_token() {
    let env = Env::new();
    let out = env.jwtctl().arg("verify").write_stdin("").output().unwrap();
    assert_rejected(&env, &out, "malformed");
    assert!(stderr(&out).contains("no token given"));
}

#[test]
fn a_terminal_on_stdin_is_refused_not_waited_on() {
    // `script` gives the command a pseudo-terminal as stdin; a prompt would hang until timeout.
    // Like `setpriv`, a tool every test run needs (the README's list), not an optional one.
    assert!(
        std::process::Command::new("script")
            .arg("--version")
            .output()
            .is_ok(),
        "this test needs script(1) from util-linux (apt-get install bsdutils)"
    );
    let env = Env::new();
    let bin = assert_cmd::cargo::cargo_bin("jwtctl");
    for args in [
        "verify",
        "refresh --no-ledger",
        "verify --batch",
        "issue --claims -",
    ] {
        let out = std::process::Command::new("timeout")
            .current_dir(env.dir.path())
            .env("JWTCTL_KEY_FILE", "test.key")
            .args(["10", "script", "-qec"])
            .arg(format!("'{}' {args}", bin.display()))
            .arg("/dev/null")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args}: {}", stdout(&out));
        assert!(
            stdout(&out).contains("terminal"),
            "{args}: {}",
            stdout(&out)
        );
    }
}

fn precise_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

#[test]
fn fractional_numeric_dates_are_compared_to_the_sub_second() {
    let env = Env::new();
    // As PyJWT writes them: iat = nbf = time.time(), verified a moment later.
    let t = precise_now();
    let fresh = mint(json!({"iat": t, "nbf": t, "exp": t + 600.0}));
    let out = env.verify(&[], &fresh);
    assert!(out.status.success(), "{}", stderr(&out));
    // A fractional exp that has passed is expired, whatever the second's fraction.
    let passed = mint(json!({"exp": precise_now() - 0.001}));
    assert_rejected(&env, &env.verify(&[], &passed), "expired");
    // And a refresh carries such a family start without calling it future.
    let refreshed = env
        .jwtctl()
        .args([
            "refresh",
            "--no-ledger",
            &mint(json!({"iat": t, "orig_iat": t, "exp": t + 600.0})),
        ])
        .output()
        .unwrap();
    assert!(refreshed.status.success(), "{}", stderr(&refreshed));
}

#[test]
fn one_verdict_for_one_input_whichever_way_it_comes() {
    use std::os::unix::ffi::OsStrExt;
    let env = Env::new();
    let not_utf8 = std::ffi::OsStr::from_bytes(b"eyJ\xff.a.b");
    let out = env.jwtctl().arg("verify").arg(not_utf8).output().unwrap();
    assert_rejected(&env, &out, "malformed");
    let out = env
        .jwtctl()
        .arg("verify")
        .write_stdin(b"eyJ\xff.a.b".to_vec())
        .output()
        .unwrap();
    assert_rejected(&env, &out, "malformed");
    let huge = "a".repeat(10 << 20);
    let out = env
        .jwtctl()
        .arg("verify")
        .write_stdin(huge)
        .output()
        .unwrap();
    assert_rejected(&env, &out, "too_large");
}

#[test]
fn a_token_rejected_as_it_is_read_is_a_verdict_like_any_other() {
    use std::os::unix::ffi::OsStrExt;
    let env = Env::new();
    let not_utf8 = std::ffi::OsStr::from_bytes(b"eyJ\xff.a.b");
    // -q: nothing on stdout or stderr for a rejected token, only the exit code (README).
    let out = env
        .jwtctl()
        .args(["verify", "-q"])
        .arg(not_utf8)
        .output()
        .unwrap();
    assert_eq!(
        (out.status.code(), stdout(&out), stderr(&out)),
        (Some(1), String::new(), String::new())
    );
    assert_eq!(env.log().pop().unwrap()["reason"], "malformed");
    // --output json: the verdict on stdout, no stderr line.
    let out = env
        .jwtctl()
        .args(["verify", "--output", "json"])
        .write_stdin("a".repeat(2 << 20))
        .output()
        .unwrap();
    assert_eq!((out.status.code(), stderr(&out)), (Some(1), String::new()));
    let verdict: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        (&verdict["valid"], &verdict["reason"]),
        (&json!(false), &json!("too_large"))
    );
    assert_eq!(env.log().pop().unwrap()["reason"], "too_large");
}

#[test]
fn an_overlong_batch_line_is_recorded_with_the_hash_of_the_whole_token() {
    let env = Env::new();
    // A real token, far over the limit, presented as `Bearer` with whitespace around it.
    let token = mint(json!({"sub": "x".repeat(300_000), "exp": now() + 600}));
    let line = format!("  Bearer {token} \r\nshort\n");
    let out = env
        .jwtctl()
        .args(["verify", "--batch", "--max-token-size", "100"])
        .write_stdin(line)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let records = env.log();
    assert_eq!(records.len(), 2, "{records:?}");
    assert_eq!(records[0]["reason"], "too_large");
    assert_eq!(records[0]["line"], 1);
    // Not the hash of a prefix: the token's own, so "every record of one token" finds it.
    assert_eq!(records[0]["token_sha256"], crate::common::sha256sum(&token));
    assert_eq!(
        records[1]["token_sha256"],
        crate::common::sha256sum("short")
    );
}

#[test]
fn an_overlong_batch_line_is_trimmed_as_a_short_one_before_it_is_hashed() {
    let env = Env::new();
    let token = mint(json!({"sub": "x".repeat(300_000), "exp": now() + 600}));
    // What `verify` and `log search --token -` drop around a token: Unicode whitespace, a
    // vertical tab, `Bearer ` after more leading whitespace than a cut line keeps.
    let lines = [
        format!("\u{3000}{token}\u{a0}"),
        format!("\u{b}{token}\u{b}"),
        format!("{}Bearer {token}", " ".repeat(200)),
    ];
    let out = env
        .jwtctl()
        .args(["verify", "--batch", "--max-token-size", "100"])
        .write_stdin(lines.join("\n"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let records = env.log();
    assert_eq!(records.len(), 3, "{records:?}");
    for (i, record) in records.iter().enumerate() {
        assert_eq!(record["reason"], "too_large", "{record}");
        assert_eq!(record["line"], i + 1, "{record}");
        assert_eq!(
            record["token_sha256"],
            crate::common::sha256sum(&token),
            "line {}",
            i + 1
        );
    }
}

#[test]
fn typ_jwt_and_application_jwt_are_one_media_type_both_ways() {
    let env = Env::new();
    let plain = mint_raw(
        r#"{"alg":"HS256","typ":"JWT"}"#,
        &json!({"exp": now() + 600}).to_string(),
    );
    let long = mint_raw(
        r#"{"alg":"HS256","typ":"application/jwt"}"#,
        &json!({"exp": now() + 600}).to_string(),
    );
    for token in [&plain, &long] {
        for typ in ["JWT", "application/jwt", "APPLICATION/JWT"] {
            let out = env.verify(&["--typ", typ], token);
            assert!(out.status.success(), "{typ}: {}", stderr(&out));
        }
    }
}

/// Who a rejected token is, as its record names it: (iss, sub, jti, kid).
fn named(record: &Value) -> [&Value; 4] {
    [
        &record["iss"],
        &record["sub"],
        &record["jti"],
        &record["kid"],
    ]
}

#[test]
fn a_rejection_after_the_signature_checked_out_names_the_token_and_one_before_never_does() {
    let env = Env::new();
    let ledger = |args: &[&str]| {
        env.jwtctl()
            .env("JWTCTL_LEDGER", "ledger.db")
            .args(args)
            .output()
            .unwrap()
    };
    assert!(ledger(&["ledger", "init"]).status.success());
    let header = r#"{"alg":"HS256","typ":"JWT","kid":"k1"}"#;
    let claims = |exp: i64, jti: &str| {
        json!({"iss": "https://auth.example", "sub": "alice", "jti": jti, "aud": "api", "exp": exp})
            .to_string()
    };
    let who = |jti: &str| {
        [
            json!("https://auth.example"),
            json!("alice"),
            json!(jti),
            json!("k1"),
        ]
    };
    // Signed with the right key, refused after: expired, a claim that does not match, revoked.
    let expired = mint_raw(header, &claims(now() - 60, "j-expired"));
    let other_aud = mint_raw(header, &claims(now() + 600, "j-aud"));
    let revoked = mint_raw(header, &claims(now() + 600, "j-revoked"));
    assert!(ledger(&["revoke", &revoked]).status.success());
    for (args, token, reason, jti) in [
        (
            vec!["verify", "--aud", "api"],
            &expired,
            "expired",
            "j-expired",
        ),
        (
            vec!["verify", "--aud", "web"],
            &other_aud,
            "claim_mismatch",
            "j-aud",
        ),
        (
            vec!["verify", "--aud", "api"],
            &revoked,
            "revoked",
            "j-revoked",
        ),
        (
            vec!["refresh", "--aud", "api"],
            &expired,
            "expired",
            "j-expired",
        ),
    ] {
        let out = ledger(&[&args[..], &[token.as_str()]].concat());
        assert_rejected(&env, &out, reason);
        let last = env.log().pop().unwrap();
        assert_eq!(named(&last), who(jti).each_ref(), "{args:?}: {last}");
    }
    // The README's promise: the id read in the log revokes the token, at the default level.
    let out = ledger(&["revoke", "--jti", "j-aud", "--iss", "https://auth.example"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_rejected(
        &env,
        &ledger(&["verify", "--aud", "api", &other_aud]),
        "revoked",
    );
    // Refused before the signature checked out: the claims are an attacker's, never recorded.
    let parts: Vec<&str> = expired.split('.').collect();
    let tampered_payload = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        claims(now() + 600, "j-forged"),
    );
    let forged = format!("{}.{tampered_payload}.{}", parts[0], parts[2]);
    let wrong_key = crate::common::sign_raw(
        header,
        &claims(now() + 600, "j-forged"),
        &jsonwebtoken::EncodingKey::from_secret(b"another-secret-another-secret-xx"),
        Algorithm::HS256,
    );
    let none_alg = format!(
        "{}.{}.",
        base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            r#"{"alg":"none","kid":"k1"}"#
        ),
        base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            claims(now() + 600, "j-none")
        )
    );
    for (token, reason) in [
        (&forged, "bad_signature"),
        (&wrong_key, "bad_signature"),
        (&none_alg, "alg_not_allowed"),
    ] {
        let out = ledger(&["verify", "--aud", "api", token]);
        assert_rejected(&env, &out, reason);
        let last = env.log().pop().unwrap();
        assert_eq!(named(&last), [&Value::Null; 4], "{reason}: {last}");
    }
}
