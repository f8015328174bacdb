//! jwtctl's integration tests: one binary (faster to build and link than one per file), a module
//! per user-visible area, as ripgrep organises its tests. Each test drives the real binary in a
//! temp dir of its own (see `common`).

mod common;

mod algorithms;
mod audit;
mod docs;
mod first_use;
mod fuzz_replay;
mod ignored;
mod inspect;
mod interop;
mod issue;
mod key;
mod key_safety;
mod keys;
mod ledger;
mod ledger_postgres;
mod ledger_safety;
mod lifetime;
mod log_chain;
mod log_options;
mod log_safety;
mod log_search;
mod loosening;
mod operator_values;
mod pkcs11;
mod plan;
mod policy;
mod policy_commands;
mod policy_hostile;
mod policy_presets;
mod process;
mod properties;
mod readme;
mod reference;
mod refresh;
mod remote;
mod remote_concurrency;
mod remote_environment;
mod remote_failures;
mod remote_trust;
mod syslog;
mod terminal;
mod verify;
mod verify_ci;
