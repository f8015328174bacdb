//! HTTPS GET for key sets and discovery documents, with jwtctl's rules: HTTPS only (plain HTTP only
//! to loopback), at most 3 redirects and never from HTTPS to HTTP, connect and total timeouts, a
//! 1 MiB cap on the body, TLS by rustls with the platform's trust store (plus `--ca-file`).
//!
//! Invariant: a loopback URL is fetched directly, never through a proxy named by `ALL_PROXY`,
//! `HTTPS_PROXY`, `HTTP_PROXY` (any case) whatever `NO_PROXY` says; since plain HTTP is allowed
//! only to loopback, nothing jwtctl fetches ever travels in clear through a proxy, which could
//! answer with keys of its own. The proxy is decided per request, redirects included, and a
//! loopback name (`localhost`) only ever connects to loopback addresses, whatever resolves it.

mod trust_file;

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ureq::Agent;
use ureq::tls::{RootCerts, TlsConfig};

use crate::error::{Error, Reason, Result, io_words, is_name_lookup_failure};

/// The largest response body read: 1 MiB.
pub const MAX_BODY: u64 = 1 << 20;

/// How many redirects a fetch follows.
const MAX_REDIRECTS: usize = 3;

/// How to fetch.
#[derive(Debug, Clone)]
pub struct FetchPolicy {
    pub connect_timeout: Duration,
    pub total_timeout: Duration,
    /// A PEM file of CA certificates to trust besides the platform's store.
    pub ca_file: Option<std::path::PathBuf>,
}

/// What a conditional GET answered.
#[derive(Debug)]
pub enum Fetched {
    /// 200: the body, with what revalidation and freshness need.
    Body {
        body: Vec<u8>,
        etag: Option<String>,
        last_modified: Option<String>,
        max_age: Option<u64>,
    },
    /// 304: the cached copy is still good.
    NotModified { max_age: Option<u64> },
}

/// The error for a fetch that failed: exit 2, `jwks_unavailable`, saying what to check. The URL
/// is shown without any user information it may carry.
pub fn unavailable(url: &str, why: &str) -> Error {
    Error::new(
        Reason::JwksUnavailable,
        format!("cannot fetch {}: {why}", shown_url(url)),
    )
}

/// A URL for messages and records: scheme, host and path, no user information or query.
pub fn shown_url(url: &str) -> String {
    let bare = without_credentials(url);
    let Some((scheme, rest)) = bare.split_once("://") else {
        return "(not a URL)".into();
    };
    let rest = rest.split(['?', '#']).next().unwrap_or(rest);
    let shown: String = rest
        .chars()
        .take(200)
        .flat_map(char::escape_debug)
        .collect();
    format!("{scheme}://{shown}")
}

/// `url` without the user information of its authority (`https://u:pw@host/x` becomes
/// `https://host/x`): what the cache is keyed by, so no credential is stored or hashed there.
pub fn without_credentials(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    format!("{scheme}://{host}{tail}")
}

/// Whether `url` may be fetched at all: `https://`, or `http://` to a loopback address.
pub fn check_scheme(url: &str) -> Result<()> {
    if url.starts_with("https://") || (url.starts_with("http://") && is_loopback(url)) {
        return Ok(());
    }
    Err(Error::usage(format!(
        "{} is not an https:// URL; plain http is allowed only to loopback addresses",
        shown_url(url)
    )))
}

/// The host of an `http(s)://` URL, lower-cased, without brackets, port or user information.
pub fn host_of(url: &str) -> Option<String> {
    let (_, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    Some(host.to_ascii_lowercase())
}

/// Whether `url` names a loopback host: `localhost` or a loopback address (IPv4-mapped too).
pub fn is_loopback(url: &str) -> bool {
    let Some(host) = host_of(url) else {
        return false;
    };
    let host = host.strip_suffix('.').unwrap_or(&host);
    host == "localhost"
        || host
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.to_canonical().is_loopback())
}

