//! Refresh policy: TTL, maximum lifetime from `orig_iat`, grace, dry runs.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use crate::common::{Env, assert_refused, assert_rejected, mint, now, parts, stderr, stdout};
use serde_json::{Value, json};

const DAY: i64 = 86400;

/// `refresh FLAGS TOKEN`, without a ledger unless FLAGS name one.
fn refresh(env: &Env, token: &str, flags: &[&str]) -> std::process::Output {
    let no_ledger = (!flags.contains(&"--ledger")).then_some("--no-ledger");
    env.jwtctl()
        .args(["--log-level", "info", "refresh"])
        .args(no_ledger)
        .args(flags)
        .arg(token)
        .output()
        .unwrap()
}

fn refreshed_claims(out: &std::process::Output) -> Value {
    assert!(out.status.success(), "{}", stderr(out));
    parts(stdout(out).trim()).1
}

#[test]
fn orig_iat_comes_from_orig_iat_else_iat_else_now_and_is_carried() {
    let env = Env::new();
    let t = now();
    let with_orig = mint(json!({"exp": t + 60, "iat": t - 50, "orig_iat": t - 100}));
    assert_eq!(
        refreshed_claims(&refresh(&env, &with_orig, &[]))["orig_iat"],
        t - 100
    );
    let with_iat = mint(json!({"exp": t + 60, "iat": t - 50}));
    let c = refreshed_claims(&refresh(&env, &with_iat, &[]));
    assert_eq!(c["orig_iat"], t - 50);
    // A second refresh keeps it.
    let again = mint(c.clone());
    assert_eq!(
        refreshed_claims(&refresh(&env, &again, &[]))["orig_iat"],
        t - 50
    );
    let bare = mint(json!({"exp": t + 60}));
    let orig = refreshed_claims(&refresh(&env, &bare, &[]))["orig_iat"]
        .as_i64()
        .unwrap();
    assert!(orig >= t && orig <= now());
}

#[test]
fn exp_is_capped_at_orig_iat_plus_max_lifetime() {
    let env = Env::new();
    let t = now();
    let old = mint(json!({"exp": t + 600, "iat": t - DAY + 60}));
    let c = refreshed_claims(&refresh(&env, &old, &["--ttl", "30m"]));
    assert_eq!(c["exp"], t - DAY + 60 + DAY, "capped, not now + 30m");
    let record = env.log().pop().unwrap();
    assert_eq!(
        (&record["orig_iat"], &record["exp"]),
        (&json!(t - DAY + 60), &c["exp"])
    );
    // With a longer cap from the flag or the environment, the TTL applies.
    let c = refreshed_claims(&refresh(&env, &old, &["--max-lifetime", "7d"]));
    assert!(c["exp"].as_i64().unwrap() >= t + 1800);
    let out = env
        .jwtctl()
        .env("JWTCTL_MAX_LIFETIME", "2d")
        .args(["refresh", "--no-ledger", &old])
        .output()
        .unwrap();
    assert!(parts(stdout(&out).trim()).1["exp"].as_i64().unwrap() >= t + 1800);
}

#[test]
fn a_refresh_at_or_after_the_cap_is_rejected() {
    let env = Env::new();
    let t = now();
    let capped = mint(json!({"exp": t + 600, "orig_iat": t - DAY}));
    assert_rejected(&env, &refresh(&env, &capped, &[]), "max_lifetime_exceeded");
    let short = mint(json!({"exp": t + 600, "iat": t - 3600}));
    assert_rejected(
        &env,
        &refresh(&env, &short, &["--max-lifetime", "1h"]),
        "max_lifetime_exceeded",
    );
}

#[test]
fn new_iat_and_jti_nbf_moves_to_now_everything_else_is_carried() {
    let env = Env::new();
    let t = now();
    let header = jsonwebtoken::Header {
        kid: Some("k-9".into()),
        typ: Some("at+jwt".into()),
        ..Default::default()
    };
    let claims = json!({"exp": t + 60, "iat": t - 10, "nbf": t - 10, "jti": "old", "sub": "s",
                        "aud": ["a", "b"], "deep": {"list": [1, {"x": null}], "f": 1.5}});
    let token = jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(crate::common::SECRET.as_bytes()),
    )
    .unwrap();
    let out = refresh(&env, &token, &["--aud", "a", "--typ", "at+jwt"]);
    let (h, c) = parts(stdout(&out).trim());
    assert_eq!((&h["kid"], &h["typ"]), (&json!("k-9"), &json!("at+jwt")));
    assert_eq!(
        (&c["deep"], &c["aud"], &c["sub"]),
        (&claims["deep"], &claims["aud"], &claims["sub"])
    );
    assert_ne!(c["jti"], "old");
    let iat = c["iat"].as_i64().unwrap();
    assert!(iat >= t);
    assert_eq!(c["nbf"], iat);
    let record = env.log().pop().unwrap();
    assert_eq!(
        (&record["parent_jti"], &record["jti"]),
        (&json!("old"), &c["jti"])
    );
}

