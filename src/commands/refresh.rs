//! `jwtctl refresh`: verify a token as `verify` does, then re-issue it under the lifetime policy
//! (TTL, maximum lifetime from `orig_iat`, grace) and, with a ledger, only once.

use super::{
    Ctx, Done, ledger_entry, new_jti, note_verified, open_ledger, policy, read_token, secs,
};
use crate::audit::{Record, TokenDigest};
use crate::cli::RefreshArgs;
use crate::error::{Error, Result};
use crate::keys::{KeySigner, Keyring};
use crate::ledger::Ledger;
use crate::token::{self, Algorithm, Lifetime, Policy, Signer as _, Verdict};

/// The key that verified the token re-signs it (from a JWK Set: the one its kid chose), under
/// the parent's kid, else the key's own (its JWK kid or RFC 7638 thumbprint). A key ring's
/// retired key never signs: a token it signed is re-signed by the ring's current key, under that
/// key's kid and (when it cannot serve the parent's algorithm) its own algorithm, whose strength
/// is judged then (the ring was judged for the algorithms that verify, not this one).
fn signer<'k>(
    keys: &'k Keyring,
    verified: &token::Verified,
    (allow_weak, judged): (bool, &[Algorithm]),
    ctx: &Ctx,
    op: &'static str,
) -> Result<KeySigner<'k>> {
    if let Keyring::Set(set) = keys {
        set.check_unique_kids()?;
    }
    let key = keys.select(verified.alg, verified.header_str("kid"))?;
    if let (Keyring::Set(set), true) = (keys, key.retired && key.can_sign()) {
        let current = set.current_signer()?;
        let alg = if current.fits(verified.alg, false) {
            verified.alg
        } else {
            let alg = current.pick_alg(None)?;
            judge(current, alg, (allow_weak, judged), (ctx, op))?;
            alg
        };
        return current.signer("refresh", alg, current.default_kid());
    }
    let kid = verified
        .header_str("kid")
        .map(str::to_owned)
        .or_else(|| key.default_kid());
    key.signer("refresh", verified.alg, kid)
}

/// The strength of `key` for `alg`, the algorithm it is about to sign with: too short is
/// refused unless `--allow-weak-secret`. When the keys were judged for `alg` already
/// ([`super::verifying_keys`]: a ring as a whole, where one fit key lets weaker ones in), that
/// loosening was recorded then; for another algorithm it is recorded here.
fn judge(
    key: &crate::keys::Key,
    alg: Algorithm,
    (allow_weak, judged): (bool, &[Algorithm]),
    (ctx, op): (&Ctx, &'static str),
) -> Result<()> {
    if judged.contains(&alg) {
        return key.check_strength(alg, allow_weak).map(drop);
    }
    super::judge_signing_strength(key, alg, allow_weak, ctx, op)
}

/// Under a policy, refresh's own key signs (a key ring: its current key), with the parent's
/// algorithm when the key serves it (an HMAC secret: long enough for it), else the key's own; under the key's own kid (the parent's
/// names a key of its issuer). The key was judged for the algorithms `judged` only: signing
/// with another (the parent's) has its strength judged for that one, a loosening recorded.
fn own_signer<'k>(
    keys: &'k Keyring,
    verified: &token::Verified,
    (args, judged): (&crate::cli::KeyArgs, &[Algorithm]),
    ctx: &Ctx,
    op: &'static str,
) -> Result<KeySigner<'k>> {
    let key = match keys {
        Keyring::Set(set) => set.current_signer()?,
        Keyring::One(key) => key,
    };
    // The parent's algorithm only when the key is strong enough for it: `--allow-weak-secret`
    // lets a legacy secret through, it is no reason to sign with an algorithm it is too short for.
    let alg = match key.fits(verified.alg, false) {
        true => verified.alg,
        false => key.pick_alg(None)?,
    };
    judge(key, alg, (args.allow_weak_secret, judged), (ctx, op))?;
    key.signer("refresh", alg, key.default_kid())
}

/// The lifetime policy the flags ask for.
fn lifetime(args: &RefreshArgs, policy: &Policy) -> Lifetime {
    Lifetime {
        ttl_secs: secs(args.ttl),
        leeway_secs: policy.leeway_secs,
        max_lifetime_secs: secs(args.max_lifetime),
    }
}

