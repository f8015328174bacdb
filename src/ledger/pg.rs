//! Reaching the PostgreSQL ledger: its URL and libpq's settings, TLS, and failures in jwtctl's
//! words (the store itself is `pg_store`, the deadlines `pg_conn`).
//!
//! Invariants:
//! - A password never leaves this module: messages, records and `Debug` show the ledger as
//!   [`Target::shown`], built from the host, port, user and database only.
//! - TLS is rustls. `verify-full` (and `verify-ca`, which is checked as strictly) verifies the
//!   server's certificate and host name against the platform's roots plus `sslrootcert`;
//!   `require` and `prefer` encrypt without verifying, as libpq does, unless `sslrootcert` is
//!   given, which makes them verify.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use postgres::config::{Host, SslMode};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use crate::error::{Error, Reason, Result};

/// How long to wait for the server to answer a connection, unless `connect_timeout` says.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Sent with the connection, enforced by the server: no statement waits more than 10 s for a
/// row another session holds, nothing runs longer than 30 s, and a session left idle inside a
/// transaction (a host that hung between its insert and its commit) is ended after 15 s, so it
/// cannot hold its rows from every other host. A server that stops answering altogether is
/// bounded on the client side too (`pg_conn`).
const SESSION_OPTIONS: &str =
    "-c lock_timeout=10s -c statement_timeout=30s -c idle_in_transaction_session_timeout=15s";

/// Whether a `--ledger` value names a PostgreSQL database rather than a SQLite file.
pub fn is_url(location: &str) -> bool {
    let lower = location.get(..13).unwrap_or(location).to_ascii_lowercase();
    lower.starts_with("postgres://") || lower.starts_with("postgresql://")
}

/// Whether a `postgres://` URL carries a password, as the client reads the URL (userinfo up to
/// the first `@`, percent-encoded query keys): what a password on the command line is judged by.
pub fn url_has_password(url: &str) -> bool {
    let (rest, _, _) = split_tls_params(&normalise_scheme(url));
    rest.parse::<postgres::Config>()
        .is_ok_and(|config| config.get_password().is_some())
}

/// The URL with its scheme in lower case (tokio-postgres reads only `postgres://` and
/// `postgresql://`).
fn normalise_scheme(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => format!("{}://{rest}", scheme.to_ascii_lowercase()),
        None => url.to_string(),
    }
}

/// Where a ledger URL points, with the settings jwtctl handles itself.
pub struct Target {
    pub(super) config: postgres::Config,
    /// `sslmode` as given (or `prefer`): tokio-postgres knows only disable, prefer and require.
    ssl_mode: String,
    /// `sslrootcert`: a PEM file of CA certificates to trust besides the platform's.
    root_cert: Option<String>,
    /// The URL as messages show it: no password, ever.
    pub shown: String,
    /// Why no password was found, for the message when the server asks for one.
    pub(super) no_password: String,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target").field("url", &self.shown).finish()
    }
}

fn url_error(why: &str) -> Error {
    Error::usage(format!(
        "the ledger URL cannot be used: {why}; write it as \
         postgres://USER@HOST:PORT/DATABASE?sslmode=verify-full (see docs/ledger.md, \"PostgreSQL\")"
    ))
}

/// Take `sslmode` and `sslrootcert` out of the URL's query (tokio-postgres refuses the values
/// jwtctl handles itself); returns the rest of the URL and the two values.
fn split_tls_params(url: &str) -> (String, Option<String>, Option<String>) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_string(), None, None);
    };
    let (mut mode, mut root) = (None, None);
    let rest: Vec<&str> = query
        .split('&')
        .filter(|pair| match pair.split_once('=') {
            Some(("sslmode", v)) => {
                mode = Some(v.to_string());
                false
            }
            Some(("sslrootcert", v)) => {
                root = Some(v.to_string());
                false
            }
            _ => !pair.is_empty(),
        })
        .collect();
    let url = if rest.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    (url, mode, root)
}

