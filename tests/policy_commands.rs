//! `--policy FILE` on `refresh` and `revoke`: the presented token is judged as `verify --policy`
//! judges it (refresh: every setting and rule; revoke: the signature, with the keys of the
//! issuer the token names), and refresh still signs with its own key and keeps its ledger.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use serde_json::json;

use crate::common::{assert_refused, assert_rejected, parts, stderr, stdout};
use crate::policy::{Ci, GITHUB_POLICY, assert_policy_refusal, github_claims, with};

/// jwtctl's own issuer: what a token refresh signs under a policy names.
const OURS: &str = "https://jwtctl.acme.example";

/// `jwtctl refresh|revoke --policy policy.toml ARGS TOKEN` with the CI server's CA, and the
/// test key (refresh's own key) in the environment; refresh names jwtctl's issuer (`--iss`).
fn run(ci: &Ci, command: &str, args: &[&str], token: &str) -> std::process::Output {
    let iss: &[&str] = match command {
        "refresh" => &["--iss", OURS],
        _ => &[],
    };
    run_bare(ci, command, &[iss, args].concat(), token)
}

/// [`run`] without refresh's `--iss`.
fn run_bare(ci: &Ci, command: &str, args: &[&str], token: &str) -> std::process::Output {
    ci.env()
        .jwtctl()
        .args(["--log-level", "info", command, "--policy", "policy.toml"])
        .args(["--ca-file", "ca.pem", "--cache-dir", "cache"])
        .args(args)
        .arg(token)
        .output()
        .unwrap()
}

/// The CI provider with the policy written and an empty ledger `l.db`.
fn ci_with_ledger() -> Ci {
    let ci = Ci::new("gh");
    ci.policy(GITHUB_POLICY);
    let out = ci.env().run(&["ledger", "init", "--ledger", "l.db"]);
    assert!(out.status.success(), "{}", stderr(&out));
    ci
}

#[test]
fn refresh_under_a_policy_judges_the_token_then_signs_with_its_own_key_once() {
    let ci = ci_with_ledger();
    let parent = ci.token(github_claims());
    let out = run(&ci, "refresh", &["--ledger", "l.db"], &parent);
    assert!(out.status.success(), "{}", stderr(&out));
    let child = stdout(&out).trim_end().to_owned();
    let record = ci.env().log().pop().unwrap();
    assert_eq!(record["outcome"], "success", "{record}");
    assert_eq!(record["policy"], "policy.toml");
    // The same claims, signed with refresh's own key (the test key), not the issuer's, and
    // naming jwtctl's issuer, not GitHub's: GitHub never signed it.
    let ((parent_header, parent_claims), (header, claims)) = (parts(&parent), parts(&child));
    assert_eq!(claims["repository_id"], parent_claims["repository_id"]);
    assert_ne!(header["kid"], parent_header["kid"]);
    assert_eq!(parent_claims["iss"], ci.issuer.as_str());
    assert_eq!(claims["iss"], OURS);
    assert_eq!(record["iss"], OURS, "{record}");
    assert_eq!(record["parent_jti"], parent_claims["jti"], "{record}");
    assert!(
        ci.env()
            .verify(&["--aud", "https://github.com/acme", "--iss", OURS], &child)
            .status
            .success()
    );
    // The policy does not take jwtctl's token for the provider's.
    let out = ci.verify(&[], &child);
    assert_rejected(ci.env(), &out, "claim_mismatch");
    assert!(stderr(&out).contains("policy policy.toml issuer: 'iss' must be one of"));
    // The ledger still lets a token refresh once.
    let out = run(&ci, "refresh", &["--ledger", "l.db"], &parent);
    assert_rejected(ci.env(), &out, "reused");
}

