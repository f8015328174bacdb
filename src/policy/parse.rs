//! A policy file's text (TOML, or JSON when it starts with `{`) to a [`PolicyFile`]. Every error
//! is one line naming the line of the file it is about (TOML; JSON's syntax errors too).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::PathBuf;

use crate::token::Algorithm;
use serde_json::Value;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::presets::Preset;
use super::{Issuer, KeySource, PolicyFile, Rule, RuleKind};
use crate::token::{ClaimPath, ClaimRule, Pattern};

/// What is wrong with a policy file, and on which line (1-based; 0 when unknown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            0 => f.write_str(&self.message),
            line => write!(f, "line {line}: {}", self.message),
        }
    }
}

type Result<T> = std::result::Result<T, ParseError>;

fn fail<T>(line: usize, message: impl Into<String>) -> Result<T> {
    Err(ParseError {
        line,
        message: message.into(),
    })
}

/// A value of the file with the line it starts on: TOML and JSON read into one shape.
#[derive(Debug)]
struct Node {
    line: usize,
    value: Val,
}

#[derive(Debug)]
enum Val {
    Str(String),
    Int(i64),
    /// A whole number beyond i64 that fits u64 (JSON numbers a token carries can be one).
    Uint(u64),
    /// A whole number beyond 64 bits, which no setting takes and no claim compares with exactly.
    Huge,
    Float(f64),
    Bool(bool),
    Array(Vec<Node>),
    /// Keys in the file's order (TOML: sorted by name), each with its line.
    Table(Vec<(String, Node)>),
    /// A TOML date-time, which no policy setting takes.
    Datetime,
    /// JSON's null, which no policy setting takes either.
    Null,
}

impl Val {
    fn kind(&self) -> &'static str {
        match self {
            Val::Str(_) => "a string",
            Val::Int(_) | Val::Uint(_) => "an integer",
            Val::Huge => "an integer beyond 64 bits",
            Val::Float(f) if !f.is_finite() => "a number that is not finite (inf, nan)",
            Val::Float(_) => "a number",
            Val::Bool(_) => "a boolean",
            Val::Array(_) => "an array",
            Val::Table(_) => "a table",
            Val::Datetime => "a date-time",
            Val::Null => "null",
        }
    }
}

/// Parse a policy file's text.
pub fn parse(text: &str) -> Result<PolicyFile> {
    let root = if text.trim_start().starts_with('{') {
        from_json(text)?
    } else {
        from_toml(text)?
    };
    policy(root)
}

fn from_toml(text: &str) -> Result<Node> {
    let lines = LineIndex::new(text);
    let doc = DeTable::parse(text).map_err(|e| ParseError {
        line: e.span().map_or(0, |s| lines.line(s.start)),
        message: format!("not valid TOML: {}", first_line(e.message())),
    })?;
    Ok(Node {
        line: 1,
        value: table_node(doc.into_inner(), &lines),
    })
}

fn table_node(table: DeTable<'_>, lines: &LineIndex) -> Val {
    let mut entries: Vec<(usize, String, Node)> = table
        .into_iter()
        .map(|(key, value)| {
            let line = lines.line(key.span().start);
            (line, key.into_inner().into_owned(), toml_node(value, lines))
        })
        .collect();
    // The file's order, so that the first error is the first in the file.
    entries.sort_by_key(|(line, _, _)| *line);
    Val::Table(entries.into_iter().map(|(_, k, v)| (k, v)).collect())
}

fn toml_node(value: Spanned<DeValue<'_>>, lines: &LineIndex) -> Node {
    let line = lines.line(value.span().start);
    let value = match value.into_inner() {
        DeValue::String(s) => Val::Str(s.into_owned()),
        DeValue::Integer(i) => {
            let digits = i.as_str().replace('_', "");
            match i64::from_str_radix(&digits, i.radix()) {
                Ok(n) => Val::Int(n),
                Err(_) => u64::from_str_radix(digits.trim_start_matches('+'), i.radix())
                    .map_or(Val::Huge, Val::Uint),
            }
        }
        DeValue::Float(f) => Val::Float(f.as_str().replace('_', "").parse().unwrap_or(f64::NAN)),
        DeValue::Boolean(b) => Val::Bool(b),
        DeValue::Datetime(_) => Val::Datetime,
        DeValue::Array(items) => Val::Array(
            items
                .into_iter()
                .map(|item| toml_node(item, lines))
                .collect(),
        ),
        DeValue::Table(table) => table_node(table, lines),
    };
    Node { line, value }
}

fn from_json(text: &str) -> Result<Node> {
    let node: JsonNode = serde_json::from_str(text).map_err(|e| ParseError {
        line: e.line(),
        message: match duplicate_key(&e) {
            Some(message) => message,
            None => format!("not valid JSON ({})", json_fault(&e)),
        },
    })?;
    Ok(node.0)
}