/// A `jwks_uri` found in a discovery document fetched from `doc_url`: HTTPS, or plain HTTP only
/// when the document itself came over plain HTTP from that same loopback host and port (the
/// loopback exception covers what the user typed, never a downgrade a document asks for). A
/// refusal is the provider's fault: `jwks_unavailable`, naming the URI.
pub fn check_discovered(jwks_uri: &str, doc_url: &str) -> Result<()> {
    if jwks_uri.starts_with("https://") {
        return Ok(());
    }
    let same_origin = |u: &str| u.split('/').take(3).collect::<Vec<_>>().join("/");
    let local_dev = jwks_uri.starts_with("http://")
        && doc_url.starts_with("http://")
        && is_loopback(jwks_uri)
        && same_origin(jwks_uri) == same_origin(doc_url);
    if local_dev {
        return Ok(());
    }
    let shown: String = jwks_uri
        .chars()
        .take(200)
        .flat_map(char::escape_debug)
        .collect();
    let shown = if jwks_uri.contains('@') {
        shown_url(jwks_uri)
    } else {
        shown
    };
    Err(unavailable(
        doc_url,
        &format!(
            "its jwks_uri '{shown}' is not an https:// URL; the provider must publish its keys \
             over HTTPS"
        ),
    ))
}

/// The one TLS crypto provider jwtctl uses, for HTTPS fetches and the PostgreSQL ledger alike:
/// rustls on aws-lc-rs, the library jsonwebtoken and jwtctl's hashing already use (one crypto
/// stack; `ring` is not linked).
pub fn tls_provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// What a fetch under `policy` trusts, to tell settings apart: the platform's store, or it and a
/// `--ca-file` with these contents (a hash of them).
pub fn trust_id(policy: &FetchPolicy) -> String {
    match &policy.ca_file {
        None => "platform".into(),
        Some(path) => match crate::sys::read_file_bounded(path) {
            Ok(bytes) => format!("ca-file:{}", crate::hash::sha256_hex(&bytes)),
            Err(_) => "ca-file:unreadable".into(),
        },
    }
}

/// How the requests of one fetch are secured: rustls with the platform's verifier, or, given
/// `--ca-file`, with the platform's store plus that file (see `trust_file`).
enum Tls {
    Platform(TlsConfig),
    TrustFile(Arc<rustls::ClientConfig>),
}

/// The TLS settings every request of one fetch shares.
fn tls_config(policy: &FetchPolicy) -> Result<Tls> {
    let Some(path) = &policy.ca_file else {
        let platform = TlsConfig::builder()
            .root_certs(RootCerts::PlatformVerifier)
            .unversioned_rustls_crypto_provider(tls_provider())
            .build();
        return Ok(Tls::Platform(platform));
    };
    let listed: Vec<Vec<u8>> = ca_certs(path)?.0.iter().map(|c| c.der().to_vec()).collect();
    trust_file::client_config(&listed)
        .map(Tls::TrustFile)
        .ok_or_else(|| {
            Error::usage(format!(
                "--ca-file {} holds no certificate usable as a trust anchor",
                path.display()
            ))
        })
}

/// The proxy a request to `url` goes through, and the variable that named it: the one the
/// environment names, except for a loopback URL, which is always fetched directly (see the
/// module's invariant).
fn proxy_for(url: &str) -> Option<(ureq::Proxy, &'static str)> {
    if is_loopback(url) {
        return None;
    }
    let proxy = ureq::Proxy::try_from_env()?;
    // The variables ureq reads, in its order: the first set to a proxy URL is the one in use.
    let named = [
        "ALL_PROXY",
        "all_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
    ]
    .into_iter()
    .find(|v| std::env::var(v).is_ok_and(|p| ureq::Proxy::new(&p).is_ok()))
    .unwrap_or("the proxy variable");
    Some((proxy, named))
}

