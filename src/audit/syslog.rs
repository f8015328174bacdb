//! The syslog sink: each record as an RFC 5424 message whose structured data carries the
//! record's fields, to a unix socket (`/dev/log`), UDP, or TCP (RFC 6587 octet counting).
//!
//! Invariants:
//! - Every write to a syslog target ends within [`TIMEOUT`] (socket send timeouts on every kind
//!   of socket, one deadline for all the records of a write): a stopped collector or a full local
//!   socket is exit 3, never a hang.
//! - Delivery to a TCP target is confirmed: every byte was written and acknowledged by the
//!   peer's TCP (its send queue drained, `SIOCOUTQ`), and the peer had neither closed nor reset
//!   the connection when that was checked. A unix stream target is confirmed when the record is
//!   in the collector's socket and the collector had not closed it. What a collector does with a
//!   record after its kernel has it (an application-level acknowledgement) is out of reach.
//! - UDP cannot confirm delivery: a datagram lost on the way goes unnoticed. A refusal the
//!   kernel reports (ICMP port unreachable, seen on a later send) fails the write, naming the
//!   target.
//! - No input puts a control character into a message: see [`rfc5424`].

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::sink::{Sink, SinkError, SinkResult};
use crate::error::{Error, Result, io_words};
use crate::escape::{is_hostile, json_escaped};

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
    /// The target as the user wrote it, for messages.
    shown: String,
}

/// How long connecting to a syslog target, or one write of records to it, may take.
const TIMEOUT: Duration = Duration::from_secs(5);

/// How the fix is named in every syslog message.
const CHECK: &str = "check the collector, or --log-syslog / JWTCTL_LOG_SYSLOG";

/// Connect to `target`; a target that cannot be reached is exit 3, before any operation runs.
pub(super) fn open(target: &Target, host: String) -> Result<SyslogSink> {
    let shown = shown(target);
    let failed = |e: io::Error| {
        Error::log(format!(
            "cannot reach the syslog target {shown}: {}; {CHECK}",
            reach_words(&e, "did not accept the connection")
        ))
    };
    let conn = match target {
        Target::Unix(path) if path.as_os_str().is_empty() => {
            return Err(Error::log(
                "the syslog target unix: has no socket path; write it as unix:PATH, e.g. \
                 unix:/dev/log, in --log-syslog / JWTCTL_LOG_SYSLOG",
            ));
        }
        Target::Unix(path) => {
            let dgram = UnixDatagram::unbound().map_err(failed)?;
            match dgram.connect(path) {
                Ok(()) => {
                    dgram.set_write_timeout(Some(TIMEOUT)).map_err(failed)?;
                    Conn::UnixDgram(dgram)
                }
                Err(e) if crate::sys::is_wrong_socket_type(&e) => {
                    // A listener whose backlog is full would keep connect waiting.
                    let path = path.clone();
                    let stream = within(move || UnixStream::connect(path)).map_err(failed)?;
                    stream.set_write_timeout(Some(TIMEOUT)).map_err(failed)?;
                    Conn::UnixStream(stream)
                }
                Err(e) => return Err(failed(e)),
            }
        }
        Target::Udp(addr) => {
            let addr = resolve(addr, &shown)?;
            let any: SocketAddr = match addr {
                SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
                SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
            };
            let socket = UdpSocket::bind(any).map_err(failed)?;
            socket.connect(addr).map_err(failed)?;
            socket.set_write_timeout(Some(TIMEOUT)).map_err(failed)?;
            Conn::Udp(socket)
        }
        Target::Tcp(addr) => {
            let addr = resolve(addr, &shown)?;
            let stream = TcpStream::connect_timeout(&addr, TIMEOUT).map_err(failed)?;
            stream.set_write_timeout(Some(TIMEOUT)).map_err(failed)?;
            Conn::Tcp(stream)
        }
    };
    Ok(SyslogSink {
        conn: Mutex::new(conn),
        host,
        shown,
    })
}

