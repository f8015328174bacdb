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

/// Characters that must not reach a terminal raw (checked independently of jwtctl's own list).
pub fn raw_on_screen(text: &str) -> Vec<char> {
    text.chars()
        .filter(|&c| {
            (c.is_control() && c != '\n' && c != '\t')
                || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}'
                    | '\u{2066}'..='\u{2069}' | '\u{200b}'..='\u{200f}' | '\u{feff}')
        })
        .collect()
}

/// CSI and OSC as C1 characters, ESC, DEL, NEL, a line separator, bidi override and isolate.
pub const TERMINAL_ATTACK: &str =
    "\u{9b}2J\u{9d}0;owned\u{7}\u{1b}[31m\u{7f}\u{85}\u{2028}\u{202e}txt.exe\u{2066}\u{200b}";

#[test]
fn human_output_escapes_controls_and_bidi_on_every_path() {
    let env = Env::new();
    let now = crate::common::now();
    let header = json!({"alg": "HS256", "kid": TERMINAL_ATTACK}).to_string();
    let claims = json!({"sub": TERMINAL_ATTACK, "jti": TERMINAL_ATTACK, "exp": now + 600});
    let token = mint_raw(&header, &claims.to_string());
    for output in ["text", "json"] {
        let out = env.run(&["inspect", "--output", output, &token]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(
            raw_on_screen(&stdout(&out)),
            [],
            "inspect --output {output}"
        );
        assert!(stdout(&out).contains("\\u009b2J\\u009d0;owned\\u0007"));
        if output == "json" {
            let decoded: Value = serde_json::from_str(&stdout(&out)).unwrap();
            assert_eq!(decoded["claims"]["sub"], TERMINAL_ATTACK, "the same JSON");
            assert_eq!(decoded["header"]["kid"], TERMINAL_ATTACK);
        }
    }
    // A verified token's claims printed as text.
    let out = env.run(&["verify", &token]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(raw_on_screen(&stdout(&out)), []);
    assert!(stdout(&out).contains("\\u202etxt.exe"));
    // A rejection whose message quotes the claim.
    let out = env.run(&["verify", "--sub", "alice", &token]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(raw_on_screen(&stderr(&out)), [], "{:?}", stderr(&out));
    // The ledger's text listing of a revoked token's jti.
    let ledger = env.path("l.db").display().to_string();
    let run = |args: &[&str]| {
        env.jwtctl()
            .env("JWTCTL_LEDGER", &ledger)
            .args(args)
            .output()
            .unwrap()
    };
    assert!(run(&["ledger", "init"]).status.success());
    let revoked = run(&["revoke", &token]);
    assert!(revoked.status.success(), "{}", stderr(&revoked));
    let out = run(&["ledger", "list"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("revoked"), "{}", stdout(&out));
    assert_eq!(raw_on_screen(&stdout(&out)), [], "{:?}", stdout(&out));
}
