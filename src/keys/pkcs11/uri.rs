//! RFC 7512 PKCS#11 URIs, read as hostile input: bounded, percent-decoded by a real decoder,
//! each attribute at most once, anything jwtctl does not understand refused by name (never by
//! value), and a PIN in the URI (`pin-value`) refused.

use std::fmt;
use std::path::PathBuf;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

use crate::error::{Error, Result};

/// The longest URI read (RFC 7512 sets none; real ones are a few hundred bytes).
const MAX_URI: usize = 4096;

/// Whether a key file name is a PKCS#11 URI (the scheme is case-insensitive, RFC 3986 §3.1).
pub fn is_uri(text: &[u8]) -> bool {
    text.get(..7)
        .is_some_and(|s| s.eq_ignore_ascii_case(b"pkcs11:"))
}

/// A PKCS#11 URI's attributes jwtctl uses. Debug and Display never show a PIN: the URI can hold
/// none (see [`parse`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Uri {
    /// The token's label (`token=`), manufacturer, model and serial number.
    pub token: Option<String>,
    pub manufacturer: Option<String>,
    pub model: Option<String>,
    pub serial: Option<String>,
    /// The slot's number (`slot-id=`, decimal).
    pub slot_id: Option<u64>,
    /// The key's label (`object=`) and `CKA_ID` (`id=`, bytes).
    pub object: Option<String>,
    pub id: Option<Vec<u8>>,
    /// The module to load (`module-path=`, an absolute path).
    pub module_path: Option<PathBuf>,
    /// The file holding the PIN (`pin-source=file:PATH` or `pin-source=PATH`).
    pub pin_source: Option<PathBuf>,
}

fn usage(message: impl Into<String>) -> Error {
    Error::usage(message.into())
}

/// Parse `text`, a `pkcs11:` URI. Every refusal names the attribute and the fix, never a value.
pub fn parse(text: &str) -> Result<Uri> {
    if text.len() > MAX_URI {
        return Err(usage(format!(
            "the PKCS#11 URI is longer than {MAX_URI} bytes; name the token and key with \
             token=, object= or id="
        )));
    }
    if !is_uri(text.as_bytes()) {
        return Err(usage("a PKCS#11 URI starts with 'pkcs11:'"));
    }
    let rest = &text[7..];
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path.contains('#') || query.contains('#') {
        return Err(usage(
            "the PKCS#11 URI has a '#', which RFC 7512 does not allow; percent-encode it as %23",
        ));
    }
    let mut uri = Uri::default();
    let mut seen: Vec<String> = Vec::new();
    for (part, in_query) in path
        .split(';')
        .map(|p| (p, false))
        .chain(query.split('&').map(|p| (p, true)))
    {
        if part.is_empty() {
            continue;
        }
        let Some((name, value)) = part.split_once('=') else {
            return Err(usage(format!(
                "the PKCS#11 URI attribute '{}' has no '=VALUE'; write it as NAME=VALUE",
                shown_name(part)
            )));
        };
        if seen.iter().any(|s| s == name) {
            return Err(usage(format!(
                "the PKCS#11 URI names '{}' twice; give each attribute once",
                shown_name(name)
            )));
        }
        seen.push(name.to_owned());
        if name == "pin-value" {
            // Never repeated, never recorded: the URI is on the command line or in the
            // environment, where other users and shell history can read it.
            return Err(usage(
                "the PKCS#11 URI carries a PIN in 'pin-value', which the process list and shell \
                 history show; put the PIN in a file you own (mode 0600) and name it with \
                 pin-source=file:PATH, or export it in JWTCTL_PKCS11_PIN, and change the PIN if \
                 it was exposed",
            ));
        }
        set(&mut uri, name, value, in_query)?;
    }
    if uri.object.is_none() && uri.id.is_none() {
        return Err(usage(
            "the PKCS#11 URI names no key; add object=LABEL or id=%XX (the key's CKA_LABEL or \
             CKA_ID; 'pkcs11-tool --list-objects' shows them)",
        ));
    }
    Ok(uri)
}

