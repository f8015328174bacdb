//! Pure token logic over jsonwebtoken: issue, verify and refresh, each taking `now`; no I/O.
//!
//! `alg` names the algorithms and computes signatures; `text` holds what the others share; `checks` the header and claims; `rules` the matcher of claim rules; `path` the claim a rule names; `verify` the
//! signature; `verdict` says valid or rejected; `issue` and `renew` build claims. Nothing here
//! reads a file, a clock or a flag.

pub mod alg;
mod checks;
mod issue;
mod path;
mod renew;
mod rules;
mod text;
mod verdict;
mod verify;

pub use alg::Algorithm;
pub use checks::{DEFAULT_MAX_TOKEN_SIZE, Policy};
pub use issue::{IssueRequest, Signer, issue_claims, parse_claim_flag, sign};
pub use path::{ClaimPath, MAX_PATH_KEYS};
pub use renew::{Lifetime, Renewal, renew};
pub use rules::{ClaimRule, MAX_PATTERN_LEN, Outcome, Pattern, glob_matches};
pub use text::{Claims, alg_name, claim, one_of, quoted, seconds, whole_seconds};
pub use verdict::{Verdict, judge};
pub use verify::{
    Authenticated, Decoded, KeySource, Verified, authenticate, decode_unverified, grace_used,
    token_text, verify, verify_precise,
};
