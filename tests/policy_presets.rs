//! The Buildkite, Kubernetes and Google presets: a policy written by `policy new --preset X`
//! (placeholders filled in), judged against tokens shaped as each provider documents them,
//! minted here and verified with keys from the local HTTPS/OIDC server.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use serde_json::{Value, json};

use crate::common::{assert_rejected, stderr};
use crate::policy::{Ci, assert_policy_refusal, with};

/// `jwtctl policy new --preset PRESET` for the local server, with each placeholder replaced and
/// `extra` rules appended, written as `policy.toml`; the text written.
fn preset_policy(ci: &Ci, preset: &str, aud: &str, fill: &[(&str, &str)], extra: &str) -> String {
    let out = ci.env().run_bare(&[
        "policy", "new", "--preset", preset, "--issuer", &ci.issuer, "--aud", aud,
    ]);
    assert!(out.status.success(), "{preset}: {}", stderr(&out));
    let mut text = crate::common::stdout(&out);
    for (placeholder, value) in fill {
        assert!(
            text.contains(placeholder),
            "{preset}: no {placeholder} in\n{text}"
        );
        text = text.replace(placeholder, value);
    }
    assert!(
        !text.contains("REPLACE"),
        "{preset}: a placeholder left in\n{text}"
    );
    text.push_str(extra);
    ci.policy(&text);
    let out = ci.env().run_bare(&["policy", "check", "policy.toml"]);
    assert!(out.status.success(), "{preset}: {}", stderr(&out));
    text
}

/// Each allowed identity passes, with a success record naming the policy.
fn assert_allowed(ci: &Ci, good: &Value, allowed: Vec<(&str, Value)>) {
    for (what, change) in allowed {
        let out = ci.verify(&[], &ci.token(with(good, change)));
        assert!(out.status.success(), "{what}: {}", stderr(&out));
        let record = ci.env().log().pop().unwrap();
        assert_eq!(record["outcome"], "success", "{what}: {record}");
        assert_eq!(record["policy"], "policy.toml", "{what}");
        assert!(record.get("policy_rule").is_none(), "{what}: {record}");
    }
}

/// Each refused identity is refused by the rule named, on the claim named.
fn assert_refused_by(ci: &Ci, good: &Value, refused: Vec<(&str, Value, &str, &str, &str)>) {
    for (what, change, reason, rule, claim) in refused {
        let out = ci.verify(&[], &ci.token(with(good, change)));
        assert_eq!(out.status.code(), Some(1), "{what}: {}", stderr(&out));
        assert_policy_refusal(ci, &out, reason, rule, claim);
    }
}

/// A Buildkite OIDC token (`buildkite-agent oidc request-token --audience ...`) for a build of
/// acme's deploy pipeline on main, as buildkite.com/docs "OIDC with Buildkite" lists its claims.
fn buildkite_claims() -> Value {
    json!({
        "sub": "organization:acme:pipeline:deploy:ref:refs/heads/main:commit:\
                9f3182061f1e2cca4702c368cbc039b7dc9d4485:step:deploy",
        "aud": "https://vault.acme.example",
        "organization_slug": "acme",
        "organization_id": "0184990a-4782-42b5-afc1-16715b10b8ff",
        "pipeline_slug": "deploy",
        "pipeline_id": "0184990a-477b-4fa8-9968-496074483cee",
        "build_number": 42,
        "build_branch": "main",
        "build_tag": null,
        "build_commit": "9f3182061f1e2cca4702c368cbc039b7dc9d4485",
        "build_source": "webhook",
        "step_key": "deploy",
        "job_id": "0184990a-4782-42b5-afc1-16715b10b8a1",
        "agent_id": "0184990a-4782-42b5-afc1-16715b10b8a2",
        "cluster_id": "0184990a-4782-42b5-afc1-16715b10b8a3",
        "cluster_name": "production",
        "queue_id": "0184990a-4782-42b5-afc1-16715b10b8a4",
        "queue_key": "deploy",
        "runner_environment": "self-hosted"
    })
}

