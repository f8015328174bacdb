//! Characters that must never reach a terminal or a line-based log raw, and their escapes.
//!
//! Invariant: no value from a token, a key set or the command line puts a C0 or C1 control
//! character, DEL, a line or paragraph separator, or a Unicode bidi/format character onto a
//! terminal (stdout, text or JSON, and stderr) or into a syslog message: each is written as
//! `\uXXXX`, which a JSON reader reads back as the same character.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` can change what a terminal or a line-based reader shows: C0 and C1 controls,
/// DEL, U+2028/U+2029, and the format characters (Unicode category Cf: bidi overrides and
/// isolates, zero-width characters, the BOM, tags, and the rest).
pub fn is_hostile(c: char) -> bool {
    matches!(
        c,
        '\0'..='\x1f'
            | '\x7f'..='\u{9f}'
            | '\u{ad}'
            | '\u{600}'..='\u{605}'
            | '\u{61c}'
            | '\u{6dd}'
            | '\u{70f}'
            | '\u{890}'..='\u{891}'
            | '\u{8e2}'
            | '\u{180e}'
            | '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206f}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}'
            | '\u{110bd}'
            | '\u{110cd}'
            | '\u{13430}'..='\u{1343f}'
            | '\u{1bca0}'..='\u{1bca3}'
            | '\u{1d173}'..='\u{1d17a}'
            | '\u{e0001}'
            | '\u{e0020}'..='\u{e007f}'
    )
}

/// `text` with every [`is_hostile`] character written as a JSON escape (`\u202e`; a surrogate
/// pair beyond the BMP). Inside a JSON string the result is the same string to a JSON reader.
///
/// The one escape for one line: a value placed in a line of text output (a ledger id, a URL),
/// a compact JSON document (`serde_json::to_string`, whose strings hold no raw C0 and whose
/// structure holds no whitespace), and a stderr message.
pub fn json_escaped(text: &str) -> Cow<'_, str> {
    escaped(text, false)
}

/// A whole answer for stdout, its line structure (a newline or CRLF, as a PEM block ends its
/// lines, and the tab between the columns of a listing) kept and every other [`is_hostile`]
/// character escaped as in [`json_escaped`] (a lone CR too): the last guard every answer passes,
/// so no path can put a C1 CSI/OSC, ESC or bidi override on a terminal. JSON stays JSON that
/// reads back to the same values (raw C1 and format characters only ever occur inside its
/// strings, where serde_json has escaped C0 itself).
pub fn output_escaped(text: &str) -> Cow<'_, str> {
    escaped(text, true)
}

