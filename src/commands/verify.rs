//! `jwtctl verify`: check a token with pinned algorithms and report the result as text or JSON.

use serde_json::json;

use super::{
    Ctx, Done, ledger_entry, note_verified, open_ledger, policy, read_token, verifying_keys,
};
use crate::audit::Record;
use crate::cli::{Output, VerifyArgs};
use crate::error::{Error, Result};
use crate::ledger::{Ledger, State, revoked};
use crate::token::{self, KeySource, Policy, Verified};

pub fn run(args: &VerifyArgs, ctx: &Ctx, rec: &mut Record) -> Result<Done> {
    if args.batch {
        return super::batch::run(args, ctx, rec);
    }
    let check = &args.check;
    rec.at = args.at;
    let ledger = open_ledger(check.ledger.as_deref(), check.leeway, ctx)?;
    let (keys, algs) = verifying_keys(&check.key, check.jwks.as_deref(), ctx, rec)?;
    let policy = policy(check, algs);
    let text = read_token(check.token.as_deref(), rec, false)?;
    match verify_one(
        &text,
        &keys,
        &policy,
        ledger.as_ref(),
        args.at.map_or(ctx.now_precise, |at| at as f64),
    ) {
        Ok(verified) => {
            note_verified(rec, &verified);
            Ok(Done::Print(match (args.quiet, args.output) {
                (true, _) => String::new(),
                (false, Output::Text) => format!("{}\n", serde_json::Value::from(verified.claims)),
                (false, Output::Json) => {
                    let result = json!({"valid": true, "header": verified.header, "claims": verified.claims});
                    format!("{result}\n")
                }
            }))
        }
        Err(e) if !e.reason().is_rejection() => Err(e),
        Err(e) if args.quiet => Err(e.quietly()),
        Err(e) => match args.output {
            Output::Text => Err(e),
            Output::Json => {
                let answer = rejection_json(&e);
                Err(e.answered(format!("{answer}\n")))
            }
        },
    }
}

/// `{"valid":false,"reason":...,"message":...}`
pub fn rejection_json(e: &Error) -> serde_json::Value {
    json!({"valid": false, "reason": e.reason().code(), "message": e.message()})
}

/// Verify one token and, with a ledger, check that it is not revoked.
pub fn verify_one(
    text: &str,
    keys: &dyn KeySource,
    policy: &Policy,
    ledger: Option<&Ledger>,
    now: f64,
) -> Result<Verified> {
    let verified = token::verify_precise(text, keys, policy, now)?;
    if let Some(ledger) = ledger {
        let (id, _) = ledger_entry(&verified, text, now.floor() as i64);
        if ledger.state(&id)? == Some(State::Revoked) {
            return Err(revoked());
        }
    }
    Ok(verified)
}