/// serde_json's category in our words (its text can quote the input).
fn json_fault(e: &serde_json::Error) -> &'static str {
    use serde_json::error::Category;
    match e.classify() {
        Category::Syntax => "a syntax error",
        Category::Eof => "it ends early",
        Category::Data | Category::Io => "an unreadable value",
    }
}

/// The mark on our own error for a key given twice, so that it is told from serde_json's.
const DUPLICATE: &str = "jwtctl-duplicate-key:";

/// Our message for a key a JSON object gives twice (serde_json keeps the last silently, so a
/// reviewer would read one rule and jwtctl judge by another).
fn duplicate_key(e: &serde_json::Error) -> Option<String> {
    let text = e.to_string();
    let rest = text.strip_prefix(DUPLICATE)?;
    let key = rest.rsplit_once(" at line ").map_or(rest, |(key, _)| key);
    Some(format!("the key '{key}' is given twice; keep one"))
}

/// A JSON value read straight into a [`Node`], refusing an object that repeats a key.
struct JsonNode(Node);

impl<'de> serde::Deserialize<'de> for JsonNode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

fn json_leaf(value: Val) -> JsonNode {
    JsonNode(Node { line: 0, value })
}

impl<'de> serde::de::Visitor<'de> for JsonVisitor {
    type Value = JsonNode;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, b: bool) -> std::result::Result<JsonNode, E> {
        Ok(json_leaf(Val::Bool(b)))
    }

    fn visit_i64<E>(self, i: i64) -> std::result::Result<JsonNode, E> {
        Ok(json_leaf(Val::Int(i)))
    }

    fn visit_u64<E>(self, u: u64) -> std::result::Result<JsonNode, E> {
        // Beyond i64, as TOML: a number no setting takes.
        Ok(json_leaf(i64::try_from(u).map_or(Val::Uint(u), Val::Int)))
    }

    fn visit_f64<E>(self, f: f64) -> std::result::Result<JsonNode, E> {
        Ok(json_leaf(Val::Float(f)))
    }

    fn visit_str<E>(self, s: &str) -> std::result::Result<JsonNode, E> {
        Ok(json_leaf(Val::Str(s.to_owned())))
    }

    fn visit_string<E>(self, s: String) -> std::result::Result<JsonNode, E> {
        Ok(json_leaf(Val::Str(s)))
    }

    fn visit_unit<E>(self) -> std::result::Result<JsonNode, E> {
        Ok(json_leaf(Val::Null))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<JsonNode, A::Error> {
        let mut items = Vec::new();
        while let Some(JsonNode(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(json_leaf(Val::Array(items)))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<JsonNode, A::Error> {
        let mut entries: Vec<(String, Node)> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if entries.iter().any(|(k, _)| *k == key) {
                return Err(serde::de::Error::custom(format!(
                    "{DUPLICATE}{}",
                    shown(&key)
                )));
            }
            let JsonNode(value) = map.next_value()?;
            entries.push((key, value));
        }
        Ok(json_leaf(Val::Table(entries)))
    }
}

/// The first line of a library message (toml's can carry a rendered snippet).
fn first_line(message: &str) -> &str {
    message.lines().next().unwrap_or("").trim()
}

/// Byte offsets to 1-based line numbers.
struct LineIndex(Vec<usize>);

impl LineIndex {
    fn new(text: &str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        LineIndex(starts)
    }

    fn line(&self, offset: usize) -> usize {
        self.0.partition_point(|start| *start <= offset)
    }
}

/// A table's entries, taken one by one by name; what is left over is an unknown key.
struct Entries<'a> {
    what: String,
    line: usize,
    entries: Vec<(String, Node)>,
    known: &'a [&'a str],
}

impl<'a> Entries<'a> {
    fn of(node: Node, what: String, known: &'a [&'a str]) -> Result<Entries<'a>> {
        match node.value {
            Val::Table(entries) => {
                if let Some((key, value)) =
                    entries.iter().find(|(k, _)| !known.contains(&k.as_str()))
                {
                    return fail(
                        value.line,
                        format!(
                            "unknown key '{}' in {what}; the keys are {}",
                            shown(key),
                            known.join(", ")
                        ),
                    );
                }
                Ok(Entries {
                    what,
                    line: node.line,
                    entries,
                    known,
                })
            }
            other => fail(
                node.line,
                format!("{what} must be a table, not {}", other.kind()),
            ),
        }
    }

    fn take(&mut self, key: &str) -> Option<Node> {
        debug_assert!(self.known.contains(&key));
        let at = self.entries.iter().position(|(k, _)| k == key)?;
        Some(self.entries.remove(at).1)
    }

    fn has(&self, key: &str) -> bool {
        self.entries.iter().any(|(k, _)| k == key)
    }

    fn string(&mut self, key: &str) -> Result<Option<(String, usize)>> {
        self.take(key)
            .map(|node| string(node, &format!("{}.{key}", self.what)))
            .transpose()
    }

    fn strings(&mut self, key: &str) -> Result<Option<(Vec<String>, usize)>> {
        let what = format!("{}.{key}", self.what);
        let Some(node) = self.take(key) else {
            return Ok(None);
        };
        let line = node.line;
        let Val::Array(items) = node.value else {
            return fail(line, format!("{what} must be an array of strings"));
        };
        let items = items
            .into_iter()
            .map(|item| string(item, &what).map(|(s, _)| s))
            .collect::<Result<_>>()?;
        Ok(Some((items, line)))
    }
}

