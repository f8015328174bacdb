//! Shell completions and man pages: made from the clap definition, so every command and option
//! appears in both.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use clap::CommandFactory;

use crate::common::{Env, stderr, stdout};

/// Each command's page name and its long options, nested commands too.
fn commands() -> Vec<(String, Vec<String>)> {
    fn walk(cmd: &clap::Command, name: String, out: &mut Vec<(String, Vec<String>)>) {
        let longs = cmd
            .get_arguments()
            .filter_map(|a| a.get_long().map(str::to_owned))
            .filter(|l| l != "help" && l != "version")
            .collect();
        out.push((name.clone(), longs));
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            walk(sub, format!("{name}-{}", sub.get_name()), out);
        }
    }
    let mut cmd = jwtctl::cli::Cli::command();
    cmd.build();
    let mut out = Vec::new();
    walk(&cmd, "jwtctl".into(), &mut out);
    out
}

#[test]
fn every_command_and_option_is_in_the_completions_and_the_man_pages() {
    let env = Env::new();
    let mut scripts = Vec::new();
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = env.run_bare(&["completions", shell]);
        assert!(out.status.success(), "{shell}: {}", stderr(&out));
        scripts.push((shell, stdout(&out)));
    }
    std::fs::create_dir(env.path("man")).unwrap();
    let out = env.run_bare(&["man", "--dir", "man"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let commands = commands();
    assert!(commands.len() > 10, "{commands:?}");
    for (page, longs) in &commands {
        let text = std::fs::read_to_string(env.path(&format!("man/{page}.1")))
            .unwrap_or_else(|_| panic!("no man page {page}.1"));
        let leaf = page.rsplit('-').next().unwrap();
        for (shell, script) in &scripts {
            assert!(script.contains(leaf), "{shell} lacks {page}");
        }
        for long in longs {
            let roff = format!("\\-\\-{}", long.replace('-', "\\-"));
            assert!(text.contains(&roff), "{page}.1 lacks --{long}");
            for (shell, script) in &scripts {
                let written = if *shell == "fish" {
                    format!("-l {long}")
                } else {
                    format!("--{long}")
                };
                assert!(script.contains(&written), "{shell} lacks {page} --{long}");
            }
        }
    }
}

#[test]
fn long_help_ends_with_examples_and_exit_status_and_short_help_stays_short() {
    let env = Env::new();
    // Every command, nested ones and jwtctl itself too.
    for (page, _) in commands() {
        let words: Vec<&str> = page.split('-').skip(1).collect();
        let help = |flag| stdout(&env.run_bare(&[&words[..], &[flag]].concat()));
        let long = help("--help");
        let examples = long
            .find("\nEXAMPLES:\n")
            .unwrap_or_else(|| panic!("{page}: {long}"));
        let exit = long
            .find("\nEXIT STATUS:\n")
            .unwrap_or_else(|| panic!("{page}"));
        assert!(examples < exit, "{page}: EXAMPLES, then EXIT STATUS");
        assert!(
            long.trim_end()
                .ends_with("3  the security log could not be written; nothing was printed"),
            "{page} does not end with EXIT STATUS: {long}"
        );
        assert!(
            long.contains("./security.log") && long.contains("./jwtctl.key"),
            "{page}"
        );
        let short = help("-h");
        assert!(
            !short.contains("EXIT STATUS:") && !short.contains("EXAMPLES:"),
            "{page} -h"
        );
    }
}

#[test]
fn batch_refuses_output_text_rather_than_ignoring_it() {
    let env = Env::new();
    let out = env
        .jwtctl()
        .args(["verify", "--batch", "--output", "text"])
        .write_stdin("")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--output text"), "{}", stderr(&out));
}

#[test]
fn alg_help_says_repeatable_only_where_it_is() {
    let env = Env::new();
    for (cmd, repeatable) in [
        ("issue", false),
        ("revoke", false),
        ("verify", true),
        ("refresh", true),
    ] {
        let help = stdout(&env.run(&[cmd, "--help"]));
        assert_eq!(
            help.contains("Repeat it to accept several"),
            repeatable,
            "{cmd}"
        );
        assert!(!help.contains("`verify` and `refresh`"), "{cmd}");
    }
}

#[test]
fn usage_errors_keep_clap_suggestions_values_and_usage_on_their_one_line() {
    let env = Env::new();
    for (args, wanted) in [
        (
            &["verfy"][..],
            "(a similar subcommand exists: 'verify'); Usage: jwtctl [OPTIONS] <COMMAND>; \
             see 'jwtctl --help'",
        ),
        (
            &["verify", "--ouput", "json"][..],
            "(a similar argument exists: '--output'); Usage: jwtctl verify [OPTIONS] [TOKEN]; \
             see 'jwtctl verify --help'",
        ),
        (
            &["issue", "--claim", "x"][..],
            "--claim takes KEY=VALUE, got 'x'; see 'jwtctl issue --help'",
        ),
        (
            &[
                "key", "gen", "--type", "rsa", "--alg", "ES256", "--out", "k.pem",
            ][..],
            "does not fit an RSA key; see 'jwtctl key gen --help'",
        ),
        (
            &["key", "gen", "--bogus"][..],
            "unexpected argument '--bogus' found; Usage: jwtctl key gen [OPTIONS]; see 'jwtctl \
             key gen --help'",
        ),
        (
            &["--log-file", "key"][..],
            "requires a subcommand but one was not provided; Usage: jwtctl [OPTIONS] \
             <COMMAND>; see 'jwtctl --help'",
        ),
        (
            &["key"][..],
            "no command given after 'jwtctl key'; give one of: gen, public, thumbprint, retire, \
             remove; Usage: jwtctl key <COMMAND>; see 'jwtctl key --help'",
        ),
        (
            &[][..],
            "give one of: issue, verify, refresh, revoke, inspect, key, cache, ledger, log, \
             policy, completions, man; Usage: jwtctl [OPTIONS] <COMMAND>; see 'jwtctl --help'",
        ),
        (
            &["completions"][..],
            "the following required arguments were not provided: <SHELL>; Usage: jwtctl \
             completions [OPTIONS] <SHELL>; see 'jwtctl completions --help'",
        ),
        (
            &["verify", "--key-file", "k", "--jwks", "j", "t"][..],
            "cannot be used with '--jwks <PATH>'; Usage: jwtctl verify [OPTIONS] [TOKEN]; see \
             'jwtctl verify --help'",
        ),
        (
            &["issue", "--log-level", "loud"][..],
            "[possible values: error, warn, info, debug]; Usage: jwtctl issue [OPTIONS]; see 'jwtctl \
             issue --help'",
        ),
    ] {
        let out = env.run(args);
        assert_eq!(out.status.code(), Some(2));
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.trim_end().ends_with(wanted), "{err}");
    }
}

