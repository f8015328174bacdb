//! `--policy FILE` against hostile values: tokens and policy files written to slip past a rule
//! (an array holding the pinned id, a regex that escapes its anchors, an issuer with no rule, a
//! JSON key given twice). Each was a way through before it was closed.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use serde_json::json;

use crate::common::{assert_refused, stderr};
use crate::policy::{Ci, GITHUB_POLICY, assert_policy_refusal, github_claims, with};

#[test]
fn an_array_holding_the_pinned_id_is_not_that_identity() {
    let ci = Ci::new("gh");
    ci.policy(GITHUB_POLICY);
    for ids in [json!(["4004", "2002"]), json!(["2002"])] {
        let token = ci.token(with(&github_claims(), json!({ "repository_id": ids })));
        let out = ci.verify(&[], &token);
        assert_policy_refusal(
            &ci,
            &out,
            "claim_mismatch",
            "issuer[0].rule[0]",
            "repository_id",
        );
    }
}

#[test]
fn a_regex_that_closes_its_anchoring_group_is_refused() {
    let ci = Ci::new("gh");
    ci.policy(&GITHUB_POLICY.replace(
        r"'refs/tags/v[0-9]+\.[0-9]+\.[0-9]+'",
        "'refs/tags/v1)|(?:.*'",
    ));
    let out = ci.env().run_bare(&["policy", "check", "policy.toml"]);
    assert_refused(ci.env(), &out, 2, "policy_error");
    assert!(
        stderr(&out).contains("issuer[0].rule[4].any[1].all[1].regex: the pattern is not a valid"),
        "{}",
        stderr(&out)
    );
    // And verify never judges by it: a dev branch would have matched `.*`.
    let dev = with(
        &github_claims(),
        json!({"ref": "refs/heads/dev", "ref_type": "tag"}),
    );
    let out = ci.verify(&[], &ci.token(dev));
    assert_refused(ci.env(), &out, 2, "policy_error");
}

#[test]
fn an_issuer_without_a_rule_is_refused_not_open_to_every_token() {
    let ci = Ci::new("gh");
    let head = GITHUB_POLICY.split("\n[[issuer.rule]]").next().unwrap();
    ci.policy(head);
    let out = ci.env().run_bare(&["policy", "check", "policy.toml"]);
    assert_refused(ci.env(), &out, 2, "policy_error");
    assert!(
        stderr(&out).starts_with(
            "jwtctl: the policy file policy.toml, line 3: issuer[0] has no rule, so any token \
             its issuer mints for the audiences would pass;"
        ),
        "{}",
        stderr(&out)
    );
    // A fork's token is not let through by verify either.
    let fork = with(
        &github_claims(),
        json!({"repository": "mallory/deploy", "repository_id": "4004"}),
    );
    let out = ci.verify(&[], &ci.token(fork));
    assert_refused(ci.env(), &out, 2, "policy_error");
}

#[test]
fn a_json_policy_giving_a_key_twice_is_refused_not_read_as_its_last() {
    let ci = Ci::new("gh");
    // A reviewer reads the pin of repository 2002; serde_json alone would keep the second rule.
    let text = format!(
        "{{\"issuer\": [{{\"url\": \"{}\", \"oidc\": true, \"audiences\": [\"https://github.com/acme\"],\n\
         \"rule\": [{{\"claim\": \"repository_id\", \"eq\": \"2002\"}}],\n\
         \"rule\": [{{\"claim\": \"sub\", \"glob\": \"*\"}}]}}]}}\n",
        ci.issuer
    );
    ci.env().write("policy.json", &text);
    let out = ci.env().run_bare(&["policy", "check", "policy.json"]);
    assert_refused(ci.env(), &out, 2, "policy_error");
    assert_eq!(
        stderr(&out),
        "jwtctl: the policy file policy.json, line 3: the key 'rule' is given twice; keep one\n"
    );
    let fork = with(&github_claims(), json!({"repository_id": "4004"}));
    let token = ci.token(fork);
    let out = ci.idp.verify(&["--policy", "policy.json"], &[], &token);
    assert_refused(ci.env(), &out, 2, "policy_error");
}
