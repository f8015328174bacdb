//! `jwtctl revoke`: check a token's signature and record its id as revoked in the ledger.

use super::{Ctx, Done, ledger_entry, note_verified, open_ledger, read_token, verifying_keys};
use crate::audit::Record;
use crate::cli::RevokeArgs;
use crate::error::{Error, Result};
use crate::token;

pub fn run(args: &RevokeArgs, ctx: &Ctx, rec: &mut Record) -> Result<Done> {
    let Some(mut ledger) = open_ledger(args.ledger.as_deref(), std::time::Duration::ZERO, ctx)?
    else {
        return Err(Error::usage(
            "revoke needs a ledger: pass --ledger PATH or set JWTCTL_LEDGER \
             (and give verify and refresh the same one)",
        ));
    };
    let text = read_token(args.token.as_deref(), rec, false)?;
    let kid = super::unverified_kid(&text);
    let remote = super::remote(&args.remote);
    let set = match &remote {
        Some(remote) => super::KeySet::Remote(remote, kid.as_deref()),
        None => super::KeySet::Local(None),
    };
    let (keys, algs) = verifying_keys(&args.key, set, ctx, rec)?;
    // An expired token may be revoked: only its form and signature are checked.
    let verified = token::authenticate(&text, &keys, &algs, token::DEFAULT_MAX_TOKEN_SIZE)?;
    note_verified(rec, &verified);
    let (id, exp) = ledger_entry(&verified, &text, ctx.now);
    // The revocation and its record happen together or not at all.
    ledger.revoke(&id, exp, ctx.now, &mut || ctx.audit.success(rec.clone()))?;
    Ok(Done::Recorded(format!("{}\n", id.id)))
}
