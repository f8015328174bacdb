//! What a fetched key set may be trusted with (issue 20): no proxy for loopback, public keys only,
//! no HTTPS-to-HTTP downgrade by discovery, `key_ops`, checked cache entries, no stored
//! credentials. Each test uses the hostile value: a proxy answering with its own keys, a set
//! publishing secrets, a planted cache entry.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use serde_json::{Value, json};

use crate::common::https::{Proxy, Reply, Server};
use crate::common::{assert_refused, stderr, stdout};
use crate::remote::Idp;

/// `jwtctl verify` with a cache of its own (`cache_dir`) and extra environment variables.
fn verify_env(
    idp: &Idp,
    cache_dir: &str,
    vars: &[(&str, &str)],
    args: &[&str],
    token: &str,
) -> std::process::Output {
    let mut cmd = idp.env.bare();
    for var in [
        "ALL_PROXY",
        "all_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "NO_PROXY",
        "no_proxy",
    ] {
        cmd.env_remove(var);
    }
    cmd.envs(vars.iter().copied())
        .args(["--log-level", "info", "verify", "--ca-file", "ca.pem"])
        .args(["--cache-dir", cache_dir])
        .args(args)
        .arg(token)
        .output()
        .unwrap()
}

/// A new EC P-256 key in `name`, as an attacker (or a second provider key) would make it.
fn new_key(idp: &Idp, name: &str) {
    let out = idp
        .env
        .run_bare(&["key", "gen", "--type", "ec", "--out", name]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn a_loopback_url_is_never_fetched_through_a_proxy() {
    let idp = Idp::new();
    new_key(&idp, "evil.pem");
    let proxy = Proxy::start(&idp.set_of(&["evil.pem"]));
    let forged = idp.token("evil.pem", &[]);
    let plain = Server::start_plain();
    plain.set("/jwks", Reply::json(&idp.set_of(&["ec256_pkcs8.pem"])));
    idp.server
        .set("/jwks", Reply::json(&idp.set_of(&["ec256_pkcs8.pem"])));
    let port = plain.base.rsplit(':').next().unwrap().to_string();
    let urls = [
        plain.url("/jwks"),
        format!("http://localhost:{port}/jwks"),
        idp.server.url("/jwks"),
    ];
    let vars = [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ];
    let mut n = 0;
    for url in &urls {
        for var in vars {
            // NO_PROXY naming something else does not matter either.
            for no_proxy in [None, Some("idp.example"), Some("")] {
                n += 1;
                let mut env = vec![(var, proxy.url.as_str())];
                if let Some(value) = no_proxy {
                    env.push(("NO_PROXY", value));
                }
                let cache = format!("cache{n}");
                let out = verify_env(&idp, &cache, &env, &["--jwks-url", url], &forged);
                assert_eq!(out.status.code(), Some(1), "{url} {var}: {}", stderr(&out));
                assert_eq!(stdout(&out), "");
                let record = idp.last_record();
                assert_eq!(record["reason"], "no_matching_key", "{record}");
                assert_eq!(proxy.requests(), 0, "{url} via {var} reached the proxy");
            }
        }
    }
    assert!(plain.hits("/jwks") >= 2 * vars.len());
}

/// A private JWK made by `key gen --format jwk`, with `kid`.
fn private_jwk(idp: &Idp, name: &str, kid: &str) -> Value {
    let out = idp.env.run_bare(&[
        "key", "gen", "--type", "ec", "--format", "jwk", "--kid", kid, "--out", name,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_str(&std::fs::read_to_string(idp.env.path(name)).unwrap()).unwrap()
}

#[test]
fn a_fetched_set_yields_public_verification_keys_only() {
    use jsonwebtoken::{Algorithm, EncodingKey};
    let idp = Idp::new();
    let secret = b"an-hmac-secret-anyone-who-can-GET-the-set-knows!";
    let oct = json!({"kty": "oct", "kid": "shared", "k": base64_url(secret)});
    let private = private_jwk(&idp, "priv.jwk", "priv");
    let mut set: Value = serde_json::from_str(&idp.set_of(&["ec256_pkcs8.pem"])).unwrap();
    let keys = set["keys"].as_array_mut().unwrap();
    keys.push(oct.clone());
    keys.push(private.clone());
    idp.server.set("/jwks", Reply::json(&set.to_string()));
    let url = idp.server.url("/jwks");
    // An HS256 token MACed with the published oct key does not verify.
    let forged = crate::common::sign_raw(
        r#"{"alg":"HS256","kid":"shared"}"#,
        &format!(r#"{{"sub":"admin","exp":{}}}"#, crate::common::now() + 600),
        &EncodingKey::from_secret(secret),
        Algorithm::HS256,
    );
    let out = idp.verify(&["--jwks-url", &url], &["--alg", "HS256"], &forged);
    assert_refused(&idp.env, &out, 2, "key_error");
    let out = idp.verify(&["--jwks-url", &url], &[], &forged);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let records = idp.env.log();
    for (event, kid) in [
        ("jwks_secret_key_ignored", "shared"),
        ("jwks_private_key_ignored", "priv"),
    ] {
        let warned = records.iter().find(|r| r["event"] == event).unwrap();
        assert_eq!(warned["level"], "WARN");
        assert_eq!(warned["kid"], kid);
        assert_eq!(warned["key_source"], url.as_str());
    }
    // A token signed by the published private key neither verifies nor refreshes: a fetched
    // key never signs.
    let by_priv = idp.token("priv.jwk", &[]);
    let out = idp.verify(&["--jwks-url", &url], &[], &by_priv);
    crate::common::assert_rejected(&idp.env, &out, "no_matching_key");
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
        ])
        .args(["--jwks-url", &url, &by_priv])
        .output()
        .unwrap();
    crate::common::assert_rejected(&idp.env, &out, "no_matching_key");
    // The provider's own key still verifies, with the ignored members warned about.
    let good = idp.token("ec256_pkcs8.pem", &[]);
    let out = idp.verify(&["--jwks-url", &url], &[], &good);
    assert!(out.status.success(), "{}", stderr(&out));
    // A set with nothing usable is jwks_unavailable.
    idp.server.set(
        "/only-secrets",
        Reply::json(&json!({"keys": [oct, private]}).to_string()),
    );
    let only = idp.server.url("/only-secrets");
    let out = idp.verify(&["--jwks-url", &only], &[], &by_priv);
    assert_refused(&idp.env, &out, 2, "jwks_unavailable");
    assert!(stderr(&out).contains("ignored"), "{}", stderr(&out));
    assert_eq!(idp.last_record()["key_source"], only.as_str());
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[test]
fn discovery_over_https_never_leads_to_plain_http() {
    let idp = Idp::new();
    let plain = Server::start_plain();
    plain.set("/jwks", Reply::json(&idp.set_of(&["ec256_pkcs8.pem"])));
    let issuer = idp.server.url("/idp");
    let token = idp.token("ec256_pkcs8.pem", &["--iss", &issuer]);
    let doc =
        |jwks_uri: &str| Reply::json(&json!({"issuer": issuer, "jwks_uri": jwks_uri}).to_string());
    let well_known = "/idp/.well-known/openid-configuration";
    for (n, jwks_uri) in [
        plain.url("/jwks"),
        "http://idp.example/jwks".to_string(),
        "file:///etc/passwd".to_string(),
    ]
    .iter()
    .enumerate()
    {
        idp.server.set(well_known, doc(jwks_uri));
        let cache = format!("cache{n}");
        let out = verify_env(&idp, &cache, &[], &["--oidc", &issuer], &token);
        assert_refused(&idp.env, &out, 2, "jwks_unavailable");
        assert!(stderr(&out).contains(jwks_uri.as_str()), "{}", stderr(&out));
        assert!(stderr(&out).contains("https"), "{}", stderr(&out));
        let record = idp.last_record();
        assert_eq!(
            record["key_source"],
            idp.server.url(well_known).as_str(),
            "{record}"
        );
    }
    assert_eq!(
        plain.hits("/jwks"),
        0,
        "the downgraded URI was never fetched"
    );
    // Typed by the user, a loopback issuer over plain HTTP may name its own plain-HTTP set.
    let local = plain.url("/local");
    plain.set(
        "/local/.well-known/openid-configuration",
        Reply::json(&json!({"issuer": local, "jwks_uri": plain.url("/jwks")}).to_string()),
    );
    let token = idp.token("ec256_pkcs8.pem", &["--iss", &local]);
    let out = verify_env(&idp, "cache-local", &[], &["--oidc", &local], &token);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(plain.hits("/jwks"), 1);
}

/// The public JWK of key A with `key_ops` set to `ops`.
fn with_ops(idp: &Idp, ops: Value) -> Value {
    let mut set: Value = serde_json::from_str(&idp.set_of(&["ec256_pkcs8.pem"])).unwrap();
    set["keys"][0]["key_ops"] = ops;
    set
}

#[test]
fn key_ops_without_verify_is_no_verification_key_on_every_source() {
    let idp = Idp::new();
    let token = idp.token("ec256_pkcs8.pem", &[]);
    for (n, ops) in [json!(["encrypt"]), json!(["wrapKey"]), json!(["sign"])]
        .into_iter()
        .enumerate()
    {
        let set = with_ops(&idp, ops.clone());
        // A local --jwks file.
        idp.env.write("set.json", &set.to_string());
        let out = idp.env.run_bare(&["verify", "--jwks", "set.json", &token]);
        assert_ne!(out.status.code(), Some(0), "{ops}: {}", stdout(&out));
        assert_eq!(stdout(&out), "");
        // A single JWK given with --key-file.
        idp.env.write("one.jwk", &set["keys"][0].to_string());
        let out = idp
            .env
            .run_bare(&["verify", "--key-file", "one.jwk", &token]);
        assert_refused(&idp.env, &out, 2, "key_error");
        assert!(stderr(&out).contains("key_ops"), "{}", stderr(&out));
        // A fetched set.
        let path = format!("/jwks{n}");
        idp.server.set(&path, Reply::json(&set.to_string()));
        let out = idp.verify(&["--jwks-url", &idp.server.url(&path)], &[], &token);
        assert_ne!(out.status.code(), Some(0), "{ops}: {}", stdout(&out));
    }
    // ["verify"] verifies.
    let set = with_ops(&idp, json!(["verify"]));
    idp.env.write("set.json", &set.to_string());
    let out = idp.env.run_bare(&["verify", "--jwks", "set.json", &token]);
    assert!(out.status.success(), "{}", stderr(&out));
    // A private JWK whose key_ops lack "sign" does not sign.
    let mut jwk = private_jwk(&idp, "k.jwk", "k");
    jwk["key_ops"] = json!(["verify"]);
    idp.env.write("k.jwk", &jwk.to_string());
    let out = idp.env.run_bare(&["issue", "--key-file", "k.jwk"]);
    assert_refused(&idp.env, &out, 2, "key_error");
    assert!(stderr(&out).contains("sign"), "{}", stderr(&out));
}

/// The one cache file in `dir`.
fn cache_file(idp: &Idp, dir: &str) -> std::path::PathBuf {
    let mut files: Vec<_> = std::fs::read_dir(idp.env.path(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files.pop().unwrap()
}

/// A way to plant a forged cache entry at a path.
type Plant<'a> = dyn Fn(&std::path::Path) + 'a;

#[test]
fn cache_entries_others_could_write_are_discarded_and_refetched() {
    use std::os::unix::fs::PermissionsExt;
    let idp = Idp::new();
    let (url, _) = idp.warm();
    new_key(&idp, "evil.pem");
    let forged = idp.token("evil.pem", &[]);
    let entry = cache_file(&idp, "cache");
    let mut planted: Value = serde_json::from_slice(&std::fs::read(&entry).unwrap()).unwrap();
    planted["body"] = json!(idp.set_of(&["evil.pem"]));
    let planted = planted.to_string();
    let plant: [(&str, &Plant); 3] = [
        ("a 0666 entry", &|p| {
            std::fs::write(p, &planted).unwrap();
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o666)).unwrap();
        }),
        ("a link to a file elsewhere", &|p| {
            let elsewhere = idp.env.path("elsewhere.json");
            std::fs::write(&elsewhere, &planted).unwrap();
            std::fs::remove_file(p).unwrap();
            std::os::unix::fs::symlink(&elsewhere, p).unwrap();
        }),
        ("another user's entry", &|p| {
            std::fs::write(p, &planted).unwrap();
            std::os::unix::fs::chown(p, Some(65534), Some(65534)).unwrap();
        }),
    ];
    for (n, (what, plant)) in plant.iter().enumerate() {
        let euid = std::os::unix::fs::MetadataExt::uid(&idp.env.dir.path().metadata().unwrap());
        if n == 2 && euid != 0 {
            continue; // only root can give a file to another user
        }
        plant(&entry);
        let out = idp.verify(&["--jwks-url", &url], &[], &forged);
        crate::common::assert_rejected(&idp.env, &out, "no_matching_key");
        let records = idp.env.log();
        let warned = records
            .iter()
            .rev()
            .find(|r| r["event"] == "cache_entry_refused")
            .unwrap_or_else(|| panic!("{what}: no WARN record"));
        assert_eq!(warned["level"], "WARN");
        assert_eq!(warned["key_source"], url.as_str());
        assert_eq!(records.last().unwrap()["key_fetch"], "network", "{what}");
        assert_eq!(idp.server.hits("/jwks"), n + 2, "{what}: refetched");
        // The refetched entry is a private file of ours again.
        let meta = std::fs::symlink_metadata(&entry).unwrap();
        assert!(meta.file_type().is_file());
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    }
}

#[test]
fn url_credentials_are_never_stored_shown_or_logged() {
    let idp = Idp::new();
    idp.server
        .set("/jwks", Reply::json(&idp.set_of(&["ec256_pkcs8.pem"])));
    let token = idp.token("ec256_pkcs8.pem", &[]);
    let url = idp
        .server
        .url("/jwks")
        .replace("https://", "https://ci-user:PW-s3cret@");
    let out = idp.verify(&["--jwks-url", &url], &[], &token);
    assert!(out.status.success(), "{}", stderr(&out));
    let stored = std::fs::read_to_string(cache_file(&idp, "cache")).unwrap();
    assert!(
        !stored.contains("PW-s3cret") && !stored.contains("ci-user"),
        "{stored}"
    );
    let list = idp.env.run_bare(&["cache", "list", "--cache-dir", "cache"]);
    assert!(
        stdout(&list).starts_with(&idp.server.url("/jwks")),
        "{}",
        stdout(&list)
    );
    assert!(!idp.env.log_text().contains("PW-s3cret"));
    // The same URL with the credentials is served from the cache entry.
    let out = idp.verify(&["--jwks-url", &url], &[], &token);
    assert!(out.status.success());
    assert_eq!(idp.last_record()["key_fetch"], "cache");
}

#[test]
fn redirect_locations_are_resolved_per_rfc_3986_and_judged_again() {
    let idp = Idp::new();
    let token = idp.token("ec256_pkcs8.pem", &[]);
    let other = Server::start();
    other.set("/keys", Reply::json(&idp.set_of(&["ec256_pkcs8.pem"])));
    idp.server
        .set("/dir/keys", Reply::json(&idp.set_of(&["ec256_pkcs8.pem"])));
    idp.env.write(
        "both.pem",
        &format!("{}{}", idp.server.ca_pem, other.ca_pem),
    );
    let host = other.base.trim_start_matches("https://");
    let redirect = |location: &str| Reply::status(302).with_header("Location", location);
    let cases = [
        // A network-path reference names another host (and keeps the scheme).
        (
            "/a",
            redirect(&format!("//{host}/keys")),
            ("other", "/keys"),
        ),
        // A relative-path reference is relative to the redirecting URL's path.
        ("/dir/b", redirect("keys"), ("self", "/dir/keys")),
        (
            "/dir/sub/c",
            redirect("../keys#frag"),
            ("self", "/dir/keys"),
        ),
    ];
    for (n, (path, reply, (server, landed))) in cases.into_iter().enumerate() {
        idp.server.set(path, reply);
        let out = idp
            .env
            .bare()
            .args(["verify", "--ca-file", "both.pem"])
            .args(["--cache-dir", &format!("cache{n}")])
            .args(["--jwks-url", &idp.server.url(path), &token])
            .output()
            .unwrap();
        assert!(out.status.success(), "{path}: {}", stderr(&out));
        let hits = match server {
            "other" => other.hits(landed),
            _ => idp.server.hits(landed),
        };
        assert!(hits >= 1, "{path} landed on {server}{landed}");
    }
    // The target is judged as a typed URL would be: `//192.0.2.1/x` from plain-HTTP loopback is
    // plain HTTP to another host, refused without a request.
    let plain = Server::start_plain();
    plain.set("/jwks", redirect("//192.0.2.1/x"));
    let out = idp
        .env
        .bare()
        .args(["verify", "--cache-dir", "cache9", "--fetch-timeout", "2s"])
        .args(["--jwks-url", &plain.url("/jwks"), &token])
        .output()
        .unwrap();
    crate::common::assert_refused(&idp.env, &out, 2, "jwks_unavailable");
    assert!(
        stderr(&out).contains("redirects to a URL jwtctl refuses"),
        "{}",
        stderr(&out)
    );
}
