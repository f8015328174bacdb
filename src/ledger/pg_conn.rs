//! The PostgreSQL connection behind a deadline: the blocking client lives on a thread of its own,
//! and every exchange with the server is awaited for a bounded time.
//!
//! Invariant: no wait on the server is unbounded. The connection (TCP, TLS, authentication) must
//! be up within `connect_timeout` per host; after that each exchange must be answered within
//! [`Conn::answer_timeout`] (the server's own `statement_timeout` plus `connect_timeout` for the
//! network), or jwtctl gives up with `ledger_error`. A server that accepts and then says nothing,
//! or a proxy that stalls after the handshake, cannot hold jwtctl (tokio-postgres has no read
//! timeout of its own, and TCP's keepalive and user timeout do not fire while the peer
//! acknowledges). A thread stuck on such a server is left behind; the process ends soon after,
//! and the server rolls back whatever transaction it held.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

/// One exchange, run on the connection's thread.
type Job = Box<dyn FnOnce(&mut postgres::Client) + Send>;

/// Why an exchange did not complete.
pub enum Failed {
    /// The server answered with an error, or the connection broke.
    Pg(postgres::Error),
    /// No answer within the deadline; the connection is abandoned.
    TimedOut(Duration),
}

/// The client on its thread, and how long to wait for each answer.
pub struct Conn {
    jobs: Option<Sender<Job>>,
    /// Signalled when the thread has closed the connection (see `Drop`).
    closed: Receiver<()>,
    answer_timeout: Duration,
    /// Set once an exchange timed out: the thread is stuck, nothing more is sent.
    abandoned: bool,
}

impl Conn {
    /// Connect with `config` (one host: see `Target::per_host`) within `connect_timeout`;
    /// answers are then awaited for `answer_timeout`.
    pub fn open(
        config: postgres::Config,
        tls: tokio_postgres_rustls::MakeRustlsConnect,
        connect_timeout: Duration,
        answer_timeout: Duration,
    ) -> Result<Conn, Failed> {
        let (ready, connected) = mpsc::channel();
        let (jobs, queue) = mpsc::channel::<Job>();
        let (closing, closed) = mpsc::channel();
        std::thread::spawn(move || match config.connect(tls) {
            Ok(mut client) => {
                let _ = ready.send(Ok(()));
                for job in queue {
                    job(&mut client);
                }
                drop(client);
                let _ = closing.send(());
            }
            Err(e) => {
                let _ = ready.send(Err(e));
            }
        });
        let limit = connect_timeout;
        match connected.recv_timeout(limit) {
            Ok(Ok(())) => Ok(Conn {
                jobs: Some(jobs),
                closed,
                answer_timeout,
                abandoned: false,
            }),
            Ok(Err(e)) => Err(Failed::Pg(e)),
            Err(_) => Err(Failed::TimedOut(limit)),
        }
    }

    /// Run `exchange` against the server, waiting at most the answer timeout for it.
    pub fn call<R: Send + 'static>(
        &mut self,
        exchange: impl FnOnce(&mut postgres::Client) -> Result<R, postgres::Error> + Send + 'static,
    ) -> Result<R, Failed> {
        let timeout = self.answer_timeout;
        let Some(jobs) = self.jobs.as_ref().filter(|_| !self.abandoned) else {
            return Err(Failed::TimedOut(timeout));
        };
        let (answer, answered) = mpsc::sync_channel(1);
        let job: Job = Box::new(move |client| {
            let _ = answer.send(exchange(client));
        });
        if jobs.send(job).is_err() {
            self.abandoned = true;
            return Err(Failed::TimedOut(timeout));
        }
        match answered.recv_timeout(timeout) {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(Failed::Pg(e)),
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                self.abandoned = true;
                Err(Failed::TimedOut(timeout))
            }
        }
    }
}

impl Drop for Conn {
    /// Close the connection politely (the server then logs no lost client), waiting briefly;
    /// an abandoned connection is left to the end of the process.
    fn drop(&mut self) {
        drop(self.jobs.take());
        if !self.abandoned {
            let _ = self.closed.recv_timeout(Duration::from_secs(1));
        }
    }
}