/// `text` escaped; with `lines`, newlines, tabs and the CR of a CRLF kept.
fn escaped(text: &str, lines: bool) -> Cow<'_, str> {
    // Printable ASCII (most answers, whole) needs no look at characters: one byte scan.
    let plain = |b: &u8| matches!(b, 0x20..=0x7e) || (lines && matches!(b, b'\n' | b'\t'));
    if text.as_bytes().iter().all(plain) {
        return Cow::Borrowed(text);
    }
    let escapes = |at: usize, c: char| {
        let structure = matches!(c, '\n' | '\t') || (c == '\r' && text[at..].starts_with("\r\n"));
        is_hostile(c) && !(lines && structure)
    };
    if !text.char_indices().any(|(at, c)| escapes(at, c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for (at, c) in text.char_indices() {
        if escapes(at, c) {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{unit:04x}");
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Whether a value given where a file's path belongs looks like key material or a token pasted
/// by mistake (`--key-file "$TOKEN"`): a JWT or JWS (`eyJ…`), a PEM block, a JWK, or a long run of
/// base64/base64url with no path structure. Such a value is never echoed.
///
/// Invariant: key material given by mistake for a path never reaches stderr or the log. Judged
/// only once the value failed to open as a file, so a false positive costs a vaguer message
/// about a file that does not exist, never a refusal.
pub fn looks_like_material(path: &std::path::Path) -> bool {
    let text = path.to_string_lossy();
    let s = text.trim();
    let b64url = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '=');
    let mixed = s.chars().any(|c| c.is_ascii_digit())
        && s.chars().any(|c| c.is_ascii_uppercase())
        && s.chars().any(|c| c.is_ascii_lowercase());
    s.starts_with("eyJ")
        || s.contains("-----BEGIN")
        || s.starts_with('{')
        || (s.len() >= 32 && !s.contains('/') && s.chars().all(b64url))
        || (s.len() >= 40
            && mixed
            && !s.starts_with(['/', '.'])
            && s.chars().all(|c| b64url(c) || matches!(c, '+' | '/')))
}

/// The one stderr line for a path flag whose value [`looks_like_material`]: it names the flag,
/// never the value, and says what to give.
pub fn not_a_file(flag: &str, give: &str) -> String {
    format!("the {flag} value is not a file (it looks like a token or a secret: not shown); {give}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_secrets_given_for_a_path_are_told_from_paths() {
        use std::path::Path;
        for material in [
            "eyJhbGciOiJIUzI1NiJ9.e30.x",
            "q8Zr2LkVbN4xT7wYp1cF9sJ3mH6dA0eGuRiOlKzX",
            "q8Zr2LkVbN4xT7wYp1cF9sJ3mH6dA0eG/RiOlKzXyW5+AbC=",
            "-----BEGIN PRIVATE KEY-----",
            "{\"kty\":\"oct\"}",
        ] {
            assert!(
                super::looks_like_material(Path::new(material)),
                "{material}"
            );
        }
        for path in [
            "jwtctl.key",
            "keys/missing.pem",
            "/etc/jwtctl/production-signing-key-2026/key.pem",
            "ci-keys-production-2026-11-30.json",
            "./ring.json",
        ] {
            assert!(!super::looks_like_material(Path::new(path)), "{path}");
        }
    }

    #[test]
    fn controls_separators_and_bidi_become_json_escapes() {
        assert_eq!(json_escaped("plain é ✓"), "plain é ✓");
        assert_eq!(
            json_escaped("a\nb\u{7f}\u{9b}\u{202e}\u{2028}"),
            "a\\u000ab\\u007f\\u009b\\u202e\\u2028"
        );
        assert_eq!(json_escaped("\u{e0041}"), "\\udb40\\udc41");
        let decoded: String =
            serde_json::from_str(&format!("\"{}\"", json_escaped("x\u{9d}\u{2066}y"))).unwrap();
        assert_eq!(decoded, "x\u{9d}\u{2066}y");
    }

    #[test]
    fn an_answer_keeps_its_lines_and_columns_and_stays_json() {
        assert_eq!(output_escaped("a\tb\n-----END\r\n"), "a\tb\n-----END\r\n");
        assert_eq!(output_escaped("over\rwrite\r"), "over\\u000dwrite\\u000d");
        assert_eq!(
            output_escaped("x\u{1b}[2J\r\u{85}\u{9b}\u{202e}\n"),
            "x\\u001b[2J\\u000d\\u0085\\u009b\\u202e\n"
        );
        let value = serde_json::json!({"kid": "A\u{85}C\u{202e}E\u{9b}K\n\u{1b}"});
        let line = format!("{}\n", serde_json::to_string_pretty(&value).unwrap());
        let shown = output_escaped(&line);
        assert!(!shown.contains(['\u{85}', '\u{202e}', '\u{9b}', '\u{1b}']));
        let back: serde_json::Value = serde_json::from_str(&shown).unwrap();
        assert_eq!(back, value);
    }

    #[test]
    fn rust_debug_escapes_cover_the_same_characters() {
        // Messages show token values through `escape_debug`; it must escape these too.
        for c in [
            '\u{9b}', '\u{9d}', '\u{202e}', '\u{2066}', '\u{2028}', '\u{feff}',
        ] {
            assert!(c.escape_debug().len() > 1, "{:x}", c as u32);
        }
    }
}