fn string(node: Node, what: &str) -> Result<(String, usize)> {
    match node.value {
        Val::Str(s) if !s.is_empty() => Ok((s, node.line)),
        Val::Str(_) => fail(node.line, format!("{what} is empty")),
        other => fail(
            node.line,
            format!("{what} must be a string, not {}", other.kind()),
        ),
    }
}

/// A key or value from the file, made safe for a one-line message.
fn shown(s: &str) -> String {
    let mut out: String = s.chars().take(40).flat_map(char::escape_debug).collect();
    if s.chars().count() > 40 {
        out.push('…');
    }
    out
}

const TOP: &[&str] = &["issuer"];
const ISSUER: &[&str] = &[
    "url",
    "aliases",
    "preset",
    "oidc",
    "jwks_url",
    "jwks_file",
    "audiences",
    "algorithms",
    "max_age",
    "require",
    "rule",
];
const RULE: &[&str] = &["claim", "eq", "one_of", "glob", "regex", "all", "any"];
const MATCHERS: [&str; 4] = ["eq", "one_of", "glob", "regex"];
/// How deep `all` and `any` may nest.
const MAX_DEPTH: usize = 16;

fn policy(root: Node) -> Result<PolicyFile> {
    let line = root.line;
    let mut top = Entries::of(root, "the policy".into(), TOP)?;
    let Some(node) = top.take("issuer") else {
        return fail(
            line,
            "the policy lists no issuer; add an [[issuer]] table with its url and key source",
        );
    };
    let Val::Array(items) = node.value else {
        return fail(
            node.line,
            "'issuer' must be an array of tables: write [[issuer]], not [issuer]",
        );
    };
    if items.is_empty() {
        return fail(node.line, "the policy lists no issuer");
    }
    let mut issuers: Vec<Issuer> = Vec::new();
    // Every name (url or alias) of the issuers so far, and whose it is: one lookup per name.
    let mut named: HashMap<String, usize> = HashMap::new();
    for (i, item) in items.into_iter().enumerate() {
        let issuer = issuer(item, i)?;
        if let Some((twin, name)) = issuer
            .issuer_names()
            .find_map(|name| named.get(name).map(|at| (&issuers[*at], name)))
        {
            let what = match twin.url == issuer.url {
                true => "the same url as".to_owned(),
                false => format!("the issuer \"{}\" as", shown(name)),
            };
            return fail(
                issuer.line,
                format!(
                    "{} has {what} {}; list each issuer once",
                    issuer.path, twin.path
                ),
            );
        }
        for name in issuer.issuer_names() {
            named.insert(name.to_owned(), i);
        }
        issuers.push(issuer);
    }
    Ok(PolicyFile { issuers })
}

fn issuer(node: Node, index: usize) -> Result<Issuer> {
    let path = format!("issuer[{index}]");
    let mut t = Entries::of(node, path.clone(), ISSUER)?;
    let line = t.line;
    let Some((url, url_line)) = t.string("url")? else {
        return fail(
            line,
            format!("{path} has no url; add url = \"https://...\", the issuer its tokens name"),
        );
    };
    if !url.starts_with("https://") && !url.starts_with("http://") {
        return fail(url_line, format!("{path}.url must be an https:// URL"));
    }
    issuer_name(&url, &format!("{path}.url"), url_line)?;
    let preset = match t.string("preset")? {
        None => None,
        Some((name, line)) => Some(Preset::from_name(&name).ok_or_else(|| ParseError {
            line,
            message: format!(
                "{path}.preset '{}' is not one jwtctl knows; the presets are {}",
                shown(&name),
                Preset::names()
            ),
        })?),
    };
    let aliases = aliases(&mut t, &path, &url, preset)?;
    let keys = key_source(&mut t, &path, &url, line)?;
    let audiences = match t.strings("audiences")? {
        Some((list, _)) if !list.is_empty() => list,
        Some((_, line)) => return fail(line, format!("{path}.audiences is empty")),
        None => {
            return fail(
                line,
                format!(
                    "{path} has no audiences; add audiences = [\"...\"], the audience its tokens \
                     are minted for"
                ),
            );
        }
    };
    let algorithms = match t.strings("algorithms")? {
        None => Vec::new(),
        Some((names, line)) => names
            .iter()
            .map(|name| algorithm(name, &path, line, &keys))
            .collect::<Result<_>>()?,
    };
    let max_age_secs = match t.string("max_age")? {
        None => None,
        Some((text, line)) => Some(duration(&text).ok_or_else(|| ParseError {
            line,
            message: format!("{path}.max_age must be a duration such as 10m or 1h"),
        })?),
    };
    let require = match t.take("require") {
        None => Vec::new(),
        Some(node) => claim_paths(node, &format!("{path}.require"))?,
    };
    let rule_path = format!("{path}.rule");
    let rules = match t.take("rule") {
        None => Vec::new(),
        Some(node) => rule_list(node, &rule_path, 0)?,
    };
    if rules.is_empty() {
        // Without a rule, every token the issuer mints for the audience passes: on a CI
        // provider, any project's workflow can ask for any audience.
        return fail(
            line,
            format!(
                "{path} has no rule, so any token its issuer mints for the audiences would pass; \
                 add [[issuer.rule]] tables (to accept every subject, say so: claim = \"sub\", \
                 glob = \"*\")"
            ),
        );
    }
    Ok(Issuer {
        path,
        url,
        aliases,
        preset,
        keys,
        audiences,
        algorithms,
        max_age_secs,
        require,
        rule: Rule {
            path: rule_path,
            line,
            kind: RuleKind::All(rules),
        },
        line,
    })
}

