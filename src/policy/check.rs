//! What parses but is wrong or unwise: a rule on a claim the issuer's tokens never carry (an
//! error: the rule could never hold), and names pinned without the ids that keep them (a warning).

use super::presets::Preset;
use super::{Issuer, ParseError, PolicyFile, Rule};
use crate::token::{ClaimPath, ClaimRule};

/// A problem `policy check` reports: an error (the policy is refused) or a warning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub error: bool,
    pub line: usize,
    pub message: String,
}

/// Everything `policy check` finds beyond parsing, errors first, each in the file's order.
pub fn warnings(policy: &PolicyFile) -> Vec<Finding> {
    let mut found: Vec<Finding> = policy.issuers.iter().flat_map(findings).collect();
    found.sort_by_key(|f| (!f.error, f.line));
    found
}

/// The first error among `findings`, as a parse error.
pub fn first_error(findings: &[Finding]) -> Option<ParseError> {
    findings.iter().find(|f| f.error).map(|f| ParseError {
        line: f.line,
        message: f.message.clone(),
    })
}

fn findings(issuer: &Issuer) -> Vec<Finding> {
    let Some(preset) = issuer.preset else {
        return Vec::new();
    };
    let leaves = issuer.rule.leaves();
    let mut out = never_held(issuer, preset, &leaves);
    out.extend(unpinned(issuer, preset, &leaves));
    out
}

/// Errors: rules that could never hold under `preset`, for a claim or path its tokens never
/// carry or a value of a type its tokens never give, and `require`s its tokens never meet.
fn never_held(issuer: &Issuer, preset: Preset, leaves: &[(&Rule, &ClaimRule)]) -> Vec<Finding> {
    let mut out = Vec::new();
    let error = |line, message| Finding {
        error: true,
        line,
        message,
    };
    for (rule, claim) in leaves {
        if !preset.knows(claim.claim()) {
            out.push(error(
                rule.line,
                format!(
                    "{}: {} tokens never carry {}; the rule could never hold (see `jwtctl \
                     policy new --preset {}` for the claims)",
                    rule.path,
                    preset.name(),
                    claim.claim().shown(),
                    preset.name()
                ),
            ));
        }
    }
    for (rule, claim) in leaves {
        if let Some(value) = never_a_string(preset, claim) {
            out.push(error(
                rule.line,
                format!(
                    "{}: {} tokens carry {} as a string, so {value} (not a string) never equals \
                     it; quote it: \"{}\"",
                    rule.path,
                    preset.name(),
                    claim.claim().shown(),
                    value.to_string().trim_matches('"')
                ),
            ));
        }
    }
    for (rule, claim) in leaves {
        if let Some(value) = never_an_integer(preset, claim) {
            out.push(error(
                rule.line,
                format!(
                    "{}: {} tokens carry {} as an integer, so {value} never equals it; write \
                     the number unquoted",
                    rule.path,
                    preset.name(),
                    claim.claim().shown(),
                ),
            ));
        }
    }
    for claim in &issuer.require {
        if !preset.knows(claim) {
            out.push(error(
                issuer.line,
                format!(
                    "{}.require: {} tokens never carry {}",
                    issuer.path,
                    preset.name(),
                    claim.shown()
                ),
            ));
        }
    }
    out
}

/// Warnings: names pinned without the id that keeps them, and no rule on the id at all.
fn unpinned(issuer: &Issuer, preset: Preset, leaves: &[(&Rule, &ClaimRule)]) -> Vec<Finding> {
    let mut out = Vec::new();
    let ruled = |keys: &[&str]| leaves.iter().any(|(_, c)| c.claim().is(keys));
    let shown = |keys: &[&str]| {
        ClaimPath::nested(keys.iter().map(|k| (*k).to_owned()).collect())
            .map_or_else(|_| String::new(), |p| p.shown())
    };
    let mut warned: Vec<&[&str]> = Vec::new();
    for (name, id) in preset.pins() {
        if ruled(name) && !ruled(id) && !warned.contains(id) {
            warned.push(id);
            out.push(Finding {
                error: false,
                line: leaves
                    .iter()
                    .find(|(_, c)| c.claim().is(name))
                    .map_or(issuer.line, |(r, _)| r.line),
                message: format!(
                    "{} pins {} by name only: {}; add a rule on {} (`jwtctl policy pin TOKEN` \
                     prints it)",
                    issuer.path,
                    shown(name),
                    match preset {
                        Preset::Kubernetes => "a service account deleted and created again \
                                               has the same name and a new uid"
                            .to_owned(),
                        _ => format!(
                            "a renamed or deleted {} can be registered again by someone else",
                            name.last().copied().unwrap_or_default()
                        ),
                    },
                    shown(id)
                ),
            });
        }
    }
    if let Some((_, id)) = preset.pins().first()
        && !ruled(id)
        && !preset.pins().iter().any(|(name, _)| ruled(name))
    {
        out.push(Finding {
            error: false,
            line: issuer.line,
            message: format!(
                "{} has no rule on {}: any {} project's token passes",
                issuer.path,
                shown(id),
                preset.name()
            ),
        });
    }
    out
}

/// The first value an `eq` or `one_of` compares a string-only claim with that is not a string
/// (nor an array of strings): a rule that can never hold, such as `repository_id` `eq = 2002`.
fn never_a_string(preset: Preset, claim: &ClaimRule) -> Option<serde_json::Value> {
    if !preset.writes_strings(claim.claim()) {
        return None;
    }
    let stringy = |v: &serde_json::Value| match v {
        serde_json::Value::String(_) => true,
        serde_json::Value::Array(items) => items.iter().all(serde_json::Value::is_string),
        _ => false,
    };
    match claim {
        ClaimRule::Equals(_, want) => (!stringy(want)).then(|| want.clone()),
        ClaimRule::OneOf(_, wants) => wants.iter().find(|w| !stringy(w)).cloned(),
        _ => None,
    }
}

/// The first value an `eq` or `one_of` compares an integer-only claim with that is not an
/// integer: a rule that can never hold, such as GitLab's `runner_id` `eq = "12"`.
fn never_an_integer(preset: Preset, claim: &ClaimRule) -> Option<serde_json::Value> {
    if !preset.writes_integers(claim.claim()) {
        return None;
    }
    let whole = |v: &serde_json::Value| v.as_i64().is_some() || v.as_u64().is_some();
    match claim {
        ClaimRule::Equals(_, want) => (!whole(want)).then(|| want.clone()),
        ClaimRule::OneOf(_, wants) => wants.iter().find(|w| !whole(w)).cloned(),
        _ => None,
    }
}
