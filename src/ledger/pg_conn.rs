//! The PostgreSQL connection behind a deadline and a size cap: the client lives on a thread of
//! its own, and every exchange with the server is awaited for a bounded time and may read a
//! bounded number of bytes.
//!
//! Invariants: no wait on the server is unbounded. The connection (TCP, TLS, authentication) must
//! be up within `connect_timeout` per host; after that each exchange must be answered within
//! [`Conn::answer_timeout`] (the server's own `statement_timeout` plus `connect_timeout` for the
//! network), or jwtctl gives up with `ledger_error`. A server that accepts and then says nothing,
//! or a proxy that stalls after the handshake, cannot hold jwtctl (tokio-postgres has no read
//! timeout of its own, and TCP's keepalive and user timeout do not fire while the peer
//! acknowledges). A thread stuck on such a server is left behind; the process ends soon after,
//! and the server rolls back whatever transaction it held.
//! No answer is unbounded either: the connection's set-up and each exchange may read at most
//! [`MAX_ANSWER`] bytes, and `ledger list` (the whole ledger) [`MAX_LIST_ANSWER`] (`pg_stream`).

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

use postgres::types::{ToSql, Type};
use postgres::{Error, Row, SimpleQueryMessage};
use tokio_postgres::config::TargetSessionAttrs;
use tokio_postgres::tls::MakeTlsConnect;

use super::pg_stream::{self, Budget, Capped};

/// What the connection's set-up and each exchange but a listing may read: 1 MiB. jwtctl's
/// answers there are one row or a count (an id is at most a token's size, 64 KiB by default).
pub const MAX_ANSWER: u64 = 1 << 20;

/// What `ledger list` and `ledger stats` may read, the whole ledger in one answer: 256 MiB,
/// about two million entries of the usual size (a row is some 100 bytes plus its id).
pub const MAX_LIST_ANSWER: u64 = 256 << 20;

/// One exchange, run on the connection's thread.
type Job = Box<dyn FnOnce(&mut Client) + Send>;

/// Why an exchange did not complete.
pub enum Failed {
    /// The server answered with an error, or the connection broke.
    Pg(Error),
    /// No answer within the deadline; the connection is abandoned.
    TimedOut(Duration),
    /// The answer ran past this many bytes; the connection is abandoned.
    TooLarge(u64),
    /// The host is not what `target_session_attrs` asks for (read-write or read-only).
    WrongSession,
    /// The socket could not be opened.
    Io(std::io::Error),
}

/// The client as the store uses it: blocking calls on the connection's own runtime.
pub struct Client {
    runtime: tokio::runtime::Runtime,
    client: tokio_postgres::Client,
}

/// A statement's parameters with their types.
pub type Params<'a> = [(&'a (dyn ToSql + Sync), Type)];

impl Client {
    pub fn simple_query(&mut self, sql: &str) -> Result<Vec<SimpleQueryMessage>, Error> {
        self.runtime.block_on(self.client.simple_query(sql))
    }

    pub fn batch_execute(&mut self, sql: &str) -> Result<(), Error> {
        self.runtime.block_on(self.client.batch_execute(sql))
    }

    pub fn query_typed(&mut self, sql: &str, params: &Params<'_>) -> Result<Vec<Row>, Error> {
        self.runtime.block_on(self.client.query_typed(sql, params))
    }

    pub fn query_typed_one(&mut self, sql: &str, params: &Params<'_>) -> Result<Row, Error> {
        self.runtime
            .block_on(self.client.query_typed_one(sql, params))
    }

    pub fn query_typed_opt(
        &mut self,
        sql: &str,
        params: &Params<'_>,
    ) -> Result<Option<Row>, Error> {
        self.runtime
            .block_on(self.client.query_typed_opt(sql, params))
    }

    pub fn execute_typed(&mut self, sql: &str, params: &Params<'_>) -> Result<u64, Error> {
        self.runtime
            .block_on(self.client.execute_typed(sql, params))
    }
}

/// The client on its thread, and how long to wait for each answer.
pub struct Conn {
    jobs: Option<Sender<Job>>,
    /// Signalled when the thread has closed the connection (see `Drop`).
    closed: Receiver<()>,
    answer_timeout: Duration,
    budget: Budget,
    /// Why the connection ended, when it ended on an error (a broken answer): the client's own
    /// calls then only say "closed".
    ended: Ended,
    /// Set once an exchange timed out or ran over: nothing more is sent.
    abandoned: bool,
}

/// Connect and authenticate over a capped stream of our own (tokio-postgres's `connect_raw`,
/// which leaves the socket to us), then check `target_session_attrs` as libpq does.
/// Where the connection's task leaves the error it ended on.
type Ended = std::sync::Arc<std::sync::Mutex<Option<Error>>>;

