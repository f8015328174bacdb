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
            "give one of: issue, verify, refresh, revoke, inspect, key, cache, ledger, \
             completions, man; Usage: jwtctl [OPTIONS] <COMMAND>; see 'jwtctl --help'",
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
