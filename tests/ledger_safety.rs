//! The ledger against mistakes and other users: a ledger named must exist, refresh needs one,
//! its files are checked, `revoke --jti` reaches every issuer, long ids fit.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use std::os::unix::fs::PermissionsExt;

use crate::common::needs;
use crate::common::stores::{Store, store_tests};
use crate::common::{Env, assert_refused, mint, now, stderr, stdout};
use serde_json::json;

store_tests!(
    revoke_jti_without_iss_revokes_that_jti_under_every_issuer_and_records_carry_iss,
    an_eight_thousand_character_jti_is_revoked_and_consumed_on_every_store,
);

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
#[ignore = "needs PostgreSQL; to run it: apt-get install postgresql, eval \"$(scripts/pg-test-server.sh DIR)\", cargo test -- --include-ignored"]
fn a_postgres_ledger_without_its_tables_says_to_run_ledger_init() {
    let Some(db) = needs::postgres() else { return };
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

fn revoke_jti_without_iss_revokes_that_jti_under_every_issuer_and_records_carry_iss(store: Store) {
    let env = Env::new();
    let ledger = store.init(&env);
    let token = |iss: Option<&str>, jti: &str| {
        let mut claims = json!({"jti": jti, "exp": now() + 600});
        if let Some(iss) = iss {
            claims["iss"] = json!(iss);
        }
        mint(claims)
    };
    let a = token(Some("https://a.example"), "leaked");
    let b = token(Some("https://b.example"), "leaked");
    let bare = token(None, "leaked");
    let other = token(Some("https://a.example"), "other");
    // The operator reads jti and iss in the log of a verification.
    let out = run(&env, ledger, &["--log-level", "info", "verify", &a]);
    assert!(out.status.success(), "{}", stderr(&out));
    let record = env.log().pop().unwrap();
    assert_eq!(
        (&record["jti"], &record["iss"]),
        (&json!("leaked"), &json!("https://a.example"))
    );
    // Without --iss: the jti under every issuer, and without one.
    let out = run(
        &env,
        ledger,
        &["--log-level", "info", "revoke", "--jti", "leaked"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "any-iss+jti:leaked\n", "{}", store.name());
    for t in [&a, &b, &bare] {
        crate::common::assert_rejected(&env, &run(&env, ledger, &["verify", t]), "revoked");
        crate::common::assert_rejected(&env, &run(&env, ledger, &["refresh", t]), "revoked");
    }
    assert!(run(&env, ledger, &["verify", &other]).status.success());
    assert!(run(&env, ledger, &["refresh", &other]).status.success());
    // With --iss, only that issuer's.
    let c = token(Some("https://c.example"), "x2");
    let d = token(Some("https://d.example"), "x2");
    let out = run(
        &env,
        ledger,
        &[
            "--log-level",
            "info",
            "revoke",
            "--jti",
            "x2",
            "--iss",
            "https://c.example",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let record = env.log().pop().unwrap();
    assert_eq!(record["iss"], "https://c.example", "{record}");
    crate::common::assert_rejected(&env, &run(&env, ledger, &["verify", &c]), "revoked");
    assert!(run(&env, ledger, &["verify", &d]).status.success());
}

fn an_eight_thousand_character_jti_is_revoked_and_consumed_on_every_store(store: Store) {
    let env = Env::new();
    let ledger = store.init(&env);
    let long = "j".repeat(8000);
    let iss = "https://i.example/".repeat(50);
    let revoked = mint(json!({"iss": iss, "jti": long, "exp": now() + 600}));
    let out = run(&env, ledger, &["revoke", &revoked]);
    assert!(out.status.success(), "{}: {}", store.name(), stderr(&out));
    let out = run(&env, ledger, &["verify", &revoked]);
    crate::common::assert_rejected(&env, &out, "revoked");
    let out = run(&env, ledger, &["revoke", "--jti", &long]);
    assert!(out.status.success(), "{}: {}", store.name(), stderr(&out));
    let refreshed = mint(json!({"jti": format!("{long}r"), "exp": now() + 600}));
    let out = run(&env, ledger, &["refresh", &refreshed]);
    assert!(out.status.success(), "{}: {}", store.name(), stderr(&out));
    let again = run(&env, ledger, &["refresh", &refreshed]);
    crate::common::assert_rejected(&env, &again, "reused");
    // The whole id is kept beside its key, and listed.
    let list = stdout(&run(&env, ledger, &["ledger", "list", "--output", "json"]));
    assert!(
        list.contains(&format!("any-iss+jti:{long}\"")),
        "{}",
        store.name()
    );
}

#[test]
fn a_schema_2_sqlite_ledger_is_migrated_and_its_entries_still_count() {
    let env = Env::new();
    let token = mint(json!({"iss": "https://a.example", "jti": "r1", "exp": now() + 600}));
    let consumed = mint(json!({"jti": "c1", "exp": now() + 600}));
    {
        let conn = rusqlite::Connection::open(env.path("old.db")).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             CREATE TABLE ids (id TEXT PRIMARY KEY, state TEXT NOT NULL, exp INTEGER NOT NULL,
                               at INTEGER NOT NULL) WITHOUT ROWID;
             CREATE INDEX ids_by_exp ON ids (exp);
             PRAGMA user_version = 2;",
        )
        .unwrap();
        let exp = now() + 600;
        for (id, state) in [
            (r#"iss+jti:["https://a.example","r1"]"#, "revoked"),
            ("jti:c1", "consumed"),
        ] {
            conn.execute(
                "INSERT INTO ids VALUES (?1, ?2, ?3, ?4)",
                rusqlite::params![id, state, exp, now()],
            )
            .unwrap();
        }
    }
    std::fs::set_permissions(env.path("old.db"), std::fs::Permissions::from_mode(0o600)).unwrap();
    crate::common::assert_rejected(&env, &run(&env, "old.db", &["verify", &token]), "revoked");
    crate::common::assert_rejected(
        &env,
        &run(&env, "old.db", &["refresh", &consumed]),
        "reused",
    );
    let list = stdout(&run(&env, "old.db", &["ledger", "list"]));
    assert_eq!(list.lines().count(), 2, "{list}");
    let conn = rusqlite::Connection::open(env.path("old.db")).unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 3);
}

#[test]
#[ignore = "needs PostgreSQL; to run it: apt-get install postgresql, eval \"$(scripts/pg-test-server.sh DIR)\", cargo test -- --include-ignored"]
fn a_schema_1_postgres_ledger_is_migrated_and_its_entries_still_count() {
    let Some(db) = needs::postgres() else { return };
    let env = Env::new();
    db.sql(
        "CREATE TABLE jwtctl_schema (version integer NOT NULL);
         INSERT INTO jwtctl_schema VALUES (1);
         CREATE TABLE jwtctl_ids (
             id text PRIMARY KEY,
             state text NOT NULL CHECK (state IN ('consumed', 'revoked')),
             exp bigint NOT NULL, at bigint NOT NULL);
         CREATE INDEX jwtctl_ids_by_exp ON jwtctl_ids (exp);",
    );
    let exp = now() + 600;
    db.sql(&format!(
        "INSERT INTO jwtctl_ids VALUES ('jti:c1', 'consumed', {exp}, {exp}),
             ('iss+jti:[\"https://a.example\",\"r1\"]', 'revoked', {exp}, {exp})"
    ));
    let revoked = mint(json!({"iss": "https://a.example", "jti": "r1", "exp": exp}));
    let consumed = mint(json!({"jti": "c1", "exp": exp}));
    // The first command of the new jwtctl is a refresh: it migrates, then decides.
    let out = run(&env, &db.url, &["refresh", &consumed]);
    crate::common::assert_rejected(&env, &out, "reused");
    crate::common::assert_rejected(&env, &run(&env, &db.url, &["verify", &revoked]), "revoked");
    assert_eq!(db.count("SELECT 1 FROM jwtctl_schema WHERE version = 2"), 1);
    let fresh = mint(json!({"jti": "n1", "exp": exp}));
    assert!(run(&env, &db.url, &["refresh", &fresh]).status.success());
}

/// Issue 21: `verify`, `ledger list` and `ledger stats` open the ledger read-only: they work on a
/// ledger the caller may read but not write (the service's, `chmod 644`), still see revocations,
/// and leave every byte of it as it was. As root (CI) the caller is `nobody`; as anyone else, the
/// files are made read-only to their owner.
#[test]
fn verify_reads_a_ledger_it_cannot_write_and_never_changes_it() {
    use std::process::Command;
    let env = Env::new();
    let ledger = Store::Sqlite.init(&env);
    let revoked = env.issue(&["--sub", "gone"]);
    let good = env.issue(&["--sub", "kept"]);
    assert!(run(&env, ledger, &["revoke", &revoked]).status.success());
    let files = ["", "-wal", "-shm"].map(|s| env.path(&format!("{ledger}{s}")));
    let root = needs::is_root();
    let mode = if root { 0o644 } else { 0o444 };
    for file in files.iter().filter(|f| f.exists()) {
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    std::fs::set_permissions(env.path("test.key"), std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::set_permissions(env.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    // The caller's own log, in a directory it owns.
    let logs = env.path("logs");
    std::fs::create_dir(&logs).unwrap();
    if root {
        assert!(
            Command::new("chown")
                .arg("nobody")
                .arg(&logs)
                .status()
                .unwrap()
                .success()
        );
    }
    let before: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(f).unwrap_or_default())
        .collect();
    let jwtctl = |args: &[&str]| {
        let mut cmd = if root {
            let mut c = Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                .arg(assert_cmd::cargo::cargo_bin("jwtctl"));
            c
        } else {
            Command::new(assert_cmd::cargo::cargo_bin("jwtctl"))
        };
        crate::common::Scrub::scrubbed(&mut cmd)
            .current_dir(env.dir.path())
            .env("JWTCTL_KEY_FILE", "test.key")
            .env("JWTCTL_LEDGER", ledger)
            .arg("--log-file")
            .arg(logs.join("security.log"))
            .args(args)
            .output()
            .unwrap()
    };
    let out = jwtctl(&["verify", &good]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = jwtctl(&["verify", &revoked]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("revoked"), "{}", stderr(&out));
    let out = jwtctl(&["ledger", "list"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).lines().count(), 1, "{}", stdout(&out));
    // A command that writes is refused, and says why.
    let out = jwtctl(&["revoke", &good]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let after: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(f).unwrap_or_default())
        .collect();
    assert!(before == after, "a reader changed the ledger's files");
}

/// Unmounts a tmpfs when the test ends, however it ends.
struct Tmpfs(std::path::PathBuf);

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

/// Found by an outside review: a ledger change whose COMMIT fails after its success record was
/// written (here a full disk under the ledger) leaves that success withdrawn by a `not_done`
/// failure record of the same operation (same jti), for refresh and revoke alike.
#[test]
#[ignore = "needs root (mounts a tmpfs or chowns to nobody); to run it: as root, cargo test -- --include-ignored"]
fn a_ledger_commit_that_fails_after_its_record_withdraws_the_record() {
    use std::io::Write;
    if !needs::root() {
        return;
    }
    let env = Env::new();
    let mnt = env.path("disk");
    std::fs::create_dir(&mnt).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs"])
        .arg(&mnt)
        .status()
        .unwrap();
    assert!(mounted.success(), "mount failed");
    let _mount = Tmpfs(mnt.clone());
    let ledger = "disk/l.db";
    assert!(
        env.run(&["ledger", "init", "--ledger", ledger])
            .status
            .success()
    );
    let first = env.issue(&["--sub", "a"]);
    assert!(run(&env, ledger, &["refresh", &first]).status.success());
    let (parent, victim) = (env.issue(&["--sub", "b"]), env.issue(&["--sub", "c"]));
    let mut filler = std::fs::File::create(mnt.join("filler")).unwrap();
    while filler.write_all(&[b'x'; 512]).is_ok() {}
    for args in [vec!["refresh", &parent], vec!["revoke", &victim]] {
        let out = env
            .jwtctl()
            .env("JWTCTL_LEDGER", ledger)
            .arg("--log-level")
            .arg("info")
            .args(&args)
            .output()
            .unwrap();
        assert_refused(&env, &out, 2, "ledger_error");
        let log = env.log();
        let (success, failure) = (&log[log.len() - 2], &log[log.len() - 1]);
        assert_eq!(success["outcome"], "success", "{success}");
        assert_eq!(failure["event"], "not_done", "{failure}");
        assert_eq!(failure["op"], success["op"]);
        assert_eq!(
            failure["jti"], success["jti"],
            "the same operation: {failure}"
        );
    }
    // At the default level no success was written, so there is nothing to withdraw: the
    // failure describes the presented token, with no not_done.
    let other = env.issue(&["--sub", "d"]);
    let out = run(&env, ledger, &["refresh", &other]);
    assert_refused(&env, &out, 2, "ledger_error");
    let failure = env.log().pop().unwrap();
    assert!(failure.get("event").is_none(), "{failure}");
    assert!(failure.get("parent_jti").is_none(), "{failure}");
}
