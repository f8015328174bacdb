//! `--policy FILE`: CI identity policies judged against real-shaped tokens of each provider,
//! with keys served by a local HTTPS/OIDC server; refusals name the rule, records the policy.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::common::https::Reply;
use crate::common::{
    Env, assert_refused, assert_rejected, fixture_text, now, sha256sum, stderr, stdout,
};
use crate::remote::Idp;

/// A CI provider served by the local HTTPS server: OIDC discovery at `issuer`, its keys (RSA,
/// as GitHub's and GitLab's are) at `issuer/keys`.
pub(crate) struct Ci {
    pub(crate) idp: Idp,
    pub(crate) issuer: String,
    kid: String,
}

impl Ci {
    pub(crate) fn new(name: &str) -> Ci {
        let idp = Idp::new();
        idp.env.key("keys/rsa_pkcs8.pem");
        let issuer = idp.server.url(&format!("/{name}"));
        idp.server.set(
            &format!("/{name}/.well-known/openid-configuration"),
            Reply::json(
                &json!({"issuer": issuer, "jwks_uri": idp.server.url(&format!("/{name}/keys"))})
                    .to_string(),
            ),
        );
        let set = idp.set_of(&["rsa_pkcs8.pem"]);
        let kid = serde_json::from_str::<Value>(&set).unwrap()["keys"][0]["kid"]
            .as_str()
            .unwrap()
            .to_string();
        idp.server.set(&format!("/{name}/keys"), Reply::json(&set));
        Ci { idp, issuer, kid }
    }

    pub(crate) fn env(&self) -> &Env {
        &self.idp.env
    }

    /// A token the provider would mint: RS256, its kid, `claims` with `iss` and times added.
    pub(crate) fn token(&self, mut claims: Value) -> String {
        let t = now();
        let obj = claims.as_object_mut().unwrap();
        obj.entry("iss").or_insert(json!(self.issuer));
        obj.insert("iat".into(), json!(t - 5));
        obj.insert("nbf".into(), json!(t - 5));
        obj.insert("exp".into(), json!(t + 300));
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        let key = EncodingKey::from_rsa_pem(fixture_text("keys/rsa_pkcs8.pem").as_bytes()).unwrap();
        jsonwebtoken::encode(&header, &claims, &key).unwrap()
    }

    /// A token the provider would sign with `payload` exactly as written (a key given twice,
    /// say): RS256 under its kid.
    pub(crate) fn raw_token(&self, payload: &str) -> String {
        let header = json!({"alg": "RS256", "typ": "JWT", "kid": self.kid}).to_string();
        let key = EncodingKey::from_rsa_pem(fixture_text("keys/rsa_pkcs8.pem").as_bytes()).unwrap();
        crate::common::sign_raw(&header, payload, &key, Algorithm::RS256)
    }

    /// Write the policy (with `ISSUER` replaced by the provider's URL) as `policy.toml`.
    pub(crate) fn policy(&self, text: &str) {
        self.env()
            .write("policy.toml", &text.replace("ISSUER", &self.issuer));
    }

    pub(crate) fn verify(&self, extra: &[&str], token: &str) -> std::process::Output {
        self.idp.verify(&["--policy", "policy.toml"], extra, token)
    }
}

/// GitHub Actions' claims for a push to main of acme/deploy in the production environment.
pub(crate) fn github_claims() -> Value {
    json!({
        "jti": "example-id",
        "sub": "repo:acme/deploy:environment:production",
        "aud": "https://github.com/acme",
        "ref": "refs/heads/main",
        "sha": "e83c5163316f89bfbde7d9ab23ca2e25604af290",
        "repository": "acme/deploy",
        "repository_owner": "acme",
        "repository_owner_id": "1001",
        "run_id": "5467",
        "run_number": "12",
        "run_attempt": "1",
        "repository_visibility": "private",
        "repository_id": "2002",
        "actor_id": "7",
        "actor": "octocat",
        "workflow": "deploy",
        "head_ref": "",
        "base_ref": "",
        "event_name": "push",
        "ref_protected": "true",
        "ref_type": "branch",
        "workflow_ref": "acme/deploy/.github/workflows/deploy.yml@refs/heads/main",
        "workflow_sha": "e83c5163316f89bfbde7d9ab23ca2e25604af290",
        "job_workflow_ref": "acme/deploy/.github/workflows/deploy.yml@refs/heads/main",
        "job_workflow_sha": "e83c5163316f89bfbde7d9ab23ca2e25604af290",
        "runner_environment": "github-hosted",
        "environment": "production"
    })
}

