//! Rules on one claim's value (`--claim-eq`, `--claim-match`, a policy's `eq`, `one_of`, `glob`,
//! `regex`): the one matcher both the flags and policy files use.

use std::fmt;

use serde_json::Value;

use super::path::ClaimPath;
use super::text::{Claims, shown};

/// The longest `regex` pattern accepted, in bytes: a policy's patterns are short, and the
/// compiled program's size is bounded too ([`Pattern::new`]).
pub const MAX_PATTERN_LEN: usize = 1024;

/// A rule on one claim's value. On an array claim, a rule that does not itself name an array
/// holds when one of the elements satisfies it (the first such element is the match).
#[derive(Debug, Clone, PartialEq)]
pub enum ClaimRule {
    /// The claim equals this JSON value exactly (`--claim-eq NAME=VALUE`, `eq`).
    Equals(ClaimPath, Value),
    /// The claim is a string the glob matches whole: `*` any run, `?` one character
    /// (`--claim-match NAME=GLOB`, `glob`).
    Matches(ClaimPath, String),
    /// The claim equals one of these values (`one_of`).
    OneOf(ClaimPath, Vec<Value>),
    /// The claim is a string the regular expression matches whole (`regex`).
    Regex(ClaimPath, Pattern),
}

/// How a claim stood against a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It holds; `Some(i)` when element `i` of an array claim is what matched.
    Holds(Option<usize>),
    /// The token has no such claim.
    Missing,
    /// The claim is there but does not satisfy the rule.
    Differs,
}

impl ClaimRule {
    /// The claim the rule is about.
    pub fn claim(&self) -> &ClaimPath {
        match self {
            ClaimRule::Equals(name, _)
            | ClaimRule::Matches(name, _)
            | ClaimRule::OneOf(name, _)
            | ClaimRule::Regex(name, _) => name,
        }
    }

    /// Judge the rule against `claims`.
    pub fn judge(&self, claims: &Claims) -> Outcome {
        let Some(value) = self.claim().find(claims) else {
            return Outcome::Missing;
        };
        if value.is_array() && is_identifier(self.claim().last()) {
            return Outcome::Differs;
        }
        if self.holds(value) {
            return Outcome::Holds(None);
        }
        match value {
            // An array claim holds when an element does (unless the rule compares whole
            // arrays, which `holds` has just done).
            Value::Array(items) => items
                .iter()
                .position(|item| !item.is_array() && self.holds(item))
                .map_or(Outcome::Differs, |i| Outcome::Holds(Some(i))),
            _ => Outcome::Differs,
        }
    }

    /// Whether one value (a whole claim, or an element of an array claim) satisfies the rule.
    fn holds(&self, value: &Value) -> bool {
        match self {
            ClaimRule::Equals(_, want) => same(value, want),
            ClaimRule::OneOf(_, wants) => wants.iter().any(|want| same(value, want)),
            ClaimRule::Matches(_, glob) => {
                scalar_text(value).is_some_and(|v| glob_matches(glob, v))
            }
            ClaimRule::Regex(_, pattern) => {
                scalar_text(value).is_some_and(|v| pattern.regex.is_match(v))
            }
        }
    }

    /// What the rule asks of its claim, for a refusal ("the claim must be ..."): `"main"`,
    /// `one of ["a", "b"]`, `a match for glob "v*"`, `a match for regex "v[0-9]+"`. The values come from the rule (the
    /// policy or the command line), never from the token.
    pub fn expected(&self) -> String {
        match self {
            ClaimRule::Equals(_, want) => shown_value(want),
            ClaimRule::OneOf(_, wants) => super::text::one_of(wants.iter().map(shown_value)),
            ClaimRule::Matches(_, glob) => format!("a match for glob \"{}\"", shown(glob)),
            ClaimRule::Regex(_, pattern) => {
                format!("a match for regex \"{}\"", shown(&pattern.text))
            }
        }
    }
}

/// Whether a claim names one identity, so that an array in it is never matched element by
/// element: `iss`, `sub`, `jti`, `azp`, `oid`, `tid`, `uid`, and any claim whose name ends in
/// `_id` (`repository_id`, `project_id`, `namespace_id`); for a path, its innermost key
/// (`["kubernetes.io", "serviceaccount", "uid"]`). A rule on such a claim holds only for a
/// single value (`repository_id: ["999", "123"]` is not repository 123).
fn is_identifier(name: &str) -> bool {
    matches!(name, "iss" | "sub" | "jti" | "azp" | "oid" | "tid" | "uid") || name.ends_with("_id")
}

