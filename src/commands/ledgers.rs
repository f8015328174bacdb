//! `jwtctl ledger init|list|stats|prune` (this file is `ledgers` beside the `ledger` store module):
//! what the ledger holds, for an operator.

use serde_json::json;

use super::{Ctx, Done};
use crate::cli::{LedgerAction, LedgerArgs, LedgerListArgs, Output};
use crate::error::Result;
use crate::ledger::{self, Access, Ledger, State};

pub fn run(action: &LedgerAction, ctx: &Ctx) -> Result<Done> {
    match action {
        LedgerAction::Init(args) => {
            // The one command that creates a ledger.
            let mut ledger = ledger::open(&args.ledger, ctx.durable, Access::Create)?;
            super::warn_if_exposed(&ledger, ctx, "ledger_init")?;
            ledger.ready()?;
            Ok(Done::Print("ready\n".into()))
        }
        LedgerAction::List(args) => list(args, ctx),
        LedgerAction::Stats(args) => stats(args, ctx),
        LedgerAction::Prune(args) => {
            let removed = open(args, Access::Write, ctx, "ledger_prune")?.prune(ctx.now)?;
            Ok(Done::Print(format!("{removed}\n")))
        }
    }
}

fn open(args: &LedgerArgs, access: Access, ctx: &Ctx, op: &'static str) -> Result<Ledger> {
    super::open_existing(&args.ledger, access, ctx, op)
}

fn list(args: &LedgerListArgs, ctx: &Ctx) -> Result<Done> {
    let state = match args.state.as_deref() {
        Some("consumed") => Some(State::Consumed),
        Some("revoked") => Some(State::Revoked),
        _ => None,
    };
    let entries = open(&args.common, Access::Read, ctx, "ledger_list")?.list(state)?;
    let text: String = entries
        .iter()
        .map(|e| match args.output {
            // Ids come from tokens: escaped so a hostile jti cannot forge a line. Times are RFC
            // 3339 UTC, as everywhere else jwtctl prints one; `--output json` keeps Unix seconds.
            Output::Text => format!(
                "{}\t{}\t{}\t{}\n",
                e.state,
                crate::escape::json_escaped(&e.id),
                rfc3339(e.exp),
                rfc3339(e.at)
            ),
            Output::Json => format!("{}\n", json!(e)),
        })
        .collect();
    Ok(Done::Print(text))
}

/// Unix seconds as RFC 3339 UTC (`2026-11-26T09:00:00Z`); the seconds as they are when out of
/// chrono's range.
fn rfc3339(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0).map_or_else(
        || secs.to_string(),
        |t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    )
}

fn stats(args: &LedgerArgs, ctx: &Ctx) -> Result<Done> {
    let entries = open(args, Access::Read, ctx, "ledger_stats")?.list(None)?;
    let count = |s: &str| entries.iter().filter(|e| e.state == s).count();
    let oldest = entries.iter().map(|e| e.at).min();
    let stats = json!({
        "consumed": count("consumed"),
        "revoked": count("revoked"),
        "oldest_at": oldest,
    });
    Ok(Done::Print(format!("{stats}\n")))
}
