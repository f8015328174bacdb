//! `jwtctl log search` and `jwtctl log tail`: every filter, rotated and gzip-compressed files,
//! relative times, the table and JSON output, hostile values, and following a rotating log.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{Env, Scrub, assert_refused, now, pipe_through, stderr, stdout};

/// A record line as jwtctl writes it, stamped `secs` (with microseconds) and with `fields`
/// after `timestamp` and `level`; `seq` and `prev` first, as the chained log will have them.
fn record(seq: u64, secs: i64, level: &str, fields: Value) -> String {
    let at = chrono::DateTime::from_timestamp(secs, 123_456_000).unwrap();
    let mut r = json!({
        "seq": seq,
        "prev": "0".repeat(64),
        "timestamp": at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "level": level,
    });
    for (k, v) in fields.as_object().unwrap() {
        r[k] = v.clone();
    }
    r["pid"] = json!(4242);
    format!("{r}\n")
}

/// Six records an hour apart, ending an hour ago.
fn sample() -> Vec<String> {
    let t = now() - 6 * 3600;
    vec![
        record(
            1,
            t,
            "INFO",
            json!({"op": "issue", "outcome": "success", "sub": "alice", "iss": "https://a.example", "jti": "j1", "kid": "k1", "token_sha256": "11".repeat(32)}),
        ),
        record(
            2,
            t + 3600,
            "INFO",
            json!({"op": "refresh", "outcome": "success", "sub": "alice", "iss": "https://a.example", "jti": "j2", "parent_jti": "j1", "kid": "k2", "token_sha256": "22".repeat(32), "parent_token_sha256": "11".repeat(32)}),
        ),
        record(
            3,
            t + 7200,
            "ERROR",
            json!({"op": "verify", "outcome": "failure", "reason": "expired", "token_sha256": "11".repeat(32)}),
        ),
        record(
            4,
            t + 10800,
            "ERROR",
            json!({"op": "refresh", "outcome": "failure", "reason": "reused", "sub": "bob", "iss": "https://b.example", "jti": "j3", "kid": "k1"}),
        ),
        record(
            5,
            t + 14400,
            "WARN",
            json!({"op": "key_gen", "event": "key_created", "outcome": "warning", "kid": "k3"}),
        ),
        record(
            6,
            t + 18000,
            "INFO",
            json!({"op": "verify", "outcome": "success", "sub": "carol", "iss": "https://a.example", "jti": "j4", "kid": "k2"}),
        ),
    ]
}

/// `jwtctl log search --output json ARGS` over `security.log`; its stdout's lines and exit code.
fn search(env: &Env, args: &[&str]) -> (Vec<String>, i32) {
    let out = env
        .jwtctl()
        .args(["log", "search", "--output", "json"])
        .args(args)
        .output()
        .unwrap();
    assert_eq!(stderr(&out), "", "{args:?}");
    let lines = stdout(&out).lines().map(|l| format!("{l}\n")).collect();
    (lines, out.status.code().unwrap())
}

#[test]
fn every_filter_selects_exactly_its_records_as_the_log_holds_them() {
    let env = Env::new();
    let log = sample();
    env.write("security.log", &log.concat());
    let cases: [(&[&str], &[usize]); 11] = [
        (&["--sub", "alice"], &[0, 1]),
        (&["--iss", "https://a.example"], &[0, 1, 5]),
        (&["--jti", "j1"], &[0]), // not the refresh whose parent_jti is j1
        (&["--kid", "k1"], &[0, 3]),
        (&["--op", "refresh"], &[1, 3]),
        (&["--outcome", "failure"], &[2, 3]),
        (&["--reason", "reused"], &[3]),
        (&["--op", "refresh", "--outcome", "failure"], &[3]),
        (&["--sub", "alice", "--kid", "k2"], &[1]),
        (&[], &[0, 1, 2, 3, 4, 5]),
        (&["--outcome", "warning"], &[4]),
    ];
    for (args, want) in cases {
        let (lines, code) = search(&env, args);
        let want: Vec<String> = want.iter().map(|&i| log[i].clone()).collect();
        assert_eq!(lines, want, "{args:?}");
        assert_eq!(code, 0, "{args:?}");
    }
    // No match: exit 1 and nothing printed, as grep.
    assert_eq!(search(&env, &["--sub", "mallory"]), (Vec::new(), 1));
    assert_eq!(search(&env, &["--sub", "ALICE"]), (Vec::new(), 1));
    assert_eq!(search(&env, &["--sub", "alic"]), (Vec::new(), 1));
}

