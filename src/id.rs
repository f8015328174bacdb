//! What no id or identity value may hold, wherever it comes from: a flag, `--claim`, `--claims`.

/// What is wrong with an id or identity value, if anything.
///
/// Invariant: an id, issuer, subject, audience, key id or filter value an operator types (a flag,
/// or a registered claim of `issue --claim`/`--claims`) is never
/// empty, blank or holding a control character (a newline, tab, escape, DEL, C1). Such a value is
/// a mistake (an unset shell variable, a newline pasted from a file, an escape from a terminal):
/// a revocation stored under it would match no token the operator meant, a filter would find
/// nothing, a token issued with it would carry a value no one can type back. So it is a usage
/// error before anything is read, opened or written. (A logged token whose own claim holds a
/// control character is still found by `log search --token` or another field.)
pub fn problem(value: &str) -> Option<&'static str> {
    if value.is_empty() {
        Some("is empty")
    } else if value.chars().any(char::is_control) {
        Some("holds a control character (a newline, tab or escape)")
    } else if value.trim().is_empty() {
        Some("is blank")
    } else {
        None
    }
}
