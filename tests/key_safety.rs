//! Files that decide which tokens pass (key files, JWK Sets, key rings, password and CA files)
//! are refused when another user owns them or can replace them, as the log and the ledger are.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;

use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::json;

use crate::common::https::{Reply, Server};
use crate::common::{Env, assert_refused, fixture_text, needs, now, sign_raw, stderr, stdout};

/// The attacker's HMAC secret (long enough for HS256).
const PLANTED: &str = "attacker-secret-0123456789-abcdefghijklmnopq";

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Write `text` to `path` with `mode`, owned by `nobody` (65534): a file another user planted.
fn write_owned_by_nobody(path: &Path, text: &str, mode: u32) {
    std::fs::write(path, text).unwrap();
    chmod(path, mode);
    std::os::unix::fs::chown(path, Some(65534), Some(65534)).unwrap();
}

fn planted_token() -> String {
    let key = EncodingKey::from_secret(PLANTED.as_bytes());
    let claims = json!({"sub": "mallory", "exp": now() + 600}).to_string();
    sign_raw(
        r#"{"alg":"HS256","typ":"JWT"}"#,
        &claims,
        &key,
        Algorithm::HS256,
    )
}

/// The refusal contract, and the file and the fix named in the one stderr line.
fn assert_file_refused(env: &Env, out: &Output, reason: &str, file: &str, words: &str) {
    assert_refused(env, out, 2, reason);
    let err = stderr(out);
    assert!(err.contains(file), "names {file}: {err}");
    assert!(err.contains(words), "says {words}: {err}");
}

/// The attacker's scenario: `verify` run in a shared directory (1777) where another user has
/// planted `./jwtctl.key`, the default key. Refused, never used.
#[test]
#[ignore = "needs root (mounts a tmpfs or chowns to nobody); to run it: as root, cargo test -- --include-ignored"]
fn a_default_key_planted_by_another_user_in_a_shared_directory_is_refused() {
    if !needs::root() {
        return;
    }
    let env = Env::new();
    let shared = env.path("shared");
    std::fs::create_dir(&shared).unwrap();
    chmod(&shared, 0o1777);
    write_owned_by_nobody(&shared.join("jwtctl.key"), &format!("{PLANTED}\n"), 0o600);
    let out = env
        .bare()
        .current_dir(&shared)
        .arg("--log-file")
        .arg(env.path("security.log"))
        .args(["verify", &planted_token()])
        .output()
        .unwrap();
    assert_file_refused(
        &env,
        &out,
        "key_error",
        "jwtctl.key",
        "belongs to another user (uid 65534)",
    );
}

