//! The README runs as written: its ```sh blocks, in order, as ONE bash script (variables carry
//! over from block to block), with the jwtctl cargo built on PATH, in an empty temp dir, as a new
//! user following it from the top would. A block the test cannot run says so in the README
//! (`<!-- not run: REASON -->` or `<!-- needs: TOOL -->` on the line before its fence), and no
//! later block may depend on what such a block sets. See docs/development.md, "The README's
//! examples"; the links and the reference are checked in `reference.rs`.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tempfile::TempDir;

use crate::common::{stderr, stdout};
use crate::reference::mentions;

/// The fewest blocks the README must run everywhere: its examples without a marker (the ones
/// that need `jq` come on top). A README edit that drops examples (or a parser that finds none)
/// fails here.
const MIN_ALWAYS_RUN: usize = 11;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo().join(rel)).unwrap()
}

/// What the line before a block's fence says about running it.
#[derive(Debug, Clone, PartialEq)]
enum Marker {
    /// `<!-- not run: REASON -->`: never run, for REASON.
    NotRun(String),
    /// `<!-- needs: TOOL -->`: run when TOOL is on PATH.
    Needs(String),
}

#[derive(Debug)]
struct Block {
    /// 1-based line of the opening fence in README.md (the block's first line is the next one).
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

// --- What a block leaves for later blocks, and what it uses ---------------------------------

/// A line's shell code: its comment cut off and its single-quoted text (where `$` is literal:
/// jq programs, heredoc delimiters) dropped. Quotes are followed within the line only.
fn code_of(line: &str) -> String {
    let (mut single, mut double) = (false, false);
    line[..comment_start(line)]
        .chars()
        .filter(|&c| match c {
            '\'' if !double => {
                single = !single;
                false
            }
            '"' if !single => {
                double = !double;
                true
            }
            _ => !single,
        })
        .collect()
}

/// Where a line's comment starts (its code ends): a `#` that begins a word outside quotes.
fn comment_start(line: &str) -> usize {
    let (mut single, mut double, mut word_start) = (false, false, true);
    for (i, c) in line.char_indices() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '#' if !single && !double && word_start => return i,
            _ => {}
        }
        word_start = c.is_whitespace() || matches!(c, ';' | '(' | '|' | '&');
    }
    line.len()
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The shell variables a block assigns (`NAME=…` at the start of a statement, after `export`,
/// `for NAME in`), and the files it writes (`> FILE`, `>> FILE`, `--out FILE`, `-out FILE`,
/// `--verify-key-out FILE`, `--add-to FILE`).
fn leaves(text: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let (mut vars, mut files) = (BTreeSet::new(), BTreeSet::new());
    for line in text.lines() {
        let code = code_of(line);
        let spaced = ["&&", "||", ";", "|", "(", ")", "{", "}"]
            .iter()
            .fold(code.clone(), |s, sep| s.replace(sep, "\n"));
        for statement in spaced.lines() {
            let mut words = statement.split_whitespace().peekable();
            while words.peek().is_some_and(|w| {
                matches!(*w, "!" | "do" | "then" | "else" | "if" | "while" | "export")
            }) {
                words.next();
            }
            if words.peek() == Some(&"for") {
                words.next();
                vars.extend(words.next().filter(|w| is_name(w)).map(str::to_owned));
                continue;
            }
            for word in words {
                match word.split_once('=') {
                    Some((name, _)) if is_name(name) => vars.insert(name.to_owned()),
                    _ => break,
                };
            }
        }
        let words: Vec<&str> = code.split_whitespace().collect();
        for (i, word) in words.iter().enumerate() {
            let target = match *word {
                ">" | ">>" | "--out" | "-out" | "--verify-key-out" | "--add-to" => {
                    words.get(i + 1).copied()
                }
                w => w.strip_prefix(">>").or_else(|| w.strip_prefix('>')),
            };
            if let Some(t) = target.map(|t| t.trim_matches('"'))
                && !t.is_empty()
                && !t.starts_with('&')
                && !t.starts_with("/dev/")
            {
                files.insert(t.to_owned());
            }
        }
    }
    (vars, files)
}

/// The variables a block reads (`$NAME`, `${NAME…}` outside single quotes and comments).
fn reads(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let code = code_of(line);
        for (i, _) in code.match_indices('$') {
            let rest = code[i + 1..].strip_prefix('{').unwrap_or(&code[i + 1..]);
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if is_name(&name) {
                out.insert(name);
            }
        }
    }
    out
}

/// Where a name a block depends on was set: by a block that always runs, or only by blocks
/// that may be skipped (this one's line and marker).
#[derive(Clone)]
enum SetBy {
    Always,
    MaySkip(usize, Marker),
}