pub(crate) const GITHUB_POLICY: &str = r#"
# Who may deploy acme/deploy to production.
[[issuer]]
url = "ISSUER"
preset = "github-actions"
oidc = true
audiences = ["https://github.com/acme"]
algorithms = ["RS256"]
max_age = "10m"

[[issuer.rule]]
claim = "repository_id"        # acme/deploy
eq = "2002"

[[issuer.rule]]
claim = "repository_owner_id"  # acme
eq = "1001"

[[issuer.rule]]
claim = "event_name"
one_of = ["push", "workflow_dispatch"]

[[issuer.rule]]
claim = "environment"
eq = "production"

[[issuer.rule]]
any = [
  { claim = "ref", eq = "refs/heads/main" },
  { all = [
      { claim = "ref_type", eq = "tag" },
      { claim = "ref", regex = 'refs/tags/v[0-9]+\.[0-9]+\.[0-9]+' },
  ] },
]
"#;

pub(crate) fn with(base: &Value, changes: Value) -> Value {
    let mut claims = base.clone();
    for (k, v) in changes.as_object().unwrap() {
        match v {
            Value::Null => claims.as_object_mut().unwrap().remove(k),
            v => claims.as_object_mut().unwrap().insert(k.clone(), v.clone()),
        };
    }
    claims
}

/// A refusal's contract: exit 1, the stderr line naming the rule, claim and expectation, and
/// the record naming the policy file, its SHA-256, the rule and the claim.
pub(crate) fn assert_policy_refusal(
    ci: &Ci,
    out: &std::process::Output,
    reason: &str,
    rule: &str,
    claim: &str,
) {
    assert_rejected(ci.env(), out, reason);
    let line = stderr(out);
    // A path is recorded as a JSON array of its keys and shown as one with spaces.
    let shown = match serde_json::from_str::<Vec<String>>(claim) {
        Ok(keys) => format!("[\"{}\"]", keys.join("\", \"")),
        Err(_) => format!("'{claim}'"),
    };
    assert!(
        line.contains(&format!("policy policy.toml {rule}: ")) && line.contains(&shown),
        "{rule} {claim}: {line}"
    );
    let record = ci.env().log().pop().unwrap();
    assert_eq!(record["policy_rule"], rule, "{record}");
    assert_eq!(record["claim"], claim, "{record}");
    assert_eq!(record["policy"], "policy.toml");
    let text = std::fs::read_to_string(ci.env().path("policy.toml")).unwrap();
    assert_eq!(record["policy_sha256"], sha256sum(&text));
}

#[test]
fn github_actions_identities_are_allowed_and_refused_by_rule() {
    let ci = Ci::new("gh");
    ci.policy(GITHUB_POLICY);
    let good = github_claims();
    let allowed = [
        ("push to main", json!({})),
        (
            "a release tag",
            json!({"ref": "refs/tags/v1.2.3", "ref_type": "tag"}),
        ),
        (
            "an array audience holding ours",
            json!({"aud": ["https://github.com/other", "https://github.com/acme"]}),
        ),
        ("a manual run", json!({"event_name": "workflow_dispatch"})),
    ];
    for (what, change) in allowed {
        let out = ci.verify(&[], &ci.token(with(&good, change)));
        assert!(out.status.success(), "{what}: {}", stderr(&out));
        let record = ci.env().log().pop().unwrap();
        assert_eq!(record["outcome"], "success", "{what}");
        assert_eq!(record["policy"], "policy.toml");
        assert!(record.get("policy_rule").is_none());
    }
    let refused = [
        (
            "another repository",
            json!({"repository": "acme/other", "repository_id": "3003"}),
            "claim_mismatch",
            "issuer[0].rule[0]",
            "repository_id",
        ),
        (
            "a renamed repository's name reused (a different id)",
            json!({"repository_id": "9999"}),
            "claim_mismatch",
            "issuer[0].rule[0]",
            "repository_id",
        ),
        (
            "a fork",
            json!({"repository": "mallory/deploy", "repository_owner": "mallory",
                   "repository_id": "4004", "repository_owner_id": "666"}),
            "claim_mismatch",
            "issuer[0].rule[0]",
            "repository_id",
        ),
        (
            "a pull request",
            json!({"event_name": "pull_request", "ref": "refs/pull/7/merge"}),
            "claim_mismatch",
            "issuer[0].rule[2]",
            "event_name",
        ),
        (
            "the staging environment",
            json!({"environment": "staging"}),
            "claim_mismatch",
            "issuer[0].rule[3]",
            "environment",
        ),
        (
            "no environment",
            json!({"environment": null}),
            "missing_claim",
            "issuer[0].rule[3]",
            "environment",
        ),
        (
            "a branch named like a tag",
            json!({"ref": "refs/heads/v1.2.3"}),
            "claim_mismatch",
            "issuer[0].rule[4]",
            "ref",
        ),
        (
            "a tag that is not a release",
            json!({"ref": "refs/tags/v1.2.3-evil", "ref_type": "tag"}),
            "claim_mismatch",
            "issuer[0].rule[4]",
            "ref",
        ),
        (
            "an array audience without ours",
            json!({"aud": ["https://github.com/other", "sts.amazonaws.com"]}),
            "claim_mismatch",
            "issuer[0].audiences",
            "aud",
        ),
        (
            "another issuer",
            json!({"iss": "https://token.actions.example"}),
            "claim_mismatch",
            "issuer",
            "iss",
        ),
    ];
    for (what, change, reason, rule, claim) in refused {
        let out = ci.verify(&[], &ci.token(with(&good, change)));
        assert_policy_refusal(&ci, &out, reason, rule, claim);
        let _ = what;
    }
}

