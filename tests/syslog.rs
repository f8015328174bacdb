//! Syslog under attack and under failure: a strict receiver sees no control character whatever
//! the input; closing, resetting and never-reading TCP collectors, a full unix socket, a down UDP
//! target and a host name that does not resolve each end in exit 3 with a message naming the
//! target, never a hang or a silent success.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use std::net::{TcpListener, UdpSocket};
use std::os::unix::net::UnixDatagram;
use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{self, Env};

/// Characters a line-based store or a terminal must never get raw: C0, DEL, C1, the line and
/// paragraph separators and the bidi controls (checked here independently of jwtctl's list).
fn forbidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}' | '\u{feff}'
        )
}

/// Parse one RFC 5424 message as a strict receiver would: `<PRI>1` and five header words, one
/// SD-ELEMENT `[jwtctl@32473 name="value"...]` (values unescaped as §6.3.3 says), then the MSG,
/// which must be one JSON object. No forbidden character anywhere.
fn strict_parse(msg: &str) -> (Vec<(String, String)>, Value) {
    let bad: Vec<char> = msg.chars().filter(|c| forbidden(*c)).collect();
    assert!(bad.is_empty(), "raw controls {bad:?} in {msg:?}");
    let mut words = msg.splitn(7, ' ');
    let pri = words.next().unwrap();
    assert!(pri.starts_with('<') && pri.ends_with(">1"), "{msg}");
    for _ in 0..5 {
        let word = words.next().unwrap();
        assert!(word.chars().all(|c| c.is_ascii_graphic()), "{word:?}");
    }
    let rest = words.next().unwrap();
    let rest = rest.strip_prefix("[jwtctl@32473").expect("one SD-ELEMENT");
    let (mut params, mut chars) = (Vec::new(), rest.chars().peekable());
    loop {
        match chars.next() {
            Some(']') => break,
            Some(' ') => {}
            other => panic!("unexpected {other:?} in the structured data of {msg}"),
        }
        let name: String = chars.by_ref().take_while(|c| *c != '=').collect();
        assert_eq!(chars.next(), Some('"'), "{msg}");
        let mut value = String::new();
        loop {
            match chars.next().expect("a closed PARAM-VALUE") {
                '"' => break,
                '\\' if matches!(chars.peek(), Some('"' | '\\' | ']')) => {
                    value.push(chars.next().unwrap())
                }
                ']' => panic!("an unescaped ] in a PARAM-VALUE: {msg}"),
                c => value.push(c),
            }
        }
        params.push((name, value));
    }
    assert_eq!(chars.next(), Some(' '), "{msg}");
    let body: String = chars.collect();
    let record = serde_json::from_str(&body).expect("the MSG is one JSON record");
    (params, record)
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> &'a str {
    &params.iter().find(|(n, _)| n == name).expect(name).1
}

#[test]
fn no_input_puts_a_control_character_into_a_syslog_message() {
    let env = Env::new();
    let sock = env.path("log.sock");
    let rx = UnixDatagram::bind(&sock).unwrap();
    rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let target = format!("unix:{}", sock.display());
    // A forged second message after a newline, then C1 (NEL, CSI), separators and bidi.
    let hostile = "x\n<13>1 2026-01-01T00:00:00Z h jwtctl 1 verify - forged\r\u{85}\u{9b}31m\
                   \u{2028}\u{202e}\u{7f}]\"\\ end";
    let now = common::now();
    let header = json!({"alg": "HS256", "typ": "JWT", "kid": hostile}).to_string();
    let claims = json!({"sub": hostile, "jti": hostile, "iat": now, "exp": now + 600});
    let token = common::mint_raw(&header, &claims.to_string());
    let out = env
        .jwtctl()
        .args(["--log-syslog", &target, "--log-level", "info"])
        .args(["--peer", hostile, "verify", &token])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    let mut buf = vec![0u8; 65536];
    let n = rx.recv(&mut buf).unwrap();
    let msg = String::from_utf8(buf[..n].to_vec()).unwrap();
    let (params, record) = strict_parse(&msg);
    for field in ["sub", "jti", "kid", "peer"] {
        // The JSON of MSG gives the value back exactly; the structured data shows it escaped.
        assert_eq!(record[field], hostile, "{field} in {msg}");
        let shown = param(&params, field);
        assert!(
            shown.contains("\\u000a<13>1") && shown.contains("\\u0085\\u009b31m"),
            "{field}: {shown}"
        );
        assert!(shown.contains("\\u2028\\u202e\\u007f]\"\\ end"), "{shown}");
    }
    assert_eq!(param(&params, "outcome"), "success");
    // A failure record (a rejected token) is escaped the same way.
    let claims = json!({"sub": hostile, "exp": now - 600});
    let expired = common::mint_raw(&header, &claims.to_string());
    let out = env
        .jwtctl()
        .args([
            "--log-syslog",
            &target,
            "--peer",
            hostile,
            "verify",
            &expired,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", common::stderr(&out));
    let n = rx.recv(&mut buf).unwrap();
    let (params, record) = strict_parse(std::str::from_utf8(&buf[..n]).unwrap());
    assert_eq!(record["reason"], "expired");
    assert!(param(&params, "peer").contains("\\u000a"));
}

/// A TCP listener whose connections `serve` handles on a thread; its `tcp://` target.
fn collector(serve: impl FnOnce(std::net::TcpStream) + Send + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        if let Ok((conn, _)) = listener.accept() {
            serve(conn);
        }
    });
    format!("tcp://{addr}")
}