/// A libpq environment variable, when set and not empty.
fn pg_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// What the URL leaves out, from libpq's variables, else libpq's defaults: host (the socket
/// directory), port, user (the login name), database (the user), connect timeout.
fn fill_from_env(config: &mut postgres::Config) -> Result<()> {
    if config.get_hosts().is_empty() {
        match pg_env("PGHOST") {
            // A list, as libpq takes it: each host is tried in turn until one connects.
            Some(hosts) => {
                for host in hosts.split(',') {
                    if host.starts_with('/') {
                        config.host_path(host);
                    } else {
                        config.host(host);
                    }
                }
            }
            None => {
                let dir = ["/var/run/postgresql", "/tmp"]
                    .into_iter()
                    .find(|d| std::path::Path::new(d).is_dir())
                    .unwrap_or("/tmp");
                config.host_path(dir);
            }
        }
    }
    if config.get_ports().is_empty()
        && let Some(ports) = pg_env("PGPORT")
    {
        for port in ports.split(',') {
            let port = port
                .parse()
                .map_err(|_| url_error("PGPORT is not a port number (or a list of them)"))?;
            config.port(port);
        }
    }
    let (hosts, ports) = (config.get_hosts().len(), config.get_ports().len());
    if ports > 1 && ports != hosts {
        return Err(url_error(&format!(
            "it lists {ports} ports for {hosts} hosts; give one port for all, or one per host"
        )));
    }
    if config.get_user().is_none() {
        let user = pg_env("PGUSER").or_else(|| crate::sys::user().1);
        let user = user.ok_or_else(|| url_error("it names no user, and PGUSER is unset"))?;
        config.user(&user);
    }
    if config.get_dbname().is_none() {
        let db = pg_env("PGDATABASE").or_else(|| config.get_user().map(str::to_string));
        if let Some(db) = db {
            config.dbname(&db);
        }
    }
    if config.get_connect_timeout().is_none() {
        let secs = match pg_env("PGCONNECT_TIMEOUT") {
            Some(value) => connect_timeout_secs(&value)?,
            None => None,
        };
        config.connect_timeout(secs.map_or(CONNECT_TIMEOUT, Duration::from_secs));
    }
    Ok(())
}

/// `PGCONNECT_TIMEOUT` read as the URL's `connect_timeout` is: whole seconds, where 0 or a
/// negative number (libpq's "no limit") gives None, jwtctl's default, since jwtctl never waits
/// without a bound; anything else is a usage error rather than a silent default.
fn connect_timeout_secs(value: &str) -> Result<Option<u64>> {
    let secs: i64 = value.trim().parse().map_err(|_| {
        Error::usage(
            "PGCONNECT_TIMEOUT is not a whole number of seconds; set it to one (such as 10), or \
             unset it for the 5 s default",
        )
    })?;
    Ok(u64::try_from(secs).ok().filter(|s| *s > 0))
}

impl Target {
    /// Read a `postgres://` URL, filling what it leaves out from libpq's variables (`PGHOST`,
    /// `PGPORT`, `PGUSER`, `PGDATABASE`, `PGPASSWORD`, `PGPASSFILE`, `PGSSLMODE`,
    /// `PGSSLROOTCERT`, `PGCONNECT_TIMEOUT`) and libpq's defaults.
    pub fn parse(url: &str) -> Result<Target> {
        let (rest, mode, root) = split_tls_params(&normalise_scheme(url));
        let mut config: postgres::Config = rest
            .parse()
            .map_err(|_| url_error("it is not a PostgreSQL URL jwtctl can read"))?;
        fill_from_env(&mut config)?;
        let options = match config.get_options() {
            Some(given) => format!("{SESSION_OPTIONS} {given}"),
            None => SESSION_OPTIONS.to_string(),
        };
        config.options(&options);
        config.application_name("jwtctl");
        let ssl_mode = mode
            .or_else(|| pg_env("PGSSLMODE"))
            .unwrap_or_else(|| "prefer".into());
        let root_cert = root.or_else(|| pg_env("PGSSLROOTCERT"));
        config.ssl_mode(match ssl_mode.as_str() {
            "disable" => SslMode::Disable,
            // With a root certificate named, TLS is required: falling back to plaintext would
            // let anyone on the path skip the verification it asks for.
            "allow" | "prefer" if root_cert.is_some() => SslMode::Require,
            "allow" | "prefer" => SslMode::Prefer,
            "require" | "verify-ca" | "verify-full" => SslMode::Require,
            _ => {
                return Err(url_error(
                    "sslmode takes disable, prefer, require, verify-ca or verify-full",
                ));
            }
        });
        let mut target = Target {
            shown: String::new(),
            config,
            ssl_mode,
            root_cert,
            no_password: String::new(),
        };
        target.shown = target.show();
        if target.config.get_password().is_none() {
            match pg_env("PGPASSWORD").map_or_else(|| target.passfile_password(), Ok) {
                Ok(password) => {
                    target.config.password(password);
                }
                Err(why) => target.no_password = why,
            }
        }
        Ok(target)
    }