/// An agent for one request, through `proxy` if any, with `left` of the fetch's time.
fn agent(
    policy: &FetchPolicy,
    tls: &Tls,
    url: &str,
    proxy: Option<ureq::Proxy>,
    left: Duration,
) -> Agent {
    use ureq::unversioned::resolver::DefaultResolver;
    use ureq::unversioned::transport::{ConnectProxyConnector, Connector, TcpConnector};
    let config = Agent::config_builder()
        .timeout_connect(Some(policy.connect_timeout.min(left)))
        .timeout_global(Some(left))
        .http_status_as_error(false)
        .max_redirects(0)
        .max_redirects_will_error(false)
        .proxy(proxy);
    let resolver = LoopbackOnly {
        inner: DefaultResolver::default(),
        enforce: is_loopback(url),
    };
    match tls {
        Tls::Platform(tls) => Agent::with_parts(
            config.tls_config(tls.clone()).build(),
            ureq::unversioned::transport::DefaultConnector::default(),
            resolver,
        ),
        Tls::TrustFile(client) => {
            let connector =
                ().chain(ConnectProxyConnector::default())
                    .chain(TcpConnector::default())
                    .chain(trust_file::TrustFileTls(Arc::clone(client)));
            Agent::with_parts(config.build(), connector, resolver)
        }
    }
}

/// The system's resolver, keeping only loopback addresses for a loopback URL: `localhost` is
/// fetched from this machine even if name resolution says otherwise (as curl resolves it).
#[derive(Debug)]
struct LoopbackOnly {
    inner: ureq::unversioned::resolver::DefaultResolver,
    enforce: bool,
}

impl ureq::unversioned::resolver::Resolver for LoopbackOnly {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: ureq::unversioned::transport::NextTimeout,
    ) -> Result<ureq::unversioned::resolver::ResolvedSocketAddrs, ureq::Error> {
        let found = self.inner.resolve(uri, config, timeout)?;
        if !self.enforce {
            return Ok(found);
        }
        let mut kept = self.empty();
        for addr in loopback_only(&found) {
            let _ = kept.try_push(addr);
        }
        if kept.is_empty() {
            return Err(ureq::Error::HostNotFound);
        }
        Ok(kept)
    }
}

/// The loopback addresses among `addrs`.
fn loopback_only(addrs: &[std::net::SocketAddr]) -> Vec<std::net::SocketAddr> {
    addrs
        .iter()
        .filter(|a| a.ip().to_canonical().is_loopback())
        .copied()
        .collect()
}

/// Read and judge `--ca-file` before anything is fetched or taken from the cache: a file other
/// users can replace is refused (see `crate::trusted`), as it decides which servers are trusted.
/// Returns its mode when others can write it (a warning, `ca_file_exposed`).
pub fn check_ca_file(policy: &FetchPolicy) -> Result<Option<u32>> {
    match &policy.ca_file {
        Some(path) => Ok(ca_certs(path)?.1).map(|mode| (mode & 0o022 != 0).then_some(mode)),
        None => Ok(None),
    }
}

/// The certificates in `--ca-file` and the file's mode.
fn ca_certs(path: &Path) -> Result<(Vec<ureq::tls::Certificate<'static>>, u32)> {
    let contents = crate::trusted::read(path).map_err(|e| match e {
        crate::trusted::ReadError::Io(_) if crate::escape::looks_like_material(path) => {
            Error::usage(crate::escape::not_a_file(
                "--ca-file",
                "give the path of a PEM file of CA certificates",
            ))
        }
        crate::trusted::ReadError::Io(e) => Error::usage(format!(
            "cannot read --ca-file {}: {}",
            path.display(),
            io_words(&e)
        )),
        crate::trusted::ReadError::Refused(refusal) => {
            Error::usage(refusal.message("--ca-file", path))
        }
    })?;
    let bytes = contents.bytes;
    let certs: Vec<_> = ureq::tls::parse_pem(&bytes)
        .filter_map(|item| match item {
            Ok(ureq::tls::PemItem::Certificate(cert)) => Some(cert),
            _ => None,
        })
        .collect();
    if certs.is_empty() {
        return Err(Error::usage(format!(
            "--ca-file {} holds no PEM certificate",
            path.display()
        )));
    }
    Ok((certs, contents.mode))
}