/// An attribute name for a message: short, printable.
fn shown_name(name: &str) -> String {
    name.chars().take(32).flat_map(char::escape_debug).collect()
}

fn set(uri: &mut Uri, name: &str, value: &str, in_query: bool) -> Result<()> {
    let bytes = percent_decode_str(value).collect::<Vec<u8>>();
    let text = || {
        String::from_utf8(bytes.clone()).map_err(|_| {
            usage(format!(
                "the PKCS#11 URI attribute '{name}' is not UTF-8 text once percent-decoded"
            ))
        })
    };
    let misplaced = |want_query: bool| {
        (in_query != want_query).then(|| {
            usage(format!(
                "the PKCS#11 URI attribute '{name}' belongs {} (RFC 7512 §2.3)",
                if want_query {
                    "in the query, after '?'"
                } else {
                    "in the path, before '?'"
                }
            ))
        })
    };
    match name {
        "token" | "manufacturer" | "model" | "serial" | "object" | "id" | "type" | "slot-id" => {
            if let Some(e) = misplaced(false) {
                return Err(e);
            }
        }
        "module-path" | "pin-source" | "module-name" => {
            if let Some(e) = misplaced(true) {
                return Err(e);
            }
        }
        _ => {}
    }
    match name {
        "token" => uri.token = Some(text()?),
        "manufacturer" => uri.manufacturer = Some(text()?),
        "model" => uri.model = Some(text()?),
        "serial" => uri.serial = Some(text()?),
        "object" => uri.object = Some(text()?),
        "id" if bytes.is_empty() => {
            return Err(usage(
                "the PKCS#11 URI's id= is empty; give the key's CKA_ID as %XX",
            ));
        }
        "id" => uri.id = Some(bytes),
        "type" => match text()?.as_str() {
            "private" | "public" => {}
            _ => {
                return Err(usage(
                    "the PKCS#11 URI's type= names no key; use type=private (or leave it out)",
                ));
            }
        },
        "slot-id" => {
            uri.slot_id = Some(
                text()?
                    .parse()
                    .map_err(|_| usage("the PKCS#11 URI's slot-id= is not a decimal number"))?,
            );
        }
        "module-path" => {
            let path = PathBuf::from(text()?);
            if !path.is_absolute() {
                return Err(usage(
                    "the PKCS#11 URI's module-path= is not an absolute path; give the module's \
                     full path (e.g. /usr/lib/softhsm/libsofthsm2.so)",
                ));
            }
            uri.module_path = Some(path);
        }
        "module-name" => {
            return Err(usage(
                "jwtctl does not search for module-name=; give module-path=/full/path.so or set \
                 JWTCTL_PKCS11_MODULE",
            ));
        }
        "pin-source" => {
            // Only an absolute path names the file: anything else may be the PIN itself, or a
            // '|command' holding it, which would be repeated in errors and recorded with the
            // URI. Refused without repeating the value.
            let source = text()?;
            let path = source
                .strip_prefix("file://")
                .or_else(|| source.strip_prefix("file:"))
                .unwrap_or(&source);
            if !path.starts_with('/') {
                return Err(usage(
                    "the PKCS#11 URI's pin-source= must name the PIN's file by its full path:                      pin-source=file:/PATH (not the PIN, a command or a relative name; the                      value is not repeated here, change the PIN if it was exposed)",
                ));
            }
            uri.pin_source = Some(PathBuf::from(path));
        }
        other => {
            return Err(usage(format!(
                "jwtctl does not understand the PKCS#11 URI attribute '{}'; name the token with \
                 token=, serial=, manufacturer=, model= or slot-id=, the key with object= or \
                 id=, and add ?module-path= or ?pin-source= (RFC 7512)",
                shown_name(other)
            )));
        }
    }
    Ok(())
}

/// What RFC 7512 §2.3 leaves unencoded in a value (its `pk11-pchar` less the separators).
const ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

