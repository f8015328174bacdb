//! Verification for CI: key sets, strict checks, `--at`, machine-readable and batch results.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use crate::common::{
    Env, assert_refused, assert_rejected, fixture, fixture_text, mint, mint_raw, now, sha256sum,
    sign_raw, stderr, stdout,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};

fn with_jwks(env: &Env, flags: &[&str], token: &str) -> std::process::Output {
    env.bare()
        .args(["verify", "--iss", "pyjwt", "--jwks"])
        .arg(env.key("pyjwt/jwks.json"))
        .args(flags)
        .write_stdin(token.to_string())
        .output()
        .unwrap()
}

#[test]
fn a_jwk_set_of_rsa_and_ec_keys_from_pyjwt_chooses_by_kid() {
    let env = Env::new();
    for kid in ["rsa-1", "ec-1", "ec384-1"] {
        let out = with_jwks(&env, &[], &fixture_text(&format!("pyjwt/jwks_{kid}.jwt")));
        assert!(out.status.success(), "{kid}: {}", stderr(&out));
        assert_eq!(
            serde_json::from_str::<Value>(&stdout(&out)).unwrap()["sub"],
            "interop"
        );
    }
    // The same algorithms, pinned explicitly (repeatable --alg).
    let out = with_jwks(
        &env,
        &["--alg", "RS256", "--alg", "ES256"],
        &fixture_text("pyjwt/jwks_ec-1.jwt"),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = with_jwks(
        &env,
        &["--alg", "RS256"],
        &fixture_text("pyjwt/jwks_ec-1.jwt"),
    );
    assert_rejected(&env, &out, "alg_not_allowed");
}

#[test]
fn no_matching_key_covers_kid_use_alg_and_missing_kid() {
    let env = Env::new();
    // A key whose use is enc is no candidate.
    assert_rejected(
        &env,
        &with_jwks(&env, &[], &fixture_text("pyjwt/jwks_rsa-enc.jwt")),
        "no_matching_key",
    );
    // No kid, and the set has several keys (counted before filtering).
    assert_rejected(
        &env,
        &with_jwks(&env, &[], &fixture_text("pyjwt/jwks_nokid.jwt")),
        "no_matching_key",
    );
    // A kid the set does not have.
    let (h, rest) = fixture_text("pyjwt/jwks_ec-1.jwt")
        .trim()
        .split_once('.')
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .unwrap();
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&h).unwrap()).unwrap();
    assert_eq!(header["kid"], "ec-1");
    let other = format!(
        "{}.{rest}",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"ES256","kid":"ec-9"}"#)
    );
    assert_rejected(&env, &with_jwks(&env, &[], &other), "no_matching_key");
    // ec-1 carries alg ES256: a token claiming ES384 with kid ec-1 finds no key.
    let liar = format!(
        "{}.{rest}",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"ES384","kid":"ec-1"}"#)
    );
    assert_rejected(&env, &with_jwks(&env, &[], &liar), "no_matching_key");
    // A set with one key serves a token without kid.
    let out = env
        .bare()
        .args(["verify", "--jwks"])
        .arg(env.key("pyjwt/jwks_single.json"))
        .args(["--iss", "pyjwt"])
        .write_stdin(fixture_text("pyjwt/jwks_nokid.jwt"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn jwks_with_another_key_source_is_a_usage_error() {
    let env = Env::new();
    let out = env.run(&["verify", "--key-file", "test.key", "--jwks", "x.json", "t"]);
    assert_refused(&env, &out, 2, "usage");
    env.write(
        "empty.json",
        r#"{"keys":[{"kty":"RSA","use":"enc","n":"AQAB","e":"AQAB"}]}"#,
    );
    let out = env.run(&["verify", "--jwks", "empty.json", "t"]);
    assert_refused(&env, &out, 2, "key_error");
}

#[test]
fn header_urls_and_embedded_keys_are_never_followed() {
    let env = Env::new();
    // An attacker signs with their own secret and points at it every way a header can.
    let header = json!({"alg": "HS256", "kid": "ec-1", "jku": "http://127.0.0.1:9/jwks",
        "x5u": "http://127.0.0.1:9/cert", "x5c": ["MIIB"],
        "jwk": {"kty": "oct", "k": URL_SAFE_NO_PAD.encode("attacker-secret-attacker-secret!")}});
    let claims = json!({"exp": now() + 60, "iss": "pyjwt"}).to_string();
    let attacker_secret = EncodingKey::from_secret(b"attacker-secret-attacker-secret!");
    let token = sign_raw(
        &header.to_string(),
        &claims,
        &attacker_secret,
        Algorithm::HS256,
    );
    assert_rejected(
        &env,
        &env.verify(&["--iss", "pyjwt"], &token),
        "bad_signature",
    );
    assert_rejected(&env, &with_jwks(&env, &[], &token), "alg_not_allowed");
    // The same with an EC key of the attacker's, sent along as the header's jwk, and the kid of
    // a real key in the set: the set's key decides.
    let attacker = std::fs::read(fixture("keys/ec256_pkcs8.pem")).unwrap();
    let embedded: Value = serde_json::from_str(&fixture_text("pyjwt/ec256_public.jwk")).unwrap();
    let header = json!({"alg": "ES256", "kid": "ec-1", "jwk": embedded});
    let attacker = EncodingKey::from_ec_pem(&attacker).unwrap();
    let token = sign_raw(&header.to_string(), &claims, &attacker, Algorithm::ES256);
    assert_rejected(&env, &with_jwks(&env, &[], &token), "bad_signature");
}

#[test]
fn every_strict_check_has_its_reason() {
    let env = Env::new();
    let t = now();
    let cases: Vec<(String, Vec<&str>, &str)> = vec![
        (
            mint_raw(
                r#"{"alg":"HS256","crit":["b64"],"b64":false}"#,
                &json!({"exp": t + 60}).to_string(),
            ),
            vec![],
            "crit_unsupported",
        ),
        (
            mint_raw(
                r#"{"alg":"HS256","typ":"at+jwt"}"#,
                &json!({"exp": t + 60}).to_string(),
            ),
            vec![],
            "typ_mismatch",
        ),
        (
            mint(json!({"exp": t + 60})),
            vec!["--typ", "at+jwt"],
            "typ_mismatch",
        ),
        (
            mint(json!({"exp": t + 60})),
            vec!["--require", "scope"],
            "missing_claim",
        ),
        (
            mint(json!({"exp": t + 60})),
            vec!["--min-remaining", "5m"],
            "expires_too_soon",
        ),
        (
            mint(json!({"exp": t + 600, "iat": t - 7200})),
            vec!["--max-age", "1h"],
            "too_old",
        ),
        (
            mint(json!({"exp": t + 600})),
            vec!["--max-age", "1h"],
            "missing_claim",
        ),
        (
            mint(json!({"exp": t + 60, "pad": "x".repeat(200)})),
            vec!["--max-token-size", "100"],
            "too_large",
        ),
        (mint(json!({"exp": "soon"})), vec![], "invalid_claim"),
        (
            mint(json!({"exp": t + 60, "nbf": "now"})),
            vec![],
            "invalid_claim",
        ),
        (
            mint(json!({"exp": t + 60, "iat": true})),
            vec![],
            "invalid_claim",
        ),
        (
            mint(json!({"exp": t + 60, "aud": 123})),
            vec!["--aud", "123"],
            "invalid_claim",
        ),
        (
            mint(json!({"exp": t + 60, "aud": ["a", 1]})),
            vec!["--aud", "a"],
            "invalid_claim",
        ),
        (
            mint(json!({"exp": t + 60, "iss": 123})),
            vec![],
            "invalid_claim",
        ),
        (
            mint(json!({"exp": t + 60, "sub": {"id": 1}})),
            vec![],
            "invalid_claim",
        ),
        (mint(json!({"iat": t})), vec![], "missing_claim"),
    ];
    for (token, flags, reason) in cases {
        let out = env.verify(&flags, &token);
        assert_rejected(&env, &out, reason);
    }
    // Passing variants of the same checks.
    let ok = mint_raw(
        r#"{"alg":"HS256","typ":"application/AT+JWT"}"#,
        &json!({"exp": t + 600, "iat": t, "scope": "r"}).to_string(),
    );
    let out = env.verify(
        &[
            "--typ",
            "at+jwt",
            "--require",
            "scope",
            "--min-remaining",
            "5m",
            "--max-age",
            "1h",
        ],
        &ok,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    // A u64::MAX exp is a number like any other: no overflow, no panic.
    let forever = mint_raw(r#"{"alg":"HS256"}"#, r#"{"exp":18446744073709551615}"#);
    assert!(env.verify(&[], &forever).status.success());
}

#[test]
fn the_rfc_examples_verify_as_of_a_time_inside_their_validity() {
    let env = Env::new();
    let token = fixture_text("rfc/rfc7515_a1.jwt");
    // The RFC's HMAC key, kept 0600 as a secret should be (git checks files out 0644).
    let jwk = env.write("rfc7515_a1.jwk", &fixture_text("rfc/rfc7515_a1.jwk"));
    for at in [
        "1300819300",
        "2011-03-22T18:40:00Z",
        "2011-03-22T19:42:59+01:00",
    ] {
        let out = env
            .bare()
            .args([
                "--log-level",
                "info",
                "verify",
                "--iss",
                "joe",
                "--at",
                at,
                "--key-file",
            ])
            .arg(&jwk)
            .write_stdin(token.clone())
            .output()
            .unwrap();
        assert!(out.status.success(), "{at}: {}", stderr(&out));
        let claims: Value = serde_json::from_str(&stdout(&out)).unwrap();
        assert_eq!(claims["http://example.com/is_root"], true);
        assert!(
            env.log().pop().unwrap()["at"]
                .as_i64()
                .is_some_and(|a| a <= 1300819380)
        );
    }
    // At exp, and today, it is expired.
    for at in [vec!["--at", "1300819380"], vec![]] {
        let out = env
            .bare()
            .args(["verify", "--key-file"])
            .arg(&jwk)
            .args(&at)
            .write_stdin(token.clone())
            .output()
            .unwrap();
        assert_rejected(&env, &out, "expired");
    }
    // Relative times are taken (one grammar for every time flag); a non-time is refused.
    let out = env.run(&["verify", "--at", "soonish", "x"]);
    assert_refused(&env, &out, 2, "usage");
}

#[test]
fn json_output_carries_the_result_and_quiet_says_nothing() {
    let env = Env::new();
    let token = env.issue(&["--sub", "alice"]);
    let out = env.verify(&["--output", "json"], &token);
    assert!(out.status.success());
    let result: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        (
            &result["valid"],
            &result["header"]["alg"],
            &result["claims"]["sub"]
        ),
        (&json!(true), &json!("HS256"), &json!("alice"))
    );

    let expired = mint(json!({"exp": now() - 1}));
    let out = env.verify(&["--output", "json"], &expired);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out), "", "the result carries the message");
    let result: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        (&result["valid"], &result["reason"]),
        (&json!(false), &json!("expired"))
    );
    assert!(result["message"].as_str().unwrap().contains("expired"));
    assert_eq!(env.log().pop().unwrap()["reason"], "expired");

    for (token, code) in [(token.as_str(), 0), (expired.as_str(), 1)] {
        let out = env.verify(&["-q"], token);
        assert_eq!(
            (out.status.code(), stdout(&out), stderr(&out)),
            (Some(code), String::new(), String::new())
        );
    }
    // Configuration errors still say what is wrong.
    let out = env.run_bare(&["verify", "--quiet", "--output", "json", &token]);
    assert_refused(&env, &out, 2, "key_error");
}

