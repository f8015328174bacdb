//! The security log: levels, record fields, file safety and fail-closed writes.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use crate::common::{Env, SECRET, assert_refused, mint, now, sha256sum, stdout};
use serde_json::json;

#[test]
fn at_the_default_level_failures_are_recorded_and_successes_are_not() {
    let env = Env::new();
    let token = env.issue(&["--sub", "alice"]);
    env.jwtctl().args(["verify", &token]).assert().success();
    assert_eq!(env.log_text(), "", "no record for successes at error level");
    env.jwtctl().args(["verify", "garbage"]).assert().code(1);
    let log = env.log();
    assert_eq!(log.len(), 1);
    let r = &log[0];
    assert_eq!(
        (&r["level"], &r["op"], &r["outcome"], &r["reason"]),
        (
            &json!("ERROR"),
            &json!("verify"),
            &json!("failure"),
            &json!("malformed")
        )
    );
    let ts = r["timestamp"].as_str().unwrap();
    assert!(ts.ends_with('Z'), "UTC: {ts}");
    assert!(
        chrono::DateTime::parse_from_rfc3339(ts).is_ok(),
        "RFC 3339: {ts}"
    );
}

#[test]
fn at_info_every_operation_is_recorded_with_its_fields() {
    let env = Env::new();
    let out = env.run(&[
        "issue",
        "--sub",
        "alice",
        "--kid",
        "k7",
        "--log-level",
        "info",
    ]);
    let token = stdout(&out).trim().to_string();
    let (_, claims) = crate::common::parts(&token);
    let r = env.log().pop().unwrap();
    assert_eq!(
        (&r["level"], &r["op"], &r["outcome"]),
        (&json!("INFO"), &json!("issue"), &json!("success"))
    );
    assert_eq!(
        (&r["sub"], &r["kid"], &r["alg"]),
        (&json!("alice"), &json!("k7"), &json!("HS256"))
    );
    assert_eq!((&r["jti"], &r["exp"]), (&claims["jti"], &claims["exp"]));
    assert!(r.get("reason").is_none());
}

#[test]
fn log_options_come_from_flags_before_or_after_the_subcommand_or_the_environment() {
    let env = Env::new();
    env.jwtctl()
        .args(["--log-file", "a.log", "--log-level", "info", "issue"])
        .assert()
        .success();
    env.jwtctl()
        .args(["issue", "--log-file", "b.log", "--log-level", "info"])
        .assert()
        .success();
    env.jwtctl()
        .env("JWTCTL_LOG_FILE", "c.log")
        .env("JWTCTL_LOG_LEVEL", "info")
        .arg("issue")
        .assert()
        .success();
    for name in ["a.log", "b.log", "c.log"] {
        let text = std::fs::read_to_string(env.path(name)).unwrap();
        assert_eq!(text.lines().count(), 1, "{name}");
    }
    assert!(!env.path("security.log").exists() || env.log_text().is_empty());
}

#[test]
fn rust_log_has_no_effect_and_off_is_not_a_level() {
    let env = Env::new();
    env.jwtctl()
        .env("RUST_LOG", "trace")
        .arg("issue")
        .assert()
        .success();
    assert_eq!(env.log_text(), "");
    let out = env.run(&["--log-level", "off", "issue"]);
    assert_refused(&env, &out, 2, "usage");
}

#[test]
fn neither_the_secret_nor_the_token_ever_reaches_the_log() {
    let env = Env::new();
    let out = env.run(&["--log-level", "debug", "issue", "--sub", "alice"]);
    let token = stdout(&out).trim().to_string();
    env.jwtctl()
        .args(["--log-level", "debug", "verify", &token])
        .assert()
        .success();
    env.jwtctl()
        .args(["--log-level", "debug", "refresh", "--no-ledger", &token])
        .assert()
        .success();
    let forged = format!("{}x", &token);
    env.jwtctl()
        .args(["--log-level", "debug", "verify", &forged])
        .assert()
        .code(1);
    let log = env.log_text();
    // issue, verify, refresh (and its no_ledger_allowed record), the forged verify.
    assert_eq!(log.lines().count(), 5);
    let signature = token.rsplit('.').next().unwrap();
    for secretish in [
        SECRET,
        token.as_str(),
        signature,
        token.split('.').nth(1).unwrap(),
    ] {
        assert!(!log.contains(secretish), "log leaks {secretish}");
    }
}