/// GET `url` (revalidating with `etag` / `last_modified` when given), following at most 3
/// redirects, never from HTTPS to HTTP.
pub fn get(
    url: &str,
    policy: &FetchPolicy,
    etag: Option<&str>,
    last_modified: Option<&str>,
) -> Result<Fetched> {
    check_scheme(url)?;
    let tls = tls_config(policy)?;
    // --fetch-timeout bounds the whole fetch, redirects included.
    let deadline = std::time::Instant::now() + policy.total_timeout;
    let mut current = url.to_string();
    for _ in 0..=MAX_REDIRECTS {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Err(unavailable(&current, &timeout_words(None)));
        }
        let proxy = proxy_for(&current);
        let via = proxy.as_ref().map(|(p, var)| Via::of(p, var));
        let agent = agent(policy, &tls, &current, proxy.map(|(p, _)| p), left);
        let mut request = agent.get(&current).header("Accept", "application/json");
        if let Some(etag) = etag {
            request = request.header("If-None-Match", etag);
        }
        if let Some(date) = last_modified {
            request = request.header("If-Modified-Since", date);
        }
        let response = request
            .call()
            .map_err(|e| unavailable(&current, &transport_words(&e, &current, via.as_ref())))?;
        let status = response.status().as_u16();
        if (300..400).contains(&status) && status != 304 {
            current = redirect_target(&current, &response)?;
            continue;
        }
        return read_response(&current, response);
    }
    Err(unavailable(url, "more than 3 redirects"))
}

/// Where a redirect points: its Location resolved against `from` as RFC 3986 §5 says (by the
/// `url` crate: `//host/x` is another host, `x` and `../x` are relative to `from`'s path), then
/// held to the rules `from` was: refused when it leaves HTTPS for HTTP or is not a URL we fetch.
fn redirect_target(from: &str, response: &ureq::http::Response<ureq::Body>) -> Result<String> {
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| unavailable(from, "a redirect without a Location"))?;
    let target = resolve(from, location)
        .ok_or_else(|| unavailable(from, "it redirects to a Location that is not a URL"))?;
    if from.starts_with("https://") && !target.starts_with("https://") {
        return Err(unavailable(
            from,
            "it redirects from https to plain http; refusing",
        ));
    }
    check_scheme(&target).map_err(|_| unavailable(from, "it redirects to a URL jwtctl refuses"))?;
    Ok(target)
}

/// `location` resolved against `base` (RFC 3986 §5.2), without a fragment.
fn resolve(base: &str, location: &str) -> Option<String> {
    let mut target = url::Url::parse(base).ok()?.join(location).ok()?;
    target.set_fragment(None);
    Some(target.to_string())
}

fn read_response(url: &str, response: ureq::http::Response<ureq::Body>) -> Result<Fetched> {
    let status = response.status().as_u16();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let max_age = header("cache-control").as_deref().and_then(max_age);
    match status {
        304 => Ok(Fetched::NotModified { max_age }),
        200 => {
            let (etag, last_modified) = (header("etag"), header("last-modified"));
            let body = response
                .into_body()
                .with_config()
                .limit(MAX_BODY)
                .read_to_vec()
                .map_err(|e| match e {
                    ureq::Error::BodyExceedsLimit(_) => {
                        unavailable(url, "the response is over 1 MiB; refusing it")
                    }
                    other => unavailable(url, &transport_words(&other, url, None)),
                })?;
            Ok(Fetched::Body {
                body,
                etag,
                last_modified,
                max_age,
            })
        }
        other => Err(unavailable(
            url,
            &format!("the server answered HTTP {other}"),
        )),
    }
}

/// `max-age` of a Cache-Control value, in seconds.
fn max_age(cache_control: &str) -> Option<u64> {
    cache_control.split(',').find_map(|directive| {
        let (name, value) = directive.trim().split_once('=')?;
        name.eq_ignore_ascii_case("max-age")
            .then(|| value.trim().trim_matches('"').parse().ok())
            .flatten()
    })
}

