//! Benchmark helper: mint N tokens, or verify tokens from stdin in a bare jsonwebtoken loop.
//!
//! `bench_tokens mint ALG KEY N` prints N tokens signed with KEY (an HMAC secret file or a
//! private PEM). `bench_tokens verify ALG KEY` reads one token per line and checks each with
//! `jsonwebtoken::decode` (a public PEM for RSA), printing how many were valid: the baseline
//! `scripts/bench-batch.sh` measures `jwtctl verify --batch` against.

use std::io::{BufRead, Write};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};

fn main() {
    // An ordinary Rust main (not jwtctl's C main), so std's argv works here.
    #[allow(clippy::disallowed_methods)]
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: bench_tokens mint ALG KEY N | bench_tokens verify ALG KEY";
    let (Some(mode), Some(alg), Some(key)) = (args.get(1), args.get(2), args.get(3)) else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let alg: Algorithm = alg.parse().expect("an algorithm such as HS256 or RS256");
    let material = std::fs::read(key).expect("a readable key file");
    let secret = || material.strip_suffix(b"\n").unwrap_or(&material).to_vec();
    match mode.as_str() {
        "mint" => {
            let n: u64 = args
                .get(4)
                .and_then(|n| n.parse().ok())
                .expect("a token count");
            let key = match alg {
                Algorithm::HS256 => EncodingKey::from_secret(&secret()),
                _ => EncodingKey::from_rsa_pem(&material).expect("an RSA private key"),
            };
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("a clock after 1970")
                .as_secs();
            let extra: Option<serde_json::Value> = std::env::var("BENCH_CLAIMS")
                .ok()
                .map(|text| serde_json::from_str(&text).expect("BENCH_CLAIMS: a JSON object"));
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            for i in 0..n {
                let mut claims = serde_json::json!({"sub": format!("user-{i}"), "iat": now,
                    "exp": now + 3600, "jti": format!("bench-{i}")});
                // BENCH_CLAIMS: a JSON object of more claims (iss, aud, ...), for policies.
                if let Some(serde_json::Value::Object(more)) = &extra {
                    for (k, v) in more {
                        claims[k] = v.clone();
                    }
                }
                let token =
                    jsonwebtoken::encode(&Header::new(alg), &claims, &key).expect("signing");
                writeln!(out, "{token}").expect("stdout");
            }
        }
        "verify" => {
            let key = match alg {
                Algorithm::HS256 => DecodingKey::from_secret(&secret()),
                _ => DecodingKey::from_rsa_pem(&material).expect("an RSA public key"),
            };
            let validation = Validation::new(alg);
            let valid = std::io::stdin()
                .lock()
                .lines()
                .map_while(Result::ok)
                .filter(|line| {
                    jsonwebtoken::decode::<serde_json::Value>(line.trim(), &key, &validation)
                        .is_ok()
                })
                .count();
            println!("{valid}");
        }
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    }
}