/// The places where a block that runs depends on a variable or file as a block that may be
/// skipped (`not run`, or `needs` a tool that may be missing) makes or changes it: on a machine
/// without the tool, it would fail for a reason that has nothing to do with it, or pass by luck
/// (a `needs` block that reassigns `$TOKEN` changes what every later block verifies). Judged
/// the same whatever is installed. A `needs: TOOL` block may use what another `needs: TOOL` block
/// set: they run together.
fn hidden_dependencies(blocks: &[Block]) -> Vec<String> {
    let mut set_by: BTreeMap<String, SetBy> = BTreeMap::new();
    let mut problems = Vec::new();
    for block in blocks {
        let (vars, files) = leaves(&block.text);
        if !matches!(block.marker, Some(Marker::NotRun(_))) {
            let code: String = block
                .text
                .lines()
                .map(code_of)
                .collect::<Vec<_>>()
                .join("\n");
            let used_files = set_by
                .keys()
                .filter(|name| !is_name(name) || name.contains('.'))
                .filter(|name| mentions(&code, name))
                .cloned();
            for name in reads(&block.text).into_iter().chain(used_files) {
                if vars.contains(&name) {
                    continue;
                }
                if let Some(SetBy::MaySkip(line, why)) = set_by.get(&name)
                    && !matches!((why, &block.marker), (Marker::Needs(a), Some(Marker::Needs(b))) if a == b)
                {
                    let why = match why {
                        Marker::NotRun(reason) => format!("not run: {reason}"),
                        Marker::Needs(tool) => format!("needs {tool}"),
                    };
                    problems.push(format!(
                        "README.md:{}: the block uses `{name}` as the block at README.md:{line} \
                         leaves it, and that block may be skipped ({why}); make it in a block \
                         that always runs, or give the other block's result its own name",
                        block.line
                    ));
                }
            }
        }
        let origin = match &block.marker {
            None => SetBy::Always,
            Some(m) => SetBy::MaySkip(block.line, m.clone()),
        };
        // The last block that ran sets a name; a `not run` block never runs, so it changes
        // nothing set before it.
        let never_runs = matches!(block.marker, Some(Marker::NotRun(_)));
        for name in vars.into_iter().chain(files) {
            let keep = never_runs && matches!(set_by.get(&name), Some(SetBy::Always));
            if !keep {
                set_by.insert(name, origin.clone());
            }
        }
    }
    problems
}

// --- One script ------------------------------------------------------------------------------

/// The script: a preamble, then each block that runs, with `set -euo pipefail` at its start,
/// the README line it began at recorded, and its completion written to fd 3. bash's `set -e`
/// stops neither for a `!` line nor for a block whose last command is an `&&` list; the script
/// checks both: a line `! CMD` must exit 1 (a rejection, not an error), and a block must end
/// with status 0. `lines` receives, for each script line, the README line it came from.
fn script(blocks: &[&Block], progress: &Path, lines: &mut Vec<usize>) -> String {
    let mut s = String::new();
    let mut push = |s: &mut String, text: &str, from: usize| {
        for line in text.lines() {
            s.push_str(line);
            s.push('\n');
            lines.push(from);
        }
    };
    let preamble = format!(
        "exec 3>'{}'\n\
         trap 'echo \"failed $LINENO\" >&3' ERR\n\
         __readme_rejected() {{ if [ \"$2\" -ne 1 ]; then echo \"README.md:$1: this line starts \
         with '!', so it must be rejected (exit 1); it exited $2\" >&2; echo \"failed-at $1\" >&3; \
         exit 1; fi; }}\n",
        progress.display()
    );
    push(&mut s, &preamble, 0);
    for block in blocks {
        push(&mut s, "set -euo pipefail", block.line);
        for (i, line) in block.text.lines().enumerate() {
            let at = block.line + 1 + i;
            match line.strip_prefix("! ") {
                Some(rest) => {
                    assert!(
                        !line.trim_end().ends_with('\\'),
                        "README.md:{at}: a `!` line must be one line"
                    );
                    let cut = comment_start(rest);
                    let st = "__readme_st";
                    push(
                        &mut s,
                        &format!(
                            "{st}=0; {} || {st}=$?; __readme_rejected {at} \"${st}\"",
                            rest[..cut].trim_end()
                        ),
                        at,
                    );
                }
                None => push(&mut s, line, at),
            }
        }
        let end = block.line + block.text.lines().count();
        let check = format!(
            "__readme_st=$?; if [ \"$__readme_st\" -ne 0 ]; then echo \"failed-at {end}\" >&3; \
             exit \"$__readme_st\"; fi\necho \"done {}\" >&3",
            block.line
        );
        push(&mut s, &check, end);
    }
    s
}

