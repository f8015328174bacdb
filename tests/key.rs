//! `jwtctl key gen|public|thumbprint`: keys made, published and named, read back by openssl.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use std::os::unix::fs::PermissionsExt;

use serde_json::Value;

use crate::common::{Env, assert_refused, needs, parts, pipe_through, stderr, stdout};

fn mode(env: &Env, name: &str) -> u32 {
    std::fs::metadata(env.path(name))
        .unwrap()
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn every_key_type_is_made_private_and_signs_tokens_that_its_public_half_verifies() {
    let env = Env::new();
    for (args, alg) in [
        (&["--type", "ed25519"][..], "EdDSA"),
        (&["--type", "ec"], "ES256"),
        (&["--type", "ec", "--curve", "P-384"], "ES384"),
        (&["--type", "rsa", "--bits", "2048"], "RS256"),
        (
            &["--type", "rsa", "--bits", "2048", "--alg", "PS256"],
            "PS256",
        ),
        (&["--type", "hmac", "--alg", "HS384"], "HS384"),
    ] {
        for format in ["pem", "jwk"] {
            let name = format!("k{}-{format}.key", args.join("_"));
            let out = env.run_bare(
                &[
                    &["key", "gen", "--out", &name, "--format", format][..],
                    args,
                ]
                .concat(),
            );
            assert!(out.status.success(), "{args:?}: {}", stderr(&out));
            assert_eq!(stdout(&out), "", "the key goes to the file only");
            assert!(stderr(&out).contains("made"), "{}", stderr(&out));
            assert_eq!(mode(&env, &name), 0o600, "{name}");
            // A PEM file cannot pin an algorithm (a JWK does): say it when issuing.
            let issued = env.run_bare(&["issue", "--key-file", &name, "--alg", alg, "--sub", "k"]);
            assert!(issued.status.success(), "{name}: {}", stderr(&issued));
            let token = stdout(&issued).trim().to_string();
            assert_eq!(parts(&token).0["alg"], alg, "{name}");
            if alg.starts_with("HS") {
                // An HMAC key has no public half: key public refuses, and its tokens carry no kid.
                let public = env.run_bare(&["key", "public", "--key-file", &name]);
                assert_refused(&env, &public, 2, "key_error");
                assert!(parts(&token).0.get("kid").is_none());
                continue;
            }
            let jwk = env.run_bare(&["key", "public", "--key-file", &name, "--alg", alg]);
            assert!(jwk.status.success(), "{}", stderr(&jwk));
            let jwk_value: Value = serde_json::from_str(&stdout(&jwk)).unwrap();
            for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
                assert!(jwk_value.get(private).is_none(), "{name} leaks {private}");
            }
            assert_eq!(jwk_value["use"], "sig");
            assert_eq!(jwk_value["alg"], alg);
            // The token's kid is the key's thumbprint, which the published JWK carries too.
            let print = env.run_bare(&["key", "thumbprint", "--key-file", &name]);
            let print = stdout(&print).trim().to_string();
            assert_eq!(parts(&token).0["kid"], print.as_str(), "{name}");
            assert_eq!(jwk_value["kid"], print.as_str());
            env.write("pub.jwk", &stdout(&jwk));
            let verified = env.run_bare(&["verify", "--key-file", "pub.jwk", &token]);
            assert!(verified.status.success(), "{name}: {}", stderr(&verified));
            // SPKI PEM, read back by openssl.
            let pem = env.run_bare(&["key", "public", "--key-file", &name, "--format", "pem"]);
            let pem = stdout(&pem);
            assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"), "{pem}");
            pipe_through("openssl", &["pkey", "-pubin", "-noout"], pem.as_bytes());
            env.write("pub.pem", &pem);
            let verified = env.run_bare(&["verify", "--key-file", "pub.pem", "--alg", alg, &token]);
            assert!(verified.status.success(), "{name}: {}", stderr(&verified));
        }
    }
}

