//! Test harness: a `jwtctl` command with its own temp dir, key and security.log.
#![allow(dead_code, clippy::unwrap_used)]

pub mod https;
pub mod needs;
pub mod stores;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::Value;
use tempfile::TempDir;

/// The HMAC secret in every environment's `test.key` (45 bytes: strong enough for HS256).
pub const SECRET: &str = "test-secret-0123456789-abcdefghijklmnopqrstuv";

/// The variables of this process that would leak the developer's own configuration into a
/// test: every `JWTCTL_*` (the tests' own `JWTCTL_TEST_*` settings are read here, never by
/// jwtctl), every libpq `PG*`, the proxy variables in either case, and `RUST_LOG`. A test that
/// needs one sets it on its command.
pub fn foreign_vars() -> Vec<std::ffi::OsString> {
    const PROXIES: [&str; 4] = ["http_proxy", "https_proxy", "all_proxy", "no_proxy"];
    std::env::vars_os()
        .map(|(name, _)| name)
        .filter(|name| {
            let text = name.to_string_lossy();
            text.starts_with("JWTCTL_")
                || text.starts_with("PG")
                || text == "RUST_LOG"
                || PROXIES.iter().any(|p| text.eq_ignore_ascii_case(p))
        })
        .collect()
}

/// Remove [`foreign_vars`] from a command that runs jwtctl (directly or through a shell).
pub trait Scrub {
    fn scrubbed(&mut self) -> &mut Self;
}

impl Scrub for std::process::Command {
    fn scrubbed(&mut self) -> &mut Self {
        for var in foreign_vars() {
            self.env_remove(var);
        }
        self
    }
}

pub struct Env {
    pub dir: TempDir,
}

impl Env {
    /// A temp dir holding `test.key`; commands run inside it.
    pub fn new() -> Env {
        let env = Env {
            dir: tempfile::tempdir().unwrap(),
        };
        env.write("test.key", &format!("{SECRET}\n"));
        env
    }

    /// `jwtctl` in this dir with `JWTCTL_KEY_FILE=test.key` and nothing else configured.
    pub fn jwtctl(&self) -> Command {
        let mut cmd = self.bare();
        cmd.env("JWTCTL_KEY_FILE", "test.key");
        cmd
    }

    /// `jwtctl` in this dir with no key configured at all.
    pub fn bare(&self) -> Command {
        let mut cmd = Command::cargo_bin("jwtctl").unwrap();
        cmd.current_dir(self.dir.path());
        for var in foreign_vars() {
            cmd.env_remove(var);
        }
        cmd
    }

    /// Run `jwtctl ARGS` with the test key; its output.
    pub fn run(&self, args: &[&str]) -> Output {
        self.jwtctl().args(args).output().unwrap()
    }

    /// `jwtctl verify FLAGS TOKEN` with the test key; its output.
    pub fn verify(&self, flags: &[&str], token: &str) -> Output {
        self.jwtctl()
            .arg("verify")
            .args(flags)
            .arg(token)
            .output()
            .unwrap()
    }

    /// `jwtctl issue --key-file FIXTURE` with no other key configured; its output.
    pub fn issue_with_fixture(&self, key: &str) -> Output {
        self.bare()
            .args(["issue", "--key-file"])
            .arg(self.key(key))
            .output()
            .unwrap()
    }

    /// A copy of the key fixture REL in this dir, mode 0600 as a careful user keeps key files
    /// (a git checkout leaves fixtures 0644, which jwtctl warns about for a secret or private key).
    pub fn key(&self, rel: &str) -> PathBuf {
        let name = Path::new(rel).file_name().unwrap().to_str().unwrap();
        self.write(name, &fixture_text(rel))
    }