#[test]
fn a_token_finds_its_records_by_hash_from_the_argument_or_stdin() {
    let env = Env::new();
    let token = env.issue(&[
        "--log-level",
        "info",
        "--sub",
        "alice",
        "--iss",
        "https://a.example",
    ]);
    env.issue(&["--log-level", "info", "--sub", "bob"]);
    assert!(
        env.verify(&["--log-level", "info"], &token)
            .status
            .success()
    );
    let rejected = env.verify(&["--sub", "carol"], &token);
    assert_eq!(rejected.status.code(), Some(1));
    let out = env
        .jwtctl()
        .args(["--log-level", "info", "refresh", "--no-ledger", &token])
        .output()
        .unwrap();
    assert!(out.status.success());
    let child = stdout(&out).trim().to_string();
    let before = env.log_text();
    // Issued, verified, rejected, refreshed from.
    let (by_arg, code) = search(&env, &["--token", &token]);
    assert_eq!(code, 0);
    let ops: Vec<Value> = by_arg
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|r| json!([r["op"], r["outcome"]]))
        .collect();
    assert_eq!(
        ops,
        [
            json!(["issue", "success"]),
            json!(["verify", "success"]),
            json!(["verify", "failure"]),
            json!(["refresh", "success"]),
        ]
    );
    let out = env
        .jwtctl()
        .args(["log", "search", "--output", "json", "--token", "-"])
        .write_stdin(format!("Bearer {token}\n"))
        .output()
        .unwrap();
    assert_eq!(stdout(&out).lines().count(), 4, "{}", stderr(&out));
    // The child names only its own records.
    assert_eq!(search(&env, &["--token", &child]).0.len(), 1);
    // Neither the token nor its hash is printed by a table or written by the search.
    let out = env.run(&["--log-level", "info", "log", "search", "--token", &token]);
    assert!(!stdout(&out).contains(&token));
    let after = env.log_text();
    let added = &after[before.len()..];
    assert!(!added.contains(&token) && !added.contains(&crate::common::sha256sum(&token)));
    let last = env.log().pop().unwrap();
    assert_eq!(
        (&last["op"], &last["outcome"]),
        (&json!("log_search"), &json!("success"))
    );
    let empty = env
        .jwtctl()
        .args(["log", "search", "--token", "-"])
        .write_stdin("  \n")
        .output()
        .unwrap();
    assert_refused(&env, &empty, 2, "usage");
}

