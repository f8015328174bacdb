//! Ids and identities an operator types (`revoke --jti`, `--iss`, `--sub`, `--aud`, `--kid`, the
//! log filters): an empty, blank, control-character or invisible-character value is a usage error naming the flag and
//! what to give, with an ERROR record, nothing on stdout and nothing stored.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use crate::common::stores::init;
use crate::common::{Env, assert_refused, stderr, stdout};

/// The values no token carries: empty, blank, with a newline, with an escape.
const HOSTILE: [&str; 5] = ["", "   ", "abc\nforged", "abc\u{1b}[2J", "\t"];

/// `args` refused as a usage error whose one stderr line names `flag` and says what to give.
fn assert_refused_id(env: &Env, args: &[&str], flag: &str, give: &str) {
    let out = env
        .jwtctl()
        .env("JWTCTL_LEDGER", "ledger.db")
        .args(args)
        .output()
        .unwrap();
    assert_refused(env, &out, 2, "usage");
    let err = stderr(&out);
    assert!(
        err.starts_with(&format!("jwtctl: {flag} ")) && err.contains(&format!("; give {give}")),
        "{args:?}: {err}"
    );
    assert!(!err.contains('\u{1b}'), "{err:?}");
    assert!(
        !err.contains([
            '\u{200b}', '\u{feff}', '\u{2060}', '\u{3164}', '\u{2028}', '\u{202e}'
        ]),
        "the value is not echoed: {err:?}"
    );
}

#[test]
fn revoke_refuses_an_empty_blank_or_control_character_id_and_stores_nothing() {
    let env = Env::new();
    init(&env, "ledger.db");
    for bad in HOSTILE {
        assert_refused_id(&env, &["revoke", "--jti", bad], "--jti", "the token's jti");
        assert_refused_id(
            &env,
            &["revoke", "--jti", "Xq0r3zH8", "--iss", bad],
            "--iss",
            "the issuer's URL",
        );
        let last = env.log().pop().unwrap();
        assert_eq!(last["op"], "revoke", "{last}");
    }
    // The printed forms (`any-iss+jti:ID`, `iss+jti:["ISS","ID"]`) are checked too.
    for printed in [
        "any-iss+jti:",
        "jti: ",
        r#"iss+jti:["","x"]"#,
        r#"iss+jti:["i","a\nb"]"#,
    ] {
        let out = env
            .jwtctl()
            .env("JWTCTL_LEDGER", "ledger.db")
            .args(["revoke", "--jti", printed])
            .output()
            .unwrap();
        assert_refused(&env, &out, 2, "usage");
        assert!(stderr(&out).contains("--jti"), "{}", stderr(&out));
    }
    let list = env
        .jwtctl()
        .env("JWTCTL_LEDGER", "ledger.db")
        .args(["ledger", "list"])
        .output()
        .unwrap();
    assert!(list.status.success(), "{}", stderr(&list));
    assert_eq!(stdout(&list), "", "nothing was revoked");
    // A usable id is still revoked.
    let ok = env
        .jwtctl()
        .env("JWTCTL_LEDGER", "ledger.db")
        .args(["revoke", "--jti", "-odd id"])
        .output()
        .unwrap();
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert_eq!(stdout(&ok), "any-iss+jti:-odd id\n");
}

/// Values that look blank or like another id: zero-width, BOM, word joiner, a Hangul filler, a
/// line separator, a bidi override (a spoof: SECURITY.md).
const INVISIBLE: [&str; 7] = [
    "\u{200b}",
    "\u{feff}",
    "a\u{2060}",
    "\u{3164}",
    "a\u{2028}b",
    "gpj\u{202e}.exe",
    "x\u{2066}y\u{2069}",
];

#[test]
fn every_id_and_identity_flag_refuses_what_no_token_carries() {
    let env = Env::new();
    let cases: [(&[&str], &str, &str); 13] = [
        (&["verify", "--require"], "--require", "a claim's name"),
        (&["issue", "--sub"], "--sub", "the subject"),
        (&["issue", "--iss"], "--iss", "the issuer"),
        (&["issue", "--aud", "api", "--aud"], "--aud", "the audience"),
        (&["issue", "--kid"], "--kid", "the key id"),
        (&["issue", "--jti"], "--jti", "an id unique"),
        (&["verify", "--iss"], "--iss", "the issuer"),
        (&["verify", "--sub"], "--sub", "the subject"),
        (&["refresh", "--aud"], "--aud", "the audience"),
        (&["log", "search", "--jti"], "--jti", "the token's jti"),
        (&["log", "tail", "--kid"], "--kid", "the key id"),
        (&["log", "search", "--sub"], "--sub", "the subject"),
        (
            &["key", "retire", "ring.json", "--kid"],
            "--kid",
            "the kid of a key",
        ),
    ];
    for (args, flag, give) in cases {
        for bad in ["", " ", "a\nb"].iter().chain(&INVISIBLE) {
            let argv = [args, &[bad]].concat();
            assert_refused_id(&env, &argv, flag, give);
        }
    }
    // Nothing was issued: no key was created, no token printed.
    assert!(!env.path("jwtctl.key").exists());
}