/// A value as a rule's expectation shows it: JSON, shortened and escaped.
fn shown_value(value: &Value) -> String {
    match value {
        Value::String(s) => format!("\"{}\"", shown(s)),
        other => shown(&other.to_string()),
    }
}

/// JSON equality, but numbers compare by value (`1` equals `1.0`), exactly: a float is never
/// rounded to meet an integer (`9007199254740992.0` is not `9007199254740993`).
fn same(have: &Value, want: &Value) -> bool {
    match (have, want) {
        (Value::Number(a), Value::Number(b)) => exact(a) == exact(b),
        _ => have == want,
    }
}

/// A JSON number as a value that compares exactly: a whole number as an integer (a float with
/// no fraction is one), anything else as its float.
#[derive(PartialEq)]
enum Exact {
    Whole(i128),
    Fraction(f64),
}

fn exact(n: &serde_json::Number) -> Exact {
    if let Some(i) = n.as_i64() {
        return Exact::Whole(i.into());
    }
    if let Some(u) = n.as_u64() {
        return Exact::Whole(u.into());
    }
    let f = n.as_f64().unwrap_or(f64::NAN);
    // Every f64 with no fraction below 2^120 is an integer i128 holds exactly.
    match f.fract() == 0.0 && f.abs() < 1e36 {
        true => Exact::Whole(f as i128),
        false => Exact::Fraction(f),
    }
}

/// The text a glob or regex is matched against: strings only (a number or boolean is matched
/// with `eq` or `one_of`, so that `1` and `"1"` stay apart as they do for `--claim-match`).
fn scalar_text(value: &Value) -> Option<&str> {
    value.as_str()
}

/// A regular expression in RE2 syntax (`regex-lite`, the regex project's small engine: linear
/// time in the text, no backreferences or look-around; Perl classes such as `\d` are ASCII),
/// matched against a whole value.
#[derive(Clone)]
pub struct Pattern {
    text: String,
    regex: regex_lite::Regex,
}

impl Pattern {
    /// Compile `text`, anchored at both ends, with its size bounded; the error says what is
    /// wrong in our words (the crate's text can quote the pattern at length).
    pub fn new(text: &str) -> Result<Pattern, String> {
        if text.len() > MAX_PATTERN_LEN {
            return Err(format!(
                "the pattern is {} bytes, over the {MAX_PATTERN_LEN}-byte limit",
                text.len()
            ));
        }
        let build = |text: &str| {
            regex_lite::RegexBuilder::new(text)
                .size_limit(1 << 20)
                .nest_limit(64)
                .build()
                .map_err(|e| {
                    format!("the pattern is not a valid regular expression (RE2 syntax): {e}")
                })
        };
        // The pattern must stand alone: `main)|(?:.*` is valid inside `^(?:...)$` but would
        // close the anchoring group and match anything.
        build(text)?;
        let regex = build(&format!("^(?:{text})$"))?;
        Ok(Pattern {
            text: text.to_owned(),
            regex,
        })
    }

    /// The pattern as written (without the anchors jwtctl adds).
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Pattern) -> bool {
        self.text == other.text
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Pattern").field(&self.text).finish()
    }
}