/// Assert a sink failure: exit 3, nothing on stdout, one stderr line naming `target` and
/// `words`, and not blaming the log file.
fn assert_sink_failed(out: &Output, target: &str, words: &str) {
    let err = common::stderr(out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(&format!("syslog target {target}")), "{err}");
    assert!(err.contains(words), "{err}");
    assert!(
        !err.contains("cannot write the security log"),
        "blames the file: {err}"
    );
}

/// `jwtctl --log-syslog TARGET verify --batch` fed `input` only once `ready` says so: the log
/// is open (connected) before the collector acts, and the record is sent after.
fn batch_after(
    env: &Env,
    target: &str,
    ready: std::sync::mpsc::Receiver<()>,
    input: &str,
) -> Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("jwtctl"))
        .current_dir(env.dir.path())
        .env_remove("JWTCTL_LOG_FILE")
        .env_remove("JWTCTL_LOG_LEVEL")
        .env("JWTCTL_KEY_FILE", "test.key")
        .args(["--log-syslog", target, "verify", "--batch"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    ready.recv_timeout(Duration::from_secs(10)).unwrap();
    // A reset can reach jwtctl while it connects: it has then ended already (exit 3).
    let mut stdin = child.stdin.take().unwrap();
    let _ = stdin.write_all(input.as_bytes());
    drop(stdin);
    child.wait_with_output().unwrap()
}

#[test]
fn a_tcp_collector_that_closes_or_resets_fails_the_operation() {
    let env = Env::new();
    for reset in [false, true] {
        let (tx, rx) = std::sync::mpsc::channel();
        let target = collector(move |conn| {
            if reset {
                // SO_LINGER 0: close sends a reset instead of a FIN.
                let socket = socket2::Socket::from(conn);
                socket.set_linger(Some(Duration::ZERO)).unwrap();
            } else {
                drop(conn);
            }
            std::thread::sleep(Duration::from_millis(50));
            tx.send(()).unwrap();
        });
        let out = batch_after(&env, &target, rx, "not-a-token\n");
        assert_sink_failed(&out, &target, "not confirmed");
        assert!(
            common::stderr(&out).contains(if reset { "reset" } else { "closed" }),
            "{}",
            common::stderr(&out)
        );
        assert_eq!(common::stdout(&out), "", "no verdict without its record");
    }
    // The file has the record of the closing run; the operation failed all the same.
    assert!(env.log_text().contains("malformed"));
}

#[test]
fn a_tcp_collector_that_never_reads_ends_the_batch_within_the_deadline() {
    let env = Env::new();
    let (tx, rx) = std::sync::mpsc::channel();
    let silent = collector(move |conn| {
        // Hold the connection open, reading nothing, until the test ends.
        let _ = rx.recv();
        drop(conn);
    });
    let lines = "not-a-token\n".repeat(60_000);
    let started = Instant::now();
    let out = env
        .jwtctl()
        .args(["--log-syslog", &silent, "verify", "--batch"])
        .write_stdin(lines)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    let _ = tx.send(());
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "a bounded wait"
    );
    assert_sink_failed(&out, &silent, "did not take the record within 5 s");
    let printed = common::stdout(&out).lines().count();
    assert!(printed < 60_000, "the unconfirmed group is not printed");
    // L1: the message says what is true of a batch (here nothing was printed).
    let err = common::stderr(&out);
    assert!(
        err.contains("the results printed before this line stand") && !err.contains("nothing was"),
        "{err}"
    );
    // F1: the file took the group the collector did not: it says the group was not acted on.
    let last = env.log().pop().unwrap();
    assert_eq!(last["event"], "not_done", "{last}");
    assert_eq!(last["op"], "verify", "{last}");
    assert_eq!(last["failed_sink"], silent.as_str(), "{last}");
}

