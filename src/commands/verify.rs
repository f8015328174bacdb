//! `jwtctl verify`: check a token with pinned algorithms and, with a ledger, that it is not
//! revoked; the verdict is presented as text or JSON by `present`.

use super::{Ctx, Done, ledger_entry, note_verified, open_ledger, policy, read_token};
use crate::audit::Record;
use crate::cli::VerifyArgs;
use crate::error::Result;
use crate::ledger::{Ledger, State, revoked};
use crate::token::{self, KeySource, Policy, Verdict};

pub fn run(args: &VerifyArgs, ctx: &Ctx, rec: &mut Record) -> Result<Done> {
    let check = &args.check;
    let at = args.at.map(|at| at.resolve(ctx.now));
    rec.at = at;
    // Judged before anything is read, opened or fetched: a usage error follows no side effect.
    let mut policy = policy(check, Vec::new())?;
    let mut ledger = open_ledger(
        check.ledger.as_deref(),
        check.leeway,
        crate::ledger::Access::Read,
        ctx,
        rec.op,
    )?;
    let now = at.map_or(ctx.now_precise, |at| at as f64);
    let verdict =
        Verdict::of(read_token(check.token.as_deref(), rec, false))?.and_then(|text| {
            let kid = super::unverified_kid(&text);
            let (keys, algs) = super::check_keys(check, kid.as_deref(), ctx, rec)?;
            policy.algs = algs;
            verify_one(&text, &keys, &policy, ledger.as_mut(), now)
        })?;
    Ok(match verdict {
        Verdict::Valid(verified) => {
            note_verified(rec, &verified);
            Done::Valid(verified)
        }
        Verdict::Rejected(rejection) => Done::Rejected(rejection),
    })
}

/// Verify one token and, with a ledger, check that it is not revoked (`verify` and `--batch`).
pub fn verify_one(
    text: &str,
    keys: &dyn KeySource,
    policy: &Policy,
    ledger: Option<&mut Ledger>,
    now: f64,
) -> Result<Verdict> {
    token::judge(text, keys, policy, now)?.and_then(|verified| {
        if let Some(ledger) = ledger {
            let (id, _) = ledger_entry(&verified, text, now.floor() as i64);
            if ledger.state(&id)? == Some(State::Revoked) {
                return Verdict::of(Err(revoked()));
            }
        }
        Ok(Verdict::Valid(verified))
    })
}