/// The ledger that makes each token refresh once. Without one, a token refreshes any number of
/// times: that takes `--no-ledger`, and such a refresh is recorded at WARN (`no_ledger`).
fn refresh_ledger(args: &RefreshArgs, ctx: &Ctx, rec: &mut Record) -> Result<Option<Ledger>> {
    let check = &args.check;
    match (&check.ledger, args.no_ledger) {
        (Some(_), true) => Err(Error::usage(
            "give either --ledger / JWTCTL_LEDGER or --no-ledger, not both",
        )),
        (None, false) => Err(Error::usage(
            "refresh needs a ledger so each token refreshes once: pass --ledger PATH|URL or set \
             JWTCTL_LEDGER (create it with jwtctl ledger init), or pass --no-ledger to allow \
             refreshing the same token again",
        )),
        (None, true) => {
            rec.no_ledger = Some(true);
            Ok(None)
        }
        (Some(path), false) => open_ledger(
            Some(path),
            check.leeway + args.grace,
            crate::ledger::Access::Write,
            ctx,
            rec.op,
        ),
    }
}

/// `refresh --policy FILE`: the policy, loaded once `--iss` (required) is known to name none of
/// its issuers. The new token is signed with jwtctl's key, so it must not claim to come from
/// the provider whose token was presented: a service trusting that provider would otherwise be
/// handed a token its issuer never signed, and one trusting jwtctl a token naming another issuer.
fn policy_issuer(
    iss: Option<&str>,
    path: &std::path::Path,
    ctx: &Ctx,
    rec: &mut Record,
) -> Result<super::policy::Loaded> {
    let Some(iss) = iss else {
        return Err(Error::usage(
            "refresh --policy re-signs the provider's token with jwtctl's key, so the new token \
             names jwtctl's issuer: pass --iss ISSUER (the issuer your services expect of \
             jwtctl's tokens)",
        ));
    };
    if let Some(why) = unfit_issuer(iss) {
        return Err(Error::usage(format!(
            "--iss {why}, so the new token would name an issuer no one can check or read \
             correctly; pass jwtctl's own issuer, as in --iss https://jwtctl.example"
        )));
    }
    let loaded = super::policy::load(path, ctx, rec)?;
    // Loosely, though a policy matches `iss` exactly: a verifier that ignores case, the scheme,
    // a default port or a trailing slash would take `http://Token.actions.githubusercontent.com:443/`
    // for GitHub.
    if let Some(issuer) = loaded.file.issuer_like(iss) {
        return Err(Error::usage(format!(
            "--iss names {} of the policy {}, but the new token is signed with jwtctl's key, not \
             that issuer's; pass jwtctl's own issuer",
            issuer.path, loaded.shown
        )));
    }
    Ok(loaded)
}

/// Refresh's loosening flags (`--leeway`, `--max-token-size` and `--max-lifetime` above their
/// defaults, `--grace`, `--no-ledger`), each said on stderr and
/// recorded whatever the log level. (A refresh granted through them is recorded at WARN too,
/// with `grace_used` or `no_ledger`, at `--log-level warn`.)
fn note_loosening(args: &RefreshArgs, ctx: &Ctx, rec: &Record) -> Result<()> {
    let (op, about) = (rec.op, Some(rec));
    super::note_check_loosening(&args.check, None, ctx, op, about)?;
    if !args.grace.is_zero() {
        super::loosened(
            ctx,
            op,
            "grace_allowed",
            &format!(
                "--grace {}s refreshes a token that far past its exp (recorded)",
                args.grace.as_secs()
            ),
            about,
        )?;
    }
    let default_cap = crate::cli::parse_ttl(crate::cli::MAX_LIFETIME).unwrap_or_default();
    if args.max_lifetime > default_cap {
        super::loosened(
            ctx,
            op,
            "max_lifetime_allowed",
            &format!(
                "--max-lifetime {}s (or JWTCTL_MAX_LIFETIME) lets a token family live past the \
                 default {} (recorded)",
                args.max_lifetime.as_secs(),
                crate::cli::MAX_LIFETIME
            ),
            about,
        )?;
    }
    if args.no_ledger {
        super::loosened(
            ctx,
            op,
            "no_ledger_allowed",
            "--no-ledger: nothing stops this token being refreshed again (recorded)",
            about,
        )?;
    }
    Ok(())
}

/// Why `iss` cannot be the issuer a new token names, if it cannot: what no operator id may hold
/// ([`crate::id::problem`]: empty, blank, a control, invisible or line-separator character),
/// and, since this one names jwtctl's issuer beside a provider's, whitespace at either end (it
/// would look like another issuer's name). The value itself is never repeated: a usage error
/// does not echo the command line.
fn unfit_issuer(iss: &str) -> Option<&'static str> {
    if let Some(problem) = crate::id::problem(iss) {
        Some(problem)
    } else if iss.trim() != iss {
        Some("starts or ends with whitespace")
    } else {
        None
    }
}