#[test]
fn usage_errors_are_recorded_too() {
    let env = Env::new();
    let out = env.run(&["verify", "--no-such-flag"]);
    assert_refused(&env, &out, 2, "usage");
    assert_eq!(env.log().pop().unwrap()["op"], "verify");
    // And into the log the arguments named.
    env.jwtctl()
        .args(["--log-file", "u.log", "issue", "--ttl", "0s"])
        .assert()
        .code(2);
    assert!(
        std::fs::read_to_string(env.path("u.log"))
            .unwrap()
            .contains("\"reason\":\"usage\"")
    );
}

#[test]
fn hostile_claim_values_are_escaped_into_one_line() {
    let env = Env::new();
    let sub = "evil\n{\"level\":\"INFO\",\"forged\":true}\r\u{1b}[31m";
    let token = mint(json!({"sub": sub, "exp": now() + 60, "jti": "j\nk"}));
    env.jwtctl()
        .args(["--log-level", "info", "verify", &token])
        .assert()
        .success();
    let log = env.log();
    assert_eq!(log.len(), 1, "exactly one line");
    assert_eq!(log[0]["sub"], sub, "recorded faithfully");
    assert_eq!(log[0]["jti"], "j\nk");
}

#[test]
fn help_and_version_answer_without_a_log() {
    let env = Env::new();
    let out = env.run(&["--log-file", "/dev/full", "--help"]);
    assert!(out.status.success());
    assert!(stdout(&out).contains("Usage"));
    env.jwtctl().arg("--version").assert().success();
}

#[test]
fn records_name_the_token_by_hash_and_say_who_where_and_which_version() {
    let env = Env::new();
    let token = env.issue(&["--sub", "alice"]);
    let out = env.run(&[
        "--log-level",
        "info",
        "--peer",
        "203.0.113.7",
        "refresh",
        "--no-ledger",
        &format!("Bearer {token}"),
    ]);
    let new = stdout(&out).trim().to_string();
    env.jwtctl()
        .args(["--log-level", "info", "verify", "tampered.token.x"])
        .assert()
        .code(1);
    let log = env.log();
    assert_eq!(log[0]["event"], "no_ledger_allowed");
    let (refresh, failed) = (&log[1], &log[2]);
    assert_eq!(refresh["token_sha256"], sha256sum(&new));
    assert_eq!(refresh["parent_token_sha256"], sha256sum(&token));
    assert_eq!(refresh["peer"], "203.0.113.7");
    assert_eq!(refresh["version"], env!("CARGO_PKG_VERSION"));
    assert!(refresh["pid"].as_u64().is_some_and(|p| p > 0));
    assert!(refresh["uid"].is_u64());
    assert!(refresh["user"].as_str().is_some_and(|u| !u.is_empty()));
    assert!(refresh["host"].is_string());
    // A rejected token is findable by its hash too.
    assert_eq!(failed["token_sha256"], sha256sum("tampered.token.x"));
    assert!(failed.get("peer").is_none());
}

