//! The fuzz targets' seeds and crash reproducers, replayed under `cargo test` (stable toolchain):
//! every file of `fuzz/corpus/<target>/` and `fuzz/artifacts/<target>/` goes through the same
//! entry point the fuzz target calls (`fuzz/entry.rs`), and must return normally.

#[path = "../fuzz/entry.rs"]
mod entry;

use std::fs;
use std::path::{Path, PathBuf};

/// The files of `dir`, sorted; none if it does not exist.
fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("a readable directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

fn replay(target: &str) {
    let (_, run) = entry::TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .expect("a fuzz target of that name");
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let seeds = files(&fuzz.join("corpus").join(target));
    assert!(!seeds.is_empty(), "fuzz/corpus/{target} has no seeds");
    let reproducers = files(&fuzz.join("artifacts").join(target));
    for path in seeds.iter().chain(&reproducers) {
        let data = fs::read(path).expect("a readable corpus file");
        let outcome = std::panic::catch_unwind(|| run(&data));
        assert!(outcome.is_ok(), "{target} panicked on {}", path.display());
    }
}

#[test]
fn every_target_is_replayed() {
    let names: Vec<&str> = entry::TARGETS.iter().map(|(name, _)| *name).collect();
    let dirs = files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/fuzz_targets"));
    let mut targets: Vec<String> = dirs
        .iter()
        .filter_map(|p| Some(p.file_stem()?.to_str()?.to_owned()))
        .collect();
    targets.sort();
    let mut listed = names.clone();
    listed.sort();
    assert_eq!(
        targets, listed,
        "fuzz/fuzz_targets and entry::TARGETS differ"
    );
}

#[test]
fn verify_hmac() {
    replay("verify_hmac");
}

#[test]
fn verify_es256() {
    replay("verify_es256");
}

#[test]
fn key_classify() {
    replay("key_classify");
}

#[test]
fn jwks_parse() {
    replay("jwks_parse");
}

#[test]
fn jwks_remote() {
    replay("jwks_remote");
}

#[test]
fn claims_policy() {
    replay("claims_policy");
}

#[test]
fn batch_lines() {
    replay("batch_lines");
}

/// A `renew` bug `claims_policy` found (fuzz/README.md): a token family started within the
/// leeway ahead of now was refreshed with that `orig_iat` and a new `iat` of now, so the next
/// refresh refused it ('orig_iat' is later than 'iat').
#[test]
fn a_family_started_within_the_leeway_refreshes_twice() {
    use jwtctl::token::{self, Lifetime, Policy};
    let policy = Policy {
        leeway_secs: 300,
        ..Policy::new(vec![jwtctl::token::Algorithm::HS256])
    };
    let life = Lifetime {
        ttl_secs: 1800,
        leeway_secs: 300,
        max_lifetime_secs: 86_400,
    };
    let keys = jwtctl::keys::Keyring::One(
        jwtctl::keys::classify(&jwtctl::keys::Secret::new(entry::HMAC_SECRET.to_vec()))
            .expect("the fuzz HMAC key"),
    );
    let now = entry::NOW;
    let first =
        entry::hs256_token(format!(r#"{{"exp":{},"iat":{}}}"#, now + 600, now + 20).as_bytes());
    let verified = token::verify(&first, &keys, &policy, now).expect("iat within the leeway");
    let renewal = token::renew(&verified, now, life, "j1").expect("the first refresh");
    let text = serde_json::to_vec(&renewal.claims).expect("claims serialize");
    let second = entry::hs256_token(&text);
    let later = now + 60;
    let verified = token::verify(&second, &keys, &policy, later).expect("the refreshed token");
    let again = token::renew(&verified, later, life, "j2");
    assert!(
        again.is_ok(),
        "{}",
        again
            .err()
            .map(|e| e.message().to_owned())
            .unwrap_or_default()
    );
}

/// A float issue `claims_policy` found (fuzz/README.md): without serde_json's `float_roundtrip`,
/// a number claim that is not exactly representable (here a 63-digit integer) was read a few ULPs
/// off, written into the refreshed token, and read back different again.
#[test]
fn refresh_keeps_number_claims_exactly() {
    use jwtctl::token::{self, Lifetime, Policy};
    let policy = Policy::new(vec![jwtctl::token::Algorithm::HS256]);
    let life = Lifetime {
        ttl_secs: 1800,
        leeway_secs: 0,
        max_lifetime_secs: 86_400,
    };
    let key = jwtctl::keys::classify(&jwtctl::keys::Secret::new(entry::HMAC_SECRET.to_vec()))
        .expect("the fuzz HMAC key");
    let signer = key
        .signer("refresh", jwtctl::token::Algorithm::HS256, None)
        .expect("an HMAC key signs");
    let now = entry::NOW;
    let payload = format!(
        r#"{{"exp":{},"x":179999666666666666666666666666666699666666666666666666666666666}}"#,
        now + 600
    );
    let keys = jwtctl::keys::Keyring::One(
        jwtctl::keys::classify(&jwtctl::keys::Secret::new(entry::HMAC_SECRET.to_vec()))
            .expect("the fuzz HMAC key"),
    );
    let first = token::verify(&entry::hs256_token(payload.as_bytes()), &keys, &policy, now)
        .expect("a valid token");
    let renewal = token::renew(&first, now, life, "j").expect("a refresh");
    let refreshed = token::sign(&renewal.claims, None, &signer).expect("signing");
    let second = token::verify(&refreshed, &keys, &policy, now).expect("the refreshed token");
    assert_eq!(second.claims["x"], first.claims["x"]);
}

#[test]
fn syslog_format() {
    replay("syslog_format");
}

#[test]
fn log_verify() {
    replay("log_verify");
}

#[test]
fn policy_file() {
    replay("policy_file");
}
