//! Whether bytes about to become an HMAC secret are key material in any dress.
//!
//! Invariant: the bytes of a key or certificate, which may be public, never become an HMAC
//! secret, or a token MACed with them would verify (RFC 8725 §2.1, key confusion). Recognised
//! however they are dressed: PEM, DER (with trailing whitespace or NULs), JSON (a JWK, with
//! anything after it), OpenSSH/RFC 4716/PuTTY text or the base64 body of an OpenSSH key, UTF-16
//! text with a byte-order mark, and the base64 (standard or url-safe, with or without padding or
//! line breaks) or hex text of any of these, nested up to three times ("hex of base64 of a
//! PEM"). Random secrets, even stored as base64 or hex text, match none of these.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde_json::Value;

use super::{BOM, contains, der, other_key_text};

/// How many layers of base64 or hex text are looked through.
const MAX_DEPTH: usize = 3;

/// Shortest base64 or hex text looked into: no key is shorter (an Ed25519 SPKI is 44 bytes).
const MIN_ENCODED: usize = 32;

/// What key material `bytes` are, if any; `None` for bytes that can only be a secret.
pub(super) fn key_material(bytes: &[u8]) -> Option<&'static str> {
    look(bytes, 0)
}

fn look(bytes: &[u8], depth: usize) -> Option<&'static str> {
    if let Some(text) = utf16_text(bytes) {
        return look(text.as_bytes(), depth);
    }
    let text = bytes.strip_prefix(BOM).unwrap_or(bytes);
    let lead = text.trim_ascii_start();
    let core = trim_end(lead);
    if contains(text, b"-----BEGIN ") || contains(text, b"---- BEGIN ") {
        return Some("a PEM key or certificate");
    }
    if json_first(lead) {
        return Some("JSON (a JWK?)");
    }
    if other_key_text(lead).is_some() || ssh_wire(core) {
        return Some("SSH or PuTTY key text");
    }
    // The bytes as given: any one DER structure (the rule for a raw binary secret). Anything
    // found by trimming or decoding text: only DER that reads as a key or certificate, or one
    // random secret in 65,536 stored as hex or base64 (`0x30 0x1e ...`) would be refused.
    if (depth == 0 && der::sniff(bytes).is_some()) || is_key_der(core) {
        return Some("a DER structure (a key or certificate)");
    }
    if depth < MAX_DEPTH {
        for decoded in [base64_text(core), hex_text(core)].into_iter().flatten() {
            if let Some(what) = look(&decoded, depth + 1) {
                return Some(what);
            }
        }
    }
    None
}

/// Whether `bytes` are DER shaped like a key, certificate or request, judged by structure and
/// not by whether jwtctl can use it (a 1024-bit RSA key, a DSA or P-521 key, a CSR are key
/// material too): a SEQUENCE jwtctl names (SPKI, PKCS#8, a certificate), or one whose content is
/// two or more whole DER elements. A random secret that happens to be one SEQUENCE (`30 1e`
/// and 30 random bytes) almost never has such content.
fn is_key_der(bytes: &[u8]) -> bool {
    use ::der::{Decode, Reader, SliceReader};
    match der::sniff(bytes) {
        None => false,
        Some(der::DerKind::Other) => {
            let Ok(outer) = ::der::asn1::AnyRef::from_der(bytes) else {
                return false;
            };
            let Ok(mut reader) = SliceReader::new(outer.value()) else {
                return false;
            };
            let mut elements = 0;
            while !reader.is_finished() {
                if ::der::asn1::AnyRef::decode(&mut reader).is_err() {
                    return false;
                }
                elements += 1;
            }
            elements >= 2
        }
        Some(_) => true,
    }
}

/// The bytes less trailing ASCII whitespace and NULs.
fn trim_end(bytes: &[u8]) -> &[u8] {
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace() && *b != 0)
        .map_or(0, |i| i + 1);
    &bytes[..end]
}