/// The first address of `HOST:PORT`; a target written wrong (an IPv6 address without brackets,
/// no port, a port out of range) or a name that does not resolve says so and how to fix it.
fn resolve(addr: &str, shown: &str) -> Result<SocketAddr> {
    const FIX: &str = "in --log-syslog / JWTCTL_LOG_SYSLOG";
    if !addr.starts_with('[') && addr.matches(':').count() > 1 {
        return Err(Error::log(format!(
            "the syslog target {shown} looks like an IPv6 address without brackets; write it \
             with brackets and a port, e.g. tcp://[::1]:514, {FIX}"
        )));
    }
    let (host, port) = addr.rsplit_once(':').unwrap_or((addr, ""));
    let digits = !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit());
    match port.parse::<u16>() {
        Ok(1..) => {}
        _ if digits => {
            return Err(Error::log(format!(
                "the syslog target {shown} has port {port}, which is out of range; give a port \
                 from 1 to 65535 {FIX}"
            )));
        }
        _ => {
            return Err(Error::log(format!(
                "the syslog target {shown} has no port; write it as tcp://HOST:PORT or \
                 udp://HOST:PORT {FIX}"
            )));
        }
    }
    if let Ok(numeric) = addr.parse::<SocketAddr>() {
        return Ok(numeric);
    }
    let name = addr.to_owned();
    match within(move || name.to_socket_addrs().map(|mut addrs| addrs.next())) {
        Ok(Some(found)) => Ok(found),
        Err(e) if e.kind() == io::ErrorKind::TimedOut => Err(Error::log(format!(
            "the name service did not answer for the syslog host {host} within {} s; check \
             the resolver (/etc/resolv.conf), or give an IP address in --log-syslog / \
             JWTCTL_LOG_SYSLOG",
            TIMEOUT.as_secs()
        ))),
        _ => Err(Error::log(format!(
            "the syslog host {host} does not resolve (no address found for that name); \
             check its spelling and the resolver (/etc/hosts, DNS), or give an IP address \
             in --log-syslog / JWTCTL_LOG_SYSLOG"
        ))),
    }
}

/// Run `work` on a thread of its own and wait for it at most [`TIMEOUT`]: for the blocking calls
/// that take no timeout (name resolution, connecting to a unix stream socket whose backlog is
/// full). A call that overruns is left behind; the process ends without waiting for it.
fn within<T: Send + 'static>(
    work: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(work());
    });
    rx.recv_timeout(TIMEOUT)
        .unwrap_or_else(|_| Err(io::ErrorKind::TimedOut.into()))
}

fn shown(target: &Target) -> String {
    match target {
        Target::Unix(path) => format!("unix:{}", path.display()),
        Target::Udp(addr) => format!("udp://{addr}"),
        Target::Tcp(addr) => format!("tcp://{addr}"),
    }
}

/// Our words for a failed connection or delivery; `late` says what did not happen in time (a
/// collector that reads, but too slowly, did take something: it did not take the whole record).
fn reach_words(e: &io::Error, late: &str) -> String {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => format!(
            "it {late} within {} s (a stopped, full, overloaded or slow collector)",
            TIMEOUT.as_secs()
        ),
        io::ErrorKind::ConnectionRefused => "connection refused (nothing listens there)".into(),
        io::ErrorKind::UnexpectedEof => {
            "the collector closed the connection, so delivery is not confirmed".into()
        }
        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => {
            "the collector reset the connection, so delivery is not confirmed".into()
        }
        io::ErrorKind::BrokenPipe => {
            "the collector closed or reset the connection, so delivery is not confirmed".into()
        }
        _ => io_words(e),
    }
}

impl SyslogSink {
    fn failure(&self, e: &io::Error) -> SinkError {
        SinkError(format!(
            "cannot deliver the record to the syslog target {}: {}; {CHECK}",
            self.shown,
            reach_words(e, "did not take the record")
        ))
    }
}

