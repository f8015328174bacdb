//! The chained, sealed security log: `log verify`, `log head`, `log seal init`, and what each
//! kind of tampering looks like to them.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use std::os::unix::fs::PermissionsExt;
use std::process::Output;
use std::thread::sleep;
use std::time::Duration;

use serde_json::Value;

use crate::common::{Env, assert_refused, sha256sum, stderr, stdout};

/// The log's lines.
fn lines(env: &Env) -> Vec<String> {
    env.log_text().lines().map(str::to_owned).collect()
}

fn write_lines(env: &Env, name: &str, lines: &[String]) {
    env.write(name, &(lines.join("\n") + "\n"));
}

/// Write `n` INFO records (issue at --log-level info).
fn records(env: &Env, n: usize) {
    for i in 0..n {
        let out = env.run(&["--log-level", "info", "issue", "--sub", &format!("u{i}")]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
}

fn log_verify(env: &Env, args: &[&str]) -> Output {
    env.jwtctl()
        .args(["log", "verify", "--output", "json"])
        .args(args)
        .output()
        .unwrap()
}

/// The report of a `log verify --output json`.
fn report(out: &Output) -> Value {
    serde_json::from_str(&stdout(out)).unwrap_or_else(|_| panic!("{}", stderr(out)))
}

/// Assert `log verify` found the log tampered with: exit 1, the kind, a failure record.
fn assert_tampered(env: &Env, out: &Output, kind: &str) -> Value {
    assert_eq!(out.status.code(), Some(1), "{}", stderr(out));
    let r = report(out);
    assert_eq!(r["intact"], false);
    assert_eq!(r["break"]["kind"], kind, "{r}");
    let last = env.log().pop().unwrap();
    assert_eq!(last["op"], "log_verify");
    assert_eq!(last["reason"], "log_tampered");
    r
}

#[test]
fn records_form_one_chain_from_the_genesis() {
    let env = Env::new();
    records(&env, 4);
    let lines = lines(&env);
    assert_eq!(lines.len(), 4);
    let mut prev = sha256sum("jwtctl security log v1");
    for (i, line) in lines.iter().enumerate() {
        let r: Value = serde_json::from_str(line).unwrap();
        assert_eq!(r["seq"], i as u64 + 1, "{line}");
        assert_eq!(r["prev"], prev.as_str(), "{line}");
        assert!(
            line.starts_with("{\"seq\":"),
            "seq and prev come first: {line}"
        );
        prev = sha256sum(line);
    }
    let head = env.run(&["log", "head"]);
    assert_eq!(stdout(&head), format!("4:{prev}\n"));

    let out = env.run(&["log", "verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "");
    let said = stderr(&out);
    assert!(said.starts_with("jwtctl: log intact: 4 records"), "{said}");
    assert!(
        said.contains("NOT sealed"),
        "an unsealed log says so: {said}"
    );
    let r = report(&log_verify(&env, &[]));
    assert_eq!(r["intact"], true);
    assert_eq!(r["sealed"], false);
    assert_eq!(r["head"], format!("4:{prev}"));
}

#[test]
fn each_kind_of_change_is_named_with_its_place() {
    let env = Env::new();
    records(&env, 6);
    let orig = lines(&env);
    let check = |name: &str, lines: Vec<String>, kind: &str, line: u64| {
        write_lines(&env, name, &lines);
        let out = log_verify(&env, &[name]);
        let r = assert_tampered(&env, &out, kind);
        assert_eq!(r["break"]["line"], line, "{name}: {r}");
        assert!(r["break"]["file"].as_str().unwrap().ends_with(name));
        // One human line says the same without --output json.
        let text = env.run(&["log", "verify", name]);
        assert_refused(&env, &text, 1, "log_tampered");
        assert!(stderr(&text).contains(kind), "{}", stderr(&text));
    };
    let mut deleted = orig.clone();
    deleted.remove(2);
    check("deleted.log", deleted.clone(), "deleted", 3);
    // One missing record is said as one; two as a range.
    let text = env.run(&["log", "verify", "deleted.log"]);
    assert!(
        stderr(&text).contains("record 3 is missing before seq 4"),
        "{}",
        stderr(&text)
    );
    deleted.remove(2);
    write_lines(&env, "deleted2.log", &deleted);
    let text = env.run(&["log", "verify", "deleted2.log"]);
    assert!(
        stderr(&text).contains("records 3 to 4 are missing before seq 5"),
        "{}",
        stderr(&text)
    );

    let mut edited = orig.clone();
    edited[1] = edited[1].replace("\"sub\":\"u1\"", "\"sub\":\"admin\"");
    check("edited.log", edited, "edited", 2);

    let mut swapped = orig.clone();
    swapped.swap(2, 3);
    check("swapped.log", swapped, "reordered", 3);

    let mut inserted = orig.clone();
    inserted.insert(3, orig[2].clone());
    check("inserted.log", inserted, "inserted", 4);

    let mut foreign = orig.clone();
    foreign.insert(
        2,
        r#"{"op":"issue","outcome":"success","sub":"mallory"}"#.to_owned(),
    );
    check("foreign.log", foreign, "inserted", 3);

    let mut garbage = orig.clone();
    garbage[4] = "not json".into();
    check("garbage.log", garbage, "unparsable", 5);

    // An edit whose chain was recomputed (an attacker needs no key for that) passes the chain
    // alone: only a noted head or a seal catches it. Here the head noted before catches it.
    let head = format!("6:{}", sha256sum(&orig[5]));
    let recomputed = rechain(&orig, 1, |r| r["sub"] = "admin".into());
    write_lines(&env, "recomputed.log", &recomputed);
    assert_eq!(log_verify(&env, &["recomputed.log"]).status.code(), Some(0));
    let out = log_verify(&env, &["--expect-head", &head, "recomputed.log"]);
    assert_tampered(&env, &out, "edited");
}

/// Rewrite record `at` with `change` and recompute every later `prev` as an attacker without
/// the seal key would.
fn rechain(lines: &[String], at: usize, change: impl Fn(&mut Value)) -> Vec<String> {
    let mut out: Vec<String> = lines[..at].to_vec();
    for (i, line) in lines.iter().enumerate().skip(at) {
        let mut r: Value = serde_json::from_str(line).unwrap();
        if i == at {
            change(&mut r);
        }
        if i > 0 {
            r["prev"] = sha256sum(&out[i - 1]).into();
        }
        out.push(r.to_string());
    }
    out
}

#[test]
fn a_cut_tail_is_caught_by_the_noted_head_and_by_the_state_file() {
    let env = Env::new();
    records(&env, 5);
    let head = stdout(&env.run(&["log", "head"])).trim().to_owned();
    let mut cut = lines(&env);
    cut.truncate(3);
    write_lines(&env, "copy.log", &cut);
    let out = log_verify(&env, &["--expect-head", &head, "copy.log"]);
    let r = assert_tampered(&env, &out, "truncated");
    assert_eq!(r["records"], 3);

    // The live log cut back: its state file still names seq 5.
    write_lines(&env, "security.log", &cut);
    let out = log_verify(&env, &[]);
    assert_tampered(&env, &out, "truncated");
    // And a record written after the cut continues from the state's head, so the gap stays.
    records(&env, 1);
    let next: Value = env.log()[3].clone();
    assert!(next["seq"].as_u64().unwrap() > 5, "{next}");
    let out = log_verify(&env, &["security.log"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn a_removed_rotated_file_breaks_the_chain() {
    let env = Env::new();
    records(&env, 6);
    let all = lines(&env);
    write_lines(&env, "a.log", &all[..2]);
    write_lines(&env, "b.log", &all[2..4]);
    write_lines(&env, "c.log", &all[4..]);
    let out = log_verify(&env, &["a.log", "b.log", "c.log"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(report(&out)["records"], 6);
    let out = log_verify(&env, &["a.log", "c.log"]);
    let r = assert_tampered(&env, &out, "deleted");
    assert!(r["break"]["file"].as_str().unwrap().ends_with("c.log"));
    let out = log_verify(&env, &["b.log", "c.log"]);
    assert_tampered(&env, &out, "deleted");
}

/// A log sealed every second, with the verify key in `seal.key`, holding `epochs` sealed epochs.
fn sealed(env: &Env, epochs: usize) {
    let out = env.run(&[
        "log",
        "seal",
        "init",
        "--interval",
        "1s",
        "--verify-key-out",
        "seal.key",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "", "the key went to the file");
    // Epoch 0 starts at the next whole second.
    sleep(Duration::from_millis(1000));
    for _ in 0..epochs {
        records(env, 2);
        sleep(Duration::from_millis(1100));
    }
    records(env, 1);
}

#[test]
fn a_sealed_log_verifies_with_its_key_and_names_a_forged_seal() {
    let env = Env::new();
    sealed(&env, 2);
    let key = std::fs::read_to_string(env.path("seal.key")).unwrap();
    assert!(key.starts_with("jwtctl-seal-v1:"), "{key}");
    let mode = std::fs::metadata(env.path("seal.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let state = std::fs::read_to_string(env.path("security.log.state")).unwrap();
    assert!(
        !state.contains(key.trim().rsplit(':').next().unwrap()),
        "the initial key is not kept"
    );

    let out = log_verify(&env, &["--verify-key", "seal.key"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r = report(&out);
    assert_eq!(r["seals_checked"], true);
    assert!(r["seals"].as_u64().unwrap() >= 2, "{r}");
    let text = env.run(&["log", "verify"]);
    assert!(stderr(&text).contains("NOT checked"), "{}", stderr(&text));

    // An edited record whose chain was recomputed: the seal after it no longer covers it.
    let orig = lines(&env);
    let recomputed = rechain(&orig, 2, |r| r["sub"] = "admin".into());
    write_lines(&env, "copy.log", &recomputed);
    let out = log_verify(&env, &["--verify-key", "seal.key", "copy.log"]);
    assert_tampered(&env, &out, "bad_seal");

    // A seal removed (chain recomputed): the next seal's epochs do not follow.
    let seal_at = orig
        .iter()
        .position(|l| l.contains("\"op\":\"log_seal\""))
        .unwrap();
    let mut without: Vec<String> = orig.clone();
    without.remove(seal_at);
    let without = rechain(&without, seal_at, |_| ());
    let renumbered: Vec<String> = without
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let mut r: Value = serde_json::from_str(l).unwrap();
            r["seq"] = (i as u64 + 1).into();
            r.to_string()
        })
        .collect();
    let renumbered = rechain(&renumbered, 1, |_| ());
    write_lines(&env, "noseal.log", &renumbered);
    let out = log_verify(&env, &["--verify-key", "seal.key", "noseal.log"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let kind = report(&out)["break"]["kind"].as_str().unwrap().to_owned();
    assert!(
        ["bad_seal", "epoch_gap", "not_sealed"].contains(&kind.as_str()),
        "{kind}"
    );
}

#[test]
fn a_log_set_up_for_sealing_but_never_sealed_is_not_sealed() {
    let env = Env::new();
    sealed(&env, 1);
    // Keep the init record and the records, drop every seal, recompute the chain.
    let kept: Vec<String> = lines(&env)
        .into_iter()
        .filter(|l| !l.contains("\"op\":\"log_seal\""))
        .enumerate()
        .map(|(i, l)| {
            let mut r: Value = serde_json::from_str(&l).unwrap();
            r["seq"] = (i as u64 + 1).into();
            r.to_string()
        })
        .collect();
    let kept = rechain(&kept, 1, |_| ());
    write_lines(&env, "copy.log", &kept);
    let out = log_verify(&env, &["--verify-key", "seal.key", "copy.log"]);
    assert_tampered(&env, &out, "not_sealed");
    // And a log that was never set up, checked with a key: not sealed either.
    let other = Env::new();
    records(&other, 2);
    std::fs::copy(env.path("seal.key"), other.path("seal.key")).unwrap();
    let out = log_verify(&other, &["--verify-key", "seal.key"]);
    assert_tampered(&other, &out, "not_sealed");
}

#[test]
fn sealing_is_set_up_once_and_its_key_file_must_be_new() {
    let env = Env::new();
    let out = env.run(&["log", "seal", "init", "--interval", "1h"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("jwtctl-seal-v1:"),
        "on stdout without --verify-key-out"
    );
    let init = env.log().pop().unwrap();
    assert_eq!(init["op"], "log_seal_init");
    assert_eq!(init["seal_interval"], 3600);
    // Before the first hour ends there is no seal yet, and both commands say when one comes.
    let text = env.run(&["log", "verify"]);
    assert_eq!(text.status.code(), Some(0), "{}", stderr(&text));
    assert!(
        stderr(&text).contains(
            "no seal yet (the first epoch's seal is written by the first record after it ends"
        ),
        "{}",
        stderr(&text)
    );
    let head = env.run(&["log", "head"]);
    assert!(
        stderr(&head).contains(
            "no epoch has ended yet: the first seal is written by the first record after"
        ),
        "{}",
        stderr(&head)
    );
    let again = env.run(&["log", "seal", "init"]);
    assert_refused(&env, &again, 2, "usage");
    assert!(
        stderr(&again).contains("already set up"),
        "{}",
        stderr(&again)
    );

    let other = Env::new();
    other.write("taken.key", "x");
    let out = other.run(&["log", "seal", "init", "--verify-key-out", "taken.key"]);
    assert_refused(&other, &out, 2, "usage");
    assert_eq!(
        std::fs::read_to_string(other.path("taken.key")).unwrap(),
        "x"
    );
    for bad in ["0s", "25h", "1.5s", "soon"] {
        let out = other.run(&["log", "seal", "init", "--interval", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}: {}", stderr(&out));
    }
    let state = std::fs::read_to_string(other.path("security.log.state")).unwrap_or_default();
    assert!(
        !state.contains("seal=") || state.contains("seal=none"),
        "{state}"
    );
}

#[test]
fn many_writers_at_once_keep_one_gapless_chain() {
    let env = Env::new();
    let token = env.issue(&[]);
    let batch: String = (0..100).map(|_| format!("{token}\n")).collect();
    let path = env.write("batch.txt", &batch);
    std::thread::scope(|s| {
        for _ in 0..16 {
            s.spawn(|| {
                for _ in 0..3 {
                    let out = env
                        .jwtctl()
                        .args(["--log-level", "info", "verify", "--batch"])
                        .pipe_stdin(&path)
                        .unwrap()
                        .output()
                        .unwrap();
                    assert!(out.status.success(), "{}", stderr(&out));
                    let out = env.run(&["--log-level", "info", "issue"]);
                    assert!(out.status.success(), "{}", stderr(&out));
                }
            });
        }
    });
    let out = log_verify(&env, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(report(&out)["records"], 16 * 3 * 101);
}

#[test]
fn a_state_file_that_cannot_be_used_is_a_log_failure() {
    let env = Env::new();
    records(&env, 1);
    let state = env.path("security.log.state");
    std::fs::remove_file(&state).unwrap();
    std::fs::create_dir(&state).unwrap();
    let out = env.run(&["--log-level", "info", "issue"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(stdout(&out), "");
    assert!(
        stderr(&out).contains("security.log.state"),
        "{}",
        stderr(&out)
    );
    std::fs::remove_dir(&state).unwrap();
    std::fs::write(&state, "garbage").unwrap();
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o600)).unwrap();
    let before = env.log_text();
    let out = env.run(&["--log-level", "info", "issue"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(stdout(&out), "");
    assert_eq!(env.log_text(), before, "nothing was written");
}

/// A log written by another implementation from docs/log.md alone (`fuzz/make_log_seeds.py`)
/// verifies, seals and all, with its key; the format is specified well enough to write both.
#[test]
fn a_log_written_from_the_documented_format_alone_verifies() {
    let env = Env::new();
    let seeds = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/log_verify");
    let key = "jwtctl-seal-v1:00112233445566778899aabbccddeeff:1800000000:10:\
               000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";
    env.write("seeds.key", key);
    let sealed = seeds.join("sealed.log");
    let out = log_verify(
        &env,
        &["--verify-key", "seeds.key", sealed.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r = report(&out);
    assert_eq!(r["seals"], 3, "{r}");
    assert_eq!(r["seals_checked"], true);
    let swapped = seeds.join("swapped.log");
    let out = log_verify(
        &env,
        &["--verify-key", "seeds.key", swapped.to_str().unwrap()],
    );
    assert_tampered(&env, &out, "reordered");
}

/// With no FILE, `log verify` reads the log and the files rotated from it (logrotate's
/// compressed ones too), oldest first; a rotated file that goes missing is a gap.
#[test]
fn the_rotated_files_of_the_log_are_verified_with_it() {
    let env = Env::new();
    records(&env, 6);
    let all = lines(&env);
    let gz = crate::common::pipe_through("gzip", &["-c"], (all[..2].join("\n") + "\n").as_bytes());
    std::fs::write(env.path("security.log.2.gz"), gz).unwrap();
    write_lines(&env, "security.log.1", &all[2..4]);
    write_lines(&env, "security.log", &all[4..]);
    let out = log_verify(&env, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r = report(&out);
    assert_eq!(r["records"], 6, "{r}");
    assert_eq!(r["files"].as_array().unwrap().len(), 3, "{r}");
    std::fs::remove_file(env.path("security.log.1")).unwrap();
    let out = log_verify(&env, &[]);
    let r = assert_tampered(&env, &out, "deleted");
    assert!(
        r["break"]["file"]
            .as_str()
            .unwrap()
            .ends_with("security.log"),
        "{r}"
    );
}

/// `log verify --log-file F` checks F (and its rotated files, and its state) and records the
/// check in the security log named otherwise, never in the log it checks.
#[test]
fn a_log_named_by_log_file_is_checked_and_left_as_it_was() {
    let env = Env::new();
    records(&env, 3);
    std::fs::create_dir(env.path("other")).unwrap();
    std::fs::rename(env.path("security.log"), env.path("other/app.log")).unwrap();
    std::fs::rename(
        env.path("security.log.state"),
        env.path("other/app.log.state"),
    )
    .unwrap();
    let before = std::fs::read(env.path("other/app.log")).unwrap();
    let out = env.run(&[
        "log",
        "verify",
        "--log-level",
        "info",
        "--log-file",
        "other/app.log",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("3 records"), "{}", stderr(&out));
    assert_eq!(
        std::fs::read(env.path("other/app.log")).unwrap(),
        before,
        "left as it was"
    );
    let record = env.log().pop().unwrap();
    assert_eq!(record["op"], "log_verify");
    // Its state names seq 3: a cut copy under that name is caught.
    let cut: Vec<String> = String::from_utf8(before)
        .unwrap()
        .lines()
        .take(2)
        .map(str::to_owned)
        .collect();
    write_lines(&env, "other/app.log", &cut);
    let out = env
        .jwtctl()
        .args([
            "log",
            "verify",
            "--output",
            "json",
            "--log-file",
            "other/app.log",
        ])
        .output()
        .unwrap();
    assert_tampered(&env, &out, "truncated");
    let out = env.run(&["log", "verify", "--log-file", "other/missing.log"]);
    assert_refused(&env, &out, 2, "io_error");
}

/// A seal an intruder made with the current key (read from the state file) that claims an
/// absurd number of epochs: refused as a bad seal, at once (deriving the key for 2^62 epochs
/// would never end), and a count that overflows is no panic.
#[test]
fn a_seal_claiming_epochs_that_have_not_ended_is_refused_at_once() {
    use aws_lc_rs::hmac;
    let env = Env::new();
    sealed(&env, 1);
    let state = std::fs::read_to_string(env.path("security.log.state")).unwrap();
    let seal = state.split_whitespace().nth(3).unwrap();
    let parts: Vec<&str> = seal.strip_prefix("seal=").unwrap().split(':').collect();
    let (id, epoch) = (parts[0], parts[3].parse::<u64>().unwrap());
    let key: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&parts[4][2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let orig = lines(&env);
    let head = sha256sum(orig.last().unwrap());
    for epochs in [u64::MAX, 1u64 << 62] {
        let input = format!("jwtctl-seal-v1|{id}|{epoch}|{epochs}|{}|{head}", orig.len());
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &key), input.as_bytes());
        let mac: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        let mut forged = orig.clone();
        forged.push(format!(
            "{{\"seq\":{},\"prev\":\"{head}\",\"timestamp\":\"2026-01-01T00:00:00Z\",\
             \"level\":\"INFO\",\"op\":\"log_seal\",\"outcome\":\"success\",\"seal_id\":\"{id}\",\
             \"epoch\":{epoch},\"epochs\":{epochs},\"sealed_seq\":{},\"sealed_hash\":\"{head}\",\
             \"mac\":\"{mac}\"}}",
            orig.len() + 1,
            orig.len()
        ));
        write_lines(&env, "copy.log", &forged);
        let out = log_verify(&env, &["copy.log"]);
        assert_tampered(&env, &out, "bad_seal");
        let out = env
            .jwtctl()
            .args([
                "log",
                "verify",
                "--output",
                "json",
                "--verify-key",
                "seal.key",
            ])
            .arg("copy.log")
            .timeout(Duration::from_secs(30))
            .output()
            .unwrap();
        let r = assert_tampered(&env, &out, "bad_seal");
        assert!(
            r["break"]["detail"].as_str().unwrap().contains("future"),
            "{r}"
        );
    }
}

/// The state file holds the seal key: one that other users can read or write is refused (a
/// log failure: exit 3, nothing printed, nothing written), whether sealing is set up or not.
#[test]
fn a_state_file_other_users_can_read_or_write_is_refused() {
    let env = Env::new();
    sealed(&env, 0);
    let state = env.path("security.log.state");
    for mode in [0o644, 0o620, 0o606] {
        std::fs::set_permissions(&state, std::fs::Permissions::from_mode(mode)).unwrap();
        let before = env.log_text();
        let out = env.run(&["--log-level", "info", "issue"]);
        assert_eq!(out.status.code(), Some(3), "{mode:o}: {}", stderr(&out));
        assert_eq!(stdout(&out), "");
        let said = stderr(&out);
        assert_eq!(said.lines().count(), 1, "{said}");
        assert!(said.contains("chmod 600"), "{said}");
        assert!(said.contains("security.log.state"), "{said}");
        assert_eq!(env.log_text(), before, "nothing was written");
    }
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o600)).unwrap();
    records(&env, 1);
    let out = log_verify(&env, &["--verify-key", "seal.key"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// An intruder cuts every seal from the live log (keeping the `log_seal_init` record, so the
/// log looks set up and not yet sealed) and makes the state's head follow: the state's sealing
/// is further on than the log's seals, and it cannot be rolled back without the old keys.
#[test]
fn a_log_cut_back_to_before_its_seals_is_caught_by_the_state_sealing() {
    let env = Env::new();
    sealed(&env, 2);
    let state_path = env.path("security.log.state");
    let state = std::fs::read_to_string(&state_path).unwrap();
    let orig = lines(&env);
    let init = orig[0].clone();
    assert!(init.contains("\"op\":\"log_seal_init\""), "{init}");
    // The head moved back to the init record, as an intruder would write it.
    let words: Vec<&str> = state.split_whitespace().collect();
    let with_head = |seal: &str| {
        let mut text = format!(
            "{} seq={:020} hash={} {seal}",
            words[0],
            1,
            sha256sum(&init)
        );
        text.push_str(&" ".repeat(255 - text.len()));
        text + "\n"
    };
    write_lines(&env, "security.log", std::slice::from_ref(&init));
    std::fs::write(&state_path, with_head(words[3])).unwrap();
    let out = log_verify(&env, &["--verify-key", "seal.key"]);
    let r = assert_tampered(&env, &out, "truncated");
    assert!(
        r["break"]["detail"].as_str().unwrap().contains("epoch"),
        "{r}"
    );
    // Without the key too: the state says epochs were sealed that the log has no seal of.
    write_lines(&env, "security.log", std::slice::from_ref(&init));
    std::fs::write(&state_path, with_head(words[3])).unwrap();
    assert_tampered(&env, &log_verify(&env, &[]), "truncated");

    // The state rolled back to epoch 0 needs epoch 0's key, which is gone: any other is forged.
    let seal = words[3].strip_prefix("seal=").unwrap();
    let parts: Vec<&str> = seal.split(':').collect();
    let rolled = format!(
        "seal={}:{}:{}:{:020}:{}",
        parts[0], parts[1], parts[2], 0, parts[4]
    );
    write_lines(&env, "security.log", std::slice::from_ref(&init));
    std::fs::write(&state_path, with_head(&rolled)).unwrap();
    assert_tampered(
        &env,
        &log_verify(&env, &["--verify-key", "seal.key"]),
        "bad_seal",
    );

    // A state file removed: sealing stopped, and the log says it was sealed.
    write_lines(&env, "security.log", &orig);
    std::fs::remove_file(&state_path).unwrap();
    let out = log_verify(&env, &["--verify-key", "seal.key"]);
    let r = assert_tampered(&env, &out, "bad_seal");
    assert!(
        r["break"]["detail"]
            .as_str()
            .unwrap()
            .contains("no sealing"),
        "{r}"
    );
}

/// A record a crash cut short (no newline at the end): `log verify` says so until the next
/// writer names it (`log_torn_line`, with its hash); then the log verifies, and the fragment
/// changed afterwards does not.
#[test]
fn a_record_torn_by_a_crash_is_named_by_the_next_writer_and_verifies() {
    use std::io::Write as _;
    let env = Env::new();
    records(&env, 2);
    let fragment = r#"{"seq":3,"prev":"00","timestamp":"2026-12-07T17:0"#;
    let mut log = std::fs::OpenOptions::new()
        .append(true)
        .open(env.path("security.log"))
        .unwrap();
    log.write_all(fragment.as_bytes()).unwrap();
    let out = log_verify(&env, &["security.log"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(report(&out)["break"]["kind"], "unparsable");
    // The failure record just written (log verify's) followed the fragment, naming it.
    let text = env.log_text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[2], fragment,
        "the fragment stays, on a line of its own"
    );
    let notice: Value = serde_json::from_str(lines[3]).unwrap();
    assert_eq!(notice["op"], "log_torn_line");
    assert_eq!(notice["torn_sha256"], sha256sum(fragment));
    assert_eq!(notice["seq"], 3, "the chain skips the fragment: {notice}");
    let out = log_verify(&env, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(report(&out)["torn"], 1);
    // Changing the fragment afterwards is caught.
    let changed = text.replace(fragment, &fragment.replace("17:0", "18:0"));
    env.write("copy.log", &changed);
    let out = log_verify(&env, &["copy.log"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(report(&out)["break"]["kind"], "unparsable");
}

/// An intruder with the state file's current key rewrites a record that a seal made before
/// they came covers: they cut the live log back to an earlier seal, edit what follows, and roll
/// the state's epoch back below the log's last seal (at that seal's own epoch the state would
/// need that epoch's key, which is gone). Every epoch a writer leaves in the state is one where a
/// seal of the log ends, with that epoch's key: a state anywhere else was rolled back or forged.
#[test]
fn a_state_rolled_back_below_the_logs_last_seal_is_caught() {
    let env = Env::new();
    sealed(&env, 3);
    let state_path = env.path("security.log.state");
    let state = std::fs::read_to_string(&state_path).unwrap();
    let words: Vec<&str> = state.split_whitespace().collect();
    let parts: Vec<&str> = words[3].strip_prefix("seal=").unwrap().split(':').collect();
    let orig = lines(&env);
    let seals: Vec<usize> = (0..orig.len())
        .filter(|&i| orig[i].contains("\"op\":\"log_seal\""))
        .collect();
    assert!(seals.len() >= 3, "{orig:?}");
    // The log up to its second seal, then the record the third seal covered, edited.
    let at = seals[1] + 1;
    let cut = rechain(&orig[..=at], at, |r| r["sub"] = "admin".into());
    let last: Value = serde_json::from_str(&cut[at]).unwrap();
    let second: Value = serde_json::from_str(&orig[seals[1]]).unwrap();
    for epoch in [0, second["epoch"].as_u64().unwrap()] {
        write_lines(&env, "security.log", &cut);
        let mut text = format!(
            "{} seq={:020} hash={} seal={}:{}:{}:{epoch:020}:{}",
            words[0],
            last["seq"].as_u64().unwrap(),
            sha256sum(&cut[at]),
            parts[0],
            parts[1],
            parts[2],
            parts[4]
        );
        text.push_str(&" ".repeat(255 - text.len()));
        std::fs::write(&state_path, text + "\n").unwrap();
        let out = log_verify(&env, &["--verify-key", "seal.key"]);
        let r = assert_tampered(&env, &out, "bad_seal");
        assert!(
            r["break"]["detail"].as_str().unwrap().contains("forged"),
            "epoch {epoch}: {r}"
        );
    }
}

/// The first break is named at its own place: an edited last record of a rotated file in that
/// file (not on the next file's first line), a deletion at the deletion even when a line
/// without seq follows it, and the first of two lines in a row that are no records.
#[test]
fn each_break_is_named_where_it_first_shows() {
    let env = Env::new();
    records(&env, 6);
    let all = lines(&env);
    let mut a = all[..3].to_vec();
    a[2] = a[2].replace("\"sub\":\"u2\"", "\"sub\":\"admin\"");
    write_lines(&env, "a.log", &a);
    write_lines(&env, "b.log", &all[3..]);
    let r = assert_tampered(&env, &log_verify(&env, &["a.log", "b.log"]), "edited");
    assert!(
        r["break"]["file"].as_str().unwrap().ends_with("a.log"),
        "{r}"
    );
    assert_eq!(
        (r["break"]["line"].as_u64(), r["break"]["seq"].as_u64()),
        (Some(3), Some(3))
    );

    let mut d = all.clone();
    d.remove(2);
    d.insert(3, r#"{"op":"issue","outcome":"success"}"#.to_owned());
    write_lines(&env, "d.log", &d);
    let r = assert_tampered(&env, &log_verify(&env, &["d.log"]), "deleted");
    assert_eq!(
        (r["break"]["line"].as_u64(), r["break"]["seq"].as_u64()),
        (Some(3), Some(4))
    );
    assert!(
        r["break"]["detail"]
            .as_str()
            .unwrap()
            .contains("record 3 is missing"),
        "{r}"
    );

    env.write(
        "t.log",
        &(all[..3].join("\n") + "\nnot a record\nno newline either"),
    );
    let r = assert_tampered(&env, &log_verify(&env, &["t.log"]), "unparsable");
    assert_eq!(r["break"]["line"], 4, "{r}");
}

/// A record whose JSON says another seq or prev than its chain prefix (a member given twice, or
/// its name written with an escape) is no record jwtctl wrote: jq and log search would read
/// other values than the chain did. A line longer than any record is named as such.
#[test]
fn a_record_naming_seq_or_prev_twice_is_not_a_record() {
    let env = Env::new();
    records(&env, 3);
    let all = lines(&env);
    let with = |extra: &str| {
        let mut copy = all.clone();
        copy[1] = format!("{}{extra}}}", copy[1].strip_suffix('}').unwrap());
        copy
    };
    for extra in [r#","seq":7"#, r#","\u0073eq":7"#, r#","prev":"00""#] {
        write_lines(&env, "copy.log", &with(extra));
        let r = assert_tampered(&env, &log_verify(&env, &["copy.log"]), "unparsable");
        assert_eq!(r["break"]["line"], 2, "{extra}: {r}");
    }
    write_lines(&env, "copy.log", &with(r#","seq":2"#));
    let out = log_verify(&env, &["copy.log"]);
    assert_tampered(&env, &out, "edited");

    let pad = format!(",\"pad\":\"{}\"", "x".repeat(1 << 20));
    write_lines(&env, "copy.log", &with(&pad));
    let r = assert_tampered(&env, &log_verify(&env, &["copy.log"]), "unparsable");
    assert_eq!(r["break"]["line"], 2, "{r}");
    assert!(
        r["break"]["detail"]
            .as_str()
            .unwrap()
            .contains("longer than 1 MiB"),
        "{r}"
    );
}

/// A state file whose head is at the largest seq a line can hold is damaged (the next seq
/// would not fit): a log failure, never a panic or a record numbered 0.
#[test]
fn a_state_at_the_last_seq_is_damaged() {
    let env = Env::new();
    records(&env, 1);
    let before = env.log_text();
    let mut text = format!(
        "jwtctl-log-state-v1 seq={} hash={} seal=none",
        u64::MAX,
        "0".repeat(64)
    );
    text.push_str(&" ".repeat(255 - text.len()));
    std::fs::write(env.path("security.log.state"), text + "\n").unwrap();
    let out = env.run(&["--log-level", "info", "issue", "--sub", "x"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(stdout(&out), "");
    assert!(stderr(&out).contains("is damaged"), "{}", stderr(&out));
    assert_eq!(env.log_text(), before);
}

/// A rotated gzip file that is corrupt or cut short is named, as `log search` names it: exit 2,
/// one line, nothing on stdout.
#[test]
fn a_corrupt_gzip_file_of_the_log_is_named() {
    let env = Env::new();
    records(&env, 4);
    let all = lines(&env);
    let gz = crate::common::pipe_through("gzip", &["-c"], (all[..2].join("\n") + "\n").as_bytes());
    write_lines(&env, "copy.log", &all[2..]);
    for bad in [
        [&gz[..], b"trailing junk"].concat(),
        gz[..gz.len() / 2].to_vec(),
    ] {
        std::fs::write(env.path("copy.log.1.gz"), bad).unwrap();
        let out = log_verify(&env, &["copy.log.1.gz", "copy.log"]);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert_eq!(stdout(&out), "");
        assert_eq!(
            stderr(&out),
            "jwtctl: cannot read the log copy.log.1.gz: it is not valid gzip (corrupt or cut \
             short); name readable log files, oldest first\n"
        );
    }
}

/// The head `log head` prints for a log with no record yet (`0:` and the genesis hash) is taken
/// back by `--expect-head`; seq 0 with any other hash is a usage error.
#[test]
fn the_head_of_an_empty_log_is_a_head_verify_takes() {
    let env = Env::new();
    let head = stdout(&env.run(&["log", "head"])).trim().to_owned();
    assert!(head.starts_with("0:"), "{head}");
    let out = log_verify(&env, &["--expect-head", &head]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(report(&out)["intact"], true);
    let other = format!("0:{}", "0".repeat(64));
    let out = log_verify(&env, &["--expect-head", &other]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(stdout(&out), "");
    assert!(stderr(&out).contains("the log's start"), "{}", stderr(&out));
}

/// A record torn by a crash, then rotated away before the next write (logrotate renamed the log;
/// jwtctl's own rotation at the hour is the same): the first writer of the new file names it, so
/// the log verifies again, as after a crash without rotation.
#[test]
fn a_torn_record_rotated_away_is_named_by_the_first_writer_of_the_next_file() {
    use std::io::Write as _;
    let env = Env::new();
    records(&env, 2);
    let fragment = r#"{"seq":3,"prev":"00","timestamp":"2026-12-07T17:0"#;
    let mut log = std::fs::OpenOptions::new()
        .append(true)
        .open(env.path("security.log"))
        .unwrap();
    log.write_all(fragment.as_bytes()).unwrap();
    std::fs::rename(env.path("security.log"), env.path("security.log.1")).unwrap();
    records(&env, 1);
    let first: Value = env.log()[0].clone();
    assert_eq!(first["op"], "log_torn_line", "{first}");
    assert_eq!(first["torn_sha256"], sha256sum(fragment));
    let out = log_verify(&env, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(report(&out)["torn"], 1);
}

/// A log given as a pipe (`log verify <(zcat security.log.1.gz)`, `/dev/stdin`) is read to its
/// end: it has no length to stop at, and is never taken for an empty, intact log.
#[test]
fn a_log_read_from_a_pipe_is_read_to_its_end() {
    let env = Env::new();
    records(&env, 3);
    let text = env.log_text();
    let verify_stdin = |input: String| {
        env.jwtctl()
            .args([
                "--log-file",
                "other.log",
                "log",
                "verify",
                "--output",
                "json",
            ])
            .arg("/dev/stdin")
            .write_stdin(input)
            .output()
            .unwrap()
    };
    let out = verify_stdin(text.clone());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(report(&out)["records"], 3);
    let out = verify_stdin(text.replacen("\"sub\":\"u1\"", "\"sub\":\"admin\"", 1));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(report(&out)["break"]["kind"], "edited");
}

/// Another user who can write the log (a mode jwtctl only warns about) appends a record chained
/// to the last one: the next writer continues from the state, not from that record, so the chain
/// breaks there instead of adopting it (and the next seal covering it).
#[test]
fn a_record_appended_to_a_log_others_can_write_is_not_adopted() {
    use std::io::Write as _;
    let env = Env::new();
    records(&env, 2);
    let path = env.path("security.log");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
    let last = lines(&env).pop().unwrap();
    let forged = format!(
        "{{\"seq\":3,\"prev\":\"{}\",\"op\":\"issue\",\"outcome\":\"success\",\"sub\":\"x\"}}\n",
        sha256sum(&last)
    );
    let mut log = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    log.write_all(forged.as_bytes()).unwrap();
    records(&env, 1);
    let out = log_verify(&env, &[]);
    let r = assert_tampered(&env, &out, "inserted");
    assert_eq!(r["break"]["seq"], 3, "{r}");
}