/// Whether the bytes open with a whole JSON object or array (whatever follows it). Parsed, not
/// sniffed: random bytes start with '{' once in 256.
fn json_first(lead: &[u8]) -> bool {
    if !lead.first().is_some_and(|b| matches!(b, b'{' | b'[')) {
        return false;
    }
    matches!(
        serde_json::Deserializer::from_slice(lead)
            .into_iter::<Value>()
            .next(),
        Some(Ok(Value::Object(_) | Value::Array(_)))
    )
}

/// The OpenSSH wire form a `ssh-ed25519 AAAA...` line's base64 body decodes to: a length-prefixed
/// key type name (RFC 4253 §6.6).
fn ssh_wire(bytes: &[u8]) -> bool {
    const TYPES: [&[u8]; 4] = [b"ssh-", b"ecdsa-sha2-", b"sk-ssh-", b"sk-ecdsa-"];
    let Some((len, rest)) = bytes.split_first_chunk::<4>() else {
        return false;
    };
    let len = u32::from_be_bytes(*len) as usize;
    rest.get(..len)
        .is_some_and(|name| TYPES.iter().any(|t| name.starts_with(t)))
}

/// UTF-16 text with a byte-order mark (what some Windows tools write), as UTF-8.
fn utf16_text(bytes: &[u8]) -> Option<String> {
    let (body, big_endian) = match bytes {
        [0xFF, 0xFE, body @ ..] => (body, false),
        [0xFE, 0xFF, body @ ..] => (body, true),
        _ => return None,
    };
    let units: Vec<u16> = body
        .chunks_exact(2)
        .map(|p| {
            if big_endian {
                u16::from_be_bytes([p[0], p[1]])
            } else {
                u16::from_le_bytes([p[0], p[1]])
            }
        })
        .collect();
    String::from_utf16(&units).ok()
}

/// The bytes base64 text (standard or url-safe, padded or not, with line breaks) stands for.
fn base64_text(text: &[u8]) -> Option<Vec<u8>> {
    let compact: Vec<u8> = text
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    if compact.len() < MIN_ENCODED {
        return None;
    }
    let config = GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true);
    [alphabet::STANDARD, alphabet::URL_SAFE]
        .iter()
        .find_map(|a| GeneralPurpose::new(a, config).decode(&compact).ok())
}

/// The bytes hex text (either case, with whitespace) stands for.
fn hex_text(text: &[u8]) -> Option<Vec<u8>> {
    let digits: Vec<u8> = text
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    if digits.len() < MIN_ENCODED || !digits.len().is_multiple_of(2) {
        return None;
    }
    digits
        .chunks(2)
        .map(|pair| {
            let pair = std::str::from_utf8(pair).ok()?;
            u8::from_str_radix(pair, 16).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_secrets_in_any_text_form_are_not_key_material() {
        let mut raw = [0u8; 48];
        crate::sys::random_bytes(&mut raw).unwrap();
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
        let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        for secret in [
            &raw[..],
            b64.as_bytes(),
            hex.as_bytes(),
            b"correct horse battery staple",
        ] {
            assert_eq!(key_material(secret), None);
        }
    }

    #[test]
    fn a_random_secret_that_looks_like_one_der_sequence_is_still_a_secret_as_text() {
        // `openssl rand -hex 32` can start with 30 1e: one SEQUENCE of 30 bytes, no key.
        let mut raw = vec![0x30, 0x1e];
        raw.extend((0u8..30).map(|i| i.wrapping_mul(37).wrapping_add(11)));
        let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&raw);
        assert_eq!(key_material(hex.as_bytes()), None);
        assert_eq!(key_material(b64.as_bytes()), None);
        // Raw binary bytes that form one DER structure keep the older, stricter rule.
        assert!(key_material(&raw).is_some());
    }

    #[test]
    fn an_openssh_body_is_key_material() {
        // `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA...` without its type word.
        let mut wire = 11u32.to_be_bytes().to_vec();
        wire.extend_from_slice(b"ssh-ed25519");
        wire.extend_from_slice(&32u32.to_be_bytes());
        wire.extend_from_slice(&[7; 32]);
        let body = base64::engine::general_purpose::STANDARD.encode(&wire);
        assert!(key_material(body.as_bytes()).is_some());
    }
}
