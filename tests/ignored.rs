//! The rule for tests that need what a machine may lack (`common::needs`), checked on the test
//! sources so that no test can skip silently again: such a test is `#[ignore = REASON]` with its
//! group's reason word for word (so `cargo test` lists it as ignored, saying how to enable it),
//! it calls its group's function (so under `--include-ignored` it says why it skips, or fails
//! where the group is required), and nothing else in the tests skips.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use std::path::Path;

use crate::common::needs::GROUPS;

/// A test source: its text, and the same text with comments and the insides of string and char
/// literals blanked (same byte offsets), so that code is searched, never what code quotes.
struct Source {
    name: String,
    text: String,
    code: String,
}

/// One `#[test]` function: its name, its attributes' span and its body's span (byte offsets).
struct TestFn {
    name: String,
    attrs: std::ops::Range<usize>,
    body: std::ops::Range<usize>,
}

fn sources() -> Vec<Source> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut paths = Vec::new();
    for dir in [root.clone(), root.join("common")] {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "rs") {
                paths.push(path);
            }
        }
    }
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            Source {
                name: path.strip_prefix(&root).unwrap().display().to_string(),
                code: blank(&text),
                text,
            }
        })
        .collect()
}

/// `text` with comments and the contents of literals replaced by spaces. Rust's lexical rules
/// as far as our tests use them: line and (nested) block comments, strings with escapes, raw
/// strings (`r#"…"#`, `br"…"`), char literals (`'x'`, `'\n'`), and lifetimes (`'a`, left as code).
fn blank(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = b.to_vec();
    let mut wipe = |from: usize, to: usize| {
        for byte in &mut out[from..to] {
            if *byte != b'\n' {
                *byte = b' ';
            }
        }
    };
    let ident = |i: usize| i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                let end = text[i..].find('\n').map_or(b.len(), |n| i + n);
                wipe(i, end);
                i = end;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let (mut depth, mut j) = (1, i + 2);
                while depth > 0 && j < b.len() {
                    if b[j..].starts_with(b"/*") {
                        depth += 1;
                        j += 2;
                    } else if b[j..].starts_with(b"*/") {
                        depth -= 1;
                        j += 2;
                    } else {
                        j += 1;
                    }
                }
                wipe(i, j);
                i = j;
            }
            b'r' if !ident(i) || (i > 0 && b[i - 1] == b'b' && !ident(i - 1)) => {
                let hashes = b[i + 1..].iter().take_while(|&&c| c == b'#').count();
                if b.get(i + 1 + hashes) != Some(&b'"') {
                    i += 1;
                    continue;
                }
                let open = i + 1 + hashes + 1;
                let close = format!("\"{}", "#".repeat(hashes));
                let end = open + text[open..].find(&close).unwrap();
                wipe(open, end);
                i = end + close.len();
            }
            b'"' => {
                let mut j = i + 1;
                while b[j] != b'"' {
                    j += if b[j] == b'\\' { 2 } else { 1 };
                }
                wipe(i + 1, j);
                i = j + 1;
            }
            b'\'' => {
                let next = text[i + 1..].chars().next().unwrap();
                let end = if next == '\\' {
                    i + 2 + text[i + 2..].find('\'').unwrap().max(1)
                } else if b.get(i + 1 + next.len_utf8()) == Some(&b'\'') {
                    i + 1 + next.len_utf8()
                } else {
                    i += 1; // a lifetime or a label
                    continue;
                };
                wipe(i + 1, end);
                i = end + 1;
            }
            _ => i += 1,
        }
    }
    String::from_utf8(out).unwrap()
}