    /// The hosts of the list in order, each as `host:port` (or the socket directory) and a
    /// configuration that names it alone: each is given its own `connect_timeout`, as libpq
    /// gives it (tokio-postgres bounds only the TCP connect, so a host that accepts and then
    /// stalls would hold every later one).
    pub(super) fn per_host(&self) -> Vec<(String, tokio_postgres::Config)> {
        let c = &self.config;
        let ports = c.get_ports();
        c.get_hosts()
            .iter()
            .enumerate()
            .map(|(i, host)| {
                let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
                let mut one = self.without_hosts();
                let label = match host {
                    Host::Tcp(name) => {
                        one.host(name);
                        if name.contains(':') {
                            format!("[{name}]:{port}")
                        } else {
                            format!("{name}:{port}")
                        }
                    }
                    Host::Unix(dir) => {
                        one.host_path(dir);
                        dir.display().to_string()
                    }
                };
                if let Some(addr) = c.get_hostaddrs().get(i) {
                    one.hostaddr(*addr);
                }
                one.port(port);
                (label, one)
            })
            .collect()
    }

    /// This configuration with every setting but the hosts, their addresses and ports.
    fn without_hosts(&self) -> tokio_postgres::Config {
        let c = &self.config;
        let mut one = tokio_postgres::Config::new();
        if let Some(user) = c.get_user() {
            one.user(user);
        }
        if let Some(password) = c.get_password() {
            one.password(password);
        }
        if let Some(db) = c.get_dbname() {
            one.dbname(db);
        }
        if let Some(options) = c.get_options() {
            one.options(options);
        }
        if let Some(name) = c.get_application_name() {
            one.application_name(name);
        }
        if let Some(t) = c.get_tcp_user_timeout() {
            one.tcp_user_timeout(*t);
        }
        if let Some(t) = c.get_keepalives_interval() {
            one.keepalives_interval(t);
        }
        if let Some(n) = c.get_keepalives_retries() {
            one.keepalives_retries(n);
        }
        one.connect_timeout(self.connect_timeout())
            .ssl_mode(c.get_ssl_mode())
            .ssl_negotiation(c.get_ssl_negotiation())
            .keepalives(c.get_keepalives())
            .keepalives_idle(c.get_keepalives_idle())
            .target_session_attrs(c.get_target_session_attrs())
            .channel_binding(c.get_channel_binding());
        one
    }

    /// How long one host may take to connect (TCP, TLS and authentication together).
    pub(super) fn connect_timeout(&self) -> Duration {
        self.config
            .get_connect_timeout()
            .copied()
            .unwrap_or(CONNECT_TIMEOUT)
    }

    /// How long any later answer may take: the session's `statement_timeout` (ours, or a
    /// shorter or longer one given in the URL's `options`), plus the connect timeout for the
    /// network. Past it the server is taken to have stalled.
    pub(super) fn answer_timeout(&self) -> Duration {
        let statement = self
            .config
            .get_options()
            .and_then(statement_timeout)
            .unwrap_or(super::pg_store::DEFAULT_STATEMENT_TIMEOUT);
        statement.saturating_add(self.connect_timeout())
    }

    /// `postgres://user@host:port/db`, `postgres://user@/db?host=/dir` for a socket directory.
    fn show(&self) -> String {
        let user = self.config.get_user().unwrap_or("");
        let db = self.config.get_dbname().unwrap_or("");
        let ports = self.config.get_ports();
        let mut hosts = Vec::new();
        let mut dirs = Vec::new();
        for (i, host) in self.config.get_hosts().iter().enumerate() {
            // One port for every host, or one each (checked in `fill_from_env`).
            let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
            match host {
                Host::Tcp(name) if name.contains(':') => hosts.push(format!("[{name}]:{port}")),
                Host::Tcp(name) => hosts.push(format!("{name}:{port}")),
                Host::Unix(dir) => dirs.push(dir.display().to_string()),
            }
        }
        let mut shown = format!("postgres://{user}@{}/{db}", hosts.join(","));
        if let Some(dir) = dirs.first() {
            shown.push_str(&format!("?host={dir}"));
        } else {
            shown.push_str(&format!("?sslmode={}", self.ssl_mode));
        }
        shown
    }

