//! The ledger against mistakes and other users: a ledger named must exist, refresh needs one,
//! its files are checked, `revoke --jti` reaches every issuer, long ids fit.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use std::os::unix::fs::PermissionsExt;

use crate::common::stores::{Store, postgres};
use crate::common::{Env, assert_refused, mint, now, stderr, stdout};
use serde_json::json;

fn run(env: &Env, ledger: &str, args: &[&str]) -> std::process::Output {
    env.jwtctl()
        .env("JWTCTL_LEDGER", ledger)
        .args(args)
        .output()
        .unwrap()
}

/// Every command that reads or writes a ledger, with `token`.
fn ledger_commands(token: &str) -> Vec<Vec<&str>> {
    vec![
        vec!["verify", token],
        vec!["verify", "--batch"],
        vec!["refresh", token],
        vec!["revoke", token],
        vec!["revoke", "--jti", "abc"],
        vec!["ledger", "list"],
        vec!["ledger", "stats"],
        vec!["ledger", "prune"],
    ]
}

#[test]
fn a_mistyped_ledger_path_is_refused_on_every_command_and_only_init_creates_one() {
    let env = Env::new();
    let ledger = Store::Sqlite.init(&env);
    let token = env.issue(&[]);
    assert!(run(&env, ledger, &["revoke", &token]).status.success());
    for args in ledger_commands(&token) {
        // As a flag and from the environment.
        let flag = env
            .jwtctl()
            .args(&args)
            .args(["--ledger", "ledgr2.db"])
            .write_stdin(format!("{token}\n"))
            .output()
            .unwrap();
        let from_env = env
            .jwtctl()
            .env("JWTCTL_LEDGER", "ledgr2.db")
            .args(&args)
            .write_stdin(format!("{token}\n"))
            .output()
            .unwrap();
        for out in [flag, from_env] {
            if args == ["verify", "--batch"] {
                // A batch reports configuration errors as its one JSON line: still exit 2.
                assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
            } else {
                assert_refused(&env, &out, 2, "ledger_error");
            }
            let err = stderr(&out);
            assert!(err.contains("ledgr2.db does not exist"), "{args:?}: {err}");
            assert!(
                err.contains("jwtctl ledger init --ledger ledgr2.db"),
                "{err}"
            );
            assert!(!env.path("ledgr2.db").exists(), "{args:?} created it");
        }
    }
    // An empty file (touch) is not a ledger either: nothing in it would be revoked.
    env.write("empty.db", "");
    let out = run(&env, "empty.db", &["verify", &token]);
    assert_refused(&env, &out, 2, "ledger_error");
    assert!(
        stderr(&out).contains("empty.db is not set up"),
        "{}",
        stderr(&out)
    );
    // `ledger init` creates it, 0600; the revoked token stays revoked in the right one.
    let out = run(&env, "ledgr2.db", &["ledger", "init"]);
    assert_eq!(stdout(&out), "ready\n", "{}", stderr(&out));
    let mode = std::fs::metadata(env.path("ledgr2.db"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(run(&env, "ledgr2.db", &["verify", &token]).status.success());
    let out = run(&env, ledger, &["verify", &token]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}

#[test]
fn a_postgres_ledger_without_its_tables_says_to_run_ledger_init() {
    let Some(db) = postgres() else { return };
    let env = Env::new();
    let token = env.issue(&[]);
    for args in ledger_commands(&token) {
        let out = env
            .jwtctl()
            .env("JWTCTL_LEDGER", &db.url)
            .args(&args)
            .write_stdin(format!("{token}\n"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains("is not set up"), "{args:?}: {err}");
        assert!(err.contains("jwtctl ledger init"), "{err}");
        let tables = db.count("SELECT 1 WHERE to_regclass('jwtctl_ids') IS NOT NULL");
        assert_eq!(tables, 0, "{args:?} created the tables");
    }
    db.init(&env);
    let out = run(&env, &db.url, &["refresh", &token]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn refresh_without_a_ledger_is_refused_unless_no_ledger_says_so_and_is_recorded() {
    let env = Env::new();
    let token = env.issue(&[]);
    let out = env.run(&["refresh", &token]);
    assert_refused(&env, &out, 2, "usage");
    let err = stderr(&out);
    assert!(
        err.contains("--ledger") && err.contains("--no-ledger"),
        "{err}"
    );
    // Both at once is a contradiction, also when the ledger comes from the environment.
    let ledger = Store::Sqlite.init(&env);
    let out = run(&env, ledger, &["refresh", "--no-ledger", &token]);
    assert_refused(&env, &out, 2, "usage");
    // --no-ledger: refreshed, and the record says (at WARN) that nothing stops a second one.
    for _ in 0..2 {
        let out = env.run(&["--log-level", "warn", "refresh", "--no-ledger", &token]);
        assert!(out.status.success(), "{}", stderr(&out));
        let record = env.log().pop().unwrap();
        assert_eq!(record["op"], "refresh");
        assert_eq!(record["level"], "WARN", "{record}");
        assert_eq!(record["no_ledger"], true, "{record}");
    }
}

#[test]
fn a_ledger_others_can_change_is_refused_and_one_they_can_read_is_warned_about() {
    let env = Env::new();
    let ledger = Store::Sqlite.init(&env);
    let token = env.issue(&[]);
    let path = env.path(ledger);
    let chmod = |p: &std::path::Path, mode: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    // SQLite gives its side files the ledger's mode: all 0600, whatever the umask.
    let out = env
        .jwtctl()
        .env("JWTCTL_LEDGER", ledger)
        .args(["refresh", &token])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    for side in ["ledger.db-wal", "ledger.db-shm"] {
        let mode = std::fs::metadata(env.path(side))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{side}");
    }
    let other = mint(json!({"jti": "x", "exp": now() + 600}));
    // Writable by others: the ledger itself, a side file, the directory.
    for (file, mode, words) in [
        (path.clone(), 0o666, "other users can write it (mode 0666)"),
        (path.clone(), 0o620, "other users can write it (mode 0620)"),
        (
            env.path("ledger.db-wal"),
            0o646,
            "other users can write it (mode 0646)",
        ),
        (env.path("ledger.db-shm"), 0o666, "ledger.db-shm"),
    ] {
        let before = std::fs::metadata(&file).unwrap().permissions().mode() & 0o7777;
        chmod(&file, mode);
        for args in [vec!["verify", &other], vec!["ledger", "list"]] {
            let out = run(&env, ledger, &args);
            assert_refused(&env, &out, 2, "ledger_error");
            assert!(stderr(&out).contains(words), "{}", stderr(&out));
        }
        chmod(&file, before);
    }
    // A directory others can write (no sticky bit): refused, by `ledger init` too.
    std::fs::create_dir(env.path("shared")).unwrap();
    chmod(&env.path("shared"), 0o777);
    let out = run(&env, "shared/l.db", &["ledger", "init"]);
    assert_refused(&env, &out, 2, "ledger_error");
    let err = stderr(&out);
    assert!(
        err.contains("other users can write its directory (mode 0777"),
        "{err}"
    );
    assert!(!env.path("shared/l.db").exists());
    // Owned by another user (root may own, as the log allows): nobody (65534) here.
    let root = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(&path).unwrap()) == 0;
    if root {
        for name in ["ledger.db", "ledger.db-wal"] {
            std::os::unix::fs::chown(env.path(name), Some(65534), None).unwrap();
            let out = run(&env, ledger, &["verify", &other]);
            assert_refused(&env, &out, 2, "ledger_error");
            assert!(stderr(&out).contains("belongs to another user (uid 65534)"));
            std::os::unix::fs::chown(env.path(name), Some(0), None).unwrap();
        }
    }
    // A planted link in place of a side file is refused, never followed.
    std::fs::remove_file(env.path("ledger.db-shm")).unwrap();
    std::os::unix::fs::symlink("/tmp/elsewhere", env.path("ledger.db-shm")).unwrap();
    let out = run(&env, ledger, &["verify", &other]);
    assert_refused(&env, &out, 2, "ledger_error");
    assert!(stderr(&out).contains("symbolic link"), "{}", stderr(&out));
    std::fs::remove_file(env.path("ledger.db-shm")).unwrap();
    // Readable by others: used, with a warning on stderr and a WARN record.
    chmod(&path, 0o644);
    let out = run(&env, ledger, &["--log-level", "warn", "verify", &other]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("can be read by other users (mode 0644)"),
        "{}",
        stderr(&out)
    );
    let warned = env.log();
    assert!(
        warned
            .iter()
            .any(|r| r["event"] == "ledger_exposed" && r["level"] == "WARN"),
        "{warned:?}"
    );
}
