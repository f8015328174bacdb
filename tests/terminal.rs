//! Every answer on stdout and stderr keeps token and argv values off the terminal raw (C0 other
//! than the line structure, DEL, C1 CSI/OSC/NEL, bidi/format characters), and JSON answers still
//! read back as the same values.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use std::process::Output;

use serde_json::{Value, json};

use crate::common::{Env, mint_raw, stderr, stdout};
use crate::inspect::{TERMINAL_ATTACK, raw_on_screen};

/// A verifiable token whose kid, sub, iss and jti are all [`TERMINAL_ATTACK`].
fn hostile_token() -> String {
    let header = json!({"alg": "HS256", "kid": TERMINAL_ATTACK}).to_string();
    let claims = json!({
        "sub": TERMINAL_ATTACK,
        "iss": TERMINAL_ATTACK,
        "jti": TERMINAL_ATTACK,
        "exp": crate::common::now() + 600,
    });
    mint_raw(&header, &claims.to_string())
}

/// The command succeeded and nothing hostile reached either stream.
fn assert_clean(out: &Output, what: &str) {
    assert!(out.status.success(), "{what}: {}", stderr(out));
    assert_eq!(raw_on_screen(&stdout(out)), [], "{what}: {:?}", stdout(out));
    assert_eq!(raw_on_screen(&stderr(out)), [], "{what}: {:?}", stderr(out));
}