#[test]
fn the_refusal_a_fork_gets_names_the_rule_the_claim_and_the_id_expected() {
    let ci = Ci::new("gh");
    ci.policy(GITHUB_POLICY);
    let fork = with(
        &github_claims(),
        json!({"repository": "mallory/deploy", "repository_owner": "mallory",
               "repository_id": "4004", "repository_owner_id": "666"}),
    );
    let token = ci.token(fork);
    let out = ci.verify(&[], &token);
    assert_eq!(
        stderr(&out),
        "jwtctl: token rejected: claim_mismatch: policy policy.toml issuer[0].rule[0]: \
         'repository_id' must be \"2002\"\n"
    );
    assert!(!stderr(&out).contains("4004"), "nothing from the token");
    // --output json carries the same.
    let out = ci.verify(&["--output", "json"], &token);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["valid"], false);
    assert_eq!(v["rule"], "issuer[0].rule[0]");
    assert_eq!(v["claim"], "repository_id");
    assert_eq!(v["expected"], "\"2002\"");
    // And a token that passes shows the identity it passed as.
    let out = ci.verify(&["--output", "json"], &ci.token(github_claims()));
    assert!(out.status.success(), "{}", stderr(&out));
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let policy = &v["policy"];
    assert_eq!(policy["file"], "policy.toml");
    assert_eq!(policy["issuer"], "issuer[0]");
    assert_eq!(
        policy["identity"]["sub"],
        "repo:acme/deploy:environment:production"
    );
    assert_eq!(policy["identity"]["repository_id"], "2002");
    assert_eq!(policy["identity"]["iss"], ci.issuer.as_str());
    assert!(
        policy["identity"].get("actor").is_none(),
        "only what the policy looked at"
    );
}

fn gitlab_claims() -> Value {
    json!({
        "namespace_id": "72",
        "namespace_path": "acme",
        "project_id": "20",
        "project_path": "acme/deploy",
        "user_id": "1",
        "user_login": "ada",
        "user_email": "ada@acme.example",
        "user_access_level": "maintainer",
        "pipeline_id": "574",
        "pipeline_source": "push",
        "job_id": "302",
        "ref": "main",
        "ref_type": "branch",
        "ref_path": "refs/heads/main",
        "ref_protected": "true",
        "environment": "production",
        "environment_protected": "true",
        "deployment_tier": "production",
        "runner_id": 1,
        "runner_environment": "gitlab-hosted",
        "sha": "714a629c0b401fdce83e847fc9589983fc6f46bc",
        "project_visibility": "private",
        "ci_config_ref_uri": "gitlab.example/acme/deploy//.gitlab-ci.yml@refs/heads/main",
        "ci_config_sha": "714a629c0b401fdce83e847fc9589983fc6f46bc",
        "jti": "235b3a54-b797-45c7-ae9a-f72d7bc6ef5b",
        "aud": "https://vault.acme.example",
        "sub": "project_path:acme/deploy:ref_type:branch:ref:main"
    })
}

const GITLAB_POLICY: &str = r#"
[[issuer]]
url = "ISSUER"
preset = "gitlab"
oidc = true
audiences = ["https://vault.acme.example"]

[[issuer.rule]]
claim = "project_id"
eq = "20"

[[issuer.rule]]
claim = "namespace_id"
eq = "72"

[[issuer.rule]]
claim = "ref_protected"
eq = "true"

[[issuer.rule]]
claim = "environment"
eq = "production"

[[issuer.rule]]
any = [
  { claim = "ref_path", eq = "refs/heads/main" },
  { claim = "ref_path", glob = "refs/tags/v*" },
]
"#;

