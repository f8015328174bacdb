//! `--jwks-url` and `--oidc`: key sets over HTTPS from a local server, the cache, and refusals.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::https::{Reply, Server};
use crate::common::{Env, assert_refused, parts, stderr, stdout};

/// An env with two EC keys (A: P-256, B: P-384), the server's CA, and helpers.
pub struct Idp {
    pub env: Env,
    pub server: Server,
}

impl Idp {
    pub fn new() -> Idp {
        let env = Env::new();
        env.key("keys/ec256_pkcs8.pem");
        env.key("keys/ec384_pkcs8.pem");
        let server = Server::start();
        env.write("ca.pem", &server.ca_pem);
        Idp { env, server }
    }

    /// The public JWK Set of the given private key files.
    pub fn set_of(&self, keys: &[&str]) -> String {
        let jwks: Vec<Value> = keys
            .iter()
            .map(|k| {
                let out = self.env.run_bare(&["key", "public", "--key-file", k]);
                serde_json::from_str(&stdout(&out)).unwrap()
            })
            .collect();
        json!({ "keys": jwks }).to_string()
    }

    pub fn token(&self, key: &str, claims: &[&str]) -> String {
        let out = self
            .env
            .run_bare(&[&["issue", "--key-file", key][..], claims].concat());
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out).trim().to_string()
    }

    pub fn verify(&self, source: &[&str], extra: &[&str], token: &str) -> std::process::Output {
        self.env
            .bare()
            .args([
                "--log-level",
                "info",
                "verify",
                "--ca-file",
                "ca.pem",
                "--cache-dir",
                "cache",
            ])
            .args(source)
            .args(extra)
            .arg(token)
            .output()
            .unwrap()
    }

    /// Serve key A's set at /jwks, and verify one of A's tokens through it (the cache is warm).
    pub fn warm(&self) -> (String, String) {
        let url = self.server.url("/jwks");
        self.server
            .set("/jwks", Reply::json(&self.set_of(&["ec256_pkcs8.pem"])));
        let token = self.token("ec256_pkcs8.pem", &[]);
        let out = self.verify(&["--jwks-url", &url], &[], &token);
        assert!(out.status.success(), "{}", stderr(&out));
        (url, token)
    }

    /// The cache entries in `cache` (its `*.json` files; the `*.lock` files beside them are
    /// not entries).
    pub fn entries(&self) -> Vec<std::path::PathBuf> {
        let mut files: Vec<_> = std::fs::read_dir(self.env.path("cache"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        files
    }

    pub fn last_record(&self) -> Value {
        self.env.log().pop().unwrap()
    }
}

#[test]
fn a_fetched_set_verifies_and_the_cache_serves_the_next_process() {
    let idp = Idp::new();
    idp.server
        .set("/jwks", Reply::json(&idp.set_of(&["ec256_pkcs8.pem"])));
    let token = idp.token("ec256_pkcs8.pem", &["--sub", "ci"]);
    let url = idp.server.url("/jwks");
    let out = idp.verify(&["--jwks-url", &url], &[], &token);
    assert!(out.status.success(), "{}", stderr(&out));
    let record = idp.last_record();
    assert_eq!(record["key_fetch"], "network");
    assert_eq!(record["key_source"], url.as_str());
    assert_eq!(record["kid"], parts(&token).0["kid"]);
    let again = idp.verify(&["--jwks-url", &url], &[], &token);
    assert!(again.status.success());
    assert_eq!(idp.last_record()["key_fetch"], "cache");
    assert_eq!(idp.server.hits("/jwks"), 1, "one fetch for two processes");
    // Cache files are private.
    for entry in std::fs::read_dir(idp.env.path("cache")).unwrap() {
        let meta = entry.unwrap().metadata().unwrap();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777,
            0o600
        );
    }
}

