//! JWK Sets over HTTPS (`--jwks-url`, or found by OIDC discovery with `--oidc`), with an on-disk
//! cache that every CI step (a new process) shares.
//!
//! Invariant: a cached set is used only while fresh (its `max-age`, clamped to 5 min..24 h), or
//! as a stale copy at most 24 h old when a refetch fails (with a WARN record); a token naming a
//! kid the fresh set lacks triggers at most one refetch per minute per URL, so a flood of bad
//! kids cannot hammer the provider. Cache files are 0600 and replaced atomically.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::source::write_private_file;
use super::{JwkSet, Secret};
use crate::error::{Error, Result};
use crate::hash::sha256_hex;
use crate::net::{self, FetchPolicy, Fetched, shown_url};

/// Freshness bounds for a cached set, and the default when the server gives no `max-age`.
const MIN_FRESH: u64 = 300;
const MAX_FRESH: u64 = 24 * 3600;
const DEFAULT_FRESH: u64 = 3600;
/// How old a copy may be and still be used when the provider cannot be reached.
const MAX_STALE: i64 = 24 * 3600;
/// The least time between two refetches of one URL for an unknown kid.
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

/// One cached response.
#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    url: String,
    fetched_at: i64,
    max_age: u64,
    etag: Option<String>,
    last_modified: Option<String>,
    last_refetch: i64,
    body: String,
}

impl Entry {
    fn fresh(&self, now: i64) -> bool {
        now.saturating_sub(self.fetched_at) < self.max_age as i64
    }

    fn usable_stale(&self, now: i64) -> bool {
        now.saturating_sub(self.fetched_at) <= MAX_STALE
    }
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
/// checked; a fresh set that lacks it is refetched (at most once a minute).
pub fn load(remote: &Remote, now: i64, wanted_kid: Option<&str>) -> Result<RemoteSet> {
    check_cache_dir(&remote.cache_dir)?;
    let url = match &remote.location {
        Location::JwksUrl(url) => url.clone(),
        Location::Oidc(issuer) => discover(remote, issuer, now)?,
    };
    let (body, freshness) = cached_fetch(remote, &url, now, |body| {
        let set = JwkSet::parse(&Secret::new(body.as_bytes().to_vec()))?;
        Ok(wanted_kid.is_none_or(|kid| set.has_kid(kid)))
    })?;
    let set = JwkSet::parse(&Secret::new(body.into_bytes())).map_err(|e| {
        net::unavailable(
            &url,
            &format!("the response is not a usable JWK Set ({})", e.message()),
        )
    })?;
    Ok(RemoteSet {
        set,
        url,
        freshness,
    })
}

/// OIDC Discovery §4: the issuer's `jwks_uri`, from a document whose `issuer` is exactly the one
/// asked for (a document for another issuer is refused).
fn discover(remote: &Remote, issuer: &str, now: i64) -> Result<String> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let (body, _) = cached_fetch(remote, &url, now, |_| Ok(true))?;
    let doc: Value = serde_json::from_str(&body)
        .map_err(|_| net::unavailable(&url, "the discovery document is not JSON"))?;
    if doc.get("issuer").and_then(Value::as_str) != Some(issuer) {
        return Err(net::unavailable(
            &url,
            "the discovery document names another issuer (OIDC Discovery §4.3); refusing it",
        ));
    }
    let jwks_uri = doc
        .get("jwks_uri")
        .and_then(Value::as_str)
        .ok_or_else(|| net::unavailable(&url, "the discovery document has no jwks_uri"))?;
    net::check_scheme(jwks_uri)?;
    Ok(jwks_uri.to_string())
}

/// The body at `url`: from a fresh cache entry that `good` accepts, else fetched (revalidating
/// the entry), else a stale entry up to 24 h old.
fn cached_fetch(
    remote: &Remote,
    url: &str,
    now: i64,
    good: impl Fn(&str) -> Result<bool>,
) -> Result<(String, Freshness)> {
    let path = entry_path(&remote.cache_dir, url);
    let entry = read_entry(&path).filter(|e| e.url == url);
    // Only a refetch for a kid the fresh set lacks counts against the once-a-minute limit.
    let mut kid_refetch = false;
    if let Some(entry) = &entry {
        let refetch_allowed = now.saturating_sub(entry.last_refetch) >= REFETCH_EVERY;
        if entry.fresh(now) {
            if good(&entry.body).unwrap_or(false) || !refetch_allowed {
                return Ok((entry.body.clone(), Freshness::Cache));
            }
            kid_refetch = true;
        }
    }
    let last_refetch = match (&entry, kid_refetch) {
        (_, true) => now,
        (Some(e), false) => e.last_refetch,
        (None, false) => 0,
    };
    if remote.offline {
        return match entry {
            Some(e) if e.usable_stale(now) => Ok((e.body, Freshness::Stale)),
            _ => Err(net::unavailable(url, "--offline and no usable cached copy")),
        };
    }
    refetch(remote, url, now, entry, last_refetch, &good)
}

