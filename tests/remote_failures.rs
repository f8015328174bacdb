//! A failing identity provider (issue 27): asked at most once a minute whatever it answered,
//! never able to replace a good cached copy with a bad answer, and every failure recorded with
//! the URL and told in one line that says what broke.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use serde_json::{Value, json};

use crate::common::https::{Reply, Server};
use crate::common::{assert_refused, mint_raw, stderr};
use crate::remote::Idp;

/// Move every cache entry `secs` into the past: its copy and its last refetch.
fn age_cache(idp: &Idp, secs: i64) {
    for path in idp.entries() {
        let mut cached: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        for field in ["fetched_at", "last_refetch"] {
            cached[field] = json!(cached[field].as_i64().unwrap() - secs);
        }
        std::fs::write(&path, cached.to_string()).unwrap();
    }
}

#[test]
fn a_failing_provider_is_asked_at_most_once_a_minute() {
    let idp = Idp::new();
    let url = idp.server.url("/jwks");
    idp.server.set("/jwks", Reply::status(503));
    // Eight processes, each with a token naming a kid never seen: one GET.
    for i in 0..8 {
        let token = mint_raw(&format!(r#"{{"alg":"ES256","kid":"k{i}"}}"#), "{}");
        let out = idp.verify(&["--jwks-url", &url], &[], &token);
        assert_refused(&idp.env, &out, 2, "jwks_unavailable");
        assert_eq!(idp.last_record()["key_source"], url.as_str());
        if i > 0 {
            assert!(stderr(&out).contains("once a minute"), "{}", stderr(&out));
        }
    }
    assert_eq!(idp.server.hits("/jwks"), 1);
    // A slow provider costs the timeout once, not once per token.
    let slow = idp.server.url("/slow");
    idp.server.set(
        "/slow",
        Reply {
            delay: std::time::Duration::from_secs(3),
            ..Reply::status(200)
        },
    );
    for _ in 0..3 {
        let token = mint_raw(r#"{"alg":"ES256","kid":"x"}"#, "{}");
        let out = idp.verify(&["--jwks-url", &slow], &["--fetch-timeout", "1s"], &token);
        assert_refused(&idp.env, &out, 2, "jwks_unavailable");
    }
    assert_eq!(idp.server.hits("/slow"), 1);
    // A minute later the provider, recovered, is asked again.
    idp.server
        .set("/jwks", Reply::json(&idp.set_of(&["ec256_pkcs8.pem"])));
    age_cache(&idp, 61);
    let token = idp.token("ec256_pkcs8.pem", &[]);
    let out = idp.verify(&["--jwks-url", &url], &[], &token);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(idp.server.hits("/jwks"), 2);
}

#[test]
fn unknown_kids_while_the_provider_fails_refetch_once() {
    let idp = Idp::new();
    let (url, good) = idp.warm();
    idp.server.set("/jwks", Reply::status(503));
    for i in 0..8 {
        let token = mint_raw(&format!(r#"{{"alg":"ES256","kid":"k{i}"}}"#), "{}");
        let out = idp.verify(&["--jwks-url", &url], &[], &token);
        crate::common::assert_rejected(&idp.env, &out, "no_matching_key");
    }
    assert_eq!(idp.server.hits("/jwks"), 2, "one fetch, one refetch");
    // The good copy still serves the provider's own tokens.
    let out = idp.verify(&["--jwks-url", &url], &[], &good);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(idp.last_record()["key_fetch"], "cache");
}

/// Serve a discovery document for ISSUER at /idp and its set at /idp/keys, verify one token
/// through it (the cache is warm); the issuer and the token.
fn warm_oidc(idp: &Idp) -> (String, String) {
    let issuer = idp.server.url("/idp");
    idp.server.set(
        "/idp/.well-known/openid-configuration",
        Reply::json(
            &json!({"issuer": issuer, "jwks_uri": idp.server.url("/idp/keys")}).to_string(),
        ),
    );
    idp.server
        .set("/idp/keys", Reply::json(&idp.set_of(&["ec256_pkcs8.pem"])));
    let token = idp.token("ec256_pkcs8.pem", &["--iss", &issuer]);
    let out = idp.verify(&["--oidc", &issuer], &[], &token);
    assert!(out.status.success(), "{}", stderr(&out));
    (issuer, token)
}

/// The cached body of the entry whose URL is `url`.
fn cached_body(idp: &Idp, url: &str) -> String {
    idp.entries()
        .into_iter()
        .map(|p| serde_json::from_slice::<Value>(&std::fs::read(p).unwrap()))
        .map(Result::unwrap)
        .find(|e| e["url"] == url)
        .unwrap()["body"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn an_invalid_answer_never_replaces_a_good_copy() {
    let idp = Idp::new();
    let (issuer, token) = warm_oidc(&idp);
    let doc_url = format!("{issuer}/.well-known/openid-configuration");
    // Two hours later, the discovery endpoint answers an HTML page once.
    age_cache(&idp, 7200);
    let html = Reply {
        headers: vec![("Content-Type".into(), "text/html".into())],
        ..Reply::json("<html>maintenance</html>")
    };
    idp.server
        .set("/idp/.well-known/openid-configuration", html.clone());
    let out = idp.verify(&["--oidc", &issuer], &[], &token);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("discovery document"),
        "{}",
        stderr(&out)
    );
    let records = idp.env.log();
    assert!(records.iter().any(|r| r["event"] == "discovery_stale"));
    assert!(cached_body(&idp, &doc_url).contains("jwks_uri"));
    // The same for the key set itself: HTML does not replace the cached set.
    age_cache(&idp, 7200);
    idp.server.set("/idp/keys", html);
    let out = idp.verify(&["--oidc", &issuer], &[], &token);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(idp.last_record()["key_fetch"], "stale");
    assert!(cached_body(&idp, &idp.server.url("/idp/keys")).contains("\"keys\""));
}

#[test]
fn discovery_failures_name_what_was_asked_and_what_came() {
    let idp = Idp::new();
    let (issuer, token) = warm_oidc(&idp);
    // A trailing slash on --oidc: both values are shown.
    let slashed = format!("{issuer}/");
    let out = idp.verify(&["--oidc", &slashed], &[], &token);
    assert_refused(&idp.env, &out, 2, "jwks_unavailable");
    let err = stderr(&out);
    assert!(
        err.contains(&format!("'{issuer}'")) && err.contains(&format!("'{slashed}'")),
        "{err}"
    );
    // A failed fetch's record names the URL.
    idp.server.set("/down", Reply::status(500));
    let down = idp.server.url("/down");
    let out = idp.verify(&["--jwks-url", &down], &[], &token);
    assert_refused(&idp.env, &out, 2, "jwks_unavailable");
    assert_eq!(idp.last_record()["key_source"], down.as_str());
}

#[test]
fn tls_failures_say_which_check_refused_the_server() {
    let idp = Idp::new();
    let token = idp.token("ec256_pkcs8.pem", &[]);
    let set = idp.set_of(&["ec256_pkcs8.pem"]);
    let cases = [
        (
            Server::start_tls(&["idp.example"], false),
            true,
            "not for this host name",
        ),
        (Server::start_tls(&["127.0.0.1"], true), true, "has expired"),
        (Server::start_tls(&["127.0.0.1"], false), false, "--ca-file"),
    ];
    for (n, (server, trusted, words)) in cases.iter().enumerate() {
        server.set("/jwks", Reply::json(&set));
        let ca = format!("ca{n}.pem");
        let ca_pem = if *trusted {
            &server.ca_pem
        } else {
            &idp.server.ca_pem
        };
        idp.env.write(&ca, ca_pem);
        let out = idp
            .env
            .bare()
            .args(["verify", "--cache-dir", "cache", "--ca-file", &ca])
            .args(["--jwks-url", &server.url("/jwks"), &token])
            .output()
            .unwrap();
        assert_refused(&idp.env, &out, 2, "jwks_unavailable");
        assert!(stderr(&out).contains(words), "{words}: {}", stderr(&out));
        assert!(!stderr(&out).contains("invalid data"), "{}", stderr(&out));
    }
}

#[test]
fn a_self_signed_ca_true_server_certificate_given_with_ca_file_is_trusted() {
    let idp = Idp::new();
    let token = idp.token("ec256_pkcs8.pem", &[]);
    let set = idp.set_of(&["ec256_pkcs8.pem"]);
    let fetch = |server: &Server, n: usize| {
        server.set("/jwks", Reply::json(&set));
        let ca = format!("self{n}.pem");
        idp.env.write(&ca, &server.ca_pem);
        idp.env
            .bare()
            .args([
                "verify",
                "--cache-dir",
                &format!("cache{n}"),
                "--ca-file",
                &ca,
            ])
            .args(["--jwks-url", &server.url("/jwks"), &token])
            .output()
            .unwrap()
    };
    let good = Server::start_self_signed(&["localhost", "127.0.0.1"], false);
    let out = fetch(&good, 0);
    assert!(out.status.success(), "{}", stderr(&out));
    // Trusted as itself only: its names and dates still count.
    let cases = [
        (
            Server::start_self_signed(&["idp.example"], false),
            "not for this host name",
        ),
        (
            Server::start_self_signed(&["127.0.0.1"], true),
            "has expired",
        ),
    ];
    for (n, (server, words)) in cases.iter().enumerate() {
        let out = fetch(server, n + 1);
        assert_refused(&idp.env, &out, 2, "jwks_unavailable");
        assert!(stderr(&out).contains(words), "{words}: {}", stderr(&out));
    }
    // Without --ca-file it is an unknown issuer.
    let out = idp
        .env
        .bare()
        .args(["verify", "--cache-dir", "cache9"])
        .args(["--jwks-url", &good.url("/jwks"), &token])
        .output()
        .unwrap();
    assert_refused(&idp.env, &out, 2, "jwks_unavailable");
}