#[test]
fn a_token_with_only_user_id_and_exp_from_pyjwt_refreshes() {
    let env = Env::new();
    let out = env
        .bare()
        .args([
            "refresh",
            "--no-ledger",
            "--allow-weak-secret",
            "--key-file",
        ])
        .arg(env.key("pyjwt/legacy.key"))
        .write_stdin(crate::common::fixture_text("pyjwt/legacy.jwt"))
        .output()
        .unwrap();
    let c = refreshed_claims(&out);
    assert_eq!(c["user_id"], 42);
    assert!(c.get("sub").is_none());
    assert!(c["jti"].is_string() && c["orig_iat"].is_i64());
}

#[test]
fn grace_lets_a_recently_expired_token_refresh_and_says_so_at_warn() {
    let env = Env::new();
    let t = now();
    let expired = mint(json!({"exp": t - 30, "iat": t - 1000}));
    assert_rejected(&env, &refresh(&env, &expired, &[]), "expired");
    assert_rejected(
        &env,
        &refresh(&env, &expired, &["--grace", "10s"]),
        "expired",
    );
    let out = env.run(&[
        "--log-level",
        "warn",
        "refresh",
        "--no-ledger",
        "--grace",
        "5m",
        &expired,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let record = env.log().pop().unwrap();
    assert_eq!(
        (&record["level"], &record["outcome"]),
        (&json!("WARN"), &json!("success"))
    );
    let used = record["grace_used"].as_i64().unwrap();
    assert!((30..40).contains(&used), "{used}");
    // Grace is for refresh only and never more than a day.
    assert!(
        env.run(&["verify", "--grace", "5m", &expired])
            .status
            .code()
            == Some(2)
    );
    let out = refresh(&env, &expired, &["--grace", "25h"]);
    assert_refused(&env, &out, 2, "usage");
}

#[test]
fn a_refresh_within_leeway_is_not_a_grace_refresh() {
    let env = Env::new();
    let t = now();
    let token = mint(json!({"exp": t + 100}));
    // With a ledger: a refresh without one is at WARN for that reason.
    crate::common::stores::init(&env, "ledger.db");
    let out = refresh(&env, &token, &["--grace", "5m", "--ledger", "ledger.db"]);
    assert!(out.status.success());
    let record = env.log().pop().unwrap();
    assert_eq!(record["level"], "INFO");
    assert!(record.get("grace_used").is_none());
}

#[test]
fn dry_run_prints_the_claims_and_signs_nothing() {
    let env = Env::new();
    let t = now();
    let token = mint(json!({"exp": t + 60, "iat": t - 60, "sub": "s"}));
    let out = refresh(&env, &token, &["--dry-run", "--ttl", "10m"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let claims: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        (&claims["sub"], &claims["orig_iat"]),
        (&json!("s"), &json!(t - 60))
    );
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        600
    );
    let record = env.log().pop().unwrap();
    assert_eq!(
        (&record["dry_run"], &record["outcome"]),
        (&json!(true), &json!("success"))
    );
    assert!(record.get("token_sha256").is_none(), "no token was made");
    // Checks still run.
    let capped = mint(json!({"exp": t + 60, "orig_iat": t - DAY}));
    assert_rejected(
        &env,
        &refresh(&env, &capped, &["--dry-run"]),
        "max_lifetime_exceeded",
    );
}

#[test]
fn orig_iat_cannot_be_set_at_issue_nor_stretched_at_refresh() {
    let env = Env::new();
    for flag in ["orig_iat=4102444800", "orig_iat=0"] {
        let out = env.run(&["issue", "--claim", flag]);
        assert_refused(&env, &out, 2, "usage");
        assert!(stderr(&out).contains("orig_iat"), "{}", stderr(&out));
    }
    let claims_file = env.write("claims.json", r#"{"orig_iat": 4102444800}"#);
    let out = env
        .jwtctl()
        .args(["issue", "--claims"])
        .arg(&claims_file)
        .output()
        .unwrap();
    assert_refused(&env, &out, 2, "usage");
    // A token minted elsewhere with a family start in 2100 is not refreshed for decades.
    let t = now();
    let hostile = mint(json!({"iat": t - 10, "exp": t + 600, "orig_iat": 4_102_444_800_i64}));
    let out = refresh(&env, &hostile, &["--max-lifetime", "1h"]);
    assert_rejected(&env, &out, "invalid_claim");
    let later_than_iat = mint(json!({"iat": t - 100, "exp": t + 600, "orig_iat": t - 50}));
    assert_rejected(&env, &refresh(&env, &later_than_iat, &[]), "invalid_claim");
}