    /// Run `jwtctl ARGS` with no key configured; its output.
    pub fn run_bare(&self, args: &[&str]) -> Output {
        self.bare().args(args).output().unwrap()
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Write a file in this dir, mode 0600 as a careful user keeps key files.
    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, contents).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        path
    }

    /// How many temporary files (`*.tmp-*`, left by an interrupted atomic write) are in this dir.
    pub fn temp_files(&self) -> usize {
        std::fs::read_dir(self.dir.path())
            .unwrap()
            .filter(|e| {
                let name = e.as_ref().unwrap().file_name();
                name.to_string_lossy().contains(".tmp-")
            })
            .count()
    }

    /// The security log's text ("" when it does not exist).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.path("security.log")).unwrap_or_default()
    }

    /// The security log, one parsed JSON object per line (each line must parse).
    pub fn log(&self) -> Vec<Value> {
        self.log_text()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l:?}")))
            .collect()
    }

    /// Issue a token with the test key and return it (no trailing newline).
    pub fn issue(&self, args: &[&str]) -> String {
        let out = self.jwtctl().arg("issue").args(args).output().unwrap();
        assert!(out.status.success(), "issue failed: {}", stderr(&out));
        stdout(&out).trim_end().to_string()
    }
}

pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

pub fn fixture_text(rel: &str) -> String {
    std::fs::read_to_string(fixture(rel)).unwrap()
}

/// The hex SHA-256 of `text`, as `sha256sum` (another implementation) prints it.
pub fn sha256sum(text: &str) -> String {
    let out = pipe_through("sha256sum", &[], text.as_bytes());
    String::from_utf8(out).unwrap()[..64].to_string()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// An HS256 token over `claims` signed with [`SECRET`], made by jsonwebtoken (not by jwtctl).
pub fn mint(claims: Value) -> String {
    mint_alg(Algorithm::HS256, claims)
}

pub fn mint_alg(alg: Algorithm, claims: Value) -> String {
    jsonwebtoken::encode(
        &Header::new(alg),
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

/// A token from raw pieces: any header, any payload, HS256-signed with [`SECRET`] as if valid.
pub fn mint_raw(header: &str, payload: &str) -> String {
    sign_raw(
        header,
        payload,
        &EncodingKey::from_secret(SECRET.as_bytes()),
        Algorithm::HS256,
    )
}

/// A token from raw pieces signed with any key: what an attacker holding `key` could send.
pub fn sign_raw(header: &str, payload: &str, key: &EncodingKey, alg: Algorithm) -> String {
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let sig = jsonwebtoken::crypto::sign(signing_input.as_bytes(), key, alg).unwrap();
    format!("{signing_input}.{sig}")
}

/// Decode a token's header and payload without checking anything (test-side inspection).
pub fn parts(token: &str) -> (Value, Value) {
    let mut it = token.split('.');
    let mut next = || {
        let bytes = URL_SAFE_NO_PAD.decode(it.next().unwrap()).unwrap();
        serde_json::from_slice(&bytes).unwrap()
    };
    (next(), next())
}

/// Assert the contract for a refused operation: exit code, one stderr line, empty stdout, and
/// an ERROR record with the reason as the log's last line.
pub fn assert_refused(env: &Env, out: &Output, code: i32, reason: &str) {
    assert_eq!(out.status.code(), Some(code), "stderr: {}", stderr(out));
    assert_eq!(stdout(out), "", "nothing on stdout");
    let err = stderr(out);
    assert_eq!(err.lines().count(), 1, "one stderr line: {err:?}");
    assert!(err.starts_with("jwtctl: "), "{err}");
    let last = env.log().pop().expect("an ERROR record");
    assert_eq!(last["level"], "ERROR");
    assert_eq!(last["outcome"], "failure");
    assert_eq!(last["reason"], reason, "record: {last}");
}

/// The contract for a rejected token: exit 1 and `jwtctl: token rejected: <reason>: ...`.
pub fn assert_rejected(env: &Env, out: &Output, reason: &str) {
    assert_refused(env, out, 1, reason);
    let prefix = format!("jwtctl: token rejected: {reason}: ");
    assert!(stderr(out).starts_with(&prefix), "{}", stderr(out));
}

/// Run an external program with `input` on stdin; its stdout, after asserting it succeeded.
pub fn pipe_through(program: &str, args: &[&str], input: &[u8]) -> Vec<u8> {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = std::process::Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program} must be installed (.ci/run installs it): {e}"));
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{program} {args:?} failed");
    out.stdout
}
