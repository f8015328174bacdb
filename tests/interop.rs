//! Interoperability: tokens and keys from PyJWT and openssl verify here, and jwtctl's tokens
//! check out under openssl.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use crate::common::{Env, fixture, fixture_text, stderr, stdout};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

fn verify_fixture(env: &Env, token: &str, key: &str, extra: &[&str]) -> Value {
    let out = env
        .bare()
        .args(["verify", "--iss", "pyjwt", "--key-file"])
        .arg(env.key(key))
        .args(extra)
        .write_stdin(fixture_text(token))
        .output()
        .unwrap();
    assert!(out.status.success(), "{token} with {key}: {}", stderr(&out));
    serde_json::from_str(&stdout(&out)).unwrap()
}

#[test]
fn pyjwt_tokens_verify_for_every_algorithm() {
    let env = Env::new();
    for (token, key, alg) in [
        ("pyjwt/hs256.jwt", "pyjwt/hmac.key", None),
        ("pyjwt/hs512.jwt", "pyjwt/hmac512.key", Some("HS512")),
        ("pyjwt/rs256.jwt", "keys/rsa_pub_spki.pem", None),
        ("pyjwt/rs384.jwt", "keys/rsa_pub_pkcs1.pem", Some("RS384")),
        ("pyjwt/rs512.jwt", "keys/rsa_pkcs1.pem", Some("RS512")),
        ("pyjwt/ps256.jwt", "keys/rsa_pub_spki.pem", Some("PS256")),
        ("pyjwt/es256.jwt", "keys/ec256_pub.pem", None),
        ("pyjwt/es384.jwt", "keys/ec384_pub.pem", None),
        ("pyjwt/eddsa.jwt", "keys/ed25519_pub.pem", None),
        ("pyjwt/rs256.jwt", "pyjwt/rsa_public.jwk", None),
        ("pyjwt/hs256.jwt", "pyjwt/oct.jwk", None),
        ("pyjwt/kid.jwt", "pyjwt/ec256_public.jwk", None),
    ] {
        let extra: Vec<&str> = alg.map(|a| vec!["--alg", a]).unwrap_or_default();
        let claims = verify_fixture(&env, token, key, &extra);
        assert_eq!(claims["sub"], "interop");
        assert_eq!(claims["role"], json!({"admin": true}));
    }
}

#[test]
fn the_old_python_snippets_tokens_verify_with_allow_weak_secret() {
    let env = Env::new();
    let legacy = fixture_text("pyjwt/legacy.jwt");
    let args = ["verify", "--allow-weak-secret", "--key-file"];
    let out = env
        .bare()
        .args(args)
        .arg(env.key("pyjwt/legacy.key"))
        .write_stdin(legacy)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "{\"user_id\":42,\"exp\":4102444800}\n");
}

fn openssl(args: &[&str], input: &[u8]) -> Vec<u8> {
    crate::common::pipe_through("openssl", args, input)
}

#[test]
fn jwtctl_rs256_and_hs256_tokens_check_out_under_openssl() {
    let env = Env::new();
    let out = env
        .bare()
        .args(["issue", "--sub", "x", "--key-file"])
        .arg(env.key("keys/rsa_pkcs1.pem"))
        .output()
        .unwrap();
    let token = stdout(&out).trim().to_string();
    let (input, sig) = token.rsplit_once('.').unwrap();
    let sig_path = env.path("sig.bin");
    std::fs::write(&sig_path, URL_SAFE_NO_PAD.decode(sig).unwrap()).unwrap();
    let pubkey = fixture("keys/rsa_pub_spki.pem");
    let verdict = openssl(
        &[
            "dgst",
            "-sha256",
            "-verify",
            pubkey.to_str().unwrap(),
            "-signature",
            sig_path.to_str().unwrap(),
        ],
        input.as_bytes(),
    );
    assert_eq!(String::from_utf8(verdict).unwrap().trim(), "Verified OK");

    let token = env.issue(&["--sub", "x"]);
    let (input, sig) = token.rsplit_once('.').unwrap();
    let mac = openssl(
        &["dgst", "-sha256", "-binary", "-hmac", crate::common::SECRET],
        input.as_bytes(),
    );
    assert_eq!(URL_SAFE_NO_PAD.encode(mac), sig);
}

#[test]
fn a_token_assembled_by_openssl_verifies() {
    let env = Env::new();
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"ES256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(r#"{"sub":"openssl","exp":4102444800}"#);
    let input = format!("{header}.{payload}");
    let key = fixture("keys/ec256_sec1.pem");
    let der = openssl(
        &["dgst", "-sha256", "-sign", key.to_str().unwrap()],
        input.as_bytes(),
    );
    // JWS wants r||s (32 bytes each), openssl gives DER: convert via openssl asn1parse output.
    let raw = der_ecdsa_to_raw(&der);
    let token = format!("{input}.{}", URL_SAFE_NO_PAD.encode(raw));
    let out = env
        .bare()
        .args(["verify", "--key-file"])
        .arg(env.key("keys/ec256_pub.pem"))
        .arg(&token)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "{\"sub\":\"openssl\",\"exp\":4102444800}\n");
}

/// ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER } -> r||s, 32 bytes each (P-256).
fn der_ecdsa_to_raw(der: &[u8]) -> Vec<u8> {
    assert_eq!(der[0], 0x30);
    let mut at = if der[1] & 0x80 != 0 {
        2 + (der[1] & 0x7f) as usize
    } else {
        2
    };
    let mut out = Vec::new();
    for _ in 0..2 {
        assert_eq!(der[at], 0x02);
        let len = der[at + 1] as usize;
        let int = &der[at + 2..at + 2 + len];
        let int = &int[int.len().saturating_sub(32)..];
        out.extend(std::iter::repeat_n(0u8, 32 - int.len()));
        out.extend_from_slice(int);
        at += 2 + len;
    }
    out
}