fn key_source(t: &mut Entries, path: &str, url: &str, line: usize) -> Result<KeySource> {
    let given: Vec<&str> = ["oidc", "jwks_url", "jwks_file"]
        .into_iter()
        .filter(|key| t.has(key))
        .collect();
    match given.as_slice() {
        [] => fail(
            line,
            format!(
                "{path} has no key source; add oidc = true, jwks_url = \"https://...\" or \
                 jwks_file = \"PATH\""
            ),
        ),
        [_] => Ok(if let Some(node) = t.take("oidc") {
            match node.value {
                Val::Bool(true) => KeySource::Oidc(url.to_owned()),
                Val::Str(s) if s.starts_with("https://") || s.starts_with("http://") => {
                    KeySource::Oidc(s)
                }
                _ => {
                    return fail(
                        node.line,
                        format!(
                            "{path}.oidc must be true (discovery at the url) or the URL to \
                             discover at"
                        ),
                    );
                }
            }
        } else if let Some((u, line)) = t.string("jwks_url")? {
            if !u.starts_with("https://") && !u.starts_with("http://") {
                return fail(line, format!("{path}.jwks_url must be an https:// URL"));
            }
            KeySource::JwksUrl(u)
        } else {
            let (file, _) = t.string("jwks_file")?.unwrap_or_default();
            KeySource::JwksFile(PathBuf::from(file))
        }),
        [a, b, ..] => fail(
            line,
            format!("{path} has two key sources ({a} and {b}); keep one"),
        ),
    }
}

/// An algorithm the issuer's keys may use. An HMAC algorithm with keys fetched from a URL is
/// refused: a published key set holds public keys, so HS256 could never verify, and naming it
/// invites algorithm confusion (a public key's bytes taken as an HMAC secret).
fn algorithm(name: &str, path: &str, line: usize, keys: &KeySource) -> Result<Algorithm> {
    match name.parse::<Algorithm>() {
        Ok(alg) if is_hmac(alg) && !matches!(keys, KeySource::JwksFile(_)) => fail(
            line,
            format!(
                "{path}.algorithms: {name} is an HMAC algorithm, which a key set fetched from a \
                 URL (oidc, jwks_url) never serves; name the issuer's public-key algorithms \
                 (RS256, ES256, EdDSA, ...)"
            ),
        ),
        Ok(alg) if crate::token::alg_name(alg) != "unknown" => Ok(alg),
        _ => fail(
            line,
            format!(
                "{path}.algorithms: '{}' is not an algorithm jwtctl verifies (HS256, RS256, \
                 PS256, ES256, ES384, EdDSA, ...)",
                shown(name)
            ),
        ),
    }
}

fn is_hmac(alg: Algorithm) -> bool {
    matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
}

/// `aliases`: other exact `iss` values of the issuer; the google preset at Google's url adds
/// `accounts.google.com`, the other form Google writes.
fn aliases(t: &mut Entries, path: &str, url: &str, preset: Option<Preset>) -> Result<Vec<String>> {
    let mut aliases = match t.strings("aliases")? {
        None => Vec::new(),
        Some((list, line)) if list.is_empty() => {
            return fail(line, format!("{path}.aliases is empty"));
        }
        Some((list, line)) => {
            for alias in &list {
                issuer_name(alias, &format!("{path}.aliases"), line)?;
            }
            if let Some(same) = list.iter().find(|a| *a == url) {
                return fail(
                    line,
                    format!("{path}.aliases repeats the url \"{}\"", shown(same)),
                );
            }
            list
        }
    };
    aliases.extend(
        preset
            .map_or(&[][..], |p| p.aliases(url))
            .iter()
            .map(|implied| (*implied).to_owned()),
    );
    // Each once, in the file's order: one set lookup per alias.
    let mut seen = HashSet::new();
    aliases.retain(|alias| seen.insert(alias.clone()));
    Ok(aliases)
}