#[test]
fn a_full_local_syslog_socket_is_exit_3_within_seconds() {
    let env = Env::new();
    let sock = env.path("stalled.sock");
    // Bound and never read: the kernel queues a few datagrams, then the sender must wait.
    let _stalled = UnixDatagram::bind(&sock).unwrap();
    let target = format!("unix:{}", sock.display());
    let started = Instant::now();
    let out = env
        .jwtctl()
        .args(["--log-syslog", &target, "verify", "--batch"])
        .write_stdin("bad\n".repeat(200))
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(20), "no hang");
    assert_sink_failed(&out, &target, "within 5 s");
    assert_eq!(common::stdout(&out), "", "no verdict without its record");
    // One record per process, as a script calling `verify` in a loop does: the queue fills
    // (net.unix.max_dgram_qlen), and the next process ends with exit 3 instead of hanging.
    let sock = env.path("stalled2.sock");
    let _stalled = UnixDatagram::bind(&sock).unwrap();
    let target = format!("unix:{}", sock.display());
    for _ in 0..2000 {
        let started = Instant::now();
        let out = env
            .jwtctl()
            .args(["--log-syslog", &target, "verify", "bad"])
            .timeout(Duration::from_secs(60))
            .output()
            .unwrap();
        if out.status.code() == Some(1) {
            continue;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "no hang");
        assert_sink_failed(&out, &target, "within 5 s");
        return;
    }
    panic!("2000 datagrams queued on a socket nobody reads");
}

#[test]
fn a_down_udp_target_is_named_not_the_file() {
    let env = Env::new();
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let target = format!("udp://127.0.0.1:{port}");
    let out = env
        .jwtctl()
        .args(["--log-syslog", &target, "verify", "--batch"])
        .write_stdin("bad\n".repeat(50))
        .output()
        .unwrap();
    assert_sink_failed(&out, &target, "nothing listens there");
}

#[test]
fn a_syslog_host_that_does_not_resolve_says_so() {
    let env = Env::new();
    for target in [
        "tcp://no-such-host.invalid:514",
        "udp://no-such-host.invalid:514",
    ] {
        let out = env.run(&["--log-syslog", target, "issue"]);
        let err = common::stderr(&out);
        assert_eq!(out.status.code(), Some(3), "{err}");
        assert!(
            err.contains("no-such-host.invalid does not resolve") && err.contains("IP address"),
            "{err}"
        );
        assert!(!err.contains("uncategorized"), "{err}");
        assert_eq!(common::stdout(&out), "");
    }
    let out = env.run(&["--log-syslog", "tcp://127.0.0.1", "issue"]);
    assert!(common::stderr(&out).contains("has no port"));
}

#[test]
fn a_unix_stream_collector_gets_framed_records_and_one_that_closes_fails_the_operation() {
    use std::io::Read;
    use std::os::unix::net::UnixListener;
    let env = Env::new();
    let sock = env.path("stream.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let target = format!("unix:{}", sock.display());
    let (texts, text_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut text = String::new();
        conn.read_to_string(&mut text).unwrap();
        texts.send(text).unwrap();
        // The next connection is closed at once.
        let (closed, _) = listener.accept().unwrap();
        drop(closed);
    });
    let out = env.run(&["--log-syslog", &target, "verify", "bad"]);
    assert_eq!(out.status.code(), Some(1), "{}", common::stderr(&out));
    let text = text_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    let (len, rest) = text.split_once(' ').unwrap();
    assert_eq!(len.parse::<usize>().unwrap(), rest.len(), "{text}");
    strict_parse(rest);
    let (tx, rx) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        tx.send(()).unwrap();
    });
    let out = batch_after(&env, &target, rx, "bad\n");
    waiter.join().unwrap();
    assert_sink_failed(&out, &target, "not confirmed");
}

/// The framed messages a reading collector got, as records (octet counting, RFC 6587).
fn records_in(mut text: &str) -> Vec<Value> {
    let mut records = Vec::new();
    while let Some((len, rest)) = text.split_once(' ') {
        let len: usize = len.parse().unwrap();
        records.push(strict_parse(&rest[..len]).1);
        text = &rest[len..];
    }
    records
}

/// A collector that reads every record of one connection and hands them over when it closes.
fn reading_collector() -> (String, std::sync::mpsc::Receiver<Vec<Value>>) {
    use std::io::Read;
    let (tx, rx) = std::sync::mpsc::channel();
    let target = collector(move |mut conn| {
        let mut text = String::new();
        let _ = conn.read_to_string(&mut text);
        let _ = tx.send(records_in(&text));
    });
    (target, rx)
}

