//! The docs the README links to: relative links lead somewhere, and docs/reference.md names every
//! command and option clap defines and exactly the record ops jwtctl writes. These keep the
//! reference from drifting from the code (docs/development.md, "The README's examples").
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use clap::CommandFactory;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo().join(rel)).unwrap()
}

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of a Markdown file's headings (outside code fences).
fn anchors(text: &str) -> Vec<String> {
    let mut in_fence = false;
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with("```") {
            in_fence = !in_fence;
        } else if !in_fence && line.starts_with('#') {
            out.push(anchor(line.trim_start_matches('#')));
        }
    }
    out
}

/// The targets of inline links `[text](target)` in a Markdown text.
fn links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("](") {
        rest = &rest[i + 2..];
        if let Some(end) = rest.find(')') {
            out.push(rest[..end].to_owned());
            rest = &rest[end..];
        }
    }
    out
}

#[test]
fn relative_links_in_the_readme_and_docs_lead_somewhere() {
    let mut files = vec![repo().join("README.md"), repo().join("SECURITY.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(repo().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    assert!(docs.len() >= 8, "{docs:?}");
    files.extend(docs);
    let mut checked = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for link in links(&text) {
            if link.contains("://") || link.starts_with("mailto:") {
                continue;
            }
            let (path, fragment) = link.split_once('#').unwrap_or((&link, ""));
            let target = if path.is_empty() {
                file.clone()
            } else {
                file.parent().unwrap().join(path)
            };
            assert!(target.exists(), "{}: {link} does not exist", file.display());
            if !fragment.is_empty() {
                let target_text = std::fs::read_to_string(&target).unwrap();
                assert!(
                    anchors(&target_text).iter().any(|a| a == fragment),
                    "{}: no heading for #{fragment} in {}",
                    file.display(),
                    target.display()
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 50, "only {checked} links checked");
}

/// Whether `word` occurs in `text` as a whole word (`--out` is not in `--output`).
pub fn mentions(text: &str, word: &str) -> bool {
    let part = |c: char| c.is_alphanumeric() || c == '-' || c == '_';
    text.match_indices(word).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        !before.is_some_and(part) && !after.is_some_and(part)
    })
}

/// The reference page: every option, variable, exit code and record field.
const REFERENCE: &str = "docs/reference.md";

#[test]
fn every_command_and_option_is_in_the_reference() {
    fn walk(cmd: &clap::Command, name: &str, out: &mut Vec<(String, String)>) {
        for arg in cmd.get_arguments() {
            if let Some(long) = arg.get_long().filter(|l| !matches!(*l, "help" | "version")) {
                out.push((name.to_owned(), format!("--{long}")));
            }
        }
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            out.push((name.to_owned(), sub.get_name().to_owned()));
            walk(sub, &format!("{name} {}", sub.get_name()), out);
        }
    }
    let mut cmd = jwtctl::cli::Cli::command();
    cmd.build();
    let mut wanted = Vec::new();
    walk(&cmd, "jwtctl", &mut wanted);
    assert!(wanted.len() > 50, "{wanted:?}");
    let text = read(REFERENCE);
    let missing: Vec<String> = wanted
        .iter()
        .filter(|(_, word)| !mentions(&text, word))
        .map(|(cmd, word)| format!("{cmd} {word}"))
        .collect();
    assert!(missing.is_empty(), "not in {REFERENCE}: {missing:?}");
}

/// The record `op` names the reference lists are exactly those jwtctl writes: every operation
/// (`cli::OPERATIONS`, kept in step with the subcommands by a unit test) and the log's own
/// records (`log_seal`, `log_torn_line`).
#[test]
fn the_reference_lists_exactly_the_ops_records_name() {
    let text = read(REFERENCE);
    let row = text
        .lines()
        .find(|l| l.starts_with("| `op` | always |"))
        .expect("the op row of the record table");
    let listed: BTreeSet<&str> = row
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|w| w.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .filter(|w| *w != "op")
        .collect();
    let mut written: BTreeSet<&str> = jwtctl::cli::OPERATIONS.iter().copied().collect();
    written.extend(["log_seal", "log_torn_line"]);
    assert_eq!(listed, written);
}
