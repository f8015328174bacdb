//! JWK Sets over HTTPS (`--jwks-url`, or found by OIDC discovery with `--oidc`), with an on-disk
//! cache that every CI step (a new process) shares.
//!
//! Invariants:
//! - a cached set is used only while fresh (its `max-age`, clamped to 5 min..24 h), or as a stale
//!   copy at most 24 h old when a refetch fails (with a WARN record);
//! - at most one refetch per minute per URL, whatever the previous answer was: a token naming a
//!   kid the fresh set lacks triggers one, and a failed fetch (an error status, a timeout, an
//!   answer that is not a valid document) is remembered in the cache too, so neither a flood of
//!   bad kids nor a failing provider makes jwtctl hit the provider once per token or process;
//! - only validated documents are cached: a discovery document for the issuer asked for with a
//!   `jwks_uri`, a JWK Set with a usable public key; anything else never replaces a good copy;
//! - a fetched set yields public asymmetric verification keys only (see `JwkSet::parse_from`).
//!
//! Cache files are 0600, replaced atomically and checked when read (see `entry`).

mod entry;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::Value;

use super::{JwkSet, Secret, SetOrigin};
use crate::error::{Error, Result};
use crate::net::{self, FetchPolicy, Fetched, shown_url};
use entry::Entry;

pub use entry::{clear, list};

/// Freshness bounds for a cached set, and the default when the server gives no `max-age`.
const MIN_FRESH: u64 = 300;
const MAX_FRESH: u64 = 24 * 3600;
const DEFAULT_FRESH: u64 = 3600;
/// How old a copy may be and still be used when the provider cannot be reached.
const MAX_STALE: i64 = 24 * 3600;
/// The least time between two refetches of one URL (for an unknown kid, or after a failure).
const REFETCH_EVERY: i64 = 60;

/// Where a remote set comes from and how to fetch it.
#[derive(Debug, Clone)]
pub struct Remote {
    /// `--jwks-url`, or the issuer whose discovery document names the set (`--oidc`).
    pub location: Location,
    pub cache_dir: PathBuf,
    pub offline: bool,
    pub policy: FetchPolicy,
}

#[derive(Debug, Clone)]
pub enum Location {
    JwksUrl(String),
    Oidc(String),
}

/// How the set at hand was obtained, as the record says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    Cache,
    Network,
    Revalidated,
    Stale,
}

impl Freshness {
    pub fn word(self) -> &'static str {
        match self {
            Freshness::Cache => "cache",
            Freshness::Network => "network",
            Freshness::Revalidated => "revalidated",
            Freshness::Stale => "stale",
        }
    }
}

/// A set fetched or read from the cache.
#[derive(Debug)]
pub struct RemoteSet {
    pub set: JwkSet,
    pub url: String,
    pub freshness: Freshness,
}

/// What a load noticed on its way, for the operation's records: the URL it was fetching (shown
/// without credentials or query, even when the load failed) and the WARN records to write.
#[derive(Debug, Default)]
pub struct Notes {
    pub url: Option<String>,
    pub warnings: Vec<Warning>,
}

/// A WARN record a load asks for: its event and, for a key, the `kid` it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub event: &'static str,
    pub kid: Option<String>,
    /// What to say on stderr too, if anything (after `jwtctl: warning: `).
    pub said: Option<String>,
}

impl Notes {
    fn warn(&mut self, event: &'static str, kid: Option<String>) {
        self.warnings.push(Warning {
            event,
            kid,
            said: None,
        });
    }

    /// Once per process: the cache in `dir` cannot be written (`why`), so every process fetches
    /// on its own and the once-a-minute limit does not hold; say so, and what to do.
    fn cache_unwritable(&mut self, dir: &Path, why: &str) {
        static WARNED: AtomicBool = AtomicBool::new(false);
        if WARNED.swap(true, Ordering::Relaxed) {
            return;
        }
        self.warnings.push(Warning {
            event: "cache_unwritable",
            kid: None,
            said: Some(format!(
                "cannot write the key-set cache {} ({why}), so nothing is cached and the \
                 once-a-minute limit on fetches is off; pass --cache-dir DIR naming a directory \
                 jwtctl can write",
                dir.display()
            )),
        });
    }
}

