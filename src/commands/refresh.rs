//! `jwtctl refresh`: verify a token as `verify` does, then re-issue it under the lifetime policy
//! (TTL, maximum lifetime from `orig_iat`, grace) and, with a ledger, only once.

use super::{Ctx, check_token, load_key, new_jti, open_ledger, policy, secs};
use crate::audit::{Record, token_sha256};
use crate::cli::RefreshArgs;
use crate::error::Result;
use crate::token::{self, Lifetime};

pub fn run(args: &RefreshArgs, ctx: &Ctx, rec: &mut Record) -> Result<String> {
    let check = &args.check;
    let mut ledger = open_ledger(check.ledger.as_deref(), check.leeway + args.grace, ctx)?;
    let (key, alg) = load_key(&check.key, ctx, rec, false)?;
    let encoding = key.encoding("refresh")?;
    let policy = token::Policy {
        grace_secs: secs(args.grace),
        ..policy(check, alg)
    };
    let presented = check_token(
        check.token.as_deref(),
        &key,
        alg,
        Some(&policy),
        ctx,
        rec,
        true,
    )?;
    let verified = &presented.verified;
    rec.grace_used = token::grace_used(verified, &policy, ctx.now);
    let life = Lifetime {
        ttl_secs: secs(args.ttl),
        max_lifetime_secs: secs(args.max_lifetime),
    };
    let jti = new_jti()?;
    let renewal = token::renew(verified, ctx.now, life, &jti)?;
    rec.parent_jti = rec.jti.replace(jti);
    rec.exp = Some(renewal.exp);
    rec.orig_iat = Some(renewal.orig_iat);
    if args.dry_run {
        rec.dry_run = Some(true);
        if let Some(ledger) = &mut ledger {
            let (id, exp) = presented.ledger_entry(ctx.now);
            ledger.consume(&id, exp, ctx.now, true)?;
        }
        let claims = serde_json::to_string(&renewal.claims).unwrap_or_default();
        return Ok(format!("{claims}\n"));
    }
    let token = token::sign(
        &renewal.claims,
        alg,
        verified.header_str("kid"),
        verified.header_str("typ"),
        encoding,
    )?;
    // Consume the parent only once the new token exists: a failure before here uses nothing up.
    if let Some(ledger) = &mut ledger {
        let (id, exp) = presented.ledger_entry(ctx.now);
        ledger.consume(&id, exp, ctx.now, false)?;
    }
    rec.token_sha256 = Some(token_sha256(&token));
    Ok(format!("{token}\n"))
}
