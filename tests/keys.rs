//! Key sources, precedence, classification of PEM/JWK/secret, and weak secrets.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use crate::common::{Env, SECRET, assert_refused, fixture, now, stderr, stdout};
use serde_json::json;

/// Issue with one key file and verify with another; returns the verify output.
fn sign_then_verify(env: &Env, private: &str, public: &str) -> std::process::Output {
    let out = env.issue_with_fixture(private);
    assert!(
        out.status.success(),
        "issue with {private}: {}",
        stderr(&out)
    );
    let token = stdout(&out);
    env.bare()
        .args(["verify", "--key-file"])
        .arg(env.key(public))
        .arg(token.trim())
        .output()
        .unwrap()
}

#[test]
fn every_openssl_key_format_signs_and_verifies() {
    let env = Env::new();
    for (private, publics) in [
        (
            "keys/rsa_pkcs1.pem",
            &[
                "keys/rsa_pub_spki.pem",
                "keys/rsa_pub_pkcs1.pem",
                "keys/rsa_pkcs1.pem",
            ][..],
        ),
        (
            "keys/rsa_pkcs8.pem",
            &["keys/rsa_pub_spki.pem", "keys/rsa_pkcs8.pem"],
        ),
        (
            "keys/ec256_sec1.pem",
            &["keys/ec256_pub.pem", "keys/ec256_pkcs8.pem"],
        ),
        (
            "keys/ec256_pkcs8.pem",
            &["keys/ec256_pub.pem", "keys/ec256_sec1.pem"],
        ),
        (
            "keys/ec384_sec1.pem",
            &["keys/ec384_pub.pem", "keys/ec384_pkcs8.pem"],
        ),
        ("keys/ec384_pkcs8.pem", &["keys/ec384_pub.pem"]),
        (
            "keys/ed25519.pem",
            &["keys/ed25519_pub.pem", "keys/ed25519.pem"],
        ),
    ] {
        for public in publics {
            let out = sign_then_verify(&env, private, public);
            assert!(
                out.status.success(),
                "{private} -> {public}: {}",
                stderr(&out)
            );
        }
    }
}

#[test]
fn the_algorithm_follows_from_the_key() {
    let env = Env::new();
    for (key, alg) in [
        ("keys/rsa_pkcs8.pem", "RS256"),
        ("keys/ec256_sec1.pem", "ES256"),
        ("keys/ec384_sec1.pem", "ES384"),
        ("keys/ed25519.pem", "EdDSA"),
    ] {
        let out = env.issue_with_fixture(key);
        let (header, _) = crate::common::parts(stdout(&out).trim());
        assert_eq!(header["alg"], alg, "{key}");
    }
    let out = env
        .bare()
        .args(["issue", "--alg", "PS384", "--key-file"])
        .arg(env.key("keys/rsa_pkcs1.pem"))
        .output()
        .unwrap();
    assert_eq!(crate::common::parts(stdout(&out).trim()).0["alg"], "PS384");
}

#[test]
fn other_pem_kinds_are_key_errors_never_secrets() {
    let env = Env::new();
    for key in ["keys/dsa.pem", "keys/csr.pem"] {
        let out = env.issue_with_fixture(key);
        assert_refused(&env, &out, 2, "key_error");
    }
    env.write(
        "broken.pem",
        "-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n",
    );
    let out = env.run_bare(&["issue", "--key-file", "broken.pem"]);
    assert_refused(&env, &out, 2, "key_error");
}

#[test]
fn a_public_key_cannot_issue_and_a_mismatched_alg_is_exit_2() {
    let env = Env::new();
    let out = env.issue_with_fixture("keys/rsa_pub_spki.pem");
    assert_refused(&env, &out, 2, "key_error");
    let out = env
        .bare()
        .args(["issue", "--alg", "ES384", "--key-file"])
        .arg(env.key("keys/ec256_pkcs8.pem"))
        .output()
        .unwrap();
    assert_refused(&env, &out, 2, "key_error");
}

#[test]
fn secret_env_and_jwtctl_secret_supply_the_secret() {
    let env = Env::new();
    let token = env.issue(&[]);
    env.bare()
        .env("MY_SECRET", SECRET)
        .args(["verify", "--secret-env", "MY_SECRET", &token])
        .assert()
        .success();
    env.bare()
        .env("JWTCTL_SECRET", SECRET)
        .args(["verify", &token])
        .assert()
        .success();
    let out = env.run_bare(&["verify", "--secret-env", "UNSET_VAR_X", &token]);
    assert_refused(&env, &out, 2, "key_error");
    assert!(stderr(&out).contains("UNSET_VAR_X"));
}

#[test]
fn a_flag_beats_the_environment_and_the_environment_beats_the_default() {
    let env = Env::new();
    let token = env.issue(&[]);
    env.write("jwtctl.key", &"d".repeat(40));
    // --key-file wins over a wrong JWTCTL_SECRET.
    env.bare()
        .env("JWTCTL_SECRET", "w".repeat(40))
        .args(["verify", "--key-file", "test.key", &token])
        .assert()
        .success();
    // JWTCTL_KEY_FILE wins over ./jwtctl.key.
    env.jwtctl().args(["verify", &token]).assert().success();
    // An empty variable counts as unset: ./jwtctl.key (a different key) is used and refuses.
    let out = env
        .bare()
        .env("JWTCTL_SECRET", "")
        .args(["verify", &token])
        .output()
        .unwrap();
    crate::common::assert_rejected(&env, &out, "bad_signature");
}