    /// The password `PGPASSFILE` (default `~/.pgpass`) holds for this host, port, database and
    /// user, or why there is none (for the message, should the server ask for one). As libpq
    /// does, a file others can read is ignored.
    fn passfile_password(&self) -> std::result::Result<String, String> {
        const SET_ONE: &str = "set PGPASSWORD, or put the password in ~/.pgpass or PGPASSFILE \
                               (libpq's format, mode 0600), or the whole URL in JWTCTL_LEDGER";
        let path = pg_env("PGPASSFILE")
            .map(std::path::PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".pgpass")))
            .ok_or_else(|| format!("no password is set; {SET_ONE}"))?;
        let shown = path.display();
        let meta = std::fs::metadata(&path)
            .map_err(|_| format!("no password is set and {shown} does not exist; {SET_ONE}"))?;
        // A directory (or a device, a FIFO) is no password file, whatever its mode: chmod is
        // never the advice for it (`chmod 600 /tmp` would break the host).
        if !meta.is_file() {
            return Err(format!(
                "{shown} is not a password file ({}); point PGPASSFILE at a regular file in \
                 libpq's format, mode 0600, or set PGPASSWORD",
                if meta.is_dir() {
                    "it is a directory"
                } else {
                    "it is not a regular file"
                }
            ));
        }
        // Read once, through `trusted` (the owner and directory rule of key files), and judged
        // by the mode of the descriptor read, not by a second look at the name.
        let unreadable = || format!("the password file {shown} cannot be read; {SET_ONE}");
        let contents = crate::trusted::read(&path).map_err(|e| match e {
            crate::trusted::ReadError::Refused(why) => why.message("password file", &path),
            crate::trusted::ReadError::Io(_) => unreadable(),
        })?;
        if contents.mode & 0o077 != 0 {
            return Err(format!(
                "the password file {shown} was ignored because other users can read it (mode \
                 {:04o}), as libpq ignores it; run chmod 600 {shown}",
                contents.mode
            ));
        }
        let text = String::from_utf8(contents.bytes).map_err(|_| unreadable())?;
        let host = match self.config.get_hosts().first() {
            Some(Host::Tcp(name)) => name.clone(),
            // libpq matches a socket connection as "localhost".
            Some(Host::Unix(_)) | None => "localhost".into(),
        };
        let port = self.config.get_ports().first().copied().unwrap_or(5432);
        let want = [
            host,
            port.to_string(),
            self.config.get_dbname().unwrap_or("").to_string(),
            self.config.get_user().unwrap_or("").to_string(),
        ];
        let line = text
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(passfile_fields)
            .find(|fields| {
                fields[..4]
                    .iter()
                    .zip(&want)
                    .all(|(have, want)| have == "*" || have == want)
            });
        line.map(|mut fields| fields.swap_remove(4)).ok_or_else(|| {
            format!(
                "the password file {shown} has no line for {}; add HOST:PORT:DATABASE:USER:PASSWORD",
                want.join(":")
            )
        })
    }
}

/// The last `statement_timeout` an options string sets (`-c statement_timeout=5s`), in the
/// units PostgreSQL takes (`ms`, `s`, `min`; a bare number is milliseconds). Zero (no limit on
/// the server) and anything unreadable give None, the default.
fn statement_timeout(options: &str) -> Option<Duration> {
    let value = options
        .split_whitespace()
        .filter_map(|word| word.strip_prefix("statement_timeout="))
        .next_back()?;
    let digits = value.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let number: u64 = digits.parse().ok()?;
    let timeout = match &value[digits.len()..] {
        "" | "ms" => Duration::from_millis(number),
        "s" => Duration::from_secs(number),
        "min" => Duration::from_secs(number.saturating_mul(60)),
        _ => return None,
    };
    (!timeout.is_zero()).then_some(timeout)
}

/// The five `:`-separated fields of a `.pgpass` line, with `\:` and `\\` unescaped.
fn passfile_fields(line: &str) -> Option<Vec<String>> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => fields.last_mut()?.push(chars.next()?),
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => fields.last_mut()?.push(c),
        }
    }
    (fields.len() == 5).then_some(fields)
}