/// Assert that `records` end with a success of `op` and then its `not_done` record: the same
/// operation and token fields, ERROR, `log_error`, naming `failed` as the sink that failed.
fn assert_withdrawn(records: &[Value], op: &str, failed: &str) -> Value {
    let [.., done, withdrawn] = records else {
        panic!("no success and withdrawal in {records:?}");
    };
    assert_eq!(done["op"], op, "{done}");
    assert_eq!(done["outcome"], "success", "{done}");
    assert_eq!(withdrawn["level"], "ERROR", "{withdrawn}");
    assert_eq!(withdrawn["outcome"], "failure", "{withdrawn}");
    assert_eq!(withdrawn["reason"], "log_error", "{withdrawn}");
    assert_eq!(withdrawn["event"], "not_done", "{withdrawn}");
    assert!(
        withdrawn["failed_sink"].as_str().unwrap().contains(failed),
        "{withdrawn}"
    );
    for field in [
        "op",
        "jti",
        "parent_jti",
        "token_sha256",
        "parent_token_sha256",
    ] {
        assert_eq!(withdrawn[field], done[field], "{field}: {withdrawn}");
    }
    done.clone()
}

/// F1: with the file and a TCP collector, a refresh whose syslog delivery fails after the file
/// took its success record is rolled back (exit 3, nothing printed) and the file gets a
/// `not_done` record for it: an auditor never counts a refresh that did not happen, and the retry
/// that follows is the parent's only standing refresh.
#[test]
fn a_failed_syslog_delivery_withdraws_the_success_the_file_took() {
    use std::io::Write;
    use std::process::Stdio;
    let env = Env::new();
    crate::common::stores::init(&env, "l.db");
    let parent = "parent-1";
    let token = common::mint(json!({"sub": "a", "jti": parent, "exp": common::now() + 600}));
    // Accepts, then (once jwtctl has surely finished connecting and waits for its stdin)
    // resets; the token reaches jwtctl only after the reset.
    let (tx, rx) = std::sync::mpsc::channel();
    let target = collector(move |conn| {
        std::thread::sleep(Duration::from_millis(300));
        let socket = socket2::Socket::from(conn);
        socket.set_linger(Some(Duration::ZERO)).unwrap();
        drop(socket);
        std::thread::sleep(Duration::from_millis(50));
        tx.send(()).unwrap();
    });
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("jwtctl"))
        .current_dir(env.dir.path())
        .env_remove("JWTCTL_LOG_FILE")
        .env_remove("JWTCTL_LOG_LEVEL")
        .env("JWTCTL_KEY_FILE", "test.key")
        .args(["--log-syslog", &target, "--log-level", "info"])
        .args(["refresh", "--ledger", "l.db", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    rx.recv_timeout(Duration::from_secs(10)).unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let _ = stdin.write_all(token.as_bytes());
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let err = common::stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(&format!("syslog target {target}")), "{err}");
    assert!(
        err.contains("nothing was done (a not_done record in ./security.log"),
        "{err}"
    );
    assert_eq!(common::stdout(&out), "", "no token without its record");
    let done = assert_withdrawn(&env.log(), "refresh", &target);
    assert_eq!(done["parent_jti"], parent);
    // The retry, without syslog, is the one refresh of this parent that stands.
    let retry = env.run(&["--log-level", "info", "refresh", "--ledger", "l.db", &token]);
    assert_eq!(retry.status.code(), Some(0), "{}", common::stderr(&retry));
    let log = env.log();
    let standing: Vec<&Value> = log
        .iter()
        .filter(|r| r["parent_jti"] == parent && r["outcome"] == "success")
        .filter(|r| {
            !log.iter()
                .any(|w| w["event"] == "not_done" && w["token_sha256"] == r["token_sha256"])
        })
        .collect();
    assert_eq!(standing.len(), 1, "{log:?}");
    let printed = common::stdout(&retry);
    assert_eq!(
        standing[0]["token_sha256"],
        common::sha256sum(printed.trim())
    );
}

