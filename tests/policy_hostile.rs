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

/// A Kubernetes policy pinning the service account by its uid, for tokens shaped to confuse
/// the path.
const K8S_POLICY: &str = r#"
[[issuer]]
url = "ISSUER"
preset = "kubernetes"
oidc = true
audiences = ["vault"]
require = [["kubernetes.io", "namespace"]]

[[issuer.rule]]
claim = ["kubernetes.io", "serviceaccount", "uid"]
eq = "u-good"
"#;

#[test]
fn a_token_giving_a_claim_twice_is_judged_by_its_last_as_it_is_shown() {
    let ci = Ci::new("cluster");
    ci.policy(K8S_POLICY);
    let t = crate::common::now();
    let times = format!(
        r#""aud":"vault","iss":"{}","iat":{},"exp":{}"#,
        ci.issuer,
        t - 5,
        t + 300
    );
    let good = r#"{"namespace":"prod","serviceaccount":{"uid":"u-good"}}"#;
    let evil = r#"{"namespace":"prod","serviceaccount":{"uid":"u-evil"}}"#;
    // RFC 7519 §4: a parser keeps the lexically last of duplicate names. jwtctl does so at every
    // depth, judges by it, and prints it: what passed is what a script reading the output sees.
    let rule = "issuer[0].rule[0]";
    for (payload, passes, refused_by) in [
        (
            format!(r#"{{{times},"kubernetes.io":{evil},"kubernetes.io":{good}}}"#),
            true,
            "",
        ),
        (
            format!(r#"{{{times},"kubernetes.io":{good},"kubernetes.io":{evil}}}"#),
            false,
            rule,
        ),
        (
            format!(
                r#"{{{times},"kubernetes.io":{{"namespace":"prod","serviceaccount":{{"uid":"u-good","uid":"u-evil"}}}}}}"#
            ),
            false,
            rule,
        ),
        (
            format!(r#"{{{times},"kubernetes.io":{good},"kubernetes.io":[{good}]}}"#),
            false,
            "issuer[0].require",
        ),
    ] {
        let out = ci.verify(&["--output", "json"], &ci.raw_token(&payload));
        assert_eq!(out.status.success(), passes, "{payload}: {}", stderr(&out));
        let v: serde_json::Value = serde_json::from_str(&crate::common::stdout(&out)).unwrap();
        if passes {
            assert_eq!(
                v["policy"]["identity"]["kubernetes.io"]["serviceaccount"]["uid"],
                "u-good"
            );
            assert_eq!(
                v["claims"]["kubernetes.io"]["serviceaccount"]["uid"],
                "u-good"
            );
        } else {
            assert_eq!(v["rule"], refused_by, "{payload}");
        }
    }
}

#[test]
fn require_reaches_a_nested_claim_and_names_its_path() {
    let ci = Ci::new("cluster");
    ci.policy(K8S_POLICY);
    let base = json!({"aud": "vault", "kubernetes.io": {"namespace": "prod",
        "serviceaccount": {"uid": "u-good"}}});
    assert!(ci.verify(&[], &ci.token(base.clone())).status.success());
    let token = ci.token(with(
        &base,
        json!({"kubernetes.io": {"serviceaccount": {"uid": "u-good"}}}),
    ));
    let out = ci.verify(&[], &token);
    crate::common::assert_rejected(ci.env(), &out, "missing_claim");
    assert_eq!(
        stderr(&out),
        "jwtctl: token rejected: missing_claim: policy policy.toml issuer[0].require: the token \
         has no [\"kubernetes.io\", \"namespace\"]; it must be present\n"
    );
    let record = ci.env().log().pop().unwrap();
    assert_eq!(record["claim"], r#"["kubernetes.io","namespace"]"#);
    assert_eq!(record["policy_rule"], "issuer[0].require");
}

#[test]
fn hostile_paths_in_a_policy_are_one_line_errors_and_escaped_in_refusals() {
    let ci = Ci::new("cluster");
    let rule = |claim: &str| {
        format!(
            "[[issuer]]\nurl = \"ISSUER\"\noidc = true\naudiences = [\"vault\"]\n\
             [[issuer.rule]]\nclaim = {claim}\neq = \"x\"\n"
        )
    };
    let deep = format!("[{}]", vec!["\"k\""; 100_000].join(","));
    for (claim, message) in [
        (
            "[]",
            "line 6: issuer[0].rule[0].claim is an empty path; name at least one key",
        ),
        (
            deep.as_str(),
            "line 6: issuer[0].rule[0].claim has 100000 keys, over the 16-key limit",
        ),
        (
            "[\"a\", [\"b\"]]",
            "line 6: issuer[0].rule[0].claim's key must be a string, not an array",
        ),
    ] {
        ci.policy(&rule(claim));
        let out = ci.env().run_bare(&["policy", "check", "policy.toml"]);
        assert_refused(ci.env(), &out, 2, "policy_error");
        assert_eq!(
            stderr(&out),
            format!("jwtctl: the policy file policy.toml, {message}\n")
        );
    }
    // A key with quotes, an escape sequence and a newline: the refusal stays one escaped line.
    ci.policy(&rule(r#"["k\"8s", "\u001b[31mred\nline"]"#));
    let out = ci.verify(&[], &ci.token(json!({"aud": "vault"})));
    crate::common::assert_rejected(ci.env(), &out, "missing_claim");
    assert!(
        stderr(&out).contains(r#"the token has no ["k\"8s", "\u{1b}[31mred\nline"]; it must be"#),
        "{}",
        stderr(&out)
    );
    let record = ci.env().log().pop().unwrap();
    assert_eq!(record["claim"], "[\"k\\\"8s\",\"\\u001b[31mred\\nline\"]");
}

#[test]
fn policy_check_refuses_hmac_for_a_remote_key_set_and_paths_the_preset_never_carries() {
    let ci = Ci::new("cluster");
    ci.policy(&K8S_POLICY.replace(
        "audiences",
        "algorithms = [\"RS256\", \"HS256\"]\naudiences",
    ));
    let out = ci.env().run_bare(&["policy", "check", "policy.toml"]);
    assert_refused(ci.env(), &out, 2, "policy_error");
    assert!(
        stderr(&out).starts_with(
            "jwtctl: the policy file policy.toml, line 6: issuer[0].algorithms: HS256 is an HMAC \
             algorithm, which a key set fetched from a URL (oidc, jwks_url) never serves;"
        ),
        "{}",
        stderr(&out)
    );
    // verify refuses the file too: an HS256 token signed with the set's public bytes as the
    // secret is never judged.
    let out = ci.verify(&[], &ci.token(json!({"aud": "vault"})));
    assert_refused(ci.env(), &out, 2, "policy_error");
    // A path the preset's tokens never carry, and one into a string claim.
    for (claim, shown) in [
        (
            r#"["kubernetes.io", "serviceaccount", "id"]"#,
            r#"["kubernetes.io", "serviceaccount", "id"]"#,
        ),
        (r#"["sub", "uid"]"#, r#"["sub", "uid"]"#),
        (
            r#""kubernetes.io.serviceaccount.uid""#,
            "'kubernetes.io.serviceaccount.uid'",
        ),
    ] {
        ci.policy(&K8S_POLICY.replace(
            r#"claim = ["kubernetes.io", "serviceaccount", "uid"]"#,
            &format!("claim = {claim}"),
        ));
        let out = ci.env().run_bare(&["policy", "check", "policy.toml"]);
        assert_refused(ci.env(), &out, 2, "policy_error");
        assert_eq!(
            stderr(&out),
            format!(
                "jwtctl: the policy file policy.toml, line 9: issuer[0].rule[0]: kubernetes \
                 tokens never carry {shown}; the rule could never hold (see `jwtctl policy new \
                 --preset kubernetes` for the claims)\n"
            )
        );
    }
    // A policy naming the account but not its uid is warned about.
    ci.policy(&K8S_POLICY.replace(
        "claim = [\"kubernetes.io\", \"serviceaccount\", \"uid\"]\neq = \"u-good\"",
        "claim = \"sub\"\neq = \"system:serviceaccount:prod:deployer\"",
    ));
    let out = ci.env().run_bare(&["policy", "check", "policy.toml"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "issuer[0] pins 'sub' by name only: a service account deleted and created again has \
             the same name and a new uid; add a rule on [\"kubernetes.io\", \"serviceaccount\", \
             \"uid\"]"
        ),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_policy_that_is_not_a_regular_file_is_refused_not_read_as_empty() {
    let ci = Ci::new("gh");
    let fifo = ci.env().path("policy.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    std::fs::create_dir(ci.env().path("policy.d")).unwrap();
    let token = ci.token(github_claims());
    for (path, kind) in [
        ("policy.fifo", "a FIFO (named pipe)"),
        ("policy.d", "a directory"),
        ("/dev/null", "a character device"),
    ] {
        for args in [
            vec!["policy", "check", path],
            vec![
                "verify",
                "--policy",
                path,
                "--ca-file",
                "ca.pem",
                "--cache-dir",
                "cache",
                &token,
            ],
        ] {
            let out = ci
                .env()
                .bare()
                .args(&args)
                .timeout(std::time::Duration::from_secs(20))
                .output()
                .unwrap();
            assert_refused(ci.env(), &out, 2, "policy_error");
            assert_eq!(
                stderr(&out),
                format!(
                    "jwtctl: refusing the policy file {path}: it is {kind}, not a regular file; \
                     give the path of the file itself\n"
                ),
                "{args:?}"
            );
        }
    }
}

#[test]
fn an_id_written_as_a_number_where_the_provider_writes_a_string_is_a_policy_error() {
    let ci = Ci::new("gh");
    // GitHub writes "repository_id": "2002": a number never equals it, so every token would be
    // refused, and a reviewer would not see why.
    for (from, to, line, shown) in [
        ("eq = \"2002\"", "eq = 2002", 11, "2002"),
        (
            "one_of = [\"push\", \"workflow_dispatch\"]",
            "one_of = [\"push\", true]",
            19,
            "true",
        ),
    ] {
        ci.policy(&GITHUB_POLICY.replace(from, to));
        let out = ci.env().run_bare(&["policy", "check", "policy.toml"]);
        assert_refused(ci.env(), &out, 2, "policy_error");
        assert!(
            stderr(&out).starts_with(&format!(
                "jwtctl: the policy file policy.toml, line {line}: issuer[0].rule["
            )) && stderr(&out).contains(&format!(
                "github-actions tokens carry '{}' as a string, so {shown} (not a string) never \
                 equals it; quote it: \"{shown}\"",
                if line == 11 {
                    "repository_id"
                } else {
                    "event_name"
                }
            )),
            "{}",
            stderr(&out)
        );
    }
}

#[test]
fn issuer_and_audience_lists_in_a_refusal_are_quoted_escaped_and_bounded() {
    let ci = Ci::new("gh");
    // An audience holding a quote and a comma is one entry, and must read as one.
    ci.policy(&GITHUB_POLICY.replace(
        "audiences = [\"https://github.com/acme\"]",
        r#"audiences = ["https://github.com/acme", "a\", \"b", "x, y"]"#,
    ));
    let token = ci.token(with(&github_claims(), json!({"aud": "other"})));
    let out = ci.verify(&["--output", "json"], &token);
    assert_eq!(out.status.code(), Some(1));
    let verdict: serde_json::Value = serde_json::from_str(&crate::common::stdout(&out)).unwrap();
    let expected = r#"one of ["https://github.com/acme", "a\", \"b", "x, y"]"#;
    assert_eq!(verdict["expected"], expected, "{verdict}");
    assert!(
        verdict["message"]
            .as_str()
            .unwrap()
            .ends_with(&format!("'aud' must be {expected}")),
        "{verdict}"
    );
    // The issuers the policy trusts, each quoted.
    let other = ci.token(with(&github_claims(), json!({"iss": "https://x.example"})));
    let out = ci.verify(&["--output", "json"], &other);
    let verdict: serde_json::Value = serde_json::from_str(&crate::common::stdout(&out)).unwrap();
    assert_eq!(
        verdict["expected"],
        format!("one of [\"{}\"]", ci.issuer),
        "{verdict}"
    );
    // A list of 2000 audiences shows a few and counts the rest.
    let many: Vec<String> = (0..2000).map(|i| format!("\"aud-{i}\"")).collect();
    ci.policy(&GITHUB_POLICY.replace(
        "audiences = [\"https://github.com/acme\"]",
        &format!("audiences = [{}]", many.join(", ")),
    ));
    let out = ci.verify(&[], &token);
    let err = stderr(&out);
    assert!(err.len() < 400, "{} bytes: {err}", err.len());
    assert!(err.contains("\"aud-7\", … 1992 more]"), "{err}");
}

#[test]
fn an_issuer_url_or_alias_holding_a_comma_whitespace_or_control_is_a_policy_error() {
    let ci = Ci::new("gh");
    for (alias, what) in [
        ("https://x.example, https://k8s.example", "a comma"),
        ("https://x.example https://k8s.example", "whitespace"),
        ("x.example\\n", "a control character"),
    ] {
        ci.policy(&GITHUB_POLICY.replace(
            "oidc = true",
            &format!("aliases = [\"{alias}\"]\noidc = true"),
        ));
        let out = ci.env().run(&["policy", "check", "policy.toml"]);
        assert_refused(ci.env(), &out, 2, "policy_error");
        assert!(
            stderr(&out).contains("issuer[0].aliases: ") && stderr(&out).contains(what),
            "{alias}: {}",
            stderr(&out)
        );
    }
    ci.policy(&GITHUB_POLICY.replace("url = \"ISSUER\"", "url = \"ISSUER \""));
    let out = ci.env().run(&["policy", "check", "policy.toml"]);
    assert_refused(ci.env(), &out, 2, "policy_error");
    assert!(stderr(&out).contains("issuer[0].url: "), "{}", stderr(&out));
}

#[test]
fn gitlab_runner_id_is_an_integer_and_a_rule_on_it_says_so() {
    let ci = Ci::new("gl");
    let policy = |value: &str| {
        format!(
            "[[issuer]]\nurl = \"ISSUER\"\npreset = \"gitlab\"\noidc = true\naudiences = [\"a\"]\n\
             require = [\"user_identities\"]\n\n[[issuer.rule]]\nclaim = \"project_id\"\n\
             eq = \"42\"\n\n[[issuer.rule]]\nclaim = \"runner_id\"\n{value}\n"
        )
    };
    // GitLab writes "runner_id": 12270835: a number in the rule is right.
    ci.policy(&policy("eq = 12"));
    let out = ci.env().run_bare(&["policy", "check", "policy.toml"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let claims = json!({"sub": "project_path:acme/deploy:ref_type:branch:ref:main", "aud": "a",
        "project_id": "42", "runner_id": 12,
        "user_identities": [{"provider": "gitlab", "extern_uid": "1"}]});
    let out = ci.verify(&[], &ci.token(claims.clone()));
    assert!(out.status.success(), "{}", stderr(&out));
    let out = ci.verify(&[], &ci.token(with(&claims, json!({"runner_id": 13}))));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    // A quoted one never equals it: an error naming the line, as for a quoted id on GitHub.
    for value in ["eq = \"12\"", "one_of = [12, \"13\"]"] {
        ci.policy(&policy(value));
        let out = ci.env().run_bare(&["policy", "check", "policy.toml"]);
        assert_refused(ci.env(), &out, 2, "policy_error");
        assert!(
            stderr(&out).contains(
                "line 12: issuer[0].rule[1]: gitlab tokens carry 'runner_id' as an integer"
            ),
            "{}",
            stderr(&out)
        );
    }
}

#[test]
fn a_refusal_of_a_long_any_or_one_of_stays_short() {
    let ci = Ci::new("gh");
    let alternatives: Vec<String> = (0..2000)
        .map(|i| format!("{{ claim = \"environment\", eq = \"env-{i}\" }}"))
        .collect();
    let values: Vec<String> = (0..2000).map(|i| format!("\"push-{i}\"")).collect();
    let text = GITHUB_POLICY
        .replace(
            "claim = \"environment\"\neq = \"production\"",
            &format!("any = [{}]", alternatives.join(", ")),
        )
        .replace(
            "one_of = [\"push\", \"workflow_dispatch\"]",
            &format!("one_of = [\"push\", {}]", values.join(", ")),
        );
    ci.policy(&text);
    let staging = ci.token(with(&github_claims(), json!({"environment": "staging"})));
    let out = ci.verify(&["--output", "json"], &staging);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let line = crate::common::stdout(&out);
    assert!(line.len() < 1500, "{} bytes", line.len());
    let verdict: serde_json::Value = serde_json::from_str(&line).unwrap();
    let expected = verdict["expected"].as_str().unwrap();
    assert!(
        expected.starts_with("\"env-0\" or \"env-1\" or ")
            && expected.ends_with(" more alternatives"),
        "{expected}"
    );
    let record = ci.env().log().pop().unwrap().to_string();
    assert!(record.len() < 1500, "{} bytes", record.len());
    let pr = ci.token(with(
        &github_claims(),
        json!({"event_name": "pull_request"}),
    ));
    let out = ci.verify(&[], &pr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).ends_with(
            "one of [\"push\", \"push-0\", \"push-1\", \"push-2\", \"push-3\", \
             \"push-4\", \"push-5\", \"push-6\", … 1993 more]\n"
        ),
        "{}",
        stderr(&out)
    );
}

#[test]
fn policy_check_warns_of_an_algorithm_no_key_of_the_jwks_file_verifies() {
    let ci = Ci::new("gh");
    ci.env().write("k.json", &ci.idp.set_of(&["rsa_pkcs8.pem"]));
    let text = GITHUB_POLICY
        .replace("oidc = true", "jwks_file = \"k.json\"")
        .replace(
            "algorithms = [\"RS256\"]",
            "algorithms = [\"RS256\", \"ES256\"]",
        );
    ci.policy(&text);
    let out = ci
        .env()
        .run_bare(&["--log-level", "warn", "policy", "check", "policy.toml"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        "jwtctl: warning: the policy file policy.toml, line 3: issuer[0].algorithms names ES256 \
         but no key of its jwks_file \"k.json\" verifies with it, so every token signed so is \
         refused (no_matching_key); drop it or add the key\n"
    );
    let record = ci.env().log().pop().unwrap();
    assert_eq!(record["event"], "policy_warning", "{record}");
    // Every algorithm served (the key's JWK says RS256): no warning.
    ci.policy(&text.replace(", \"ES256\"", ""));
    let out = ci.env().run_bare(&["policy", "check", "policy.toml"]);
    assert!(
        out.status.success() && stderr(&out).is_empty(),
        "{}",
        stderr(&out)
    );
}
