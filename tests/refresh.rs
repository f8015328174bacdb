//! `jwtctl refresh`: verify as `verify` does, then re-issue with a new lifetime.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;

use crate::common::{
    Env, SECRET, assert_refused, assert_rejected, fixture_text, mint, now, parts, stderr, stdout,
};

#[test]
fn refresh_keeps_claims_and_kid_with_a_new_iat_jti_and_exp() {
    let env = Env::new();
    let old = env.issue(&[
        "--sub",
        "alice",
        "--kid",
        "k1",
        "--claim",
        r#"ctx={"a":[1,{"b":null}]}"#,
        "--ttl",
        "5m",
    ]);
    let out = env.run(&[
        "--log-level",
        "info",
        "refresh",
        "--no-ledger",
        "--ttl",
        "2h",
        &old,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let new = stdout(&out);
    assert_eq!(new.lines().count(), 1);
    let (old_header, old_claims) = parts(&old);
    let (header, claims) = parts(new.trim_end());
    assert_eq!(header["kid"], old_header["kid"]);
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["ctx"], old_claims["ctx"]);
    assert_ne!(claims["jti"], old_claims["jti"]);
    let iat = claims["iat"].as_i64().unwrap();
    assert!(iat >= old_claims["iat"].as_i64().unwrap());
    assert_eq!(claims["exp"].as_i64().unwrap(), iat + 7200);

    let record = env.log().pop().unwrap();
    assert_eq!(
        (&record["op"], &record["outcome"]),
        (&json!("refresh"), &json!("success"))
    );
    assert_eq!(record["parent_jti"], old_claims["jti"]);
    assert_eq!(record["jti"], claims["jti"]);
    assert_eq!(record["exp"], claims["exp"]);

    // The new token verifies.
    env.jwtctl()
        .args(["verify", new.trim_end()])
        .assert()
        .success();
}

#[test]
fn an_expired_token_is_not_refreshed() {
    let env = Env::new();
    let out = env.run(&["refresh", "--no-ledger", &mint(json!({"exp": now() - 1}))]);
    assert_rejected(&env, &out, "expired");
}

#[test]
fn refresh_applies_verify_flags() {
    let env = Env::new();
    let token = env.issue(&["--aud", "api"]);
    assert_rejected(
        &env,
        &env.run(&["refresh", "--no-ledger", &token]),
        "claim_mismatch",
    );
    env.jwtctl()
        .args(["refresh", "--no-ledger", "--aud", "api", &token])
        .assert()
        .success();
}

#[test]
fn refresh_reads_stdin() {
    let env = Env::new();
    let token = env.issue(&["--sub", "s"]);
    let out = env
        .jwtctl()
        .args(["refresh", "--no-ledger"])
        .write_stdin(format!("Bearer {token}\n"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(parts(stdout(&out).trim_end()).1["sub"], "s");
}

#[test]
fn a_public_key_cannot_refresh() {
    let env = Env::new();
    let token = crate::common::fixture_text("pyjwt/es256.jwt");
    let key = env.key("keys/ec256_pub.pem");
    let out = env
        .jwtctl()
        .args(["refresh", "--no-ledger", "--key-file"])
        .arg(key)
        .arg(token.trim())
        .output()
        .unwrap();
    assert_refused(&env, &out, 2, "key_error");
    assert!(stderr(&out).contains("private key"));
}

#[test]
fn refresh_applies_the_strict_checks_too() {
    let env = Env::new();
    let token = env.issue(&["--sub", "a"]);
    let out = env.run(&["refresh", "--no-ledger", "--require", "scope", &token]);
    assert_rejected(&env, &out, "missing_claim");
    let out = env.run(&["refresh", "--no-ledger", "--typ", "at+jwt", &token]);
    assert_rejected(&env, &out, "typ_mismatch");
    // With a JWK Set, the key its kid chooses re-signs, when it is private.
    let k = URL_SAFE_NO_PAD.encode(SECRET);
    env.write("set.json", &json!({"keys": [{"kty": "oct", "kid": "h1", "k": k}, {"kty": "oct", "kid": "h2", "k": URL_SAFE_NO_PAD.encode("another-secret-another-secret-another")}]}).to_string());
    let header = jsonwebtoken::Header {
        kid: Some("h1".into()),
        ..Default::default()
    };
    let kid_token = jsonwebtoken::encode(
        &header,
        &json!({"exp": now() + 60}),
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    let out = env.run_bare(&["refresh", "--no-ledger", "--jwks", "set.json", &kid_token]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = env.run_bare(&["verify", "--jwks", "set.json", stdout(&out).trim()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = env
        .bare()
        .args(["refresh", "--no-ledger", "--jwks"])
        .arg(env.key("pyjwt/jwks.json"))
        .write_stdin(fixture_text("pyjwt/jwks_ec-1.jwt"))
        .output()
        .unwrap();
    assert_refused(&env, &out, 2, "key_error");
}

/// Issue 27 §13: a refresh the ledger refuses records the presented token (its hash, jti and
/// exp), never the token it would have printed.
#[test]
fn a_refused_refresh_records_the_presented_token_not_one_never_printed() {
    let env = Env::new();
    let exp = now() + 600;
    let token = mint(json!({"sub": "a", "jti": "parent-1", "exp": exp}));
    crate::common::stores::init(&env, "l.db");
    let refresh =
        |env: &Env| env.run(&["--log-level", "info", "refresh", "--ledger", "l.db", &token]);
    let first = refresh(&env);
    assert!(first.status.success(), "{}", stderr(&first));
    let printed = stdout(&first).trim().to_string();
    let ok = env.log().pop().unwrap();
    assert_eq!(ok["parent_jti"], "parent-1");
    assert_eq!(ok["token_sha256"], crate::common::sha256sum(&printed));
    let again = refresh(&env);
    assert_rejected(&env, &again, "reused");
    let failed = env.log().pop().unwrap();
    assert_eq!(failed["jti"], "parent-1", "{failed}");
    assert_eq!(failed["exp"], exp, "{failed}");
    assert_eq!(
        failed["parent_token_sha256"],
        crate::common::sha256sum(&token),
        "{failed}"
    );
    assert!(failed.get("token_sha256").is_none(), "{failed}");
    assert!(failed.get("parent_jti").is_none(), "{failed}");
}