/// F1, the other way round: the log file's disk is full and the collector works. The operation
/// fails (exit 3) and the collector, which took the success record, gets its `not_done`.
#[test]
#[ignore = "needs root (mounts a tmpfs or chowns to nobody); to run it: as root, cargo test -- --include-ignored"]
fn a_failed_file_write_withdraws_the_success_the_collector_took() {
    if !common::needs::root() {
        return;
    }
    let env = Env::new();
    let mnt = env.path("small");
    std::fs::create_dir(&mnt).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=16k,mode=0700", "tmpfs"])
        .arg(&mnt)
        .status()
        .unwrap();
    assert!(mounted.success());
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(mnt.clone());
    let log = mnt.join("security.log");
    std::fs::write(&log, "").unwrap();
    std::fs::set_permissions(&log, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    // Fill the disk: the log file exists (it opens) but no record fits.
    let _ = std::fs::write(mnt.join("filler"), vec![b'x'; 64 * 1024]);
    let (target, records) = reading_collector();
    let out = env
        .jwtctl()
        .args(["--log-file", log.to_str().unwrap(), "--log-level", "info"])
        .args(["--log-syslog", &target, "issue", "--sub", "alice"])
        .output()
        .unwrap();
    let err = common::stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("security log") && err.contains("not_done"),
        "{err}"
    );
    assert_eq!(common::stdout(&out), "", "no token without its record");
    let got = records.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(got.len(), 2, "{got:?}");
    let done = assert_withdrawn(&got, "issue", "security.log");
    assert_eq!(done["sub"], "alice");
}

/// L1: a log failure in the middle of a batch, after results were printed: they stand, each with
/// its record, and the message says so rather than "nothing was done".
#[test]
fn a_log_failure_mid_batch_says_the_printed_results_stand() {
    use std::io::Read;
    let env = Env::new();
    // Reads the first groups, then resets the connection.
    let target = collector(|mut conn| {
        let mut buf = vec![0; 64 * 1024];
        let mut got = 0;
        while got < 400 * 1024 {
            match conn.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => got += n,
            }
        }
        let socket = socket2::Socket::from(conn);
        socket.set_linger(Some(Duration::ZERO)).unwrap();
    });
    let out = env
        .jwtctl()
        .args(["--log-syslog", &target, "verify", "--batch"])
        .write_stdin("not-a-token\n".repeat(20_000))
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    let err = common::stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(&format!("syslog target {target}")), "{err}");
    assert!(
        err.contains("the results printed before this line stand") && !err.contains("nothing was"),
        "{err}"
    );
    let printed = common::stdout(&out).lines().count();
    assert!(printed > 0 && printed < 20_000, "{printed} results printed");
    // Each printed result has its record in the file, before the group's not_done.
    let log = env.log();
    let not_done = log.iter().position(|r| r["event"] == "not_done").unwrap();
    assert!(
        not_done >= printed,
        "{not_done} records before not_done, {printed} printed"
    );
}

/// L3: a collector that reads, but slowly (20 bytes a second), is not one that "took nothing".
#[test]
fn a_slow_collector_is_said_not_to_take_the_record_in_time() {
    use std::io::Read;
    let env = Env::new();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let target = collector(move |mut conn| {
        let mut buf = [0; 20];
        while rx.try_recv().is_err() {
            if conn.read(&mut buf).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    });
    let out = env
        .jwtctl()
        .args(["--log-syslog", &target, "verify", "--batch"])
        .write_stdin("not-a-token\n".repeat(60_000))
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    let _ = tx.send(());
    assert_sink_failed(&out, &target, "did not take the record within 5 s");
    assert!(!common::stderr(&out).contains("took nothing"));
}

/// L2: a target written wrong says how to write it, before any operation (exit 3, as every
/// target that cannot be used): an IPv6 address needs brackets, a port is 1 to 65535, a unix
/// target needs a path.
#[test]
fn a_syslog_target_written_wrong_says_how_to_write_it() {
    let env = Env::new();
    for (target, words) in [
        ("tcp://::1", "tcp://[::1]:514"),
        ("udp://::1:514", "IPv6 address without brackets"),
        ("tcp://127.0.0.1:99999", "port 99999, which is out of range"),
        ("udp://127.0.0.1:0", "from 1 to 65535"),
        ("tcp://127.0.0.1:", "has no port"),
        ("unix:", "no socket path; write it as unix:PATH"),
    ] {
        let out = env.run(&["--log-syslog", target, "issue"]);
        let err = common::stderr(&out);
        assert_eq!(out.status.code(), Some(3), "{target}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(words), "{target}: {err}");
        assert!(
            !err.contains("does not resolve") && !err.contains("invalid input"),
            "{err}"
        );
        assert_eq!(common::stdout(&out), "");
    }
    // Brackets and a port: it connects (and a closed port is refused, naming the target).
    let port = TcpListener::bind("[::1]:0").map(|l| l.local_addr().unwrap().port());
    if let Ok(port) = port {
        let out = env.run(&["--log-syslog", &format!("tcp://[::1]:{port}"), "issue"]);
        assert!(
            common::stderr(&out).contains("connection refused"),
            "{}",
            common::stderr(&out)
        );
    }
}
