//! `jwtctl revoke`: check a token's signature and record its id as revoked in the ledger.

use super::{Ctx, Done, ledger_entry, note_verified, open_ledger, read_token, verifying_keys};
use crate::audit::Record;
use crate::cli::RevokeArgs;
use crate::error::{Error, Result};
use crate::token;

/// Revoke the token, or say why it is refused (a bad signature, a malformed token): the
/// command's verdict, not an error.
pub fn run(args: &RevokeArgs, ctx: &Ctx, rec: &mut Record) -> Result<Done> {
    super::judged(revoke(args, ctx, rec))
}

fn revoke(args: &RevokeArgs, ctx: &Ctx, rec: &mut Record) -> Result<Done> {
    // Judged before the ledger opens: what applies to --jti only is refused with a token.
    if args.jti.is_none() {
        for (given, flag) in [
            (args.until.is_some(), "--until"),
            (args.iss.is_some(), "--iss"),
        ] {
            if given {
                return Err(Error::usage(format!(
                    "{flag} applies to revoke --jti only: a token given is revoked as it is (its \
                     own iss), until it expires; drop {flag}, or revoke by --jti"
                )));
            }
        }
    }
    // An id in the printed form (`any-iss+jti:ID`) is checked as a bare one is, before the
    // ledger opens.
    let by_id = args.jti.as_deref().map(printed_id).transpose()?;
    if by_id.as_ref().is_some_and(|(_, iss)| iss.is_some()) && args.iss.is_some() {
        return Err(Error::usage(
            "--jti gives an id as jwtctl prints it, with its issuer: drop --iss",
        ));
    }
    let Some(mut ledger) = open_ledger(
        args.ledger.as_deref(),
        std::time::Duration::ZERO,
        crate::ledger::Access::Write,
        ctx,
        rec.op,
    )?
    else {
        return Err(Error::usage(
            "revoke needs a ledger: pass --ledger PATH or set JWTCTL_LEDGER \
             (and give verify and refresh the same one)",
        ));
    };
    if let Some(by_id) = by_id {
        return revoke_by_id(args, by_id, ledger, ctx, rec);
    }
    let loaded = match args.policy.as_deref() {
        Some(path) => Some(super::policy::load(path, ctx, rec)?),
        None => None,
    };
    let text = read_token(args.token.as_deref(), rec, false)?;
    let kid = super::unverified_kid(&text);
    let (keys, algs) = match &loaded {
        // The keys (and algorithms) of the issuer the token's iss names in the policy.
        Some(loaded) => {
            let decoded = token::decode_unverified(&text, token::DEFAULT_MAX_TOKEN_SIZE)?;
            let issuer = super::policy::issuer_of(loaded, &decoded.claims)?;
            let (keys, algs) = super::policy::issuer_keys(
                loaded,
                issuer,
                &args.key,
                &args.remote,
                kid.as_deref(),
                ctx,
                rec,
            )?;
            match issuer.algorithms.is_empty() {
                true => (keys, algs),
                false => (keys, issuer.algorithms.clone()),
            }
        }
        None => {
            let remote = super::remote(&args.remote);
            let set = match &remote {
                Some(remote) => super::KeySet::Remote(remote, kid.as_deref()),
                None => super::KeySet::Local(None),
            };
            verifying_keys(&args.key, set, ctx, rec)?
        }
    };
    // An expired token may be revoked: only its form and signature are checked (under a
    // policy: with its issuer's keys; its rules are not, so any token it trusts can be revoked).
    let verified = token::authenticate(&text, &keys, &algs, token::DEFAULT_MAX_TOKEN_SIZE)?;
    note_verified(rec, &verified);
    let (id, exp) = ledger_entry(&verified, &text, ctx.now);
    // The revocation and its record happen together or not at all.
    let done = rec.clone();
    super::recorded_change(rec, &done, ctx, |record| {
        ledger.revoke(&id, exp, ctx.now, record)
    })?;
    Ok(Done::Recorded(shown(&id)))
}

/// `--jti` as given: a bare id, or an id as revoke and ledger list print it:
/// `iss+jti:["ISS","ID"]` (that issuer's), `any-iss+jti:ID` (every issuer's) or `jti:ID`. Returns
/// the jti and the issuer the printed form names, each refused as the command line's own are
/// when empty, blank or holding a control character (`cli::id_problem`).
fn printed_id(given: &str) -> Result<(String, Option<String>)> {
    if let Some(pair) = given.strip_prefix("iss+jti:") {
        return match serde_json::from_str::<[String; 2]>(pair) {
            Ok([iss, jti]) => {
                usable("the issuer in --jti iss+jti:[…]", &iss)?;
                usable("the id in --jti iss+jti:[…]", &jti)?;
                Ok((jti, Some(iss)))
            }
            Err(_) => Err(Error::usage(
                "--jti iss+jti:… must be as jwtctl prints it: iss+jti:[\"ISSUER\",\"ID\"]",
            )),
        };
    }
    let bare = given
        .strip_prefix("any-iss+jti:")
        .or_else(|| given.strip_prefix("jti:"))
        .unwrap_or(given);
    usable("the id in --jti", bare)?;
    Ok((bare.to_owned(), None))
}

/// Refuse an id no token can carry (see `cli::id_problem`), naming `what` and what to give.
fn usable(what: &str, value: &str) -> Result<()> {
    match crate::cli::id_problem(value) {
        Some(problem) => Err(Error::usage(format!(
            "{what} {problem}; give the id and issuer as jwtctl ledger list or log search \
             prints them"
        ))),
        None => Ok(()),
    }
}

/// `revoke --jti ID [--iss ISS] [--until TIME]`: the id (and issuer) an operator read in the
/// log, revoked without the token (without `--iss`: for every issuer); kept until `--until` (default: a day from now, the longest a refreshed
/// family lives by default).
fn revoke_by_id(
    args: &RevokeArgs,
    (jti, printed_iss): (String, Option<String>),
    mut ledger: crate::ledger::Ledger,
    ctx: &Ctx,
    rec: &mut Record,
) -> Result<Done> {
    // An id as revoke and ledger list print it is taken as it stands (its issuer with it; with
    // --iss too, refused before the ledger opened).
    let iss = printed_iss.or(args.iss.clone());
    // Without --iss, the jti is revoked under every issuer (and without one): an operator
    // reading the log may not know the issuer, and a revocation must never miss its token.
    let id = match iss.as_deref() {
        Some(iss) => crate::ledger::TokenId::of_jti(iss, &jti),
        None => crate::ledger::TokenId::any_issuer(&jti),
    };
    let jti = jti.as_str();
    let exp = args.until.map_or_else(
        || ctx.now.saturating_add(crate::ledger::KEEP_AFTER_EXP_SECS),
        |until| until.resolve(ctx.now),
    );
    rec.jti = Some(jti.to_string());
    rec.iss = iss;
    rec.exp = Some(exp);
    let done = rec.clone();
    super::recorded_change(rec, &done, ctx, |record| {
        ledger.revoke(&id, exp, ctx.now, record)
    })?;
    Ok(Done::Recorded(shown(&id)))
}

/// The revoked id as `ledger list` shows it: from a token or argv, so escaped (a newline in a
/// jti cannot forge a second line, a C1 CSI or bidi override cannot reach the terminal).
fn shown(id: &crate::ledger::TokenId) -> String {
    format!("{}\n", crate::escape::json_escaped(&id.id))
}