/// Refresh the token, or say why it is refused: a rejection on the way (the token, its lifetime,
/// the ledger's "already refreshed") is the command's verdict, not an error.
pub fn run(args: &RefreshArgs, ctx: &Ctx, rec: &mut Record) -> Result<Done> {
    super::judged(refresh(args, ctx, rec))
}

fn refresh(args: &RefreshArgs, ctx: &Ctx, rec: &mut Record) -> Result<Done> {
    let check = &args.check;
    // Judged before anything is opened or fetched: a usage error follows no side effect.
    let mut policy = Policy {
        grace_secs: secs(args.grace),
        ..policy(check, Vec::new())?
    };
    let loaded = match args.policy.as_deref() {
        Some(path) => Some(policy_issuer(check.iss.as_deref(), path, ctx, rec)?),
        None => None,
    };
    let mut ledger = refresh_ledger(args, ctx, rec)?;
    // Without a policy, the keys that verify the token re-sign it; with one, the token is
    // verified with its issuer's keys from the policy, and refresh's own key signs.
    let remote = super::remote(&check.remote);
    let set = match loaded {
        Some(_) => super::KeySet::Local(None),
        None => super::key_set(check, remote.as_ref(), None),
    };
    let (keys, algs) = super::verifying_keys(&check.key, set, ctx, rec)?;
    if let Keyring::One(key) = &keys {
        key.encoding("refresh")?;
    }
    let text = read_token(check.token.as_deref(), rec, true)?;
    let verified = match &loaded {
        Some(loaded) => {
            let judged = super::policy::judge(
                loaded,
                &text,
                &policy,
                (&check.key, &check.remote),
                ctx,
                rec,
                ctx.now_precise,
            )?;
            match judged {
                Verdict::Valid((verified, _)) => verified,
                Verdict::Rejected(rejection) => return Err(rejection.into()),
            }
        }
        None => {
            policy.algs.clone_from(&algs);
            token::verify_precise(&text, &keys, &policy, ctx.now_precise)?
        }
    };
    note_verified(rec, &verified);
    let weak = check.key.allow_weak_secret;
    let signer = match loaded {
        Some(_) => own_signer(&keys, &verified, (&check.key, &algs), ctx, rec.op)?,
        None => signer(&keys, &verified, (weak, &algs), ctx, rec.op)?,
    };
    rec.grace_used = token::grace_used(&verified, &policy, ctx.now);
    let life = lifetime(args, &policy);
    let jti = new_jti()?;
    let mut renewal = token::renew(&verified, ctx.now, life, &jti)?;
    // Under a policy the parent is the provider's token and jwtctl's key signs the new one: it
    // names jwtctl's issuer (`--iss`), never the provider's, which did not sign it.
    if let (Some(_), Some(iss)) = (&loaded, &check.iss) {
        renewal.claims.insert("iss".into(), iss.as_str().into());
    }
    let (id, exp) = ledger_entry(&verified, &text, ctx.now);
    // A loosening flag is said and recorded when it may have let the token through.
    note_loosening(args, ctx, rec)?;
    if args.dry_run {
        rec.dry_run = Some(true);
        if let Some(ledger) = &mut ledger {
            ledger.consume(&id, exp, ctx.now, true, &mut || Ok(()))?;
        }
        return Ok(Done::Print(format!(
            "{}\n",
            serde_json::Value::from(renewal.claims)
        )));
    }
    let token = token::sign(&renewal.claims, verified.header_str("typ"), &signer)?;
    // The record of a refresh that fails from here on (the ledger refuses the parent) describes
    // the presented token only: the new one was never printed, so it never existed.
    let mut done = rec.clone();
    done.parent_jti = done.jti.replace(jti);
    if loaded.is_some() {
        done.iss.clone_from(&check.iss);
    }
    done.exp = Some(renewal.exp);
    done.orig_iat = Some(renewal.orig_iat);
    done.alg = Some(token::alg_name(signer.algorithm()));
    done.kid = signer.kid().map(str::to_owned);
    done.token = Some(TokenDigest::of(&token));
    let printed = super::token_output(&token, &done, args.output);
    // Consume the parent only once the new token exists, and with its record written inside
    // the ledger transaction: the two happen together or not at all.
    let Some(ledger) = &mut ledger else {
        *rec = done;
        return Ok(Done::Print(printed));
    };
    super::recorded_change(rec, &done, ctx, |record| {
        ledger.consume(&id, exp, ctx.now, false, record)
    })?;
    *rec = done;
    Ok(Done::Recorded(printed))
}
