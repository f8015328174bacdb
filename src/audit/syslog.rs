//! The syslog sink: each record as an RFC 5424 message whose structured data carries the
//! record's fields, to a unix socket (`/dev/log`), UDP, or TCP (RFC 6587 octet counting).
//!
//! Invariant: delivery to a stream target (a unix stream socket, TCP) or a local datagram socket
//! is confirmed by the kernel, and a failure is exit 3 like a failed file write; UDP cannot
//! confirm delivery, and the README says so.

use std::io;
use std::net::{TcpStream, ToSocketAddrs, UdpSocket};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::sink::Sink;
use crate::error::{Error, Result};

/// Where records go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Unix(PathBuf),
    Udp(String),
    Tcp(String),
}

impl Target {
    /// `unix:/dev/log` (the default), `udp://host:port` or `tcp://host:port`.
    pub fn parse(text: &str) -> std::result::Result<Target, String> {
        if text.is_empty() {
            return Ok(Target::Unix("/dev/log".into()));
        }
        if let Some(path) = text.strip_prefix("unix:") {
            return Ok(Target::Unix(path.into()));
        }
        if let Some(addr) = text.strip_prefix("udp://") {
            return Ok(Target::Udp(addr.into()));
        }
        if let Some(addr) = text.strip_prefix("tcp://") {
            return Ok(Target::Tcp(addr.into()));
        }
        Err("expected unix:PATH, udp://HOST:PORT or tcp://HOST:PORT".into())
    }
}

enum Conn {
    UnixDgram(UnixDatagram),
    UnixStream(UnixStream),
    Udp(UdpSocket),
    Tcp(TcpStream),
}

pub(super) struct SyslogSink {
    conn: Mutex<Conn>,
    host: String,
}

/// How long connecting or sending to a syslog target may take.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Connect to `target`; a target that cannot be reached is exit 3, before any operation runs.
pub(super) fn open(target: &Target, host: String) -> Result<SyslogSink> {
    let failed = |e: io::Error| {
        Error::log(format!(
            "cannot reach the syslog target {}: {}; check --log-syslog / JWTCTL_LOG_SYSLOG",
            shown(target),
            crate::error::io_words(&e)
        ))
    };
    let conn = match target {
        Target::Unix(path) => {
            let dgram = UnixDatagram::unbound().map_err(failed)?;
            match dgram.connect(path) {
                Ok(()) => Conn::UnixDgram(dgram),
                Err(e) if e.raw_os_error() == Some(libc::EPROTOTYPE) => {
                    Conn::UnixStream(UnixStream::connect(path).map_err(failed)?)
                }
                Err(e) => return Err(failed(e)),
            }
        }
        Target::Udp(addr) => {
            let socket = UdpSocket::bind(("0.0.0.0", 0)).map_err(failed)?;
            socket.connect(addr.as_str()).map_err(failed)?;
            Conn::Udp(socket)
        }
        Target::Tcp(addr) => {
            let addr = addr
                .to_socket_addrs()
                .map_err(failed)?
                .next()
                .ok_or_else(|| failed(io::ErrorKind::NotFound.into()))?;
            let stream = TcpStream::connect_timeout(&addr, TIMEOUT).map_err(failed)?;
            stream.set_write_timeout(Some(TIMEOUT)).map_err(failed)?;
            Conn::Tcp(stream)
        }
    };
    Ok(SyslogSink {
        conn: Mutex::new(conn),
        host,
    })
}

fn shown(target: &Target) -> String {
    match target {
        Target::Unix(path) => format!("unix:{}", path.display()),
        Target::Udp(addr) => format!("udp://{addr}"),
        Target::Tcp(addr) => format!("tcp://{addr}"),
    }
}

impl Sink for SyslogSink {
    /// Each record its own message: a batch hands over a group of records (lines) at once, and
    /// one message of many records would be neither a record a collector can read nor, over
    /// UDP, a datagram that fits. The first failure stops the group and is reported.
    fn write_line(&self, lines: &str, at: DateTime<Utc>) -> io::Result<()> {
        let mut conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        for line in lines.split_inclusive('\n') {
            let message = rfc5424(line, at, &self.host);
            match &mut *conn {
                Conn::UnixDgram(socket) => socket.send(message.as_bytes()).map(drop),
                Conn::Udp(socket) => socket.send(message.as_bytes()).map(drop),
                // RFC 6587 §3.4.1 octet counting on streams.
                Conn::UnixStream(stream) => framed(stream, &message),
                Conn::Tcp(stream) => framed(stream, &message),
            }?;
        }
        Ok(())
    }
}

fn framed(stream: &mut impl io::Write, message: &str) -> io::Result<()> {
    stream.write_all(format!("{} {message}", message.len()).as_bytes())?;
    stream.flush()
}

/// The RFC 5424 message for one record (a JSON line): facility authpriv, severity from the
/// record's level, every field as an SD-PARAM of `[jwtctl@32473 ...]`, and the JSON as MSG.
pub(super) fn rfc5424(line: &str, at: DateTime<Utc>, host: &str) -> String {
    let record: Value = serde_json::from_str(line).unwrap_or(Value::Null);
    let severity = match record.get("level").and_then(Value::as_str) {
        Some("ERROR") => 3,
        Some("WARN") => 4,
        Some("INFO") => 6,
        _ => 7,
    };
    const AUTHPRIV: u32 = 10;
    let pri = AUTHPRIV * 8 + severity;
    let op = record.get("op").and_then(Value::as_str).unwrap_or("-");
    let mut sd = String::from("[jwtctl@32473");
    if let Some(fields) = record.as_object() {
        for (name, value) in fields.iter().filter(|(n, _)| *n != "timestamp") {
            let text = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            sd.push_str(&format!(" {name}=\"{}\"", sd_escape(&text)));
        }
    }
    sd.push(']');
    format!(
        "<{pri}>1 {} {} jwtctl {} {} {sd} {}",
        at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        header_word(host),
        std::process::id(),
        header_word(op),
        line.trim_end()
    )
}

/// RFC 5424 §6.3.3: `"`, `\` and `]` are escaped in a PARAM-VALUE.
fn sd_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A header field: printable ASCII without spaces, at most 48 characters, or `-`.
fn header_word(text: &str) -> String {
    let word: String = text
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(48)
        .collect();
    if word.is_empty() { "-".into() } else { word }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_become_rfc5424_with_their_fields_as_structured_data() {
        let line =
            r#"{"timestamp":"t","level":"ERROR","op":"verify","reason":"expired","sub":"a\"]\\b"}"#;
        let at = DateTime::from_timestamp(1_795_683_600, 0).unwrap();
        let msg = rfc5424(line, at, "host one");
        assert!(
            msg.starts_with("<83>1 2026-11-26T09:00:00.000000Z hostone jwtctl "),
            "{msg}"
        );
        assert!(msg.contains(r#"reason="expired""#), "{msg}");
        assert!(msg.contains(r#"sub="a\"\]\\b""#), "{msg}");
        assert!(msg.ends_with(line), "{msg}");
    }

    #[test]
    fn targets_read_like_urls() {
        assert_eq!(Target::parse(""), Ok(Target::Unix("/dev/log".into())));
        assert_eq!(
            Target::parse("tcp://127.0.0.1:514"),
            Ok(Target::Tcp("127.0.0.1:514".into()))
        );
        assert!(Target::parse("http://x").is_err());
    }
}
