//! The jwtctl binary: prepare the process, parse the command line, run it, return the exit code.
//!
//! `main` is the C entry point rather than Rust's, for two reasons. Rust's runtime start-up reads
//! `/proc/self/maps` and installs a stack-overflow handler before `main`, about 10 of a short
//! run's ~130 page faults. And it reopens a closed stdin, stdout or stderr on `/dev/null` before
//! any code of ours runs, so jwtctl could no longer tell a closed stdout (nowhere to print a
//! token: refuse, exit 2) from a caller's `>/dev/null` (fine): [`jwtctl::sys::prepare_process`]
//! looks at the three fds first, then does the parts jwtctl relies on (standard fds, SIGPIPE); a stack overflow, which nothing here recurses deep enough to cause,
//! would end in a plain SIGSEGV instead of a message. `main` still returns the exit code rather
//! than calling `exit`, so everything (the log writer first) is dropped before the process ends.
#![no_main]
// `no_mangle` names the C `main`, whose `argv` sys::args reads, and the environment is changed
// before any thread starts; nothing else here is unsafe.
#![allow(unsafe_code)]

use std::ffi::{c_char, c_int};
use std::io::Write;

use jwtctl::error::Exit;

#[unsafe(no_mangle)]
extern "C" fn main(argc: c_int, argv: *const *const c_char) -> c_int {
    if !jwtctl::sys::prepare_process() {
        jwtctl::sys::eprint_line(
            "jwtctl: stdin, stdout or stderr is closed and /dev/null cannot be opened",
        );
        return Exit::Config.code();
    }
    // SAFETY: jwtctl has started no thread yet; this is the first thing main does after the fds.
    unsafe { jwtctl::sys::unset_empty_settings() };
    // SAFETY: argc and argv are what the C runtime passed to main.
    let args = unsafe { jwtctl::sys::args(argc, argv) };
    // The clap definition and its matches are never freed: the process ends soon after, and
    // freeing their few hundred allocations one by one cost about 5% of a short run's
    // instructions (callgrind, `verify`: 727k -> 690k).
    let mut cmd =
        std::mem::ManuallyDrop::new(<jwtctl::cli::Cli as clap::CommandFactory>::command());
    let exit = match jwtctl::cli::parse(&mut cmd, &args) {
        Ok((invocation, matches)) => {
            std::mem::forget(matches);
            jwtctl::execute(&invocation)
        }
        Err(err) => jwtctl::usage_error(&err, &args),
    };
    // Rust's runtime flushes stdout at exit; jwtctl's own output is flushed already, clap's help
    // may not be.
    let _ = std::io::stdout().flush();
    exit.code()
}
