//! HTTPS GET for key sets and discovery documents, with jwtctl's rules: HTTPS only (plain HTTP only
//! to loopback), at most 3 redirects and never from HTTPS to HTTP, connect and total timeouts, a
//! 1 MiB cap on the body, TLS by rustls with the platform's trust store (plus `--ca-file`).

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use ureq::Agent;
use ureq::tls::{RootCerts, TlsConfig};

use crate::error::{Error, Reason, Result, io_words};

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
    let Some((scheme, rest)) = url.split_once("://") else {
        return "(not a URL)".into();
    };
    let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    let rest = rest.split(['?', '#']).next().unwrap_or(rest);
    let shown: String = rest
        .chars()
        .take(200)
        .flat_map(char::escape_debug)
        .collect();
    format!("{scheme}://{shown}")
}

/// Whether `url` may be fetched at all: `https://`, or `http://` to a loopback address.
pub fn check_scheme(url: &str) -> Result<()> {
    if url.starts_with("https://") {
        return Ok(());
    }
    if let Some(rest) = url.strip_prefix("http://") {
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let host = match host.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or_default(),
            None => host.rsplit_once(':').map_or(host, |(h, _)| h),
        };
        let loopback =
            host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
        if loopback {
            return Ok(());
        }
    }
    Err(Error::usage(format!(
        "{} is not an https:// URL; plain http is allowed only to loopback addresses",
        shown_url(url)
    )))
}

fn agent(policy: &FetchPolicy) -> Result<Agent> {
    let roots = match &policy.ca_file {
        None => RootCerts::PlatformVerifier,
        // The platform's store plus the private CA (rustls-native-certs reads the store).
        Some(path) => {
            let mut certs: Vec<ureq::tls::Certificate<'static>> =
                rustls_native_certs::load_native_certs()
                    .certs
                    .iter()
                    .map(|c| ureq::tls::Certificate::from_der(c.as_ref()).to_owned())
                    .collect();
            certs.extend(ca_certs(path)?);
            RootCerts::new_with_certs(&certs)
        }
    };
    let config = Agent::config_builder()
        .timeout_connect(Some(policy.connect_timeout))
        .timeout_global(Some(policy.total_timeout))
        .http_status_as_error(false)
        .max_redirects(0)
        .max_redirects_will_error(false)
        .proxy(ureq::Proxy::try_from_env())
        .tls_config(TlsConfig::builder().root_certs(roots).build())
        .build();
    Ok(Agent::new_with_config(config))
}

fn ca_certs(path: &Path) -> Result<Vec<ureq::tls::Certificate<'static>>> {
    let bytes = crate::sys::read_file_bounded(path).map_err(|e| {
        Error::usage(format!(
            "cannot read --ca-file {}: {}",
            path.display(),
            io_words(&e)
        ))
    })?;
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
    Ok(certs)
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
    let agent = agent(policy)?;
    let mut current = url.to_string();
    for _ in 0..=MAX_REDIRECTS {
        let mut request = agent.get(&current).header("Accept", "application/json");
        if let Some(etag) = etag {
            request = request.header("If-None-Match", etag);
        }
        if let Some(date) = last_modified {
            request = request.header("If-Modified-Since", date);
        }
        let response = request
            .call()
            .map_err(|e| unavailable(&current, &transport_words(&e)))?;
        let status = response.status().as_u16();
        if (300..400).contains(&status) && status != 304 {
            current = redirect_target(&current, &response)?;
            continue;
        }
        return read_response(&current, response);
    }
    Err(unavailable(url, "more than 3 redirects"))
}

/// Where a redirect points, refused when it leaves HTTPS for HTTP or is not a URL we fetch.
fn redirect_target(from: &str, response: &ureq::http::Response<ureq::Body>) -> Result<String> {
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| unavailable(from, "a redirect without a Location"))?;
    let target = if location.starts_with('/') {
        let (scheme, rest) = from.split_once("://").unwrap_or(("https", from));
        let authority = rest.split('/').next().unwrap_or_default();
        format!("{scheme}://{authority}{location}")
    } else {
        location.to_string()
    };
    if from.starts_with("https://") && !target.starts_with("https://") {
        return Err(unavailable(
            from,
            "it redirects from https to plain http; refusing",
        ));
    }
    check_scheme(&target).map_err(|_| unavailable(from, "it redirects to a URL jwtctl refuses"))?;
    Ok(target)
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
                    other => unavailable(url, &transport_words(&other)),
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

/// A transport failure in our words (ureq's text can echo what the server sent).
fn transport_words(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(_) => "it did not answer in time (--fetch-timeout)".into(),
        ureq::Error::Io(io) => io_words(io),
        ureq::Error::HostNotFound => "the host name does not resolve".into(),
        ureq::Error::ConnectionFailed => "the connection failed".into(),
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) => {
            "the TLS handshake failed (an untrusted certificate? see --ca-file)".into()
        }
        ureq::Error::BodyExceedsLimit(_) => "the response is over 1 MiB".into(),
        _ => "the request failed".into(),
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
    fn max_age_is_read_from_cache_control() {
        assert_eq!(max_age("public, max-age=600"), Some(600));
        assert_eq!(max_age("no-store"), None);
    }
}
