//! The log options: the same options before or after the subcommand (after wins), then the
//! environment, then the defaults; and the record every usage error leaves.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use crate::common::{Env, assert_refused, stderr};

fn lines(env: &Env, name: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(env.path(name))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn options_after_the_subcommand_win_over_those_before_it_and_over_the_environment() {
    let env = Env::new();
    let out = env
        .jwtctl()
        .env("JWTCTL_LOG_FILE", "env.log")
        .env("JWTCTL_LOG_LEVEL", "error")
        .args(["--log-file", "before.log", "--log-level", "error", "issue"])
        .args(["--log-file", "after.log", "--log-level", "info"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let after = lines(&env, "after.log");
    assert_eq!(after.len(), 1, "info, after the subcommand, wins");
    assert_eq!(
        (&after[0]["op"], &after[0]["level"]),
        (&"issue".into(), &"INFO".into())
    );
    for name in ["before.log", "env.log", "security.log"] {
        assert!(!env.path(name).exists(), "{name}");
    }
    // Before the subcommand wins over the environment, which wins over the defaults.
    let out = env
        .jwtctl()
        .env("JWTCTL_LOG_FILE", "env.log")
        .env("JWTCTL_LOG_LEVEL", "info")
        .args(["--log-file", "before.log", "issue"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        lines(&env, "before.log").len(),
        1,
        "the level from the environment"
    );
    assert!(!env.path("env.log").exists());
}

#[test]
fn a_usage_error_in_every_subcommand_leaves_one_error_record_naming_it() {
    let env = Env::new();
    for (words, op) in [
        (&["issue"][..], "issue"),
        (&["verify"], "verify"),
        (&["refresh"], "refresh"),
        (&["revoke"], "revoke"),
        (&["inspect"], "inspect"),
        (&["key", "gen"], "key_gen"),
        (&["key", "public"], "key_public"),
        (&["key", "thumbprint"], "key_thumbprint"),
        (&["key", "retire"], "key_retire"),
        (&["key", "remove"], "key_remove"),
        (&["key"], "key"),
        (&["cache", "list"], "cache_list"),
        (&["cache", "clear"], "cache_clear"),
        (&["ledger", "init"], "ledger_init"),
        (&["ledger", "list"], "ledger_list"),
        (&["ledger", "stats"], "ledger_stats"),
        (&["ledger", "prune"], "ledger_prune"),
        (&["ledger"], "ledger"),
        (&[], "jwtctl"),
    ] {
        let before = env.log().len();
        // The log options after the subcommand still apply to its usage error.
        let out = env.run(&[words, &["--bogus", "--log-level", "info"]].concat());
        assert_refused(&env, &out, 2, "usage");
        let log = env.log();
        assert_eq!(log.len(), before + 1, "{words:?}: one record");
        assert_eq!(log[before]["op"], op, "{words:?}");
        assert!(
            stderr(&out).contains("unexpected argument '--bogus' found"),
            "{words:?}"
        );
    }
}

#[test]
fn log_settings_come_from_the_environment_and_a_bad_one_is_a_usage_error_that_is_recorded() {
    let env = Env::new();
    let out = env
        .jwtctl()
        .env("JWTCTL_LOG_LEVEL", "INFO")
        .env("JWTCTL_PEER", "203.0.113.9")
        .arg("issue")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let record = env.log().pop().unwrap();
    assert_eq!(
        (&record["level"], &record["peer"]),
        (&"INFO".into(), &"203.0.113.9".into())
    );
    let out = env
        .jwtctl()
        .env("JWTCTL_LOG_ROTATE", "weekly")
        .env("JWTCTL_PEER", "203.0.113.9")
        .arg("verify")
        .arg("a.b.c")
        .output()
        .unwrap();
    assert_refused(&env, &out, 2, "usage");
    assert_eq!(
        stderr(&out),
        "jwtctl: environment variable JWTCTL_LOG_ROTATE has a value jwtctl cannot use; it takes \
         never, hourly, daily; Usage: jwtctl verify [OPTIONS] [TOKEN]; see 'jwtctl verify \
         --help'\n"
    );
    // Recorded with the rest of the settings; the refused one takes its default.
    let record = env.log().pop().unwrap();
    assert_eq!(
        (&record["op"], &record["peer"]),
        (&"verify".into(), &"203.0.113.9".into())
    );
    // A flag given for the same setting is used instead of the variable.
    let out = env
        .jwtctl()
        .env("JWTCTL_LOG_ROTATE", "weekly")
        .args(["issue", "--log-rotate", "never"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}
