//! `jwtctl verify`: check a token with a pinned algorithm and print its claims.

use super::{Ctx, check_token, load_key, open_ledger, policy};
use crate::audit::Record;
use crate::cli::VerifyArgs;
use crate::error::Result;
use crate::ledger::{State, revoked};

pub fn run(args: &VerifyArgs, ctx: &Ctx, rec: &mut Record) -> Result<String> {
    let check = &args.check;
    let ledger = open_ledger(check.ledger.as_deref(), check.leeway, ctx)?;
    let (key, alg) = load_key(&check.key, ctx, rec, false)?;
    let policy = policy(check, alg);
    let presented = check_token(
        check.token.as_deref(),
        &key,
        alg,
        Some(&policy),
        ctx,
        rec,
        false,
    )?;
    if let Some(ledger) = &ledger {
        let (id, _) = presented.ledger_entry(ctx.now);
        if ledger.state(&id)? == Some(State::Revoked) {
            return Err(revoked());
        }
    }
    let claims = serde_json::to_string(&presented.verified.claims).unwrap_or_default();
    Ok(format!("{claims}\n"))
}
