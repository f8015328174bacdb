//! The process contract at its edges: closed standard fds and a stdout nobody reads.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use std::process::{Command, Stdio};

use crate::common::{Env, Scrub, stderr, stdout};
use serde_json::Value;

#[test]
fn a_stdout_nobody_reads_is_exit_2_not_a_signal() {
    let env = Env::new();
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    // std's Command leaves SIGPIPE at its default in the child, as a shell pipeline would.
    let out = Command::new(assert_cmd::cargo::cargo_bin("jwtctl"))
        .args(["issue", "--sub", "alice"])
        .current_dir(env.dir.path())
        .env("JWTCTL_KEY_FILE", "test.key")
        .stdout(writer)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "killed by a signal? {out:?}");
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("stdout"), "{}", stderr(&out));
}

#[test]
fn closed_standard_fds_are_never_taken_by_the_log() {
    // A caller that closes stdin and stderr: the first files jwtctl opens (the log) would take
    // fds 0 and 2, and the key notice meant for stderr would land in the log.
    let env = Env::new();
    let out = Command::new("sh")
        .arg("-c")
        .arg(r#"exec "$0" --log-level info issue --sub alice <&- 2>&-"#)
        .arg(assert_cmd::cargo::cargo_bin("jwtctl"))
        .current_dir(env.dir.path())
        .scrubbed()
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out).matches('.').count(), 2, "a token on stdout");
    // Every line is a whole record (Env::log parses each): no token, no stderr notice.
    let levels: Vec<Value> = env.log().iter().map(|r| r["level"].clone()).collect();
    assert_eq!(levels, ["WARN", "INFO"], "key created, token issued");
    let key = std::fs::read_to_string(env.path("jwtctl.key")).unwrap();
    assert_eq!(
        key.len(),
        65,
        "64 base64url characters and a newline: {key:?}"
    );
    assert!(
        key.trim_end()
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
}

#[test]
fn an_unwritable_stderr_never_changes_the_exit_code() {
    let env = Env::new();
    for (args, code) in [
        (&["verify", "not-a-token"][..], 1),
        (&["verify", "--ttl"], 2),
        (&["inspect", "a.b.c"], 1),
    ] {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let out = Command::new(assert_cmd::cargo::cargo_bin("jwtctl"))
            .args(args)
            .current_dir(env.dir.path())
            .env("JWTCTL_KEY_FILE", "test.key")
            .stderr(full)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(code), "{args:?}");
    }
}

#[test]
fn no_duration_or_time_flag_value_ends_in_a_signal() {
    let env = Env::new();
    let token = env.issue(&["--sub", "alice"]);
    let durations = [
        "0s",
        "-1s",
        "18446744073709551615s",
        "584942417355y",
        "101y",
        "99y",
    ];
    let times = [
        "0",
        "-1",
        "-62135596800",
        "18446744073709551615",
        "9223372036854775807",
        "9999-12-31T23:59:59Z",
        "1969-07-20T20:17:00Z",
    ];
    let mut runs: Vec<Vec<String>> = Vec::new();
    for d in durations {
        runs.push(vec!["issue".into(), "--ttl".into(), d.into()]);
        for flag in ["--leeway", "--min-remaining", "--max-age"] {
            for op in ["verify", "refresh --no-ledger"] {
                let mut run: Vec<String> = op.split(' ').map(String::from).collect();
                run.extend([flag.into(), d.into(), token.clone()]);
                runs.push(run);
            }
        }
        for flag in ["--ttl", "--max-lifetime", "--grace"] {
            runs.push(vec![
                "refresh".into(),
                "--no-ledger".into(),
                flag.into(),
                d.into(),
                token.clone(),
            ]);
        }
        runs.push(vec![
            "refresh".into(),
            "--no-ledger".into(),
            "--leeway".into(),
            d.into(),
            "--grace".into(),
            "1s".into(),
            token.clone(),
        ]);
    }
    for t in times {
        runs.push(vec!["verify".into(), format!("--at={t}"), token.clone()]);
    }
    for args in runs {
        let out = env.jwtctl().args(&args).output().unwrap();
        let code = out.status.code();
        assert!(
            matches!(code, Some(0..=3)),
            "{args:?} ended with {:?}: {}",
            out.status,
            stderr(&out)
        );
        if code == Some(2) {
            assert_eq!(stderr(&out).lines().count(), 1, "{args:?}");
        }
    }
}