#[test]
fn gitlab_identities_are_allowed_and_refused_by_rule() {
    let ci = Ci::new("gitlab");
    ci.policy(GITLAB_POLICY);
    let good = gitlab_claims();
    for change in [
        json!({}),
        json!({"ref": "v2.0.0", "ref_type": "tag", "ref_path": "refs/tags/v2.0.0"}),
    ] {
        let out = ci.verify(&[], &ci.token(with(&good, change)));
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let refused = [
        (
            json!({"project_id": "21", "project_path": "acme/other"}),
            "claim_mismatch",
            "issuer[0].rule[0]",
            "project_id",
        ),
        (
            json!({"namespace_id": "99", "namespace_path": "mallory"}),
            "claim_mismatch",
            "issuer[0].rule[1]",
            "namespace_id",
        ),
        (
            json!({"ref_protected": "false", "ref": "feature", "ref_path": "refs/heads/feature"}),
            "claim_mismatch",
            "issuer[0].rule[2]",
            "ref_protected",
        ),
        (
            json!({"environment": "review/feature"}),
            "claim_mismatch",
            "issuer[0].rule[3]",
            "environment",
        ),
        (
            json!({"ref_path": "refs/heads/release"}),
            "claim_mismatch",
            "issuer[0].rule[4]",
            "ref_path",
        ),
        (
            json!({"ref_path": null}),
            "missing_claim",
            "issuer[0].rule[4]",
            "ref_path",
        ),
        (
            json!({"aud": ["https://other.example"]}),
            "claim_mismatch",
            "issuer[0].audiences",
            "aud",
        ),
    ];
    for (change, reason, rule, claim) in refused {
        let out = ci.verify(&[], &ci.token(with(&good, change)));
        assert_policy_refusal(&ci, &out, reason, rule, claim);
    }
}

#[test]
fn a_token_is_judged_by_the_issuer_its_iss_names() {
    let ci = Ci::new("gh");
    // A second issuer whose keys are a JWK Set file beside the policy (EC), with rules of its own.
    let jwks = ci.idp.set_of(&["ec256_pkcs8.pem"]);
    ci.env().write("buildkite-jwks.json", &jwks);
    ci.policy(&format!(
        "{GITHUB_POLICY}\n[[issuer]]\nurl = \"https://agent.buildkite.example\"\npreset = \
         \"buildkite\"\njwks_file = \"buildkite-jwks.json\"\naudiences = [\"deploy\"]\n\n\
         [[issuer.rule]]\nclaim = \"organization_slug\"\neq = \"acme\"\n\n[[issuer.rule]]\n\
         claim = \"pipeline_slug\"\none_of = [\"deploy\", \"release\"]\n"
    ));
    let bk = |claims: Value| {
        let t = now();
        let mut claims = claims;
        let obj = claims.as_object_mut().unwrap();
        obj.insert("iss".into(), json!("https://agent.buildkite.example"));
        obj.insert("iat".into(), json!(t));
        obj.insert("exp".into(), json!(t + 300));
        let key =
            EncodingKey::from_ec_pem(fixture_text("keys/ec256_pkcs8.pem").as_bytes()).unwrap();
        jsonwebtoken::encode(&Header::new(Algorithm::ES256), &claims, &key).unwrap()
    };
    let buildkite = json!({
        "sub": "organization:acme:pipeline:deploy:ref:refs/heads/main:commit:abc:step:deploy",
        "aud": "deploy", "organization_slug": "acme", "pipeline_slug": "deploy",
        "build_number": 1, "build_branch": "main", "build_tag": null, "build_commit": "abc",
        "step_key": "deploy", "job_id": "0184", "agent_id": "0184"
    });
    let out = ci.verify(&[], &bk(buildkite.clone()));
    assert!(out.status.success(), "{}", stderr(&out));
    let out = ci.verify(&[], &bk(with(&buildkite, json!({"pipeline_slug": "docs"}))));
    assert_policy_refusal(
        &ci,
        &out,
        "claim_mismatch",
        "issuer[1].rule[1]",
        "pipeline_slug",
    );
    // The GitHub issuer still judges GitHub's tokens.
    let out = ci.verify(&[], &ci.token(github_claims()));
    assert!(out.status.success(), "{}", stderr(&out));
    // A Buildkite token signed with GitHub's key is refused: each issuer has its own keys.
    let t = now();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(ci.kid.clone());
    let key = EncodingKey::from_rsa_pem(fixture_text("keys/rsa_pkcs8.pem").as_bytes()).unwrap();
    let forged = jsonwebtoken::encode(
        &header,
        &with(
            &buildkite,
            json!({"iss": "https://agent.buildkite.example", "iat": t, "exp": t + 300}),
        ),
        &key,
    )
    .unwrap();
    let out = ci.verify(&[], &forged);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}

#[test]
fn a_regex_exponential_for_backtracking_finishes_at_once() {
    let ci = Ci::new("gh");
    ci.policy(&format!(
        "{GITHUB_POLICY}\n[[issuer.rule]]\nclaim = \"workflow\"\nregex = \"(a+)+b\"\n"
    ));
    let evil = with(
        &github_claims(),
        json!({"workflow": format!("{}!", "a".repeat(30_000))}),
    );
    let token = ci.token(evil);
    let start = Instant::now();
    let out = ci.verify(&[], &token);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    assert_policy_refusal(&ci, &out, "claim_mismatch", "issuer[0].rule[5]", "workflow");
}

#[test]
fn policy_replaces_flags_and_a_usage_error_names_both() {
    let env = Env::new();
    env.write("policy.toml", "");
    for flag in [
        &["--aud", "api"][..],
        &["--iss", "https://x"],
        &["--claim-eq", "a=b"],
        &["--claim-match", "a=b*"],
        &["--jwks", "k.json"],
        &["--oidc", "https://x"],
        &["--key-file", "test.key"],
        &["--alg", "RS256"],
        &["--max-age", "5m"],
        &["--require", "jti"],
    ] {
        let out = env
            .bare()
            .args(["verify", "--policy", "policy.toml"])
            .args(flag)
            .arg("a.b.c")
            .output()
            .unwrap();
        assert_refused(&env, &out, 2, "usage");
        let line = stderr(&out);
        assert!(
            line.contains("--policy") && line.contains(flag[0]),
            "{line}"
        );
    }
}

#[test]
fn a_broken_or_unsafe_policy_file_is_a_policy_error() {
    let ci = Ci::new("gh");
    ci.policy("[[issuer]]\nurl = \"ISSUER\"\noidc = true\naudience = [\"x\"]\n");
    let out = ci.verify(&[], &ci.token(github_claims()));
    assert_refused(ci.env(), &out, 2, "policy_error");
    assert_eq!(
        stderr(&out),
        "jwtctl: the policy file policy.toml, line 4: unknown key 'audience' in issuer[0]; the \
         keys are url, aliases, preset, oidc, jwks_url, jwks_file, audiences, algorithms, \
         max_age, require, rule\n"
    );
    // A policy in a directory other users can write is refused, as a key file would be.
    ci.policy(GITHUB_POLICY);
    let open = ci.env().path("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::copy(ci.env().path("policy.toml"), open.join("policy.toml")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = ci.idp.verify(
        &["--policy", "open/policy.toml"],
        &[],
        &ci.token(github_claims()),
    );
    assert_refused(ci.env(), &out, 2, "policy_error");
    assert!(
        stderr(&out).contains("refusing the policy file"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_batch_is_judged_by_the_policy_line_by_line() {
    let ci = Ci::new("gh");
    ci.policy(GITHUB_POLICY);
    let good = ci.token(github_claims());
    let fork = ci.token(with(&github_claims(), json!({"repository_id": "4004"})));
    let out = ci
        .env()
        .bare()
        .args([
            "--log-level",
            "info",
            "verify",
            "--batch",
            "--policy",
            "policy.toml",
        ])
        .args(["--ca-file", "ca.pem", "--cache-dir", "cache"])
        .write_stdin(format!("{good}\n{fork}\n{good}\n"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let lines: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["valid"], true);
    assert_eq!(lines[0]["policy"]["identity"]["repository_id"], "2002");
    assert_eq!(lines[1]["valid"], false);
    assert_eq!(lines[1]["rule"], "issuer[0].rule[0]");
    assert_eq!(lines[1]["claim"], "repository_id");
    assert_eq!(lines[2]["valid"], true);
    let records: Vec<Value> = ci
        .env()
        .log()
        .into_iter()
        .filter(|r| r["op"] == "verify" && r.get("line").is_some())
        .collect();
    assert_eq!(records.len(), 3);
    assert_eq!(records[1]["policy_rule"], "issuer[0].rule[0]");
    assert!(records[2].get("policy_rule").is_none(), "{}", records[2]);
    assert!(records.iter().all(|r| r["policy"] == "policy.toml"));
}

#[test]
fn a_batch_line_whose_issuers_keys_fail_to_load_is_refused_alone() {
    let ci = Ci::new("gh");
    let down = ci.idp.server.url("/down/keys");
    ci.idp.server.set("/down/keys", Reply::status(500));
    let others = format!(
        "\n[[issuer]]\nurl = \"https://missing.example\"\njwks_file = \"missing.json\"\n\
         audiences = [\"a\"]\n[[issuer.rule]]\nclaim = \"sub\"\nglob = \"*\"\n\n\
         [[issuer]]\nurl = \"https://down.example\"\njwks_url = \"{down}\"\n\
         audiences = [\"a\"]\n[[issuer.rule]]\nclaim = \"sub\"\nglob = \"*\"\n"
    );
    ci.policy(&format!("{GITHUB_POLICY}{others}"));
    let good = ci.token(github_claims());
    let fork = ci.token(with(&github_claims(), json!({"repository_id": "4004"})));
    let missing = ci.token(json!({"iss": "https://missing.example", "sub": "x", "aud": "a"}));
    let down_token = ci.token(json!({"iss": "https://down.example", "sub": "x", "aud": "a"}));
    let batch = |input: String| {
        ci.env()
            .bare()
            .args(["--log-level", "info", "verify", "--batch", "--policy"])
            .args(["policy.toml", "--ca-file", "ca.pem", "--cache-dir", "cache"])
            .write_stdin(input)
            .output()
            .unwrap()
    };
    let out = batch(format!(
        "{good}\n{missing}\n{good}\n{down_token}\n{missing}\n{fork}\n"
    ));
    // The lines are judged one by one; the worst decides the exit: 2, as `verify` alone would
    // exit for a token whose issuer's keys cannot be loaded.
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).starts_with("jwtctl: 3 line(s) were refused because the keys of the issuer")
            && stderr(&out).lines().count() == 1,
        "{}",
        stderr(&out)
    );
    let lines: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 6, "{}", stdout(&out));
    for (i, valid) in [true, false, true, false, false, false]
        .into_iter()
        .enumerate()
    {
        assert_eq!(lines[i]["valid"], valid, "{}", lines[i]);
        assert_eq!(lines[i]["line"], i + 1);
    }
    for i in [1, 4] {
        assert_eq!(lines[i]["reason"], "key_error", "{}", lines[i]);
        assert_eq!(lines[i]["rule"], "issuer[1].jwks_file");
        assert_eq!(lines[i]["expected"], "jwks_file = \"missing.json\"");
    }
    assert_eq!(lines[3]["reason"], "jwks_unavailable", "{}", lines[3]);
    assert_eq!(lines[3]["rule"], "issuer[2].jwks_url");
    assert_eq!(lines[5]["reason"], "claim_mismatch");
    // The remote set was asked once, not once per line naming it (and not again in a minute).
    assert_eq!(ci.idp.server.hits("/down/keys"), 1);
    for line in &lines {
        let message = line["message"].as_str().unwrap_or_default();
        assert!(!message.contains("--jwks"), "{message}");
    }
    let records: Vec<Value> = ci
        .env()
        .log()
        .into_iter()
        .filter(|r| r["op"] == "verify" && r.get("line").is_some())
        .collect();
    assert_eq!(records.len(), 6);
    assert_eq!(records[1]["reason"], "key_error", "{}", records[1]);
    assert_eq!(records[1]["policy_rule"], "issuer[1].jwks_file");
    assert_eq!(records[1]["key_source"], "file");
    assert_eq!(records[3]["reason"], "jwks_unavailable");
    assert_eq!(records[3]["policy_rule"], "issuer[2].jwks_url");
    assert_eq!(records[3]["key_source"], down.as_str(), "{}", records[3]);
    assert_eq!(
        records[0]["key_source"],
        ci.idp.server.url("/gh/keys"),
        "{}",
        records[0]
    );
    // Without a failing line, the batch exits as before: 1 for a rejected token.
    let out = batch(format!("{good}\n{fork}\n"));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    // A single verify says which setting of the policy failed, never a flag it replaced.
    ci.env().write(
        "pem.json",
        &crate::common::fixture_text("keys/rsa_pkcs8.pem"),
    );
    let text = std::fs::read_to_string(ci.env().path("policy.toml")).unwrap();
    ci.env()
        .write("policy.toml", &text.replace("missing.json", "pem.json"));
    let out = ci.verify(&[], &missing);
    assert_refused(ci.env(), &out, 2, "key_error");
    let err = stderr(&out);
    assert!(
        err.starts_with("jwtctl: policy policy.toml issuer[1].jwks_file: ")
            && !err.contains("--jwks")
            && !err.contains("--key-file"),
        "{err}"
    );
}

#[test]
fn a_token_older_than_max_age_is_refused_about_its_iat() {
    let ci = Ci::new("gh");
    ci.policy(GITHUB_POLICY);
    let t = now();
    let mut claims = github_claims();
    let obj = claims.as_object_mut().unwrap();
    obj.insert("iss".into(), json!(ci.issuer));
    obj.insert("iat".into(), json!(t - 3600));
    obj.insert("exp".into(), json!(t + 300));
    let out = ci.verify(&[], &ci.raw_token(&claims.to_string()));
    assert_rejected(ci.env(), &out, "too_old");
    assert_eq!(
        stderr(&out),
        "jwtctl: token rejected: too_old: policy policy.toml issuer[0].max_age: 'iat' must be at \
         most 600s ago\n"
    );
    let record = ci.env().log().pop().unwrap();
    assert_eq!(record["claim"], "iat", "{record}");
    assert_eq!(record["policy_rule"], "issuer[0].max_age", "{record}");
    let out = ci.verify(&["--output", "json"], &ci.raw_token(&claims.to_string()));
    let verdict: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(verdict["claim"], "iat", "{verdict}");
    assert_eq!(verdict["expected"], "at most 600s ago", "{verdict}");
}

/// Twenty broken policies, each with the one-line error `policy check` gives (its line number).
const BROKEN: [(&str, &str); 20] = [
    ("[[issuer]\n", "line 1: not valid TOML"),
    (
        "issuers = 1\n",
        "line 1: unknown key 'issuers' in the policy",
    ),
    (
        "\n[issuer]\nurl = \"https://a\"\n",
        "line 2: 'issuer' must be an array of tables",
    ),
    ("# nothing\n", "line 1: the policy lists no issuer"),
    (
        "[[issuer]]\njwks_file = \"k\"\naudiences = [\"a\"]\n",
        "line 1: issuer[0] has no url",
    ),
    (
        "[[issuer]]\nurl = \"ftp://a\"\njwks_file = \"k\"\naudiences = [\"a\"]\n",
        "line 2: issuer[0].url must be an https:// URL",
    ),
    (
        "[[issuer]]\nurl = \"https://a\"\naudiences = [\"a\"]\n",
        "line 1: issuer[0] has no key source",
    ),
    (
        "[[issuer]]\nurl = \"https://a\"\noidc = true\njwks_file = \"k\"\naudiences = [\"a\"]\n",
        "line 1: issuer[0] has two key sources",
    ),
    (
        "[[issuer]]\nurl = \"https://a\"\noidc = false\naudiences = [\"a\"]\n",
        "line 3: issuer[0].oidc must be true",
    ),
    (
        "[[issuer]]\nurl = \"https://a\"\noidc = true\n",
        "line 1: issuer[0] has no audiences",
    ),
    (
        "[[issuer]]\nurl = \"https://a\"\noidc = true\naudiences = \"a\"\n",
        "line 4: issuer[0].audiences must be an array of strings",
    ),
    (
        "[[issuer]]\nurl = \"https://a\"\noidc = true\naudiences = [\"a\"]\nalgorithms = [\"none\"]\n",
        "line 5: issuer[0].algorithms: 'none' is not an algorithm",
    ),
    (
        "[[issuer]]\nurl = \"https://a\"\noidc = true\naudiences = [\"a\"]\nmax_age = \"soon\"\n",
        "line 5: issuer[0].max_age must be a duration",
    ),
    (
        "[[issuer]]\nurl = \"https://a\"\noidc = true\naudiences = [\"a\"]\npreset = \"jenkins\"\n",
        "line 5: issuer[0].preset 'jenkins' is not one jwtctl knows",
    ),
    (
        "[[issuer]]\nurl = \"https://a\"\noidc = true\naudiences = [\"a\"]\n\n[[issuer.rule]]\nclaim = \"ref\"\nregex = \"(main\"\n",
        "line 8: issuer[0].rule[0].regex: the pattern is not a valid regular expression",
    ),
    (
        "[[issuer]]\nurl = \"https://a\"\noidc = true\naudiences = [\"a\"]\n\n[[issuer.rule]]\nclaim = \"ref\"\neq = \"a\"\nglob = \"b\"\n",
        "line 6: issuer[0].rule[0] has both eq and glob",
    ),
    (
        "[[issuer]]\nurl = \"https://a\"\noidc = true\naudiences = [\"a\"]\n\n[[issuer.rule]]\nclaim = \"ref\"\n",
        "line 6: issuer[0].rule[0] says nothing about 'ref'",
    ),
    (
        "[[issuer]]\nurl = \"https://a\"\noidc = true\naudiences = [\"a\"]\n\n[[issuer.rule]]\nany = []\n",
        "line 6: issuer[0].rule[0].any is empty",
    ),
    (
        "[[issuer]]\nurl = \"https://a\"\noidc = true\naudiences = [\"a\"]\n[[issuer.rule]]\nclaim = \"sub\"\neq = \"x\"\n\n[[issuer]]\nurl = \"https://a\"\noidc = true\naudiences = [\"b\"]\n[[issuer.rule]]\nclaim = \"sub\"\neq = \"x\"\n",
        "line 9: issuer[1] has the same url as issuer[0]",
    ),
    (
        "[[issuer]]\nurl = \"https://a\"\npreset = \"github-actions\"\noidc = true\naudiences = [\"a\"]\n\n[[issuer.rule]]\nclaim = \"repo\"\neq = \"acme/x\"\n",
        "line 7: issuer[0].rule[0]: github-actions tokens never carry 'repo'",
    ),
];

#[test]
fn policy_check_gives_one_line_with_the_line_number_for_each_broken_policy() {
    let env = Env::new();
    for (i, (text, want)) in BROKEN.iter().enumerate() {
        env.write("broken.toml", text);
        let out = env.run_bare(&["policy", "check", "broken.toml"]);
        assert_refused(&env, &out, 2, "policy_error");
        let line = stderr(&out);
        let prefix = format!("jwtctl: the policy file broken.toml, {want}");
        assert!(
            line.starts_with(&prefix),
            "policy {i}: {line:?}, wanted {prefix:?}"
        );
        assert_eq!(env.log().pop().unwrap()["op"], "policy_check");
    }
}

#[test]
fn policy_check_prints_the_policy_normalised_and_warns_of_names_pinned_alone() {
    let env = Env::new();
    env.write(
        "deploy.toml",
        &GITHUB_POLICY.replace("ISSUER", "https://token.actions.githubusercontent.com"),
    );
    let out = env.run_bare(&["policy", "check", "deploy.toml"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
    let normal = stdout(&out);
    assert!(normal.starts_with("[[issuer]]\nurl = \"https://token.actions.githubusercontent.com\"\npreset = \"github-actions\"\noidc = true\n"), "{normal}");
    assert!(normal.contains("max_age = \"600s\"\n"), "{normal}");
    // The normalised text checks to itself.
    env.write("normal.toml", &normal);
    assert_eq!(
        stdout(&env.run_bare(&["policy", "check", "normal.toml"])),
        normal
    );
    // Names without ids: a warning, and a WARN record.
    env.write(
        "names.toml",
        "[[issuer]]\nurl = \"https://token.actions.githubusercontent.com\"\npreset = \
         \"github-actions\"\noidc = true\naudiences = [\"a\"]\n\n[[issuer.rule]]\nclaim = \
         \"repository\"\neq = \"acme/deploy\"\n",
    );
    let out = env.run_bare(&["--log-level", "warn", "policy", "check", "names.toml"]);
    assert!(out.status.success());
    assert_eq!(
        stderr(&out).lines().next().unwrap(),
        "jwtctl: warning: the policy file names.toml, line 7: issuer[0] pins 'repository' by \
         name only: a renamed or deleted repository can be registered again by someone else; \
         add a rule on 'repository_id' (`jwtctl policy pin TOKEN` prints it)"
    );
    assert!(
        env.log()
            .iter()
            .any(|r| r["event"] == "policy_warning" && r["level"] == "WARN")
    );
}

#[test]
fn policy_new_prints_a_policy_that_checks_and_pin_prints_the_ids() {
    let env = Env::new();
    for preset in [
        "github-actions",
        "gitlab",
        "buildkite",
        "kubernetes",
        "google",
    ] {
        let out = env.run_bare(&[
            "policy",
            "new",
            "--preset",
            preset,
            "--repository",
            "acme/deploy",
        ]);
        assert!(out.status.success(), "{preset}: {}", stderr(&out));
        env.write("new.toml", &stdout(&out));
        let out = env.run_bare(&["policy", "check", "new.toml"]);
        assert!(out.status.success(), "{preset}: {}", stderr(&out));
    }
    let out = env.run_bare(&[
        "policy",
        "new",
        "--preset",
        "github-actions",
        "--issuer",
        "https://127.0.0.1:1/gh",
    ]);
    assert!(stdout(&out).contains("url = \"https://127.0.0.1:1/gh\"\n"));
    // pin: the id rules for the names a sample token carries.
    let ci = Ci::new("gh");
    let out = ci
        .env()
        .run_bare(&["policy", "pin", &ci.token(github_claims())]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "[[issuer.rule]] # repository \"acme/deploy\"\nclaim = \"repository_id\"\neq = \"2002\"\n\n\
         [[issuer.rule]] # repository_owner \"acme\"\nclaim = \"repository_owner_id\"\neq = \"1001\"\n"
    );
}
