//! The security log fails closed: full disks, hostile paths, permissions, concurrency.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use std::collections::HashSet;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::common::{Env, SECRET, needs, now, stderr, stdout};
use serde_json::Value;

fn jwtctl_bin() -> std::path::PathBuf {
    assert_cmd::cargo::cargo_bin("jwtctl")
}

/// A failed operation's contract when the log cannot be written.
fn assert_log_failure(out: &Output, words: &str) {
    assert_eq!(out.status.code(), Some(3), "stderr: {}", stderr(out));
    assert_eq!(stdout(out), "", "nothing on stdout");
    assert_eq!(stderr(out).lines().count(), 1, "{}", stderr(out));
    assert!(stderr(out).contains(words), "{}", stderr(out));
}

#[test]
fn the_log_is_created_0600_whatever_the_umask() {
    let env = Env::new();
    for rotate in ["never", "daily"] {
        let status = Command::new("sh")
            .current_dir(env.dir.path())
            .env("JWTCTL_KEY_FILE", "test.key")
            .arg("-c")
            .arg(format!(
                "umask 000 && exec '{}' --log-rotate {rotate} --log-level info issue",
                jwtctl_bin().display()
            ))
            .status()
            .unwrap();
        assert!(status.success());
    }
    for entry in std::fs::read_dir(env.dir.path()).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        if name.starts_with("security.log") {
            let mode = entry.metadata().unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{name}");
        }
    }
}

#[test]
fn an_unusable_log_path_fails_every_operation_with_exit_3() {
    let env = Env::new();
    let token = env.issue(&[]);
    std::os::unix::fs::symlink(env.path("target.txt"), env.path("link.log")).unwrap();
    env.write("target.txt", "untouched\n");
    std::fs::create_dir(env.path("adir")).unwrap();
    for (path, words) in [
        ("/dev/full", "device"),
        ("link.log", "symbolic link"),
        ("missing/dir/security.log", "does not exist"),
        ("adir", "directory"),
        ("/proc/no-such-log", "no such file"),
    ] {
        for args in [
            vec!["issue"],
            vec!["verify", token.as_str()],
            vec!["verify", "garbage"],
        ] {
            let out = env
                .jwtctl()
                .args(["--log-file", path])
                .args(&args)
                .output()
                .unwrap();
            assert_log_failure(&out, words);
            // Every refusal says how to choose another path.
            assert!(
                stderr(&out).contains("--log-file / JWTCTL_LOG_FILE"),
                "{}",
                stderr(&out)
            );
        }
    }
    assert_eq!(
        std::fs::read_to_string(env.path("target.txt")).unwrap(),
        "untouched\n"
    );
    assert!(!env.path("missing").exists(), "no directory is created");
}

#[test]
fn a_symlink_in_a_rotated_name_is_refused_too() {
    let env = Env::new();
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    env.write("elsewhere", "");
    std::os::unix::fs::symlink(
        env.path("elsewhere"),
        env.path(&format!("security.log.{today}")),
    )
    .unwrap();
    let out = env.run(&["--log-rotate", "daily", "issue"]);
    if chrono::Utc::now().format("%Y-%m-%d").to_string() == today {
        assert_log_failure(&out, "symbolic link");
    }
    assert_eq!(std::fs::read_to_string(env.path("elsewhere")).unwrap(), "");
}

#[test]
fn an_unwritable_directory_is_exit_3_never_a_panic() {
    // Runs the binary as `nobody` when we are root (root could write anywhere).
    let dir = tempfile::Builder::new()
        .prefix("jwtctl-ro")
        .tempdir_in("/tmp")
        .unwrap();
    // A copy of the binary that `nobody` can run wherever the checkout lives.
    let bin = dir.path().join("jwtctl");
    std::fs::copy(jwtctl_bin(), &bin).unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o555)).unwrap();
    let log = dir.path().join("security.log");
    let run = || {
        let mut cmd = if needs::is_root() {
            let mut c = Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                .arg(&bin);
            c
        } else {
            Command::new(jwtctl_bin())
        };
        cmd.current_dir("/")
            .env("JWTCTL_SECRET", SECRET)
            .env_remove("JWTCTL_KEY_FILE")
            .arg("--log-file")
            .arg(&log)
            .arg("issue")
            .output()
            .unwrap()
    };
    // The fresh copy can be briefly "text file busy": another test thread may fork while the
    // copy's write descriptor is open (it is closed at that child's exec).
    let mut out = run();
    for _ in 0..50 {
        if !stderr(&out).contains("Text file busy") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        out = run();
    }
    assert_log_failure(&out, "permission denied");
    assert!(!log.exists());
}

