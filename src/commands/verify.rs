//! `jwtctl verify`: check a token with pinned algorithms (or by a `--policy` file) and, with a
//! ledger, that it is not revoked; the verdict is presented as text or JSON by `present`.

use super::{Ctx, Done, ledger_entry, note_verified, open_ledger, policy, read_token};
use crate::audit::Record;
use crate::cli::VerifyArgs;
use crate::error::Result;
use crate::ledger::{Ledger, State, revoked};
use crate::token::{self, KeySource, Policy, Verdict, Verified};

pub fn run(args: &VerifyArgs, ctx: &Ctx, rec: &mut Record) -> Result<Done> {
    let check = &args.check;
    let at = args.at.map(|at| at.resolve(ctx.now));
    rec.at = at;
    // Judged before anything is read, opened or fetched: a usage error follows no side effect.
    let mut policy = policy(check, Vec::new())?;
    let rules = match args.policy.as_deref() {
        Some(path) => Some(super::policy::load(path, ctx, rec)?),
        None => None,
    };
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
            let keys = (&check.key, &check.remote);
            let judged = match &rules {
                Some(rules) => super::policy::judge(rules, &text, &policy, keys, ctx, rec, now)?
                    .and_then(|(v, passed)| Ok(Verdict::Valid((v, Some(passed)))))?,
                None => {
                    let kid = super::unverified_kid(&text);
                    let (keys, algs) = super::check_keys(check, kid.as_deref(), ctx, rec)?;
                    policy.algs = algs;
                    token::judge(&text, &keys, &policy, now)?
                        .and_then(|v| Ok(Verdict::Valid((v, None))))?
                }
            };
            judged.and_then(|(verified, passed)| {
                not_revoked(verified, &text, ledger.as_mut(), now)?
                    .and_then(|verified| Ok(Verdict::Valid((verified, passed))))
            })
        })?;
    Ok(match verdict {
        Verdict::Valid((verified, passed)) => {
            note_verified(rec, &verified);
            // A loosening flag is said and recorded when it may have let a token through.
            super::note_check_loosening(check, at, ctx, rec.op, Some(rec))?;
            Done::Valid(verified, passed.map(Box::new))
        }
        Verdict::Rejected(rejection) => Done::Rejected(decoded_secret_hint(check, rejection)),
    })
}

/// A bad signature with `--secret-encoding`: the likeliest cause is a key jwtctl made (whose
/// secret is its text) read as encoded bytes. Said with the fix.
pub fn decoded_secret_hint(
    check: &crate::cli::CheckArgs,
    rejection: crate::error::Rejection,
) -> crate::error::Rejection {
    let decoded = !matches!(
        check.key.secret_encoding,
        crate::cli::SecretEncodingArg::Raw
    );
    if decoded && rejection.reason() == crate::error::Reason::BadSignature {
        return rejection.with_hint(
            "the secret was decoded (--secret-encoding); a key jwtctl made (jwtctl.key, key gen \
             --type hmac) is its text as it stands: drop --secret-encoding",
        );
    }
    rejection
}

/// Verify one token and, with a ledger, check that it is not revoked (`verify` and `--batch`).
pub fn verify_one(
    text: &str,
    keys: &dyn KeySource,
    policy: &Policy,
    ledger: Option<&mut Ledger>,
    now: f64,
) -> Result<Verdict> {
    token::judge(text, keys, policy, now)?
        .and_then(|verified| not_revoked(verified, text, ledger, now))
}

/// With a ledger, a verified token is still refused when its id is revoked.
pub fn not_revoked(
    verified: Verified,
    text: &str,
    ledger: Option<&mut Ledger>,
    now: f64,
) -> Result<Verdict> {
    if let Some(ledger) = ledger {
        let (id, _) = ledger_entry(&verified, text, now.floor() as i64);
        if ledger.state(&id)? == Some(State::Revoked) {
            return Verdict::of(Err(revoked().signed_by(verified.signed())));
        }
    }
    Ok(Verdict::Valid(verified))
}
