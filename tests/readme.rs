//! The README's examples run as written: every ```sh block, in order, with the jwtctl cargo built
//! on PATH, in one temp dir holding the files the examples assume. A block the test cannot run
//! says so in the README (`<!-- not run: REASON -->` or `<!-- needs: TOOL -->` on the line before
//! its fence). Relative links in the README and docs/ must lead somewhere, and every option of
//! every command must be in the README. See docs/development.md, "The README's examples".
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use clap::CommandFactory;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use tempfile::TempDir;

use crate::common::{SECRET, fixture_text, stderr, stdout};

/// The fewest blocks the test must run: the README's runnable examples, less the ones that need
/// `jq`. A README edit that drops examples (or a parser that finds none) fails here.
const MIN_RUN: usize = 9;

/// 2026-11-26T09:00:00Z, when `$ID_TOKEN` was issued; it expired an hour later.
const ID_TOKEN_IAT: i64 = 1_795_683_600;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn readme() -> String {
    std::fs::read_to_string(repo().join("README.md")).unwrap()
}

/// What the line before a block's fence says about running it.
#[derive(Debug, PartialEq)]
enum Marker {
    /// `<!-- not run: REASON -->`: never run, for REASON.
    NotRun(String),
    /// `<!-- needs: TOOL -->`: run when TOOL is on PATH.
    Needs(String),
}

#[derive(Debug)]
struct Block {
    /// 1-based line of the opening fence in README.md.
    line: usize,
    marker: Option<Marker>,
    text: String,
}

/// A marker comment, `None` for any other line; an HTML comment that starts like a marker but is
/// not one (a typo, a missing reason) is an error rather than a block run by mistake.
fn marker(line: &str, at: usize) -> Option<Marker> {
    let inner = line
        .trim()
        .strip_prefix("<!--")?
        .strip_suffix("-->")?
        .trim();
    let (kind, value) = inner.split_once(':').unwrap_or((inner, ""));
    let value = value.trim().to_owned();
    let marker = match kind.trim() {
        "not run" => Marker::NotRun(value),
        "needs" => Marker::Needs(value),
        _ => {
            assert!(
                !inner.contains("run") && !inner.contains("needs"),
                "README.md:{at}: unknown marker {line:?}; write <!-- not run: REASON --> or \
                 <!-- needs: TOOL -->"
            );
            return None;
        }
    };
    assert!(
        !matches!(&marker, Marker::NotRun(v) | Marker::Needs(v) if v.is_empty()),
        "README.md:{at}: {line:?} must say why (not run: REASON) or what (needs: TOOL)"
    );
    Some(marker)
}

/// Every ```sh block, with the marker on the line before it. Other fences (```json, plain ```)
/// are passed over whole; a marker must be followed by a ```sh fence.
fn sh_blocks(readme: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut pending: Option<(usize, Marker)> = None;
    let mut lines = readme.lines().enumerate().map(|(i, l)| (i + 1, l));
    while let Some((at, line)) = lines.next() {
        if let Some(info) = line.strip_prefix("```") {
            let mut text = String::new();
            for (_, inner) in lines.by_ref() {
                if inner.starts_with("```") {
                    break;
                }
                text.push_str(inner);
                text.push('\n');
            }
            let marker = pending.take().map(|(_, m)| m);
            if info.trim() == "sh" {
                blocks.push(Block {
                    line: at,
                    marker,
                    text,
                });
            } else {
                assert!(
                    marker.is_none(),
                    "README.md:{at}: a marker before a non-sh block"
                );
            }
        } else if let Some(m) = marker(line, at) {
            assert!(pending.is_none(), "README.md:{at}: two markers in a row");
            pending = Some((at, m));
        } else if !line.trim().is_empty()
            && let Some((marked, _)) = pending
        {
            panic!("README.md:{marked}: the marker is not followed by a ```sh block");
        }
    }
    assert!(pending.is_none(), "README.md ends with a marker");
    blocks
}

