//! CI identity policies (`--policy FILE`, `jwtctl policy`): parse a policy file, check it, and
//! judge a verified token's claims by it. No I/O: the caller reads the file and the keys.
//!
//! `parse` turns TOML or JSON text into a [`PolicyFile`] (errors carry the line), `presets`
//! knows the CI providers' issuers and claims, `check` finds what parses but is unwise, and
//! `show` prints a policy normalised. Claim values are matched by `token::ClaimRule`, the
//! matcher `--claim-eq` and `--claim-match` use.

mod check;
mod lookalike;
mod parse;
pub mod presets;
mod show;

pub use check::{Finding, first_error, warnings};
pub use parse::{ParseError, parse};
pub use show::normalised;

use std::collections::HashSet;
use std::path::PathBuf;

use crate::token::Algorithm;
use serde_json::Value;

use crate::token::{ClaimPath, ClaimRule, Claims, Outcome, claim};

/// How long an `any`'s list of what its rules expected grows before the rest are counted (an
/// alternative that starts before this is shown whole, itself bounded the same way).
const MAX_EXPECTED: usize = 400;

/// A parsed policy file: the issuers it trusts, in the file's order.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyFile {
    pub issuers: Vec<Issuer>,
}

/// One issuer a policy trusts, and what its tokens must say.
#[derive(Debug, Clone, PartialEq)]
pub struct Issuer {
    /// Where the issuer is in the file: `issuer[N]`.
    pub path: String,
    /// The issuer URL: the token's `iss` must be exactly this, or one of `aliases`.
    pub url: String,
    /// Other exact `iss` values the same issuer writes (Google: `accounts.google.com`).
    pub aliases: Vec<String>,
    /// The CI provider whose claim vocabulary the issuer's tokens use, if named.
    pub preset: Option<presets::Preset>,
    pub keys: KeySource,
    /// Accepted audiences: the token must carry one of them.
    pub audiences: Vec<String>,
    /// Accepted algorithms (empty: the ones the keys imply).
    pub algorithms: Vec<Algorithm>,
    /// The oldest `iat` accepted, in seconds.
    pub max_age_secs: Option<i64>,
    /// Claims that must be present.
    pub require: Vec<ClaimPath>,
    /// The issuer's rules, all of which must hold (`issuer[N].rule`).
    pub rule: Rule,
    /// The line of the issuer's table in the file (0 when unknown, as in JSON).
    pub line: usize,
}

/// Where an issuer's keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// OpenID Connect discovery at this issuer URL (`oidc = true`: the issuer's own).
    Oidc(String),
    /// A JWK Set at this HTTPS URL.
    JwksUrl(String),
    /// A JWK Set file, relative to the policy file's directory when not absolute.
    JwksFile(PathBuf),
}

/// A rule and where it is in the file (`issuer[0].rule[2].any[1]`), for a refusal to name.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub path: String,
    pub line: usize,
    pub kind: RuleKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RuleKind {
    /// A rule on one claim's value.
    Claim(ClaimRule),
    /// Every rule must hold.
    All(Vec<Rule>),
    /// At least one rule must hold.
    Any(Vec<Rule>),
}

/// Why a token's claims did not satisfy a rule: the rule (by its path), the claim, and what the
/// rule expected. Nothing in it comes from the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub rule: String,
    /// The claim, when the rule is about one claim (an `any` whose rules name one claim too).
    pub claim: Option<ClaimPath>,
    pub expected: String,
    /// The token lacks the claim (every claim an `any` asks about).
    pub missing: bool,
    /// An `any` about several claims: `expected` names each.
    pub several: bool,
}

impl PolicyFile {
    /// The issuer the token's `iss` names, if the policy lists it.
    pub fn issuer_for(&self, claims: &Claims) -> Option<&Issuer> {
        let iss = claim(claims, "iss")?.as_str()?;
        self.issuers.iter().find(|issuer| issuer.names(iss))
    }

    /// The issuer whose url or an alias `iss` could be taken for by a lax verifier (one that
    /// ignores the scheme, a default port, userinfo, query, fragment, a trailing dot or slashes,
    /// case or percent-encoding, or adds a missing scheme): see `lookalike`.
    pub fn issuer_like(&self, iss: &str) -> Option<&Issuer> {
        let wanted = lookalike::loose(iss);
        self.issuers.iter().find(|i| {
            i.issuer_names()
                .any(|name| lookalike::loose(name) == wanted)
        })
    }