/// The proxy a request went through, as messages name it: host and port (never its
/// credentials) and the variable that set it.
struct Via {
    shown: String,
    var: &'static str,
}

impl Via {
    fn of(proxy: &ureq::Proxy, var: &'static str) -> Via {
        let shown: String = format!("{}:{}", proxy.host(), proxy.port())
            .chars()
            .take(200)
            .flat_map(char::escape_debug)
            .collect();
        Via { shown, var }
    }

    fn named(&self) -> String {
        format!("the proxy {} ({})", self.shown, self.var)
    }
}

fn timeout_words(via: Option<&Via>) -> String {
    match via {
        None => "it did not answer in time (--fetch-timeout)".into(),
        Some(via) => format!(
            "{} did not get an answer in time (--fetch-timeout); check {}",
            via.named(),
            via.var
        ),
    }
}

/// A transport failure of a request to `url` (through `via`, when a proxy was used) in our
/// words: ureq's text can echo what the server sent. A failure to reach the proxy, resolve its
/// name or have it open a tunnel names the proxy and its variable.
fn transport_words(e: &ureq::Error, url: &str, via: Option<&Via>) -> String {
    let host: String = host_of(url)
        .unwrap_or_default()
        .chars()
        .take(200)
        .flat_map(char::escape_debug)
        .collect();
    let not_found = |io: Option<&std::io::Error>| {
        matches!(e, ureq::Error::HostNotFound) || io.is_some_and(is_name_lookup_failure)
    };
    let io = match e {
        ureq::Error::Io(io) => Some(io),
        _ => None,
    };
    if let Some(via) = via {
        if not_found(io) {
            return format!(
                "the host name of {} does not resolve; fix or unset {}",
                via.named(),
                via.var
            );
        }
        match e {
            ureq::Error::Timeout(_) => return timeout_words(Some(via)),
            ureq::Error::ConnectProxyFailed(_) => {
                return format!(
                    "{} refused to open a tunnel to {host}; check {} (or NO_PROXY)",
                    via.named(),
                    via.var
                );
            }
            ureq::Error::ConnectionFailed => {
                return format!("{} cannot be reached; check {}", via.named(), via.var);
            }
            ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
                return format!("{} cannot be reached; check {}", via.named(), via.var);
            }
            _ => {}
        }
        return format!("{} (through {})", direct_words(e, &host), via.named());
    }
    if not_found(io) {
        return format!("the host name {host} does not resolve");
    }
    direct_words(e, &host)
}

/// A transport failure of a direct request to `host`, in our words.
fn direct_words(e: &ureq::Error, host: &str) -> String {
    match e {
        ureq::Error::Timeout(_) => timeout_words(None),
        // rustls reports a refused handshake through the I/O layer, as `InvalidData`.
        ureq::Error::Io(io) => match io.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) {
            Some(tls) => tls_words(tls, "--ca-file"),
            None => io_words(io),
        },
        ureq::Error::Rustls(tls) => tls_words(tls, "--ca-file"),
        ureq::Error::HostNotFound => format!("the host name {host} does not resolve"),
        ureq::Error::ConnectionFailed => format!("the connection to {host} failed"),
        ureq::Error::Tls(_) => "the TLS connection could not be set up".into(),
        ureq::Error::BodyExceedsLimit(_) => "the response is over 1 MiB".into(),
        _ => "the request failed".into(),
    }
}

