//! Single use and revocation through the ledger, against every store: each test is a function of
//! the store, run as `NAME::sqlite` and `NAME::postgres` (ignored unless asked: `common::needs`).
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

use crate::common::stores::{Store, store_tests};
use crate::common::{Env, assert_refused, assert_rejected, mint, now, stderr, stdout};
use serde_json::json;

store_tests!(
    a_token_refreshes_once_and_reuse_is_an_error_record,
    tokens_without_jti_are_tracked_by_their_hash,
    dry_run_checks_the_ledger_but_consumes_nothing,
    revoked_tokens_are_rejected_by_verify_and_refresh,
    an_expired_token_may_be_revoked_but_a_forged_one_may_not,
    leeway_and_grace_may_not_outlast_the_ledgers_memory,
    of_eight_concurrent_refreshes_exactly_one_wins,
    of_eight_concurrent_refreshes_on_a_new_ledger_exactly_one_wins,
    an_ecdsa_twin_is_the_same_token_to_the_ledger,
    two_issuers_sharing_a_ledger_do_not_revoke_each_others_jti,
    an_operator_revokes_a_jti_read_in_the_log_and_lists_the_ledger,
);

fn run(env: &Env, ledger: &str, args: &[&str]) -> std::process::Output {
    env.jwtctl()
        .env("JWTCTL_LEDGER", ledger)
        .args(args)
        .output()
        .unwrap()
}