#[test]
fn a_new_kid_refetches_once_and_a_flood_of_bad_kids_does_not() {
    let idp = Idp::new();
    let url = idp.server.url("/jwks");
    idp.server
        .set("/jwks", Reply::json(&idp.set_of(&["ec256_pkcs8.pem"])));
    let a = idp.token("ec256_pkcs8.pem", &[]);
    assert!(idp.verify(&["--jwks-url", &url], &[], &a).status.success());
    // The provider rotates to B: a token with B's kid makes one refetch.
    idp.server.set(
        "/jwks",
        Reply::json(&idp.set_of(&["ec256_pkcs8.pem", "ec384_pkcs8.pem"])),
    );
    let b = idp.token("ec384_pkcs8.pem", &[]);
    let out = idp.verify(&["--jwks-url", &url], &["--alg", "ES384"], &b);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(idp.server.hits("/jwks"), 2);
    // Unknown kids within the minute do not reach the provider again.
    for i in 0..5 {
        let bogus =
            crate::common::mint_raw(&format!(r#"{{"alg":"ES256","kid":"bogus-{i}"}}"#), "{}");
        let out = idp.verify(&["--jwks-url", &url], &[], &bogus);
        assert_eq!(out.status.code(), Some(1));
    }
    assert_eq!(idp.server.hits("/jwks"), 2);
}

#[test]
fn unusable_answers_are_jwks_unavailable_with_an_error_record() {
    let idp = Idp::new();
    let token = idp.token("ec256_pkcs8.pem", &[]);
    let big = format!("{{\"keys\":[],\"pad\":\"{}\"}}", "x".repeat(2 << 20));
    let slow = Reply {
        delay: Duration::from_secs(4),
        ..Reply::json(&idp.set_of(&["ec256_pkcs8.pem"]))
    };
    idp.server.set("/big", Reply::json(&big));
    idp.server.set("/slow", slow);
    idp.server.set("/html", Reply::json("<html>hello</html>"));
    idp.server.set("/down", Reply::status(500));
    idp.server.set(
        "/to-http",
        Reply::status(302).with_header("Location", "http://127.0.0.1:9/jwks"),
    );
    for (path, words) in [
        ("/big", "1 MiB"),
        ("/slow", "in time"),
        ("/html", "not"),
        ("/down", "500"),
        ("/to-http", "plain http"),
    ] {
        let url = idp.server.url(path);
        let out = idp.verify(&["--jwks-url", &url], &["--fetch-timeout", "1s"], &token);
        assert_refused(&idp.env, &out, 2, "jwks_unavailable");
        assert!(stderr(&out).contains(words), "{path}: {}", stderr(&out));
    }
    // Plain http to anything but loopback is refused before any connection.
    let out = idp.verify(&["--jwks-url", "http://idp.example/jwks"], &[], &token);
    assert_refused(&idp.env, &out, 2, "usage");
    // A certificate from a CA we were not told to trust.
    let other = Server::start();
    other.set("/jwks", Reply::json(&idp.set_of(&["ec256_pkcs8.pem"])));
    let out = idp.verify(&["--jwks-url", &other.url("/jwks")], &[], &token);
    assert_refused(&idp.env, &out, 2, "jwks_unavailable");
}

#[test]
fn a_stale_copy_is_used_with_a_warning_when_the_provider_is_down() {
    let idp = Idp::new();
    let (url, token) = idp.warm();
    // Age the cached copy by two hours, then take the provider down.
    for path in idp.entries() {
        let mut cached: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        cached["fetched_at"] = json!(cached["fetched_at"].as_i64().unwrap() - 7200);
        std::fs::write(&path, cached.to_string()).unwrap();
    }
    idp.server.set("/jwks", Reply::status(500));
    let out = idp.verify(&["--jwks-url", &url], &[], &token);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("warning"), "{}", stderr(&out));
    let records = idp.env.log();
    assert!(
        records
            .iter()
            .any(|r| r["event"] == "jwks_stale" && r["level"] == "WARN")
    );
    assert_eq!(records.last().unwrap()["key_fetch"], "stale");
}

#[test]
fn offline_uses_the_cache_only() {
    let idp = Idp::new();
    let url = idp.server.url("/jwks");
    let token = idp.token("ec256_pkcs8.pem", &[]);
    let out = idp.verify(&["--jwks-url", &url, "--offline"], &[], &token);
    assert_refused(&idp.env, &out, 2, "jwks_unavailable");
    assert_eq!(idp.server.hits("/jwks"), 0);
    idp.server
        .set("/jwks", Reply::json(&idp.set_of(&["ec256_pkcs8.pem"])));
    assert!(
        idp.verify(&["--jwks-url", &url], &[], &token)
            .status
            .success()
    );
    let out = idp.verify(&["--jwks-url", &url, "--offline"], &[], &token);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(idp.server.hits("/jwks"), 1);
}

#[test]
fn oidc_discovery_finds_the_set_and_pins_the_issuer() {
    let idp = Idp::new();
    let issuer = idp.server.url("/idp");
    idp.server.set(
        "/idp/.well-known/openid-configuration",
        Reply::json(
            &json!({"issuer": issuer, "jwks_uri": idp.server.url("/idp/keys")}).to_string(),
        ),
    );
    idp.server
        .set("/idp/keys", Reply::json(&idp.set_of(&["ec256_pkcs8.pem"])));
    let good = idp.token(
        "ec256_pkcs8.pem",
        &["--iss", &issuer, "--sub", "repo:acme/x"],
    );
    let out = idp.verify(
        &["--oidc", &issuer],
        &["--claim-eq", "sub=repo:acme/x"],
        &good,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    // A token from another issuer is refused even though the key matches.
    let other = idp.token("ec256_pkcs8.pem", &["--iss", "https://evil.example"]);
    let out = idp.verify(&["--oidc", &issuer], &[], &other);
    crate::common::assert_rejected(&idp.env, &out, "claim_mismatch");
    // A discovery document for another issuer is refused.
    let liar = idp.server.url("/liar");
    idp.server.set(
        "/liar/.well-known/openid-configuration",
        Reply::json(
            &json!({"issuer": "https://someone.else", "jwks_uri": idp.server.url("/idp/keys")})
                .to_string(),
        ),
    );
    let out = idp.verify(&["--oidc", &liar], &[], &good);
    assert_refused(&idp.env, &out, 2, "jwks_unavailable");
    assert!(stderr(&out).contains("another issuer"), "{}", stderr(&out));
}

#[test]
fn two_processes_filling_the_cache_at_once_both_succeed() {
    let idp = Idp::new();
    let url = idp.server.url("/jwks");
    idp.server
        .set("/jwks", Reply::json(&idp.set_of(&["ec256_pkcs8.pem"])));
    let token = idp.token("ec256_pkcs8.pem", &[]);
    let run = || {
        std::process::Command::new(assert_cmd::cargo::cargo_bin("jwtctl"))
            .current_dir(idp.env.dir.path())
            .args([
                "verify",
                "--ca-file",
                "ca.pem",
                "--cache-dir",
                "cache",
                "--jwks-url",
                &url,
                &token,
            ])
            .spawn()
            .unwrap()
    };
    let (a, b) = (run(), run());
    assert!(a.wait_with_output().unwrap().status.success());
    assert!(b.wait_with_output().unwrap().status.success());
    let out = idp.verify(&["--jwks-url", &url, "--offline"], &[], &token);
    assert!(
        out.status.success(),
        "the cache holds a whole set: {}",
        stderr(&out)
    );
}

#[test]
fn the_cache_is_listed_and_cleared() {
    let idp = Idp::new();
    let (url, token) = idp.warm();
    let list = idp.env.run_bare(&["cache", "list", "--cache-dir", "cache"]);
    assert!(stdout(&list).starts_with(&url), "{}", stdout(&list));
    let clear = idp
        .env
        .run_bare(&["cache", "clear", "--cache-dir", "cache"]);
    assert!(clear.status.success());
    let list = idp.env.run_bare(&["cache", "list", "--cache-dir", "cache"]);
    assert_eq!(stdout(&list), "");
    let out = idp.verify(&["--jwks-url", &url, "--offline"], &[], &token);
    assert_refused(&idp.env, &out, 2, "jwks_unavailable");
}

#[test]
fn a_cache_directory_others_can_write_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let idp = Idp::new();
    let url = idp.server.url("/jwks");
    idp.server
        .set("/jwks", Reply::json(&idp.set_of(&["ec256_pkcs8.pem"])));
    let token = idp.token("ec256_pkcs8.pem", &[]);
    std::fs::create_dir(idp.env.path("cache")).unwrap();
    std::fs::set_permissions(
        idp.env.path("cache"),
        std::fs::Permissions::from_mode(0o777),
    )
    .unwrap();
    let out = idp.verify(&["--jwks-url", &url], &[], &token);
    assert_refused(&idp.env, &out, 2, "usage");
    assert!(stderr(&out).contains("cache directory"), "{}", stderr(&out));
    assert_eq!(idp.last_record()["key_source"], url.as_str());
    assert_eq!(idp.server.hits("/jwks"), 0);
}

#[test]
fn revoke_checks_the_signature_against_a_fetched_set() {
    let idp = Idp::new();
    let (url, token) = idp.warm();
    crate::common::stores::init(&idp.env, "l.db");
    let out = idp
        .env
        .bare()
        .args([
            "revoke",
            "--ledger",
            "l.db",
            "--ca-file",
            "ca.pem",
            "--cache-dir",
            "cache",
        ])
        .args(["--jwks-url", &url, &token])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let out = idp.verify(&["--jwks-url", &url], &["--ledger", "l.db"], &token);
    crate::common::assert_rejected(&idp.env, &out, "revoked");
    // A public set cannot re-sign: refresh says a private key is needed.
    let out = idp
        .env
        .bare()
        .args([
            "refresh",
            "--no-ledger",
            "--ca-file",
            "ca.pem",
            "--cache-dir",
            "cache",
            "--jwks-url",
            &url,
            &token,
        ])
        .output()
        .unwrap();
    assert_refused(&idp.env, &out, 2, "key_error");
    assert!(stderr(&out).contains("private key"), "{}", stderr(&out));
}

#[test]
fn a_batch_refetches_once_for_a_rotated_key() {
    let idp = Idp::new();
    let (url, a) = idp.warm();
    // The provider rotates to a second P-256 key.
    let made = idp
        .env
        .run_bare(&["key", "gen", "--type", "ec", "--out", "b.pem"]);
    assert!(made.status.success());
    idp.server.set(
        "/jwks",
        Reply::json(&idp.set_of(&["ec256_pkcs8.pem", "b.pem"])),
    );
    let b = idp.token("b.pem", &[]);
    let out = idp
        .env
        .bare()
        .args([
            "verify",
            "--batch",
            "--ca-file",
            "ca.pem",
            "--cache-dir",
            "cache",
        ])
        .args(["--jwks-url", &url])
        .write_stdin(format!("{a}\n{b}\n{b}\n"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert_eq!(stdout(&out).lines().count(), 3);
    assert_eq!(idp.server.hits("/jwks"), 2, "one fetch, one refetch");
}

#[test]
fn an_expired_copy_is_revalidated_with_its_etag() {
    let idp = Idp::new();
    let url = idp.server.url("/jwks");
    idp.server.set(
        "/jwks",
        Reply::json(&idp.set_of(&["ec256_pkcs8.pem"])).with_header("ETag", "\"v1\""),
    );
    let token = idp.token("ec256_pkcs8.pem", &[]);
    assert!(
        idp.verify(&["--jwks-url", &url], &[], &token)
            .status
            .success()
    );
    // Two hours later the copy is no longer fresh (1 h without max-age): a conditional GET
    // answered 304 keeps it.
    for path in idp.entries() {
        let mut cached: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        cached["fetched_at"] = json!(cached["fetched_at"].as_i64().unwrap() - 7200);
        std::fs::write(&path, cached.to_string()).unwrap();
    }
    let out = idp.verify(&["--jwks-url", &url], &[], &token);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(idp.last_record()["key_fetch"], "revalidated");
    assert_eq!(idp.server.hits("/jwks"), 2);
}

#[test]
fn log_level_debug_adds_a_record_of_each_key_set_load_and_info_does_not() {
    let idp = Idp::new();
    let (url, a) = idp.warm();
    assert!(
        idp.env.log().iter().all(|r| r["event"] != "key_set_loaded"),
        "none at info"
    );
    let made = idp
        .env
        .run_bare(&["key", "gen", "--type", "ec", "--out", "b.pem"]);
    assert!(made.status.success());
    idp.server.set(
        "/jwks",
        Reply::json(&idp.set_of(&["ec256_pkcs8.pem", "b.pem"])),
    );
    let b = idp.token("b.pem", &[]);
    let before = idp.env.log().len();
    // A batch that meets a rotated key: the cached set, then a refetch for the new kid.
    let out = idp
        .env
        .bare()
        .env("JWTCTL_LOG_LEVEL", "debug")
        .args([
            "verify",
            "--batch",
            "--ca-file",
            "ca.pem",
            "--cache-dir",
            "cache",
        ])
        .args(["--jwks-url", &url])
        .write_stdin(format!("{a}\n{b}\n"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let log = idp.env.log().split_off(before);
    let loads: Vec<&Value> = log
        .iter()
        .filter(|r| r["event"] == "key_set_loaded")
        .collect();
    assert_eq!(loads.len(), 2, "{log:?}");
    // The first load comes before any token is read; the refetch (for b's new kid) names no
    // kid: it happens before b's signature is checked.
    for (load, fetch) in [(loads[0], "cache"), (loads[1], "network")] {
        assert_eq!(load["level"], "DEBUG");
        assert_eq!(load["outcome"], "detail");
        assert_eq!(load["op"], "verify");
        assert_eq!(load["key_source"], url.as_str());
        assert_eq!(load["key_fetch"], fetch);
        assert_eq!(load["kid"], Value::Null, "{load}");
    }
    assert_eq!(log.iter().filter(|r| r["level"] == "INFO").count(), 2);
}

/// Invariant: no record names a token refused before its signature checked out, at any level:
/// a forged token whose kid the set lacks makes the set load again, and the `key_set_loaded`
/// record of that load does not carry the forger's kid.
#[test]
fn a_forged_tokens_kid_reaches_no_record_even_at_debug() {
    let idp = Idp::new();
    let (url, a) = idp.warm();
    let forged_kid = "forged-kid-7f3a";
    let (header, claims) = parts(&a);
    let mut header = header;
    header["kid"] = json!(forged_kid);
    let forged = crate::common::mint_raw(&header.to_string(), &claims.to_string());
    let out = idp
        .env
        .bare()
        .args(["--log-level", "debug", "verify", "--ca-file", "ca.pem"])
        .args(["--cache-dir", "cache", "--jwks-url", &url, &forged])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let log = idp.env.log();
    assert!(
        log.iter().any(|r| r["event"] == "key_set_loaded"),
        "{log:?}"
    );
    assert!(!idp.env.log_text().contains(forged_kid), "{log:?}");
}