#[test]
fn batch_answers_each_line_in_order_with_its_number() {
    let env = Env::new();
    let good = env.issue(&["--sub", "a"]);
    let expired = mint(json!({"exp": now() - 1, "sub": "b"}));
    let input = format!("{good}\n\n  Bearer {good}  \n{expired}\ngarbage\n{good}");
    let out = env
        .jwtctl()
        .args(["--log-level", "info", "verify", "--batch"])
        .write_stdin(input)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
    let results: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let summary: Vec<(i64, bool)> = results
        .iter()
        .map(|r| (r["line"].as_i64().unwrap(), r["valid"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        summary,
        [(1, true), (3, true), (4, false), (5, false), (6, true)]
    );
    assert_eq!(results[0]["claims"]["sub"], "a");
    assert_eq!(
        (&results[2]["reason"], &results[3]["reason"]),
        (&json!("expired"), &json!("malformed"))
    );
    let log = env.log();
    let lines: Vec<i64> = log.iter().map(|r| r["line"].as_i64().unwrap()).collect();
    assert_eq!(lines, [1, 3, 4, 5, 6], "one record per token");
    assert_eq!(log[2]["reason"], "expired");
    // Each record is its own line's: a failure after a success carries nothing of it.
    assert_eq!(
        (&log[1]["sub"], &log[1]["outcome"]),
        (&json!("a"), &json!("success"))
    );
    // The expired token's signature checked out: its record names it (its own sub, not the
    // line before's); the malformed line's names nothing.
    assert_eq!(log[2]["sub"], json!("b"), "{}", log[2]);
    for failed in &log[2..4] {
        assert_eq!(failed["outcome"], "failure", "{failed}");
        for field in ["jti", "kid", "exp"] {
            assert!(failed.get(field).is_none(), "{field} in {failed}");
        }
    }
    assert!(log[3].get("sub").is_none(), "{}", log[3]);
    assert_eq!(log[2]["token_sha256"], sha256sum(&expired));
    assert_eq!(log[3]["token_sha256"], sha256sum("garbage"));
    assert_eq!(log[4]["token_sha256"], sha256sum(&good));
    assert!(log[4].get("reason").is_none(), "{}", log[4]);

    let all_good = format!("{good}\n{good}\n");
    let out = env
        .jwtctl()
        .args(["verify", "--batch"])
        .write_stdin(all_good.clone())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out).lines().count(), 2);
    let out = env
        .jwtctl()
        .args(["verify", "--batch", "-q"])
        .write_stdin(all_good)
        .output()
        .unwrap();
    assert_eq!((out.status.code(), stdout(&out)), (Some(0), String::new()));
}