#[test]
fn refresh_under_a_policy_refuses_a_fork_naming_the_rule_and_consumes_nothing() {
    let ci = ci_with_ledger();
    let fork = with(
        &github_claims(),
        json!({"repository": "mallory/deploy", "repository_id": "4004"}),
    );
    let out = run(&ci, "refresh", &["--ledger", "l.db"], &ci.token(fork));
    assert_policy_refusal(
        &ci,
        &out,
        "claim_mismatch",
        "issuer[0].rule[0]",
        "repository_id",
    );
    assert_eq!(
        stderr(&out),
        "jwtctl: token rejected: claim_mismatch: policy policy.toml issuer[0].rule[0]: \
         'repository_id' must be \"2002\"\n"
    );
    // Nothing was consumed: the good token with the same iss and jti still refreshes.
    let out = run(
        &ci,
        "refresh",
        &["--ledger", "l.db"],
        &ci.token(github_claims()),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    ci.env().log().pop();
    // A wrong environment (a later rule) is refused too; the --policy replaces --oidc.
    let staging = with(&github_claims(), json!({"environment": "staging"}));
    let out = run(&ci, "refresh", &["--no-ledger"], &ci.token(staging));
    assert_policy_refusal(
        &ci,
        &out,
        "claim_mismatch",
        "issuer[0].rule[3]",
        "environment",
    );
    let out = run(
        &ci,
        "refresh",
        &["--no-ledger", "--oidc", &ci.issuer],
        "x.y.z",
    );
    assert_refused(ci.env(), &out, 2, "usage");
    assert!(stderr(&out).contains("--policy") && stderr(&out).contains("--oidc"));
}

#[test]
fn refresh_under_a_policy_needs_jwtctls_own_issuer_before_anything_happens() {
    let ci = ci_with_ledger();
    let parent = ci.token(github_claims());
    let records = ci.env().log().len();
    // Without --iss: a usage error saying what to pass, and nothing read or consumed.
    let out = run_bare(&ci, "refresh", &["--ledger", "l.db"], &parent);
    assert_refused(ci.env(), &out, 2, "usage");
    assert_eq!(
        stderr(&out),
        "jwtctl: refresh --policy re-signs the provider's token with jwtctl's key, so the new \
         token names jwtctl's issuer: pass --iss ISSUER (the issuer your services expect of \
         jwtctl's tokens); see 'jwtctl refresh --help'\n"
    );
    let record = ci.env().log().pop().unwrap();
    assert!(record.get("policy").is_none(), "no policy read: {record}");
    // --iss naming the provider (the url, or through --dry-run, or in another case or with a
    // trailing slash, as a lax verifier would take it) would mint a token claiming to come
    // from an issuer that never signed it.
    let loose = format!("{}/", ci.issuer.to_uppercase());
    for (iss, extra) in [
        (ci.issuer.as_str(), &["--ledger", "l.db"][..]),
        (ci.issuer.as_str(), &["--no-ledger", "--dry-run"]),
        (loose.as_str(), &["--no-ledger", "--dry-run"]),
    ] {
        let out = run_bare(
            &ci,
            "refresh",
            &[&["--iss", iss][..], extra].concat(),
            &parent,
        );
        assert_refused(ci.env(), &out, 2, "usage");
        assert!(
            stderr(&out).contains("--iss names issuer[0] of the policy policy.toml"),
            "{}",
            stderr(&out)
        );
        assert!(stdout(&out).is_empty());
    }
    assert_eq!(ci.env().log().len(), records + 4);
    // The dry run shows the issuer the new token would name.
    let out = run(&ci, "refresh", &["--no-ledger", "--dry-run"], &parent);
    assert!(out.status.success(), "{}", stderr(&out));
    let claims: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(claims["iss"], OURS);
    // Nothing was consumed on the way: the token still refreshes once.
    let out = run(&ci, "refresh", &["--ledger", "l.db"], &parent);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn revoke_under_a_policy_checks_the_signature_with_the_issuers_keys() {
    let ci = ci_with_ledger();
    // Even a token its rules refuse is revoked: revocation is never blocked by a rule.
    let fork = ci.token(with(&github_claims(), json!({"repository_id": "4004"})));
    let token = ci.token(github_claims());
    for t in [&fork, &token] {
        let out = run(&ci, "revoke", &["--ledger", "l.db"], t);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(ci.env().log().pop().unwrap()["policy"], "policy.toml");
    }
    let out = ci.verify(&["--ledger", "l.db"], &token);
    assert_rejected(ci.env(), &out, "revoked");
    // A token naming the issuer but signed with another key (the test key, not RS256: the
    // policy pins the issuer's algorithm) is not revoked.
    let forged = ci
        .env()
        .issue(&["--iss", &ci.issuer, "--aud", "https://github.com/acme"]);
    let out = run(&ci, "revoke", &["--ledger", "l.db"], &forged);
    assert_rejected(ci.env(), &out, "alg_not_allowed");
    // A token from an issuer the policy does not list is refused, naming the issuers it does.
    let other = ci.env().issue(&["--iss", "https://elsewhere.example"]);
    let out = run(&ci, "revoke", &["--ledger", "l.db"], &other);
    assert_rejected(ci.env(), &out, "claim_mismatch");
    assert!(stderr(&out).contains("policy policy.toml issuer: 'iss' must be one of"));
    // --policy replaces the key flags, and a --jti revocation has no token to judge.
    for extra in [&["--key-file", "test.key"][..], &["--jti", "abc"]] {
        let out = ci
            .env()
            .bare()
            .args(["revoke", "--ledger", "l.db", "--policy", "policy.toml"])
            .args(extra)
            .output()
            .unwrap();
        assert_refused(ci.env(), &out, 2, "usage");
    }
}

#[test]
fn refresh_under_a_policy_refuses_a_blank_or_hidden_iss_before_anything_is_read() {
    let ci = ci_with_ledger();
    let parent = ci.token(github_claims());
    // Each would be minted into the new token's iss while the provider's token is used up.
    for iss in [
        "",
        "   ",
        "\t",
        "https://jwtctl.acme.example\n",
        "https://jwtctl.acme.example\nX-Evil: 1",
        " https://jwtctl.acme.example",
        "https://jwtctl.acme.example ",
        "https://jwtctl\u{7}.acme.example",
        "https://jwtctl\u{2028}.acme.example",
        "https://jwtctl\u{85}.acme.example",
        "https://jwtctl\u{200b}.acme.example",
        "\u{202e}https://jwtctl.acme.example",
    ] {
        let out = run_bare(&ci, "refresh", &["--ledger", "l.db", "--iss", iss], &parent);
        assert_refused(ci.env(), &out, 2, "usage");
        let err = stderr(&out);
        assert!(err.starts_with("jwtctl: --iss "), "{iss:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{iss:?}: {err}");
        assert!(stdout(&out).is_empty());
        let record = ci.env().log().pop().unwrap();
        assert!(record.get("policy").is_none(), "no policy read: {record}");
    }
    // Nothing was consumed: the token still refreshes once, under jwtctl's issuer.
    let out = run(&ci, "refresh", &["--ledger", "l.db"], &parent);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(parts(stdout(&out).trim_end()).1["iss"], OURS);
}

#[test]
fn refresh_under_a_policy_refuses_an_iss_a_lax_verifier_takes_for_a_policy_issuer() {
    let ci = ci_with_ledger();
    // Two more issuers, never fetched: the --iss is judged before any key is read.
    let extra = "\n[[issuer]]\nurl = \"https://accounts.google.com\"\npreset = \"google\"\n\
        jwks_file = \"google.json\"\naudiences = [\"a\"]\n[[issuer.rule]]\nclaim = \"sub\"\n\
        eq = \"1\"\n\n[[issuer]]\nurl = \"https://token.actions.githubusercontent.com\"\n\
        jwks_file = \"gh.json\"\naudiences = [\"a\"]\n[[issuer.rule]]\nclaim = \"sub\"\n\
        eq = \"1\"\n";
    ci.policy(&format!("{GITHUB_POLICY}{extra}"));
    let parent = ci.token(github_claims());
    let local = ci.issuer.replace("https://", "http://user@") + "/?#";
    let cases = [
        ("http://accounts.google.com", "issuer[1]"),
        ("https://accounts.google.com:443", "issuer[1]"),
        ("https://accounts.google.com.", "issuer[1]"),
        ("https://accounts.google.com/#", "issuer[1]"),
        ("https://accounts.google.com?", "issuer[1]"),
        ("https://user@accounts.google.com", "issuer[1]"),
        ("https://accounts.google%2Ecom", "issuer[1]"),
        ("https://%61ccounts.google.com", "issuer[1]"),
        ("//accounts.google.com", "issuer[1]"),
        ("accounts.google.com.", "issuer[1]"),
        ("token.actions.githubusercontent.com", "issuer[2]"),
        ("HTTPS://Token.Actions.GithubUserContent.com//", "issuer[2]"),
        (local.as_str(), "issuer[0]"),
    ];
    for (iss, path) in cases {
        let out = run_bare(
            &ci,
            "refresh",
            &["--ledger", "l.db", "--dry-run", "--iss", iss],
            &parent,
        );
        assert_refused(ci.env(), &out, 2, "usage");
        assert!(
            stderr(&out).contains(&format!("--iss names {path} of the policy policy.toml")),
            "{iss}: {}",
            stderr(&out)
        );
    }
    // jwtctl's own issuer, and names that are only near one, still refresh.
    for iss in [OURS, "https://accounts.google.com.evil.example"] {
        let out = run_bare(
            &ci,
            "refresh",
            &["--no-ledger", "--dry-run", "--iss", iss],
            &parent,
        );
        assert!(out.status.success(), "{iss}: {}", stderr(&out));
    }
}