/// Every file kind that decides which tokens pass, owned by `nobody`: refused with the file
/// named, exit 2 and an ERROR record, whatever its mode (0644 for public files, 0600 for secrets).
#[test]
#[ignore = "needs root (mounts a tmpfs or chowns to nobody); to run it: as root, cargo test -- --include-ignored"]
fn key_type_files_another_user_owns_are_refused() {
    if !needs::root() {
        return;
    }
    let env = Env::new();
    let token = env.issue(&[]);
    let ec_token = stdout(&env.issue_with_fixture("keys/ec256_pkcs8.pem"))
        .trim()
        .to_string();
    let owned = |name: &str, text: &str, mode: u32| {
        write_owned_by_nobody(&env.path(name), text, mode);
    };
    owned("pub.pem", &fixture_text("keys/ec256_pub.pem"), 0o644);
    owned("secret.key", &format!("{PLANTED}\n"), 0o600);
    let set = stdout(&env.run_bare(&[
        "key",
        "public",
        "--key-file",
        "ec256_pkcs8.pem",
        "--format",
        "jwks",
    ]));
    owned("set.json", &set, 0o644);
    owned("pw.txt", "correct horse battery staple\n", 0o600);
    owned("ca.pem", &Server::start().ca_pem, 0o644);
    assert!(
        env.run_bare(&["key", "gen", "--add-to", "ring.json"])
            .status
            .success()
    );
    let ring = std::fs::read_to_string(env.path("ring.json")).unwrap();
    let kid = ring.split("\"kid\": \"").nth(1).unwrap().split('"').next();
    owned("ring.json", &ring, 0o600);
    let url = "https://127.0.0.1:1/jwks";
    let cases: Vec<(Vec<&str>, Option<&str>, &str, &str)> = vec![
        (
            vec!["verify", "--key-file", "pub.pem", &ec_token],
            None,
            "key_error",
            "pub.pem",
        ),
        (
            vec!["verify", "--key-file", "secret.key", &token],
            None,
            "key_error",
            "secret.key",
        ),
        (
            vec!["verify", &token],
            Some("secret.key"),
            "key_error",
            "secret.key",
        ),
        (
            vec!["verify", "--jwks", "set.json", &ec_token],
            None,
            "key_error",
            "set.json",
        ),
        (
            vec!["issue", "--jwks", "ring.json"],
            None,
            "key_error",
            "ring.json",
        ),
        (
            vec!["key", "retire", "--kid", kid.unwrap(), "ring.json"],
            None,
            "key_error",
            "ring.json",
        ),
        (
            vec![
                "key",
                "gen",
                "--out",
                "new.pem",
                "--password-file",
                "pw.txt",
            ],
            None,
            "key_error",
            "pw.txt",
        ),
        (
            vec![
                "verify",
                "--offline",
                "--ca-file",
                "ca.pem",
                "--jwks-url",
                url,
                &token,
            ],
            None,
            "usage",
            "ca.pem",
        ),
    ];
    for (args, key_var, reason, file) in cases {
        let mut cmd = env.bare();
        if let Some(var) = key_var {
            cmd.env("JWTCTL_KEY_FILE", var);
        }
        let out = cmd.args(&args).output().unwrap();
        assert_file_refused(
            &env,
            &out,
            reason,
            file,
            "belongs to another user (uid 65534)",
        );
    }
    // The PostgreSQL ledger's CA file, read by jwtctl before it connects.
    let ledger = "postgres://u@127.0.0.1:1/db?sslmode=verify-full&sslrootcert=ca.pem";
    let out = env
        .jwtctl()
        .env("JWTCTL_LEDGER", ledger)
        .args(["verify", &token])
        .output()
        .unwrap();
    assert_file_refused(
        &env,
        &out,
        "ledger_error",
        "sslrootcert ca.pem",
        "belongs to another user (uid 65534)",
    );
    assert!(!env.path("new.pem").exists(), "no key written");
    assert_eq!(
        std::fs::read_to_string(env.path("ring.json")).unwrap(),
        ring
    );
}

