//! Benchmark helper: mint N tokens, or verify tokens from stdin in a bare jsonwebtoken loop.
//!
//! `bench_tokens mint ALG KEY N` prints N tokens signed with KEY (an HMAC secret file or a
//! private PEM). `bench_tokens verify ALG KEY` reads one token per line and checks each with
//! `jsonwebtoken::decode` (a public PEM for RSA), printing how many were valid: the baseline
//! `scripts/bench-batch.sh` measures `jwtctl verify --batch` against.
//!
//! `bench_tokens floor BYTES LOG` reads one token per line and does only what the chained log
//! format itself asks of each record (the token's SHA-256 in hex; a line of BYTES bytes holding
//! it and the previous line's hash; that line's SHA-256; the lines appended to LOG 256 at a time,
//! one `write(2)` each): the floor under `verify --batch --log-level info`'s extra cost.
//! `bench_tokens floor BYTES -` does the same without the file (the hashing alone), and
//! `bench_tokens floor 0 -` only reads the tokens.

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
    if mode == "floor" {
        floor(alg, key);
        return;
    }
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

/// See the module's header: the mandated per-record work, with nothing else.
fn floor(bytes: &str, log: &str) {
    use jwtctl::hash::Sha256Hex;
    let bytes: usize = bytes.parse().expect("a line length in bytes");
    let mut file = (log != "-").then(|| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("a writable log")
    });
    let mut prev = Sha256Hex::of(b"genesis");
    let (mut group, mut held, mut count) = (Vec::with_capacity(256 << 10), 0, 0u64);
    let mut token = Vec::new();
    let mut input = std::io::stdin().lock();
    loop {
        token.clear();
        if input.read_until(b'\n', &mut token).expect("stdin") == 0 {
            break;
        }
        count += 1;
        if bytes == 0 {
            continue;
        }
        let token = token.strip_suffix(b"\n").unwrap_or(&token);
        let token_hash = Sha256Hex::of(token);
        let start = group.len();
        group.extend_from_slice(b"{\"prev\":\"");
        group.extend_from_slice(prev.as_str().as_bytes());
        group.extend_from_slice(b"\",\"token_sha256\":\"");
        group.extend_from_slice(token_hash.as_str().as_bytes());
        group.extend_from_slice(b"\",\"pad\":\"");
        let used = group.len() - start + 3;
        group.resize(start + bytes.max(used) - 3, b'x');
        group.extend_from_slice(b"\"}\n");
        prev = Sha256Hex::of(&group[start..group.len() - 1]);
        held += 1;
        if held == 256 {
            if let Some(file) = &mut file {
                file.write_all(&group).expect("the log");
            }
            group.clear();
            held = 0;
        }
    }
    if let Some(file) = &mut file {
        file.write_all(&group).expect("the log");
    }
    println!("{count} {}", prev.as_str());
}