#[test]
fn a_refused_command_line_is_recorded_with_the_settings_it_gives() {
    let env = Env::new();
    let out = env.run(&[
        "--log-rotate",
        "daily",
        "verify",
        "--bogus",
        "--peer",
        "203.0.113.7",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        !env.path("security.log").exists(),
        "not in the undated file"
    );
    let dated: Vec<_> = std::fs::read_dir(env.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("security.log.") && n != "security.log.state")
        .collect();
    assert_eq!(dated.len(), 1, "{dated:?}");
    let text = std::fs::read_to_string(env.path(&dated[0])).unwrap();
    let record: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(
        (record["reason"].as_str(), record["peer"].as_str()),
        (Some("usage"), Some("203.0.113.7"))
    );
    // Options after the refused one, and the environment, count too.
    let out = env
        .jwtctl()
        .env("JWTCTL_PEER", "198.51.100.1")
        .args(["verify", "a", "b", "--log-file", "after.log"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let text = std::fs::read_to_string(env.path("after.log")).unwrap();
    assert!(text.contains("\"peer\":\"198.51.100.1\""), "{text}");
}

#[test]
fn a_bad_environment_value_is_named_by_its_variable_with_what_it_takes() {
    let env = Env::new();
    for (var, value, takes) in [
        ("JWTCTL_LOG_LEVEL", "verbose", "error, warn, info, debug"),
        ("JWTCTL_LOG_SYNC", "maybe", "yes/no"),
        ("JWTCTL_LOG_ROTATE", "weekly", "never, hourly, daily"),
        ("JWTCTL_MAX_LIFETIME", "forever", "duration"),
    ] {
        let op = if var == "JWTCTL_MAX_LIFETIME" {
            "refresh"
        } else {
            "issue"
        };
        let out = env.jwtctl().env(var, value).arg(op).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{var}");
        let err = crate::common::stderr(&out);
        assert!(err.contains(var) && err.contains(takes), "{var}: {err}");
        assert!(
            !err.contains("--log") && !err.contains("--max"),
            "names a flag: {err}"
        );
    }
}

#[test]
fn records_go_to_syslog_over_a_unix_socket_and_tcp() {
    use std::io::Read;
    let env = Env::new();
    // A unix datagram listener, as /dev/log is.
    let sock = env.path("log.sock");
    let listener = std::os::unix::net::UnixDatagram::bind(&sock).unwrap();
    listener
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let target = format!("unix:{}", sock.display());
    let out = env.run(&["--log-syslog", &target, "verify", "not-a-token"]);
    assert_eq!(out.status.code(), Some(1));
    let mut buf = vec![0u8; 8192];
    let n = listener.recv(&mut buf).unwrap();
    let msg = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(msg.starts_with("<83>1 "), "authpriv.err: {msg}");
    assert!(msg.contains(r#"reason="malformed""#), "{msg}");
    assert!(
        env.log_text().contains("malformed"),
        "the file still gets it"
    );
    // A batch writes its records in groups; syslog still gets one message per record.
    let out = env
        .jwtctl()
        .args(["--log-syslog", &target, "verify", "--batch"])
        .write_stdin("a.b.c\nbad\n")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        crate::common::stderr(&out)
    );
    for line in [1, 2] {
        let n = listener.recv(&mut buf).unwrap();
        let msg = String::from_utf8_lossy(&buf[..n]).to_string();
        assert!(msg.starts_with("<83>1 "), "one record per message: {msg}");
        assert!(msg.contains(&format!(r#"line="{line}""#)), "{msg}");
        assert_eq!(msg.matches("\"timestamp\"").count(), 1, "{msg}");
    }
    // TCP with octet counting, and no file at all.
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = tcp.local_addr().unwrap();
    let reader = std::thread::spawn(move || {
        let (mut conn, _) = tcp.accept().unwrap();
        let mut text = String::new();
        conn.read_to_string(&mut text).unwrap();
        text
    });
    std::fs::remove_file(env.path("security.log")).unwrap();
    let out = env.run(&[
        "--log-file",
        "none",
        "--log-syslog",
        &format!("tcp://{addr}"),
        "--log-level",
        "info",
        "issue",
        "--sub",
        "s",
    ]);
    assert!(out.status.success(), "{}", crate::common::stderr(&out));
    let text = reader.join().unwrap();
    let (len, rest) = text.split_once(' ').unwrap();
    assert_eq!(
        len.parse::<usize>().unwrap(),
        rest.len(),
        "RFC 6587 octet counting: {text}"
    );
    assert!(rest.starts_with("<86>1 "), "authpriv.info: {rest}");
    assert!(
        rest.contains(r#"op="issue""#) && rest.contains(r#"sub="s""#),
        "{rest}"
    );
    assert!(
        !env.path("security.log").exists(),
        "--log-file none writes no file"
    );
}

#[test]
fn a_stream_syslog_target_that_cannot_be_reached_fails_closed() {
    let env = Env::new();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let out = env.run(&["--log-syslog", &format!("tcp://{addr}"), "issue"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        crate::common::stderr(&out)
    );
    assert_eq!(
        crate::common::stdout(&out),
        "",
        "no token without its record"
    );
    assert!(
        crate::common::stderr(&out).contains("syslog"),
        "{}",
        crate::common::stderr(&out)
    );
    let none = env.run(&["--log-file", "none", "issue"]);
    assert_eq!(
        none.status.code(),
        Some(2),
        "--log-file none needs a syslog target"
    );
}

#[test]
fn a_usage_error_without_a_subcommand_goes_to_the_log_file_given() {
    let env = Env::new();
    for args in [
        &["--log-file", "b.log"][..],
        &["--log-file", "b.log", "--bogus"],
    ] {
        let out = env.jwtctl().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
    assert!(
        !env.path("security.log").exists(),
        "recorded in ./security.log"
    );
    let text = std::fs::read_to_string(env.path("b.log")).unwrap();
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(
        text.lines().all(|l| l.contains("\"reason\":\"usage\"")),
        "{text}"
    );
}

#[test]
fn a_claim_rule_failure_names_the_claim_never_its_value_and_key_files_are_a_key_source() {
    let env = Env::new();
    let token = mint(json!({"sub": "alice", "ref": "refs/heads/feature-x", "exp": now() + 600}));
    let out = env.verify(&["--claim-eq", "ref=\"refs/heads/main\""], &token);
    assert_refused(&env, &out, 1, "claim_mismatch");
    let record = env.log().pop().unwrap();
    assert_eq!(record["claim"], "ref", "{record}");
    assert_eq!(record["key_source"], "file", "{record}");
    let out = env.verify(&["--claim-match", "environment=prod*"], &token);
    assert_refused(&env, &out, 1, "missing_claim");
    assert_eq!(env.log().pop().unwrap()["claim"], "environment");
    // In a batch too, and a success after a failure carries no claim.
    let out = env
        .jwtctl()
        .args(["--log-level", "info", "verify", "--batch"])
        .args(["--claim-match", "ref=refs/heads/f*"])
        .write_stdin(format!("{}\n{token}\n", mint(json!({"exp": now() + 600}))))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let records = env.log();
    let (failed, passed) = (&records[records.len() - 2], &records[records.len() - 1]);
    assert_eq!(
        (&failed["reason"], &failed["claim"]),
        (&json!("missing_claim"), &json!("ref"))
    );
    assert_eq!(passed["outcome"], "success");
    assert!(passed.get("claim").is_none(), "{passed}");
    assert_eq!(passed["key_source"], "file");
    let text = env.log_text();
    assert!(
        !text.contains("refs/heads"),
        "a claim's value or a rule's value logged: {text}"
    );
}

#[test]
fn every_record_of_a_token_names_its_issuer_and_a_rejection_none_left_over() {
    let env = Env::new();
    let token = env.issue(&["--log-level", "info", "--iss", "https://auth.example"]);
    let verified = env.verify(&["--log-level", "info"], &token);
    assert!(verified.status.success());
    // A batch reuses one record for every line: a rejected line after a valid one must not
    // carry the valid token's issuer (or subject) on.
    let out = env
        .jwtctl()
        .args(["--log-level", "info", "verify", "--batch"])
        .write_stdin(format!("{token}\nnot-a-token\n"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let records = env.log();
    assert_eq!(records.len(), 4, "{records:?}");
    for r in &records[..3] {
        assert_eq!(r["iss"], "https://auth.example", "{r}");
    }
    assert_eq!(records[3]["reason"], "malformed");
    assert!(records[3].get("iss").is_none(), "{}", records[3]);
    assert!(records[3].get("sub").is_none(), "{}", records[3]);
}