/// An issuer's url or alias is one name, as a token's `iss` writes it: whitespace, a comma or
/// a control character in it is a mistake (`aliases = ["https://a.example, https://b.example"]`
/// is one alias that no token names, and reads as two in a message) or a disguise.
fn issuer_name(name: &str, what: &str, line: usize) -> Result<()> {
    let bad = name
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || *c == ',');
    match bad {
        None => Ok(()),
        Some(c) => fail(
            line,
            format!(
                "{what}: \"{}\" holds {}; an issuer name is one URL or host, so list each in \
                 its own string",
                shown(name),
                match c {
                    ',' => "a comma",
                    c if c.is_control() => "a control character",
                    _ => "whitespace",
                }
            ),
        ),
    }
}

/// A claim a rule or `require` names: a string is one top-level claim, whatever it holds
/// (`"kubernetes.io"` is one name, never split on its dots); an array of strings is a path of
/// keys into nested objects.
fn claim_path(node: Node, what: &str) -> Result<ClaimPath> {
    let line = node.line;
    match node.value {
        Val::Array(items) => {
            let keys = items
                .into_iter()
                .map(|item| string(item, &format!("{what}'s key")).map(|(k, _)| k))
                .collect::<Result<Vec<_>>>()?;
            ClaimPath::nested(keys).map_err(|message| ParseError {
                line,
                message: format!("{what} {message}"),
            })
        }
        Val::Str(name) => string(
            Node {
                line,
                value: Val::Str(name),
            },
            what,
        )
        .map(|(name, _)| ClaimPath::name(name)),
        other => fail(
            line,
            format!(
                "{what} must be a string (a top-level claim) or an array of strings (a path \
                 into nested objects), not {}",
                other.kind()
            ),
        ),
    }
}

/// `require`: claims, each a name or a path.
fn claim_paths(node: Node, what: &str) -> Result<Vec<ClaimPath>> {
    let Val::Array(items) = node.value else {
        return fail(
            node.line,
            format!("{what} must be an array of claims (names, or paths such as [\"a\", \"b\"])"),
        );
    };
    items
        .into_iter()
        .map(|item| claim_path(item, what))
        .collect()
}

/// A duration in whole seconds, as the command line writes them (`90s`, `10m`, `1h30m`).
fn duration(text: &str) -> Option<i64> {
    let d = humantime::parse_duration(text.trim()).ok()?;
    (d.subsec_nanos() == 0 && !d.is_zero())
        .then(|| i64::try_from(d.as_secs()).ok())
        .flatten()
}

fn rule_list(node: Node, path: &str, depth: usize) -> Result<Vec<Rule>> {
    let Val::Array(items) = node.value else {
        return fail(
            node.line,
            format!("{path} must be an array of rules ([[...rule]] tables or {{ ... }} items)"),
        );
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| rule(item, format!("{path}[{i}]"), depth))
        .collect()
}

fn rule(node: Node, path: String, depth: usize) -> Result<Rule> {
    if depth > MAX_DEPTH {
        return fail(
            node.line,
            format!("{path}: rules nest deeper than {MAX_DEPTH}"),
        );
    }
    let mut t = Entries::of(node, path.clone(), RULE)?;
    let line = t.line;
    for group in ["all", "any"] {
        if let Some(node) = t.take(group) {
            if let Some(other) = RULE.iter().find(|k| t.has(k)) {
                return fail(
                    line,
                    format!("{path} has both '{group}' and '{other}'; a rule is one of them"),
                );
            }
            let rules = rule_list(node, &format!("{path}.{group}"), depth + 1)?;
            if rules.is_empty() {
                return fail(line, format!("{path}.{group} is empty"));
            }
            let kind = match group {
                "all" => RuleKind::All(rules),
                _ => RuleKind::Any(rules),
            };
            return Ok(Rule { path, line, kind });
        }
    }
    let Some(claim) = t
        .take("claim")
        .map(|n| claim_path(n, &format!("{path}.claim")))
    else {
        return fail(
            line,
            format!(
                "{path} names no claim; a rule is claim = \"NAME\" with eq, one_of, glob or \
                 regex, or all = [...] or any = [...]"
            ),
        );
    };
    let claim = claim?;
    let given: Vec<&str> = MATCHERS.into_iter().filter(|k| t.has(k)).collect();
    let matcher = match given.as_slice() {
        [one] => *one,
        [] => {
            return fail(
                line,
                format!(
                    "{path} says nothing about {}; add eq, one_of, glob or regex",
                    claim.shown()
                ),
            );
        }
        [a, b, ..] => {
            return fail(line, format!("{path} has both {a} and {b}; a rule has one"));
        }
    };
    let Some(node) = t.take(matcher) else {
        return fail(line, format!("{path} lost its {matcher}"));
    };
    let what = format!("{path}.{matcher}");
    let value_line = node.line;
    let rule = match matcher {
        "eq" => ClaimRule::Equals(claim, json_value(node, &what)?),
        "one_of" => match node.value {
            Val::Array(items) if !items.is_empty() => ClaimRule::OneOf(
                claim,
                items
                    .into_iter()
                    .map(|item| json_value(item, &what))
                    .collect::<Result<_>>()?,
            ),
            _ => {
                return fail(
                    value_line,
                    format!("{what} must be a non-empty array of values"),
                );
            }
        },
        "glob" => ClaimRule::Matches(claim, string(node, &what)?.0),
        _ => {
            let (text, line) = string(node, &what)?;
            let pattern = Pattern::new(&text).map_err(|message| ParseError {
                line,
                message: format!("{what}: {message}"),
            })?;
            ClaimRule::Regex(claim, pattern)
        }
    };
    Ok(Rule {
        path,
        line,
        kind: RuleKind::Claim(rule),
    })
}

