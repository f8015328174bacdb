//! `jwtctl refresh`: verify as `verify` does, then re-issue with a new lifetime.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

mod common;

use common::{Env, assert_refused, assert_rejected, fixture, mint, now, parts, stderr, stdout};
use serde_json::json;

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
    let out = env.run(&["--log-level", "info", "refresh", "--ttl", "2h", &old]);
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
    let out = env.run(&["refresh", &mint(json!({"exp": now() - 1}))]);
    assert_rejected(&env, &out, "expired");
}

#[test]
fn refresh_applies_verify_flags() {
    let env = Env::new();
    let token = env.issue(&["--aud", "api"]);
    assert_rejected(&env, &env.run(&["refresh", &token]), "claim_mismatch");
    env.jwtctl()
        .args(["refresh", "--aud", "api", &token])
        .assert()
        .success();
}

#[test]
fn refresh_reads_stdin() {
    let env = Env::new();
    let token = env.issue(&["--sub", "s"]);
    let out = env
        .jwtctl()
        .arg("refresh")
        .write_stdin(format!("Bearer {token}\n"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(parts(stdout(&out).trim_end()).1["sub"], "s");
}

#[test]
fn a_public_key_cannot_refresh() {
    let env = Env::new();
    let token = common::fixture_text("pyjwt/es256.jwt");
    let key = fixture("keys/ec256_pub.pem");
    let out = env
        .jwtctl()
        .args(["refresh", "--key-file"])
        .arg(key)
        .arg(token.trim())
        .output()
        .unwrap();
    assert_refused(&env, &out, 2, "key_error");
    assert!(stderr(&out).contains("private key"));
}
