//! Where new users stumble (issue 26): hints for input that is plainly not one token, one time
//! grammar for every time flag, test tokens with chosen times, flags that do not apply refused.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use serde_json::Value;

use crate::common::{Env, assert_refused, assert_rejected, now, parts, stderr, stdout};

#[test]
fn input_that_is_plainly_not_one_token_says_how_to_give_it() {
    let env = Env::new();
    let token = env.issue(&[]);
    env.write("tok.txt", &format!("{token}\n"));
    let cases: [(Vec<&str>, Option<String>, &str); 4] = [
        (vec!["tok.txt"], None, "names a file"),
        (vec!["@tok.txt"], None, "not @FILE"),
        (vec![], Some(format!("{token}\n{token}\n")), "add --batch"),
        (
            vec![],
            Some(format!("{}\n{}\n", &token[..40], &token[40..])),
            "a line break at character 41",
        ),
    ];
    for (args, stdin, hint) in cases {
        let mut cmd = env.jwtctl();
        cmd.arg("verify").args(&args);
        if let Some(input) = stdin {
            cmd.write_stdin(input);
        }
        let out = cmd.output().unwrap();
        assert_rejected(&env, &out, "malformed");
        let err = stderr(&out);
        assert!(err.contains(hint), "{args:?}: {err}");
        assert!(
            !err.contains(&token[..20]),
            "never repeats the input: {err}"
        );
    }
    let out = env.run(&["verify", "--batch", &token]);
    assert_refused(&env, &out, 2, "usage");
    assert!(
        stderr(&out).contains("reads one token per line from stdin"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn test_tokens_take_their_times_from_flags_and_the_record_says_so() {
    let env = Env::new();
    let expired = env.issue(&["--exp", "1h ago"]);
    let (_, claims) = parts(&expired);
    let exp = claims["exp"].as_i64().unwrap();
    assert!((exp - (now() - 3600)).abs() <= 2, "{claims}");
    assert!(claims["iat"].as_i64().unwrap() < exp);
    assert_rejected(&env, &env.verify(&[], &expired), "expired");

    let early = env.issue(&["--nbf", "in 1h", "--ttl", "2h"]);
    assert_rejected(&env, &env.verify(&[], &early), "not_yet_valid");

    let out = env.run(&[
        "--log-level",
        "info",
        "issue",
        "--iat",
        "2h ago",
        "--ttl",
        "30m",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (_, claims) = parts(stdout(&out).trim());
    let iat = claims["iat"].as_i64().unwrap();
    assert_eq!(claims["exp"].as_i64().unwrap(), iat + 1800);
    let record: Value = env.log().pop().unwrap();
    assert_eq!(record["iat"], iat, "{record}");

    for (args, needle) in [
        (
            vec!["issue", "--exp", "1h", "--ttl", "2h"],
            "cannot be used with",
        ),
        (
            vec!["issue", "--iat", "now", "--exp", "1h ago"],
            "not after its iat",
        ),
        (vec!["issue", "--claim", "iat=1"], "--iat"),
        (
            vec!["issue", "--exp", "2026-11-26T09:14:00"],
            "no time zone",
        ),
        (vec!["issue", "--exp", "soonish"], "'soonish' is not a time"),
    ] {
        let out = env.run(&args);
        assert_refused(&env, &out, 2, "usage");
        assert!(stderr(&out).contains(needle), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn verify_at_takes_relative_times() {
    let env = Env::new();
    let token = env.issue(&["--ttl", "1h"]);
    let out = env.verify(&["--at", "in 2h"], &token);
    assert_rejected(&env, &out, "expired");
    let out = env.verify(&["--at", "+30m"], &token);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn revoke_refuses_what_applies_to_jti_only_when_given_a_token() {
    let env = Env::new();
    let token = env.issue(&[]);
    let init = env.run(&["ledger", "init", "--ledger", "l.db"]);
    assert!(init.status.success(), "{}", stderr(&init));
    for flag in [["--until", "7d"], ["--iss", "https://a.example"]] {
        let out = env.run(&["revoke", "--ledger", "l.db", flag[0], flag[1], &token]);
        assert_refused(&env, &out, 2, "usage");
        assert!(
            stderr(&out).contains("applies to revoke --jti only"),
            "{}",
            stderr(&out)
        );
    }
    let out = env.run(&[
        "revoke", "--ledger", "l.db", "--jti", "abc", "--until", "7d",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn inspect_shows_spans_to_the_minute() {
    let env = Env::new();
    let token = env.issue(&["--ttl", "2h59m30s"]);
    let out = env.run(&["inspect", &token]);
    assert!(
        stdout(&out).contains("(expires in 2h 59m)"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn key_gen_names_every_place_a_key_can_go_and_a_ring_leaves_no_lock_file() {
    let env = Env::new();
    let out = env.run(&["key", "gen"]);
    assert_refused(&env, &out, 2, "usage");
    let err = stderr(&out);
    assert!(
        err.contains("--out") && err.contains("--add-to") && err.contains("--pkcs11"),
        "{err}"
    );
    let out = env.run(&["key", "gen", "--add-to", "ring.json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut names: Vec<String> = std::fs::read_dir(env.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("ring"))
        .collect();
    names.sort();
    assert_eq!(names, ["ring.json"]);
}

/// jwtctl's HMAC key is its text; read decoded, the signature fails and the message says why.
#[test]
fn a_key_jwtctl_made_read_as_encoded_says_to_drop_the_encoding() {
    let env = Env::new();
    let token = env.run_bare(&["issue"]);
    let token = stdout(&token).trim().to_owned();
    let out = env
        .bare()
        .args(["verify", "--secret-encoding", "base64url", &token])
        .output()
        .unwrap();
    assert_rejected(&env, &out, "bad_signature");
    assert!(
        stderr(&out).contains("drop --secret-encoding"),
        "{}",
        stderr(&out)
    );
    // The secret is the text: 64 base64url characters, without the newline.
    let text = std::fs::read_to_string(env.path("jwtctl.key")).unwrap();
    assert_eq!(text.trim_end().len(), 64, "{text:?}");
}

/// Man pages name each option's value in the SYNOPSIS and lay examples out one per line, in
/// sections of their own (not rewrapped under EXTRA).
#[test]
fn man_pages_name_values_and_keep_examples_as_written() {
    let env = Env::new();
    std::fs::create_dir(env.path("man")).unwrap();
    let out = env.run_bare(&["man", "--dir", "man"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let page = std::fs::read_to_string(env.path("man/jwtctl-issue.1")).unwrap();
    let synopsis = &page[page.find(".SH SYNOPSIS").unwrap()..page.find(".SH DESCRIPTION").unwrap()];
    assert!(
        synopsis.contains("\\-\\-ttl\\fR \\fIDURATION"),
        "{synopsis}"
    );
    assert!(!page.contains(".SH EXTRA"), "{page}");
    let examples = &page[page.find(".SH EXAMPLES").unwrap()..];
    assert!(
        examples.contains(".nf\njwtctl issue \\-\\-sub alice"),
        "{examples}"
    );
    assert!(page.contains(".SH \"EXIT STATUS\"") || page.contains(".SH EXIT STATUS"));
}

/// An id as revoke and ledger list print it is what revoke --jti takes, issuer and all.
#[test]
fn revoke_jti_takes_the_id_as_printed() {
    let env = Env::new();
    let init = env.run(&["ledger", "init", "--ledger", "l.db"]);
    assert!(init.status.success(), "{}", stderr(&init));
    let token = env.issue(&["--iss", "https://auth.example"]);
    let jti = parts(&token).1["jti"].as_str().unwrap().to_owned();
    let printed = format!("iss+jti:[\"https://auth.example\",\"{jti}\"]");
    let out = env.run(&["revoke", "--ledger", "l.db", "--jti", &printed]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!("{printed}\n"),
        "printed as it was given"
    );
    let listed = env.run(&["ledger", "list", "--ledger", "l.db"]);
    assert!(stdout(&listed).contains(&printed), "{}", stdout(&listed));
    let out = env.verify(&["--ledger", "l.db"], &token);
    assert_rejected(&env, &out, "revoked");
    let out = env.run(&[
        "revoke", "--ledger", "l.db", "--jti", &printed, "--iss", "x",
    ]);
    assert_refused(&env, &out, 2, "usage");
}

#[test]
fn an_option_typed_before_its_subcommand_says_where_it_goes() {
    let env = Env::new();
    let token = env.issue(&[]);
    for (args, said) in [
        (
            vec!["--ledger", "ledgr.db", "revoke", &token],
            "jwtctl: --ledger goes after the subcommand: jwtctl revoke --ledger …; Usage: ",
        ),
        (
            vec!["--aud", "api", "verify", &token],
            "jwtctl: --aud goes after the subcommand: jwtctl verify --aud …; Usage: ",
        ),
        (
            vec!["ledger", "--ledger", "l.db", "stats"],
            "jwtctl: --ledger goes after the subcommand: jwtctl ledger stats --ledger …; Usage: ",
        ),
        (
            vec!["--state=revoked", "ledger", "list", "--ledger", "l.db"],
            "jwtctl: --state goes after the subcommand: jwtctl ledger list --state …; Usage: ",
        ),
    ] {
        let out = env.run(&args);
        assert_refused(&env, &out, 2, "usage");
        let err = stderr(&out);
        assert!(err.starts_with(said), "{args:?}: {err}");
        assert!(!err.contains("similar argument"), "{err}");
        assert!(!err.contains("ledgr.db") && !err.contains(&token), "{err}");
    }
    // An option no subcommand has keeps clap's own words.
    let out = env.run(&["--bogus", "verify", &token]);
    assert_refused(&env, &out, 2, "usage");
    assert!(
        stderr(&out).starts_with("jwtctl: unexpected argument '--bogus' found"),
        "{}",
        stderr(&out)
    );
    assert!(!env.path("ledgr.db").exists());
}

#[test]
fn small_refusals_say_what_to_do_and_ledger_list_prints_rfc_3339() {
    let env = Env::new();
    // The default key cannot be created where jwtctl runs: say where else to put it.
    let log = env.path("security.log");
    let out = env
        .bare()
        .current_dir("/sys")
        .arg("--log-file")
        .arg(&log)
        .arg("issue")
        .output()
        .unwrap();
    assert_refused(&env, &out, 2, "key_error");
    assert!(
        stderr(&out).starts_with("jwtctl: cannot create key file jwtctl.key: ")
            && stderr(&out).ends_with(
                "; choose another path with --key-file / JWTCTL_KEY_FILE, or cd to a writable \
                 directory\n"
            ),
        "{}",
        stderr(&out)
    );
    // A token signed with an algorithm no configured key serves: pass its key.
    let ed = env.key("keys/ed25519.pem");
    let signed = env.run_bare(&["issue", "--key-file", ed.to_str().unwrap()]);
    let token = stdout(&signed).trim().to_string();
    let out = env.verify(&[], &token);
    assert_rejected(&env, &out, "alg_not_allowed");
    assert!(
        stderr(&out).contains(
            "the keys accept HS256: pass the key the token was signed with \
             (--key-file, --secret-env, --jwks)"
        ),
        "{}",
        stderr(&out)
    );
    // The help names every ledger command, init included.
    let help = env.run(&["--help"]);
    let line = stdout(&help)
        .lines()
        .find(|l| l.trim_start().starts_with("ledger "))
        .unwrap()
        .to_string();
    assert!(line.contains("Create the ledger"), "{line}");
    // ledger list: times as RFC 3339 in text, Unix seconds in JSON.
    crate::common::stores::init(&env, "l.db");
    let until = "2031-05-06T07:08:09Z";
    let revoked = env.run(&[
        "revoke", "--ledger", "l.db", "--jti", "j1", "--until", until,
    ]);
    assert!(revoked.status.success(), "{}", stderr(&revoked));
    let text = stdout(&env.run(&["ledger", "list", "--ledger", "l.db"]));
    let fields: Vec<&str> = text.trim_end().split('\t').collect();
    assert_eq!(fields[..3], ["revoked", "any-iss+jti:j1", until], "{text}");
    assert!(
        chrono::DateTime::parse_from_rfc3339(fields[3])
            .is_ok_and(|t| (t.timestamp() - now()).abs() < 60),
        "{text}"
    );
    let json = stdout(&env.run(&["ledger", "list", "--ledger", "l.db", "--output", "json"]));
    let entry: Value = serde_json::from_str(&json).unwrap();
    let exp = chrono::DateTime::parse_from_rfc3339(until)
        .unwrap()
        .timestamp();
    assert_eq!(entry["exp"], exp, "{json}");
    assert!(entry["at"].is_i64(), "{json}");
}

#[test]
fn policy_check_warns_of_placeholders_policy_new_left() {
    let env = Env::new();
    let out = env.run_bare(&[
        "policy",
        "new",
        "--preset",
        "github-actions",
        "--repository",
        "acme/deploy",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    env.write("deploy.toml", &text);
    let out = env.run_bare(&["--log-level", "warn", "policy", "check", "deploy.toml"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("REPLACE-repository-id"),
        "printed normalised"
    );
    let left = stdout(&out).matches("REPLACE-").count();
    assert!(left >= 2, "{}", stdout(&out));
    assert_eq!(
        stderr(&out),
        format!(
            "jwtctl: warning: the policy file deploy.toml: {left} placeholders left (REPLACE-…): \
             run jwtctl policy pin TOKEN with a sample token and put its rules in place of them\n"
        )
    );
    let last = env.log().pop().unwrap();
    assert_eq!(
        (&last["level"], &last["op"], &last["event"]),
        (
            &Value::from("WARN"),
            &Value::from("policy_check"),
            &Value::from("policy_warning")
        )
    );
    // Filled in, the policy checks quietly.
    env.write(
        "filled.toml",
        &text
            .replace("REPLACE-with-your-audience", "sts.example")
            .replace("REPLACE-repository-id", "2002")
            .replace("REPLACE-owner-id", "1001"),
    );
    let out = env.run_bare(&["policy", "check", "filled.toml"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stdout(&out).contains("REPLACE-"), "{}", stdout(&out));
    assert_eq!(stderr(&out), "");
}