#[test]
fn settings_from_the_environment_read_as_people_write_them() {
    let env = Env::new();
    for (var, value) in [
        ("JWTCTL_LOG_SYNC", "1"),
        ("JWTCTL_LOG_SYNC", "yes"),
        ("JWTCTL_LOG_SYNC", "OFF"),
        ("JWTCTL_LOG_LEVEL", "INFO"),
        ("JWTCTL_LOG_ROTATE", "Daily"),
        ("JWTCTL_LOG_LEVEL", ""),
        ("JWTCTL_LOG_FILE", ""),
        ("JWTCTL_LOG_SYNC", ""),
        ("JWTCTL_MAX_LIFETIME", ""),
    ] {
        let out = env.jwtctl().env(var, value).arg("issue").output().unwrap();
        assert!(out.status.success(), "{var}={value:?}: {}", stderr(&out));
    }
}

#[test]
fn every_input_file_is_bounded_and_a_fifo_without_writer_never_hangs() {
    let env = Env::new();
    for args in [
        &["verify", "--key-file", "/dev/zero", "a.b.c"][..],
        &["verify", "--jwks", "/dev/zero", "a.b.c"],
        &["issue", "--claims", "/dev/zero"],
    ] {
        let out = env
            .jwtctl()
            .args(args)
            .timeout(std::time::Duration::from_secs(20))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("1 MiB"), "{}", stderr(&out));
    }
    let fifo = env.path("fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let out = env
        .bare()
        .args(["verify", "--key-file"])
        .arg(&fifo)
        .arg("a.b.c")
        .timeout(std::time::Duration::from_secs(10))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "a FIFO with no writer: {out:?}");
}

/// `jwtctl WORDS TOKEN` in `env`'s dir with the test key and a ledger, its stdout closed.
fn with_stdout_closed(env: &Env, words: &str, token: &str) -> std::process::Output {
    Command::new("sh")
        .current_dir(env.dir.path())
        .env("JWTCTL_KEY_FILE", "test.key")
        .env("JWTCTL_LEDGER", "ledger.db")
        .arg("-c")
        .arg(format!(
            "exec '{}' {words} \"$0\" >&-",
            assert_cmd::cargo::cargo_bin("jwtctl").display()
        ))
        .arg(token)
        .output()
        .unwrap()
}

#[test]
fn a_refresh_whose_result_cannot_be_delivered_consumes_nothing() {
    let env = Env::new();
    let token = env.issue(&["--sub", "alice"]);
    crate::common::stores::init(&env, "ledger.db");
    let closed = with_stdout_closed(&env, "refresh", &token);
    assert_eq!(closed.status.code(), Some(2), "{}", stderr(&closed));
    assert!(stderr(&closed).contains("stdout"), "{}", stderr(&closed));
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let unwritable = Command::new(assert_cmd::cargo::cargo_bin("jwtctl"))
        .current_dir(env.dir.path())
        .env("JWTCTL_KEY_FILE", "test.key")
        .env("JWTCTL_LEDGER", "ledger.db")
        .args(["refresh", &token])
        .stdout(full)
        .output()
        .unwrap();
    assert_eq!(unwritable.status.code(), Some(2), "{}", stderr(&unwritable));
    let retry = env
        .jwtctl()
        .env("JWTCTL_LEDGER", "ledger.db")
        .args(["refresh", &token])
        .output()
        .unwrap();
    assert!(
        retry.status.success(),
        "the parent was burned: {}",
        stderr(&retry)
    );
    // verify -q prints nothing, so a closed stdout is fine for it.
    let quiet = with_stdout_closed(&env, "verify -q", &token);
    assert_eq!(quiet.status.code(), Some(0), "{}", stderr(&quiet));
    // verify --output json answers on stdout; when stdout is closed it says so on stderr.
    let json = with_stdout_closed(&env, "verify --output json", &token);
    assert_eq!(json.status.code(), Some(2), "{}", stderr(&json));
    assert!(
        stderr(&json).contains("stdout cannot be written"),
        "{json:?}"
    );
}

/// L7: help, version and completions are output like any result: a stdout that cannot take them
/// (a full disk) is exit 2 with one stderr line, never a silent success.
#[test]
fn help_version_and_completions_that_cannot_be_written_are_exit_2() {
    let env = Env::new();
    for args in [
        &["--help"][..],
        &["--version"],
        &["-V"],
        &["verify", "--help"],
        &["key", "gen", "-h"],
        &["completions", "bash"],
    ] {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let out = Command::new(assert_cmd::cargo::cargo_bin("jwtctl"))
            .current_dir(env.dir.path())
            .args(args)
            .stdout(full)
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(
            err,
            "jwtctl: stdout cannot be written (closed, full, or its reader has gone), so the \
             result could not be delivered; nothing was done\n",
            "{args:?}"
        );
    }
}