#[test]
fn batch_refuses_overlong_and_binary_lines_and_a_token_argument() {
    let env = Env::new();
    let good = env.issue(&[]);
    let mut input = format!("{}\n", "a".repeat(200_000)).into_bytes();
    input.extend_from_slice(b"\xff\xfe\n");
    input.extend_from_slice(good.as_bytes());
    let out = env
        .jwtctl()
        .args(["verify", "--batch"])
        .write_stdin(input)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let reasons: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["reason"].clone())
        .collect();
    assert_eq!(
        reasons,
        [json!("too_large"), json!("malformed"), Value::Null]
    );
    let out = env.run(&["verify", "--batch", &good]);
    assert_refused(&env, &out, 2, "usage");
}

#[test]
fn jwks_messages_lead_to_the_fix() {
    let env = Env::new();
    let missing = env.run(&["verify", "--jwks", "nope.json", "a.b.c"]);
    assert_refused(&env, &missing, 2, "key_error");
    assert!(stderr(&missing).contains("--jwks"), "{}", stderr(&missing));
    assert!(
        !stderr(&missing).contains("--key-file"),
        "{}",
        stderr(&missing)
    );
    let pem = env.key("keys/rsa_pub_spki.pem");
    let out = env
        .bare()
        .args(["verify", "--jwks"])
        .arg(&pem)
        .arg("a.b.c")
        .output()
        .unwrap();
    assert_refused(&env, &out, 2, "key_error");
    assert!(stderr(&out).contains("PEM"), "{}", stderr(&out));
    // A PS256 token against a set whose key is pinned to RS256: --alg would not help.
    let mut jwk: Value =
        serde_json::from_str(&crate::common::fixture_text("pyjwt/rsa_public.jwk")).unwrap();
    jwk["alg"] = json!("RS256");
    jwk["kid"] = json!("only");
    env.write("set.json", &json!({"keys": [jwk]}).to_string());
    let signer =
        EncodingKey::from_rsa_pem(crate::common::fixture_text("keys/rsa_pkcs8.pem").as_bytes())
            .unwrap();
    let ps256 = crate::common::sign_raw(
        r#"{"alg":"PS256","kid":"only"}"#,
        &json!({"exp": now() + 600}).to_string(),
        &signer,
        Algorithm::PS256,
    );
    let out = env.run_bare(&["verify", "--jwks", "set.json", &ps256]);
    crate::common::assert_rejected(&env, &out, "alg_not_allowed");
    assert!(!stderr(&out).contains("--alg"), "{}", stderr(&out));
    assert!(stderr(&out).contains("RS256"), "{}", stderr(&out));
    // With a key that could serve it, --alg is the fix, and it works.
    let out = env
        .bare()
        .args(["verify", "--key-file"])
        .arg(env.key("keys/rsa_pub_spki.pem"))
        .arg(&ps256)
        .output()
        .unwrap();
    assert!(stderr(&out).contains("--alg PS256"), "{}", stderr(&out));
}

