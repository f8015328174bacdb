//! A local HTTPS server for the key-set tests: certificates made here (rcgen), TLS by rustls,
//! canned answers per path, and a count of requests; the same over plain HTTP, and a forward
//! proxy that answers every request with keys of its own. Loopback only; nothing leaves the
//! machine.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the server answers on one path.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub delay: Duration,
}

impl Reply {
    pub fn json(body: &str) -> Reply {
        Reply {
            status: 200,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.as_bytes().to_vec(),
            delay: Duration::ZERO,
        }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            delay: Duration::ZERO,
        }
    }
}

pub struct Server {
    /// `https://127.0.0.1:PORT`
    pub base: String,
    /// The CA that signed the server's certificate, as PEM (for `--ca-file`).
    pub ca_pem: String,
    routes: Arc<Mutex<HashMap<String, Reply>>>,
    hits: Arc<Mutex<HashMap<String, usize>>>,
}

impl Server {
    pub fn start() -> Server {
        let (ca_pem, config) = tls_config();
        Self::start_with(ca_pem, Some(config))
    }

    /// An HTTPS server whose certificate (from a CA of its own, in `ca_pem`) names only `names`,
    /// and has expired when `expired`.
    pub fn start_tls(names: &[&str], expired: bool) -> Server {
        let (ca_pem, config) = leaf_config(names, expired);
        Self::start_with(ca_pem, Some(config))
    }

    /// An HTTPS server with a self-signed certificate for `names` that says CA:TRUE, as
    /// `openssl req -x509` makes one by default (`ca_pem` is that certificate); expired when
    /// `expired`.
    pub fn start_self_signed(names: &[&str], expired: bool) -> Server {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::new()).unwrap();
        params.subject_alt_names = sans(names);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        if expired {
            params.not_before = rcgen::date_time_ymd(2019, 1, 1);
            params.not_after = rcgen::date_time_ymd(2020, 1, 1);
        }
        let cert = params.self_signed(&key).unwrap();
        Self::start_with_cert(&cert.pem(), &key.serialize_pem())
    }

    /// The same server over plain HTTP (`http://127.0.0.1:PORT`).
    pub fn start_plain() -> Server {
        Self::start_with(String::new(), None)
    }

    /// An HTTPS server presenting `cert_pem` / `key_pem` (made by the test, e.g. with openssl).
    pub fn start_with_cert(cert_pem: &str, key_pem: &str) -> Server {
        let cert = rustls::pki_types::CertificateDer::from(
            pem::parse(cert_pem).unwrap().contents().to_vec(),
        );
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(
            pem::parse(key_pem).unwrap().contents().to_vec().into(),
        );
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .unwrap();
        Self::start_with(cert_pem.to_string(), Some(Arc::new(config)))
    }

    fn start_with(ca_pem: String, config: Option<Arc<rustls::ServerConfig>>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let scheme = if config.is_some() { "https" } else { "http" };
        let base = format!(
            "{scheme}://127.0.0.1:{}",
            listener.local_addr().unwrap().port()
        );
        let routes: Arc<Mutex<HashMap<String, Reply>>> = Arc::default();
        let hits: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let (r, h) = (Arc::clone(&routes), Arc::clone(&hits));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (config, r, h) = (config.clone(), Arc::clone(&r), Arc::clone(&h));
                std::thread::spawn(move || match config {
                    Some(config) => {
                        let Ok(conn) = rustls::ServerConnection::new(config) else {
                            return;
                        };
                        let mut tls = rustls::StreamOwned::new(conn, stream);
                        serve(&mut tls, &r, &h);
                        tls.conn.send_close_notify();
                        let _ = tls.flush();
                    }
                    None => serve(&mut { stream }, &r, &h),
                });
            }
        });
        Server {
            base,
            ca_pem,
            routes,
            hits,
        }
    }

    /// How many requests reached any path.
    pub fn total_hits(&self) -> usize {
        self.hits.lock().unwrap().values().sum()
    }

    pub fn set(&self, path: &str, reply: Reply) {
        self.routes.lock().unwrap().insert(path.into(), reply);
    }

    pub fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

fn serve(
    stream: &mut (impl std::io::Read + Write),
    routes: &Mutex<HashMap<String, Reply>>,
    hits: &Mutex<HashMap<String, usize>>,
) {
    let mut reader = BufReader::new(&mut *stream);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let path = request_line.split(' ').nth(1).unwrap_or("/").to_string();
    let mut if_none_match = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("if-none-match")
        {
            if_none_match = Some(value.trim().to_string());
        }
    }
    *hits.lock().unwrap().entry(path.clone()).or_default() += 1;
    let reply = routes
        .lock()
        .unwrap()
        .get(&path)
        .cloned()
        .unwrap_or(Reply::status(404));
    std::thread::sleep(reply.delay);
    let etag = reply
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("etag"))
        .map(|(_, v)| v.clone());
    let (status, body) = match (&if_none_match, &etag) {
        (Some(have), Some(etag)) if have == etag => (304, Vec::new()),
        _ => (reply.status, reply.body.clone()),
    };
    let mut head = format!(
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in &reply.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&body);
    let _ = stream.flush();
}

/// A forward proxy an attacker runs: every request it gets (a plain `GET http://...` or a
/// `CONNECT`) is counted and answered 200 with `body`, its own key set.
pub struct Proxy {
    /// `http://127.0.0.1:PORT`
    pub url: String,
    requests: Arc<Mutex<usize>>,
}

impl Proxy {
    pub fn start(body: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let requests: Arc<Mutex<usize>> = Arc::default();
        let (count, body) = (Arc::clone(&requests), body.to_string());
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                *count.lock().unwrap() += 1;
                let mut reader = BufReader::new(&mut stream);
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                }
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \
                     {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Proxy { url, requests }
    }

    /// How many connections the proxy was sent.
    pub fn requests(&self) -> usize {
        *self.requests.lock().unwrap()
    }
}

/// A CA and a certificate for 127.0.0.1 and localhost signed by it.
fn tls_config() -> (String, Arc<rustls::ServerConfig>) {
    leaf_config(&["localhost", "127.0.0.1"], false)
}

/// A CA, and a certificate signed by it for `names` (host names or IP addresses), valid now or
/// expired since 2020.
fn leaf_config(names: &[&str], expired: bool) -> (String, Arc<rustls::ServerConfig>) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let mut leaf_params = CertificateParams::new(Vec::new()).unwrap();
    leaf_params.subject_alt_names = sans(names);
    if expired {
        leaf_params.not_before = rcgen::date_time_ymd(2019, 1, 1);
        leaf_params.not_after = rcgen::date_time_ymd(2020, 1, 1);
    }
    let leaf = leaf_params.signed_by(&leaf_key, &ca, &ca_key).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
        )
        .unwrap();
    (ca.pem(), Arc::new(config))
}

/// Subject alternative names: IP addresses as such, anything else as a DNS name.
fn sans(names: &[&str]) -> Vec<rcgen::SanType> {
    names
        .iter()
        .map(|name| match name.parse() {
            Ok(ip) => rcgen::SanType::IpAddress(ip),
            Err(_) => rcgen::SanType::DnsName((*name).try_into().unwrap()),
        })
        .collect()
}