/// Accepts any server certificate (still checking the handshake's signatures): what libpq's
/// `require` and `prefer` do without a root certificate. Encryption against a passive listener,
/// no defence against an active one; docs/ledger.md says so and recommends `verify-full`.
#[derive(Debug)]
struct EncryptOnly(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The rustls client configuration `sslmode` and `sslrootcert` ask for.
pub(super) fn tls_config(target: &Target) -> Result<rustls::ClientConfig> {
    let provider = crate::net::tls_provider();
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|_| tls_error(target, "no TLS version is available"))?;
    let verify = target.ssl_mode.starts_with("verify-") || target.root_cert.is_some();
    if !verify {
        return Ok(builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(EncryptOnly(provider)))
            .with_no_client_auth());
    }
    // As libpq: `sslrootcert` names the only CAs trusted; `system` (or none given, where libpq
    // would look for ~/.postgresql/root.crt) means the platform's store.
    let mut roots = rustls::RootCertStore::empty();
    let file = target.root_cert.as_deref().filter(|path| *path != "system");
    if file.is_none() {
        roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    }
    if let Some(path) = file {
        // The CA file decides which server is the ledger: the owner and directory rule of
        // `crate::trusted` applies, as to every file that decides what is trusted.
        let pem = crate::trusted::read(std::path::Path::new(path))
            .map_err(|e| match e {
                crate::trusted::ReadError::Io(e) => tls_error(
                    target,
                    &format!("sslrootcert: {}", crate::error::io_words(&e)),
                ),
                crate::trusted::ReadError::Refused(refusal) => tls_error(
                    target,
                    &refusal.message("sslrootcert", std::path::Path::new(path)),
                ),
            })?
            .bytes;
        let certs: Vec<CertificateDer<'static>> = pem::parse_many(&pem)
            .map_err(|_| tls_error(target, "sslrootcert is not a PEM file"))?
            .into_iter()
            .filter(|p| p.tag() == "CERTIFICATE")
            .map(|p| CertificateDer::from(p.into_contents()))
            .collect();
        if certs.is_empty() {
            return Err(tls_error(target, "sslrootcert holds no certificate"));
        }
        roots.add_parsable_certificates(certs);
    }
    Ok(builder.with_root_certificates(roots).with_no_client_auth())
}

fn tls_error(target: &Target, why: &str) -> Error {
    Error::new(
        Reason::LedgerError,
        format!("cannot set up TLS to the ledger {}: {why}", target.shown),
    )
}

/// An answer outside PostgreSQL's protocol, or not of the shape jwtctl's tables give.
const GARBLED: &str = "the server's answer is not what PostgreSQL sends for a jwtctl ledger; \
                       check that the URL reaches PostgreSQL itself (not another service or a \
                       broken proxy) and that jwtctl's tables were not altered";

/// A PostgreSQL failure in jwtctl's words, with what to check. The server's own message is
/// not shown (it can echo SQL); its SQLSTATE class says what went wrong.
pub(super) fn pg_words(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return match db.code().code() {
            "28P01" | "28000" => "the server refused the user or password; check the URL's user, \
                                  PGPASSWORD or PGPASSFILE, and pg_hba.conf"
                .into(),
            "3D000" => {
                "the database does not exist; create it (see docs/ledger.md, \"PostgreSQL\")".into()
            }
            "42501" => "permission denied; grant the role the rights docs/ledger.md lists".into(),
            "55P03" => "another session held the token's entry for over 10 s; try again".into(),
            "57014" => "a statement ran for over 30 s and was cancelled; try again".into(),
            "53100" => "the server is out of disk space".into(),
            code if schema_damaged(code) => format!(
                "its tables are not as jwtctl made them (SQLSTATE {code}: a column or table was \
                 altered, or this database is not a jwtctl ledger); restore the ledger from a \
                 backup, or point --ledger at a jwtctl ledger (jwtctl ledger init sets one up in \
                 an empty database)"
            ),
            code if code.starts_with("08") || code.starts_with("57") => {
                format!("the server ended the connection (SQLSTATE {code})")
            }
            code => format!("the server answered SQLSTATE {code}"),
        };
    }
    // tokio-postgres's own fixed words for an answer outside the protocol or the expected
    // shape; matched, never shown.
    let text = e.to_string();
    let garbled = [
        "error parsing response from server",
        "unexpected message from server",
        "query returned an unexpected number of columns",
        "query returned an unexpected number of rows",
    ];
    if garbled.contains(&text.as_str())
        || text.starts_with("error deserializing column")
        || text.starts_with("invalid column")
    {
        return GARBLED.into();
    }
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            return io_failure_words(io);
        }
        if let Some(tls) = cause.downcast_ref::<rustls::Error>() {
            return tls_words(tls);
        }
        source = cause.source();
    }
    if e.is_closed() {
        return "the connection closed unexpectedly".into();
    }
    if text.contains("timeout") || text.contains("timed out") {
        return "no answer in time; check the host, port and firewall".into();
    }
    if text.contains("TLS") || text.contains("tls") || text.contains("SSL") {
        return "the server does not offer TLS, which sslmode requires".into();
    }
    "the connection failed".into()
}