#[test]
fn claim_rules_decide_on_an_identity_provider_token() {
    let env = Env::new();
    // Shaped as GitHub Actions documents its OIDC id_token.
    let github = mint(json!({
        "iss": "https://token.actions.githubusercontent.com",
        "aud": "sts.example",
        "sub": "repo:acme/deploy:ref:refs/heads/main",
        "repository_owner": "acme",
        "repository_owner_id": "1234",
        "ref": "refs/heads/main",
        "job_workflow_ref": "acme/deploy/.github/workflows/ship.yml@refs/heads/main",
        "run_attempt": 1,
        "exp": now() + 600,
    }));
    let rules = [
        "--aud",
        "sts.example",
        "--claim-eq",
        "repository_owner=acme",
        "--claim-eq",
        "run_attempt=1",
        "--claim-match",
        "job_workflow_ref=acme/deploy/.github/workflows/*@refs/heads/main",
    ];
    let out = env.verify(&rules, &github);
    assert!(out.status.success(), "{}", stderr(&out));
    // Each rule refuses what differs, naming the claim, never its value.
    for (flag, rule, reason) in [
        ("--claim-eq", "repository_owner=evil", "claim_mismatch"),
        ("--claim-eq", "run_attempt=\"1\"", "claim_mismatch"),
        ("--claim-match", "ref=refs/tags/*", "claim_mismatch"),
        ("--claim-eq", "environment=prod", "missing_claim"),
        ("--claim-match", "run_attempt=1", "claim_mismatch"),
    ] {
        let out = env.verify(&["--aud", "sts.example", flag, rule], &github);
        assert_rejected(&env, &out, reason);
        let name = rule.split('=').next().unwrap();
        assert!(stderr(&out).contains(name), "{}", stderr(&out));
        // The record names the (authenticated) token by iss, sub, jti and kid; of the rule,
        // only the claim's name, never its value.
        let mut record = env.log().pop().unwrap();
        assert_eq!(record["claim"], name, "{record}");
        for field in ["iss", "sub", "jti", "kid"] {
            record.as_object_mut().unwrap().remove(field);
        }
        assert!(
            !record.to_string().contains("acme"),
            "no claim value in the record: {record}"
        );
    }
    let bad = env.verify(&["--claim-match", "no-equals-sign"], &github);
    assert_refused(&env, &bad, 2, "usage");
}