/// One temp dir the README's blocks run in: `work` (empty, the current directory), with `home`
/// and the script beside it, out of the examples' sight.
struct Sandbox {
    root: TempDir,
    path: String,
}

impl Sandbox {
    fn new() -> Sandbox {
        let jwtctl = assert_cmd::cargo::cargo_bin("jwtctl");
        let bin_dir = jwtctl.parent().unwrap().to_owned();
        let inherited = std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into());
        let sandbox = Sandbox {
            root: tempfile::tempdir().unwrap(),
            path: format!("{}:{inherited}", bin_dir.display()),
        };
        std::fs::create_dir(sandbox.file("work")).unwrap();
        std::fs::create_dir(sandbox.file("home")).unwrap();
        sandbox
    }

    fn file(&self, name: &str) -> PathBuf {
        self.root.path().join(name)
    }

    /// Whether a block runs here, or why not.
    /// With `required` (JWTCTL_README_REQUIRED=1, as `.ci/run` sets), a `needs` block whose tool
    /// is missing fails the test instead of being left out.
    fn skips(&self, block: &Block, required: bool) -> Option<String> {
        match &block.marker {
            Some(Marker::NotRun(reason)) => Some(format!("not run: {reason}")),
            Some(Marker::Needs(tool)) if !on_path(tool, &self.path) => {
                assert!(
                    !required,
                    "README.md:{}: the block needs {tool}, which is not installed, and \
                     JWTCTL_README_REQUIRED=1 (see .ci/run)",
                    block.line
                );
                Some(format!("needs {tool}, not installed"))
            }
            _ => None,
        }
    }

    /// bash on `script` in `work` with a clean environment: the built jwtctl first on PATH, HOME
    /// beside `work`, none of the developer's JWTCTL_* or PG* settings, and proxies that lead
    /// nowhere, so no block can reach the network.
    fn bash(&self, script: &str) -> Output {
        std::fs::write(self.file("readme.sh"), script).unwrap();
        let mut cmd = Command::new("bash");
        cmd.arg(self.file("readme.sh"))
            .current_dir(self.file("work"))
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
        cmd.output().unwrap()
    }

    /// Run `blocks` as one script: Ok(how many ran), or the failure naming its README line,
    /// the block, and the end of the script's output.
    fn run(&self, blocks: &[&Block]) -> Result<usize, String> {
        let progress = self.file("progress");
        let mut lines = Vec::new();
        let out = self.bash(&script(blocks, &progress, &mut lines));
        let report = std::fs::read_to_string(&progress).unwrap_or_default();
        let done: BTreeSet<usize> = report
            .lines()
            .filter_map(|l| l.strip_prefix("done ")?.parse().ok())
            .collect();
        let failed_at = report.lines().rev().find_map(|l| {
            if let Some(n) = l.strip_prefix("failed-at ") {
                return n.parse().ok();
            }
            let n: usize = l.strip_prefix("failed ")?.parse().ok()?;
            lines.get(n.checked_sub(1)?).copied()
        });
        let Some(block) = blocks.iter().find(|b| !done.contains(&b.line)) else {
            assert!(
                out.status.success(),
                "the script failed after its last block"
            );
            return Ok(blocks.len());
        };
        let tail = |text: String| {
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(30)..].join("\n")
        };
        let mut msg = format!(
            "the README stopped in the block at README.md:{} ({}); the blocks before it ran\n",
            block.line, out.status
        );
        if let Some(at) = failed_at {
            writeln!(msg, "the failing command is at README.md:{at}").unwrap();
        } else {
            writeln!(msg, "the block ended the script early (an `exit`?)").unwrap();
        }
        write!(
            msg,
            "--- the block:\n{}--- stdout (end):\n{}\n--- stderr (end):\n{}",
            block.text,
            tail(stdout(&out)),
            tail(stderr(&out))
        )
        .unwrap();
        Err(msg)
    }
}

#[test]
fn the_readme_runs_top_to_bottom_as_one_script() {
    let blocks = sh_blocks(&read("README.md"));
    for block in &blocks {
        for hidden in ["|| true", "|| :"] {
            assert!(
                !block.text.contains(hidden),
                "README.md:{}: `{hidden}` would hide a failing example",
                block.line
            );
        }
    }
    let hidden = hidden_dependencies(&blocks);
    assert!(hidden.is_empty(), "{}", hidden.join("\n"));
    let always = blocks.iter().filter(|b| b.marker.is_none()).count();
    assert!(
        always >= MIN_ALWAYS_RUN,
        "only {always} README blocks run everywhere, expected at least {MIN_ALWAYS_RUN}"
    );
    let sandbox = Sandbox::new();
    let required = crate::common::needs::readme_tools_required();
    let mut skipped = Vec::new();
    let run: Vec<&Block> = blocks
        .iter()
        .filter(|b| match sandbox.skips(b, required) {
            Some(why) => {
                skipped.push(format!("README.md:{} ({why})", b.line));
                false
            }
            None => true,
        })
        .collect();
    let ran = sandbox
        .run(&run)
        .unwrap_or_else(|failure| panic!("{failure}"));
    eprintln!(
        "ran {ran} of {} README blocks as one script; skipped:",
        blocks.len()
    );
    for s in &skipped {
        eprintln!("  {s}");
    }
}

