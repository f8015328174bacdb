//! What a test needs that a machine may lack (a server, other JWT libraries, a tool, root), and
//! the one way a test says so. Such a test is `#[ignore = "needs ..."]` with its group's reason
//! below, word for word, so plain `cargo test` lists it as ignored with how to enable it. Under
//! `cargo test -- --include-ignored` it first calls its group's function here: true (or the
//! thing) to run; false (or None) with a `skipped:` line when the thing is missing; a failure
//! instead when the group's `JWTCTL_*_REQUIRED=1`, as `.ci/run` sets for every group.
//! `tests/ignored.rs` checks that every test calling one of these is ignored with its reason and
//! that no test skips any other way.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use std::path::PathBuf;
use std::process::Command;

use crate::common::stores::PgDb;

pub const POSTGRES: &str = "needs PostgreSQL; to run it: apt-get install postgresql, eval \"$(scripts/pg-test-server.sh DIR)\", cargo test -- --include-ignored";
pub const INTEROP: &str = "needs PyJWT, jwcrypto and node jose; to run it: pip install pyjwt jwcrypto, npm install --prefix DIR jose, export JWTCTL_NODE_MODULES=DIR/node_modules, cargo test -- --include-ignored";
pub const PKCS11: &str = "needs SoftHSM2 and OpenSC; to run it: apt-get install softhsm2 opensc, cargo test -- --include-ignored";
pub const ROOT: &str = "needs root (mounts a tmpfs or chowns to nobody); to run it: as root, cargo test -- --include-ignored";
pub const STRACE: &str =
    "needs strace; to run it: apt-get install strace, cargo test -- --include-ignored";

/// Each group: its function here, its reason, and the variable that makes it required.
pub const GROUPS: [(&str, &str, &str); 5] = [
    ("postgres", POSTGRES, "JWTCTL_POSTGRES_REQUIRED"),
    ("interop", INTEROP, "JWTCTL_INTEROP_REQUIRED"),
    ("pkcs11", PKCS11, "JWTCTL_PKCS11_REQUIRED"),
    ("root", ROOT, "JWTCTL_ROOT_REQUIRED"),
    ("strace", STRACE, "JWTCTL_STRACE_REQUIRED"),
];

/// Whether group `name`'s need is met (`missing` empty); if not, a failure when the group is
/// required, else one `skipped:` line (seen with --nocapture) naming the test and what is
/// missing, and false.
fn met(name: &str, missing: &[&str]) -> bool {
    let (_, reason, required) = GROUPS.iter().find(|g| g.0 == name).unwrap();
    if missing.is_empty() {
        return true;
    }
    // libtest names each test's thread after the test.
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("this test");
    let missing = missing.join(", ");
    assert!(
        std::env::var_os(required).is_none_or(|v| v != "1"),
        "{required}=1, but {missing} is missing here; the test {reason}"
    );
    eprintln!("skipped: {test}: {missing} is missing; the test {reason}");
    false
}

/// `missing` with `what` added when `present` is false.
fn unless<'a>(present: bool, what: &'a str, missing: &mut Vec<&'a str>) {
    if !present {
        missing.push(what);
    }
}

/// A fresh database on the server `scripts/pg-test-server.sh` started (`JWTCTL_TEST_POSTGRES`,
/// an administrator URL), dropped after the test.
pub fn postgres() -> Option<PgDb> {
    let admin = std::env::var("JWTCTL_TEST_POSTGRES").unwrap_or_default();
    let missing: &[&str] = if admin.is_empty() {
        &["JWTCTL_TEST_POSTGRES"]
    } else {
        &[]
    };
    met("postgres", missing).then(|| PgDb::create(&admin))
}

/// PyJWT and jwcrypto for python3, and node with `jose` in [`node_modules`].
pub fn interop() -> bool {
    let python = |module: &str| {
        Command::new("python3")
            .args(["-c", &format!("import {module}")])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let mut missing = Vec::new();
    unless(python("jwt"), "PyJWT", &mut missing);
    unless(python("jwcrypto"), "jwcrypto", &mut missing);
    unless(
        node_modules().is_some(),
        "node jose (JWTCTL_NODE_MODULES)",
        &mut missing,
    );
    met("interop", &missing)
}

/// Where node finds `jose`: JWTCTL_NODE_MODULES, as .ci/run sets it.
pub fn node_modules() -> Option<String> {
    let dir = std::env::var("JWTCTL_NODE_MODULES").ok()?;
    std::path::Path::new(&dir)
        .join("jose")
        .is_dir()
        .then_some(dir)
}

/// SoftHSM2's PKCS#11 module (its path), with `softhsm2-util` and OpenSC's `pkcs11-tool`.
pub fn pkcs11() -> Option<PathBuf> {
    const MODULES: [&str; 2] = [
        "/usr/lib/softhsm/libsofthsm2.so",
        "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    ];
    let module = MODULES.iter().map(PathBuf::from).find(|p| p.exists());
    let mut missing = vec![];
    unless(module.is_some(), "libsofthsm2.so", &mut missing);
    for tool in ["softhsm2-util", "pkcs11-tool"] {
        unless(
            Command::new(tool).arg("--help").output().is_ok(),
            tool,
            &mut missing,
        );
    }
    met("pkcs11", &missing).then(|| module.unwrap())
}

/// Running as root (effective uid 0).
pub fn root() -> bool {
    met("root", if is_root() { &[] } else { &["root"] })
}

/// `strace`, to watch a process's system calls.
pub fn strace() -> bool {
    let present = Command::new("strace")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    met("strace", if present { &[] } else { &["strace"] })
}

/// Whether this process runs as root, for a test that runs either way but does more as root.
pub fn is_root() -> bool {
    // The effective uid, from procfs (no unsafe in tests).
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .is_some_and(|ids| ids.split_whitespace().nth(1) == Some("0"))
}

/// Whether a README block's tool (`<!-- needs: TOOL -->`, such as jq) must be there: with
/// `JWTCTL_README_REQUIRED=1` (as `.ci/run` sets) a missing one fails the README test, which
/// otherwise leaves that block out and says so. The README test itself always runs.
pub fn readme_tools_required() -> bool {
    std::env::var_os("JWTCTL_README_REQUIRED").is_some_and(|v| v == "1")
}
