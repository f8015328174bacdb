//! `jwtctl verify`: check a token with pinned algorithms and report the result as text or JSON.

use super::verdict::{Verdict, verify_one};
use super::{Ctx, Done, Reply, note_verified, open_ledger, policy, read_token};
use crate::audit::Record;
use crate::cli::{Output, VerifyArgs};
use crate::error::Result;

pub fn run(args: &VerifyArgs, ctx: &Ctx, rec: &mut Record) -> Result<Done> {
    let check = &args.check;
    rec.at = args.at;
    // Judged before anything is read, opened or fetched: a usage error follows no side effect.
    let mut policy = policy(check, Vec::new())?;
    let mut ledger = open_ledger(
        check.ledger.as_deref(),
        check.leeway,
        crate::ledger::Access::Read,
        ctx,
        rec.op,
    )?;
    let text = read_token(check.token.as_deref(), rec, false)?;
    let kid = super::unverified_kid(&text);
    let (keys, algs) = super::check_keys(check, kid.as_deref(), ctx, rec)?;
    policy.algs = algs;
    match verify_one(
        &text,
        &keys,
        &policy,
        ledger.as_mut(),
        args.at.map_or(ctx.now_precise, |at| at as f64),
    ) {
        Ok(verified) => {
            note_verified(rec, &verified);
            Ok(Done::Print(match (args.quiet, args.output()) {
                (true, _) => String::new(),
                // Claims reach the terminal with controls and bidi characters escaped.
                (false, Output::Text) => format!(
                    "{}\n",
                    crate::escape::json_escaped(
                        &serde_json::Value::from(verified.into_inner().claims).to_string()
                    )
                ),
                (false, Output::Json) => Verdict::valid(&verified, None).line(),
            }))
        }
        Err(e) if !e.reason().is_rejection() => Err(e),
        // A rejection is reported as asked: nothing (-q), a JSON verdict, or the stderr line.
        Err(e) => {
            let reply = match (args.quiet, args.output()) {
                (true, _) => Reply::Silent,
                (false, Output::Json) => Reply::Stdout(Verdict::rejected(&e, None).line()),
                (false, Output::Text) => Reply::Stderr,
            };
            Ok(Done::Refused(e, reply))
        }
    }
}