impl fmt::Display for Uri {
    /// The URI as records name the key source: the attributes jwtctl used, re-encoded, never a
    /// PIN (the URI cannot carry one).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let enc = |s: &str| utf8_percent_encode(s, ENCODE).to_string();
        let mut path = Vec::new();
        for (name, value) in [
            ("token", &self.token),
            ("manufacturer", &self.manufacturer),
            ("model", &self.model),
            ("serial", &self.serial),
            ("object", &self.object),
        ] {
            if let Some(v) = value {
                path.push(format!("{name}={}", enc(v)));
            }
        }
        if let Some(id) = &self.id {
            let hex: String = id.iter().map(|b| format!("%{b:02X}")).collect();
            path.push(format!("id={hex}"));
        }
        if let Some(slot) = self.slot_id {
            path.push(format!("slot-id={slot}"));
        }
        let mut query = Vec::new();
        if let Some(p) = &self.module_path {
            query.push(format!("module-path={}", enc(&p.to_string_lossy())));
        }
        if let Some(p) = &self.pin_source {
            query.push(format!("pin-source=file:{}", enc(&p.to_string_lossy())));
        }
        write!(f, "pkcs11:{}", path.join(";"))?;
        if !query.is_empty() {
            write!(f, "?{}", query.join("&"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_percent_decoded_and_displayed_re_encoded() {
        let uri = parse(
            "pkcs11:token=my%20ci;object=jwt-signing;id=%01%ff?module-path=/usr/lib/x.so&pin-source=file:/run/pin",
        )
        .unwrap();
        assert_eq!(uri.token.as_deref(), Some("my ci"));
        assert_eq!(uri.object.as_deref(), Some("jwt-signing"));
        assert_eq!(uri.id.as_deref(), Some(&[1u8, 0xff][..]));
        assert_eq!(uri.module_path, Some(PathBuf::from("/usr/lib/x.so")));
        assert_eq!(uri.pin_source, Some(PathBuf::from("/run/pin")));
        assert_eq!(
            uri.to_string(),
            "pkcs11:token=my%20ci;object=jwt-signing;id=%01%FF?module-path=/usr/lib/x.so&pin-source=file:/run/pin"
        );
        assert_eq!(parse(&uri.to_string()).unwrap(), uri);
    }

    #[test]
    fn hostile_uris_are_refused_without_echoing_values() {
        for (text, word) in [
            ("pkcs11:object=k?pin-value=123456", "pin-value"),
            ("pkcs11:object=k;object=j", "twice"),
            ("pkcs11:object=k;x-vendor=secret", "x-vendor"),
            ("pkcs11:object=k;objekt", "no '=VALUE'"),
            ("pkcs11:token=t", "names no key"),
            ("pkcs11:object=k?module-path=relative.so", "absolute"),
            ("pkcs11:object=k?module-name=softhsm2", "module-path"),
            ("pkcs11:object=k;module-path=/x.so", "in the query"),
            ("pkcs11:object=%ff%fe", "UTF-8"),
            ("pkcs11:object=k;slot-id=one", "decimal"),
            ("pkcs11:object=k#frag", "'#'"),
            ("pkcs11:object=k?pin-source=https://host/pin", "file"),
            ("pkcs11:object=k?pin-source=123456", "full path"),
            ("pkcs11:object=k?pin-source=file:123456", "full path"),
            ("pkcs11:object=k?pin-source=%7Cecho%20123456", "full path"),
            ("pkcs11:object=k?pin-source=file://host/123456", "full path"),
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.message().contains(word), "{text}: {}", e.message());
            assert!(!e.message().contains("123456") && !e.message().contains("secret"));
        }
        let long = format!("pkcs11:object={}", "a".repeat(MAX_URI));
        assert!(parse(&long).unwrap_err().message().contains("longer"));
        // Truncated escapes and odd bytes decode as they are, never panicking.
        for text in [
            "pkcs11:object=%",
            "pkcs11:object=%e",
            "pkcs11:object=\u{1F600}%",
        ] {
            let _ = parse(text);
        }
    }
}