/// An I/O failure on the connection (opening the socket, TLS, reading) in jwtctl's words.
pub(super) fn io_failure_words(io: &std::io::Error) -> String {
    if let Some(tls) = io.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) {
        return tls_words(tls);
    }
    match io.kind() {
        std::io::ErrorKind::TimedOut => {
            "no answer in time; check the host, port and firewall".into()
        }
        // The protocol's decoder refusing what arrived (an unknown message tag, a
        // length under 4): not PostgreSQL.
        std::io::ErrorKind::InvalidInput | std::io::ErrorKind::InvalidData => GARBLED.into(),
        _ => format!(
            "{}; check that PostgreSQL runs there and listens (--ledger / JWTCTL_LEDGER)",
            crate::error::io_words(io)
        ),
    }
}

/// Whether a SQLSTATE says jwtctl's own statements do not fit the tables: an operator or a
/// function missing for a column's type (42883), a column of another type (42804) or missing
/// (42703), a value its type cannot hold (22P02), a constraint jwtctl's rows break (class 23).
/// The statements are fixed and typed, so only a schema someone altered answers so.
fn schema_damaged(code: &str) -> bool {
    matches!(
        code,
        "42883" | "42804" | "42703" | "42P18" | "22P02" | "42846"
    ) || code.starts_with("23")
}

/// Whether the server answered "undefined table" (SQLSTATE 42P01): the schema is not set up.
pub(super) fn missing_table(e: &postgres::Error) -> bool {
    sqlstate(e) == Some("42P01")
}

/// Whether the client gave up because the server asked for a password and none was configured
/// (tokio-postgres's configuration error, whose fixed text is matched here and never shown).
pub(super) fn password_missing(e: &postgres::Error) -> bool {
    std::error::Error::source(e).is_some_and(|cause| cause.to_string() == "password missing")
}

/// The SQLSTATE of a server's error answer.
pub(super) fn sqlstate(e: &postgres::Error) -> Option<&str> {
    e.as_db_error().map(|d| d.code().code())
}

/// A TLS failure in the words HTTPS fetches use (`net::tls_words`), naming `sslrootcert`.
fn tls_words(e: &rustls::Error) -> String {
    format!("TLS failed: {}", crate::net::tls_words(e, "sslrootcert"))
}

pub(super) fn ledger_error(shown: &str, what: &str, why: &str) -> Error {
    Error::new(
        Reason::LedgerError,
        format!("cannot {what} the ledger {shown}: {why}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_deadline_follows_the_sessions_statement_timeout() {
        let read = |o| statement_timeout(o);
        assert_eq!(
            read("-c statement_timeout=1s"),
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            read("-c statement_timeout=1500"),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            read("-c statement_timeout=30s -c statement_timeout=2min"),
            Some(Duration::from_secs(120))
        );
        assert_eq!(read("-c statement_timeout=0"), None);
        assert_eq!(read("-c statement_timeout=1h"), None);
        assert_eq!(read("-c lock_timeout=1s"), None);
    }

    #[test]
    fn passfile_lines_split_on_unescaped_colons() {
        assert_eq!(
            passfile_fields(r"db.example:5432:*:app:p\:w\\d").unwrap(),
            ["db.example", "5432", "*", "app", r"p:w\d"]
        );
        assert!(passfile_fields("too:few:fields").is_none());
    }

    #[test]
    fn the_shown_url_never_carries_the_password() {
        let target =
            Target::parse("postgres://app:s3cret@db.example:6432/ledger?sslmode=verify-full")
                .unwrap();
        assert_eq!(
            target.shown,
            "postgres://app@db.example:6432/ledger?sslmode=verify-full"
        );
        assert!(!format!("{target:?}").contains("s3cret"));
        let unix = Target::parse("postgresql://app@/ledger?host=/run/pg").unwrap();
        assert_eq!(unix.shown, "postgres://app@/ledger?host=/run/pg");
    }

    #[test]
    fn unknown_ssl_modes_are_refused_without_echoing_the_url() {
        let err = Target::parse("postgres://u:hunter2@h/db?sslmode=maybe").unwrap_err();
        assert!(err.to_string().contains("sslmode takes"));
        assert!(!err.to_string().contains("hunter2"));
        let err = Target::parse("postgres://u:hunter2@h/db?bogus=1").unwrap_err();
        assert!(!err.to_string().contains("hunter2"));
    }
}
