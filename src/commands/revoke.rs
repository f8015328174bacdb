//! `jwtctl revoke`: check a token's signature and record its id as revoked in the ledger.

use super::{Ctx, check_token, load_key, open_ledger};
use crate::audit::Record;
use crate::cli::RevokeArgs;
use crate::error::{Error, Result};

pub fn run(args: &RevokeArgs, ctx: &Ctx, rec: &mut Record) -> Result<String> {
    let Some(mut ledger) = open_ledger(args.ledger.as_deref(), std::time::Duration::ZERO, ctx)?
    else {
        return Err(Error::usage(
            "revoke needs a ledger: pass --ledger PATH or set JWTCTL_LEDGER \
             (and give verify and refresh the same one)",
        ));
    };
    let (key, alg) = load_key(&args.key, ctx, rec, false)?;
    // An expired token may be revoked: only its form and signature are checked.
    let presented = check_token(args.token.as_deref(), &key, alg, None, ctx, rec, false)?;
    let (id, exp) = presented.ledger_entry(ctx.now);
    ledger.revoke(&id, exp, ctx.now)?;
    Ok(format!("{id}\n"))
}
