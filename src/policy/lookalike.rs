//! Issuer names as a lax verifier might read them, to tell when two differently written names
//! could be taken for one issuer (`refresh --policy --iss` must name none of the policy's).
//!
//! Invariant: two names that differ only in what some verifier ignores or normalises (scheme,
//! a default port, userinfo, query, fragment, a trailing dot or slashes, case, percent-encoding,
//! surrounding whitespace, a missing scheme) have the same [`loose`] form. The
//! comparison is deliberately wider than any one verifier's: a false match only refuses an
//! `--iss`, a missed one mints a token another verifier takes for the provider's.

use url::Url;

/// The loose form of an issuer name: its host (lowercase, percent-decoded, no
/// trailing dot), a port other than 80 or 443, and its path (percent-decoded, lowercase, no
/// trailing slashes); scheme, userinfo, query and fragment dropped. A name that is no URL
/// even so is lowercased and trimmed of whitespace, trailing dots and slashes.
pub fn loose(name: &str) -> String {
    let name = name.trim();
    let rest = without_scheme(name).trim_start_matches(['/', '\\']);
    let Ok(url) = Url::parse(&format!("https://{rest}")) else {
        return name.to_lowercase().trim_end_matches(['/', '.']).to_owned();
    };
    let host = url.host_str().unwrap_or_default().trim_end_matches('.');
    let port = url
        .port()
        .filter(|p| *p != 80 && *p != 443)
        .map_or_else(String::new, |p| format!(":{p}"));
    let path = percent_encoding::percent_decode_str(url.path()).decode_utf8_lossy();
    let path = path.to_lowercase();
    format!("{host}{port}{}", path.trim_end_matches('/'))
}

/// `name` without a leading `SCHEME://`, or `http:`/`https:` with no slashes (which a URL
/// parser reads as a scheme); `accounts.google.com:443` keeps its host, as it has no `//`.
fn without_scheme(name: &str) -> &str {
    if let Some((scheme, rest)) = name.split_once("://") {
        let mut chars = scheme.chars();
        let first = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
        if first && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) {
            return rest;
        }
    }
    for scheme in ["https:", "http:"] {
        if name
            .get(..scheme.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
        {
            return &name[scheme.len()..];
        }
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_a_lax_verifier_could_take_for_one_issuer_are_one() {
        let google = loose("https://accounts.google.com");
        for name in [
            "https://accounts.google.com",
            "accounts.google.com",
            "http://accounts.google.com",
            "HTTPS://Accounts.Google.COM/",
            "https://accounts.google.com:443",
            "https://accounts.google.com:80/",
            " https://accounts.google.com ",
            "https://accounts.google.com.",
            "https://accounts.google.com/#",
            "https://accounts.google.com/?",
            "https://accounts.google.com?x=1#y",
            "https://user@accounts.google.com",
            "https://user:pw@accounts.google.com//",
            "https://accounts.google%2Ecom",
            "https://%61ccounts.google.com",
            "//accounts.google.com",
            "accounts.google.com.",
            "https:accounts.google.com",
            "wss://accounts.google.com",
            "https://accounts.google.com/./",
            "accounts.google.com:443",
        ] {
            assert_eq!(loose(name), google, "{name}");
        }
        let github = loose("https://token.actions.githubusercontent.com");
        assert_eq!(loose("token.actions.githubusercontent.com"), github);
        assert_eq!(
            loose("https://gitlab.example/%47itlab/"),
            loose("https://gitlab.example/gitlab")
        );
        // Other issuers stay other.
        for name in [
            "https://accounts.google.com.evil.example",
            "https://accounts.google.com:8443",
            "https://accounts.google.com/other",
            "https://jwtctl.example",
            "https://evil.example/accounts.google.com",
        ] {
            assert_ne!(loose(name), google, "{name}");
        }
    }
}
