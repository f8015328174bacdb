//! Processes running at once against one provider (issue F6): between them they make one request
//! per URL, and the others take its outcome; a remembered failure repeats its cause and yields
//! to new trust settings (L4).
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use std::process::Output;
use std::time::{Duration, Instant};

use crate::common::https::{Reply, Server};
use crate::common::{assert_refused, mint_raw, stderr};
use crate::remote::Idp;

/// Run `n` verifications of `tokens[i % len]` against `url` at once; their outputs.
fn at_once(idp: &Idp, url: &str, extra: &[&str], tokens: &[String], n: usize) -> Vec<Output> {
    std::thread::scope(|s| {
        let runs: Vec<_> = (0..n)
            .map(|i| {
                let token = &tokens[i % tokens.len()];
                s.spawn(move || idp.verify(&["--jwks-url", url], extra, token))
            })
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    })
}

fn unknown_kids(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| mint_raw(&format!(r#"{{"alg":"ES256","kid":"k{i}"}}"#), "{}"))
        .collect()
}

#[test]
fn processes_at_once_against_a_failing_provider_make_one_request() {
    let idp = Idp::new();
    let url = idp.server.url("/jwks");
    idp.server.set("/jwks", Reply::status(503));
    let outs = at_once(&idp, &url, &[], &unknown_kids(16), 16);
    assert_eq!(idp.server.hits("/jwks"), 1, "one GET for sixteen processes");
    for out in &outs {
        assert_eq!(out.status.code(), Some(2), "{}", stderr(out));
        assert_eq!(out.stdout, b"");
        // The one that asked and those that took its outcome all say what the provider answered.
        assert!(
            stderr(out).contains("the server answered HTTP 503"),
            "{}",
            stderr(out)
        );
    }
    let failures = idp
        .env
        .log()
        .iter()
        .filter(|r| r["reason"] == "jwks_unavailable")
        .count();
    assert_eq!(failures, 16, "an ERROR record each");
}

#[test]
fn processes_at_once_against_a_slow_provider_wait_for_one_request() {
    let idp = Idp::new();
    let url = idp.server.url("/slow");
    idp.server.set(
        "/slow",
        Reply {
            delay: Duration::from_secs(20),
            ..Reply::status(200)
        },
    );
    let start = Instant::now();
    let outs = at_once(&idp, &url, &["--fetch-timeout", "2s"], &unknown_kids(8), 8);
    // One process waits out the timeout; the others wait for it (at most the timeout and a
    // second more), then take the failure it remembered.
    assert!(
        start.elapsed() < Duration::from_secs(12),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(idp.server.hits("/slow"), 1, "one GET for eight processes");
    for out in &outs {
        assert_eq!(out.status.code(), Some(2), "{}", stderr(out));
        // The holder's timeout, taken from its record or (on a machine too loaded for it to
        // store that within the wait) the wait's own end: never a second request.
        let err = stderr(out);
        assert!(
            err.contains("in time") || err.contains("did not finish"),
            "{err}"
        );
    }
}

#[test]
fn processes_at_once_with_unknown_kids_refetch_a_warm_set_once() {
    let idp = Idp::new();
    let (url, good) = idp.warm();
    idp.server.set("/jwks", Reply::status(503));
    let outs = at_once(&idp, &url, &[], &unknown_kids(16), 16);
    assert_eq!(
        idp.server.hits("/jwks"),
        2,
        "the warming fetch and one refetch"
    );
    for out in &outs {
        assert_eq!(out.status.code(), Some(1), "{}", stderr(out));
        assert!(stderr(out).contains("no_matching_key"), "{}", stderr(out));
    }
    let out = idp.verify(&["--jwks-url", &url], &[], &good);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn the_lock_file_is_private_and_a_planted_one_is_replaced() {
    let idp = Idp::new();
    let (url, _) = idp.warm();
    let locks: Vec<_> = std::fs::read_dir(idp.env.path("cache"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "lock"))
        .collect();
    assert_eq!(locks.len(), 1);
    let mode = std::os::unix::fs::PermissionsExt::mode(&locks[0].metadata().unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    // A link planted in its place is removed (never followed) and the fetch goes on.
    let target = idp.env.write("elsewhere", "x");
    std::fs::remove_file(&locks[0]).unwrap();
    std::os::unix::fs::symlink(&target, &locks[0]).unwrap();
    let token = mint_raw(r#"{"alg":"ES256","kid":"new"}"#, "{}");
    let out = idp.verify(&["--jwks-url", &url], &[], &token);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(!locks[0].is_symlink(), "the link was replaced");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "x");
    assert!(
        idp.env
            .log()
            .iter()
            .any(|r| r["event"] == "cache_entry_refused")
    );
}

#[test]
fn a_tls_failure_remembered_yields_to_the_ca_file_it_advises() {
    let idp = Idp::new();
    let token = idp.token("ec256_pkcs8.pem", &[]);
    let server = Server::start_tls(&["127.0.0.1"], false);
    server.set("/jwks", Reply::json(&idp.set_of(&["ec256_pkcs8.pem"])));
    idp.env.write("own-ca.pem", &server.ca_pem);
    let url = server.url("/jwks");
    let verify = |ca: Option<&str>| {
        let mut cmd = idp.env.bare();
        cmd.args(["--log-level", "info", "verify", "--cache-dir", "cache"]);
        if let Some(ca) = ca {
            cmd.args(["--ca-file", ca]);
        }
        cmd.args(["--jwks-url", &url, &token]).output().unwrap()
    };
    let out = verify(None);
    assert_refused(&idp.env, &out, 2, "jwks_unavailable");
    assert!(stderr(&out).contains("--ca-file"), "{}", stderr(&out));
    // Asked again at once with the same settings: the cause again, and how not to wait.
    let out = verify(None);
    assert_refused(&idp.env, &out, 2, "jwks_unavailable");
    let err = stderr(&out);
    assert!(
        err.contains("signed by a CA jwtctl does not trust"),
        "{err}"
    );
    assert!(
        err.contains("once a minute") && err.contains("jwtctl cache clear"),
        "{err}"
    );
    // Other trust settings are not held back by that failure: the advice works at once.
    let out = verify(Some("ca.pem"));
    assert_refused(&idp.env, &out, 2, "jwks_unavailable");
    let out = verify(Some("own-ca.pem"));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(idp.last_record()["key_fetch"], "network");
}
