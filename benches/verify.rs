//! In-process cost of verification: jwtctl's `token::verify` against `jsonwebtoken::decode`
//! on the same HS256 and RS256 tokens (run with `cargo bench`).

use criterion::{Criterion, criterion_group, criterion_main};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use jwtctl::keys::{Keyring, Secret, classify};
use jwtctl::token::{self, Policy};
use serde_json::{Value, json};

const RSA_PRIVATE: &str = include_str!("../tests/fixtures/keys/rsa_pkcs8.pem");
const RSA_PUBLIC: &str = include_str!("../tests/fixtures/keys/rsa_pub_spki.pem");
const SECRET: &[u8] = b"bench-secret-0123456789-abcdefghijklmnop";
const NOW: i64 = 1_800_000_000;

fn token(alg: Algorithm, key: &EncodingKey) -> String {
    let claims = json!({"sub": "bench", "iat": NOW, "exp": NOW + 3600, "jti": "bench-1"});
    jsonwebtoken::encode(&Header::new(alg), &claims, key).expect("signing")
}

fn bench(
    c: &mut Criterion,
    alg: Algorithm,
    signing: EncodingKey,
    key_text: &[u8],
    decoding: DecodingKey,
) {
    let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
    let token = token(alg, &signing);
    let ring = Keyring::One(classify(&Secret::new(key_text.to_vec())).expect("a key"));
    let ours = format!("{alg:?}")
        .parse()
        .expect("an algorithm jwtctl knows");
    let policy = Policy::new(vec![ours]);
    let mut group = c.benchmark_group(format!("{alg:?}"));
    group.bench_function("jwtctl token::verify", |b| {
        b.iter(|| token::verify(&token, &ring, &policy, NOW).expect("valid"))
    });
    let mut validation = Validation::new(alg);
    validation.validate_exp = false;
    group.bench_function("jsonwebtoken::decode", |b| {
        b.iter(|| jsonwebtoken::decode::<Value>(&token, &decoding, &validation).expect("valid"))
    });
    group.finish();
}

fn hs256(c: &mut Criterion) {
    bench(
        c,
        Algorithm::HS256,
        EncodingKey::from_secret(SECRET),
        SECRET,
        DecodingKey::from_secret(SECRET),
    );
}

fn rs256(c: &mut Criterion) {
    let signing = EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).expect("RSA private key");
    let decoding = DecodingKey::from_rsa_pem(RSA_PUBLIC.as_bytes()).expect("RSA public key");
    bench(
        c,
        Algorithm::RS256,
        signing,
        RSA_PUBLIC.as_bytes(),
        decoding,
    );
}

criterion_group!(benches, hs256, rs256);
criterion_main!(benches);
