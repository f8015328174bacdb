//! The PostgreSQL connection's byte stream, opened by jwtctl and capped: what one exchange may
//! read from the server is bounded, so a hostile server cannot make jwtctl hold unbounded memory.
//!
//! Invariant: the bytes read from the server (TLS records included) between two resets of a
//! [`Budget`] never exceed its limit; past it every read fails and the budget says so, and the
//! exchange is given up as "not PostgreSQL". tokio-postgres reserves a message's whole declared
//! length (up to 2 GiB) and reads until it has it: without this cap, a length of 0x7ffffff0 and
//! a stream of zeros grew jwtctl to 1.5 GB. The cap sits below TLS (a wrapper above it could
//! not see plaintext connections), so it counts bytes, not messages.

use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};
use tokio_postgres::config::Host;

/// How many bytes the current exchange may still read, and whether one went over.
#[derive(Clone, Debug, Default)]
pub struct Budget(Arc<(AtomicU64, AtomicBool)>);

impl Budget {
    /// Allow `limit` more bytes, for the next exchange.
    pub fn reset(&self, limit: u64) {
        self.0.0.store(limit, Ordering::SeqCst);
    }

    /// Whether a read went over the limit (the connection is then unusable).
    pub fn exceeded(&self) -> bool {
        self.0.1.load(Ordering::SeqCst)
    }

    /// Take `n` bytes from the budget; false (and exceeded from now on) when there were fewer.
    fn take(&self, n: u64) -> bool {
        let left = self.0.0.load(Ordering::SeqCst);
        if n > left || self.exceeded() {
            self.0.1.store(true, Ordering::SeqCst);
            return false;
        }
        self.0.0.store(left - n, Ordering::SeqCst);
        true
    }
}

/// A TCP or Unix socket to the server, reads counted against a [`Budget`].
pub struct Capped {
    socket: Socket,
    budget: Budget,
}

enum Socket {
    Tcp(TcpStream),
    Unix(UnixStream),
}

/// Connect to `host` (at `hostaddr` when given, else each address its name resolves to, in
/// turn) on `port`; a socket directory gets PostgreSQL's `.s.PGSQL.<port>` file.
pub async fn connect(
    host: &Host,
    hostaddr: Option<IpAddr>,
    port: u16,
    budget: Budget,
) -> io::Result<Capped> {
    let socket = match host {
        Host::Unix(dir) => {
            Socket::Unix(UnixStream::connect(dir.join(format!(".s.PGSQL.{port}"))).await?)
        }
        Host::Tcp(name) => {
            let addrs: Vec<std::net::SocketAddr> = match hostaddr {
                Some(ip) => vec![(ip, port).into()],
                None => tokio::net::lookup_host((name.as_str(), port))
                    .await?
                    .collect(),
            };
            let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
            let mut found = None;
            for addr in addrs {
                match TcpStream::connect(addr).await {
                    Ok(stream) => {
                        found = Some(stream);
                        break;
                    }
                    Err(e) => last = e,
                }
            }
            let stream = found.ok_or(last)?;
            stream.set_nodelay(true)?;
            Socket::Tcp(stream)
        }
    };
    Ok(Capped { socket, budget })
}

impl AsyncRead for Capped {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.budget.exceeded() {
            return Poll::Ready(Err(over_the_limit()));
        }
        let before = buf.filled().len();
        let this = &mut *self;
        let polled = match &mut this.socket {
            Socket::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Socket::Unix(s) => Pin::new(s).poll_read(cx, buf),
        };
        if let Poll::Ready(Ok(())) = polled {
            let read = (buf.filled().len() - before) as u64;
            if !this.budget.take(read) {
                return Poll::Ready(Err(over_the_limit()));
            }
        }
        polled
    }
}

impl AsyncWrite for Capped {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &mut self.socket {
            Socket::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Socket::Unix(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.socket {
            Socket::Tcp(s) => Pin::new(s).poll_flush(cx),
            Socket::Unix(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.socket {
            Socket::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Socket::Unix(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

/// The read error past the budget; its text is never shown ([`Budget::exceeded`] is asked).
fn over_the_limit() -> io::Error {
    io::Error::other("the server's answer is over the limit")
}
