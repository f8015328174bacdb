//! Keys in a PKCS#11 token (SoftHSM2, with keys made by OpenSC's pkcs11-tool): signing in the
//! token for every algorithm it has, verifying from the published JWK, and refusals that say
//! what to do without ever showing the PIN. The tests that need SoftHSM2 and OpenSC are ignored
//! unless asked (`common::needs::pkcs11`); `.ci/run` installs both and requires them.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::common::{Env, assert_refused, needs, parts, stderr, stdout};

const PIN: &str = "pin-7394-never-shown";

/// A SoftHSM2 token `ci` (user PIN [`PIN`]) in a temp dir of the test's own, with keys made by
/// pkcs11-tool: `ec256`, `ec521`, `rsa` (2048 bits) and `ed`.
struct Hsm {
    env: Env,
    conf: PathBuf,
    module: PathBuf,
}

impl Hsm {
    /// The token, made with SoftHSM2's `module` (from [`needs::pkcs11`]).
    fn new(module: PathBuf) -> Hsm {
        let env = Env::new();
        let tokens = env.path("tokens");
        std::fs::create_dir(&tokens).unwrap();
        let conf = env.write(
            "softhsm2.conf",
            &format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                tokens.display()
            ),
        );
        let hsm = Hsm { env, conf, module };
        hsm.tool(
            "softhsm2-util",
            &[
                "--init-token",
                "--free",
                "--label",
                "ci",
                "--so-pin",
                "so-pin-1",
                "--pin",
                PIN,
            ],
        );
        for (label, id, kind) in [
            ("ec256", "01", "EC:secp256r1"),
            ("ec521", "02", "EC:secp521r1"),
            ("rsa", "03", "rsa:2048"),
            ("ed", "04", "EC:edwards25519"),
        ] {
            let module = hsm.module.to_str().unwrap().to_owned();
            hsm.tool(
                "pkcs11-tool",
                &[
                    "--module",
                    &module,
                    "--token-label",
                    "ci",
                    "--login",
                    "--pin",
                    PIN,
                    "--keypairgen",
                    "--key-type",
                    kind,
                    "--label",
                    label,
                    "--id",
                    id,
                ],
            );
        }
        hsm
    }

    fn tool(&self, program: &str, args: &[&str]) -> String {
        let out = Command::new(program)
            .env("SOFTHSM2_CONF", &self.conf)
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{program} {args:?}: {}", stderr(&out));
        stdout(&out)
    }

    /// The objects labelled `label`, as the module shows them to OpenSC's pkcs11-tool after a
    /// login: each one's first line (`Private Key Object; EC`) and its `Access:` flags.
    fn objects(&self, label: &str) -> Vec<(String, Vec<String>)> {
        let module = self.module.to_str().unwrap().to_owned();
        let listing = self.tool(
            "pkcs11-tool",
            &[
                "--module",
                &module,
                "--token-label",
                "ci",
                "--login",
                "--pin",
                PIN,
                "--list-objects",
            ],
        );
        let mut objects = Vec::new();
        let mut current: Option<(String, Option<String>, Vec<String>)> = None;
        for line in listing.lines().chain(["end"]) {
            if !line.starts_with(' ') {
                if let Some((head, Some(l), access)) = current.take()
                    && l == label
                {
                    objects.push((head, access));
                }
                current = Some((line.to_owned(), None, Vec::new()));
            } else if let Some((_, l, access)) = current.as_mut() {
                let (name, value) = line.trim().split_once(':').unwrap_or((line, ""));
                match name {
                    "label" => *l = Some(value.trim().to_owned()),
                    "Access" => *access = value.split(',').map(|a| a.trim().to_owned()).collect(),
                    _ => {}
                }
            }
        }
        objects
    }

    /// The `Access:` flags of the one private key labelled `label`.
    fn private_access(&self, label: &str) -> Vec<String> {
        let private: Vec<_> = self
            .objects(label)
            .into_iter()
            .filter(|(head, _)| head.starts_with("Private Key Object"))
            .collect();
        assert_eq!(
            private.len(),
            1,
            "one private key labelled {label}: {private:?}"
        );
        private.into_iter().next().unwrap().1
    }

    /// jwtctl with the token's module and configuration, and nothing else set.
    fn jwtctl(&self) -> assert_cmd::Command {
        let mut cmd = self.env.bare();
        cmd.env("SOFTHSM2_CONF", &self.conf)
            .env("JWTCTL_PKCS11_MODULE", &self.module);
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.jwtctl().args(args).output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        stdout(&out).trim().to_string()
    }

    /// A PIN file, mode 0600, as a careful user keeps it.
    fn pin_file(&self) -> PathBuf {
        self.env.write("pin", &format!("{PIN}\n"))
    }

    /// The PIN appears nowhere: not on stdout, stderr, nor in the security log.
    fn assert_pin_unseen(&self, out: &Output) {
        for (what, text) in [
            ("stdout", stdout(out)),
            ("stderr", stderr(out)),
            ("log", self.env.log_text()),
        ] {
            assert!(!text.contains(PIN), "the PIN is in {what}: {text}");
        }
    }
}