/// Why the cache directory `dir` may not be created, if it may not: the default one is made
/// only under an existing home (`$XDG_CACHE_HOME`'s parent, else `$HOME`), so `HOME=/nonexistent`
/// never gets a `/nonexistent/.cache/jwtctl`. A `--cache-dir` is made as given.
fn not_creatable(dir: &Path) -> Option<String> {
    if dir != default_cache_dir() {
        return None;
    }
    match std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        Some(xdg) => {
            let parent = Path::new(&xdg).parent().unwrap_or(Path::new("/"));
            (!parent.is_dir()).then(|| {
                format!(
                    "XDG_CACHE_HOME is under {}, which does not exist",
                    parent.display()
                )
            })
        }
        None => match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
            Some(home) => (!Path::new(&home).is_dir()).then(|| {
                format!(
                    "HOME is {}, which does not exist",
                    Path::new(&home).display()
                )
            }),
            None => Some("HOME is not set".into()),
        },
    }
}

/// Make the cache directory if it is missing (0700: the umask is 077); why not, if it cannot be.
fn ensure_dir(dir: &Path) -> std::result::Result<(), String> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(why) = not_creatable(dir) {
        return Err(why);
    }
    std::fs::create_dir_all(dir).map_err(|e| crate::error::io_words(&e))
}

/// The default cache directory: `$XDG_CACHE_HOME/jwtctl`, else `~/.cache/jwtctl`.
pub fn default_cache_dir() -> PathBuf {
    match std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir).join("jwtctl"),
        None => std::env::var_os("HOME")
            .map_or_else(
                || PathBuf::from(".cache"),
                |h| PathBuf::from(h).join(".cache"),
            )
            .join("jwtctl"),
    }
}

/// The JWK Set `remote` names, as of `now`. `wanted_kid`: the kid of the token about to be
/// checked; a fresh set that lacks it is refetched (at most once a minute). `notes` gets the
/// URL being fetched and the warnings to record, whether the load succeeds or not.
pub fn load(
    remote: &Remote,
    now: i64,
    wanted_kid: Option<&str>,
    notes: &mut Notes,
) -> Result<RemoteSet> {
    notes.url = Some(shown_url(match &remote.location {
        Location::JwksUrl(url) | Location::Oidc(url) => url,
    }));
    entry::check_dir(&remote.cache_dir)?;
    if net::check_ca_file(&remote.policy)?.is_some() {
        notes.warn("ca_file_exposed", None);
    }
    let url = match &remote.location {
        Location::JwksUrl(url) => url.clone(),
        Location::Oidc(issuer) => discover(remote, issuer, now, notes)?,
    };
    notes.url = Some(shown_url(&url));
    let good = |body: &str| {
        let set = JwkSet::parse_from(&Secret::new(body.as_bytes().to_vec()), SetOrigin::Remote)?;
        Ok(wanted_kid.is_none_or(|kid| set.has_kid(kid)))
    };
    let (body, freshness) = cached_fetch(remote, &url, now, good, notes)?;
    let set = JwkSet::parse_from(&Secret::new(body.into_bytes()), SetOrigin::Remote)
        .map_err(|e| not_usable(&url, &e))?;
    for ignored in &set.ignored {
        notes.warn(ignored.event, ignored.kid.clone());
    }
    if freshness == Freshness::Stale {
        notes.warn("jwks_stale", None);
    }
    Ok(RemoteSet {
        set,
        url,
        freshness,
    })
}

fn not_usable(url: &str, e: &Error) -> Error {
    net::unavailable(
        url,
        &format!("the response is not usable ({})", e.message()),
    )
}

/// OIDC Discovery §4: the issuer's `jwks_uri`, from a document whose `issuer` is exactly the one
/// asked for (a document for another issuer is refused).
fn discover(remote: &Remote, issuer: &str, now: i64, notes: &mut Notes) -> Result<String> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    notes.url = Some(shown_url(&url));
    let good = |body: &str| jwks_uri_of(body, issuer, &url).map(|_| true);
    let (body, freshness) = cached_fetch(remote, &url, now, good, notes)?;
    if freshness == Freshness::Stale {
        notes.warn("discovery_stale", None);
    }
    let jwks_uri = jwks_uri_of(&body, issuer, &url)?;
    net::check_discovered(&jwks_uri, &url)?;
    Ok(jwks_uri)
}

/// The `jwks_uri` of a discovery document, which must name `issuer` exactly.
fn jwks_uri_of(body: &str, issuer: &str, url: &str) -> Result<String> {
    let doc: Value = serde_json::from_str(body)
        .map_err(|_| net::unavailable(url, "the discovery document is not JSON"))?;
    let named = doc.get("issuer").and_then(Value::as_str);
    if named != Some(issuer) {
        let shown =
            |v: &str| -> String { v.chars().take(100).flat_map(char::escape_debug).collect() };
        return Err(net::unavailable(
            url,
            &format!(
                "the discovery document names another issuer, '{}', not '{}' as --oidc gives; OIDC \
                 Discovery §4.3 wants them identical (mind a trailing slash)",
                named.map_or_else(|| "(none)".into(), shown),
                shown(issuer)
            ),
        ));
    }
    doc.get("jwks_uri")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| net::unavailable(url, "the discovery document has no jwks_uri"))
}