#[test]
fn two_sources_on_one_level_are_a_usage_error_naming_both() {
    let env = Env::new();
    let out = env
        .bare()
        .env("S", SECRET)
        .args(["issue", "--key-file", "test.key", "--secret-env", "S"])
        .output()
        .unwrap();
    assert_refused(&env, &out, 2, "usage");
    assert!(stderr(&out).contains("--key-file") && stderr(&out).contains("--secret-env"));
    let out = env
        .jwtctl()
        .env("JWTCTL_SECRET", SECRET)
        .arg("issue")
        .output()
        .unwrap();
    assert_refused(&env, &out, 2, "usage");
    assert!(stderr(&out).contains("JWTCTL_KEY_FILE") && stderr(&out).contains("JWTCTL_SECRET"));
}

#[test]
fn no_key_material_is_accepted_as_an_argument() {
    let env = Env::new();
    for flag in ["--secret", "--key"] {
        let out = env.run(&["issue", flag, SECRET]);
        assert_eq!(out.status.code(), Some(2));
        assert_eq!(stdout(&out), "");
    }
}

#[test]
fn weak_secrets_are_refused_unless_allowed_and_then_logged() {
    let env = Env::new();
    env.write("weak.key", "short-secret\n");
    let out = env.run_bare(&["issue", "--key-file", "weak.key"]);
    assert_refused(&env, &out, 2, "key_error");
    assert!(stderr(&out).contains("--allow-weak-secret"));
    let weak = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({"exp": now() + 60}),
        &jsonwebtoken::EncodingKey::from_secret(b"short-secret"),
    )
    .unwrap();
    for op in [&["verify"][..], &["refresh", "--no-ledger"]] {
        let out = env.run_bare(&[op, &["--key-file", "weak.key", &weak]].concat());
        assert_refused(&env, &out, 2, "key_error");
    }
    // At the default level (error) too: a loosening is recorded whatever the level, and said.
    let out = env.run_bare(&[
        "verify",
        "--allow-weak-secret",
        "--key-file",
        "weak.key",
        &weak,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).starts_with("jwtctl: warning: the HMAC secret is shorter")
            && stderr(&out).contains("--allow-weak-secret")
            && stderr(&out).lines().count() == 1,
        "{}",
        stderr(&out)
    );
    let record = env.log().pop().unwrap();
    assert_eq!(
        (&record["level"], &record["event"], &record["op"]),
        (
            &json!("WARN"),
            &json!("weak_secret_allowed"),
            &json!("verify")
        )
    );
}

#[test]
fn jwk_keys_sign_and_verify() {
    let env = Env::new();
    let out = sign_then_verify(&env, "pyjwt/ec256_private.jwk", "keys/ec256_pub.pem");
    assert!(out.status.success(), "{}", stderr(&out));
    let out = sign_then_verify(&env, "pyjwt/ed25519_private.jwk", "keys/ed25519_pub.pem");
    assert!(out.status.success(), "{}", stderr(&out));
    let out = sign_then_verify(&env, "keys/ec256_pkcs8.pem", "pyjwt/ec256_public.jwk");
    assert!(out.status.success(), "{}", stderr(&out));
    // A JWK's kid becomes the header's kid.
    let out = env.issue_with_fixture("pyjwt/ec256_private.jwk");
    assert_eq!(
        crate::common::parts(stdout(&out).trim()).0["kid"],
        "ec-2026"
    );
}