    /// The issuers' URLs and aliases, for a refusal naming the ones the policy trusts: `one of
    /// ["https://a.example", "b.example"]`, each quoted and escaped, the list bounded.
    pub fn issuer_urls(&self) -> String {
        crate::token::one_of(
            self.issuers
                .iter()
                .flat_map(Issuer::issuer_names)
                .map(crate::token::quoted),
        )
    }
}

impl Issuer {
    /// Whether `iss` is this issuer's: its url or an alias, compared exactly (no normalising).
    pub fn names(&self, iss: &str) -> bool {
        self.url == iss || self.aliases.iter().any(|a| a == iss)
    }

    /// The url and the aliases.
    pub fn issuer_names(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.url.as_str()).chain(self.aliases.iter().map(String::as_str))
    }

    /// Judge claims (of a token already verified against this issuer's keys, audience and
    /// times) by the issuer's rules.
    pub fn judge(&self, claims: &Claims) -> Result<(), Refusal> {
        self.rule.judge(claims)
    }

    /// The claims the issuer's rules look at, each once, in the file's order (linear in the
    /// rules: it runs for every token let through).
    pub fn claims_looked_at(&self) -> Vec<&ClaimPath> {
        let mut names = Vec::new();
        self.rule.claim_names(&mut names, &mut HashSet::new());
        names
    }
}

impl Rule {
    /// Judge `claims` by this rule: the first rule that fails (in the file's order) is the
    /// refusal; an `any` fails as a whole, naming what each of its rules expected.
    pub fn judge(&self, claims: &Claims) -> Result<(), Refusal> {
        match &self.kind {
            RuleKind::Claim(rule) => match rule.judge(claims) {
                Outcome::Holds(_) => Ok(()),
                outcome => Err(Refusal {
                    rule: self.path.clone(),
                    claim: Some(rule.claim().clone()),
                    expected: rule.expected(),
                    missing: outcome == Outcome::Missing,
                    several: false,
                }),
            },
            RuleKind::All(rules) => rules.iter().try_for_each(|rule| rule.judge(claims)),
            RuleKind::Any(rules) => {
                let mut refusals = Vec::new();
                for rule in rules {
                    match rule.judge(claims) {
                        Ok(()) => return Ok(()),
                        Err(refusal) => refusals.push(refusal),
                    }
                }
                Err(self.none_held(refusals))
            }
        }
    }

    /// The refusal of an `any` none of whose rules held: about its first rule's claim; when
    /// its rules are about several claims, `expected` names each. It names alternatives until
    /// it is [`MAX_EXPECTED`] long, then counts the rest: a 2000-rule `any` (or `any`s nested
    /// in it) makes a short refusal, not a 75 KB line on stderr, in the record and the JSON.
    fn none_held(&self, refusals: Vec<Refusal>) -> Refusal {
        let first = refusals.first().and_then(|r| r.claim.clone());
        let one_claim = refusals.iter().all(|r| r.claim == first);
        let mut expected = String::new();
        for (i, r) in refusals.iter().enumerate() {
            if expected.len() >= MAX_EXPECTED {
                expected.push_str(&format!(" or … {} more alternatives", refusals.len() - i));
                break;
            }
            if i > 0 {
                expected.push_str(" or ");
            }
            match (&r.claim, one_claim) {
                (Some(claim), false) => {
                    expected.push_str(&format!("{} must be {}", claim.shown(), r.expected));
                }
                _ => expected.push_str(&r.expected),
            }
        }
        Refusal {
            rule: self.path.clone(),
            claim: first,
            expected,
            missing: refusals.iter().all(|r| r.missing),
            several: !one_claim,
        }
    }