#[test]
fn buildkite_identities_are_allowed_and_refused_by_rule() {
    let ci = Ci::new("buildkite");
    preset_policy(
        &ci,
        "buildkite",
        "https://vault.acme.example",
        &[("REPLACE-org", "acme"), ("REPLACE-pipeline", "deploy")],
        "\n[[issuer.rule]]\nclaim = \"step_key\"\neq = \"deploy\"\n",
    );
    let good = buildkite_claims();
    assert_allowed(
        &ci,
        &good,
        vec![
            ("a build of main", json!({})),
            (
                "another build, started by hand",
                json!({"build_number": 43, "build_source": "ui"}),
            ),
            (
                "an array audience holding ours",
                json!({"aud": ["https://other.example", "https://vault.acme.example"]}),
            ),
        ],
    );
    assert_refused_by(
        &ci,
        &good,
        vec![
            (
                "another organisation's pipeline of the same name",
                json!({"organization_slug": "mallory"}),
                "claim_mismatch",
                "issuer[0].rule[0]",
                "organization_slug",
            ),
            (
                "no organisation",
                json!({"organization_slug": null}),
                "missing_claim",
                "issuer[0].rule[0]",
                "organization_slug",
            ),
            (
                "another pipeline",
                json!({"pipeline_slug": "docs"}),
                "claim_mismatch",
                "issuer[0].rule[1]",
                "pipeline_slug",
            ),
            (
                "a feature branch",
                json!({"build_branch": "feature/x"}),
                "claim_mismatch",
                "issuer[0].rule[2]",
                "build_branch",
            ),
            (
                "a pull request from a fork (Buildkite prefixes the fork's owner)",
                json!({"build_branch": "mallory:main"}),
                "claim_mismatch",
                "issuer[0].rule[2]",
                "build_branch",
            ),
            (
                "a tag build (no branch)",
                json!({"build_branch": null, "build_tag": "v1.2.3"}),
                "missing_claim",
                "issuer[0].rule[2]",
                "build_branch",
            ),
            (
                "another step",
                json!({"step_key": "test"}),
                "claim_mismatch",
                "issuer[0].rule[3]",
                "step_key",
            ),
            (
                "another audience",
                json!({"aud": "https://buildkite.com/acme"}),
                "claim_mismatch",
                "issuer[0].audiences",
                "aud",
            ),
            (
                "another issuer",
                json!({"iss": "https://agent.buildkite.com"}),
                "claim_mismatch",
                "issuer",
                "iss",
            ),
        ],
    );
}

/// A projected service account token (TokenRequest) for the deployer account in namespace
/// prod, as kubernetes.io documents it: identity in `sub`, details nested under "kubernetes.io".
fn kubernetes_claims() -> Value {
    json!({
        "aud": ["vault"],
        "jti": "8f3b6c0e-46c5-4a8b-9d7e-2f6a1f1b9c11",
        "sub": "system:serviceaccount:prod:deployer",
        "kubernetes.io": {
            "namespace": "prod",
            "node": {"name": "node-1", "uid": "6b3e0d2e-3c4e-4f3b-9c0a-5a1e7f2d8c01"},
            "pod": {"name": "deployer-7d9f8b6c5-x2x4q", "uid": "9b0c1d2e-3f40-4152-8637-48596a7b8c9d"},
            "serviceaccount": {"name": "deployer", "uid": "1a2b3c4d-5e6f-4071-8293-a4b5c6d7e8f9"},
            "warnafter": 1700081020
        }
    })
}

