//! The claim a rule or `require` is about: a top-level name, or a path of keys into nested
//! objects (`["kubernetes.io", "serviceaccount", "uid"]`).
//!
//! Invariant: a path is a list of keys, never a dotted string split on dots (`kubernetes.io` is
//! one key), and it is walked through objects only: an array, string or number on the way
//! means the claim is absent, so an array of objects can never offer one of its elements as
//! the claim (an attacker who can add an element cannot add a match). Its depth is bounded
//! ([`MAX_PATH_KEYS`]), and it is shown in a way no top-level name can imitate.

use serde_json::Value;

use super::text::{Claims, claim, shown};

/// The most keys a claim path may have: real tokens nest two or three deep.
pub const MAX_PATH_KEYS: usize = 16;

/// The claim a rule is about: one key, or several naming nested objects' members. Never empty.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClaimPath(Vec<String>);

impl ClaimPath {
    /// A top-level claim (`--claim-eq NAME=...`, `claim = "NAME"`).
    pub fn name(name: impl Into<String>) -> ClaimPath {
        ClaimPath(vec![name.into()])
    }

    /// A path of keys, outermost first; the error says what is wrong with it.
    pub fn nested(keys: Vec<String>) -> Result<ClaimPath, String> {
        if keys.is_empty() {
            return Err("is an empty path; name at least one key".to_owned());
        }
        if keys.len() > MAX_PATH_KEYS {
            return Err(format!(
                "has {} keys, over the {MAX_PATH_KEYS}-key limit",
                keys.len()
            ));
        }
        if keys.iter().any(String::is_empty) {
            return Err("has an empty key".to_owned());
        }
        Ok(ClaimPath(keys))
    }

    /// The keys, outermost first.
    pub fn keys(&self) -> &[String] {
        &self.0
    }

    /// The top-level claim the path starts at.
    pub fn top(&self) -> &str {
        &self.0[0]
    }

    /// The innermost key: the member the rule is about.
    pub fn last(&self) -> &str {
        &self.0[self.0.len() - 1]
    }

    /// Whether this is a top-level claim.
    pub fn is_top(&self) -> bool {
        self.0.len() == 1
    }

    /// Whether the path is exactly `keys`.
    pub fn is(&self, keys: &[&str]) -> bool {
        self.0.len() == keys.len() && self.0.iter().zip(keys).all(|(a, b)| a == b)
    }

    /// The value at the path, walking objects only; `None` when a key is absent or a value on
    /// the way is not an object.
    pub fn find<'a>(&self, claims: &'a Claims) -> Option<&'a Value> {
        let (first, rest) = self.0.split_first()?;
        let mut value = claim(claims, first)?;
        for key in rest {
            value = value.as_object()?.get(key)?;
        }
        Some(value)
    }

    /// The path for a record and `--output json`'s `claim`, exactly: a top-level name as it is,
    /// a path (or a name that starts with `[`) as a JSON array of its keys, so the two never
    /// meet.
    pub fn record(&self) -> String {
        match self.plain() {
            Some(name) => name.to_owned(),
            None => Value::from(self.0.clone()).to_string(),
        }
    }

    /// The path for a one-line message: `'name'`, or `["kubernetes.io", "serviceaccount",
    /// "uid"]`; every key escaped and shortened (a policy's or a flag's text, never the token's).
    pub fn shown(&self) -> String {
        match self.plain() {
            Some(name) => format!("'{}'", shown(name)),
            None => {
                let keys: Vec<String> =
                    self.0.iter().map(|k| format!("\"{}\"", shown(k))).collect();
                format!("[{}]", keys.join(", "))
            }
        }
    }

    /// The name, when the path is one key that cannot be read as an array.
    fn plain(&self) -> Option<&str> {
        match self.0.as_slice() {
            [name] if !name.starts_with('[') => Some(name),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Claims {
        v.as_object().cloned().unwrap_or_default()
    }

    fn path(keys: &[&str]) -> ClaimPath {
        ClaimPath::nested(keys.iter().map(|k| k.to_string()).collect()).unwrap()
    }

    #[test]
    fn a_path_walks_objects_only_and_never_splits_on_dots() {
        let uid = path(&["kubernetes.io", "serviceaccount", "uid"]);
        let c = claims(json!({"kubernetes.io": {"serviceaccount": {"uid": "u1"}}}));
        assert_eq!(uid.find(&c), Some(&json!("u1")));
        // Dots are part of a key: neither a dotted top-level name nor split objects are the path.
        for hostile in [
            json!({"kubernetes.io.serviceaccount.uid": "u1"}),
            json!({"kubernetes": {"io": {"serviceaccount": {"uid": "u1"}}}}),
            json!({"kubernetes.io": [{"serviceaccount": {"uid": "u1"}}]}),
            json!({"kubernetes.io": {"serviceaccount": [{"uid": "u1"}]}}),
            json!({"kubernetes.io": "serviceaccount"}),
            json!({"kubernetes.io": {"serviceaccount": null}}),
        ] {
            assert_eq!(uid.find(&claims(hostile.clone())), None, "{hostile}");
        }
        assert_eq!(
            ClaimPath::name("kubernetes.io.serviceaccount.uid").find(&c),
            None
        );
    }

    #[test]
    fn paths_are_bounded_and_shown_unambiguously() {
        assert!(ClaimPath::nested(vec![]).is_err());
        assert!(ClaimPath::nested(vec!["a".into(), String::new()]).is_err());
        assert!(ClaimPath::nested(vec!["k".into(); MAX_PATH_KEYS + 1]).is_err());
        assert!(ClaimPath::nested(vec!["k".into(); MAX_PATH_KEYS]).is_ok());
        assert_eq!(
            ClaimPath::nested(vec!["sub".into()]),
            Ok(ClaimPath::name("sub"))
        );
        let uid = path(&["kubernetes.io", "serviceaccount", "uid"]);
        assert_eq!(uid.record(), r#"["kubernetes.io","serviceaccount","uid"]"#);
        assert_eq!(uid.shown(), r#"["kubernetes.io", "serviceaccount", "uid"]"#);
        assert_eq!(ClaimPath::name("sub").record(), "sub");
        assert_eq!(ClaimPath::name("sub").shown(), "'sub'");
        // A top-level name that looks like a path is recorded as a one-key path.
        let looks = ClaimPath::name(r#"["a","b"]"#);
        assert_eq!(looks.record(), r#"["[\"a\",\"b\"]"]"#);
        assert_ne!(looks.record(), path(&["a", "b"]).record());
        // Quotes and control characters are escaped in a message.
        let hostile = path(&["a\"b", "c\u{1b}[2J\n"]);
        assert_eq!(hostile.shown(), r#"["a\"b", "c\u{1b}[2J\n"]"#);
        assert!(!ClaimPath::name("x'\n").shown().contains('\n'));
    }
}