    fn claim_names<'a>(
        &'a self,
        names: &mut Vec<&'a ClaimPath>,
        seen: &mut HashSet<&'a ClaimPath>,
    ) {
        match &self.kind {
            RuleKind::Claim(rule) => {
                if seen.insert(rule.claim()) {
                    names.push(rule.claim());
                }
            }
            RuleKind::All(rules) | RuleKind::Any(rules) => {
                rules.iter().for_each(|rule| rule.claim_names(names, seen));
            }
        }
    }

    /// Every claim rule under this one, with its path (for `policy check`).
    pub fn leaves(&self) -> Vec<(&Rule, &ClaimRule)> {
        let mut out = Vec::new();
        self.collect_leaves(&mut out);
        out
    }

    fn collect_leaves<'a>(&'a self, out: &mut Vec<(&'a Rule, &'a ClaimRule)>) {
        match &self.kind {
            RuleKind::Claim(rule) => out.push((self, rule)),
            RuleKind::All(rules) | RuleKind::Any(rules) => {
                rules.iter().for_each(|rule| rule.collect_leaves(out));
            }
        }
    }
}

impl Refusal {
    /// The refusal in words: `policy FILE issuer[0].rule[1]: 'ref' must be "refs/heads/main"`.
    pub fn message(&self, file: &str) -> String {
        let what = match (&self.claim, self.several, self.missing) {
            (_, true, _) => "none holds:".to_owned(),
            (Some(claim), false, true) => {
                format!("the token has no {}; it must be", claim.shown())
            }
            (Some(claim), false, false) => format!("{} must be", claim.shown()),
            (None, ..) => "the claims must be".to_owned(),
        };
        format!("policy {file} {}: {what} {}", self.rule, self.expected)
    }
}

/// The identity a policy let through: the issuer, the subject, and the claims the policy looked
/// at, for `--output json`, as the token has them: a nested claim keeps its objects around it
/// holding only the members looked at (`{"kubernetes.io": {"serviceaccount": {"uid": ...}}}`).
pub fn identity(issuer: &Issuer, claims: &Claims) -> serde_json::Map<String, Value> {
    let registered = ["iss", "sub", "aud"].map(ClaimPath::name);
    let mut looked = serde_json::Map::new();
    for path in registered
        .iter()
        .chain(issuer.require.iter())
        .chain(issuer.claims_looked_at())
    {
        if let Some(value) = path.find(claims) {
            put_at(&mut looked, path.keys(), value);
        }
    }
    looked
}