#[test]
fn man_replaces_planted_links_instead_of_following_them_and_writes_pages_0644() {
    use std::os::unix::fs::{MetadataExt, symlink};
    let env = Env::new();
    let dir = env.path("man");
    std::fs::create_dir(&dir).unwrap();
    // Links another user could plant in a shared directory: to a file of the victim's, and a
    // dangling one that would create a file wherever it points.
    let victim = env.write("victim.conf", "precious\n");
    symlink(&victim, dir.join("jwtctl.1")).unwrap();
    symlink(env.path("created-elsewhere"), dir.join("jwtctl-verify.1")).unwrap();
    let out = env.run_bare(&["man", "--dir", "man"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    assert!(
        !env.path("created-elsewhere").exists(),
        "a dangling link was followed"
    );
    for entry in std::fs::read_dir(&dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        assert!(
            name.ends_with(".1") && !name.starts_with('.'),
            "left behind: {name}"
        );
        let meta = std::fs::symlink_metadata(entry.path()).unwrap();
        assert!(meta.file_type().is_file(), "{name} is not a regular file");
        assert_eq!(
            meta.mode() & 0o777,
            0o644,
            "{name}: other users read man pages"
        );
    }
    let page = std::fs::read_to_string(dir.join("jwtctl.1")).unwrap();
    assert!(page.starts_with(".ie") || page.contains(".TH"), "{page}");
}

#[test]
fn completions_man_help_and_version_need_no_log() {
    let env = Env::new();
    // /proc: no file can be created there, whoever runs the test (root too).
    for args in [
        &["completions", "bash"][..],
        &["--help"],
        &["--version"],
        &["verify", "--help"],
    ] {
        let out = env.bare().current_dir("/proc").args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        assert!(!stdout(&out).is_empty(), "{args:?}");
        assert_eq!(stderr(&out), "", "{args:?}");
    }
    let out = env
        .bare()
        .current_dir("/proc")
        .args(["man", "--dir"])
        .arg(env.path("pages"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "no such directory yet: {}",
        stderr(&out)
    );
    std::fs::create_dir(env.path("pages")).unwrap();
    let out = env
        .bare()
        .current_dir("/proc")
        .args(["man", "--dir"])
        .arg(env.path("pages"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    // And where a log could be written, none is: these operations are not recorded.
    let out = env.run_bare(&["--log-level", "info", "completions", "zsh"]);
    assert!(out.status.success());
    assert!(!env.path("security.log").exists());
}