/// Whether `tool` is an executable file in a directory of `path`.
fn on_path(tool: &str, path: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::env::split_paths(path).any(|dir| {
        std::fs::metadata(dir.join(tool))
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

/// One temp dir the README's blocks run in, one after another, with what they assume made.
struct Sandbox {
    dir: TempDir,
    path: String,
    token: String,
    id_token: String,
}

impl Sandbox {
    fn new() -> Sandbox {
        let jwtctl = assert_cmd::cargo::cargo_bin("jwtctl");
        let bin_dir = jwtctl.parent().unwrap().to_owned();
        let inherited = std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into());
        let mut sandbox = Sandbox {
            dir: tempfile::tempdir().unwrap(),
            path: format!("{}:{inherited}", bin_dir.display()),
            token: String::new(),
            id_token: String::new(),
        };
        std::fs::create_dir(sandbox.file("home")).unwrap();
        sandbox.write("jwtctl.key", &format!("{SECRET}\n"));
        sandbox.write("idp.pem", &fixture_text("keys/ed25519.pem"));
        sandbox.write("idp.pub", &fixture_text("keys/ed25519_pub.pem"));
        // As the README's first example issues it.
        sandbox.token = sandbox.jwtctl(&[
            "issue",
            "--sub",
            "alice",
            "--iss",
            "https://auth.example",
            "--aud",
            "api",
            "--ttl",
            "12h",
            "--claim",
            "role=admin",
            "--claim",
            r#"scopes=["read","write"]"#,
            "--kid",
            "2026-11",
        ]);
        let jwks = sandbox.jwtctl(&["key", "public", "--key-file", "idp.pem", "--format", "jwks"]);
        sandbox.write("idp-jwks.json", &format!("{jwks}\n"));
        let idp_token = [
            "issue",
            "--key-file",
            "idp.pem",
            "--iss",
            "https://idp.example",
            "--aud",
            "api",
            "--claim",
            "scope=read",
            "--ttl",
            "1h",
        ];
        let tokens: Vec<String> = (0..3).map(|_| sandbox.jwtctl(&idp_token)).collect();
        sandbox.write("tokens.txt", &(tokens.join("\n") + "\n"));
        // A token from the past, for `verify --at`: jwtctl can only issue tokens as of now.
        let key = EncodingKey::from_ed_pem(fixture_text("keys/ed25519.pem").as_bytes()).unwrap();
        let claims = json!({
            "iss": "https://idp.example",
            "aud": "api",
            "sub": "repo:acme/deploy:ref:refs/heads/main",
            "iat": ID_TOKEN_IAT,
            "exp": ID_TOKEN_IAT + 3600,
            "jti": "incident-4711",
        });
        sandbox.id_token =
            jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &claims, &key).unwrap();
        sandbox
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A file in the sandbox, mode 0600 as a careful user keeps key files.
    fn write(&self, name: &str, contents: &str) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(self.file(name), contents).unwrap();
        let private = std::fs::Permissions::from_mode(0o600);
        std::fs::set_permissions(self.file(name), private).unwrap();
    }

    /// `program` in the sandbox with a clean environment: the built jwtctl first on PATH, HOME
    /// inside the sandbox, none of the developer's JWTCTL_* or PG* settings, and proxies that
    /// lead nowhere, so no block can reach the network.
    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.current_dir(self.dir.path())
            .env_clear()
            .env("PATH", &self.path)
            .env("HOME", self.file("home"))
            .env("LC_ALL", "C");
        for proxy in [
            "HTTPS_PROXY",
            "HTTP_PROXY",
            "ALL_PROXY",
            "https_proxy",
            "http_proxy",
        ] {
            cmd.env(proxy, "http://127.0.0.1:9");
        }
        cmd
    }

    /// `jwtctl ARGS`'s stdout, less its newline, after asserting it succeeded.
    fn jwtctl(&self, args: &[&str]) -> String {
        let out = self.command("jwtctl").args(args).output().unwrap();
        assert!(out.status.success(), "jwtctl {args:?}: {}", stderr(&out));
        stdout(&out).trim_end().to_owned()
    }

    /// Run one block with `bash -euo pipefail`, `$TOKEN` and `$ID_TOKEN` set.
    fn run(&self, block: &Block) -> Output {
        self.command("bash")
            .args(["-euo", "pipefail", "-c", &block.text])
            .env("TOKEN", &self.token)
            .env("ID_TOKEN", &self.id_token)
            .output()
            .unwrap()
    }
}