#[test]
fn kubernetes_identities_are_allowed_and_refused_by_rule() {
    let ci = Ci::new("cluster");
    preset_policy(
        &ci,
        "kubernetes",
        "vault",
        &[
            ("REPLACE-namespace", "prod"),
            ("REPLACE-name", "deployer"),
            (
                "REPLACE-serviceaccount-uid",
                "1a2b3c4d-5e6f-4071-8293-a4b5c6d7e8f9",
            ),
        ],
        "",
    );
    let good = kubernetes_claims();
    assert_allowed(
        &ci,
        &good,
        vec![
            ("the deployer account's pod", json!({})),
            ("a single-string audience", json!({"aud": "vault"})),
            (
                "another pod of the same account",
                json!({"kubernetes.io": {"namespace": "prod",
                       "pod": {"name": "deployer-7d9f8b6c5-abcde", "uid": "0"},
                       "serviceaccount": {"name": "deployer", "uid": "1a2b3c4d-5e6f-4071-8293-a4b5c6d7e8f9"}}}),
            ),
        ],
    );
    assert_refused_by(
        &ci,
        &good,
        vec![
            (
                "the same account name in another namespace",
                json!({"sub": "system:serviceaccount:staging:deployer"}),
                "claim_mismatch",
                "issuer[0].rule[0]",
                "sub",
            ),
            (
                "another account in the namespace",
                json!({"sub": "system:serviceaccount:prod:default"}),
                "claim_mismatch",
                "issuer[0].rule[0]",
                "sub",
            ),
            (
                "a node's identity",
                json!({"sub": "system:node:node-1"}),
                "claim_mismatch",
                "issuer[0].rule[0]",
                "sub",
            ),
            (
                "no subject",
                json!({"sub": null}),
                "missing_claim",
                "issuer[0].rule[0]",
                "sub",
            ),
            (
                "the API server's default audience",
                json!({"aud": ["https://kubernetes.default.svc.cluster.local"]}),
                "claim_mismatch",
                "issuer[0].audiences",
                "aud",
            ),
            (
                "the account deleted and created again under its name: a new uid",
                json!({"kubernetes.io": {"namespace": "prod",
                       "serviceaccount": {"name": "deployer", "uid": "77777777-0000-4000-8000-000000000000"}}}),
                "claim_mismatch",
                "issuer[0].rule[1]",
                UID,
            ),
            (
                "the uid given as an array holding ours",
                json!({"kubernetes.io": {"namespace": "prod",
                       "serviceaccount": {"name": "deployer",
                       "uid": ["77777777-0000-4000-8000-000000000000", "1a2b3c4d-5e6f-4071-8293-a4b5c6d7e8f9"]}}}),
                "claim_mismatch",
                "issuer[0].rule[1]",
                UID,
            ),
            (
                "the uid as a number",
                json!({"kubernetes.io": {"serviceaccount": {"uid": 1}}}),
                "claim_mismatch",
                "issuer[0].rule[1]",
                UID,
            ),
            (
                "the details as an array of objects, one holding ours",
                json!({"kubernetes.io": [{"serviceaccount": {"uid": "77777777"}},
                       {"serviceaccount": {"uid": "1a2b3c4d-5e6f-4071-8293-a4b5c6d7e8f9"}}]}),
                "missing_claim",
                "issuer[0].rule[1]",
                UID,
            ),
            (
                "the uid under a dotted top-level name",
                json!({"kubernetes.io": null,
                       "kubernetes.io.serviceaccount.uid": "1a2b3c4d-5e6f-4071-8293-a4b5c6d7e8f9"}),
                "missing_claim",
                "issuer[0].rule[1]",
                UID,
            ),
            (
                "the uid split at the dots",
                json!({"kubernetes.io": null, "kubernetes": {"io": {"serviceaccount":
                       {"uid": "1a2b3c4d-5e6f-4071-8293-a4b5c6d7e8f9"}}}}),
                "missing_claim",
                "issuer[0].rule[1]",
                UID,
            ),
            (
                "a legacy secret token's issuer",
                json!({"iss": "kubernetes/serviceaccount"}),
                "claim_mismatch",
                "issuer",
                "iss",
            ),
        ],
    );
    // A subject that is not a string is no token at all (RFC 7519 §4.1.2), refused before any
    // rule is judged: an array holding ours never passes as ours.
    let out = ci.verify(
        &[],
        &ci.token(with(
            &good,
            json!({"sub": ["system:serviceaccount:prod:default",
                           "system:serviceaccount:prod:deployer"]}),
        )),
    );
    assert_rejected(ci.env(), &out, "invalid_claim");
    assert!(stderr(&out).contains("'sub'"), "{}", stderr(&out));
    // The refusal line of a path, and the identity a pass shows, nested as the token has it.
    let gone = with(&good, json!({"kubernetes.io": {"namespace": "prod"}}));
    let out = ci.verify(&[], &ci.token(gone));
    assert_eq!(
        stderr(&out),
        "jwtctl: token rejected: missing_claim: policy policy.toml issuer[0].rule[1]: the token \
         has no [\"kubernetes.io\", \"serviceaccount\", \"uid\"]; it must be \
         \"1a2b3c4d-5e6f-4071-8293-a4b5c6d7e8f9\"\n"
    );
    let out = ci.verify(&["--output", "json"], &ci.token(good.clone()));
    assert!(out.status.success(), "{}", stderr(&out));
    let v: Value = serde_json::from_str(&crate::common::stdout(&out)).unwrap();
    assert_eq!(
        v["policy"]["identity"]["kubernetes.io"],
        json!({"serviceaccount": {"uid": "1a2b3c4d-5e6f-4071-8293-a4b5c6d7e8f9"}})
    );
    let out = ci.verify(
        &["--output", "json"],
        &ci.token(with(&good, json!({"kubernetes.io": {}}))),
    );
    let v: Value = serde_json::from_str(&crate::common::stdout(&out)).unwrap();
    assert_eq!(v["claim"], UID);
    // `policy pin` prints the uid rule from a sample token.
    let out = ci.env().run_bare(&["policy", "pin", &ci.token(good)]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        crate::common::stdout(&out),
        "[[issuer.rule]] # sub \"system:serviceaccount:prod:deployer\"\nclaim = \
         [\"kubernetes.io\", \"serviceaccount\", \"uid\"]\neq = \
         \"1a2b3c4d-5e6f-4071-8293-a4b5c6d7e8f9\"\n"
    );
}

