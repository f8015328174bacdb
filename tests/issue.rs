//! `jwtctl issue`: zero-configuration start, claims, lifetimes and refusals.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use std::os::unix::fs::PermissionsExt;

use crate::common::{Env, SECRET, assert_refused, now, parts, stderr, stdout};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};

#[test]
fn zero_configuration_creates_a_0600_key_and_prints_only_the_token() {
    let env = Env::new();
    let out = env.run_bare(&["issue", "--sub", "alice"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let token = stdout(&out);
    assert_eq!(token.lines().count(), 1);
    assert!(token.ends_with('\n'));
    assert_eq!(token.trim_end().split('.').count(), 3);
    assert_eq!(stderr(&out).lines().count(), 1, "a one-line notice");
    assert!(stderr(&out).contains("jwtctl.key"));

    let key_path = env.path("jwtctl.key");
    let mode = std::fs::metadata(&key_path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let key = std::fs::read_to_string(&key_path).unwrap();
    let secret = key.strip_suffix('\n').unwrap();
    assert_eq!(secret.len(), 64);
    assert!(
        secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );

    // The token checks out with the created secret under an independent decoder.
    let data = jsonwebtoken::decode::<Value>(
        token.trim_end(),
        &DecodingKey::from_secret(secret.as_bytes()),
        &Validation::new(Algorithm::HS256),
    )
    .unwrap();
    assert_eq!(data.claims["sub"], "alice");

    // A second issue reuses the key and says nothing on stderr.
    let again = env.run_bare(&["issue"]);
    assert!(again.status.success());
    assert_eq!(stderr(&again), "");
    assert_eq!(std::fs::read_to_string(&key_path).unwrap(), key);
}

#[test]
fn key_creation_has_a_warn_record_of_its_own() {
    let env = Env::new();
    env.bare()
        .args(["--log-level", "info", "issue"])
        .assert()
        .success();
    let log = env.log();
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!(
        (&log[0]["level"], &log[0]["event"]),
        (&json!("WARN"), &json!("key_created"))
    );
    assert_eq!(
        (&log[1]["level"], &log[1]["op"]),
        (&json!("INFO"), &json!("issue"))
    );
}

#[test]
fn sets_iat_exp_and_a_random_jti() {
    let env = Env::new();
    let before = now();
    let token = env.issue(&["--ttl", "1h30m"]);
    let (header, claims) = parts(&token);
    assert_eq!(header["alg"], "HS256");
    assert_eq!(header["typ"], "JWT");
    let iat = claims["iat"].as_i64().unwrap();
    assert!(iat >= before && iat <= now());
    assert_eq!(claims["exp"].as_i64().unwrap(), iat + 5400);
    let jti = claims["jti"].as_str().unwrap();
    assert_eq!(jti.len(), 22, "128 bits in base64url");
    let (_, other) = parts(&env.issue(&[]));
    assert_ne!(other["jti"], claims["jti"]);
    assert_eq!(
        other["exp"].as_i64().unwrap() - other["iat"].as_i64().unwrap(),
        1800,
        "30m default"
    );
}

#[test]
fn one_audience_is_a_string_several_an_array() {
    let env = Env::new();
    let (_, one) = parts(&env.issue(&["--aud", "api"]));
    assert_eq!(one["aud"], "api");
    let (_, two) = parts(&env.issue(&["--aud", "api", "--aud", "web"]));
    assert_eq!(two["aud"], json!(["api", "web"]));
}

#[test]
fn claim_values_are_json_when_they_parse_and_flags_win_over_the_claims_file() {
    let env = Env::new();
    env.write(
        "claims.json",
        r#"{"role":"user","sub":"from-file","org":"acme"}"#,
    );
    let (_, c) = parts(&env.issue(&[
        "--claims",
        "claims.json",
        "--sub",
        "alice",
        "--claim",
        "role=admin",
        "--claim",
        "n=42",
        "--claim",
        "tags=[\"a\",1]",
        "--claim",
        "expr=a=b",
        "--claim",
        "word=hello",
    ]));
    assert_eq!(c["sub"], "alice");
    assert_eq!(c["role"], "admin");
    assert_eq!(c["org"], "acme");
    assert_eq!(c["n"], 42);
    assert_eq!(c["tags"], json!(["a", 1]));
    assert_eq!(c["expr"], "a=b");
    assert_eq!(c["word"], "hello");
}

#[test]
fn claims_can_come_from_stdin() {
    let env = Env::new();
    let out = env
        .jwtctl()
        .args(["issue", "--claims", "-"])
        .write_stdin(r#"{"scope":"read"}"#)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(parts(stdout(&out).trim_end()).1["scope"], "read");
}

#[test]
fn reserved_claims_are_a_usage_error_naming_the_flag() {
    let env = Env::new();
    for (args, flag) in [
        (vec!["--claim", "exp=1"], "--ttl"),
        (vec!["--claim", "iat=1"], "iat"),
        (vec!["--claim", "jti=x"], "use --jti ID"),
        (vec!["--claim", "nbf=1"], "nbf"),
    ] {
        let out = env.jwtctl().arg("issue").args(&args).output().unwrap();
        assert_refused(&env, &out, 2, "usage");
        assert!(stderr(&out).contains(flag), "{}", stderr(&out));
    }
    env.write("c.json", r#"{"exp": 99}"#);
    let out = env.run(&["issue", "--claims", "c.json"]);
    assert_refused(&env, &out, 2, "usage");
    assert!(stderr(&out).contains("--ttl"));
}

/// Invariant: `iss`, `sub` and each `aud` of a token hold what `--iss`, `--sub` and `--aud`
/// take, however they are given: `--claim` and `--claims` cannot set one empty, blank or with a
/// control character. The refusal names the claim and the flag, and never echoes the value.
#[test]
fn identifying_claims_from_claim_and_claims_hold_what_the_flags_take() {
    let env = Env::new();
    for (claim, named) in [
        ("sub=\"\"", "the claim 'sub' given with --claim is empty"),
        (
            "iss=\"a\nb\"",
            "the claim 'iss' given with --claim holds a control character",
        ),
        ("aud=\"\"", "the claim 'aud' given with --claim is empty"),
        (
            "aud=[\"ok\",\" \"]",
            "an element of the claim 'aud' given with --claim is blank",
        ),
    ] {
        let out = env.run(&["issue", "--claim", claim]);
        assert_refused(&env, &out, 2, "usage");
        assert!(stderr(&out).contains(named), "{claim}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("give a printable"),
            "{}",
            stderr(&out)
        );
    }
    for (file, named) in [
        (
            r#"{"sub":""}"#,
            "the claim 'sub' given with --claims is empty",
        ),
        (
            r#"{"iss":" "}"#,
            "the claim 'iss' given with --claims is blank",
        ),
        (
            r#"{"aud":["","\u001b[31m"]}"#,
            "an element of the claim 'aud' given with --claims is empty",
        ),
        (
            r#"{"aud":["x","\u001b[31m"]}"#,
            "an element of the claim 'aud' given with --claims holds a control character",
        ),
    ] {
        env.write("c.json", file);
        let out = env.run(&["issue", "--claims", "c.json"]);
        assert_refused(&env, &out, 2, "usage");
        assert!(stderr(&out).contains(named), "{file}: {}", stderr(&out));
        assert!(!stderr(&out).contains("[31m"), "{}", stderr(&out));
    }
    // A flag given beside a bad claim still does not launder it: --claims is judged as given.
    env.write("c.json", r#"{"sub":""}"#);
    let out = env.run(&["issue", "--claims", "c.json", "--sub", "alice"]);
    assert_refused(&env, &out, 2, "usage");
}

#[test]
fn bad_claims_input_is_exit_2() {
    let env = Env::new();
    env.write("list.json", "[1,2]");
    let out = env.run(&["issue", "--claims", "list.json"]);
    assert_refused(&env, &out, 2, "usage");
    let out = env.run(&["issue", "--claims", "missing.json"]);
    assert_refused(&env, &out, 2, "io_error");
    let out = env.run(&["issue", "--claim", "novalue"]);
    assert_refused(&env, &out, 2, "usage");
}

#[test]
fn durations_must_be_positive_and_parse() {
    let env = Env::new();
    let (_, c) = parts(&env.issue(&["--ttl", "7d"]));
    assert_eq!(
        c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(),
        7 * 86400
    );
    for bad in ["0s", "-5m", "soon", ""] {
        let out = env.run(&["issue", "--ttl", bad]);
        assert_refused(&env, &out, 2, "usage");
    }
}

#[test]
fn kid_and_alg_reach_the_header() {
    let env = Env::new();
    env.write("long.key", &"k".repeat(64));
    let token = env.issue(&[
        "--kid",
        "2026-11",
        "--alg",
        "HS512",
        "--key-file",
        "long.key",
    ]);
    let (header, _) = parts(&token);
    assert_eq!(
        (&header["kid"], &header["alg"]),
        (&json!("2026-11"), &json!("HS512"))
    );
}

#[test]
fn an_algorithm_the_key_cannot_serve_is_exit_2() {
    let env = Env::new();
    let out = env.run(&["issue", "--alg", "RS256"]);
    assert_refused(&env, &out, 2, "key_error");
    // test.key is 45 bytes: enough for HS256, too short for HS384/HS512.
    let out = env.run(&["issue", "--alg", "HS512"]);
    assert_refused(&env, &out, 2, "key_error");
    assert!(!stderr(&out).contains(SECRET));
}

#[test]
fn concurrent_first_runs_create_one_whole_key_and_all_sign_with_it() {
    for _ in 0..5 {
        let env = Env::new();
        let children: Vec<_> = (0..10)
            .map(|_| {
                std::process::Command::new(assert_cmd::cargo::cargo_bin("jwtctl"))
                    .current_dir(env.dir.path())
                    .env_remove("JWTCTL_KEY_FILE")
                    .env_remove("JWTCTL_SECRET")
                    .arg("issue")
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let tokens: Vec<String> = children
            .into_iter()
            .map(|c| {
                let out = c.wait_with_output().unwrap();
                assert!(out.status.success(), "{}", stderr(&out));
                stdout(&out).trim().to_string()
            })
            .collect();
        let key = std::fs::read_to_string(env.path("jwtctl.key")).unwrap();
        assert_eq!(key.trim_end().len(), 64, "the whole key");
        for token in tokens {
            let out = env
                .bare()
                .args(["verify", "--key-file", "jwtctl.key", &token])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "signed with another key: {}",
                stderr(&out)
            );
        }
        assert_eq!(env.temp_files(), 0, "no temporary key files left behind");
    }
}

#[test]
fn registered_claims_of_a_type_verify_refuses_are_usage_errors() {
    let env = Env::new();
    for (flag, claim) in [
        ("sub=42", "sub"),
        ("iss=5", "iss"),
        ("aud=[1,2]", "aud"),
        ("aud={\"a\":1}", "aud"),
    ] {
        let out = env.run(&["issue", "--claim", flag]);
        assert_refused(&env, &out, 2, "usage");
        assert!(
            stderr(&out).contains(&format!("'{claim}'")),
            "{}",
            stderr(&out)
        );
    }
    assert!(
        env.run(&["issue", "--claim", "aud=[\"a\",\"b\"]"])
            .status
            .success()
    );
}

#[test]
fn a_refused_issue_creates_no_default_key() {
    let env = Env::new();
    for args in [
        &["issue", "--alg", "RS256"][..],
        &["issue", "--claims", "missing.json"],
        &["issue", "--claim", "exp=1"],
        &["issue", "--password-file", "missing.txt"],
        &["issue", "--password-env", "JWTCTL_TEST_UNSET_PASSWORD"],
        &["issue", "--secret-encoding", "hex"],
        &["issue", "--secret-encoding", "base64"],
        &["issue", "--nbf", "2020-13-45T00:00:00Z"],
        &["issue", "--jti", ""],
        &["issue", "--typ", ""],
    ] {
        let out = env.run_bare(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            !env.path("jwtctl.key").exists(),
            "{args:?} created ./jwtctl.key: {}",
            stderr(&out)
        );
    }
}

#[test]
fn issue_and_refresh_output_json_tells_a_script_when_to_refresh() {
    let env = Env::new();
    let out = env.run(&["issue", "--sub", "j", "--kid", "k1", "--output", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let issued: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let token = issued["token"].as_str().unwrap();
    let claims = parts(token).1;
    assert_eq!(issued["jti"], claims["jti"]);
    assert_eq!(issued["exp"], claims["exp"]);
    assert_eq!(issued["kid"], "k1");
    let expires_at =
        chrono::DateTime::parse_from_rfc3339(issued["expires_at"].as_str().unwrap()).unwrap();
    assert_eq!(Some(expires_at.timestamp()), claims["exp"].as_i64());
    let out = env.run(&["refresh", "--no-ledger", "--output", "json", token]);
    assert!(out.status.success(), "{}", stderr(&out));
    let refreshed: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_ne!(refreshed["jti"], issued["jti"]);
    assert_eq!(
        parts(refreshed["token"].as_str().unwrap()).1["jti"],
        refreshed["jti"]
    );
}

#[test]
fn issue_sets_nbf_jti_and_typ_through_flags() {
    let env = Env::new();
    let token = env.issue(&["--nbf", "10m", "--jti", "-my-id", "--typ", "at+jwt"]);
    let (header, claims) = parts(&token);
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(claims["jti"], "-my-id");
    let nbf = claims["nbf"].as_i64().unwrap();
    assert!((nbf - now() - 600).abs() <= 5, "nbf is now + 10m");
    // Not valid yet, and of the type asked for.
    let out = env.run(&["verify", "--typ", "at+jwt", &token]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not_yet_valid"), "{}", stderr(&out));
    let at = env.issue(&["--nbf", "2026-01-01T00:00:00Z"]);
    assert_eq!(parts(&at).1["nbf"], 1_767_225_600);
    let never = env.run(&["issue", "--ttl", "5m", "--nbf", "1h"]);
    assert_refused(&env, &never, 2, "usage");
    assert_refused(&env, &env.run(&["issue", "--jti", ""]), 2, "usage");
}