/// L7: commands that use no log (completions, man) do not fail on log settings from the
/// environment, and do not open or create a log for a usage error of their own; a log flag
/// typed on their command line is still checked.
#[test]
fn commands_without_a_log_ignore_log_settings_in_the_environment() {
    let env = Env::new();
    let out = env.run_bare(&["--log-level", "bogus", "completions", "bash"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(!env.path("security.log").exists(), "no log for completions");
    let pages = env.path("pages");
    std::fs::create_dir(&pages).unwrap();
    for (var, value) in [
        ("JWTCTL_LOG_LEVEL", "bogus"),
        ("JWTCTL_LOG_ROTATE", "weekly"),
        ("JWTCTL_LOG_SYNC", "maybe"),
        ("JWTCTL_LOG_SYSLOG", "ftp://x"),
    ] {
        let out = env
            .bare()
            .env(var, value)
            .args(["completions", "bash"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{var}: {}", stderr(&out));
        assert!(stdout(&out).contains("_jwtctl"));
        let out = env
            .bare()
            .env(var, value)
            .arg("man")
            .arg("--dir")
            .arg(&pages)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{var}: {}", stderr(&out));
        // A command that uses the log still refuses the setting.
        let out = env.bare().env(var, value).args(["issue"]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{var}: {}", stderr(&out));
        assert!(stderr(&out).contains(var), "{}", stderr(&out));
    }
}

/// Run `jwtctl WORDS TOKEN` with stdout appended to a file already past the file size limit
/// (`ulimit -f`, SIGXFSZ ignored): the check before the command passes (a write of nothing
/// succeeds there), and the final write of the result fails (EFBIG). The log and the ledger
/// stay far below the limit.
fn with_final_write_failing(env: &Env, words: &str, token: &str) -> std::process::Output {
    let big = std::fs::File::create(env.path("out.big")).unwrap();
    big.set_len(8 << 20).unwrap();
    Command::new("sh")
        .scrubbed()
        .current_dir(env.dir.path())
        .env("JWTCTL_KEY_FILE", "test.key")
        .env("JWTCTL_LEDGER", "ledger.db")
        .arg("-c")
        .arg(format!(
            "trap '' XFSZ; ulimit -f 2048 && exec '{}' {words} \"$0\" >> out.big",
            assert_cmd::cargo::cargo_bin("jwtctl").display()
        ))
        .arg(token)
        .output()
        .unwrap()
}

/// The same message and an ERROR io_error record whether the check before the command or the
/// final write finds stdout unwritable; a refresh whose ledger consumed the presented token says
/// that token is used up and the new one lost.
#[test]
fn a_result_the_final_write_cannot_deliver_is_said_and_recorded() {
    const SAID: &str = "jwtctl: stdout cannot be written (closed, full, or its reader has gone), \
        so the result could not be delivered; ";
    let env = Env::new();
    let token = env.issue(&["--sub", "alice", "--aud", "api"]);
    crate::common::stores::init(&env, "ledger.db");
    for (words, op, done, event) in [
        (
            "verify --aud api",
            "verify",
            "nothing was done",
            Value::Null,
        ),
        (
            "verify --output json --aud api",
            "verify",
            "nothing was done",
            Value::Null,
        ),
        (
            "--log-level info issue --sub",
            "issue",
            "the token was signed",
            "output_lost".into(),
        ),
        (
            "refresh --aud api",
            "refresh",
            "the presented token was used up",
            "token_used_up".into(),
        ),
    ] {
        let out = with_final_write_failing(&env, words, &token);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{words}: {err}");
        assert_eq!(err.lines().count(), 1, "{words}: {err}");
        assert!(err.starts_with(&format!("{SAID}{done}")), "{words}: {err}");
        assert_eq!(
            std::fs::metadata(env.path("out.big")).unwrap().len(),
            8 << 20
        );
        let last = env.log().pop().unwrap();
        assert_eq!(
            (
                &last["level"],
                &last["outcome"],
                &last["reason"],
                &last["event"]
            ),
            (
                &"ERROR".into(),
                &"failure".into(),
                &"io_error".into(),
                &event
            ),
            "{words}: {last}"
        );
        assert_eq!(last["op"], op, "{words}");
        if op == "refresh" {
            // The record names what was lost: the new token (its jti and hash) and its parent.
            let parent = crate::common::parts(&token).1["jti"].clone();
            assert_eq!(last["parent_jti"], parent, "{last}");
            assert!(last["jti"].is_string() && last["jti"] != parent, "{last}");
            assert!(last["token_sha256"].is_string(), "{last}");
        }
    }
    // The ledger did consume the presented token, as the message says.
    let again = env
        .jwtctl()
        .env("JWTCTL_LEDGER", "ledger.db")
        .args(["refresh", "--aud", "api", &token])
        .output()
        .unwrap();
    crate::common::assert_rejected(&env, &again, "reused");
}