/// The service account's uid, as a record names the path.
const UID: &str = r#"["kubernetes.io","serviceaccount","uid"]"#;

/// A Google ID token for a Workspace user of acme.example who signed in to the deploy app, as
/// developers.google.com ("OpenID Connect": an ID token's payload) lists its claims.
fn google_claims() -> Value {
    json!({
        "azp": "1234987819200.apps.googleusercontent.com",
        "aud": "1234987819200.apps.googleusercontent.com",
        "sub": "10769150350006150715113082367",
        "at_hash": "HK6E_P6Dh8Y93mRNtsDB1Q",
        "hd": "acme.example",
        "email": "ada@acme.example",
        "email_verified": true,
        "name": "Ada Lovelace",
        "given_name": "Ada",
        "family_name": "Lovelace",
        "picture": "https://lh3.googleusercontent.com/a/default-user",
        "locale": "en",
        "nonce": "0394852-3190485-2490358"
    })
}

#[test]
fn google_identities_are_allowed_and_refused_by_rule() {
    let ci = Ci::new("google");
    preset_policy(
        &ci,
        "google",
        "1234987819200.apps.googleusercontent.com",
        &[("REPLACE-numeric-id", "10769150350006150715113082367")],
        "\n# The Workspace domain: a personal account carries no hd.\n[[issuer.rule]]\n\
         claim = \"hd\"\neq = \"acme.example\"\n",
    );
    let good = google_claims();
    assert_allowed(
        &ci,
        &good,
        vec![
            ("ada, signed in", json!({})),
            (
                "ada, with no profile claims",
                json!({"name": null, "picture": null, "locale": null}),
            ),
            (
                "ada, renamed (sub stays)",
                json!({"email": "ada.l@acme.example"}),
            ),
        ],
    );
    assert_refused_by(
        &ci,
        &good,
        vec![
            (
                "another user of the domain",
                json!({"sub": "11223344556677889900", "email": "bob@acme.example"}),
                "claim_mismatch",
                "issuer[0].rule[0]",
                "sub",
            ),
            (
                "ada's email on an account that is not ada's",
                json!({"sub": "99999999999999999999"}),
                "claim_mismatch",
                "issuer[0].rule[0]",
                "sub",
            ),
            (
                "an unverified email",
                json!({"email_verified": false}),
                "claim_mismatch",
                "issuer[0].rule[1]",
                "email_verified",
            ),
            (
                "email_verified as a string (tokeninfo's shape, not an ID token's)",
                json!({"email_verified": "true"}),
                "claim_mismatch",
                "issuer[0].rule[1]",
                "email_verified",
            ),
            (
                "no email_verified",
                json!({"email_verified": null}),
                "missing_claim",
                "issuer[0].rule[1]",
                "email_verified",
            ),
            (
                "another Workspace domain",
                json!({"hd": "mallory.example"}),
                "claim_mismatch",
                "issuer[0].rule[2]",
                "hd",
            ),
            (
                "a personal account (no hd)",
                json!({"hd": null}),
                "missing_claim",
                "issuer[0].rule[2]",
                "hd",
            ),
            (
                "a token minted for another app",
                json!({"aud": "5555.apps.googleusercontent.com",
                       "azp": "5555.apps.googleusercontent.com"}),
                "claim_mismatch",
                "issuer[0].audiences",
                "aud",
            ),
            (
                "another issuer",
                json!({"iss": "accounts.google.com"}),
                "claim_mismatch",
                "issuer",
                "iss",
            ),
        ],
    );
}