/// Put `value` at `keys` in `out`, making the objects on the way; a whole value already there
/// (the rules looked at the claim itself too) is kept whole.
fn put_at(out: &mut serde_json::Map<String, Value>, keys: &[String], value: &Value) {
    let Some((key, rest)) = keys.split_first() else {
        return;
    };
    if rest.is_empty() {
        out.insert(key.clone(), value.clone());
        return;
    }
    let slot = out
        .entry(key.clone())
        .or_insert_with(|| Value::Object(serde_json::Map::new()));
    // An object here is either one being built or the whole claim: descending into either
    // leaves the value found at the path in place.
    if let Value::Object(inner) = slot {
        put_at(inner, rest, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const POLICY: &str = r#"
[[issuer]]
url = "https://token.actions.githubusercontent.com"
jwks_file = "jwks.json"
audiences = ["sts.example"]

[[issuer.rule]]
claim = "repository_id"
eq = "42"

[[issuer.rule]]
any = [
  { claim = "ref", eq = "refs/heads/main" },
  { claim = "ref", regex = "refs/tags/v[0-9]+" },
]
"#;

    fn claims(v: Value) -> Claims {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn the_first_failing_rule_is_named_by_its_path() {
        let policy = parse(POLICY).unwrap();
        let issuer = &policy.issuers[0];
        let ok = claims(json!({"repository_id": "42", "ref": "refs/tags/v3"}));
        assert_eq!(issuer.judge(&ok), Ok(()));
        let wrong_repo = claims(json!({"repository_id": "43", "ref": "refs/heads/main"}));
        let refusal = issuer.judge(&wrong_repo).unwrap_err();
        assert_eq!(refusal.rule, "issuer[0].rule[0]");
        assert_eq!(refusal.claim, Some(ClaimPath::name("repository_id")));
        assert_eq!(
            refusal.message("p.toml"),
            "policy p.toml issuer[0].rule[0]: 'repository_id' must be \"42\""
        );
        let branch = claims(json!({"repository_id": "42", "ref": "refs/heads/dev"}));
        let refusal = issuer.judge(&branch).unwrap_err();
        assert_eq!(refusal.rule, "issuer[0].rule[1]");
        assert_eq!(
            refusal.expected,
            "\"refs/heads/main\" or a match for regex \"refs/tags/v[0-9]+\""
        );
        let missing = claims(json!({"repository_id": "42"}));
        assert!(issuer.judge(&missing).unwrap_err().missing);
        assert_eq!(
            issuer.claims_looked_at(),
            [&ClaimPath::name("repository_id"), &ClaimPath::name("ref")]
        );
    }
    const K8S: &str = r#"
[[issuer]]
url = "https://cluster.example"
preset = "kubernetes"
jwks_file = "jwks.json"
audiences = ["vault"]
require = [["kubernetes.io", "namespace"]]

[[issuer.rule]]
claim = "sub"
eq = "system:serviceaccount:prod:deployer"

[[issuer.rule]]
claim = ["kubernetes.io", "serviceaccount", "uid"]
eq = "u-1"
"#;

    #[test]
    fn a_nested_claim_is_judged_named_and_shown_by_its_path() {
        let policy = parse(K8S).unwrap();
        let issuer = &policy.issuers[0];
        let sa = |uid: Value| {
            claims(
                json!({"sub": "system:serviceaccount:prod:deployer", "aud": "vault",
                "kubernetes.io": {"namespace": "prod", "serviceaccount": {"name": "deployer", "uid": uid}}}),
            )
        };
        assert_eq!(issuer.judge(&sa(json!("u-1"))), Ok(()));
        // The same name, created again: a new uid.
        let refusal = issuer.judge(&sa(json!("u-2"))).unwrap_err();
        assert_eq!(refusal.rule, "issuer[0].rule[1]");
        assert_eq!(
            refusal.claim.as_ref().map(ClaimPath::record).as_deref(),
            Some(r#"["kubernetes.io","serviceaccount","uid"]"#)
        );
        assert_eq!(
            refusal.message("p.toml"),
            r#"policy p.toml issuer[0].rule[1]: ["kubernetes.io", "serviceaccount", "uid"] must be "u-1""#
        );
        // An id is one value; an array holding it, or an object, is not it.
        for hostile in [
            json!(["u-1"]),
            json!(["u-2", "u-1"]),
            json!({"uid": "u-1"}),
            json!(1),
        ] {
            assert!(
                !issuer.judge(&sa(hostile.clone())).unwrap_err().missing,
                "{hostile}"
            );
        }
        // Shapes that hide the path are a missing claim, never a match.
        for hostile in [
            json!({"sub": "system:serviceaccount:prod:deployer",
                   "kubernetes.io": [{"serviceaccount": {"uid": "u-1"}}]}),
            json!({"sub": "system:serviceaccount:prod:deployer",
                   "kubernetes.io.serviceaccount.uid": "u-1"}),
            json!({"sub": "system:serviceaccount:prod:deployer",
                   "kubernetes": {"io": {"serviceaccount": {"uid": "u-1"}}}}),
        ] {
            let refusal = issuer.judge(&claims(hostile.clone())).unwrap_err();
            assert!(refusal.missing, "{hostile}");
            assert!(
                refusal
                    .message("p")
                    .contains(r#"the token has no ["kubernetes.io", "serviceaccount", "uid"]"#),
                "{}",
                refusal.message("p")
            );
        }
        // The identity keeps the nesting, with only the members looked at.
        let identity = identity(issuer, &sa(json!("u-1")));
        assert_eq!(
            Value::Object(identity),
            json!({"iss": null, "sub": "system:serviceaccount:prod:deployer", "aud": "vault",
                   "kubernetes.io": {"namespace": "prod", "serviceaccount": {"uid": "u-1"}}})
            .as_object()
            .map(|o| {
                let mut o = o.clone();
                o.remove("iss");
                Value::Object(o)
            })
            .unwrap()
        );
    }

    #[test]
    fn a_whole_claim_and_a_path_into_it_show_the_whole_claim() {
        let mut out = serde_json::Map::new();
        let whole = json!({"a": {"b": 1, "c": 2}});
        let c = claims(whole.clone());
        let path = ClaimPath::nested(vec!["a".into(), "b".into()]).unwrap();
        put_at(&mut out, path.keys(), path.find(&c).unwrap());
        put_at(&mut out, &["a".to_owned()], &whole["a"]);
        put_at(&mut out, path.keys(), path.find(&c).unwrap());
        assert_eq!(Value::Object(out), whole);
    }
}