/// Every `#[test]` function in `code` (also those a `macro_rules!` body makes).
fn test_fns(code: &str) -> Vec<TestFn> {
    let mut found = Vec::new();
    for (at, _) in code.match_indices("#[test]") {
        let start = code[..at].rfind(['}', ';', '{']).map_or(0, |p| p + 1);
        let fn_at = at + code[at..].find("fn ").unwrap();
        let name: String = code[fn_at + 3..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let open = fn_at + code[fn_at..].find('{').unwrap();
        let mut depth = 0;
        let mut close = open;
        for (i, c) in code[open..].char_indices() {
            depth += match c {
                '{' => 1,
                '}' => -1,
                _ => 0,
            };
            if depth == 0 {
                close = open + i;
                break;
            }
        }
        found.push(TestFn {
            name,
            attrs: start..fn_at,
            body: open..close,
        });
    }
    found
}

/// The reason of the `#[ignore]` among `attrs`: None when not ignored, Some("") for a bare
/// `#[ignore]`; the literal's escapes (`\"`, `\\`) undone.
fn ignore_reason(src: &Source, attrs: &std::ops::Range<usize>) -> Option<String> {
    let at = attrs.start + src.code[attrs.clone()].find("#[ignore")?;
    let rest = &src.code[at + "#[ignore".len()..attrs.end];
    let Some(quote) = rest.find('"').filter(|&q| rest[..q].trim() == "=") else {
        return Some(String::new());
    };
    let open = at + "#[ignore".len() + quote + 1;
    let close = open + src.code[open..].find('"').unwrap();
    Some(
        src.text[open..close]
            .replace("\\\"", "\"")
            .replace("\\\\", "\\"),
    )
}

/// The groups whose function (`needs::NAME(`) the code in `span` calls.
fn groups_called(code: &str) -> Vec<usize> {
    (0..GROUPS.len())
        .filter(|&g| code.contains(&format!("needs::{}(", GROUPS[g].0)))
        .collect()
}

#[test]
fn every_test_that_needs_what_a_machine_may_lack_is_ignored_with_its_groups_reason() {
    let mut problems = Vec::new();
    let (mut tests, mut ignored) = (0, vec![0; GROUPS.len()]);
    for src in sources() {
        let fns = test_fns(&src.code);
        tests += fns.len();
        for f in &fns {
            let called = groups_called(&src.code[f.body.clone()]);
            let reason = ignore_reason(&src, &f.attrs);
            let place = format!("{}: fn {}", src.name, f.name);
            match (&reason, called.is_empty()) {
                (None, true) => {}
                (None, false) => problems.push(format!(
                    "{place} calls needs::{}() but is not #[ignore = \"{}\"]",
                    GROUPS[called[0]].0, GROUPS[called[0]].1
                )),
                (Some(r), _) => match called.iter().find(|&&g| GROUPS[g].1 == r) {
                    Some(&g) => ignored[g] += 1,
                    None => problems.push(format!(
                        "{place} is #[ignore{}]: an ignored test says what it needs with a \
                         reason from tests/common/needs.rs, word for word, and calls that \
                         group's function first",
                        if r.is_empty() {
                            String::new()
                        } else {
                            format!(" = {r:?}")
                        }
                    )),
                },
            }
        }
        if src.name == "common/needs.rs" {
            continue;
        }
        // A group's function is called only by a test (so that test is the one ignored)...
        for g in GROUPS {
            let call = format!("needs::{}(", g.0);
            for (at, _) in src.code.match_indices(&call) {
                if !fns.iter().any(|f| f.body.contains(&at)) {
                    problems.push(format!("{}: {call}) outside a #[test] function", src.name));
                }
            }
        }
        // ...and nothing else skips: no "skipped" line, no *_REQUIRED variable of its own.
        if src.name != "ignored.rs" {
            for word in ["eprintln!(\"skip", "_REQUIRED\""] {
                if src.text.contains(word) {
                    problems.push(format!(
                        "{}: `{word}`: a test that may not run uses tests/common/needs.rs",
                        src.name
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The scan sees the tests (a parse that found nothing would pass anything).
    assert!(tests > 300, "found only {tests} #[test] functions");
    for (g, n) in ignored.iter().enumerate() {
        assert!(*n > 0, "no test ignored for {}", GROUPS[g].0);
    }
}

/// The scanner itself, on code made to fool it: literals and comments that look like code.
#[test]
fn the_scanner_reads_code_not_what_code_quotes() {
    let text = r####"
// #[test] fn commented() { needs::root() }
const A: &str = "#[test] fn quoted() { needs::root() } \" }";
const B: &str = r#"#[test] fn raw() { "needs::root()" }"#;
const C: char = '}';
const D: char = '\'';
fn lifetime<'a>(x: &'a str) -> &'a str { x }
#[test]
#[ignore = "needs strace; to run it: apt-get install strace, cargo test -- --include-ignored"]
fn real() {
    let brace = '{';
    /* } nested /* } */ } */
    if !needs::strace() { return; }
}
#[test]
fn plain() { let s = "{"; }
"####;
    let src = Source {
        name: "x.rs".into(),
        code: blank(text),
        text: text.into(),
    };
    let fns = test_fns(&src.code);
    let names: Vec<&str> = fns.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["real", "plain"]);
    assert_eq!(
        ignore_reason(&src, &fns[0].attrs).as_deref(),
        Some("needs strace; to run it: apt-get install strace, cargo test -- --include-ignored")
    );
    assert_eq!(groups_called(&src.code[fns[0].body.clone()]), [4]);
    assert!(src.code[fns[0].body.clone()].ends_with("return; }\n"));
    assert_eq!(ignore_reason(&src, &fns[1].attrs), None);
    assert_eq!(
        groups_called(&src.code[..fns[0].attrs.start]),
        [] as [usize; 0]
    );
}
