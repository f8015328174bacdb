//! The remote key-set path in hostile or broken surroundings: a cache that cannot be written
//! (F7), a home that does not exist, and names that do not resolve, for the host or its proxy
//! (F8).
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;

use crate::common::https::Reply;
use crate::common::{assert_refused, stderr};
use crate::remote::Idp;

/// `jwtctl verify --jwks-url URL TOKEN` with `args` before the URL and `env` set.
fn verify(
    idp: &Idp,
    args: &[&str],
    env: &[(&str, &str)],
    url: &str,
    token: &str,
) -> std::process::Output {
    let mut cmd = idp.env.bare();
    cmd.args(["--log-level", "info", "verify"])
        .args(args)
        .args(["--jwks-url", url, token]);
    for (name, value) in env {
        cmd.env(name, value);
    }
    cmd.output().unwrap()
}

fn unwritable_records(idp: &Idp) -> usize {
    idp.env
        .log()
        .iter()
        .filter(|r| r["event"] == "cache_unwritable" && r["level"] == "WARN")
        .count()
}

#[test]
fn an_unwritable_cache_directory_is_warned_about() {
    let idp = Idp::new();
    idp.server
        .set("/jwks", Reply::json(&idp.set_of(&["ec256_pkcs8.pem"])));
    let token = idp.token("ec256_pkcs8.pem", &[]);
    let url = idp.server.url("/jwks");
    // /proc: an existing directory no one can create files in, root included (as a read-only
    // file system is); and, for a user, a directory without write permission.
    let mut dirs = vec!["/proc".to_string()];
    let ro = idp.env.path("ro");
    std::fs::create_dir(&ro).unwrap();
    std::fs::set_permissions(&ro, std::os::unix::fs::PermissionsExt::from_mode(0o500)).unwrap();
    if std::fs::write(ro.join("probe"), "").is_err() {
        dirs.push(ro.display().to_string());
    }
    for (n, dir) in dirs.iter().enumerate() {
        for run in 0..2 {
            let args = ["--ca-file", "ca.pem", "--cache-dir", dir];
            let out = verify(&idp, &args, &[], &url, &token);
            assert!(out.status.success(), "{}", stderr(&out));
            let err = stderr(&out);
            assert!(
                err.contains(&format!("cannot write the key-set cache {dir}")),
                "{err}"
            );
            assert!(err.contains("--cache-dir"), "{err}");
            assert_eq!(err.lines().count(), 1, "said once: {err}");
            assert_eq!(
                unwritable_records(&idp),
                n * 2 + run + 1,
                "{}",
                idp.env.log_text()
            );
        }
    }
    // Nothing was cached: each process fetched.
    assert_eq!(idp.server.hits("/jwks"), dirs.len() * 2);
    // Once per process, however many documents it fetches (discovery, then the set).
    let issuer = idp.server.url("/idp");
    let doc = serde_json::json!({"issuer": issuer, "jwks_uri": url}).to_string();
    idp.server
        .set("/idp/.well-known/openid-configuration", Reply::json(&doc));
    let token = idp.token("ec256_pkcs8.pem", &["--iss", &issuer]);
    let mut cmd = idp.env.bare();
    cmd.args(["--log-level", "info", "verify", "--ca-file", "ca.pem"])
        .args(["--cache-dir", "/proc", "--oidc", &issuer, &token]);
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
    assert_eq!(unwritable_records(&idp), dirs.len() * 2 + 1);
}

#[test]
fn no_cache_is_made_under_a_home_that_does_not_exist() {
    let idp = Idp::new();
    idp.server
        .set("/jwks", Reply::json(&idp.set_of(&["ec256_pkcs8.pem"])));
    let token = idp.token("ec256_pkcs8.pem", &[]);
    let home = idp.env.path("gone");
    let home = home.to_str().unwrap();
    let mut cmd = idp.env.bare();
    cmd.env_remove("XDG_CACHE_HOME")
        .env("HOME", home)
        .args(["--log-level", "info"]);
    let out = cmd
        .args([
            "verify",
            "--ca-file",
            "ca.pem",
            "--jwks-url",
            &idp.server.url("/jwks"),
            &token,
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        !std::path::Path::new(home).exists(),
        "nothing made under a missing HOME"
    );
    let err = stderr(&out);
    assert!(
        err.contains(&format!("HOME is {home}, which does not exist")),
        "{err}"
    );
    assert!(err.contains("--cache-dir"), "{err}");
    assert_eq!(unwritable_records(&idp), 1);
}

/// A proxy that reads a request and answers `answer` (or, given `None`, never answers).
fn proxy(answer: Option<&'static str>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(&mut stream);
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                }
                match answer {
                    Some(text) => {
                        let _ = stream.write_all(text.as_bytes());
                    }
                    None => std::thread::sleep(std::time::Duration::from_secs(30)),
                }
            });
        }
    });
    url
}

#[test]
fn names_that_do_not_resolve_and_failing_proxies_are_named() {
    let idp = Idp::new();
    let token = idp.token("ec256_pkcs8.pem", &[]);
    let args = ["--cache-dir", "cache", "--fetch-timeout", "2s"];
    let url = "https://nohost.invalid/jwks";
    let out = verify(&idp, &args, &[], url, &token);
    assert_refused(&idp.env, &out, 2, "jwks_unavailable");
    let err = stderr(&out);
    assert!(
        err.contains("the host name nohost.invalid does not resolve"),
        "{err}"
    );
    let refusing = proxy(Some("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"));
    let stalling = proxy(None);
    let cases = [
        (
            "HTTPS_PROXY",
            "http://u:secret@nohost.invalid:3128",
            "nohost.invalid:3128 (HTTPS_PROXY)",
            "does not resolve",
        ),
        (
            "https_proxy",
            refusing.as_str(),
            "(https_proxy)",
            "refused to open a tunnel",
        ),
        ("ALL_PROXY", stalling.as_str(), "(ALL_PROXY)", "in time"),
    ];
    for (n, (var, proxy, named, words)) in cases.iter().enumerate() {
        let url = format!("https://idp{n}.example/jwks");
        let out = verify(&idp, &args, &[(var, proxy)], &url, &token);
        assert_refused(&idp.env, &out, 2, "jwks_unavailable");
        let err = stderr(&out);
        assert!(err.contains("the proxy") && err.contains(named), "{err}");
        assert!(err.contains(words), "{words}: {err}");
        assert!(
            !err.contains("secret") && !err.contains("uncategorized"),
            "{err}"
        );
    }
}

#[test]
fn a_ledger_host_that_does_not_resolve_is_said_in_our_words() {
    let env = crate::common::Env::new();
    let token = env.issue(&[]);
    let url = "postgres://jwtctl@nohost.invalid/ledger?connect_timeout=2";
    let out = env.run(&["refresh", "--ledger", url, &token]);
    assert_refused(&env, &out, 2, "ledger_error");
    let err = stderr(&out);
    assert!(
        err.contains("does not resolve") && !err.contains("uncategorized"),
        "{err}"
    );
}
