//! Build script: have the linker lay out the functions a short jwtctl run uses side by side.
//!
//! `link/startup.ld` (made by `scripts/make-startup-order.sh`) gathers them into a
//! `.text.jwtctl.startup` section before `.text`, so start-up touches a few pages of code instead
//! of some thirty scattered ones. It names functions by patterns that leave out the hashes a
//! version bump changes. It is given only to LLD, Rust's default linker for x86_64-unknown-linux-gnu from
//! 1.90; with any other linker or target this does nothing. It also warns when the build lacks
//! the `.cargo/config.toml` settings that a short run's speed depends on.

use std::env;
use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=link/startup.ld");
    println!("cargo:rerun-if-env-changed=RUSTC_LINKER");
    warn_without_release_settings();
    let order = Path::new(&env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default())
        .join("link")
        .join("startup.ld");
    // `-Wl,` splits its argument at commas, so a path with one cannot be passed through it.
    let passable = order.to_str().filter(|p| !p.contains(','));
    if let Some(order) = passable.filter(|_| order.is_file() && links_with_default_lld()) {
        // A pattern this build has no function for (another toolchain, a changed dependency)
        // places nothing: a stale script costs speed, never correctness.
        println!("cargo:rustc-link-arg-bins=-Wl,-T,{order}");
    }
}

/// Say so when a build lacks the `.cargo/config.toml` settings start-up depends on, as a build
/// outside a checkout does (a `cargo install` of the packaged crate: cargo reads that file only
/// inside the checkout). Dependencies' build scripts (aws-lc-sys, libsqlite3-sys) read them from
/// the environment, so neither build.rs nor code can set them; `scripts/release.sh` exports them.
/// Measured without them (docs/performance.md): an ES256 `issue` takes 48 ms instead of 1.4 ms
/// (AWS-LC seeding from CPU jitter), and SQLite's unused features add 1 MB and ~5% to start-up.
fn warn_without_release_settings() {
    let costs = [
        (
            "AWS_LC_SYS_NO_JITTER_ENTROPY",
            "~45 ms on each signature with a random nonce",
        ),
        (
            "LIBSQLITE3_FLAGS",
            "~5% on each start-up (SQLite features jwtctl does not use)",
        ),
    ];
    for (name, cost) in costs {
        println!("cargo:rerun-if-env-changed={name}");
        if env::var_os(name).is_none() {
            println!(
                "cargo:warning={name} is not set as .cargo/config.toml sets it: this jwtctl \
                 will spend {cost}; set it for the build (docs/performance.md)"
            );
        }
    }
}

/// True when rustc will link with its bundled LLD: the target and version where that is the
/// default, and no linker chosen by the user (a `linker` setting or linker flags).
fn links_with_default_lld() -> bool {
    let target = env::var("TARGET").unwrap_or_default();
    let flags = env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    target == "x86_64-unknown-linux-gnu"
        && env::var_os("RUSTC_LINKER").is_none()
        && !flags.contains("link")
        && rustc_minor_version().is_some_and(|minor| minor >= 90)
}

/// The minor version of the rustc cargo builds with (`rustc 1.95.0 (...)` gives 95).
fn rustc_minor_version() -> Option<u32> {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = Command::new(rustc).arg("--version").output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let version = text.split_whitespace().nth(1)?;
    version.split('.').nth(1)?.parse().ok()
}
