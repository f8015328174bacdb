//! `jwtctl inspect`: decoding without verifying, and saying so.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use serde_json::{Value, json};

use crate::common::{Env, assert_rejected, mint_raw, stderr, stdout};

#[test]
fn inspect_decodes_without_verifying_and_says_so() {
    let env = Env::new();
    let foreign = mint_raw(r#"{"alg":"RS256","kid":"k"}"#, r#"{"sub":"x","exp":1}"#);
    let out = env.run_bare(&[
        "--log-level",
        "info",
        "inspect",
        "--output",
        "json",
        &foreign,
    ]);
    assert!(out.status.success());
    let decoded: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        decoded,
        json!({"header": {"alg": "RS256", "kid": "k"}, "claims": {"sub": "x", "exp": 1}})
    );
    assert!(stderr(&out).contains("nothing was verified"));
    let record = env.log().pop().unwrap();
    assert_eq!(
        (&record["op"], &record["outcome"]),
        (&json!("inspect"), &json!("success"))
    );
    let out = env.run_bare(&["inspect", "not.a.token!"]);
    assert_rejected(&env, &out, "malformed");
}

#[test]
fn inspect_text_shows_times_as_rfc_3339_and_how_far_off() {
    let env = Env::new();
    let token = env.issue(&["--ttl", "30m"]);
    let out = env.run(&["inspect", &token]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let exp = text.lines().find(|l| l.starts_with("exp: ")).unwrap();
    assert!(
        exp.ends_with("(expires in 29m)") || exp.ends_with("(expires in 30m)"),
        "{exp}"
    );
    assert!(exp.contains('T') && exp.contains("Z ("), "{exp}");
    let iat = text.lines().find(|l| l.starts_with("iat: ")).unwrap();
    assert!(iat.ends_with("s ago)"), "{iat}");
    assert!(text.starts_with("header: {"), "{text}");
}
