//! `jwtctl verify`: check a token with a pinned algorithm and print its claims.

use super::{Ctx, check_token, load_key};
use crate::audit::Record;
use crate::cli::VerifyArgs;
use crate::error::Result;

pub fn run(args: &VerifyArgs, ctx: &Ctx, rec: &mut Record) -> Result<String> {
    let (key, alg) = load_key(&args.check.key, ctx, rec, false)?;
    let verified = check_token(&args.check, &key, alg, ctx, rec, false)?;
    let claims = serde_json::to_string(&verified.claims).unwrap_or_default();
    Ok(format!("{claims}\n"))
}