/// Whether `glob` matches all of `text`: `*` matches any run of characters (also none), `?` one
/// character, anything else itself. Linear in practice: the classic backtracking-to-last-star
/// matcher, so a hostile value cannot make it exponential.
pub fn glob_matches(glob: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (glob.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(c) if *c == '?' || *c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Claims {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn globs_match_the_whole_value() {
        let ref_glob = "acme/deploy/.github/workflows/*@refs/heads/main";
        assert!(glob_matches(
            ref_glob,
            "acme/deploy/.github/workflows/ship.yml@refs/heads/main"
        ));
        assert!(!glob_matches(
            ref_glob,
            "acme/deploy/.github/workflows/ship.yml@refs/heads/dev"
        ));
        assert!(
            !glob_matches("main", "mainline"),
            "the whole value must match"
        );
        assert!(glob_matches("v?.*", "v1.2"));
        assert!(glob_matches("*", ""));
        assert!(!glob_matches("?", ""));
        assert!(glob_matches("a*b*c", "aXbYbZc"));
        // A hostile value and glob stay cheap.
        assert!(!glob_matches(
            &"*a".repeat(50),
            &"a".repeat(10_000).replace('a', "b")
        ));
    }

    #[test]
    fn array_claims_hold_when_an_element_does() {
        let c = claims(json!({"aud": ["a", "b"], "groups": [1, 2], "n": 7}));
        let eq = ClaimRule::Equals(ClaimPath::name("aud"), json!("b"));
        assert_eq!(eq.judge(&c), Outcome::Holds(Some(1)));
        let whole = ClaimRule::Equals(ClaimPath::name("aud"), json!(["a", "b"]));
        assert_eq!(whole.judge(&c), Outcome::Holds(None));
        let one_of = ClaimRule::OneOf(ClaimPath::name("groups"), vec![json!(5), json!(2.0)]);
        assert_eq!(one_of.judge(&c), Outcome::Holds(Some(1)));
        let glob = ClaimRule::Matches(ClaimPath::name("n"), "7".into());
        assert_eq!(glob.judge(&c), Outcome::Differs, "globs match strings only");
        // Numbers compare by value but exactly: no rounding through a float.
        let big = claims(json!({"n": 9007199254740992.0_f64, "m": 18446744073709551615_u64}));
        let pin = ClaimRule::Equals(ClaimPath::name("n"), json!(9007199254740993_i64));
        assert_eq!(pin.judge(&big), Outcome::Differs);
        let pin = ClaimRule::Equals(ClaimPath::name("n"), json!(9007199254740992_i64));
        assert_eq!(pin.judge(&big), Outcome::Holds(None));
        let pin = ClaimRule::Equals(ClaimPath::name("m"), json!(18446744073709551614.0_f64));
        assert_eq!(pin.judge(&big), Outcome::Differs);
        let missing = ClaimRule::Equals(ClaimPath::name("env"), json!("prod"));
        assert_eq!(missing.judge(&c), Outcome::Missing);
        // An identifier is one value: an array holding the pinned id is not that identity,
        // whatever the rule (`eq`, `one_of`, `glob`, `regex`, or an `eq` on the whole array).
        let c = claims(json!({"repository_id": ["999", "123"], "sub": ["a"], "n": 7}));
        for rule in [
            ClaimRule::Equals(ClaimPath::name("repository_id"), json!("123")),
            ClaimRule::Equals(ClaimPath::name("repository_id"), json!(["999", "123"])),
            ClaimRule::OneOf(ClaimPath::name("repository_id"), vec![json!("123")]),
            ClaimRule::Matches(ClaimPath::name("repository_id"), "1*".into()),
            ClaimRule::Regex(
                ClaimPath::name("repository_id"),
                Pattern::new("[0-9]+").unwrap(),
            ),
            ClaimRule::Equals(ClaimPath::name("sub"), json!("a")),
        ] {
            assert_eq!(rule.judge(&c), Outcome::Differs, "{rule:?}");
        }
        let differs = ClaimRule::Equals(ClaimPath::name("n"), json!("7"));
        assert_eq!(
            differs.judge(&c),
            Outcome::Differs,
            "a string is not a number"
        );
    }

    #[test]
    fn patterns_are_anchored_linear_and_bounded() {
        let p = Pattern::new("refs/tags/v[0-9]+").unwrap();
        let rule = ClaimRule::Regex(ClaimPath::name("ref"), p);
        assert!(rule.holds(&json!("refs/tags/v12")));
        assert!(
            !rule.holds(&json!("refs/tags/v12-evil")),
            "anchored at the end"
        );
        assert!(
            !rule.holds(&json!("x/refs/tags/v1")),
            "anchored at the start"
        );
        // Exponential for a backtracking engine; linear here.
        let evil = ClaimRule::Regex(ClaimPath::name("s"), Pattern::new("(a+)+$").unwrap());
        let start = std::time::Instant::now();
        assert!(!evil.holds(&json!(format!("{}!", "a".repeat(50_000)))));
        assert!(start.elapsed() < std::time::Duration::from_secs(2));
        assert!(Pattern::new("(a").unwrap_err().contains("without closing"));
        // An alternation is anchored as a whole: ^(?:main|release)$, not ^main|release$.
        let alt = ClaimRule::Regex(
            ClaimPath::name("ref"),
            Pattern::new("main|release").unwrap(),
        );
        assert!(alt.holds(&json!("release")));
        assert!(!alt.holds(&json!("mainline")) && !alt.holds(&json!("prerelease")));
        // A pattern that closes jwtctl's anchoring group is refused, not matched unanchored.
        assert!(Pattern::new("main)|(?:.*").is_err());
        assert!(Pattern::new("main)|(.*").is_err());
        assert!(Pattern::new("(a)\\1").is_err(), "no backreferences");
        assert!(Pattern::new(&"a".repeat(2000)).is_err());
        assert!(Pattern::new("a{1000}{1000}").is_err(), "too large compiled");
    }
}