fn uri(object: &str, pin_file: &Path) -> String {
    format!(
        "pkcs11:token=ci;object={object}?pin-source=file:{}",
        pin_file.display()
    )
}

/// jwcrypto verifies a token with a public JWK and one algorithm: argv alg, jwk, token.
const JWCRYPTO_VERIFY: &str = r#"
import json, sys
from jwcrypto import jwk, jwt
alg, public, token = sys.argv[1:4]
checked = jwt.JWT(jwt=token, key=jwk.JWK.from_json(public), algs=[alg])
assert json.loads(checked.claims)["sub"] == "hsm"
"#;

#[test]
#[ignore = "needs SoftHSM2 and OpenSC; to run it: apt-get install softhsm2 opensc, cargo test -- --include-ignored"]
fn every_algorithm_the_token_has_signs_in_the_token_and_verifies_from_the_published_jwk() {
    let Some(module) = needs::pkcs11() else {
        return;
    };
    let hsm = Hsm::new(module);
    let pin = hsm.pin_file();
    for (object, algs) in [
        ("ec256", &["ES256"][..]),
        ("ec521", &["ES512"]),
        (
            "rsa",
            &["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"],
        ),
        ("ed", &["EdDSA", "Ed25519"]),
    ] {
        let key = uri(object, &pin);
        let print = hsm.ok(&["key", "thumbprint", "--key-file", &key]);
        for alg in algs {
            // The public half needs no PIN: published from the token's public key object.
            let public = format!("pkcs11:token=ci;object={object}");
            let jwk = hsm.ok(&["key", "public", "--key-file", &public, "--alg", alg]);
            hsm.env.write("pub.jwk", &jwk);
            let jwk: Value = serde_json::from_str(&jwk).unwrap();
            assert_eq!(jwk["kid"], print.as_str(), "{object}");
            assert_eq!(jwk["alg"], *alg, "{object}");
            let token = hsm.ok(&[
                "--log-level",
                "info",
                "issue",
                "--key-file",
                &key,
                "--alg",
                alg,
                "--sub",
                "hsm",
            ]);
            let (header, _) = parts(&token);
            assert_eq!(header["alg"], *alg, "{object}");
            assert_eq!(
                header["kid"],
                print.as_str(),
                "the default kid is the thumbprint"
            );
            let record = hsm.env.log().pop().unwrap();
            assert_eq!(
                record["key_source"],
                format!(
                    "pkcs11:token=ci;object={object}?pin-source=file:{}",
                    pin.display()
                )
            );
            let out = hsm
                .env
                .run_bare(&["verify", "--key-file", "pub.jwk", "--alg", alg, &token]);
            assert!(out.status.success(), "{object} {alg}: {}", stderr(&out));
            assert_eq!(
                serde_json::from_str::<Value>(&stdout(&out)).unwrap()["sub"],
                "hsm"
            );
            hsm.assert_pin_unseen(&out);
            // An independent library verifies what the token signed, from the published JWK.
            if needs::interop() {
                let jwk_text = serde_json::to_string(&jwk).unwrap();
                let out = std::process::Command::new("python3")
                    .args(["-c", JWCRYPTO_VERIFY, alg, &jwk_text, &token])
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "jwcrypto {object} {alg}: {}",
                    stderr(&out)
                );
            }
        }
    }
    // The PIN may come from JWTCTL_PKCS11_PIN instead, and refresh re-signs in the token.
    let token = hsm.ok(&["issue", "--key-file", &uri("ec256", &pin)]);
    let out = hsm
        .jwtctl()
        .env("JWTCTL_PKCS11_PIN", PIN)
        .env("JWTCTL_KEY_FILE", "pkcs11:token=ci;object=ec256")
        .args(["refresh", "--no-ledger", &token])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(parts(stdout(&out).trim()).0["alg"], "ES256");
    hsm.assert_pin_unseen(&out);
}