/// A directory other users can write without the sticky bit lets them replace any file in it:
/// every key-type file there is refused, even one we own; in a sticky directory (as /tmp) it is
/// used.
#[test]
fn key_type_files_in_a_directory_others_can_replace_are_refused() {
    let env = Env::new();
    let token = env.issue(&[]);
    let ec_token = stdout(&env.issue_with_fixture("keys/ec256_pkcs8.pem"))
        .trim()
        .to_string();
    let set = stdout(&env.run_bare(&[
        "key",
        "public",
        "--key-file",
        "ec256_pkcs8.pem",
        "--format",
        "jwks",
    ]));
    let open = env.path("open");
    std::fs::create_dir(&open).unwrap();
    for (name, text) in [
        ("set.json", set.clone()),
        ("test.key", fixture_text_secret()),
        ("pw.txt", "correct horse battery staple\n".to_owned()),
        ("ca.pem", Server::start().ca_pem),
    ] {
        std::fs::write(open.join(name), text).unwrap();
        chmod(&open.join(name), 0o600);
    }
    let url = "https://127.0.0.1:1/jwks";
    let cases: [(Vec<&str>, &str, &str); 5] = [
        (
            vec!["verify", "--jwks", "open/set.json", &ec_token],
            "key_error",
            "open/set.json",
        ),
        (
            vec!["verify", "--key-file", "open/test.key", &token],
            "key_error",
            "open/test.key",
        ),
        (
            vec!["issue", "--jwks", "open/ring.json"],
            "key_error",
            "open/ring.json",
        ),
        (
            vec![
                "key",
                "gen",
                "--out",
                "new.pem",
                "--password-file",
                "open/pw.txt",
            ],
            "key_error",
            "open/pw.txt",
        ),
        (
            vec![
                "verify",
                "--offline",
                "--ca-file",
                "open/ca.pem",
                "--jwks-url",
                url,
                &token,
            ],
            "usage",
            "open/ca.pem",
        ),
    ];
    let made = env.run_bare(&["key", "gen", "--add-to", "open/ring.json"]);
    assert!(made.status.success(), "{}", stderr(&made));
    for mode in [0o777, 0o757] {
        chmod(&open, mode);
        for (args, reason, file) in &cases {
            let out = env.run_bare(args);
            let words = format!("can be written by other users (mode {mode:04o})");
            assert_file_refused(&env, &out, reason, file, &words);
            assert!(stderr(&out).contains("chmod go-w"), "{}", stderr(&out));
        }
    }
    // Sticky, as /tmp: nobody but the owner can replace the file.
    chmod(&open, 0o1777);
    let out = env.run_bare(&["verify", "--jwks", "open/set.json", &ec_token]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = env.run_bare(&["verify", "--key-file", "open/test.key", &token]);
    assert!(out.status.success(), "{}", stderr(&out));
}

fn fixture_text_secret() -> String {
    format!("{}\n", crate::common::SECRET)
}

/// A CA file others can change is used (it is the operator's), with a warning on stderr and a
/// WARN record `ca_file_exposed`, as key files are; before, its mode was never looked at.
#[test]
fn a_ca_file_others_can_write_is_warned_about() {
    let env = Env::new();
    let token = stdout(&env.issue_with_fixture("keys/ec256_pkcs8.pem"))
        .trim()
        .to_string();
    let set = stdout(&env.run_bare(&[
        "key",
        "public",
        "--key-file",
        "ec256_pkcs8.pem",
        "--format",
        "jwks",
    ]));
    let server = Server::start();
    server.set("/jwks", Reply::json(&set));
    env.write("ca.pem", &server.ca_pem);
    chmod(&env.path("ca.pem"), 0o666);
    let out = env
        .bare()
        .args(["--log-level", "warn", "verify", "--cache-dir", "cache"])
        .args([
            "--ca-file",
            "ca.pem",
            "--jwks-url",
            &server.url("/jwks"),
            &token,
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--ca-file ca.pem can be changed by other users"),
        "{}",
        stderr(&out)
    );
    assert!(
        env.log()
            .iter()
            .any(|r| r["event"] == "ca_file_exposed" && r["level"] == "WARN"),
        "{}",
        env.log_text()
    );
}

/// Found by an outside attack: a directory another user owns (even 0755) lets them plant a link
/// to a file of root's whose contents they know; the link's target passes the owner check, so the
/// directory's owner is judged too.
#[test]
#[ignore = "needs root (mounts a tmpfs or chowns to nobody); to run it: as root, cargo test -- --include-ignored"]
fn a_key_file_in_a_directory_another_user_owns_is_refused_even_as_a_link_to_roots_file() {
    if !needs::root() {
        return;
    }
    let env = Env::new();
    // A file of root's that anyone can read and whose bytes the attacker knows.
    let known = env.write("known.txt", &format!("{PLANTED}\n"));
    chmod(&known, 0o644);
    let theirs = env.path("theirs");
    std::fs::create_dir(&theirs).unwrap();
    chmod(&theirs, 0o755);
    std::os::unix::fs::symlink(&known, theirs.join("key")).unwrap();
    std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
    let out = env
        .bare()
        .args(["verify", "--key-file", "theirs/key", &planted_token()])
        .output()
        .unwrap();
    assert_file_refused(
        &env,
        &out,
        "key_error",
        "theirs/key",
        "belongs to another user",
    );
    // Through a chain of links that passes their directory on the way: refused too.
    std::os::unix::fs::symlink(theirs.join("key"), env.path("mine")).unwrap();
    let out = env
        .bare()
        .args(["verify", "--key-file", "mine", &planted_token()])
        .output()
        .unwrap();
    assert_file_refused(&env, &out, "key_error", "mine", "belongs to another user");
    // A security log in their directory is refused as well (exit 3), never written.
    let out = env
        .jwtctl()
        .args(["--log-file", "theirs/security.log", "issue"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("belongs to another user"),
        "{}",
        stderr(&out)
    );
    assert!(!theirs.join("security.log").exists());
    // Nothing is created there either: a key ring, its lock, or the default key.
    let out = env
        .bare()
        .args(["key", "gen", "--add-to", "theirs/ring.json"])
        .output()
        .unwrap();
    assert_file_refused(
        &env,
        &out,
        "key_error",
        "theirs/ring.json",
        "belongs to another user",
    );
    assert!(!theirs.join("ring.json").exists() && !theirs.join("ring.json.lock").exists());
    let out = env
        .bare()
        .current_dir(&theirs)
        .args([
            "--log-file",
            env.path("security.log").to_str().unwrap(),
            "issue",
        ])
        .output()
        .unwrap();
    assert_file_refused(
        &env,
        &out,
        "key_error",
        "jwtctl.key",
        "belongs to another user",
    );
    assert!(!theirs.join("jwtctl.key").exists());
    // The same file through a directory of our own is fine.
    let out = env
        .bare()
        .args(["verify", "--key-file", "known.txt", &planted_token()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}

/// The flag named, the command line, and an environment variable to set.
type PathCase<'a> = (&'a str, Vec<&'a str>, Option<(&'a str, &'a str)>);

/// Invariant: a token or secret given where a file's path belongs (`--key-file "$TOKEN"`) is
/// never echoed on stderr nor written to the log: the refusal names the flag only, on every
/// path flag that reads a file (`--key-file`, `JWTCTL_KEY_FILE`, `--jwks`, `--ca-file`,
/// `--policy`, `--ledger`, `--claims`).
#[test]
fn a_token_or_secret_given_for_a_path_is_never_echoed() {
    let env = crate::common::Env::new();
    let token =
        crate::common::mint(serde_json::json!({"sub": "alice", "exp": crate::common::now() + 600}));
    let secret = "q8Zr2LkVbN4xT7wYp1cF9sJ3mH6dA0eGuRiOlKzXyW5=";
    let said = "value is not a file (it looks like a token or a secret: not shown)";
    for value in [token.as_str(), secret] {
        let cases: [PathCase; 7] = [
            ("--key-file", vec!["verify", "--key-file", value], None),
            (
                "--key-file",
                vec!["verify"],
                Some(("JWTCTL_KEY_FILE", value)),
            ),
            ("--jwks", vec!["verify", "--jwks", value], None),
            (
                "--ca-file",
                vec![
                    "verify",
                    "--jwks-url",
                    "https://127.0.0.1:9/k",
                    "--ca-file",
                    value,
                ],
                None,
            ),
            ("--policy", vec!["verify", "--policy", value], None),
            ("--ledger", vec!["refresh", "--ledger", value], None),
            ("--claims", vec!["issue", "--claims", value], None),
        ];
        for (flag, args, var) in cases {
            let mut cmd = env.jwtctl();
            if let Some((name, v)) = var {
                cmd.env(name, v);
            }
            cmd.args(&args);
            if args[0] != "issue" {
                cmd.arg(&token);
            }
            let out = cmd.output().unwrap();
            let err = crate::common::stderr(&out);
            assert_eq!(out.status.code(), Some(2), "{flag}: {err}");
            assert!(
                err.starts_with(&format!("jwtctl: the {flag} {said}")),
                "{flag}: {err}"
            );
            assert_eq!(err.lines().count(), 1, "{flag}: {err}");
            assert!(crate::common::stdout(&out).is_empty());
            assert!(!err.contains(&value[..20]), "{flag} echoed: {err}");
            assert!(
                !env.log_text().contains(&value[..20]),
                "{flag} logged: {}",
                env.log_text()
            );
        }
    }
    // A password given for --password-file is not echoed either.
    let out = env.run_bare(&[
        "verify",
        "--key-file",
        "test.key",
        "--password-file",
        "hunter2-Pass",
        &token,
    ]);
    let err = crate::common::stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--password-file value names no readable file") && !err.contains("hunter2"),
        "{err}"
    );
    assert!(!env.log_text().contains("hunter2"));
    // A plain missing path is still named, as a typo should be.
    let out = env.run_bare(&["verify", "--key-file", "keys/missing.pem", &token]);
    assert!(
        crate::common::stderr(&out).contains("keys/missing.pem"),
        "{}",
        crate::common::stderr(&out)
    );
}