/// A value an `eq` or `one_of` compares with: a string, number, boolean, or an array of them.
/// A number is taken only when it is the number written: an integer up to 64 bits (one beyond
/// is an error saying so), a float below 2^53 or with a fraction.
fn json_value(node: Node, what: &str) -> Result<Value> {
    Ok(match node.value {
        Val::Str(s) => Value::String(s),
        Val::Int(i) => Value::from(i),
        Val::Uint(u) => Value::from(u),
        // Beyond 2^53 a float holds only some whole numbers: 9007199254740993.0 is read as
        // ...992, so the rule would pin another number than the one written.
        Val::Float(f)
            if f.is_finite() && f.fract() == 0.0 && f.abs() >= 9_007_199_254_740_992.0 =>
        {
            return fail(
                node.line,
                format!(
                    "{what}: {f:.1} is a whole number beyond 2^53 written as a float, which may \
                     not be the number written (9007199254740993.0 reads as 9007199254740992); \
                     write it as an integer, without the .0"
                ),
            );
        }
        Val::Float(f) if f.is_finite() => Value::from(f),
        Val::Bool(b) => Value::Bool(b),
        Val::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|item| json_value(item, what))
                .collect::<Result<_>>()?,
        ),
        other => {
            return fail(
                node.line,
                format!(
                    "{what} must be a string, number, boolean or array, not {}",
                    other.kind()
                ),
            );
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    const HEAD: &str =
        "[[issuer]]\nurl = \"https://ci.example\"\njwks_file = \"k.json\"\naudiences = [\"api\"]\n";

    #[test]
    fn errors_name_the_line() {
        assert_eq!(
            error(&format!("{HEAD}audience = \"x\"\n")),
            "line 5: unknown key 'audience' in issuer[0]; the keys are url, aliases, preset, \
             oidc, jwks_url, jwks_file, audiences, algorithms, max_age, require, rule"
        );
        assert_eq!(
            error(&format!(
                "{HEAD}[[issuer.rule]]\nclaim = \"ref\"\nregex = \"(main\"\n"
            )),
            "line 7: issuer[0].rule[0].regex: the pattern is not a valid regular expression \
             (RE2 syntax): found open group without closing ')'"
        );
        assert!(
            error("[[issuer]]\nurl = \"https://x\"\naudiences = [\"a\"]\n")
                .starts_with("line 1: issuer[0] has no key source")
        );
        assert!(error("[[issuer]\n").starts_with("line 1: not valid TOML"));
    }

    #[test]
    fn a_json_key_given_twice_is_an_error_not_the_last_one_kept() {
        let json = "{\"issuer\":[{\"url\":\"https://ci.example\",\"jwks_file\":\"k.json\",\n\
            \"audiences\":[\"api\"],\"rule\":[{\"claim\":\"repository_id\",\"eq\":\"1\"}],\n\
            \"rule\":[{\"claim\":\"sub\",\"glob\":\"*\"}]}]}";
        assert_eq!(
            error(json),
            "line 3: the key 'rule' is given twice; keep one"
        );
        let json = r#"{"issuer":[{"url":"https://a","url":"https://b"}]}"#;
        assert_eq!(
            error(json),
            "line 1: the key 'url' is given twice; keep one"
        );
        assert_eq!(
            error(r#"{"issuer":[{"url":null}]}"#),
            "issuer[0].url must be a string, not null"
        );
    }

    #[test]
    fn a_claim_is_a_name_or_a_path_of_keys() {
        let rule = |claim: &str| format!("{HEAD}[[issuer.rule]]\nclaim = {claim}\neq = \"x\"\n");
        let leaf = |text: &str| parse(text).unwrap().issuers[0].rule.leaves()[0].1.clone();
        // A dotted string is one name, never split.
        assert_eq!(
            leaf(&rule("\"kubernetes.io\"")).claim(),
            &ClaimPath::name("kubernetes.io")
        );
        let uid = leaf(&rule("[\"kubernetes.io\", \"serviceaccount\", \"uid\"]"));
        assert_eq!(
            uid.claim().keys(),
            ["kubernetes.io", "serviceaccount", "uid"]
        );
        assert_eq!(leaf(&rule("[\"sub\"]")).claim(), &ClaimPath::name("sub"));
        assert_eq!(
            error(&rule("[]")),
            "line 6: issuer[0].rule[0].claim is an empty path; name at least one key"
        );
        assert_eq!(
            error(&rule("[\"a\", 1]")),
            "line 6: issuer[0].rule[0].claim's key must be a string, not an integer"
        );
        assert_eq!(
            error(&rule("[\"a\", \"\"]")),
            "line 6: issuer[0].rule[0].claim's key is empty"
        );
        assert_eq!(
            error(&rule("{ a = 1 }")),
            "line 6: issuer[0].rule[0].claim must be a string (a top-level claim) or an array \
             of strings (a path into nested objects), not a table"
        );
        let deep = format!("[{}]", vec!["\"k\""; 10_000].join(", "));
        assert_eq!(
            error(&rule(&deep)),
            "line 6: issuer[0].rule[0].claim has 10000 keys, over the 16-key limit"
        );
        // A hostile key is escaped in a message, whole or in a path.
        let hostile = error(&format!(
            "{HEAD}[[issuer.rule]]\nclaim = [\"a\\u001b[2J\", \"b'\\n\"]\n"
        ));
        assert_eq!(
            hostile,
            "line 5: issuer[0].rule[0] says nothing about [\"a\\u{1b}[2J\", \"b\\'\\n\"]; add eq, \
             one_of, glob or regex"
        );
        // require takes both forms.
        let text = HEAD.replace(
            "audiences",
            "require = [\"sub\", [\"kubernetes.io\", \"namespace\"]]\naudiences",
        ) + "[[issuer.rule]]\nclaim = \"sub\"\nglob = \"*\"\n";
        let require = parse(&text).unwrap().issuers[0].require.clone();
        assert_eq!(require[0], ClaimPath::name("sub"));
        assert_eq!(require[1].keys(), ["kubernetes.io", "namespace"]);
    }

    #[test]
    fn an_hmac_algorithm_for_a_remote_key_set_is_an_error_naming_its_line() {
        let rules = "[[issuer.rule]]\nclaim = \"sub\"\nglob = \"*\"\n";
        for source in ["oidc = true", "jwks_url = \"https://ci.example/keys\""] {
            for alg in ["HS256", "HS384", "HS512"] {
                let text = format!(
                    "[[issuer]]\nurl = \"https://ci.example\"\n{source}\naudiences = [\"a\"]\n\
                     algorithms = [\"RS256\", \"{alg}\"]\n{rules}"
                );
                assert!(
                    error(&text).starts_with(&format!(
                        "line 5: issuer[0].algorithms: {alg} is an HMAC algorithm, which a key \
                         set fetched from a URL (oidc, jwks_url) never serves;"
                    )),
                    "{source} {alg}: {}",
                    error(&text)
                );
            }
        }
        // A JWK Set file may hold a shared secret.
        let text = format!("{HEAD}algorithms = [\"HS256\"]\n{rules}");
        assert!(parse(&text).is_ok());
    }

    #[test]
    fn aliases_are_exact_other_names_of_one_issuer() {
        let rules = "[[issuer.rule]]\nclaim = \"sub\"\nglob = \"*\"\n";
        let google = format!(
            "[[issuer]]\nurl = \"https://accounts.google.com\"\npreset = \"google\"\n\
             oidc = true\naudiences = [\"a\"]\n{rules}"
        );
        let policy = parse(&google).unwrap();
        assert_eq!(policy.issuers[0].aliases, ["accounts.google.com"]);
        let iss = |v: &str| {
            serde_json::json!({ "iss": v })
                .as_object()
                .cloned()
                .unwrap_or_default()
        };
        for name in ["https://accounts.google.com", "accounts.google.com"] {
            assert!(policy.issuer_for(&iss(name)).is_some(), "{name}");
        }
        // Exact: no normalising of case, scheme or a trailing slash.
        for name in [
            "https://accounts.google.com/",
            "http://accounts.google.com",
            "Accounts.Google.com",
            "accounts.google.com.",
            "https://accounts.google.com.evil.example",
        ] {
            assert!(policy.issuer_for(&iss(name)).is_none(), "{name}");
        }
        // A self-hosted url gets no implied alias; one given explicitly is kept.
        let own = google.replace("https://accounts.google.com", "https://idp.example");
        assert!(parse(&own).unwrap().issuers[0].aliases.is_empty());
        let listed = own.replace("oidc", "aliases = [\"idp.example\"]\noidc");
        assert_eq!(parse(&listed).unwrap().issuers[0].aliases, ["idp.example"]);
        // An alias is an issuer's name: two issuers may not share one.
        let twice = format!(
            "{listed}[[issuer]]\nurl = \"https://other.example\"\naliases = [\"idp.example\"]\n\
             oidc = true\naudiences = [\"a\"]\n{rules}"
        );
        assert!(
            error(&twice).contains("issuer[1] has the issuer \"idp.example\" as issuer[0];"),
            "{}",
            error(&twice)
        );
    }

    #[test]
    fn many_aliases_and_issuers_parse_in_linear_time() {
        // Each alias once and each issuer's names against the others' by a set: 50,000 of
        // them compared pairwise would take seconds (1.25e9 comparisons); a set, milliseconds.
        let aliases: Vec<String> = (0..50_000).map(|i| format!("\"a{i}.example\"")).collect();
        let issuers: String = (0..5_000)
            .map(|i| {
                format!(
                    "[[issuer]]\nurl = \"https://i{i}.example\"\njwks_file = \"k\"\n\
                     audiences = [\"a\"]\n[[issuer.rule]]\nclaim = \"sub\"\nglob = \"*\"\n"
                )
            })
            .collect();
        let text = format!(
            "{HEAD}aliases = [{}, \"a1.example\"]\n[[issuer.rule]]\nclaim = \"sub\"\n\
             glob = \"*\"\n{issuers}",
            aliases.join(", ")
        );
        let start = std::time::Instant::now();
        let policy = parse(&text).unwrap();
        assert!(
            start.elapsed() < std::time::Duration::from_secs(3),
            "{:?}",
            start.elapsed()
        );
        assert_eq!(policy.issuers[0].aliases.len(), 50_000);
        assert_eq!(policy.issuers.len(), 5_001);
    }

    #[test]
    fn a_number_is_taken_only_as_written() {
        let rule = |value: &str| format!("{HEAD}[[issuer.rule]]\nclaim = \"n\"\neq = {value}\n");
        let eq = |text: &str| match &parse(text).unwrap().issuers[0].rule.leaves()[0].1 {
            ClaimRule::Equals(_, v) => v.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            eq(&rule("9007199254740993")),
            serde_json::json!(9007199254740993_i64)
        );
        assert_eq!(
            eq(&rule("18446744073709551615")),
            serde_json::json!(u64::MAX)
        );
        assert_eq!(eq(&rule("1.5")), serde_json::json!(1.5));
        assert_eq!(
            eq(&rule("9007199254740991.0")),
            serde_json::json!(9007199254740991.0)
        );
        assert!(
            error(&rule("9007199254740993.0")).starts_with(
                "line 7: issuer[0].rule[0].eq: 9007199254740992.0 is a whole number beyond 2^53 \
                 written as a float"
            ),
            "{}",
            error(&rule("9007199254740993.0"))
        );
        assert_eq!(
            error(&rule("18446744073709551616")),
            "line 7: issuer[0].rule[0].eq must be a string, number, boolean or array, not an \
             integer beyond 64 bits"
        );
        assert!(error(&rule("inf")).ends_with("not a number that is not finite (inf, nan)"));
        let json = |n: &str| {
            format!(
                "{{\"issuer\":[{{\"url\":\"https://ci.example\",\"jwks_file\":\"k.json\",\
                 \"audiences\":[\"api\"],\"rule\":[{{\"claim\":\"n\",\"eq\":{n}}}]}}]}}"
            )
        };
        assert_eq!(
            eq(&json("18446744073709551615")),
            serde_json::json!(u64::MAX)
        );
        assert!(error(&json("9007199254740993.0")).contains("beyond 2^53"));
        assert!(error(&json("18446744073709551616")).contains("beyond 2^53"));
    }

    #[test]
    fn json_policies_parse_the_same() {
        let json = r#"{"issuer":[{"url":"https://ci.example","jwks_file":"k.json",
            "audiences":["api"],"rule":[{"claim":"ref","one_of":["a","b"]}]}]}"#;
        let toml = format!("{HEAD}[[issuer.rule]]\nclaim = \"ref\"\none_of = [\"a\", \"b\"]\n");
        let (a, b) = (parse(json).unwrap(), parse(&toml).unwrap());
        assert_eq!(
            a.issuers[0].rule.leaves()[0].1,
            b.issuers[0].rule.leaves()[0].1
        );
    }
}
