//! `jwtctl inspect`: decode a token's header and claims without verifying anything.

use serde_json::json;

use super::{Ctx, Done, read_token};
use crate::audit::Record;
use crate::cli::InspectArgs;
use crate::error::Result;
use crate::token;

pub fn run(args: &InspectArgs, _ctx: &Ctx, rec: &mut Record) -> Result<Done> {
    let text = read_token(args.token.as_deref(), rec, false)?;
    let decoded = token::decode_unverified(&text, token::DEFAULT_MAX_TOKEN_SIZE)?;
    crate::sys::eprint_line(
        "jwtctl: warning: nothing was verified (not the signature, not the times, not the \
         audience); use 'jwtctl verify' to trust this token",
    );
    let out = json!({"header": decoded.header, "claims": decoded.claims});
    Ok(Done::Print(format!("{out}\n")))
}