/// Fetch `url` (revalidating `entry`), store what came, or fall back on a stale `entry`.
fn refetch(
    remote: &Remote,
    url: &str,
    now: i64,
    entry: Option<Entry>,
    last_refetch: i64,
    good: &impl Fn(&str) -> Result<bool>,
) -> Result<(String, Freshness)> {
    let path = entry_path(&remote.cache_dir, url);
    let fetched = net::get(
        url,
        &remote.policy,
        entry.as_ref().and_then(|e| e.etag.as_deref()),
        entry.as_ref().and_then(|e| e.last_modified.as_deref()),
    );
    match (fetched, entry) {
        (
            Ok(Fetched::Body {
                body,
                etag,
                last_modified,
                max_age,
            }),
            _,
        ) => {
            let body = String::from_utf8(body)
                .map_err(|_| net::unavailable(url, "the response is not UTF-8 JSON"))?;
            good(&body).map_err(|e| {
                net::unavailable(
                    url,
                    &format!("the response is not usable ({})", e.message()),
                )
            })?;
            let entry = Entry {
                url: url.to_string(),
                fetched_at: now,
                max_age: clamp(max_age),
                etag,
                last_modified,
                last_refetch,
                body,
            };
            write_entry(&path, &entry);
            Ok((entry.body, Freshness::Network))
        }
        (Ok(Fetched::NotModified { max_age }), Some(mut entry)) => {
            entry.fetched_at = now;
            entry.last_refetch = last_refetch;
            entry.max_age = clamp(max_age);
            write_entry(&path, &entry);
            Ok((entry.body, Freshness::Revalidated))
        }
        (Ok(Fetched::NotModified { .. }), None) => Err(net::unavailable(
            url,
            "the server answered 304 to an unconditional request",
        )),
        (Err(_), Some(entry)) if entry.usable_stale(now) => Ok((entry.body, Freshness::Stale)),
        (Err(e), _) => Err(e),
    }
}

/// A cache directory other users can write would let them plant a key set: refuse it. A missing
/// one is created 0700 (the umask is 077) when the first set is stored.
fn check_cache_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::symlink_metadata(dir) else {
        return Ok(());
    };
    let euid = crate::sys::effective_uid();
    let safe = meta.is_dir() && (meta.uid() == euid || meta.uid() == 0) && meta.mode() & 0o022 == 0;
    if safe {
        return Ok(());
    }
    Err(Error::usage(format!(
        "the cache directory {} is not a directory only you can write (another user could plant \
         a key set there); chmod go-w it, or choose another with --cache-dir",
        dir.display()
    )))
}

fn clamp(max_age: Option<u64>) -> u64 {
    max_age.unwrap_or(DEFAULT_FRESH).clamp(MIN_FRESH, MAX_FRESH)
}

fn entry_path(dir: &Path, url: &str) -> PathBuf {
    dir.join(format!("{}.json", sha256_hex(url.as_bytes())))
}

fn read_entry(path: &Path) -> Option<Entry> {
    let bytes = crate::sys::read_file_bounded(path).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Write a cache entry, 0600, atomically. A cache that cannot be written costs a refetch later,
/// never the verification at hand.
fn write_entry(path: &Path, entry: &Entry) {
    let Some(dir) = path.parent() else { return };
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    if let Ok(text) = serde_json::to_vec(entry) {
        let _ = write_private_file(path, &text, true);
    }
}

/// Each cached URL with its age in seconds and size, for `jwtctl cache list`.
pub fn list(dir: &Path, now: i64) -> Vec<(String, i64, usize)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut rows: Vec<_> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| read_entry(&e.path()))
        .map(|e| {
            (
                shown_url(&e.url),
                now.saturating_sub(e.fetched_at),
                e.body.len(),
            )
        })
        .collect();
    rows.sort();
    rows
}

/// Remove every cache entry; returns how many went.
pub fn clear(dir: &Path) -> Result<usize> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(0);
    };
    let mut removed = 0;
    for entry in entries.filter_map(|e| e.ok()) {
        let path = entry.path();
        if path.extension().is_some_and(|x| x == "json") && read_entry(&path).is_some() {
            std::fs::remove_file(&path).map_err(|e| {
                Error::io(format!(
                    "cannot clear the cache: {}",
                    crate::error::io_words(&e)
                ))
            })?;
            removed += 1;
        }
    }
    Ok(removed)
}
