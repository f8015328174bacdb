//! `jwtctl inspect`: decode a token's header and claims without verifying anything.

use serde_json::{Value, json};

use super::{Ctx, Done, read_token};
use crate::audit::Record;
use crate::cli::{InspectArgs, Output};
use crate::error::Result;
use crate::escape::json_escaped;
use crate::token;

/// Decode the token, or say why it cannot be read (`malformed`, `too_large`): the command's
/// verdict, not an error.
pub fn run(args: &InspectArgs, ctx: &Ctx, rec: &mut Record) -> Result<Done> {
    super::judged(inspect(args, ctx, rec))
}

fn inspect(args: &InspectArgs, ctx: &Ctx, rec: &mut Record) -> Result<Done> {
    let text = read_token(args.token.as_deref(), rec, false)?;
    let decoded = token::decode_unverified(&text, token::DEFAULT_MAX_TOKEN_SIZE)?;
    crate::sys::eprint_line(
        "jwtctl: warning: nothing was verified (not the signature, not the times, not the \
         audience); use 'jwtctl verify' to trust this token",
    );
    // Invariant: an unverified token's text reaches the terminal with every control, separator
    // and bidi/format character as a JSON escape (`\u202e`): the same JSON to a reader, and no
    // escape sequence (C1 CSI/OSC) or reordered text on the screen.
    if args.output == Output::Json {
        let out = json!({"header": decoded.header, "claims": decoded.claims});
        return Ok(Done::Print(format!("{}\n", json_escaped(&out.to_string()))));
    }
    let mut out = format!(
        "header: {}\nclaims: {}\n",
        json_escaped(&Value::from(decoded.header).to_string()),
        json_escaped(&Value::from(decoded.claims.clone()).to_string())
    );
    for name in ["exp", "nbf", "iat", "orig_iat"] {
        if let Some(secs) = decoded.claims.get(name).and_then(Value::as_f64) {
            out.push_str(&format!("{name}: {}\n", when(name, secs, ctx.now)));
        }
    }
    Ok(Done::Print(out))
}

/// `2026-11-27T16:13:00Z (expires in 29m)`: the instant in UTC and how far it is from now.
fn when(name: &str, secs: f64, now: i64) -> String {
    let Some(at) = chrono::DateTime::from_timestamp(secs.floor() as i64, 0) else {
        return format!("{secs} (out of range)");
    };
    let delta = secs.floor() as i64 - now;
    let span = span(delta.unsigned_abs());
    let relative = match (name, delta > 0) {
        ("exp", true) => format!("expires in {span}"),
        ("exp", false) => format!("expired {span} ago"),
        (_, true) => format!("in {span}"),
        (_, false) => format!("{span} ago"),
    };
    format!("{} ({relative})", at.format("%Y-%m-%dT%H:%M:%SZ"))
}

/// A span to the minute, in its two largest units, never rounded up: `45s`, `29m`, `2h 59m`,
/// `3d 4h` (a token with 2h 59m left does not read as 3h, nor as 2h).
fn span(secs: u64) -> String {
    let (d, h, m) = (secs / 86400, secs % 86400 / 3600, secs % 3600 / 60);
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{m}m"),
        3600..86400 if m == 0 => format!("{h}h"),
        3600..86400 => format!("{h}h {m}m"),
        _ if h == 0 => format!("{d}d"),
        _ => format!("{d}d {h}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_instants_and_spans() {
        let now = 1_795_683_600; // 2026-11-26T09:00:00Z
        assert_eq!(
            when("exp", (now + 1740) as f64, now),
            "2026-11-26T09:29:00Z (expires in 29m)"
        );
        assert_eq!(
            when("exp", (now - 3 * 3600) as f64, now),
            "2026-11-26T06:00:00Z (expired 3h ago)"
        );
        assert_eq!(
            when("iat", (now - 45) as f64, now),
            "2026-11-26T08:59:15Z (45s ago)"
        );
        assert!(when("exp", 1e300, now).contains("out of range"));
        assert_eq!(
            when("exp", (now + 2 * 3600 + 59 * 60 + 30) as f64, now),
            "2026-11-26T11:59:30Z (expires in 2h 59m)"
        );
        assert_eq!(
            when("exp", (now - 180) as f64, now),
            "2026-11-26T08:57:00Z (expired 3m ago)"
        );
        assert_eq!(span(3 * 86400 + 4 * 3600 + 5), "3d 4h");
        assert_eq!(span(7200), "2h");
    }
}