#[test]
fn every_readme_example_runs() {
    let blocks = sh_blocks(&readme());
    let sandbox = Sandbox::new();
    let (mut ran, mut skipped) = (0, Vec::new());
    for block in &blocks {
        for hidden in ["|| true", "|| :"] {
            assert!(
                !block.text.contains(hidden),
                "README.md:{}: `{hidden}` would hide a failing example",
                block.line
            );
        }
        match &block.marker {
            Some(Marker::NotRun(reason)) => {
                skipped.push(format!("README.md:{} (not run: {reason})", block.line));
                continue;
            }
            Some(Marker::Needs(tool)) if !on_path(tool, &sandbox.path) => {
                skipped.push(format!(
                    "README.md:{} (needs {tool}, not installed)",
                    block.line
                ));
                continue;
            }
            _ => {}
        }
        let out = sandbox.run(block);
        assert!(
            out.status.success(),
            "the example at README.md:{} failed with {}:\n{}\n--- stdout:\n{}\n--- stderr:\n{}",
            block.line,
            out.status,
            block.text,
            stdout(&out),
            stderr(&out)
        );
        ran += 1;
    }
    eprintln!("ran {ran} of {} README examples; skipped:", blocks.len());
    for s in &skipped {
        eprintln!("  {s}");
    }
    assert!(
        ran >= MIN_RUN,
        "ran only {ran} README examples, expected at least {MIN_RUN}"
    );
}

#[test]
fn markers_are_read_as_written() {
    let text = "intro\n\n<!-- not run: needs a server -->\n```sh\nexit 1\n```\n\n```json\n{}\n```\n\
                <!-- needs: jq -->\n```sh\njq .\n```\n```sh\ntrue\n```\n";
    let blocks = sh_blocks(text);
    assert_eq!(blocks.len(), 3, "{blocks:?}");
    assert_eq!(
        blocks[0].marker,
        Some(Marker::NotRun("needs a server".into()))
    );
    assert_eq!((blocks[0].line, blocks[0].text.as_str()), (4, "exit 1\n"));
    assert_eq!(blocks[1].marker, Some(Marker::Needs("jq".into())));
    assert_eq!(blocks[2].marker, None);
}

#[test]
#[should_panic(expected = "must say why")]
fn a_not_run_marker_needs_a_reason() {
    sh_blocks("<!-- not run: -->\n```sh\nexit 1\n```\n");
}

#[test]
#[should_panic(expected = "not followed by a ```sh block")]
fn a_marker_must_be_followed_by_its_block() {
    sh_blocks("<!-- not run: later -->\nsome text\n```sh\nexit 1\n```\n");
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
    let mut files = vec![repo().join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(repo().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    assert!(docs.len() >= 4, "{docs:?}");
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
    assert!(checked > 30, "only {checked} links checked");
}

/// Whether `word` occurs in `text` as a whole word (`--out` is not in `--output`).
fn mentions(text: &str, word: &str) -> bool {
    let part = |c: char| c.is_alphanumeric() || c == '-' || c == '_';
    text.match_indices(word).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        !before.is_some_and(part) && !after.is_some_and(part)
    })
}

#[test]
fn every_command_and_option_is_in_the_readme() {
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
    let text = readme();
    let missing: Vec<String> = wanted
        .iter()
        .filter(|(_, word)| !mentions(&text, word))
        .map(|(cmd, word)| format!("{cmd} {word}"))
        .collect();
    assert!(missing.is_empty(), "not in README.md: {missing:?}");
}

/// The record `op` names the README lists are exactly those jwtctl writes: every operation
/// (`cli::OPERATIONS`, kept in step with the subcommands by a unit test) and the log's own
/// records (`log_seal`, `log_torn_line`).
#[test]
fn the_readme_lists_exactly_the_ops_records_name() {
    let text = readme();
    let row = text
        .lines()
        .find(|l| l.starts_with("| `op` | always |"))
        .expect("the op row of the record table");
    let listed: std::collections::BTreeSet<&str> = row
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|w| w.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .filter(|w| *w != "op")
        .collect();
    let mut written: std::collections::BTreeSet<&str> =
        jwtctl::cli::OPERATIONS.iter().copied().collect();
    written.extend(["log_seal", "log_torn_line"]);
    assert_eq!(listed, written);
}
