//! What no id or identity value may hold, wherever it comes from: a flag, `--claim`, `--claims`.

/// What is wrong with an id or identity value, if anything.
///
/// Invariant: an id, issuer, subject, audience, key id or filter value an operator types (a flag,
/// or a registered claim of `issue --claim`/`--claims`) is never
/// empty, blank or holding a control character (a newline, tab, escape, DEL, C1), an invisible
/// character or a line separator (zero-width, bidi controls, the BOM, U+2028/U+2029, fillers).
/// Such a value is a mistake (an unset shell variable, a newline pasted from a file, an escape
/// from a terminal) or a spoof (a bidi override makes `gpj.exe` read as `exe.jpg`, a zero-width
/// space makes two ids that look the same):
/// a revocation stored under it would match no token the operator meant, a filter would find
/// nothing, a token issued with it would carry a value no one can type back. So it is a usage
/// error before anything is read, opened or written. (A logged token whose own claim holds a
/// control character is still found by `log search --token` or another field.)
pub fn problem(value: &str) -> Option<&'static str> {
    if value.is_empty() {
        Some("is empty")
    } else if value.chars().any(char::is_control) {
        Some("holds a control character (a newline, tab or escape)")
    } else if value.chars().all(|c| c.is_whitespace() || unseen(c)) {
        Some("is blank")
    } else if value.chars().any(unseen) {
        Some("holds an invisible character (zero-width, bidi, a filler or a line separator)")
    } else {
        None
    }
}

/// A character that shows as nothing, or moves or breaks the text around it: the format and
/// separator characters no terminal may show raw ([`crate::escape::is_hostile`]: zero-width,
/// bidi controls and isolates, the BOM, U+2028/U+2029, tags) and the fillers that render as
/// blank but are not whitespace (Hangul fillers, the braille blank).
fn unseen(c: char) -> bool {
    crate::escape::is_hostile(c)
        || matches!(
            c,
            '\u{115f}' | '\u{1160}' | '\u{3164}' | '\u{ffa0}' | '\u{2800}'
        )
}

#[cfg(test)]
mod tests {
    use super::problem;

    #[test]
    fn ids_no_one_can_type_back_or_tell_apart_are_refused() {
        for (value, want) in [
            ("", Some("is empty")),
            (" \u{a0}\u{3000}", Some("is blank")),
            ("\u{200b}", Some("is blank")),
            ("\u{3164}", Some("is blank")),
            ("\u{feff} ", Some("is blank")),
            (
                "a\nb",
                Some("holds a control character (a newline, tab or escape)"),
            ),
            (
                "a\u{9b}31m",
                Some("holds a control character (a newline, tab or escape)"),
            ),
            (
                "a\u{2028}b",
                Some(
                    "holds an invisible character (zero-width, bidi, a filler or a line separator)",
                ),
            ),
            (
                "a\u{202e}b",
                Some(
                    "holds an invisible character (zero-width, bidi, a filler or a line separator)",
                ),
            ),
            (
                "x\u{2066}y\u{2069}",
                Some(
                    "holds an invisible character (zero-width, bidi, a filler or a line separator)",
                ),
            ),
            (
                "a\u{2060}",
                Some(
                    "holds an invisible character (zero-width, bidi, a filler or a line separator)",
                ),
            ),
            ("-odd id", None),
            ("caf\u{e9} \u{65e5}\u{672c}", None),
            ("repo:acme/deploy:ref:refs/heads/main", None),
        ] {
            assert_eq!(problem(value), want, "{value:?}");
        }
    }
}