#[test]
fn openssl_reads_the_private_pem_jwtctl_writes() {
    let env = Env::new();
    for ty in ["ed25519", "ec", "rsa"] {
        let name = format!("{ty}.pem");
        let out = env.run_bare(&["key", "gen", "--type", ty, "--bits", "2048", "--out", &name]);
        assert!(out.status.success(), "{}", stderr(&out));
        let pem = std::fs::read(env.path(&name)).unwrap();
        pipe_through("openssl", &["pkey", "-noout"], &pem);
    }
}

#[test]
fn an_existing_key_is_kept_unless_forced_and_then_replaced_whole() {
    let env = Env::new();
    assert!(
        env.run_bare(&["key", "gen", "--out", "k.pem"])
            .status
            .success()
    );
    let before = std::fs::read_to_string(env.path("k.pem")).unwrap();
    let again = env.run_bare(&["key", "gen", "--out", "k.pem"]);
    assert_refused(&env, &again, 2, "usage");
    assert!(stderr(&again).contains("--force"));
    assert_eq!(std::fs::read_to_string(env.path("k.pem")).unwrap(), before);
    let forced = env.run_bare(&["key", "gen", "--out", "k.pem", "--force"]);
    assert!(forced.status.success(), "{}", stderr(&forced));
    let after = std::fs::read_to_string(env.path("k.pem")).unwrap();
    assert_ne!(after, before);
    assert!(after.starts_with("-----BEGIN PRIVATE KEY-----"));
    assert_eq!(mode(&env, "k.pem"), 0o600);
    assert_eq!(env.temp_files(), 0);
}

