//! Single use and revocation through the ledger.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

use common::{Env, assert_refused, assert_rejected, mint, now, stderr, stdout};
use serde_json::json;

fn run(env: &Env, args: &[&str]) -> std::process::Output {
    env.jwtctl()
        .env("JWTCTL_LEDGER", "ledger.db")
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn a_token_refreshes_once_and_reuse_is_an_error_record() {
    let env = Env::new();
    let token = env.issue(&["--sub", "alice"]);
    let first = run(&env, &["refresh", &token]);
    assert!(first.status.success(), "{}", stderr(&first));
    let again = run(&env, &["refresh", &token]);
    assert_rejected(&env, &again, "reused");
    // The new token is fresh and refreshes in turn.
    let next = stdout(&first).trim().to_string();
    assert!(run(&env, &["refresh", &next]).status.success());
    let mode = std::fs::metadata(env.path("ledger.db"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn tokens_without_jti_are_tracked_by_their_hash() {
    let env = Env::new();
    let legacy = mint(json!({"user_id": 7, "exp": now() + 600}));
    assert!(run(&env, &["refresh", &legacy]).status.success());
    assert_rejected(&env, &run(&env, &["refresh", &legacy]), "reused");
}

#[test]
fn dry_run_checks_the_ledger_but_consumes_nothing() {
    let env = Env::new();
    let token = env.issue(&[]);
    assert!(
        run(&env, &["refresh", "--dry-run", &token])
            .status
            .success()
    );
    assert!(
        run(&env, &["refresh", &token]).status.success(),
        "not consumed by the dry run"
    );
    assert_rejected(
        &env,
        &run(&env, &["refresh", "--dry-run", &token]),
        "reused",
    );
}

#[test]
fn revoked_tokens_are_rejected_by_verify_and_refresh() {
    let env = Env::new();
    let token = env.issue(&["--sub", "mallory"]);
    let (_, claims) = common::parts(&token);
    let out = run(&env, &["--log-level", "info", "revoke", &token]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!("jti:{}\n", claims["jti"].as_str().unwrap())
    );
    let record = env.log().pop().unwrap();
    assert_eq!(
        (&record["op"], &record["sub"]),
        (&json!("revoke"), &json!("mallory"))
    );
    assert_rejected(&env, &run(&env, &["verify", &token]), "revoked");
    assert_rejected(&env, &run(&env, &["refresh", &token]), "revoked");
    // Without the ledger, verify knows nothing of it.
    env.jwtctl().args(["verify", &token]).assert().success();
}

#[test]
fn an_expired_token_may_be_revoked_but_a_forged_one_may_not() {
    let env = Env::new();
    let expired = mint(json!({"exp": now() - 3600, "jti": "gone"}));
    assert!(run(&env, &["revoke", &expired]).status.success());
    let forged = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({"exp": now() + 3600, "jti": "victim"}),
        &jsonwebtoken::EncodingKey::from_secret(b"some-other-secret-some-other-secret"),
    )
    .unwrap();
    assert_rejected(&env, &run(&env, &["revoke", &forged]), "bad_signature");
}

#[test]
fn revoke_without_a_ledger_says_how_to_configure_one() {
    let env = Env::new();
    let token = env.issue(&[]);
    let out = env.run(&["revoke", &token]);
    assert_refused(&env, &out, 2, "usage");
    assert!(stderr(&out).contains("--ledger") && stderr(&out).contains("JWTCTL_LEDGER"));
}

#[test]
fn a_ledger_that_cannot_be_opened_or_read_is_exit_2_with_its_path() {
    let env = Env::new();
    let token = env.issue(&[]);
    env.write("garbage.db", &"not a database ".repeat(100));
    std::fs::create_dir(env.path("dir.db")).unwrap();
    for path in ["garbage.db", "dir.db", "missing/ledger.db"] {
        let out = env.run(&["refresh", "--ledger", path, &token]);
        assert_refused(&env, &out, 2, "ledger_error");
        assert!(stderr(&out).contains(path), "{}", stderr(&out));
    }
}

#[test]
fn leeway_and_grace_may_not_outlast_the_ledgers_memory() {
    let env = Env::new();
    let token = env.issue(&[]);
    let out = run(
        &env,
        &["refresh", "--leeway", "20h", "--grace", "5h", &token],
    );
    assert_refused(&env, &out, 2, "usage");
    let out = run(&env, &["verify", "--leeway", "2d", &token]);
    assert_refused(&env, &out, 2, "usage");
}

#[test]
fn of_eight_concurrent_refreshes_exactly_one_wins() {
    let env = Env::new();
    let warm = env.issue(&[]);
    assert!(run(&env, &["refresh", &warm]).status.success());
    race_eight(&env);
}

#[test]
fn of_eight_concurrent_refreshes_on_a_new_ledger_exactly_one_wins() {
    race_eight(&Env::new());
}

fn race_eight(env: &Env) {
    let token = env.issue(&[]);
    let bin = assert_cmd::cargo::cargo_bin("jwtctl");
    let children: Vec<_> = (0..8)
        .map(|_| {
            Command::new(&bin)
                .current_dir(env.dir.path())
                .env("JWTCTL_KEY_FILE", "test.key")
                .env("JWTCTL_LEDGER", "ledger.db")
                .args(["refresh", &token])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outputs: Vec<_> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    let winners = outputs.iter().filter(|o| o.status.success()).count();
    assert_eq!(winners, 1);
    for out in outputs.iter().filter(|o| !o.status.success()) {
        assert_eq!(out.status.code(), Some(1), "{}", stderr(out));
        assert!(
            stderr(out).contains("token rejected: reused"),
            "{}",
            stderr(out)
        );
        assert_eq!(stdout(out), "");
    }
    let reused = env.log().iter().filter(|r| r["reason"] == "reused").count();
    assert_eq!(reused, 7);
}