/// Why a TLS handshake failed, in our words: which certificate check refused the server, and
/// `ca_option` (`--ca-file` for HTTPS, `sslrootcert` for the PostgreSQL ledger) where it is the
/// fix. The one wording for both: rustls's own names (`UnknownIssuer`) are never shown.
pub fn tls_words(e: &rustls::Error, ca_option: &str) -> String {
    use rustls::CertificateError as C;
    let rustls::Error::InvalidCertificate(cert) = e else {
        return "the TLS handshake failed (the server and jwtctl share no protocol version or \
                cipher, or the connection broke)"
            .into();
    };
    match cert {
        C::NotValidForName | C::NotValidForNameContext { .. } => {
            "the server's certificate is not for this host name; check the URL's host".into()
        }
        C::Expired | C::ExpiredContext { .. } => "the server's certificate has expired; its \
                                                  owner must renew it (or check the clock)"
            .into(),
        C::NotValidYet | C::NotValidYetContext { .. } => {
            "the server's certificate is not valid yet; check the clock".into()
        }
        C::UnknownIssuer => format!(
            "the server's certificate is signed by a CA jwtctl does not trust; pass that CA \
             with {ca_option}"
        ),
        C::Revoked => "the server's certificate is revoked".into(),
        C::InvalidPurpose | C::InvalidPurposeContext { .. } => {
            "the server's certificate is not meant for a TLS server".into()
        }
        _ => format!(
            "the server's certificate was refused (a CA certificate used as the server's own, \
             a bad signature or encoding); check it, or pass its CA with {ca_option}"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http() {
        assert!(check_scheme("https://idp.example/jwks").is_ok());
        assert!(check_scheme("http://127.0.0.1:8080/jwks").is_ok());
        assert!(check_scheme("http://[::1]:8080/jwks").is_ok());
        assert!(check_scheme("http://localhost/jwks").is_ok());
        assert!(check_scheme("http://idp.example/jwks").is_err());
        assert!(check_scheme("http://127.0.0.1.evil.example/jwks").is_err());
        assert!(check_scheme("http://user@evil.example/x").is_err());
        assert!(check_scheme("file:///etc/passwd").is_err());
    }

    #[test]
    fn urls_are_shown_without_credentials_or_query() {
        assert_eq!(
            shown_url("https://user:pw@idp.example/jwks?token=x"),
            "https://idp.example/jwks"
        );
    }

    #[test]
    fn only_the_authority_loses_its_user_information() {
        assert_eq!(
            without_credentials("https://u:pw@idp.example/jwks?x=1"),
            "https://idp.example/jwks?x=1"
        );
        // An '@' in the path is no user information: the host shown is the real one.
        assert_eq!(
            shown_url("https://evil.example/@idp.example/jwks"),
            "https://evil.example/@idp.example/jwks"
        );
    }

    #[test]
    fn loopback_is_localhost_or_a_loopback_address() {
        for url in [
            "http://127.0.0.1:8080/x",
            "http://LocalHost./x",
            "https://[::1]/x",
            "https://[::ffff:127.0.0.1]/x",
            "http://u:p@127.0.0.2/x",
        ] {
            assert!(is_loopback(url), "{url}");
        }
        for url in ["https://idp.example/x", "http://localhost.evil.example/x"] {
            assert!(!is_loopback(url), "{url}");
        }
    }

    #[test]
    fn a_loopback_name_connects_to_loopback_addresses_only() {
        let addrs: Vec<std::net::SocketAddr> = ["203.0.113.7:80", "127.0.0.1:80", "[::1]:80"]
            .iter()
            .map(|a| a.parse().unwrap())
            .collect();
        assert_eq!(loopback_only(&addrs), addrs[1..]);
    }

    #[test]
    fn redirect_locations_are_resolved_as_rfc_3986_says() {
        let resolve = |from: &str, location: &str| resolve(from, location).unwrap();
        let from = "https://idp.example/a/jwks";
        assert_eq!(resolve(from, "//192.0.2.1/x"), "https://192.0.2.1/x");
        assert_eq!(resolve(from, "/keys"), "https://idp.example/keys");
        assert_eq!(resolve(from, "keys"), "https://idp.example/a/keys");
        assert_eq!(resolve(from, "../keys#f"), "https://idp.example/keys");
    }

    #[test]
    fn max_age_is_read_from_cache_control() {
        assert_eq!(max_age("public, max-age=600"), Some(600));
        assert_eq!(max_age("no-store"), None);
    }
}