/// Each stdout line as JSON (it must parse).
fn json_lines(out: &Output) -> Vec<Value> {
    stdout(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn revoke_prints_the_id_escaped_as_ledger_list_shows_it() {
    let env = Env::new();
    let token = hostile_token();
    let run = |args: &[&str]| {
        env.jwtctl()
            .env("JWTCTL_LEDGER", env.path("l.db"))
            .args(args)
            .output()
            .unwrap()
    };
    assert!(run(&["ledger", "init"]).status.success());
    let by_token = run(&["revoke", &token]);
    assert_clean(&by_token, "revoke TOKEN");
    assert!(stdout(&by_token).contains("\\u009b2J\\u009d0;owned\\u0007\\u001b[31m"));
    // An id with control characters is refused (operator_values); the stderr line says so
    // without repeating them.
    // So is one with a bidi override or line separator (a spoof, SECURITY.md).
    for jti in ["a\nb\u{1b}[2J\u{85}", "a b\u{202e}\u{2028}"] {
        let refused = run(&["revoke", "--jti", jti]);
        assert_eq!(refused.status.code(), Some(2));
        assert_eq!(
            raw_on_screen(&stderr(&refused)),
            [],
            "{:?}",
            stderr(&refused)
        );
    }
    let jti = "a b";
    let by_id = run(&["--log-level", "info", "revoke", "--jti", jti]);
    assert_clean(&by_id, "revoke --jti");
    assert_eq!(
        stdout(&by_id),
        "any-iss+jti:a b\n",
        "one line, the id as given"
    );
    // The record keeps the real id (the log is JSON, which escapes it itself).
    assert_eq!(env.log().pop().unwrap()["jti"], jti);
    // `ledger list` shows each id exactly as revoke printed it.
    let list = run(&["ledger", "list"]);
    assert_clean(&list, "ledger list");
    for printed in [stdout(&by_token), stdout(&by_id)] {
        let id = printed.trim_end();
        assert!(
            stdout(&list)
                .lines()
                .any(|l| l.split('\t').nth(1) == Some(id)),
            "{id} in {}",
            stdout(&list)
        );
    }
    let listed = run(&["ledger", "list", "--output", "json"]);
    assert_clean(&listed, "ledger list --output json");
    assert!(
        json_lines(&listed)
            .iter()
            .any(|e| e["id"] == format!("any-iss+jti:{jti}"))
    );
}

#[test]
fn json_answers_escape_c1_and_bidi_and_read_back_the_same() {
    let env = Env::new();
    let token = hostile_token();
    let evil = TERMINAL_ATTACK;

    let out = env.run(&["verify", "--output", "json", &token]);
    assert_clean(&out, "verify --output json");
    let verdict = &json_lines(&out)[0];
    assert_eq!(verdict["header"]["kid"], evil);
    assert_eq!(
        (&verdict["claims"]["sub"], &verdict["claims"]["iss"]),
        (&json!(evil), &json!(evil))
    );

    let out = env
        .jwtctl()
        .args(["verify", "--batch"])
        .write_stdin(format!("{token}\n{token}\n"))
        .output()
        .unwrap();
    assert_clean(&out, "verify --batch");
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 2);
    assert!(
        lines
            .iter()
            .all(|v| v["header"]["kid"] == evil && v["claims"]["jti"] == evil)
    );

    let out = env.run(&["refresh", "--no-ledger", "--output", "json", &token]);
    assert_clean(&out, "refresh --output json");
    assert_eq!(json_lines(&out)[0]["kid"], evil);

    let out = env.run(&["refresh", "--no-ledger", "--dry-run", &token]);
    assert_clean(&out, "refresh --dry-run");
    assert_eq!(json_lines(&out)[0]["sub"], evil);

    // Typed flags with control characters are refused (operator_values), and so is a ring's kid
    // (below); from a claims file (not iss, sub or aud), hostile values are issued, and printed
    // escaped.
    let refused = env.run(&["issue", "--kid", evil, "--sub", evil, "--output", "json"]);
    assert_eq!(refused.status.code(), Some(2));
    assert_eq!(
        raw_on_screen(&stderr(&refused)),
        [],
        "{:?}",
        stderr(&refused)
    );
    // An identifying claim from a claims file is held to the flags' rule (issue.rs); any other
    // claim may hold anything, and is printed escaped.
    env.write("claims.json", &json!({"sub": evil}).to_string());
    let refused = env.run(&["issue", "--claims", "claims.json"]);
    assert_eq!(refused.status.code(), Some(2));
    assert_eq!(
        raw_on_screen(&stderr(&refused)),
        [],
        "{:?}",
        stderr(&refused)
    );
    env.write("claims.json", &json!({"note": evil}).to_string());
    let made = env.run_bare(&[
        "key", "gen", "--type", "hmac", "--format", "jwk", "--out", "k.jwk",
    ]);
    assert!(made.status.success(), "{}", stderr(&made));
    let out = env.run_bare(&[
        "issue",
        "--key-file",
        "k.jwk",
        "--claims",
        "claims.json",
        "--output",
        "json",
    ]);
    assert_clean(&out, "issue --output json");
    let issued = &json_lines(&out)[0];
    assert_eq!(
        crate::common::parts(issued["token"].as_str().unwrap()).1["note"],
        evil
    );
}

/// A key ring's kid is one an operator can type (`key::a_ring_member_with_a_kid_no_one_can_name_*`):
/// a hostile one is refused at load, and the refusal does not repeat it.
#[test]
fn a_key_rings_hostile_kid_is_refused_without_being_shown() {
    let env = Env::new();
    let made = env.run_bare(&["key", "gen", "--type", "ed25519", "--out", "ed.pem"]);
    assert!(made.status.success(), "{}", stderr(&made));
    let jwk = env.run_bare(&["key", "public", "--key-file", "ed.pem", "--format", "jwk"]);
    let mut jwk: Value = serde_json::from_str(&stdout(&jwk)).unwrap();
    jwk["kid"] = json!(TERMINAL_ATTACK);
    env.write("evil.json", &json!({"keys": [jwk]}).to_string());
    for format in ["jwks", "jwk"] {
        let out = env.run_bare(&["key", "public", "--jwks", "evil.json", "--format", format]);
        assert_eq!(out.status.code(), Some(2), "{format}: {}", stderr(&out));
        assert_eq!(stdout(&out), "");
        assert_eq!(raw_on_screen(&stderr(&out)), [], "{:?}", stderr(&out));
        assert!(stderr(&out).contains("keys[0]"), "{}", stderr(&out));
    }
}
