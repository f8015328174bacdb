//! ES512 (P-521) and RFC 9864's fully-specified `Ed25519`: issued, verified, refreshed, pinned
//! and published like every other algorithm, and interoperable both ways with PyJWT, jwcrypto
//! and node jose.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use crate::common::{Env, assert_refused, assert_rejected, needs, parts, stderr, stdout};

/// `jwtctl ARGS` (no key configured) must succeed; its stdout, trimmed.
fn ok(env: &Env, args: &[&str]) -> String {
    let out = env.run_bare(args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    stdout(&out).trim().to_string()
}

#[test]
fn es512_keys_are_made_issue_verify_refresh_and_publish() {
    let env = Env::new();
    ok(
        &env,
        &[
            "key", "gen", "--type", "ec", "--curve", "P-521", "--out", "p521.pem",
        ],
    );
    let token = ok(
        &env,
        &[
            "--log-level",
            "info",
            "issue",
            "--key-file",
            "p521.pem",
            "--sub",
            "alice",
        ],
    );
    let (header, _) = parts(&token);
    let print = ok(&env, &["key", "thumbprint", "--key-file", "p521.pem"]);
    assert_eq!(header["alg"], "ES512");
    assert_eq!(header["kid"], print.as_str());
    let signature = URL_SAFE_NO_PAD
        .decode(token.rsplit_once('.').unwrap().1)
        .unwrap();
    assert_eq!(signature.len(), 132, "JOSE's fixed-length r || s");
    let record = env.log().pop().unwrap();
    assert_eq!(
        (&record["op"], &record["alg"]),
        (&"issue".into(), &"ES512".into())
    );

    let jwk: Value =
        serde_json::from_str(&ok(&env, &["key", "public", "--key-file", "p521.pem"])).unwrap();
    assert_eq!((&jwk["kty"], &jwk["crv"]), (&"EC".into(), &"P-521".into()));
    assert_eq!(jwk["alg"], "ES512");
    assert_eq!(jwk["kid"], print.as_str());
    for coord in ["x", "y"] {
        let bytes = URL_SAFE_NO_PAD
            .decode(jwk[coord].as_str().unwrap())
            .unwrap();
        assert_eq!(
            bytes.len(),
            66,
            "{coord} of a P-521 point (RFC 7518 §6.2.1.2)"
        );
    }
    env.write("pub.jwk", &jwk.to_string());
    let pem = ok(
        &env,
        &["key", "public", "--key-file", "p521.pem", "--format", "pem"],
    );
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"), "{pem}");
    env.write("pub.pem", &format!("{pem}\n"));
    let set = ok(
        &env,
        &[
            "key",
            "public",
            "--key-file",
            "p521.pem",
            "--format",
            "jwks",
        ],
    );
    env.write("set.json", &set);
    for key in [
        &["--key-file", "pub.pem"][..],
        &["--key-file", "pub.jwk"],
        &["--jwks", "set.json"],
        &["--key-file", "pub.pem", "--alg", "ES512"],
    ] {
        let out = env.run_bare(&[&["verify"][..], key, &[&token]].concat());
        assert!(out.status.success(), "{key:?}: {}", stderr(&out));
        assert_eq!(
            serde_json::from_str::<Value>(&stdout(&out)).unwrap()["sub"],
            "alice"
        );
    }
    // A forged signature, and an ES512 token where only ES256 is allowed, are rejected.
    let (input, sig) = token.rsplit_once('.').unwrap();
    let flipped = if sig.starts_with('A') { "B" } else { "A" };
    let forged = format!("{input}.{flipped}{}", &sig[1..]);
    let out = env.run_bare(&["verify", "--key-file", "pub.pem", &forged]);
    assert_rejected(&env, &out, "bad_signature");
    let out = env.run_bare(&["verify", "--key-file", "pub.pem", "--alg", "ES256", &token]);
    assert_refused(&env, &out, 2, "key_error");

    let renewed = ok(
        &env,
        &["refresh", "--no-ledger", "--key-file", "p521.pem", &token],
    );
    assert_eq!(parts(&renewed).0["alg"], "ES512");
    ok(&env, &["verify", "--key-file", "pub.jwk", &renewed]);
}

#[test]
fn ed25519_by_its_rfc_9864_name_is_issued_and_pinned_like_any_algorithm() {
    let env = Env::new();
    // A key made for the fully-specified name carries it in its JWK, and signs with it.
    ok(
        &env,
        &[
            "key", "gen", "--type", "ed25519", "--alg", "Ed25519", "--format", "jwk", "--out",
            "ed.jwk",
        ],
    );
    let jwk: Value =
        serde_json::from_str(&std::fs::read_to_string(env.path("ed.jwk")).unwrap()).unwrap();
    assert_eq!(
        (&jwk["crv"], &jwk["alg"]),
        (&"Ed25519".into(), &"Ed25519".into())
    );
    let token = ok(
        &env,
        &["--log-level", "info", "issue", "--key-file", "ed.jwk"],
    );
    assert_eq!(parts(&token).0["alg"], "Ed25519");
    assert_eq!(env.log().pop().unwrap()["alg"], "Ed25519");
    let public = ok(&env, &["key", "public", "--key-file", "ed.jwk"]);
    assert_eq!(
        serde_json::from_str::<Value>(&public).unwrap()["alg"],
        "Ed25519"
    );
    env.write("ed-pub.jwk", &public);
    ok(&env, &["verify", "--key-file", "ed-pub.jwk", &token]);

    // A PEM key implies EdDSA; Ed25519 is asked for with --alg, and a verifier pins it.
    let pem = env.key("keys/ed25519.pem");
    let pem = pem.to_str().unwrap();
    let named = ok(&env, &["issue", "--key-file", pem, "--alg", "Ed25519"]);
    assert_eq!(parts(&named).0["alg"], "Ed25519");
    let eddsa = ok(&env, &["issue", "--key-file", pem]);
    assert_eq!(parts(&eddsa).0["alg"], "EdDSA");
    let public = env.key("keys/ed25519_pub.pem");
    let public = public.to_str().unwrap();
    let out = env.run_bare(&["verify", "--key-file", public, &named]);
    assert_rejected(&env, &out, "alg_not_allowed");
    assert!(stderr(&out).contains("--alg Ed25519"), "{}", stderr(&out));
    ok(
        &env,
        &["verify", "--key-file", public, "--alg", "Ed25519", &named],
    );
    let out = env.run_bare(&["verify", "--key-file", public, "--alg", "Ed25519", &eddsa]);
    assert_rejected(&env, &out, "alg_not_allowed");
    ok(
        &env,
        &[
            "verify",
            "--key-file",
            public,
            "--alg",
            "Ed25519",
            "--alg",
            "EdDSA",
            &eddsa,
        ],
    );
    // Ed25519 is not an EC algorithm, and Ed448 is no algorithm jwtctl has.
    let ec = env.key("keys/ec256_pkcs8.pem");
    let out = env.run_bare(&[
        "issue",
        "--key-file",
        ec.to_str().unwrap(),
        "--alg",
        "Ed25519",
    ]);
    assert_refused(&env, &out, 2, "key_error");
    let out = env.run_bare(&["issue", "--key-file", pem, "--alg", "Ed448"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

/// Each library verifies jwtctl's token with the published JWK, then signs a token of its own
/// with the private PEM, which jwtctl verifies with the same JWK.
#[test]
#[ignore = "needs PyJWT, jwcrypto and node jose; to run it: pip install pyjwt jwcrypto, npm install --prefix DIR jose, export JWTCTL_NODE_MODULES=DIR/node_modules, cargo test -- --include-ignored"]
fn es512_and_ed25519_interoperate_both_ways_with_pyjwt_jwcrypto_and_node_jose() {
    if !needs::interop() {
        return;
    }
    let env = Env::new();
    ok(
        &env,
        &[
            "key",
            "gen",
            "--type",
            "ec",
            "--curve",
            "P-521",
            "--out",
            "ES512.pem",
        ],
    );
    ok(
        &env,
        &[
            "key",
            "gen",
            "--type",
            "ed25519",
            "--alg",
            "Ed25519",
            "--out",
            "Ed25519.pem",
        ],
    );
    const PYJWT: &str = r#"
import json, sys, jwt
alg, jwk, pem, token = sys.argv[1:5]
key = jwt.PyJWK(json.loads(jwk))
assert jwt.decode(token, key.key, algorithms=[alg])["sub"] == "interop"
print(jwt.encode({"sub": "pyjwt", "exp": 4102444800}, open(pem).read(), algorithm=alg))
"#;
    const JWCRYPTO: &str = r#"
import json, sys
from jwcrypto import jwk, jwt
alg, public, pem, token = sys.argv[1:5]
key = jwk.JWK.from_json(public)
checked = jwt.JWT(jwt=token, key=key, algs=[alg])
assert json.loads(checked.claims)["sub"] == "interop"
private = jwk.JWK.from_pem(open(pem, "rb").read())
mine = jwt.JWT(header={"alg": alg}, claims={"sub": "jwcrypto", "exp": 4102444800})
mine.make_signed_token(private)
print(mine.serialize())
"#;
    const JOSE: &str = r#"
const jose = require('jose');
const fs = require('fs');
const [alg, jwk, pem, token] = process.argv.slice(1);
(async () => {
  const key = await jose.importJWK(JSON.parse(jwk), alg);
  const { payload } = await jose.jwtVerify(token, key, { algorithms: [alg] });
  if (payload.sub !== 'interop') process.exit(1);
  const priv = await jose.importPKCS8(fs.readFileSync(pem, 'utf8'), alg);
  console.log(await new jose.SignJWT({ sub: 'jose' }).setProtectedHeader({ alg })
    .setExpirationTime(4102444800).sign(priv));
})().catch(e => { console.error(e.message); process.exit(1); });
"#;
    for alg in ["ES512", "Ed25519"] {
        let pem = format!("{alg}.pem");
        let token = ok(
            &env,
            &[
                "issue",
                "--key-file",
                &pem,
                "--alg",
                alg,
                "--sub",
                "interop",
            ],
        );
        assert_eq!(parts(&token).0["alg"], alg);
        let jwk = ok(&env, &["key", "public", "--key-file", &pem, "--alg", alg]);
        env.write("pub.jwk", &jwk);
        let pem_path = env.path(&pem);
        let pem_path = pem_path.to_str().unwrap();
        let mut runs = vec![
            ("jwcrypto", "python3", vec!["-c", JWCRYPTO]),
            ("node jose", "node", vec!["-e", JOSE]),
        ];
        // PyJWT (2.x) knows ES512 but not RFC 9864's Ed25519 name.
        if alg == "ES512" {
            runs.push(("PyJWT", "python3", vec!["-c", PYJWT]));
        }
        for (library, program, mut args) in runs {
            args.extend([alg, jwk.as_str(), pem_path, token.as_str()]);
            let out = std::process::Command::new(program)
                .env("NODE_PATH", needs::node_modules().unwrap_or_default())
                .args(&args)
                .output()
                .unwrap();
            assert!(out.status.success(), "{library} {alg}: {}", stderr(&out));
            let theirs = stdout(&out).trim().to_string();
            assert_eq!(parts(&theirs).0["alg"], alg, "{library}");
            let out = env.run_bare(&["verify", "--key-file", "pub.jwk", &theirs]);
            assert!(
                out.status.success(),
                "{library} {alg} token: {}",
                stderr(&out)
            );
        }
    }
}

/// JOSE's ECDSA signature is the fixed-length `r || s` (RFC 7518 §3.4): for ES512 132 bytes.
/// The same signature DER-encoded, with its integers' leading zeros cut, or padded, is refused;
/// and a P-521 JWK whose point is off the curve, too short, or named for another curve or
/// algorithm is no key.
#[test]
fn es512_signatures_are_only_the_fixed_length_form_and_p521_jwks_are_checked() {
    let env = Env::new();
    ok(
        &env,
        &[
            "key", "gen", "--type", "ec", "--curve", "P-521", "--out", "p521.pem",
        ],
    );
    let jwk = ok(&env, &["key", "public", "--key-file", "p521.pem"]);
    env.write("pub.jwk", &jwk);
    let token = ok(&env, &["issue", "--key-file", "p521.pem"]);
    let (input, sig) = token.rsplit_once('.').unwrap();
    let raw = URL_SAFE_NO_PAD.decode(sig).unwrap();
    let (r, s) = raw.split_at(66);
    let der_int = |v: &[u8]| {
        let v = &v[v.iter().position(|&b| b != 0).unwrap()..];
        let v = if v[0] & 0x80 != 0 {
            [&[0u8][..], v].concat()
        } else {
            v.to_vec()
        };
        [&[0x02, v.len() as u8][..], &v].concat()
    };
    let body = [der_int(r), der_int(s)].concat();
    let der = [&[0x30, 0x81, body.len() as u8][..], &body].concat();
    let trimmed = [&r[1..], &s[1..]].concat();
    let padded = [&[0][..], r, &[0], s].concat();
    for bad in [der, trimmed, padded] {
        let forged = format!("{input}.{}", URL_SAFE_NO_PAD.encode(&bad));
        let out = env.run_bare(&["verify", "--key-file", "pub.jwk", &forged]);
        assert_rejected(&env, &out, "bad_signature");
    }
    ok(&env, &["verify", "--key-file", "pub.jwk", &token]);

    let jwk: Value = serde_json::from_str(&jwk).unwrap();
    let y = URL_SAFE_NO_PAD.decode(jwk["y"].as_str().unwrap()).unwrap();
    let mut off = y.clone();
    off[65] ^= 1;
    for (member, value) in [
        ("y", Value::from(URL_SAFE_NO_PAD.encode(&off))),
        ("y", Value::from(URL_SAFE_NO_PAD.encode(&y[1..]))),
        ("crv", Value::from("P-384")),
        ("alg", Value::from("ES384")),
    ] {
        let mut bad = jwk.clone();
        bad[member] = value;
        env.write("bad.jwk", &bad.to_string());
        let out = env.run_bare(&["verify", "--key-file", "bad.jwk", &token]);
        assert_refused(&env, &out, 2, "key_error");
    }
}