impl Sink for SyslogSink {
    /// Each record its own message: a batch hands over a group of records (lines) at once, and
    /// one message of many records would be neither a record a collector can read nor, over
    /// UDP, a datagram that fits. The first failure stops the group and is reported; the whole
    /// group has one deadline, and on a stream it is confirmed once, after its last record.
    fn write_line(&self, lines: &mut String, at: DateTime<Utc>) -> SinkResult {
        let lines = lines.as_str();
        let deadline = Instant::now() + TIMEOUT;
        let mut conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        for line in lines.split_inclusive('\n') {
            let message = rfc5424(line, at, &self.host);
            match &mut *conn {
                Conn::UnixDgram(socket) => left(deadline)
                    .and_then(|t| socket.set_write_timeout(Some(t)))
                    .and_then(|()| socket.send(message.as_bytes()).map(drop)),
                Conn::Udp(socket) => left(deadline)
                    .and_then(|t| socket.set_write_timeout(Some(t)))
                    .and_then(|()| socket.send(message.as_bytes()).map(drop)),
                // RFC 6587 §3.4.1 octet counting on streams.
                Conn::UnixStream(stream) => framed(stream, &message, deadline, |s, t| {
                    s.set_write_timeout(Some(t))
                }),
                Conn::Tcp(stream) => framed(stream, &message, deadline, |s, t| {
                    s.set_write_timeout(Some(t))
                }),
            }
            .map_err(|e| self.failure(&e))?;
        }
        match &*conn {
            Conn::Tcp(stream) => confirm_tcp(stream, deadline),
            Conn::UnixStream(stream) => still_open(stream),
            Conn::UnixDgram(_) | Conn::Udp(_) => Ok(()),
        }
        .map_err(|e| self.failure(&e))
    }

    fn name(&self) -> String {
        self.shown.clone()
    }
}

/// The time left before `deadline`; none left is `TimedOut`.
fn left(deadline: Instant) -> io::Result<Duration> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(io::ErrorKind::TimedOut.into());
    }
    Ok(left)
}

/// Write `message` octet-counted, each `write(2)` bounded by the time left before `deadline`.
fn framed<S: io::Write>(
    stream: &mut S,
    message: &str,
    deadline: Instant,
    limit: impl Fn(&S, Duration) -> io::Result<()>,
) -> io::Result<()> {
    let framed = format!("{} {message}", message.len());
    let mut rest = framed.as_bytes();
    while !rest.is_empty() {
        limit(stream, left(deadline)?)?;
        match stream.write(rest) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => rest = &rest[n..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// An error when the peer has closed (`UnexpectedEof`) or reset the connection.
fn still_open(stream: &impl std::os::fd::AsRawFd) -> io::Result<()> {
    match crate::sys::peer_closed(stream)? {
        true => Err(io::ErrorKind::UnexpectedEof.into()),
        false => Ok(()),
    }
}

/// Wait (until `deadline`) for the peer's TCP to acknowledge every byte written, then check that
/// the connection was neither closed nor reset meanwhile: what "confirmed" means for TCP.
fn confirm_tcp(stream: &TcpStream, deadline: Instant) -> io::Result<()> {
    let mut pause = Duration::from_micros(50);
    loop {
        still_open(stream)?;
        if crate::sys::unacknowledged_bytes(stream)? == 0 {
            return still_open(stream);
        }
        std::thread::sleep(pause.min(left(deadline)?));
        pause = (pause * 2).min(Duration::from_millis(20));
    }
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
        json_escaped(line.trim_end())
    )
}

/// RFC 5424 §6.3.3: `"`, `\` and `]` are escaped in a PARAM-VALUE; and (our rule, since a
/// line-based store would show a forged message) every control, separator or bidi/format
/// character is written `\uXXXX`, as in JSON. A literal backslash is `\\`, so the two never
/// meet.
fn sd_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        if is_hostile(c) {
            out.push_str(&json_escaped(c.encode_utf8(&mut [0; 4])));
        } else {
            out.push(c);
        }
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