#[test]
fn the_script_carries_variables_and_names_the_line_that_failed() {
    let blocks = sh_blocks(
        "```sh\nA=1\n```\n\n```sh\ntest \"$A\" = 1\nfalse\necho after\n```\n```sh\necho never\n```\n",
    );
    let run: Vec<&Block> = blocks.iter().collect();
    let failure = Sandbox::new().run(&run).unwrap_err();
    assert!(
        failure.contains("in the block at README.md:5 (")
            && failure.contains("failing command is at README.md:7"),
        "{failure}"
    );
    let fine = sh_blocks("```sh\nA=1\n```\n```sh\ntest \"$A\" = 1\n```\n");
    let run: Vec<&Block> = fine.iter().collect();
    assert_eq!(Sandbox::new().run(&run), Ok(2));
}

#[test]
fn a_bang_line_must_be_a_rejection_and_a_block_must_end_well() {
    // `set -e` ignores both; the script does not.
    for (text, at) in [
        ("```sh\n! true   # a comment\necho after\n```\n", 2),
        ("```sh\n! sh -c 'exit 2'\n```\n", 2),
        ("```sh\ntrue\nfalse && true\n```\n", 3),
    ] {
        let blocks = sh_blocks(text);
        let run: Vec<&Block> = blocks.iter().collect();
        let failure = Sandbox::new().run(&run).unwrap_err();
        assert!(
            failure.contains(&format!("failing command is at README.md:{at}")),
            "{text}: {failure}"
        );
    }
    let ok = sh_blocks("```sh\n! sh -c 'exit 1'  # rejected\n```\n");
    let run: Vec<&Block> = ok.iter().collect();
    assert_eq!(Sandbox::new().run(&run), Ok(1));
    // A block that ends the script early is not a success.
    let early = sh_blocks("```sh\nexit 0\n```\n```sh\ntrue\n```\n");
    let run: Vec<&Block> = early.iter().collect();
    let failure = Sandbox::new().run(&run).unwrap_err();
    assert!(failure.contains("README.md:1 "), "{failure}");
}

#[test]
fn a_block_may_not_depend_on_one_that_may_be_skipped() {
    let text = "<!-- needs: jq -->\n```sh\nX=$(jq -n 1)\njq -n 2 > made.json # a file\n```\n\
                <!-- needs: jq -->\n```sh\necho \"$X\"\n```\n\
                ```sh\necho \"$X\"\n```\n\
                ```sh\ncat made.json\n```\n\
                <!-- not run: a server -->\n```sh\nexport URL=x\n```\n\
                ```sh\necho \"${URL}\" 'not $X here'\n```\n\
                ```sh\nY=1\n```\n<!-- needs: jq -->\n```sh\nY=2\n```\n```sh\necho \"$Y\"\n```\n\
                ```sh\nY=3\n```\n```sh\necho \"$Y\"\n```\n";
    let problems = hidden_dependencies(&sh_blocks(text));
    let named: Vec<(&str, &str)> = problems
        .iter()
        .map(|p| {
            let used = p.split('`').nth(1).unwrap();
            (p.split(':').nth(1).unwrap(), used)
        })
        .collect();
    assert_eq!(
        named,
        [("10", "X"), ("13", "made.json"), ("20", "URL"), ("30", "Y")],
        "{problems:#?}"
    );
}

#[test]
fn a_missing_tool_leaves_its_block_out_unless_every_block_is_required() {
    let blocks = sh_blocks(
        "<!-- needs: jwtctl-no-such-tool -->\n```sh\nx\n```\n<!-- needs: bash -->\n```sh\ny\n```\n",
    );
    let sandbox = Sandbox::new();
    assert_eq!(
        sandbox.skips(&blocks[0], false).as_deref(),
        Some("needs jwtctl-no-such-tool, not installed")
    );
    assert_eq!(sandbox.skips(&blocks[1], true), None);
    let refused = std::panic::catch_unwind(|| sandbox.skips(&blocks[0], true));
    let message = refused.unwrap_err();
    let message = message.downcast_ref::<String>().unwrap();
    assert!(
        message.contains("README.md:2: the block needs jwtctl-no-such-tool"),
        "{message}"
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