/// A 16 KiB tmpfs at `small/` in the env's dir, unmounted when the test ends, however it ends.
struct Mount(std::path::PathBuf);

impl Mount {
    /// Mount it (as root: see `needs::root`).
    fn small_disk(env: &Env) -> Mount {
        let mnt = env.path("small");
        std::fs::create_dir(&mnt).unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=16k,mode=0700", "tmpfs"])
            .arg(&mnt)
            .status()
            .unwrap();
        assert!(mounted.success(), "mount failed");
        Mount(mnt)
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
#[ignore = "needs root (mounts a tmpfs or chowns to nobody); to run it: as root, cargo test -- --include-ignored"]
fn a_full_disk_fails_closed_and_leaves_no_torn_record() {
    if !needs::root() {
        return;
    }
    let env = Env::new();
    let disk = Mount::small_disk(&env);
    let mnt = disk.0.clone();
    let log = mnt.join("security.log");
    let log_arg = log.to_str().unwrap();
    let (mut ok, mut refused) = (Vec::new(), 0);
    for i in 0..80 {
        let sub = format!("user-{i}-{}", "x".repeat(100));
        let out = env.run(&[
            "--log-file",
            log_arg,
            "--log-level",
            "info",
            "issue",
            "--sub",
            &sub,
        ]);
        match out.status.code() {
            Some(0) => ok.push(crate::common::parts(stdout(&out).trim()).1["jti"].clone()),
            Some(3) => {
                assert_log_failure(&out, "security log");
                refused += 1;
            }
            other => panic!("unexpected exit {other:?}: {}", stderr(&out)),
        }
    }
    assert!(refused > 0, "the disk never filled");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "no torn record at the end"
    );
    let records: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let logged: Vec<Value> = records.iter().map(|r| r["jti"].clone()).collect();
    assert_eq!(logged, ok, "exactly the printed tokens were recorded");
}

#[test]
fn fifty_concurrent_processes_leave_fifty_whole_records() {
    let env = Env::new();
    let children: Vec<_> = (0..50)
        .map(|_| {
            Command::new(jwtctl_bin())
                .current_dir(env.dir.path())
                .env("JWTCTL_KEY_FILE", "test.key")
                .args(["--log-level", "info", "issue", "--sub", "concurrent"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        assert!(child.wait_with_output().unwrap().status.success());
    }
    let log = env.log();
    assert_eq!(log.len(), 50);
    let jtis: HashSet<_> = log
        .iter()
        .map(|r| r["jti"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(jtis.len(), 50, "distinct jti");
}

#[test]
fn two_hundred_failing_runs_leave_two_hundred_records() {
    let env = Env::new();
    for batch in 0..10 {
        let children: Vec<_> = (0..20)
            .map(|i| {
                Command::new(jwtctl_bin())
                    .current_dir(env.dir.path())
                    .env("JWTCTL_KEY_FILE", "test.key")
                    .args(["verify", &format!("bad-{batch}-{i}")])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for mut child in children {
            assert_eq!(child.wait().unwrap().code(), Some(1));
        }
    }
    let log = env.log();
    assert_eq!(log.len(), 200);
    assert!(
        log.iter()
            .all(|r| r["reason"] == "malformed" && r["level"] == "ERROR")
    );
}

/// A process opening the log while another is mid-`write` must not take the other's record,
/// whose first page the kernel makes visible before its newline, for a torn line: that put
/// blank lines in the log. Two batches append continuously while one-shot runs open the log.
#[test]
fn runs_opening_the_log_while_batches_write_add_no_blank_lines() {
    let env = Env::new();
    let input: String = (0..3000).map(|i| format!("bad-{i}\n")).collect();
    let batches: Vec<_> = (0..2)
        .map(|_| {
            let mut child = Command::new(jwtctl_bin())
                .current_dir(env.dir.path())
                .env("JWTCTL_KEY_FILE", "test.key")
                .args(["verify", "--batch"])
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let mut stdin = child.stdin.take().unwrap();
            let input = input.clone();
            std::thread::spawn(move || stdin.write_all(input.as_bytes()));
            child
        })
        .collect();
    let mut single = 0;
    while single < 400 {
        let runs: Vec<_> = (0..10)
            .map(|i| {
                Command::new(jwtctl_bin())
                    .current_dir(env.dir.path())
                    .env("JWTCTL_KEY_FILE", "test.key")
                    .args(["verify", &format!("single-{i}")])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for mut run in runs {
            assert_eq!(run.wait().unwrap().code(), Some(1));
        }
        single += 10;
    }
    for mut batch in batches {
        assert_eq!(batch.wait().unwrap().code(), Some(1));
    }
    let text = env.log_text();
    let blank = text.lines().filter(|l| l.is_empty()).count();
    assert_eq!(blank, 0, "blank lines in the log");
    assert_eq!(env.log().len(), 2 * 3000 + 400);
}

#[test]
fn control_characters_in_every_recorded_input_stay_on_one_line() {
    let env = Env::new();
    let evil = "a\nb\rc\u{1b}[31md\"e\\f\u{7f}";
    // Through a flag (peer) on issue. Typed ids with control characters are refused
    // (operator_values), and so is an iss/sub/aud from a claims file (issue.rs): a token
    // carries them in here.
    let out = env.run(&["--log-level", "info", "--peer", evil, "issue"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let token = stdout(&out).trim().to_string();
    // Through a token: sub, jti (claims) and kid (header), verified and refreshed.
    let header = jsonwebtoken::Header {
        kid: Some(evil.into()),
        ..Default::default()
    };
    let hostile = jsonwebtoken::encode(
        &header,
        &serde_json::json!({"sub": evil, "jti": evil, "exp": now() + 60}),
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    for args in [
        vec!["verify", &token],
        vec!["verify", &hostile],
        vec!["refresh", "--no-ledger", &hostile],
    ] {
        let out = env
            .jwtctl()
            .args(["--log-level", "info"])
            .env("JWTCTL_PEER", evil)
            .args(&args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let text = env.log_text();
    assert_eq!(text.lines().count(), 5, "one line per record");
    let log = env.log();
    assert_eq!(log[3]["event"], "no_ledger_allowed");
    assert_eq!(log[3]["peer"], evil);
    for record in log.iter().filter(|r| r["event"].is_null()) {
        assert_eq!(record["peer"], evil);
    }
    for record in [&log[2], &log[4]] {
        assert_eq!(record["sub"], evil);
        assert_eq!(record["kid"], evil);
    }
    assert_eq!(env.log()[2]["jti"], evil);
    assert_eq!(env.log()[4]["parent_jti"], evil);
    assert!(
        !text.contains('\u{1b}') && !text.contains('\r'),
        "escaped, not raw"
    );
}

#[test]
#[ignore = "needs strace; to run it: apt-get install strace, cargo test -- --include-ignored"]
fn log_sync_fsyncs_after_each_record() {
    if !needs::strace() {
        return;
    }
    let env = Env::new();
    let trace = |extra: &[&str], envs: &[(&str, &str)]| {
        let out = Command::new("strace")
            .args(["-f", "-e", "trace=fdatasync,fsync", "-o"])
            .arg(env.path("trace.txt"))
            .arg(jwtctl_bin())
            .current_dir(env.dir.path())
            .env("JWTCTL_KEY_FILE", "test.key")
            .envs(envs.iter().copied())
            .args(extra)
            .args(["--log-level", "info", "issue"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        std::fs::read_to_string(env.path("trace.txt"))
            .unwrap()
            .matches("fdatasync(")
            .count()
    };
    assert_eq!(trace(&[], &[]), 0);
    assert_eq!(trace(&["--log-sync"], &[]), 1);
    assert_eq!(trace(&[], &[("JWTCTL_LOG_SYNC", "true")]), 1);
    assert_eq!(env.log().len(), 3);
}

#[test]
fn rotation_writes_to_dated_files() {
    let env = Env::new();
    for (rotate, format) in [("daily", "%Y-%m-%d"), ("hourly", "%Y-%m-%d-%H")] {
        let before = chrono::Utc::now().format(format).to_string();
        env.jwtctl()
            .args(["--log-rotate", rotate, "--log-level", "info", "issue"])
            .assert()
            .success();
        let after = chrono::Utc::now().format(format).to_string();
        let found = [before, after].iter().any(|stamp| {
            std::fs::read_to_string(env.path(&format!("security.log.{stamp}")))
                .is_ok_and(|t| t.lines().count() >= 1)
        });
        assert!(found, "{rotate}");
    }
    assert!(!env.path("security.log").exists());
}

/// A racer that, for `secs` seconds, keeps replacing `security.log` in `dir` with a symbolic link
/// to `victim`, a hard link to the real log `real.log`, and a fresh regular file, each by an
/// atomic rename: the swap the security issue measured, plus a plain replacement.
fn spawn_racer(dir: &Path, secs: f64) -> std::process::Child {
    let script = format!(
        r#"
import os, time
os.chdir({dir:?})
end = time.time() + {secs}
i = 0
while time.time() < end:
    i += 1
    kind = i % 3
    tmp = "race.tmp"
    try:
        os.unlink(tmp)
    except FileNotFoundError:
        pass
    if kind == 0:
        os.symlink("victim", tmp)
    elif kind == 1:
        os.link("real.log", tmp)
    else:
        fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600)
        os.close(fd)
    os.rename(tmp, "security.log")
"#,
        dir = dir.to_str().unwrap()
    );
    Command::new("python3")
        .arg("-c")
        .arg(script)
        .spawn()
        .expect("python3 runs the racing process")
}

#[test]
fn a_racing_link_swap_never_redirects_a_record() {
    let env = Env::new();
    let victim = env.path("victim");
    std::fs::write(&victim, "VICTIM\n").unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(env.path("real.log"), "").unwrap();
    std::fs::set_permissions(env.path("real.log"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut racer = spawn_racer(env.dir.path(), 3.0);
    let started = std::time::Instant::now();
    let (mut written, mut refused) = (0, 0);
    while started.elapsed() < std::time::Duration::from_millis(2500) {
        let out = env.verify(&[], "not-a-token");
        match out.status.code() {
            Some(1) => written += 1,
            Some(3) => refused += 1,
            other => panic!("exit {other:?}: {}", stderr(&out)),
        }
    }
    racer.wait().unwrap();
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap(),
        "VICTIM\n",
        "a record was redirected through a link ({written} written, {refused} refused)"
    );
    assert!(
        written > 0 && refused > 0,
        "{written} written, {refused} refused"
    );
}

#[test]
fn a_hard_linked_log_is_refused() {
    let env = Env::new();
    std::fs::write(env.path("elsewhere"), "").unwrap();
    std::fs::hard_link(env.path("elsewhere"), env.path("security.log")).unwrap();
    assert_log_failure(&env.verify(&[], "x.y.z"), "hard links");
    assert_eq!(std::fs::read_to_string(env.path("elsewhere")).unwrap(), "");
}

#[test]
fn a_directory_others_can_write_needs_the_sticky_bit() {
    let env = Env::new();
    let dir = env.path("logs");
    std::fs::create_dir(&dir).unwrap();
    let log = dir.join("security.log");
    let run = || {
        env.jwtctl()
            .arg("--log-file")
            .arg(&log)
            .args(["verify", "x.y.z"])
            .output()
            .unwrap()
    };
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    assert_log_failure(&run(), "sticky");
    assert!(!log.exists(), "nothing was created in the unsafe directory");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o1777)).unwrap();
    assert_eq!(
        run().status.code(),
        Some(1),
        "a sticky directory like /tmp is fine"
    );
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(run().status.code(), Some(1));
}

#[test]
fn a_log_others_can_read_is_warned_about_and_recorded() {
    let env = Env::new();
    std::fs::write(env.path("security.log"), "").unwrap();
    std::fs::set_permissions(
        env.path("security.log"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let out = env.run(&["--log-level", "warn", "issue"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("warning: security log") && err.contains("chmod 600"),
        "{err}"
    );
    let records = env.log();
    assert!(
        records
            .iter()
            .any(|r| r["event"] == "log_file_exposed" && r["level"] == "WARN"),
        "{records:?}"
    );
}

#[test]
fn a_log_ending_in_a_partial_line_gets_the_next_record_on_a_line_of_its_own() {
    let env = Env::new();
    std::fs::write(env.path("security.log"), "{\"torn\":").unwrap();
    std::fs::set_permissions(
        env.path("security.log"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    assert_eq!(env.verify(&[], "x.y.z").status.code(), Some(1));
    let text = env.log_text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "{\"torn\":");
    // The chain names the torn line (its hash) before the record, so log verify can tell it
    // from an edit (tests/log_chain.rs).
    let notice: Value = serde_json::from_str(lines[1]).unwrap();
    assert_eq!(notice["op"], "log_torn_line");
    let record: Value = serde_json::from_str(lines[2]).unwrap();
    assert_eq!(record["reason"], "malformed");
}

#[test]
#[ignore = "needs root (mounts a tmpfs or chowns to nobody); to run it: as root, cargo test -- --include-ignored"]
fn a_log_owned_by_another_user_is_refused() {
    if !needs::root() {
        return;
    }
    let env = Env::new();
    std::fs::write(env.path("security.log"), "").unwrap();
    let status = Command::new("chown")
        .args(["nobody"])
        .arg(env.path("security.log"))
        .status()
        .unwrap();
    assert!(status.success());
    assert_log_failure(&env.verify(&[], "x.y.z"), "another user");
}

/// Fill the tmpfs at `mnt` with a filler file until nothing more fits.
fn fill(mnt: &Path) -> std::path::PathBuf {
    use std::io::Write;
    let filler = mnt.join("filler");
    let mut file = std::fs::File::create(&filler).unwrap();
    while file.write_all(&[b'x'; 512]).is_ok() {}
    filler
}

#[test]
#[ignore = "needs root (mounts a tmpfs or chowns to nobody); to run it: as root, cargo test -- --include-ignored"]
fn a_record_that_cannot_be_written_consumes_and_revokes_nothing() {
    if !needs::root() {
        return;
    }
    let env = Env::new();
    let disk = Mount::small_disk(&env);
    let mnt = disk.0.clone();
    let log = mnt.join("security.log");
    let run = |args: &[&str]| {
        env.jwtctl()
            .env("JWTCTL_LEDGER", "ledger.db")
            .arg("--log-file")
            .arg(&log)
            .args(["--log-level", "info"])
            .args(args)
            .output()
            .unwrap()
    };
    let token = env.issue(&["--sub", "alice"]);
    let other = env.issue(&["--sub", "bob"]);
    crate::common::stores::init(&env, "ledger.db");
    let filler = fill(&mnt);
    assert_log_failure(&run(&["refresh", &token]), "no space left on device");
    assert_log_failure(&run(&["revoke", &other]), "no space left on device");
    std::fs::remove_file(&filler).unwrap();
    // Nothing was consumed or revoked: the same refresh now succeeds, exactly once.
    let retry = run(&["refresh", &token]);
    assert!(retry.status.success(), "{}", stderr(&retry));
    assert_eq!(run(&["refresh", &token]).status.code(), Some(1), "reused");
    assert!(
        run(&["verify", &other]).status.success(),
        "bob was not revoked"
    );
    let records: Vec<Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let refreshes: Vec<&Value> = records
        .iter()
        .filter(|r| r["op"] == "refresh" && r["outcome"] == "success")
        .collect();
    assert_eq!(refreshes.len(), 1, "{records:?}");
}

#[test]
fn a_log_path_that_is_not_utf8_works_like_any_other() {
    use std::os::unix::ffi::OsStrExt;
    let env = Env::new();
    let name = std::ffi::OsStr::from_bytes(b"sec\xffurity.log");
    for rotate in ["never", "daily"] {
        let out = env
            .jwtctl()
            .arg("--log-file")
            .arg(name)
            .args(["--log-rotate", rotate, "verify", "x.y.z"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{rotate}: {}", stderr(&out));
    }
    let logs = std::fs::read_dir(env.dir.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .as_bytes()
                .starts_with(b"sec\xff")
                && !e
                    .as_ref()
                    .unwrap()
                    .file_name()
                    .as_bytes()
                    .ends_with(b".state")
        })
        .count();
    assert_eq!(
        logs, 2,
        "the log and its rotated file (the chain's state file aside)"
    );
}