#[test]
fn rotated_and_gzip_compressed_files_are_read_oldest_first() {
    let env = Env::new();
    let log = sample();
    // logrotate with compress and delaycompress: .3.gz oldest, .1 plain, the log itself newest.
    let gz = |lines: &[String]| pipe_through("gzip", &["-c"], lines.concat().as_bytes());
    std::fs::write(env.path("security.log.3.gz"), gz(&log[0..1])).unwrap();
    // Two gzip members in one file, as `cat a.gz b.gz` makes.
    let mut two = gz(&log[1..2]);
    two.extend(gz(&log[2..3]));
    std::fs::write(env.path("security.log.2.gz"), two).unwrap();
    env.write("security.log.1", &log[3..5].concat());
    env.write("security.log", &log[5]);
    // Not the log's: another log's rotation, a lock file, a directory with a rotated name.
    env.write("other.log.1", &log[0]);
    env.write("security.log.lock", &log[0]);
    std::fs::create_dir(env.path("security.log.4")).unwrap();
    let (lines, _) = search(&env, &[]);
    assert_eq!(lines, log);
    // A rotated file named on its own is read alone; a file named twice is read once.
    let (lines, _) = search(&env, &["security.log.2.gz", "security.log.2.gz"]);
    assert_eq!(lines, log[1..3]);
    // jwtctl's own rotation and logrotate's dateext, in a log of another name.
    env.write("audit.log.2026-11-24", &log[0]);
    env.write("audit.log.2026-11-25-09", &log[1]);
    std::fs::write(env.path("audit.log-20261126.gz"), gz(&log[2..3])).unwrap();
    let (lines, _) = search(&env, &["audit.log"]);
    assert_eq!(lines, log[0..3]);
    let out = env
        .jwtctl()
        .args([
            "--log-file",
            "audit.log",
            "log",
            "search",
            "--output",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(stdout(&out), log[0..3].concat());
}

#[test]
fn a_log_that_cannot_be_read_is_exit_2_with_what_to_do() {
    let env = Env::new();
    let out = env.run(&["log", "search", "missing.log"]);
    assert_refused(&env, &out, 2, "io_error");
    assert!(
        stderr(&out).contains("there is no log missing.log"),
        "{}",
        stderr(&out)
    );
    std::fs::write(env.path("bad.log.1.gz"), b"\x1f\x8bnot really gzip").unwrap();
    env.write("bad.log", "");
    let out = env.run(&["log", "search", "bad.log"]);
    assert_refused(&env, &out, 2, "io_error");
    assert!(stderr(&out).contains("bad.log.1.gz"), "{}", stderr(&out));
    assert!(stderr(&out).contains("not valid gzip"), "{}", stderr(&out));
    for bad in [
        &["--since", "soon"][..],
        &["--since", "1h", "--until", "2h"],
        &["--outcome", "maybe"],
    ] {
        let out = env
            .jwtctl()
            .args(["log", "search"])
            .args(bad)
            .output()
            .unwrap();
        assert_refused(&env, &out, 2, "usage");
    }
}

#[test]
fn times_are_instants_or_relative_to_now() {
    let env = Env::new();
    let log = sample(); // 6h, 5h, ... 1h ago
    env.write("security.log", &log.concat());
    assert_eq!(search(&env, &["--since", "150m"]).0, log[4..]);
    assert_eq!(
        search(&env, &["--since", "5h ago", "--until", "3h"]).0,
        log[1..3]
    );
    assert_eq!(search(&env, &["--until", "330m"]).0, log[..1]);
    assert_eq!(search(&env, &["--since", "now"]).1, 1);
    let third: Value = serde_json::from_str(&log[2]).unwrap();
    let at = chrono::DateTime::parse_from_rfc3339(third["timestamp"].as_str().unwrap()).unwrap();
    let exact = at.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    assert_eq!(
        search(
            &env,
            &[
                "--since",
                &exact,
                "--until",
                &(at.timestamp() + 1).to_string()
            ]
        )
        .0,
        log[2..3]
    );
    // today and yesterday are UTC midnights.
    let midnight = now() - now().rem_euclid(86_400);
    let days = [
        record(1, midnight - 86_400 - 1, "INFO", json!({"op": "issue"})),
        record(2, midnight - 86_400, "INFO", json!({"op": "issue"})),
        record(3, midnight - 1, "INFO", json!({"op": "issue"})),
        record(4, midnight, "INFO", json!({"op": "issue"})),
    ];
    env.write("days.log", &days.concat());
    assert_eq!(
        search(
            &env,
            &["days.log", "--since", "yesterday", "--until", "today"]
        )
        .0,
        days[1..3]
    );
    assert_eq!(search(&env, &["days.log", "--since", "today"]).0, days[3..]);
}

#[test]
fn hostile_values_reach_the_terminal_escaped_and_json_stays_the_same_json() {
    let env = Env::new();
    let hostile = "evil\u{1b}]0;owned\u{7}\u{1b}[2J\u{9b}31m\u{202e}gnp.exe";
    let line = record(
        1,
        now() - 60,
        "ERROR",
        json!({"op": "verify", "outcome": "failure", "reason": "expired", "sub": hostile, "jti": "x y"}),
    );
    // The raw C1 and bidi characters a hand-made line could hold (jwtctl escapes C0 itself).
    assert!(line.contains('\u{9b}') && line.contains('\u{202e}'));
    env.write("security.log", &line);
    // A filter value with control characters is refused (an operator's pasting mistake); the
    // record of a token whose own claim holds them is found by another field.
    let refused = env.run(&["log", "search", "--sub", hostile]);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    let table = env.run(&["log", "search", "--jti", "x y"]);
    assert_eq!(table.status.code(), Some(0), "{}", stderr(&table));
    let text = stdout(&table);
    assert!(
        !text.contains(['\u{1b}', '\u{9b}', '\u{202e}', '\u{7}']),
        "{text:?}"
    );
    assert!(
        text.contains("evil\\u001b]0;owned\\u0007\\u001b[2J\\u009b31m\\u202egnp.exe"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 2, "a header and one row: {text}");
    assert!(text.lines().next().unwrap().starts_with("TIME"));
    let json_out = env.run(&["log", "search", "--output", "json", "--jti", "x y"]);
    let shown = stdout(&json_out);
    assert!(
        !shown.contains(['\u{1b}', '\u{9b}', '\u{202e}']),
        "{shown:?}"
    );
    let back: Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(back["sub"], hostile);
}

#[test]
fn torn_lines_are_skipped_and_counted_and_a_search_never_reads_its_own_record() {
    let env = Env::new();
    let log = sample();
    let torn = &log[0][..40];
    env.write(
        "security.log",
        &format!("{torn}\n{}{}", log[1], "{\"sub\":\"alice\"\n"),
    );
    let out = env.run(&[
        "--log-level",
        "info",
        "log",
        "search",
        "--output",
        "json",
        "--sub",
        "alice",
    ]);
    assert_eq!(stdout(&out), log[1]);
    assert_eq!(
        stderr(&out),
        "jwtctl: warning: 1 line(s) of the log that could have matched are not records (torn, cut or not jwtctl's) and were skipped\n"
    );
    let out = env.run(&[
        "--log-level",
        "info",
        "log",
        "search",
        "--op",
        "log_search",
        "--output",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let found: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        found.len(),
        1,
        "the first search's record only, not this one's: {found:?}"
    );
    let last: Value = serde_json::from_str(env.log_text().lines().last().unwrap()).unwrap();
    assert_eq!(last["op"], "log_search");
}

#[test]
fn tail_prints_the_last_matching_records_across_rotated_files() {
    let env = Env::new();
    let log = sample();
    env.write("security.log.1", &log[..4].concat());
    env.write("security.log", &log[4..].concat());
    let tail = |args: &[&str]| {
        let out = env
            .jwtctl()
            .args(["log", "tail", "--output", "json"])
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        stdout(&out)
    };
    assert_eq!(tail(&["-n", "3"]), log[3..].concat());
    assert_eq!(tail(&[]), log.concat());
    assert_eq!(tail(&["-n", "1", "--sub", "alice"]), log[1]);
    assert_eq!(tail(&["-n", "0"]), "");
    assert_eq!(tail(&["--sub", "nobody"]), "", "no match is still exit 0");
}

/// Wait until `reader` has given `n` more lines (at most 10 s).
fn read_lines(reader: &mut impl BufRead, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut lines = Vec::new();
    while lines.len() < n && Instant::now() < deadline {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 {
            break;
        }
        lines.push(line);
    }
    lines
}

#[test]
fn tail_follow_goes_on_across_rotation_and_stops_when_its_reader_goes() {
    let env = Env::new();
    let log = sample();
    env.write("security.log", &log[0]);
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("jwtctl"))
        .scrubbed()
        .current_dir(env.dir.path())
        .args([
            "--log-level",
            "info",
            "log",
            "tail",
            "-f",
            "-n",
            "1",
            "--output",
            "json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    assert_eq!(read_lines(&mut out, 1), log[..1], "the last record first");
    let append = |path: &str, line: &str| {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(env.path(path))
            .unwrap();
        f.write_all(line.as_bytes()).unwrap();
    };
    // A record written in two pieces is printed once it is whole.
    append("security.log", &log[1][..30]);
    std::thread::sleep(Duration::from_millis(400));
    append("security.log", &log[1][30..]);
    assert_eq!(read_lines(&mut out, 1), log[1..2]);
    // logrotate: the log is renamed (a last record still reaches the old file) and recreated.
    std::fs::rename(env.path("security.log"), env.path("security.log.1")).unwrap();
    append("security.log.1", &log[2]);
    std::thread::sleep(Duration::from_millis(400));
    append("security.log", &log[3]);
    assert_eq!(read_lines(&mut out, 2), log[2..4]);
    // An older rotated file appearing does not move the follower off the newest.
    env.write("security.log.2026-11-24", &log[5]);
    append("security.log", &log[4]);
    assert_eq!(read_lines(&mut out, 1), log[4..5]);
    // The reader goes away: tail notices within a poll or two and exits 0.
    drop(out);
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "tail -f did not stop after its reader went"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
    let rotated = std::fs::read_to_string(env.path("security.log.1")).unwrap();
    let records: Vec<Value> = rotated
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // Its own record was written when it started, and never printed.
    assert_eq!(records[1]["op"], "log_tail", "{rotated}");
}

#[test]
fn tail_follow_moves_to_the_next_file_of_jwtctls_own_rotation() {
    let env = Env::new();
    let log = sample();
    env.write("audit.log.2026-11-26-09", &log[0]);
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("jwtctl"))
        .scrubbed()
        .current_dir(env.dir.path())
        .args([
            "log",
            "tail",
            "-f",
            "audit.log",
            "--output",
            "json",
            "--sub",
            "alice",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    assert_eq!(read_lines(&mut out, 1), log[..1]);
    // The next hour's file appears (as `--log-rotate hourly` starts it) and is followed.
    std::thread::sleep(Duration::from_millis(300));
    env.write("audit.log.2026-11-26-10", &format!("{}{}", log[5], log[1]));
    assert_eq!(
        read_lines(&mut out, 1),
        log[1..2],
        "carol's record is not alice's"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

/// A line longer than any record (16 MiB) is dropped whole by `tail -f`, as by `log search`:
/// its end is never printed as a record of its own.
#[test]
fn tail_follow_drops_an_overlong_line_to_its_end() {
    let env = Env::new();
    let log = sample();
    env.write("audit.log", &log[0]);
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("jwtctl"))
        .scrubbed()
        .current_dir(env.dir.path())
        .args(["log", "tail", "-f", "audit.log", "--output", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    assert_eq!(read_lines(&mut out, 1), log[..1]);
    let overlong = format!("{}{}", "x".repeat(17 << 20), log[5]);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(env.path("audit.log"))
        .unwrap();
    std::io::Write::write_all(&mut f, overlong.as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(400));
    std::io::Write::write_all(&mut f, log[1].as_bytes()).unwrap();
    assert_eq!(
        read_lines(&mut out, 1),
        log[1..2],
        "the overlong line's end"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}