/// The body at `url`: from a fresh cache entry that `good` accepts, else fetched (revalidating
/// the entry) unless the last refetch was less than a minute ago, else a stale copy up to 24 h
/// old. `good` validates a body: `Err` for an invalid one (never cached), `Ok(false)` for a
/// valid one that lacks what is wanted (an unknown kid).
///
/// Invariant: processes running at once make one request per URL between them. Deciding to
/// fetch, fetching and storing the outcome happen under the URL's lock (`entry::lock`); a process
/// that waited for it reads the entry again and takes the outcome the holder stored (a fresh
/// copy, or the failure it remembered). The wait is bounded by `--fetch-timeout` (and a second):
/// after it, the copy at hand is used, or the fetch is reported as not finished, never repeated.
fn cached_fetch(
    remote: &Remote,
    url: &str,
    now: i64,
    good: impl Fn(&str) -> Result<bool>,
    notes: &mut Notes,
) -> Result<(String, Freshness)> {
    let dir = &remote.cache_dir;
    let entry = entry::read(dir, url, notes);
    if let Some(done) = decide(remote, url, now, entry.as_ref(), &good) {
        return done;
    }
    if let Err(why) = ensure_dir(dir) {
        notes.cache_unwritable(dir, &why);
        return refetch(remote, url, now, entry, &good, notes);
    }
    let wait = remote.policy.total_timeout + Duration::from_secs(1);
    let _held = match entry::lock(dir, url, wait, notes) {
        entry::Lock::Held(file) => file,
        entry::Lock::Unavailable(why) => {
            notes.cache_unwritable(dir, &why);
            return refetch(remote, url, now, entry, &good, notes);
        }
        entry::Lock::Busy => {
            let entry = entry::read(dir, url, notes);
            if let Some(done) = decide(remote, url, now, entry.as_ref(), &good) {
                return done;
            }
            return fall_back(entry, now, || {
                net::unavailable(
                    url,
                    "another jwtctl process is fetching it and did not finish within \
                     --fetch-timeout; try again",
                )
            });
        }
    };
    let entry = entry::read(dir, url, notes);
    if let Some(done) = decide(remote, url, now, entry.as_ref(), &good) {
        return done;
    }
    refetch(remote, url, now, entry, &good, notes)
}

/// What `entry` settles without a fetch, if anything: a fresh copy `good` accepts (or any fresh
/// copy while a refetch is not allowed, or offline), or, when no fetch may be made, the copy to
/// fall back on or the error to give.
fn decide(
    remote: &Remote,
    url: &str,
    now: i64,
    entry: Option<&Entry>,
    good: &impl Fn(&str) -> Result<bool>,
) -> Option<Result<(String, Freshness)>> {
    let limited = entry.is_some_and(|e| limits(e, now, &remote.policy));
    if let Some(e) = entry.filter(|e| e.fresh(now)) {
        let body = e.body.clone().unwrap_or_default();
        if good(&body).unwrap_or(false) || limited || remote.offline {
            return Some(Ok((body, Freshness::Cache)));
        }
    }
    if remote.offline {
        return Some(fall_back(entry.cloned(), now, || {
            net::unavailable(url, "--offline and no usable cached copy")
        }));
    }
    let e = entry.filter(|_| limited)?;
    // No fresh copy, and a refetch less than a minute ago: it failed (a success would have left a
    // fresh copy). Do not ask again yet; say why it failed.
    Some(fall_back(Some(e.clone()), now, || remembered(url, e, now)))
}

/// Whether `e` forbids a refetch now: the last one was less than a minute ago, unless it failed
/// under other trust settings (a `--ca-file` given or changed since, as a TLS error advises).
fn limits(e: &Entry, now: i64, policy: &FetchPolicy) -> bool {
    let recent = now.saturating_sub(e.last_refetch) < REFETCH_EVERY;
    let other_trust = e.failure.is_some()
        && e.failed_trust
            .as_deref()
            .is_some_and(|t| t != net::trust_id(policy));
    recent && !other_trust
}

/// The error for a failure remembered in `e`: its cause again, when it happened, and what to do.
fn remembered(url: &str, e: &Entry, now: i64) -> Error {
    let ago = now.saturating_sub(e.last_refetch).max(0);
    let cause = e
        .failure
        .clone()
        .unwrap_or_else(|| format!("cannot fetch {}: it failed", shown_url(url)));
    Error::new(
        crate::error::Reason::JwksUnavailable,
        format!(
            "{cause} ({ago}s ago; jwtctl asks at most once a minute per URL: try again in {}s, \
             or run `jwtctl cache clear`)",
            REFETCH_EVERY - ago
        ),
    )
}