fn a_token_refreshes_once_and_reuse_is_an_error_record(store: Store) {
    let env = Env::new();
    let ledger = store.init(&env);
    let token = env.issue(&["--sub", "alice"]);
    let first = run(&env, ledger, &["refresh", &token]);
    assert!(first.status.success(), "{}", stderr(&first));
    let again = run(&env, ledger, &["refresh", &token]);
    assert_rejected(&env, &again, "reused");
    // The new token is fresh and refreshes in turn.
    let next = stdout(&first).trim().to_string();
    assert!(run(&env, ledger, &["refresh", &next]).status.success());
    if matches!(store, Store::Sqlite) {
        let mode = std::fs::metadata(env.path("ledger.db"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
    }
}

fn tokens_without_jti_are_tracked_by_their_hash(store: Store) {
    let env = Env::new();
    let ledger = store.init(&env);
    let legacy = mint(json!({"user_id": 7, "exp": now() + 600}));
    assert!(run(&env, ledger, &["refresh", &legacy]).status.success());
    assert_rejected(&env, &run(&env, ledger, &["refresh", &legacy]), "reused");
}

fn dry_run_checks_the_ledger_but_consumes_nothing(store: Store) {
    let env = Env::new();
    let ledger = store.init(&env);
    let token = env.issue(&[]);
    assert!(
        run(&env, ledger, &["refresh", "--dry-run", &token])
            .status
            .success()
    );
    assert!(
        run(&env, ledger, &["refresh", &token]).status.success(),
        "not consumed by the dry run"
    );
    assert_rejected(
        &env,
        &run(&env, ledger, &["refresh", "--dry-run", &token]),
        "reused",
    );
}

fn revoked_tokens_are_rejected_by_verify_and_refresh(store: Store) {
    let env = Env::new();
    let ledger = store.init(&env);
    let token = env.issue(&["--sub", "mallory"]);
    let (_, claims) = crate::common::parts(&token);
    let out = run(&env, ledger, &["--log-level", "info", "revoke", &token]);
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
    assert_rejected(&env, &run(&env, ledger, &["verify", &token]), "revoked");
    assert_rejected(&env, &run(&env, ledger, &["refresh", &token]), "revoked");
    // Without the ledger, verify knows nothing of it.
    env.jwtctl().args(["verify", &token]).assert().success();
}

fn an_expired_token_may_be_revoked_but_a_forged_one_may_not(store: Store) {
    let env = Env::new();
    let ledger = store.init(&env);
    let expired = mint(json!({"exp": now() - 3600, "jti": "gone"}));
    assert!(run(&env, ledger, &["revoke", &expired]).status.success());
    let forged = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({"exp": now() + 3600, "jti": "victim"}),
        &jsonwebtoken::EncodingKey::from_secret(b"some-other-secret-some-other-secret"),
    )
    .unwrap();
    assert_rejected(
        &env,
        &run(&env, ledger, &["revoke", &forged]),
        "bad_signature",
    );
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
    // In jwtctl's words, never SQLite's own text (it can echo paths and SQL).
    let out = env.run(&["refresh", "--ledger", "garbage.db", &token]);
    let err = stderr(&out);
    assert!(err.contains("not a jwtctl ledger"), "{err}");
    assert!(!err.contains("file is not a database"), "{err}");
}

fn leeway_and_grace_may_not_outlast_the_ledgers_memory(store: Store) {
    let env = Env::new();
    let ledger = store.init(&env);
    let token = env.issue(&[]);
    let out = run(
        &env,
        ledger,
        &["refresh", "--leeway", "20h", "--grace", "5h", &token],
    );
    assert_refused(&env, &out, 2, "usage");
    let out = run(&env, ledger, &["verify", "--leeway", "2d", &token]);
    assert_refused(&env, &out, 2, "usage");
}

fn of_eight_concurrent_refreshes_exactly_one_wins(store: Store) {
    let env = Env::new();
    let warm = env.issue(&[]);
    assert!(
        run(&env, store.init(&env), &["refresh", &warm])
            .status
            .success()
    );
    race(&env, store.location(), 8);
}

fn of_eight_concurrent_refreshes_on_a_new_ledger_exactly_one_wins(store: Store) {
    let env = Env::new();
    race(&env, store.init(&env), 8);
}

/// `n` processes refresh one token at once: exactly one succeeds, the others are `reused`.
pub fn race(env: &Env, ledger: &str, n: usize) {
    let token = env.issue(&[]);
    let bin = assert_cmd::cargo::cargo_bin("jwtctl");
    let before = env.log().iter().filter(|r| r["reason"] == "reused").count();
    let children: Vec<_> = (0..n)
        .map(|_| {
            Command::new(&bin)
                .current_dir(env.dir.path())
                .env("JWTCTL_KEY_FILE", "test.key")
                .env("JWTCTL_LEDGER", ledger)
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
    assert_eq!(reused - before, n - 1);
}

/// The other valid ECDSA signature of the same content: (r, n - s), which anyone can compute.
fn ecdsa_twin(token: &str, order_hex: &str) -> String {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let (input, sig) = token.rsplit_once('.').unwrap();
    let mut sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
    let half = sig.len() / 2;
    let order: Vec<u8> = (0..order_hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&order_hex[i..i + 2], 16).unwrap())
        .collect();
    let s = &mut sig[half..];
    let mut borrow = 0i16;
    for i in (0..half).rev() {
        let d = i16::from(order[i]) - i16::from(s[i]) - borrow;
        borrow = i16::from(d < 0);
        s[i] = d.rem_euclid(256) as u8;
    }
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

const P256_ORDER: &str = "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551";
const P384_ORDER: &str = "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973";

/// Both curves on one store (one PostgreSQL database: the tokens differ by key, so neither case
/// sees the other's entries).
fn an_ecdsa_twin_is_the_same_token_to_the_ledger(store: Store) {
    let cases = [
        (
            "keys/ec256_pkcs8.pem",
            jsonwebtoken::Algorithm::ES256,
            P256_ORDER,
        ),
        (
            "keys/ec384_pkcs8.pem",
            jsonwebtoken::Algorithm::ES384,
            P384_ORDER,
        ),
    ];
    for (key, alg, order) in cases {
        let env = Env::new();
        let ledger = store.init(&env);
        let key_path = env.key(key);
        let pem = std::fs::read(&key_path).unwrap();
        let signer = jsonwebtoken::EncodingKey::from_ec_pem(&pem).unwrap();
        // No jti: the ledger must identify the token by what its signature covers.
        let claims = json!({"sub": "twin", "exp": now() + 600}).to_string();
        let header = json!({"alg": format!("{alg:?}"), "typ": "JWT"}).to_string();
        let original = crate::common::sign_raw(&header, &claims, &signer, alg);
        let twin = ecdsa_twin(&original, order);
        assert_ne!(twin, original);
        let with_key = |args: &[&str]| {
            env.bare()
                .env("JWTCTL_LEDGER", ledger)
                .arg(args[0])
                .arg("--key-file")
                .arg(&key_path)
                .args(&args[1..])
                .output()
                .unwrap()
        };
        // The twin is a valid signature: without a ledger, both verify.
        assert!(
            with_key(&["verify", &twin]).status.success(),
            "{alg:?} twin verifies"
        );
        // Refreshed once, the twin is `reused`, not refreshed a second time.
        let first = with_key(&["refresh", &original]);
        assert!(first.status.success(), "{}", stderr(&first));
        assert_rejected(&env, &with_key(&["refresh", &twin]), "reused");
        // Revoked, the twin is revoked too.
        let other = crate::common::sign_raw(
            &header,
            &json!({"sub": "other", "exp": now() + 600}).to_string(),
            &signer,
            alg,
        );
        assert!(with_key(&["revoke", &other]).status.success());
        assert_rejected(
            &env,
            &with_key(&["verify", &ecdsa_twin(&other, order)]),
            "revoked",
        );
    }
}

fn two_issuers_sharing_a_ledger_do_not_revoke_each_others_jti(store: Store) {
    let env = Env::new();
    let ledger = store.init(&env);
    let claims = |iss: &str| json!({"iss": iss, "jti": "same-id", "exp": now() + 600});
    let a = mint(claims("https://a.example"));
    let b = mint(claims("https://b.example"));
    let revoked = run(&env, ledger, &["revoke", &a]);
    assert_eq!(
        stdout(&revoked).trim(),
        r#"iss+jti:["https://a.example","same-id"]"#
    );
    let verify_b = run(&env, ledger, &["verify", "--iss", "https://b.example", &b]);
    assert!(verify_b.status.success(), "{}", stderr(&verify_b));
    assert!(run(&env, ledger, &["refresh", &b]).status.success());
    assert_rejected(
        &env,
        &run(&env, ledger, &["verify", "--iss", "https://a.example", &a]),
        "revoked",
    );
}

fn an_operator_revokes_a_jti_read_in_the_log_and_lists_the_ledger(store: Store) {
    let env = Env::new();
    let ledger = store.init(&env);
    let with_iss = env.issue(&["--iss", "https://a.example", "--sub", "x"]);
    let jti = crate::common::parts(&with_iss).1["jti"]
        .as_str()
        .unwrap()
        .to_string();
    // The wrong issuer does not touch it.
    let out = run(
        &env,
        ledger,
        &["revoke", "--jti", &jti, "--iss", "https://b.example"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        run(
            &env,
            ledger,
            &["verify", "--iss", "https://a.example", &with_iss]
        )
        .status
        .success()
    );
    let out = run(
        &env,
        ledger,
        &["revoke", "--jti", &jti, "--iss", "https://a.example"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_rejected(
        &env,
        &run(
            &env,
            ledger,
            &["verify", "--iss", "https://a.example", &with_iss],
        ),
        "revoked",
    );
    // A kid-like id beginning with '-' is taken as a value.
    assert!(
        run(&env, ledger, &["revoke", "--jti", "-odd"])
            .status
            .success()
    );
    let list = run(
        &env,
        ledger,
        &["ledger", "list", "--state", "revoked", "--output", "json"],
    );
    let lines: Vec<serde_json::Value> = stdout(&list)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{}", stdout(&list));
    assert!(lines.iter().any(|e| e["id"] == "any-iss+jti:-odd"));
    let stats: serde_json::Value =
        serde_json::from_str(&stdout(&run(&env, ledger, &["ledger", "stats"]))).unwrap();
    assert_eq!(stats["revoked"], 3);
    assert_eq!(stats["consumed"], 0);
    assert_eq!(stdout(&run(&env, ledger, &["ledger", "prune"])).trim(), "0");
}