async fn connect(
    config: &tokio_postgres::Config,
    mut tls: tokio_postgres_rustls::MakeRustlsConnect,
    budget: Budget,
    ended: Ended,
) -> Result<(tokio_postgres::Client, tokio::task::JoinHandle<()>), Failed> {
    use tokio_postgres::config::Host;
    let host = config.get_hosts().first().cloned();
    let host = host.unwrap_or_else(|| Host::Tcp("localhost".into()));
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let hostaddr = config.get_hostaddrs().first().copied();
    let stream = pg_stream::connect(&host, hostaddr, port, budget)
        .await
        .map_err(Failed::Io)?;
    let name = match &host {
        Host::Tcp(name) => name.as_str(),
        Host::Unix(_) => "",
    };
    let tls = <_ as MakeTlsConnect<Capped>>::make_tls_connect(&mut tls, name)
        .map_err(|_| Failed::Io(std::io::Error::other("no TLS for this host name")))?;
    let (client, connection) = config.connect_raw(stream, tls).await.map_err(Failed::Pg)?;
    let driver = tokio::spawn(async move {
        if let Err(e) = connection.await
            && let Ok(mut slot) = ended.lock()
        {
            *slot = Some(e);
        }
    });
    let attrs = config.get_target_session_attrs();
    if attrs != TargetSessionAttrs::Any {
        let answer = client
            .simple_query("SHOW transaction_read_only")
            .await
            .map_err(Failed::Pg)?;
        let read_only = answer
            .iter()
            .any(|m| matches!(m, SimpleQueryMessage::Row(row) if row.get(0) == Some("on")));
        if read_only != (attrs == TargetSessionAttrs::ReadOnly) {
            return Err(Failed::WrongSession);
        }
    }
    Ok((client, driver))
}

impl Conn {
    /// Connect with `config` (one host: see `Target::per_host`) within `connect_timeout`;
    /// answers are then awaited for `answer_timeout`.
    pub fn open(
        config: tokio_postgres::Config,
        tls: tokio_postgres_rustls::MakeRustlsConnect,
        connect_timeout: Duration,
        answer_timeout: Duration,
    ) -> Result<Conn, Failed> {
        let (ready, connected) = mpsc::channel();
        let (jobs, queue) = mpsc::channel::<Job>();
        let (closing, closed) = mpsc::channel();
        let budget = Budget::default();
        budget.reset(MAX_ANSWER);
        let capped = budget.clone();
        let ended = Ended::default();
        let driver_ended = ended.clone();
        std::thread::spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(e) => {
                    let _ = ready.send(Err(Failed::Io(e)));
                    return;
                }
            };
            match runtime.block_on(connect(&config, tls, capped, driver_ended)) {
                Ok((client, driver)) => {
                    let _ = ready.send(Ok(()));
                    let mut client = Client { runtime, client };
                    for job in queue {
                        job(&mut client);
                    }
                    // Dropping the client sends Terminate; let the driver deliver it.
                    let Client { runtime, client } = client;
                    drop(client);
                    let _ = runtime.block_on(async {
                        tokio::time::timeout(Duration::from_secs(1), driver).await
                    });
                    let _ = closing.send(());
                }
                Err(failed) => {
                    let _ = ready.send(Err(failed));
                }
            }
        });
        let over = |failed: Failed| match failed {
            _ if budget.exceeded() => Failed::TooLarge(MAX_ANSWER),
            failed => failed,
        };
        match connected.recv_timeout(connect_timeout) {
            Ok(Ok(())) => Ok(Conn {
                jobs: Some(jobs),
                closed,
                answer_timeout,
                budget,
                ended,
                abandoned: false,
            }),
            Ok(Err(failed)) => Err(over(failed)),
            Err(_) => Err(over(Failed::TimedOut(connect_timeout))),
        }
    }

    /// Run `exchange` against the server, waiting at most the answer timeout for it and
    /// letting it read at most [`MAX_ANSWER`] bytes.
    pub fn call<R: Send + 'static>(
        &mut self,
        exchange: impl FnOnce(&mut Client) -> Result<R, Error> + Send + 'static,
    ) -> Result<R, Failed> {
        self.call_reading(MAX_ANSWER, exchange)
    }

    /// [`Conn::call`], the answer capped at `limit` bytes.
    pub fn call_reading<R: Send + 'static>(
        &mut self,
        limit: u64,
        exchange: impl FnOnce(&mut Client) -> Result<R, Error> + Send + 'static,
    ) -> Result<R, Failed> {
        let timeout = self.answer_timeout;
        let Some(jobs) = self.jobs.as_ref().filter(|_| !self.abandoned) else {
            return Err(Failed::TimedOut(timeout));
        };
        let (answer, answered) = mpsc::sync_channel(1);
        let job: Job = Box::new(move |client| {
            let _ = answer.send(exchange(client));
        });
        self.budget.reset(limit);
        if jobs.send(job).is_err() {
            self.abandoned = true;
            return Err(Failed::TimedOut(timeout));
        }
        let result = match answered.recv_timeout(timeout) {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(e)) if e.is_closed() => {
                let why = self.ended.lock().ok().and_then(|mut slot| slot.take());
                Failed::Pg(why.unwrap_or(e))
            }
            Ok(Err(e)) => Failed::Pg(e),
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                self.abandoned = true;
                Failed::TimedOut(timeout)
            }
        };
        if self.budget.exceeded() {
            self.abandoned = true;
            return Err(Failed::TooLarge(limit));
        }
        Err(result)
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
