//! Judge everything, then act: a command line with a usage error is refused before any key is
//! read or created, any set fetched or cached, any ledger opened, or any record but the usage
//! record written.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use serde_json::json;

use crate::common::https::{Reply, Server};
use crate::common::{Env, assert_refused, mint, now};

/// The names in the test's directory, sorted.
fn files(env: &Env) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(env.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_usage_error_follows_no_fetch_no_cache_no_key_and_no_ledger_write() {
    let env = Env::new();
    let server = Server::start();
    env.write("ca.pem", &server.ca_pem);
    server.set("/jwks", Reply::json(r#"{"keys":[]}"#));
    let url = server.url("/jwks");
    let token = mint(json!({"sub": "a", "exp": now() + 600}));
    let before = files(&env);
    let remote = [
        "--jwks-url",
        &url,
        "--ca-file",
        "ca.pem",
        "--cache-dir",
        "cache",
    ];
    for (cmd, bad) in [
        ("verify", &["--claim-eq", "no-equals-sign"][..]),
        ("verify", &["--claim-match", "=x"][..]),
        (
            "refresh",
            &["--no-ledger", "--claim-eq", "no-equals-sign"][..],
        ),
    ] {
        let out = env
            .bare()
            .arg(cmd)
            .args(remote)
            .args(bad)
            .arg(&token)
            .output()
            .unwrap();
        assert_refused(&env, &out, 2, "usage");
        assert_eq!(
            server.total_hits(),
            0,
            "{cmd} {bad:?} fetched before refusing"
        );
    }
    // With --oidc, an --iss naming another issuer is refused before discovery.
    let out = env
        .bare()
        .args([
            "verify",
            "--oidc",
            &server.url(""),
            "--iss",
            "https://other.example",
        ])
        .args(["--ca-file", "ca.pem", "--cache-dir", "cache", &token])
        .output()
        .unwrap();
    assert_refused(&env, &out, 2, "usage");
    assert_eq!(server.total_hits(), 0);
    // issue with no key anywhere: a bad flag leaves no ./jwtctl.key behind.
    let out = env
        .bare()
        .args(["issue", "--claim", "exp=1"])
        .output()
        .unwrap();
    assert_refused(&env, &out, 2, "usage");
    let mut after = files(&env);
    // The usage record's log, and the chain state beside it, are the only files made.
    after.retain(|f| f != "security.log" && f != "security.log.state");
    assert_eq!(before, after, "a refused command line created files");
    assert!(
        env.log().iter().all(|r| r["reason"] == "usage"),
        "only usage records: {}",
        env.log_text()
    );
}
