//! A policy as `policy check` prints it: TOML with every setting spelled one way, in one order,
//! so that two policies that mean the same print the same.

use std::fmt::Write as _;

use serde_json::Value;

use super::{KeySource, PolicyFile, Rule, RuleKind};
use crate::token::{ClaimPath, ClaimRule, alg_name};

/// The normalised TOML text of `policy`.
pub fn normalised(policy: &PolicyFile) -> String {
    let mut out = String::new();
    for (i, issuer) in policy.issuers.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str("[[issuer]]\n");
        line(&mut out, "url", &string(&issuer.url));
        if !issuer.aliases.is_empty() {
            line(&mut out, "aliases", &strings(&issuer.aliases));
        }
        if let Some(preset) = issuer.preset {
            line(&mut out, "preset", &string(preset.name()));
        }
        match &issuer.keys {
            KeySource::Oidc(url) if *url == issuer.url => line(&mut out, "oidc", "true"),
            KeySource::Oidc(url) => line(&mut out, "oidc", &string(url)),
            KeySource::JwksUrl(url) => line(&mut out, "jwks_url", &string(url)),
            KeySource::JwksFile(path) => {
                line(&mut out, "jwks_file", &string(&path.to_string_lossy()))
            }
        }
        line(&mut out, "audiences", &strings(&issuer.audiences));
        if !issuer.algorithms.is_empty() {
            let names: Vec<String> = issuer
                .algorithms
                .iter()
                .map(|a| alg_name(*a).to_owned())
                .collect();
            line(&mut out, "algorithms", &strings(&names));
        }
        if let Some(secs) = issuer.max_age_secs {
            line(&mut out, "max_age", &string(&format!("{secs}s")));
        }
        if !issuer.require.is_empty() {
            let paths: Vec<String> = issuer.require.iter().map(path).collect();
            line(&mut out, "require", &format!("[{}]", paths.join(", ")));
        }
        if let RuleKind::All(rules) = &issuer.rule.kind {
            for rule in rules {
                let _ = write!(out, "\n[[issuer.rule]] # {}\n", rule.path);
                for (key, value) in fields(rule) {
                    line(&mut out, key, &value);
                }
            }
        }
    }
    out
}

fn line(out: &mut String, key: &str, value: &str) {
    let _ = writeln!(out, "{key} = {value}");
}

/// A rule's keys and values, as TOML.
fn fields(rule: &Rule) -> Vec<(&'static str, String)> {
    match &rule.kind {
        RuleKind::Claim(claim) => {
            let (key, value) = match claim {
                ClaimRule::Equals(_, v) => ("eq", value(v)),
                ClaimRule::OneOf(_, vs) => ("one_of", value(&Value::Array(vs.clone()))),
                ClaimRule::Matches(_, glob) => ("glob", string(glob)),
                ClaimRule::Regex(_, pattern) => ("regex", string(pattern.as_str())),
            };
            vec![("claim", path(claim.claim())), (key, value)]
        }
        RuleKind::All(rules) => vec![("all", inline_list(rules))],
        RuleKind::Any(rules) => vec![("any", inline_list(rules))],
    }
}

fn inline_list(rules: &[Rule]) -> String {
    let items: Vec<String> = rules
        .iter()
        .map(|rule| {
            let inner: Vec<String> = fields(rule)
                .into_iter()
                .map(|(k, v)| format!("{k} = {v}"))
                .collect();
            format!("  {{ {} }},", inner.join(", "))
        })
        .collect();
    format!("[\n{}\n]", items.join("\n"))
}

/// A TOML basic string: JSON's escapes are TOML's.
fn string(s: &str) -> String {
    Value::from(s).to_string()
}

/// A claim as a policy writes it: a name as a string, a path as an array of strings.
fn path(claim: &ClaimPath) -> String {
    match claim.keys() {
        [name] => string(name),
        keys => strings(keys),
    }
}

fn strings(list: &[String]) -> String {
    let items: Vec<String> = list.iter().map(|s| string(s)).collect();
    format!("[{}]", items.join(", "))
}

fn value(v: &Value) -> String {
    match v {
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(value).collect::<Vec<_>>().join(", ")
        ),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::*;

    #[test]
    fn the_normalised_text_parses_to_the_same_policy() {
        let text = r#"
[[issuer]]
audiences = ["api"]
url = "https://ci.example"
oidc = true
max_age = "1h"
require = ["sub", ["kubernetes.io", "namespace"]]
[[issuer.rule]]
any = [{ claim = "ref", glob = "refs/tags/v*" }, { all = [{ claim = "n", eq = 1.5 }, { claim = "b", one_of = [true, "x\"y"] }] }]
[[issuer.rule]]
claim = ["kubernetes.io", "serviceaccount", "uid"]
eq = "u-1"
"#;
        let policy = parse(text).unwrap();
        let shown = normalised(&policy);
        assert!(shown.contains("max_age = \"3600s\"\n"), "{shown}");
        let again = parse(&shown).unwrap();
        assert_eq!(normalised(&again), shown);
        assert_eq!(again.issuers[0].rule.leaves().len(), 4);
        assert!(
            shown.contains("claim = [\"kubernetes.io\", \"serviceaccount\", \"uid\"]\n"),
            "{shown}"
        );
        assert!(
            shown.contains("require = [\"sub\", [\"kubernetes.io\", \"namespace\"]]\n"),
            "{shown}"
        );
    }
}