#[test]
fn key_gen_to_stdout_is_explicit_and_the_record_never_holds_the_key() {
    let env = Env::new();
    let out = env.run_bare(&[
        "--log-level",
        "info",
        "key",
        "gen",
        "--out",
        "-",
        "--format",
        "jwk",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let jwk: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let d = jwk["d"].as_str().unwrap();
    let record = env.log().pop().unwrap();
    assert_eq!(record["op"], "key_gen");
    assert_eq!(record["key_type"], "ed25519");
    assert_eq!(record["kid"], jwk["kid"]);
    assert!(
        !env.log_text().contains(d),
        "the private key is never logged"
    );
    let missing = env.run_bare(&["key", "gen"]);
    assert_eq!(missing.status.code(), Some(2), "--out is required");
}

#[test]
fn a_kid_may_begin_with_a_dash() {
    let env = Env::new();
    let token = env.issue(&["--kid", "-abc"]);
    assert_eq!(parts(&token).0["kid"], "-abc");
    let out = env.run_bare(&[
        "key", "gen", "--out", "k.jwk", "--format", "jwk", "--kid", "-xyz",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let jwk: Value =
        serde_json::from_str(&std::fs::read_to_string(env.path("k.jwk")).unwrap()).unwrap();
    assert_eq!(jwk["kid"], "-xyz");
}

#[test]
fn the_public_half_of_a_set_is_a_set_of_public_halves() {
    let env = Env::new();
    for name in ["a.jwk", "b.jwk"] {
        let out = env.run_bare(&[
            "key", "gen", "--type", "ec", "--format", "jwk", "--out", name,
        ]);
        assert!(out.status.success());
    }
    let a: Value =
        serde_json::from_str(&std::fs::read_to_string(env.path("a.jwk")).unwrap()).unwrap();
    let b: Value =
        serde_json::from_str(&std::fs::read_to_string(env.path("b.jwk")).unwrap()).unwrap();
    env.write(
        "ring.json",
        &serde_json::json!({"keys": [a, b]}).to_string(),
    );
    let out = env.run_bare(&["key", "public", "--jwks", "ring.json", "--format", "jwks"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let set: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(set["keys"].as_array().unwrap().len(), 2);
    assert!(set["keys"][0].get("d").is_none());
    let one = env.run_bare(&["key", "public", "--jwks", "ring.json"]);
    assert_refused(&env, &one, 2, "usage");
}

fn kid_of(token: &str) -> String {
    parts(token).0["kid"].as_str().unwrap().to_string()
}

#[test]
fn a_full_rotation_through_a_key_ring() {
    let env = Env::new();
    let issue = |env: &Env| {
        let out = env.run_bare(&["issue", "--jwks", "ring.json", "--sub", "rot"]);
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out).trim().to_string()
    };
    let publish = |env: &Env| {
        let out = env.run_bare(&["key", "public", "--jwks", "ring.json", "--format", "jwks"]);
        assert!(out.status.success(), "{}", stderr(&out));
        env.write("published.json", &stdout(&out));
    };
    let verify =
        |env: &Env, token: &str| env.run_bare(&["verify", "--jwks", "published.json", token]);
    // Key A, created with the ring.
    assert!(
        env.run_bare(&["key", "gen", "--add-to", "ring.json"])
            .status
            .success()
    );
    assert_eq!(mode(&env, "ring.json"), 0o600);
    let token_a = issue(&env);
    // Key B added: new tokens carry B's kid; the published set verifies both.
    assert!(
        env.run_bare(&["key", "gen", "--add-to", "ring.json"])
            .status
            .success()
    );
    let token_b = issue(&env);
    let (kid_a, kid_b) = (kid_of(&token_a), kid_of(&token_b));
    assert_ne!(kid_a, kid_b);
    publish(&env);
    assert!(verify(&env, &token_a).status.success());
    assert!(verify(&env, &token_b).status.success());
    // A retired: still verifies, signs nothing new (even when named).
    assert!(
        env.run_bare(&["key", "retire", "--kid", &kid_a, "ring.json"])
            .status
            .success()
    );
    publish(&env);
    assert!(verify(&env, &token_a).status.success());
    assert_eq!(kid_of(&issue(&env)), kid_b);
    let named = env.run_bare(&["issue", "--jwks", "ring.json", "--kid", &kid_a]);
    assert_refused(&env, &named, 2, "key_error");
    // A removed: its tokens no longer verify against the published set.
    assert!(
        env.run_bare(&["key", "remove", "--kid", &kid_a, "ring.json"])
            .status
            .success()
    );
    publish(&env);
    let out = verify(&env, &token_a);
    crate::common::assert_rejected(&env, &out, "no_matching_key");
    assert!(verify(&env, &token_b).status.success());
}

#[test]
fn concurrent_additions_to_a_ring_lose_no_key() {
    let env = Env::new();
    let children: Vec<_> = (0..8)
        .map(|_| {
            std::process::Command::new(assert_cmd::cargo::cargo_bin("jwtctl"))
                .current_dir(env.dir.path())
                .args(["key", "gen", "--add-to", "ring.json"])
                .output()
        })
        .collect();
    for child in children {
        assert!(child.unwrap().status.success());
    }
    let ring: Value =
        serde_json::from_str(&std::fs::read_to_string(env.path("ring.json")).unwrap()).unwrap();
    assert_eq!(ring["keys"].as_array().unwrap().len(), 8);
}

#[test]
#[ignore = "needs PyJWT, jwcrypto and node jose; to run it: pip install pyjwt jwcrypto, npm install --prefix DIR jose, export JWTCTL_NODE_MODULES=DIR/node_modules, cargo test -- --include-ignored"]
fn pyjwt_jwcrypto_and_node_jose_verify_tokens_with_the_published_keys() {
    if !needs::interop() {
        return;
    }
    let env = Env::new();
    for ty in ["ed25519", "ec", "rsa"] {
        let key = format!("{ty}.pem");
        let made = env.run_bare(&["key", "gen", "--type", ty, "--bits", "2048", "--out", &key]);
        assert!(made.status.success(), "{}", stderr(&made));
        let token = stdout(&env.run_bare(&["issue", "--key-file", &key, "--sub", "interop"]))
            .trim()
            .to_string();
        let jwk = stdout(&env.run_bare(&["key", "public", "--key-file", &key]));
        let set = stdout(&env.run_bare(&["key", "public", "--key-file", &key, "--format", "jwks"]));
        let pem = stdout(&env.run_bare(&["key", "public", "--key-file", &key, "--format", "pem"]));
        let pyjwt = r#"
import json, sys, jwt
jwk, jwks, pem, token = sys.argv[1:5]
key = jwt.PyJWK(json.loads(jwk))
assert jwt.decode(token, key.key, algorithms=[key.algorithm_name])["sub"] == "interop"
kid = jwt.get_unverified_header(token)["kid"]
found = jwt.PyJWKSet.from_json(jwks)[kid]
assert jwt.decode(token, found.key, algorithms=[found.algorithm_name])["sub"] == "interop"
alg = jwt.get_unverified_header(token)["alg"]
assert jwt.decode(token, pem, algorithms=[alg])["sub"] == "interop"
"#;
        let out = std::process::Command::new("python3")
            .args(["-c", pyjwt, &jwk, &set, &pem, &token])
            .output()
            .unwrap();
        assert!(out.status.success(), "PyJWT {ty}: {}", stderr(&out));
        let jwcrypto = r#"
import json, sys
from jwcrypto import jwk, jwt
key = jwk.JWK.from_json(sys.argv[1])
assert json.loads(jwt.JWT(jwt=sys.argv[2], key=key).claims)["sub"] == "interop"
assert key.thumbprint() == jwt.JWT(jwt=sys.argv[2], key=key).token.jose_header["kid"]
"#;
        let out = std::process::Command::new("python3")
            .args(["-c", jwcrypto, &jwk, &token])
            .output()
            .unwrap();
        assert!(out.status.success(), "jwcrypto {ty}: {}", stderr(&out));
        let jose = r#"
const jose = require('jose');
const [jwks, token] = process.argv.slice(1);
const set = jose.createLocalJWKSet(JSON.parse(jwks));
jose.jwtVerify(token, set).then(r => { if (r.payload.sub !== 'interop') process.exit(1); })
  .catch(e => { console.error(e.message); process.exit(1); });
"#;
        let out = std::process::Command::new("node")
            .env("NODE_PATH", needs::node_modules().unwrap_or_default())
            .args(["-e", jose, &set, &token])
            .output()
            .unwrap();
        assert!(out.status.success(), "node jose {ty}: {}", stderr(&out));
    }
}

#[test]
fn refresh_names_an_asymmetric_key_by_its_thumbprint_when_the_token_had_no_kid() {
    let env = Env::new();
    assert!(
        env.run_bare(&["key", "gen", "--out", "ed.pem"])
            .status
            .success()
    );
    let print = stdout(&env.run_bare(&["key", "thumbprint", "--key-file", "ed.pem"]));
    let pem = std::fs::read(env.path("ed.pem")).unwrap();
    let no_kid = crate::common::sign_raw(
        r#"{"alg":"EdDSA","typ":"JWT"}"#,
        &serde_json::json!({"sub": "x", "exp": crate::common::now() + 600}).to_string(),
        &jsonwebtoken::EncodingKey::from_ed_pem(&pem).unwrap(),
        jsonwebtoken::Algorithm::EdDSA,
    );
    let out = env.run_bare(&["refresh", "--no-ledger", "--key-file", "ed.pem", &no_kid]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(parts(stdout(&out).trim()).0["kid"], print.trim());
}

/// Invariant (issue 20 §6): a retired key verifies and never signs, on every command. `refresh`
/// of a token a retired ring key signed is signed by the ring's current key, under its kid; a
/// retired key given alone (a JWK whose key_ops lack "sign") signs nothing.
#[test]
fn a_retired_key_never_signs_again_not_even_through_refresh() {
    let env = Env::new();
    let keygen = |args: &[&str]| {
        let out = env.run_bare(&[&["key", "gen"][..], args].concat());
        assert!(out.status.success(), "{}", stderr(&out));
    };
    keygen(&["--type", "ec", "--add-to", "ring.json"]);
    let out = env.run_bare(&["issue", "--jwks", "ring.json", "--sub", "old"]);
    let old = stdout(&out).trim().to_string();
    keygen(&["--type", "ed25519", "--add-to", "ring.json"]);
    let kid_a = kid_of(&old);
    let out = env.run_bare(&["key", "retire", "--kid", &kid_a, "ring.json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = env.run_bare(&[
        "--log-level",
        "info",
        "refresh",
        "--no-ledger",
        "--jwks",
        "ring.json",
        &old,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let new = stdout(&out).trim().to_string();
    let (header, claims) = parts(&new);
    assert_ne!(header["kid"], kid_a.as_str(), "signed by the retired key");
    assert_eq!(header["alg"], "EdDSA", "the current key's own algorithm");
    assert_eq!(claims["sub"], "old");
    let record = env.log().pop().unwrap();
    assert_eq!(record["kid"], header["kid"], "{record}");
    assert_eq!(record["alg"], "EdDSA", "{record}");
    let out = env.run_bare(&["verify", "--jwks", "ring.json", &new]);
    assert!(out.status.success(), "{}", stderr(&out));
    // A ring whose only private key is retired signs nothing at all.
    let ring: Value =
        serde_json::from_str(&std::fs::read_to_string(env.path("ring.json")).unwrap()).unwrap();
    let retired = ring["keys"][0].clone();
    env.write(
        "retired.json",
        &serde_json::json!({"keys": [retired.clone()]}).to_string(),
    );
    let out = env.run_bare(&["refresh", "--no-ledger", "--jwks", "retired.json", &old]);
    assert_refused(&env, &out, 2, "key_error");
    // The retired key alone, as a JWK key file: it verifies, and neither issues nor refreshes.
    env.write("retired.jwk", &retired.to_string());
    let out = env.run_bare(&["verify", "--key-file", "retired.jwk", &old]);
    assert!(out.status.success(), "{}", stderr(&out));
    for args in [
        &["issue", "--key-file", "retired.jwk"][..],
        &["refresh", "--no-ledger", "--key-file", "retired.jwk", &old][..],
    ] {
        let out = env.run_bare(args);
        assert_refused(&env, &out, 2, "key_error");
        assert!(stderr(&out).contains("retired"), "{}", stderr(&out));
    }
}

/// A hand-edited ring with two keys under one kid: `key retire` retires both, and nothing signs
/// from the ring (not `issue`, not `refresh`) until one kid is left; the refusal names the kid.
#[test]
fn a_ring_with_a_duplicate_kid_retires_every_copy_and_signs_nothing() {
    let env = Env::new();
    for _ in 0..2 {
        let out = env.run_bare(&["key", "gen", "--type", "ec", "--add-to", "ring.json"]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    // Hand-edit: both keys now say kid "B".
    let mut ring: Value =
        serde_json::from_str(&std::fs::read_to_string(env.path("ring.json")).unwrap()).unwrap();
    for key in ring["keys"].as_array_mut().unwrap() {
        key["kid"] = Value::from("B");
    }
    env.write("ring.json", &ring.to_string());
    let token = {
        // A token under kid B from the first copy, for refresh.
        let mut first = ring.clone();
        first["keys"].as_array_mut().unwrap().truncate(1);
        env.write("first.json", &first.to_string());
        let out = env.run_bare(&["issue", "--jwks", "first.json"]);
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out).trim().to_string()
    };
    let refused = |args: &[&str]| {
        let out = env.run_bare(args);
        assert_refused(&env, &out, 2, "key_error");
        assert!(
            stderr(&out).contains("more than one key with kid 'B'"),
            "{args:?}: {}",
            stderr(&out)
        );
    };
    refused(&["issue", "--jwks", "ring.json"]);
    refused(&["issue", "--jwks", "ring.json", "--kid", "B"]);
    refused(&["refresh", "--no-ledger", "--jwks", "ring.json", &token]);
    let out = env.run_bare(&["key", "retire", "--kid", "B", "ring.json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let after: Value =
        serde_json::from_str(&std::fs::read_to_string(env.path("ring.json")).unwrap()).unwrap();
    for key in after["keys"].as_array().unwrap() {
        assert_eq!(key["key_ops"], serde_json::json!(["verify"]), "{after}");
    }
    refused(&["issue", "--jwks", "ring.json"]);
}

/// Invariant: a ring member signs only with an algorithm its strength was judged for. Refresh
/// of a token a retired ring key (64 bytes, HS512) signed is re-signed by the current key: a
/// 40-byte HS512 secret is refused, or let through by `--allow-weak-secret` and recorded, as
/// for any other use (the ring as a whole passed, its retired key being strong enough).
#[test]
fn refresh_judges_the_current_ring_key_it_signs_with() {
    let env = Env::new();
    let b64 =
        |b: &[u8]| base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, b);
    let (retired, current) = ([b'a'; 64], [b'b'; 40]);
    env.write(
        "ring.json",
        &serde_json::json!({"keys": [
            {"kty": "oct", "k": b64(&retired), "alg": "HS512", "kid": "a", "key_ops": ["verify"]},
            {"kty": "oct", "k": b64(&current), "alg": "HS512", "kid": "b",
             "key_ops": ["sign", "verify"]}
        ]})
        .to_string(),
    );
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS512);
    header.kid = Some("a".into());
    let claims = serde_json::json!({"sub": "old", "exp": crate::common::now() + 600});
    let old = jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(&retired),
    )
    .unwrap();
    let out = env.run_bare(&["refresh", "--no-ledger", "--jwks", "ring.json", &old]);
    assert_refused(&env, &out, 2, "key_error");
    assert!(
        stderr(&out).contains("40 bytes; HS512 needs at least 64"),
        "{}",
        stderr(&out)
    );
    std::fs::remove_file(env.path("security.log")).unwrap();
    let out = env.run_bare(&[
        "refresh",
        "--no-ledger",
        "--allow-weak-secret",
        "--jwks",
        "ring.json",
        &old,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(parts(stdout(&out).trim()).0["kid"], "b");
    let events: Vec<Value> = env.log().iter().map(|r| r["event"].clone()).collect();
    assert_eq!(
        events,
        [
            serde_json::json!("weak_secret_allowed"),
            serde_json::json!("no_ledger_allowed")
        ]
    );
}

/// Invariant: a key ring's member has a kid an operator can type back. One whose kid is blank,
/// holds a control or an invisible character would sign under a kid `key retire --kid` refuses,
/// so it could never be retired: the ring is refused at load, on every command, naming the
/// member by its place (never by its kid).
#[test]
fn a_ring_member_with_a_kid_no_one_can_name_is_refused_at_load() {
    let env = Env::new();
    let b64 =
        |b: &[u8]| base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, b);
    let token =
        crate::common::mint(serde_json::json!({"sub": "a", "exp": crate::common::now() + 60}));
    for kid in [" ", "", "a\u{1b}[31m", "\u{200b}", "k\u{202e}1"] {
        env.write(
            "ring.json",
            &serde_json::json!({"keys": [
                {"kty": "oct", "k": b64(&[b'a'; 32]), "alg": "HS256", "kid": "good"},
                {"kty": "oct", "k": b64(&[b'b'; 32]), "alg": "HS256", "kid": kid}
            ]})
            .to_string(),
        );
        for args in [
            &["issue", "--jwks", "ring.json"][..],
            &["verify", "--jwks", "ring.json", &token],
            &["key", "public", "--jwks", "ring.json"],
        ] {
            let out = env.run_bare(args);
            assert_refused(&env, &out, 2, "key_error");
            let err = stderr(&out);
            assert!(
                err.contains("key #2 (keys[1]) has a kid that") && err.contains("printable kid"),
                "{kid:?} {args:?}: {err}"
            );
            assert!(!err.contains(['\u{1b}', '\u{200b}', '\u{202e}']), "{err:?}");
        }
    }
    // The refusal is the ring's, not retire's: retiring names a kid no such member could have.
    let out = env.run_bare(&["key", "retire", "--kid", " ", "ring.json"]);
    assert_eq!(out.status.code(), Some(2));
}