/// Set a file's permission bits.
fn chmod(path: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The events of the WARN records in the log.
fn warnings(env: &Env) -> Vec<String> {
    env.log()
        .iter()
        .filter(|r| r["level"] == "WARN")
        .map(|r| r["event"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_secret_key_file_others_can_read_is_warned_about_and_still_works() {
    let env = Env::new();
    let key = env.write("shared.key", &format!("{SECRET}\n"));
    chmod(&key, 0o644);
    let issue = [
        "--log-level",
        "warn",
        "issue",
        "--sub",
        "alice",
        "--key-file",
        "shared.key",
    ];
    let out = env.run_bare(&issue);
    assert!(out.status.success());
    assert_eq!(
        stdout(&out).matches('.').count(),
        2,
        "the token is still issued"
    );
    assert_eq!(
        stderr(&out),
        "jwtctl: warning: key file shared.key can be read or changed by other users \
         (mode 0644); run chmod 600 shared.key\n"
    );
    assert_eq!(warnings(&env), ["key_file_exposed"]);

    // Group access alone counts too; 0600 is quiet.
    chmod(&key, 0o640);
    assert!(stderr(&env.run_bare(&issue)).contains("(mode 0640); run chmod 600"));
    chmod(&key, 0o600);
    let out = env.run_bare(&issue);
    assert!(out.status.success());
    assert_eq!(stderr(&out), "");
    assert_eq!(warnings(&env).len(), 2, "no record for the 0600 file");
}

#[test]
fn a_public_key_may_be_read_by_anyone_but_not_changed() {
    let env = Env::new();
    let out = env.issue_with_fixture("keys/ec256_pkcs8.pem");
    let token = stdout(&out);
    let public = env.write(
        "pub.pem",
        &crate::common::fixture_text("keys/ec256_pub.pem"),
    );
    let verify = |env: &Env| {
        env.bare()
            .args(["--log-level", "warn", "verify", "--key-file", "pub.pem"])
            .arg(token.trim())
            .output()
            .unwrap()
    };
    chmod(&public, 0o644);
    let out = verify(&env);
    assert!(out.status.success());
    assert_eq!(stderr(&out), "");
    // Whoever can replace the public key decides which tokens pass.
    chmod(&public, 0o664);
    let out = verify(&env);
    assert!(out.status.success());
    assert_eq!(
        stderr(&out),
        "jwtctl: warning: key file pub.pem can be changed by other users (mode 0664); \
         run chmod go-w pub.pem\n"
    );
    assert_eq!(warnings(&env), ["key_file_exposed"]);
}

#[test]
fn a_jwk_set_holding_a_secret_is_judged_as_a_secret() {
    let env = Env::new();
    let oct = crate::common::fixture_text("pyjwt/oct.jwk");
    let set = env.write("set.json", &format!("{{\"keys\":[{oct}]}}"));
    chmod(&set, 0o644);
    let out = env.run_bare(&["verify", "--jwks", "set.json", "x.y.z"]);
    assert!(
        stderr(&out).starts_with(
            "jwtctl: warning: key file set.json can be read or changed by other users"
        ),
        "{}",
        stderr(&out)
    );
    // A set of public keys may be world-readable.
    let public = env.write(
        "public.json",
        &crate::common::fixture_text("pyjwt/jwks.json"),
    );
    chmod(&public, 0o644);
    let out = env.run_bare(&["verify", "--jwks", "public.json", "x.y.z"]);
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));
}

/// A copy of a binary-safe fixture in the env's dir, mode 0600; its path and exact bytes.
fn fixture_copy(env: &Env, rel: &str) -> (std::path::PathBuf, Vec<u8>) {
    let bytes = std::fs::read(fixture(rel)).unwrap();
    let path = env.path(
        std::path::Path::new(rel)
            .file_name()
            .unwrap()
            .to_str()
            .unwrap(),
    );
    std::fs::write(&path, &bytes).unwrap();
    chmod(&path, 0o600);
    (path, bytes)
}

/// An HS256 token MACed with `secret`: what an attacker makes from a key file anyone can read.
fn maced_with(secret: &[u8]) -> String {
    crate::common::sign_raw(
        r#"{"alg":"HS256","typ":"JWT"}"#,
        &json!({"sub": "forged", "exp": now() + 600}).to_string(),
        &jsonwebtoken::EncodingKey::from_secret(secret),
        jsonwebtoken::Algorithm::HS256,
    )
}

/// Every key file kind jwtctl reads (a public or private key, in PEM, DER, JWK, certificate or
/// text variants), with the private key whose tokens it must accept.
const READABLE: [(&str, &str); 27] = [
    ("formats/rsa_pub_spki.der", "keys/rsa_pkcs8.pem"),
    ("formats/rsa_pub_pkcs1.der", "keys/rsa_pkcs8.pem"),
    ("formats/rsa_pkcs1.der", "keys/rsa_pkcs8.pem"),
    ("formats/rsa_pkcs8.der", "keys/rsa_pkcs8.pem"),
    ("formats/rsa_cert.pem", "keys/rsa_pkcs8.pem"),
    ("formats/rsa_cert.der", "keys/rsa_pkcs8.pem"),
    ("formats/rsa_cert_expired.pem", "keys/rsa_pkcs8.pem"),
    ("formats/chain_rsa_leaf.pem", "keys/rsa_pkcs8.pem"),
    ("formats/rsa_pub_bom.pem", "keys/rsa_pkcs8.pem"),
    ("formats/rsa_public_bom.jwk", "keys/rsa_pkcs8.pem"),
    ("formats/rsa_bag.pem", "keys/rsa_pkcs8.pem"),
    ("formats/rsa_bag_key_only.pem", "keys/rsa_pkcs8.pem"),
    ("formats/rsa_private_jose.jwk", "keys/rsa_pkcs8.pem"),
    ("formats/rsa_private_jwcrypto.jwk", "keys/rsa_pkcs8.pem"),
    ("formats/rsa_private_nocrt.jwk", "keys/rsa_pkcs8.pem"),
    ("formats/ec256_pub.der", "keys/ec256_pkcs8.pem"),
    ("formats/ec256_sec1.der", "keys/ec256_pkcs8.pem"),
    ("formats/ec256_pkcs8.der", "keys/ec256_pkcs8.pem"),
    ("formats/ec256_cert.pem", "keys/ec256_pkcs8.pem"),
    ("formats/ec256_cert.der", "keys/ec256_pkcs8.pem"),
    ("formats/ec256_pub_ws.pem", "keys/ec256_pkcs8.pem"),
    ("formats/ec384_pub.der", "keys/ec384_pkcs8.pem"),
    ("formats/ec384_cert.pem", "keys/ec384_pkcs8.pem"),
    ("formats/ed25519_pkcs8.der", "keys/ed25519.pem"),
    ("formats/ed25519_pub.der", "keys/ed25519.pem"),
    ("formats/ed25519_cert.der", "keys/ed25519.pem"),
    ("formats/ec521_pub.der", "keys/ec521_sec1.pem"),
];

/// Key files jwtctl refuses, with a word the refusal must carry to lead to the fix.
const REFUSED: [(&str, &str); 12] = [
    ("formats/ssh_rsa.pub", "ssh-keygen -e -m PKCS8"),
    ("formats/ssh_ed25519.pub", "ssh-keygen -e -m PKCS8"),
    ("formats/ssh_ecdsa256.pub", "ssh-keygen -e -m PKCS8"),
    ("formats/ssh2_rsa.pub", "ssh-keygen -e -m PKCS8"),
    ("formats/ssh_ed25519", "OpenSSH private key"),
    ("formats/dsa_pub.der", "P-256/P-384"),
    ("formats/rsa_pkcs8_encrypted.der", "encrypted"),
    ("formats/rsa_pkcs8_encrypted.pem", "encrypted"),
    ("formats/rsa_traditional_encrypted.pem", "encrypted"),
    ("formats/ec256_traditional_encrypted.pem", "encrypted"),
    ("formats/rsa1024.pem", "1024 bits"),
    ("formats/rsa1024_pub.jwk", "1024 bits"),
];

#[test]
fn a_token_maced_with_a_key_files_bytes_is_never_accepted() {
    let env = Env::new();
    for (rel, _) in READABLE.iter().chain(REFUSED.iter()) {
        let (path, bytes) = fixture_copy(&env, rel);
        let forged = maced_with(&bytes);
        for alg in [&[][..], &["--alg", "HS256"]] {
            let out = env
                .bare()
                .args(["verify", "--key-file"])
                .arg(&path)
                .args(alg)
                .arg(&forged)
                .output()
                .unwrap();
            assert_ne!(
                out.status.code(),
                Some(0),
                "{rel} {alg:?} accepted a forgery"
            );
            assert_eq!(stdout(&out), "", "{rel}");
        }
        // The same bytes in the secret variable are judged the same way (text formats only:
        // a variable cannot hold a NUL byte).
        if let Ok(text) = std::str::from_utf8(&bytes).map(|t| t.replace('\0', ""))
            && text.len() == bytes.len()
        {
            let out = env
                .bare()
                .env("JWTCTL_SECRET", &text)
                .args(["verify", &forged])
                .output()
                .unwrap();
            assert_ne!(out.status.code(), Some(0), "{rel} in JWTCTL_SECRET");
        }
    }
}

#[test]
fn genuine_tokens_verify_with_every_key_file_kind() {
    let env = Env::new();
    for (rel, private) in READABLE {
        let out = env.issue_with_fixture(private);
        assert!(out.status.success(), "{}", stderr(&out));
        let (path, _) = fixture_copy(&env, rel);
        let out = env
            .bare()
            .args(["verify", "--key-file"])
            .arg(&path)
            .arg(stdout(&out).trim())
            .output()
            .unwrap();
        assert!(out.status.success(), "{rel}: {}", stderr(&out));
    }
}

#[test]
fn unreadable_key_kinds_are_key_errors_naming_the_fix() {
    let env = Env::new();
    for (rel, hint) in REFUSED {
        let (path, _) = fixture_copy(&env, rel);
        for op in ["verify", "issue"] {
            let out = env
                .bare()
                .arg(op)
                .arg("--key-file")
                .arg(&path)
                .arg(if op == "verify" { "a.b.c" } else { "--sub=x" })
                .output()
                .unwrap();
            assert_refused(&env, &out, 2, "key_error");
            assert!(stderr(&out).contains(hint), "{rel} {op}: {}", stderr(&out));
        }
    }
}

#[test]
fn private_der_and_jwk_keys_sign_with_their_own_algorithm() {
    let env = Env::new();
    for (rel, alg, public) in [
        ("formats/rsa_pkcs8.der", "RS256", "keys/rsa_pub_spki.pem"),
        ("formats/rsa_pkcs1.der", "RS256", "keys/rsa_pub_spki.pem"),
        ("formats/ec256_sec1.der", "ES256", "keys/ec256_pub.pem"),
        ("formats/ed25519_pkcs8.der", "EdDSA", "keys/ed25519_pub.pem"),
        (
            "formats/rsa_private_jose.jwk",
            "RS256",
            "keys/rsa_pub_spki.pem",
        ),
        (
            "formats/rsa_private_jwcrypto.jwk",
            "RS256",
            "keys/rsa_pub_spki.pem",
        ),
        (
            "formats/rsa_private_nocrt.jwk",
            "RS256",
            "keys/rsa_pub_spki.pem",
        ),
    ] {
        let (path, _) = fixture_copy(&env, rel);
        let out = env
            .bare()
            .arg("issue")
            .arg("--key-file")
            .arg(&path)
            .output()
            .unwrap();
        assert!(out.status.success(), "{rel}: {}", stderr(&out));
        let token = stdout(&out).trim().to_string();
        assert_eq!(crate::common::parts(&token).0["alg"], alg, "{rel}");
        let verified = env
            .bare()
            .args(["verify", "--key-file"])
            .arg(env.key(public))
            .arg(&token)
            .output()
            .unwrap();
        assert!(verified.status.success(), "{rel}: {}", stderr(&verified));
        // And the private JWK refreshes what it issued.
        let refreshed = env
            .bare()
            .args(["refresh", "--no-ledger", "--key-file"])
            .arg(&path)
            .arg(&token)
            .output()
            .unwrap();
        assert!(refreshed.status.success(), "{rel}: {}", stderr(&refreshed));
    }
}

#[test]
fn rsa_private_jwks_verify_tokens_from_jose_and_jwcrypto() {
    let env = Env::new();
    for jwk in [
        "formats/rsa_private_jose.jwk",
        "formats/rsa_private_jwcrypto.jwk",
        "formats/rsa_private_nocrt.jwk",
    ] {
        let (path, _) = fixture_copy(&env, jwk);
        for (token, alg) in [
            ("formats/rsa_jose.jwt", "RS256"),
            ("formats/rsa_jwcrypto.jwt", "RS256"),
            ("formats/rsa_jose_ps256.jwt", "PS256"),
        ] {
            let out = env
                .bare()
                .args(["verify", "--alg", alg, "--key-file"])
                .arg(&path)
                .arg(crate::common::fixture_text(token).trim())
                .output()
                .unwrap();
            assert!(out.status.success(), "{jwk} {token}: {}", stderr(&out));
        }
    }
}

#[test]
fn a_1024_bit_rsa_key_is_refused_for_its_size_by_every_command() {
    let env = Env::new();
    let token = crate::common::fixture_text("formats/rsa1024.jwt");
    crate::common::stores::init(&env, "l.db");
    for rel in [
        "formats/rsa1024.pem",
        "formats/rsa1024_pub.pem",
        "formats/rsa1024_pub.jwk",
    ] {
        let (path, _) = fixture_copy(&env, rel);
        for args in [
            &["verify", token.trim()][..],
            &["refresh", "--no-ledger", token.trim()],
            &["issue"],
            &["revoke", "--ledger", "l.db", token.trim()],
        ] {
            let out = env
                .bare()
                .arg(args[0])
                .arg("--key-file")
                .arg(&path)
                .args(&args[1..])
                .output()
                .unwrap();
            assert_refused(&env, &out, 2, "key_error");
            let err = stderr(&out);
            assert!(
                err.contains("1024 bits") && err.contains("2048"),
                "{rel}: {err}"
            );
        }
    }
}

#[test]
fn a_jwk_set_of_oct_keys_of_different_strengths_serves_each_at_its_own() {
    let env = Env::new();
    let (set, _) = fixture_copy(&env, "formats/jwks_oct_mixed.json");
    for token in ["formats/oct_hs384.jwt", "formats/oct_hs256.jwt"] {
        let out = env
            .bare()
            .args(["verify", "--jwks"])
            .arg(&set)
            .arg(crate::common::fixture_text(token).trim())
            .output()
            .unwrap();
        assert!(out.status.success(), "{token}: {}", stderr(&out));
    }
    // The 32-byte HS256 key is never a candidate for HS384, even when a token names it.
    let text = std::fs::read_to_string(&set).unwrap();
    let jwks: serde_json::Value = serde_json::from_str(&text).unwrap();
    let short = jwks["keys"][1]["k"].as_str().unwrap();
    let short =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, short).unwrap();
    let hs384_with_short_key = crate::common::sign_raw(
        r#"{"alg":"HS384","kid":"hs256"}"#,
        &json!({"exp": now() + 600}).to_string(),
        &jsonwebtoken::EncodingKey::from_secret(&short),
        jsonwebtoken::Algorithm::HS384,
    );
    let out = env
        .bare()
        .args(["verify", "--alg", "HS384", "--jwks"])
        .arg(&set)
        .arg(&hs384_with_short_key)
        .output()
        .unwrap();
    crate::common::assert_rejected(&env, &out, "no_matching_key");
}

#[test]
fn stderr_never_repeats_a_token_or_a_secret_given_by_mistake() {
    let env = Env::new();
    let token = env.issue(&["--sub", "alice"]);
    let secret = "s3cr3t value/with+chars==";
    for (args, leaked) in [
        (vec!["verify", "--secret-env", secret, &token], secret),
        (
            vec!["verify", "--secret-env", "hunter2-is-my-password", &token],
            "hunter2",
        ),
        (vec!["verify", &token, &token], token.as_str()),
        (vec![&token], token.as_str()),
        (vec!["verify", "--secret=hunter2hunter2", &token], "hunter2"),
        // Values clap repeats in its message, however they are shaped: a quote inside, or
        // newlines that could pose as clap's usage line, a suggestion or possible values.
        (vec!["issue", "--typ", "it's hunter2 hunter2"], "hunter2"),
        (vec!["issue", "--typ=it's hunter2"], "hunter2"),
        (vec!["verify", &token, "x\nUsage: hunter2"], "hunter2"),
        (vec!["verify", &token, "x\na similar hunter2"], "hunter2"),
        (
            vec!["verify", &token, "x\n  [possible values: hunter2]"],
            "hunter2",
        ),
        (
            vec!["verify", "--output", "json", &token, "x\nUsage: hunter2"],
            "hunter2",
        ),
    ] {
        let out = env.run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        // One line: on stderr, or with --output json the verdict on stdout.
        let err = stderr(&out) + &crate::common::stdout(&out);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(!err.contains(leaked), "{args:?} echoed: {err}");
        assert!(!env.log_text().contains(leaked), "the log holds it");
    }
}

#[test]
fn encrypted_pkcs8_keys_work_with_a_password_from_a_file_or_a_variable() {
    let env = Env::new();
    let (pw, _) = fixture_copy(&env, "formats/password.txt");
    env.write("wrong.txt", "not-the-password\n");
    for rel in [
        "formats/rsa_pkcs8_encrypted.pem",
        "formats/rsa_pkcs8_encrypted.der",
    ] {
        let (key, _) = fixture_copy(&env, rel);
        let from_file = env
            .bare()
            .arg("issue")
            .arg("--key-file")
            .arg(&key)
            .arg("--password-file")
            .arg(&pw)
            .output()
            .unwrap();
        assert!(from_file.status.success(), "{rel}: {}", stderr(&from_file));
        let token = stdout(&from_file).trim().to_string();
        let checked = env
            .bare()
            .args(["verify", "--key-file"])
            .arg(env.key("keys/rsa_pub_spki.pem"))
            .arg(&token)
            .output()
            .unwrap();
        assert!(checked.status.success(), "{}", stderr(&checked));
        let from_env = env
            .bare()
            .env("KEY_PASSWORD", "test-password")
            .arg("issue")
            .arg("--key-file")
            .arg(&key)
            .args(["--password-env", "KEY_PASSWORD"])
            .output()
            .unwrap();
        assert!(from_env.status.success(), "{}", stderr(&from_env));
        let wrong = env
            .bare()
            .arg("issue")
            .arg("--key-file")
            .arg(&key)
            .args(["--password-file", "wrong.txt"])
            .output()
            .unwrap();
        assert_refused(&env, &wrong, 2, "key_error");
        assert!(stderr(&wrong).contains("password"), "{}", stderr(&wrong));
    }
}

#[test]
fn key_gen_writes_an_encrypted_key_that_openssl_and_jwtctl_open() {
    let env = Env::new();
    env.write("pw.txt", "correct horse battery staple\n");
    let out = env.run_bare(&[
        "key",
        "gen",
        "--type",
        "ec",
        "--out",
        "enc.pem",
        "--password-file",
        "pw.txt",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let pem = std::fs::read_to_string(env.path("enc.pem")).unwrap();
    assert!(
        pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"),
        "{pem}"
    );
    let passin = format!("file:{}", env.path("pw.txt").display());
    crate::common::pipe_through(
        "openssl",
        &["pkey", "-passin", &passin, "-noout"],
        pem.as_bytes(),
    );
    let issued = env.run_bare(&[
        "issue",
        "--key-file",
        "enc.pem",
        "--password-file",
        "pw.txt",
    ]);
    assert!(issued.status.success(), "{}", stderr(&issued));
    let without = env.run_bare(&["issue", "--key-file", "enc.pem"]);
    assert_refused(&env, &without, 2, "key_error");
    assert!(
        stderr(&without).contains("--password-file"),
        "{}",
        stderr(&without)
    );
}

#[test]
fn an_encoded_secret_means_its_decoded_bytes() {
    use base64::Engine as _;
    let env = Env::new();
    let raw: Vec<u8> = (0u8..32).map(|i| i.wrapping_mul(37) ^ 0x5a).collect();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&raw);
    let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    env.write("b64.key", &format!("{b64}\n"));
    env.write("hex.key", &format!("{hex}\n"));
    // What a service that decodes `openssl rand -base64 32` signs with: the 32 bytes.
    let token = crate::common::sign_raw(
        r#"{"alg":"HS256"}"#,
        &json!({"exp": now() + 600}).to_string(),
        &jsonwebtoken::EncodingKey::from_secret(&raw),
        jsonwebtoken::Algorithm::HS256,
    );
    for (file, encoding) in [("b64.key", "base64"), ("hex.key", "hex")] {
        let out = env.run_bare(&[
            "verify",
            "--key-file",
            file,
            "--secret-encoding",
            encoding,
            &token,
        ]);
        assert!(out.status.success(), "{file}: {}", stderr(&out));
        let raw_read = env.run_bare(&["verify", "--key-file", file, &token]);
        assert_eq!(
            raw_read.status.code(),
            Some(1),
            "as raw text it is another secret"
        );
    }
    let out = env
        .bare()
        .env("ENC_SECRET", &b64)
        .args([
            "verify",
            "--secret-env",
            "ENC_SECRET",
            "--secret-encoding",
            "base64",
            &token,
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    // The length rule counts decoded bytes: 16 bytes are too few for HS256.
    env.write(
        "short.key",
        &base64::engine::general_purpose::STANDARD.encode([7u8; 16]),
    );
    let out = env.run_bare(&[
        "verify",
        "--key-file",
        "short.key",
        "--secret-encoding",
        "base64",
        &token,
    ]);
    assert_refused(&env, &out, 2, "key_error");
    assert!(stderr(&out).contains("16 bytes"), "{}", stderr(&out));
}

/// Invariant (issue 20 §2): decoded secrets are classified as raw ones are. A token MACed with
/// the bytes of a public key is refused whether those bytes reach jwtctl as base64, base64url or
/// hex (in a file or a variable) or as an `oct` JWK's `k` (a key file or a JWK Set).
#[test]
fn key_material_is_never_an_hmac_secret_however_it_is_encoded() {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    let env = Env::new();
    let pem = std::fs::read(fixture("keys/ec256_pub.pem")).unwrap();
    let der = crate::common::pipe_through("openssl", &["pkey", "-pubin", "-outform", "DER"], &pem);
    let jwk = stdout(&env.run_bare(&[
        "key",
        "public",
        "--key-file",
        env.key("keys/ec256_pub.pem").to_str().unwrap(),
    ]));
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    // (what the file holds, --secret-encoding, the bytes a forger MACs with)
    let cases: [(String, &str, &[u8]); 5] = [
        (STANDARD.encode(&pem), "base64", &pem),
        (URL_SAFE_NO_PAD.encode(&pem), "base64url", &pem),
        (hex(&der), "hex", &der),
        (STANDARD.encode(&der), "base64", &der),
        (STANDARD.encode(jwk.as_bytes()), "base64", jwk.as_bytes()),
    ];
    for (i, (text, encoding, bytes)) in cases.iter().enumerate() {
        let forged = crate::common::sign_raw(
            r#"{"alg":"HS256"}"#,
            &json!({"sub": "mallory", "exp": now() + 600}).to_string(),
            &jsonwebtoken::EncodingKey::from_secret(bytes),
            jsonwebtoken::Algorithm::HS256,
        );
        let file = format!("enc{i}.key");
        env.write(&file, &format!("{text}\n"));
        let out = env.run_bare(&[
            "verify",
            "--key-file",
            &file,
            "--secret-encoding",
            encoding,
            &forged,
        ]);
        assert_refused(&env, &out, 2, "key_error");
        assert!(
            stderr(&out).contains("never an HMAC secret"),
            "{}",
            stderr(&out)
        );
        let out = env
            .bare()
            .env("JWTCTL_SECRET", text)
            .args(["verify", "--secret-encoding", encoding, &forged])
            .output()
            .unwrap();
        assert_refused(&env, &out, 2, "key_error");
    }
    // An oct JWK whose k is a public PEM: refused as a key file and skipped in a set.
    let k = URL_SAFE_NO_PAD.encode(&pem);
    env.write("oct.json", &json!({"kty": "oct", "k": k}).to_string());
    env.write(
        "set.json",
        &json!({"keys": [{"kty": "oct", "kid": "x", "k": k}]}).to_string(),
    );
    let forged = crate::common::sign_raw(
        r#"{"alg":"HS256","kid":"x"}"#,
        &json!({"exp": now() + 600}).to_string(),
        &jsonwebtoken::EncodingKey::from_secret(&pem),
        jsonwebtoken::Algorithm::HS256,
    );
    let out = env.run_bare(&["verify", "--key-file", "oct.json", &forged]);
    assert_refused(&env, &out, 2, "key_error");
    let out = env.run_bare(&["verify", "--jwks", "set.json", &forged]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(stdout(&out), "");
    // A genuine random secret, base64-encoded, still works (the check is not a blanket refusal).
    let raw: Vec<u8> = (0u8..48)
        .map(|i| i.wrapping_mul(97).wrapping_add(13))
        .collect();
    env.write("good.key", &STANDARD.encode(&raw));
    let token = crate::common::sign_raw(
        r#"{"alg":"HS256"}"#,
        &json!({"exp": now() + 600}).to_string(),
        &jsonwebtoken::EncodingKey::from_secret(&raw),
        jsonwebtoken::Algorithm::HS256,
    );
    let out = env.run_bare(&[
        "verify",
        "--key-file",
        "good.key",
        "--secret-encoding",
        "base64",
        &token,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// Invariant (issue 20 §16): a password is never empty, and a password file other users can
/// read is warned about as a key file is.
#[test]
fn password_files_are_judged_like_key_files() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    env.write("empty.txt", "\n");
    let out = env.run_bare(&[
        "key",
        "gen",
        "--type",
        "ec",
        "--out",
        "k.pem",
        "--password-file",
        "empty.txt",
    ]);
    assert_refused(&env, &out, 2, "key_error");
    assert!(stderr(&out).contains("empty"), "{}", stderr(&out));
    assert!(
        !env.path("k.pem").exists(),
        "no key made before the refusal"
    );
    let (pw, _) = fixture_copy(&env, "formats/password.txt");
    std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = env
        .bare()
        .args([
            "--log-level",
            "info",
            "key",
            "gen",
            "--type",
            "ec",
            "--out",
            "k.pem",
        ])
        .arg("--password-file")
        .arg(&pw)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("password file") && stderr(&out).contains("chmod 600"),
        "{}",
        stderr(&out)
    );
    assert!(
        env.log()
            .iter()
            .any(|r| r["level"] == "WARN" && r["event"] == "password_file_exposed"),
        "{}",
        env.log_text()
    );
}

/// Issue 20 §2, found by an outside attack: key material dressed as text is key material too.
/// Each (file contents, --secret-encoding, bytes a forger MACs with) is refused through a key
/// file and through JWTCTL_SECRET, and an oct JWK's `k` with such bytes is refused.
#[test]
fn key_material_dressed_as_text_is_never_an_hmac_secret() {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    let env = Env::new();
    let read = |rel: &str| std::fs::read(fixture(rel)).unwrap();
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let spki = read("formats/rsa_pub_spki.der");
    let cert = read("formats/ec256_cert.der");
    let pem = read("keys/ec256_pub.pem");
    let ssh = String::from_utf8(read("formats/ssh_ed25519.pub")).unwrap();
    let ssh_body = ssh.split_whitespace().nth(1).unwrap().to_string();
    let mut utf16 = vec![0xFF, 0xFE];
    for unit in String::from_utf8(pem.clone()).unwrap().encode_utf16() {
        utf16.extend_from_slice(&unit.to_le_bytes());
    }
    let (pub_pem, _) = fixture_copy(&env, "keys/ec256_pub.pem");
    let jwk = stdout(&env.run_bare(&["key", "public", "--key-file", pub_pem.to_str().unwrap()]));
    let mut jwk_nul = jwk.trim_end().as_bytes().to_vec();
    jwk_nul.push(0);
    let mut der_nl = spki.clone();
    der_nl.push(b'\n');
    let rsa1024 = crate::common::pipe_through(
        "openssl",
        &["pkey", "-pubin", "-outform", "DER"],
        &read("formats/rsa1024_pub.pem"),
    );
    let csr_body: String = String::from_utf8(read("keys/csr.pem"))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let raw = |text: String| (text.into_bytes(), "raw");
    let cases: Vec<(Vec<u8>, &str)> = vec![
        raw(STANDARD.encode(&spki)), // a "public key" as Keycloak shows it
        raw(STANDARD.encode(&cert)), // an x5c value
        raw(hex(&spki)),             // hex text of DER
        raw(ssh_body.clone()),       // an SSH key's body
        (utf16.clone(), "raw"),      // PowerShell's `>`
        (hex(STANDARD.encode(&pem).as_bytes()).into_bytes(), "hex"), // hex of base64 of a PEM
        (STANDARD.encode(&jwk_nul).into_bytes(), "base64"), // a JWK and a NUL
        (STANDARD.encode(&der_nl).into_bytes(), "base64"), // DER and a newline
        raw(hex(&rsa1024)),          // a key jwtctl itself refuses (1024 bits)
        raw(csr_body.clone()),       // a certificate request's body
    ];
    for (i, (contents, encoding)) in cases.iter().enumerate() {
        let file = format!("dressed{i}.key");
        std::fs::write(env.path(&file), contents).unwrap();
        let forged = crate::common::sign_raw(
            r#"{"alg":"HS256"}"#,
            &json!({"sub": "mallory", "exp": now() + 600}).to_string(),
            &jsonwebtoken::EncodingKey::from_secret(contents),
            jsonwebtoken::Algorithm::HS256,
        );
        let out = env.run_bare(&[
            "verify",
            "--key-file",
            &file,
            "--secret-encoding",
            encoding,
            &forged,
        ]);
        assert_refused(&env, &out, 2, "key_error");
        if let Ok(text) = std::str::from_utf8(contents) {
            let out = env
                .bare()
                .env("JWTCTL_SECRET", text)
                .args(["issue", "--secret-encoding", encoding, "--sub", "admin"])
                .output()
                .unwrap();
            assert_refused(&env, &out, 2, "key_error");
        }
    }
    for k in [&der_nl, &jwk_nul, &STANDARD.encode(&spki).into_bytes()] {
        env.write(
            "oct.json",
            &json!({"kty": "oct", "k": URL_SAFE_NO_PAD.encode(k)}).to_string(),
        );
        let out = env.run_bare(&["issue", "--key-file", "oct.json"]);
        assert_refused(&env, &out, 2, "key_error");
    }
}

/// A password of nothing but whitespace, NULs or a byte-order mark is what an editor or `echo`
/// leaves, never one anyone chose: refused as empty, from a file and from a variable, for
/// reading a key and for writing one (`key gen`), and no key is written.
#[test]
fn a_blank_password_is_refused_as_empty() {
    let env = Env::new();
    let (key, _) = fixture_copy(&env, "formats/rsa_pkcs8_encrypted.pem");
    let blanks: [&[u8]; 7] = [
        b"   ",
        b" \n",
        b"\t\n",
        b"\n\n",
        b"\0",
        b"\xEF\xBB\xBF",
        b"\xEF\xBB\xBF \r\n",
    ];
    for blank in blanks {
        std::fs::write(env.path("pw.txt"), blank).unwrap();
        for args in [
            vec!["issue", "--key-file", key.to_str().unwrap()],
            vec!["key", "gen", "--out", "new.pem"],
        ] {
            let out = env
                .bare()
                .args(&args)
                .args(["--password-file", "pw.txt"])
                .output()
                .unwrap();
            assert_refused(&env, &out, 2, "key_error");
            assert!(
                stderr(&out).contains("the password file pw.txt is empty"),
                "{blank:?}: {}",
                stderr(&out)
            );
            assert!(
                !env.path("new.pem").exists(),
                "{blank:?}: a key was written"
            );
        }
    }
    for blank in ["  ", " \t\n"] {
        let out = env
            .bare()
            .env("KEY_PASSWORD", blank)
            .args([
                "key",
                "gen",
                "--out",
                "new.pem",
                "--password-env",
                "KEY_PASSWORD",
            ])
            .output()
            .unwrap();
        assert_refused(&env, &out, 2, "key_error");
        assert!(
            stderr(&out).contains("variable KEY_PASSWORD is empty"),
            "{}",
            stderr(&out)
        );
        assert!(!env.path("new.pem").exists());
    }
}