#[test]
#[ignore = "needs SoftHSM2 and OpenSC; to run it: apt-get install softhsm2 opensc, cargo test -- --include-ignored"]
fn token_failures_say_what_to_do_and_never_show_the_pin() {
    let Some(module) = needs::pkcs11() else {
        return;
    };
    let hsm = Hsm::new(module);
    let refused = |args: &[&str], code: i32, reason: &str, says: &str, pin: Option<&str>| {
        let mut cmd = hsm.jwtctl();
        if let Some(pin) = pin {
            cmd.env("JWTCTL_PKCS11_PIN", pin);
        }
        let out = cmd.args(args).output().unwrap();
        assert_refused(&hsm.env, &out, code, reason);
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
        hsm.assert_pin_unseen(&out);
        stderr(&out)
    };
    let key = "pkcs11:token=ci;object=rsa";
    refused(
        &["issue", "--key-file", key],
        2,
        "key_error",
        "needs its PIN",
        None,
    );
    let wrong = refused(
        &["issue", "--key-file", key],
        2,
        "key_error",
        "PIN is wrong",
        Some("000000"),
    );
    assert!(!wrong.contains("000000"), "{wrong}");
    refused(
        &["issue", "--key-file", "pkcs11:token=ci;object=nope"],
        2,
        "key_error",
        "no private key matches",
        Some(PIN),
    );
    let listed = refused(
        &["issue", "--key-file", "pkcs11:token=prod;object=rsa"],
        2,
        "key_error",
        "no token matches",
        Some(PIN),
    );
    assert!(
        listed.contains("'ci'"),
        "the tokens seen are listed: {listed}"
    );
    refused(
        &[
            "issue",
            "--key-file",
            "pkcs11:token=ci;object=rsa?module-path=/nonexistent/p11.so",
        ],
        2,
        "key_error",
        "cannot open the PKCS#11 module",
        Some(PIN),
    );
    // A PIN in the URI is refused before anything is loaded, and never repeated or recorded.
    let out = hsm.run(&["issue", "--key-file", &format!("{key}?pin-value={PIN}")]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("pin-value"), "{}", stderr(&out));
    hsm.assert_pin_unseen(&out);
    let out = hsm
        .jwtctl()
        .env("JWTCTL_KEY_FILE", format!("{key}?pin-value={PIN}"))
        .args(["issue"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    hsm.assert_pin_unseen(&out);
    // A module others can change is never loaded (loading it runs its code).
    let copy = hsm.env.path("module.so");
    std::fs::copy(&hsm.module, &copy).unwrap();
    std::fs::set_permissions(&copy, std::os::unix::fs::PermissionsExt::from_mode(0o666)).unwrap();
    refused(
        &[
            "key",
            "public",
            "--key-file",
            &format!("{key}?module-path={}", copy.display()),
        ],
        2,
        "key_error",
        "chmod go-w",
        Some(PIN),
    );
    // A PIN file others can read works, with a warning and a WARN record.
    let pin = hsm.env.write("loose-pin", &format!("{PIN}\n"));
    std::fs::set_permissions(&pin, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let out = hsm.run(&[
        "--log-level",
        "warn",
        "issue",
        "--key-file",
        &uri("rsa", &pin),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("PIN file"), "{}", stderr(&out));
    assert!(hsm.env.log_text().contains("pin_file_exposed"));
    hsm.assert_pin_unseen(&out);
}

#[test]
#[ignore = "needs SoftHSM2 and OpenSC; to run it: apt-get install softhsm2 opensc, cargo test -- --include-ignored"]
fn key_gen_makes_keys_in_the_token_that_never_leave_it_and_sign_there() {
    let Some(module) = needs::pkcs11() else {
        return;
    };
    let hsm = Hsm::new(module);
    let pin = hsm.pin_file();
    // The check below can fail: a key pkcs11-tool made extractable shows as such.
    let module = hsm.module.to_str().unwrap().to_owned();
    hsm.tool(
        "pkcs11-tool",
        &[
            "--module",
            &module,
            "--token-label",
            "ci",
            "--login",
            "--pin",
            PIN,
            "--keypairgen",
            "--key-type",
            "EC:secp256r1",
            "--label",
            "loose",
            "--id",
            "09",
            "--extractable",
        ],
    );
    assert!(
        hsm.private_access("loose")
            .contains(&"extractable".to_owned())
    );
    for (label, args, kty, alg) in [
        ("new-ec", &["--type", "ec"][..], "EC", "ES256"),
        (
            "new-p521",
            &["--type", "ec", "--curve", "P-521"],
            "EC",
            "ES512",
        ),
        (
            "new-rsa",
            &["--type", "rsa", "--bits", "2048"],
            "RSA",
            "RS256",
        ),
        ("new-ed", &["--type", "ed25519"], "OKP", "EdDSA"),
        (
            "new-ed-rfc9864",
            &["--type", "ed25519", "--alg", "Ed25519"],
            "OKP",
            "Ed25519",
        ),
    ] {
        let key = uri(label, &pin);
        let gen_args = [
            &["--log-level", "info", "key", "gen", "--pkcs11", &key][..],
            args,
        ]
        .concat();
        let out = hsm.run(&gen_args);
        assert!(out.status.success(), "{label}: {}", stderr(&out));
        hsm.assert_pin_unseen(&out);
        assert!(stderr(&out).contains("not extractable"), "{}", stderr(&out));
        let jwk: Value = serde_json::from_str(&stdout(&out)).unwrap();
        assert_eq!(
            (jwk["kty"].as_str(), jwk["alg"].as_str()),
            (Some(kty), Some(alg))
        );
        assert!(
            jwk.get("d").is_none() && jwk.get("p").is_none(),
            "public only: {jwk}"
        );
        let print = hsm.ok(&[
            "key",
            "thumbprint",
            "--key-file",
            &format!("pkcs11:token=ci;object={label}"),
        ]);
        assert_eq!(jwk["kid"], print.as_str(), "kid is the thumbprint");
        let record = hsm.env.log().pop().unwrap();
        assert_eq!(record["op"], "key_gen");
        assert_eq!(record["outcome"], "success");
        assert_eq!(record["kid"], print.as_str());
        assert_eq!(
            record["key_source"],
            format!(
                "pkcs11:token=ci;object={label}?pin-source=file:{}",
                pin.display()
            )
        );
        assert_eq!(
            record["key_type"],
            match kty {
                "EC" => "ec",
                "RSA" => "rsa",
                _ => "ed25519",
            }
        );
        // Through the module: sensitive, never extractable; a public key object beside it.
        let access = hsm.private_access(label);
        assert!(
            access.contains(&"sensitive".to_owned()),
            "{label}: {access:?}"
        );
        assert!(
            access.contains(&"never extractable".to_owned()),
            "{label}: {access:?}"
        );
        assert!(
            !access.contains(&"extractable".to_owned()),
            "{label}: {access:?}"
        );
        let objects = hsm.objects(label);
        assert_eq!(
            objects.len(),
            2,
            "{label}: a private and a public key: {objects:?}"
        );
        // It signs in the token, and the printed JWK verifies what it signs.
        hsm.env.write("made.jwk", &stdout(&out));
        let token = hsm.ok(&["issue", "--key-file", &key, "--alg", alg, "--sub", "made"]);
        assert_eq!(parts(&token).0["kid"], print.as_str());
        let out = hsm
            .env
            .run_bare(&["verify", "--key-file", "made.jwk", "--alg", alg, &token]);
        assert!(out.status.success(), "{label}: {}", stderr(&out));
    }
}

#[test]
#[ignore = "needs SoftHSM2 and OpenSC; to run it: apt-get install softhsm2 opensc, cargo test -- --include-ignored"]
fn key_gen_in_a_token_never_replaces_a_key_and_needs_the_right_pin() {
    let Some(module) = needs::pkcs11() else {
        return;
    };
    let hsm = Hsm::new(module);
    let pin = hsm.pin_file();
    let refused = |args: &[&str], code: i32, reason: &str, says: &str, env_pin: Option<&str>| {
        let mut cmd = hsm.jwtctl();
        if let Some(p) = env_pin {
            cmd.env("JWTCTL_PKCS11_PIN", p);
        }
        let out = cmd.args(args).output().unwrap();
        assert_refused(&hsm.env, &out, code, reason);
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
        hsm.assert_pin_unseen(&out);
        stderr(&out)
    };
    // An existing label is never replaced nor joined: the token keeps the one pair it had.
    let before = hsm.objects("ec256");
    refused(
        &[
            "key",
            "gen",
            "--type",
            "ec",
            "--pkcs11",
            &uri("ec256", &pin),
        ],
        2,
        "key_error",
        "already holds an object labelled 'ec256'",
        None,
    );
    assert_eq!(hsm.objects("ec256"), before);
    // Nor an existing CKA_ID under a new label.
    refused(
        &[
            "key",
            "gen",
            "--type",
            "ec",
            "--pkcs11",
            &format!(
                "pkcs11:token=ci;object=other;id=%01?pin-source=file:{}",
                pin.display()
            ),
        ],
        2,
        "key_error",
        "already holds an object with the URI's id=",
        None,
    );
    assert!(hsm.objects("other").is_empty());
    let wrong = refused(
        &[
            "key",
            "gen",
            "--type",
            "ec",
            "--pkcs11",
            "pkcs11:token=ci;object=fresh",
        ],
        2,
        "key_error",
        "PIN is wrong",
        Some("000000"),
    );
    assert!(!wrong.contains("000000"), "{wrong}");
    refused(
        &[
            "key",
            "gen",
            "--type",
            "ec",
            "--pkcs11",
            "pkcs11:token=ci;object=fresh",
        ],
        2,
        "key_error",
        "needs its PIN to make a key",
        None,
    );
    refused(
        &[
            "key",
            "gen",
            "--type",
            "hmac",
            "--pkcs11",
            "pkcs11:token=ci;object=fresh",
        ],
        2,
        "usage",
        "rsa, ec or ed25519",
        Some(PIN),
    );
    refused(
        &[
            "key",
            "gen",
            "--type",
            "ec",
            "--pkcs11",
            "pkcs11:token=ci;id=%77",
        ],
        2,
        "usage",
        "add object=LABEL",
        Some(PIN),
    );
    refused(
        &[
            "key",
            "gen",
            "--type",
            "ec",
            "--alg",
            "ES384",
            "--pkcs11",
            "pkcs11:token=ci;object=fresh",
        ],
        2,
        "usage",
        "does not fit",
        Some(PIN),
    );
    refused(
        &["key", "gen", "--pkcs11", "token=ci;object=fresh"],
        2,
        "usage",
        "PKCS#11 URI",
        Some(PIN),
    );
    refused(
        &[
            "key",
            "gen",
            "--pkcs11",
            "pkcs11:token=ci;object=fresh",
            "--out",
            "k.pem",
        ],
        2,
        "usage",
        "cannot be used with",
        Some(PIN),
    );
    // A PIN in the URI is refused before the module is loaded.
    let out = hsm.run(&[
        "key",
        "gen",
        "--pkcs11",
        &format!("pkcs11:token=ci;object=fresh?pin-value={PIN}"),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    hsm.assert_pin_unseen(&out);
    assert!(hsm.objects("fresh").is_empty(), "nothing was made");
}

#[test]
#[ignore = "needs SoftHSM2 and OpenSC; to run it: apt-get install softhsm2 opensc, cargo test -- --include-ignored"]
fn a_pin_given_where_its_file_goes_is_never_echoed_nor_recorded() {
    let Some(module) = needs::pkcs11() else {
        return;
    };
    let hsm = Hsm::new(module);
    // The PIN itself, a command in the '|cmd' form some tools run, or a relative name: refused
    // before anything is read or loaded, without repeating the value (stderr, the log).
    for source in [
        PIN.to_owned(),
        format!("file:{PIN}"),
        format!("|echo%20{PIN}"),
        format!("file:%7Cecho%20{PIN}"),
    ] {
        let key = format!("pkcs11:token=ci;object=ec256?pin-source={source}");
        for args in [
            &["issue", "--key-file", &key][..],
            &["key", "gen", "--type", "ec", "--pkcs11", &key],
        ] {
            let out = hsm.run(args);
            assert_refused(&hsm.env, &out, 2, "usage");
            assert!(stderr(&out).contains("pin-source"), "{}", stderr(&out));
            hsm.assert_pin_unseen(&out);
        }
    }
}

#[test]
#[ignore = "needs SoftHSM2 and OpenSC; to run it: apt-get install softhsm2 opensc, cargo test -- --include-ignored"]
fn a_pin_in_the_environment_loses_one_trailing_newline_as_a_pin_file_does() {
    let Some(module) = needs::pkcs11() else {
        return;
    };
    let hsm = Hsm::new(module);
    // As a secret mounted into the environment from a file keeps its newline: sent to the
    // token as it is, each run would spend one of the few tries before the PIN locks.
    for pin in [format!("{PIN}\n"), format!("{PIN}\r\n")] {
        let out = hsm
            .jwtctl()
            .env("JWTCTL_PKCS11_PIN", &pin)
            .args(["issue", "--key-file", "pkcs11:token=ci;object=ec256"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        hsm.assert_pin_unseen(&out);
    }
    let out = hsm
        .jwtctl()
        .env("JWTCTL_PKCS11_PIN", " \n")
        .args(["issue", "--key-file", "pkcs11:token=ci;object=ec256"])
        .output()
        .unwrap();
    assert_refused(&hsm.env, &out, 2, "key_error");
    assert!(
        stderr(&out).contains("JWTCTL_PKCS11_PIN is blank"),
        "{}",
        stderr(&out)
    );
}

#[test]
#[ignore = "needs SoftHSM2 and OpenSC; to run it: apt-get install softhsm2 opensc, cargo test -- --include-ignored"]
fn a_public_key_object_planted_beside_a_private_key_is_never_published_nor_signed_for() {
    let Some(module) = needs::pkcs11() else {
        return;
    };
    let hsm = Hsm::new(module);
    let module = hsm.module.to_str().unwrap().to_owned();
    let tool = |args: &[&str]| {
        let base = ["--module", &module, "--token-label", "ci"];
        hsm.tool("pkcs11-tool", &[&base[..], args].concat())
    };
    // A token key without its public object (as some tools import or make them); then someone
    // who can open the token but has no PIN writes their own public key under its label (a
    // public object needs no login in a read-write session).
    tool(&[
        "--login",
        "--pin",
        PIN,
        "--keypairgen",
        "--key-type",
        "rsa:2048",
        "--label",
        "solo",
        "--id",
        "41",
    ]);
    tool(&[
        "--login",
        "--pin",
        PIN,
        "--delete-object",
        "--type",
        "pubkey",
        "--label",
        "solo",
    ]);
    let theirs = hsm.env.path("theirs.der");
    let out = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ])
        .output()
        .unwrap();
    let der = crate::common::pipe_through(
        "openssl",
        &["pkey", "-pubout", "-outform", "DER"],
        &out.stdout,
    );
    std::fs::write(&theirs, der).unwrap();
    tool(&[
        "--write-object",
        theirs.to_str().unwrap(),
        "--type",
        "pubkey",
        "--label",
        "solo",
        "--id",
        "41",
    ]);
    let key = uri("solo", &hsm.pin_file());
    // With the PIN, the private key is seen: the planted half is refused by key public...
    let out = hsm.run(&["key", "public", "--key-file", &key]);
    assert_refused(&hsm.env, &out, 2, "key_error");
    assert!(
        stderr(&out).contains("does not belong to the private key"),
        "{}",
        stderr(&out)
    );
    hsm.assert_pin_unseen(&out);
    let out = hsm.run(&["issue", "--key-file", &key]);
    assert_refused(&hsm.env, &out, 2, "key_error");
    // An EC private key shows no point to compare (SoftHSM2 keeps it on the public object
    // only): its signature is checked against the planted half, and refused in one clean line.
    tool(&[
        "--login",
        "--pin",
        PIN,
        "--keypairgen",
        "--key-type",
        "EC:secp256r1",
        "--label",
        "ecsolo",
        "--id",
        "42",
    ]);
    tool(&[
        "--login",
        "--pin",
        PIN,
        "--delete-object",
        "--type",
        "pubkey",
        "--label",
        "ecsolo",
    ]);
    let out = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .output()
        .unwrap();
    let der = crate::common::pipe_through(
        "openssl",
        &["pkey", "-pubout", "-outform", "DER"],
        &out.stdout,
    );
    std::fs::write(&theirs, der).unwrap();
    tool(&[
        "--write-object",
        theirs.to_str().unwrap(),
        "--type",
        "pubkey",
        "--label",
        "ecsolo",
        "--id",
        "42",
    ]);
    let out = hsm.run(&["issue", "--key-file", &uri("ecsolo", &hsm.pin_file())]);
    assert_refused(&hsm.env, &out, 2, "key_error");
    assert!(stderr(&out).contains("belong together"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("  "), "{}", stderr(&out));
}

#[test]
#[ignore = "needs SoftHSM2 and OpenSC; to run it: apt-get install softhsm2 opensc, cargo test -- --include-ignored"]
fn token_keys_are_judged_as_key_files_are_weak_odd_ambiguous_or_mismatched_refused() {
    let Some(module) = needs::pkcs11() else {
        return;
    };
    let hsm = Hsm::new(module);
    let module = hsm.module.to_str().unwrap().to_owned();
    for (label, id, kind) in [
        ("rsa1024", "51", "rsa:1024"),
        ("k1", "52", "EC:secp256k1"),
        ("twin", "53", "EC:secp256r1"),
        ("twin", "54", "EC:secp256r1"),
    ] {
        hsm.tool(
            "pkcs11-tool",
            &[
                "--module",
                &module,
                "--token-label",
                "ci",
                "--login",
                "--pin",
                PIN,
                "--keypairgen",
                "--key-type",
                kind,
                "--label",
                label,
                "--id",
                id,
            ],
        );
    }
    let pin = hsm.pin_file();
    for (object, alg, says) in [
        ("rsa1024", None, "1024 bits"),
        ("k1", None, "curve jwtctl does not sign with"),
        ("twin", None, "several keys"),
        (
            "ec256",
            Some("RS256"),
            "cannot be used with an EC P-256 key",
        ),
        (
            "ec256",
            Some("ES512"),
            "cannot be used with an EC P-256 key",
        ),
        ("ed", Some("ES256"), "cannot be used with an Ed25519 key"),
        ("rsa", Some("HS256"), "cannot be used with an RSA key"),
    ] {
        let key = uri(object, &pin);
        let mut args = vec!["issue", "--key-file", &key];
        args.extend(alg.iter().flat_map(|a| ["--alg", *a]));
        let out = hsm.run(&args);
        assert_refused(&hsm.env, &out, 2, "key_error");
        assert!(stderr(&out).contains(says), "{object}: {}", stderr(&out));
        hsm.assert_pin_unseen(&out);
    }
    // The id names one of the twins.
    hsm.ok(&[
        "issue",
        "--key-file",
        &format!(
            "pkcs11:token=ci;object=twin;id=%53?pin-source=file:{}",
            pin.display()
        ),
    ]);
}