#[test]
fn a_batch_whose_reader_goes_away_stops_quietly_with_the_verdicts_status() {
    let env = Env::new();
    let token = env.issue(&["--sub", "many"]);
    env.write("in.txt", &format!("{token}\n").repeat(5000));
    let out = std::process::Command::new("bash")
        .current_dir(env.dir.path())
        .env("JWTCTL_KEY_FILE", "test.key")
        .arg("-c")
        .arg(format!(
            "set -o pipefail; '{}' verify --batch < in.txt | head -1",
            assert_cmd::cargo::cargo_bin("jwtctl").display()
        ))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert_eq!(stdout(&out).lines().count(), 1);
    assert_eq!(stderr(&out), "", "quietly");
    // Written at every level, the default `error` too; the exit status stays the verdicts'.
    let record = env.log().pop().unwrap();
    assert_eq!(record["event"], "stopped_early", "{record}");
    assert_eq!(record["level"], "ERROR", "{record}");
}

/// A writer that sends a line and waits for its verdict before the next (a coprocess) gets it
/// at once, recorded, not when 256 lines or the end of input have come.
#[test]
fn a_batch_answers_a_line_before_waiting_for_the_next() {
    use crate::common::Scrub as _;
    use std::io::{BufRead as _, Write as _};
    let env = Env::new();
    let token = env.issue(&["--sub", "one"]);
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("jwtctl"))
        .scrubbed()
        .current_dir(env.dir.path())
        .env("JWTCTL_KEY_FILE", "test.key")
        .args(["--log-level", "info", "verify", "--batch"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    writeln!(stdin, "{token}").unwrap();
    let first = rx.recv_timeout(std::time::Duration::from_secs(10));
    // The line's record is in the log before its verdict was printed.
    let records = env.log();
    writeln!(stdin, "garbage").unwrap();
    drop(stdin);
    let status = child.wait().unwrap();
    let first = first.expect("the first verdict, while stdin is still open");
    assert!(first.starts_with("{\"line\":1,\"valid\":true"), "{first}");
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["line"], 1);
    assert_eq!(rx.recv().unwrap().get(..9), Some("{\"line\":2"));
    assert_eq!(status.code(), Some(1));
    assert_eq!(env.log().len(), 2);
}

#[test]
fn with_output_json_configuration_and_usage_errors_are_verdicts_on_stdout_too() {
    let env = Env::new();
    for args in [
        &[
            "verify",
            "--output",
            "json",
            "--key-file",
            "missing.key",
            "a.b.c",
        ][..],
        &["verify", "--output=json", "--no-such-flag", "a.b.c"],
    ] {
        let out = env.run_bare(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let verdict: Value = serde_json::from_str(&stdout(&out)).unwrap();
        assert_eq!(verdict["valid"], false);
        assert!(verdict["reason"] == "key_error" || verdict["reason"] == "usage");
        assert_eq!(stderr(&out), "", "nothing on stderr");
        assert_eq!(env.log().pop().unwrap()["reason"], verdict["reason"]);
    }
    // A log that cannot be written still leaves stdout empty (exit 3).
    let out = env.run(&[
        "--log-file",
        "no/such/dir/log",
        "verify",
        "--output",
        "json",
        "a.b.c",
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(stdout(&out), "");
}