/// Google writes its issuer two ways (`https://accounts.google.com` and `accounts.google.com`):
/// the preset names both, and a token is judged by the one its `iss` names, exactly.
#[test]
fn google_tokens_naming_either_form_of_the_issuer_pass_and_nothing_else_does() {
    let ci = Ci::new("google");
    // The template for Google's own issuer lists the other form.
    let out = ci.env().run_bare(&["policy", "new", "--preset", "google"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        crate::common::stdout(&out).contains(
            "url = \"https://accounts.google.com\"\n# The other exact iss the provider writes \
             for this issuer.\naliases = [\"accounts.google.com\"]\n"
        ),
        "{}",
        crate::common::stdout(&out)
    );
    // Here the local server stands for https://accounts.google.com.
    let text = preset_policy(
        &ci,
        "google",
        "1234987819200.apps.googleusercontent.com",
        &[("REPLACE-numeric-id", "10769150350006150715113082367")],
        "",
    )
    .replacen(
        "preset = \"google\"",
        "aliases = [\"accounts.google.com\"]\npreset = \"google\"",
        1,
    );
    ci.policy(&text);
    let good = google_claims();
    let mut batch = String::new();
    for iss in [ci.issuer.as_str(), "accounts.google.com"] {
        let token = ci.token(with(&good, json!({ "iss": iss })));
        let out = ci.verify(&[], &token);
        assert!(out.status.success(), "{iss}: {}", stderr(&out));
        batch.push_str(&token);
        batch.push('\n');
    }
    // A batch of one issuer (which skips picking the issuer per token) judges iss the same way.
    batch.push_str(&ci.token(with(&good, json!({"iss": "https://accounts.google.com"}))));
    let out = ci
        .env()
        .bare()
        .args(["verify", "--batch", "--policy", "policy.toml"])
        .args(["--ca-file", "ca.pem", "--cache-dir", "cache"])
        .write_stdin(format!("{batch}\n"))
        .output()
        .unwrap();
    let valid: Vec<Value> = crate::common::stdout(&out)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["valid"].clone())
        .collect();
    assert_eq!(
        valid,
        [json!(true), json!(true), json!(false)],
        "{}",
        stderr(&out)
    );
    for iss in [
        "https://accounts.google.com",
        "Accounts.Google.com",
        "accounts.google.com/",
        "accounts.google.com.evil.example",
    ] {
        let out = ci.verify(&[], &ci.token(with(&good, json!({ "iss": iss }))));
        assert_eq!(out.status.code(), Some(1), "{iss}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(&format!(
                "policy policy.toml issuer: 'iss' must be one of [\"{}\", \"accounts.google.com\"]",
                ci.issuer
            )),
            "{iss}: {}",
            stderr(&out)
        );
    }
}