/// A copy to use when no fetch can be made or it failed: a fresh one (a kid refetch failed),
/// else a stale one up to 24 h old, else `error`.
fn fall_back(
    entry: Option<Entry>,
    now: i64,
    error: impl FnOnce() -> Error,
) -> Result<(String, Freshness)> {
    match entry {
        Some(e) if e.fresh(now) => Ok((e.body.unwrap_or_default(), Freshness::Cache)),
        Some(e) if e.usable_stale(now, MAX_STALE) => {
            Ok((e.body.unwrap_or_default(), Freshness::Stale))
        }
        _ => Err(error()),
    }
}

/// Fetch `url` (revalidating `entry`) and store what came if it is valid; on a failure of the
/// provider's, remember it with its cause (so the next minute asks no more) and fall back on the
/// copy at hand. A local failure (an unreadable `--ca-file`) made no request and is not kept.
fn refetch(
    remote: &Remote,
    url: &str,
    now: i64,
    entry: Option<Entry>,
    good: &impl Fn(&str) -> Result<bool>,
    notes: &mut Notes,
) -> Result<(String, Freshness)> {
    let dir = &remote.cache_dir;
    match fetch_entry(remote, url, now, entry.as_ref(), good) {
        Ok((new, freshness)) => {
            if let Err(why) = entry::write(dir, url, &new) {
                notes.cache_unwritable(dir, &why);
            }
            Ok((new.body.unwrap_or_default(), freshness))
        }
        Err(e) => {
            if e.reason() == crate::error::Reason::JwksUnavailable {
                let mut failed = entry.clone().unwrap_or_else(|| Entry::failed(url, now));
                failed.last_refetch = now;
                failed.failure = Some(e.message().to_string());
                failed.failed_trust = Some(net::trust_id(&remote.policy));
                if let Err(why) = entry::write(dir, url, &failed) {
                    notes.cache_unwritable(dir, &why);
                }
            }
            fall_back(entry, now, || e)
        }
    }
}

/// The entry a fetch of `url` gives (revalidating `old`): a new, valid copy, or `old` again
/// when the server says it has not changed.
fn fetch_entry(
    remote: &Remote,
    url: &str,
    now: i64,
    old: Option<&Entry>,
    good: &impl Fn(&str) -> Result<bool>,
) -> Result<(Entry, Freshness)> {
    // A refetch of a fresh copy (for an unknown kid) counts against the limit; a first fetch or
    // the renewal of an expired copy does not.
    let last_refetch = match old {
        Some(e) if e.fresh(now) => now,
        Some(e) => e.last_refetch,
        None => 0,
    };
    let fetched = net::get(
        url,
        &remote.policy,
        old.and_then(|e| e.etag.as_deref()),
        old.and_then(|e| e.last_modified.as_deref()),
    )?;
    match (fetched, old) {
        (
            Fetched::Body {
                body,
                etag,
                last_modified,
                max_age,
            },
            _,
        ) => {
            let new = Entry {
                url: shown_url(url),
                fetched_at: now,
                max_age: clamp(max_age),
                etag,
                last_modified,
                last_refetch,
                body: Some(valid_body(url, body, good)?),
                failure: None,
                failed_trust: None,
            };
            Ok((new, Freshness::Network))
        }
        (Fetched::NotModified { max_age }, Some(old)) if old.body.is_some() => {
            let new = Entry {
                fetched_at: now,
                last_refetch,
                max_age: clamp(max_age),
                failure: None,
                failed_trust: None,
                ..old.clone()
            };
            Ok((new, Freshness::Revalidated))
        }
        (Fetched::NotModified { .. }, _) => Err(net::unavailable(
            url,
            "the server answered 304 to an unconditional request",
        )),
    }
}

/// A fetched body that `good` accepts as valid, as text.
fn valid_body(url: &str, body: Vec<u8>, good: &impl Fn(&str) -> Result<bool>) -> Result<String> {
    let body = String::from_utf8(body)
        .map_err(|_| net::unavailable(url, "the response is not UTF-8 JSON"))?;
    match good(&body) {
        Ok(_) => Ok(body),
        Err(e) if e.reason() == crate::error::Reason::JwksUnavailable => Err(e),
        Err(e) => Err(not_usable(url, &e)),
    }
}

fn clamp(max_age: Option<u64>) -> u64 {
    max_age.unwrap_or(DEFAULT_FRESH).clamp(MIN_FRESH, MAX_FRESH)
}
