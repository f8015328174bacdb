//! The PostgreSQL ledger for several hosts: connecting, TLS, passwords, schema, and races at
//! scale. Each test is ignored unless asked, and needs a server (`common::needs::postgres`).
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use std::process::{Command, Stdio};
use std::thread;

use crate::common::needs;
use crate::common::stores::PgDb;
use crate::common::{Env, assert_refused, mint, now, stderr, stdout};
use serde_json::json;

const PASSWORD: &str = "test-password-not-secret";

/// `postgres://jwtctl_test@127.0.0.1:PORT/DB?...` over TCP, for a database the role owns.
fn tcp_url(db: &PgDb, query: &str) -> String {
    db.sql(&format!("ALTER DATABASE {} OWNER TO jwtctl_test", db.name));
    let addr = std::env::var("JWTCTL_TEST_POSTGRES_TCP").unwrap();
    let (_, port) = addr.rsplit_once(':').unwrap();
    // `localhost`, the name the test server's certificate carries.
    format!(
        "postgres://jwtctl_test@localhost:{port}/{}?{query}",
        db.name
    )
}

fn ca() -> String {
    std::env::var("JWTCTL_TEST_POSTGRES_CA").unwrap()
}

#[test]
fn a_server_that_cannot_be_reached_is_exit_2_naming_the_host() {
    // Refused at once, or (a listener that never answers) after connect_timeout.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let closed_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let env = Env::new();
    let token = env.issue(&[]);
    for (port, words) in [
        (closed_port, "connection refused"),
        (silent_port, "no answer in 1s"),
    ] {
        let url = format!("postgres://jwtctl@127.0.0.1:{port}/ledger?connect_timeout=1");
        let started = std::time::Instant::now();
        let out = env.run(&["refresh", "--ledger", &url, &token]);
        assert!(started.elapsed().as_secs() < 5, "the timeout holds");
        assert_refused(&env, &out, 2, "ledger_error");
        let err = stderr(&out);
        assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
        assert!(err.contains(words), "{err}");
    }
    drop(silent);
}

#[test]
fn a_password_is_never_shown_and_never_taken_from_the_command_line() {
    let env = Env::new();
    let token = env.issue(&[]);
    let url = "postgres://jwtctl:hunter2-secret@127.0.0.1:1/ledger";
    let out = env.run(&["refresh", "--ledger", url, &token]);
    assert_refused(&env, &out, 2, "usage");
    assert!(stderr(&out).contains("PGPASSFILE"), "{}", stderr(&out));
    // From the environment it is used, and still never shown.
    let out = env
        .jwtctl()
        .env("JWTCTL_LEDGER", url)
        .args(["refresh", &token])
        .output()
        .unwrap();
    assert_refused(&env, &out, 2, "ledger_error");
    assert!(stderr(&out).contains("postgres://jwtctl@127.0.0.1:1/ledger"));
    for text in [stderr(&out), env.log_text()] {
        assert!(!text.contains("hunter2"), "{text}");
    }
}

#[test]
#[ignore = "needs PostgreSQL; to run it: apt-get install postgresql, eval \"$(scripts/pg-test-server.sh DIR)\", cargo test -- --include-ignored"]
fn tls_verify_full_trusts_the_given_ca_and_refuses_an_unknown_one() {
    let Some(db) = needs::postgres() else { return };
    let env = Env::new();
    let token = env.issue(&[]);
    let with = |url: &str, password: &str| {
        env.jwtctl()
            .env("JWTCTL_LEDGER", url)
            .env("PGPASSWORD", password)
            .args(["refresh", &token])
            .output()
            .unwrap()
    };
    // The platform's roots do not know the test CA.
    let out = with(&tcp_url(&db, "sslmode=verify-full"), PASSWORD);
    assert_refused(&env, &out, 2, "ledger_error");
    assert!(stderr(&out).contains("TLS failed"), "{}", stderr(&out));
    // A wrong password, over a verified channel.
    let verified = tcp_url(&db, &format!("sslmode=verify-full&sslrootcert={}", ca()));
    let out = with(&verified, "wrong");
    assert_refused(&env, &out, 2, "ledger_error");
    assert!(stderr(&out).contains("refused the user or password"));
    let init = env
        .jwtctl()
        .env("JWTCTL_LEDGER", &verified)
        .env("PGPASSWORD", PASSWORD)
        .args(["ledger", "init"])
        .output()
        .unwrap();
    assert!(init.status.success(), "{}", stderr(&init));
    let out = with(&verified, PASSWORD);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(db.count("SELECT 1 FROM jwtctl_ids"), 1);
    // `require` encrypts without verifying, as libpq does.
    let next = stdout(&out).trim().to_string();
    let out = env
        .jwtctl()
        .env("JWTCTL_LEDGER", tcp_url(&db, "sslmode=require"))
        .env("PGPASSWORD", PASSWORD)
        .args(["refresh", &next])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
#[ignore = "needs PostgreSQL; to run it: apt-get install postgresql, eval \"$(scripts/pg-test-server.sh DIR)\", cargo test -- --include-ignored"]
fn a_password_file_is_read_as_libpq_reads_it() {
    let Some(db) = needs::postgres() else { return };
    let env = Env::new();
    let url = tcp_url(&db, &format!("sslmode=verify-full&sslrootcert={}", ca()));
    let pgpass = env.write(
        "pgpass",
        &format!("# comment\nother:*:*:*:nope\nlocalhost:*:*:jwtctl_test:{PASSWORD}\n"),
    );
    let init = |mode: u32| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(mode)).unwrap();
        env.jwtctl()
            .env("JWTCTL_LEDGER", &url)
            .env("PGPASSFILE", &pgpass)
            .env_remove("PGPASSWORD")
            .args(["ledger", "init"])
            .output()
            .unwrap()
    };
    // A file others can read is ignored, as libpq ignores it; the message says so and how to fix it.
    let out = init(0o644);
    assert_refused(&env, &out, 2, "ledger_error");
    let err = stderr(&out);
    assert!(
        err.contains("asks for a password")
            && err.contains("was ignored because other users can read it (mode 0644)")
            && err.contains("chmod 600"),
        "{err}"
    );
    // One another user owns is refused as a key file is (they could change the password the
    // ledger is reached with, or swap in their own server's); as root, CI checks it.
    let root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .unwrap()
        .stdout
        == b"0\n";
    if root {
        std::os::unix::fs::chown(&pgpass, Some(65534), Some(65534)).unwrap();
        let out = init(0o600);
        assert_refused(&env, &out, 2, "ledger_error");
        assert!(
            stderr(&out).contains("belongs to another user"),
            "{}",
            stderr(&out)
        );
        std::os::unix::fs::chown(&pgpass, Some(0), Some(0)).unwrap();
    }
    let out = init(0o600);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(db.count("SELECT version FROM jwtctl_schema"), 1);
}

#[test]
#[ignore = "needs PostgreSQL; to run it: apt-get install postgresql, eval \"$(scripts/pg-test-server.sh DIR)\", cargo test -- --include-ignored"]
fn a_missing_password_is_named_with_where_to_put_one() {
    let Some(db) = needs::postgres() else { return };
    let env = Env::new();
    let url = tcp_url(&db, &format!("sslmode=verify-full&sslrootcert={}", ca()));
    let token = env.issue(&[]);
    let run = |pgpass: Option<&std::path::Path>| {
        let mut cmd = env.jwtctl();
        cmd.env("JWTCTL_LEDGER", &url)
            .env("HOME", env.dir.path())
            .env_remove("PGPASSWORD")
            .env_remove("PGPASSFILE");
        if let Some(path) = pgpass {
            cmd.env("PGPASSFILE", path);
        }
        cmd.args(["verify", &token]).output().unwrap()
    };
    // No password anywhere (a home without .pgpass).
    let out = run(None);
    assert_refused(&env, &out, 2, "ledger_error");
    let err = stderr(&out);
    assert!(
        err.contains("the server asks for a password and no password is set"),
        "{err}"
    );
    assert!(
        err.contains("PGPASSWORD") && err.contains(".pgpass"),
        "{err}"
    );
    assert!(!err.contains("the connection failed"), "{err}");
    // A password file without a line for this server.
    let pgpass = env.write("pgpass", "elsewhere:5432:*:*:nope\n");
    let out = run(Some(&pgpass));
    assert_refused(&env, &out, 2, "ledger_error");
    assert!(
        stderr(&out).contains("has no line for localhost:"),
        "{}",
        stderr(&out)
    );
}

#[test]
#[ignore = "needs PostgreSQL; to run it: apt-get install postgresql, eval \"$(scripts/pg-test-server.sh DIR)\", cargo test -- --include-ignored"]
fn the_schema_is_created_once_and_a_newer_one_is_refused() {
    let Some(db) = needs::postgres() else { return };
    let env = Env::new();
    let init = || {
        env.jwtctl()
            .env("JWTCTL_LEDGER", &db.url)
            .args(["ledger", "init"])
            .output()
            .unwrap()
    };
    // Eight processes creating it at once: all succeed, one version row.
    let children: Vec<_> = (0..8)
        .map(|_| {
            Command::new(assert_cmd::cargo::cargo_bin("jwtctl"))
                .current_dir(env.dir.path())
                .env("JWTCTL_LEDGER", &db.url)
                .args(["ledger", "init"])
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    }
    assert_eq!(db.count("SELECT version FROM jwtctl_schema"), 1);
    db.sql("UPDATE jwtctl_schema SET version = 99");
    let out = init();
    assert_refused(&env, &out, 2, "ledger_error");
    assert!(
        stderr(&out).contains("newer than this jwtctl"),
        "{}",
        stderr(&out)
    );
    // A refresh reads the version in the statement that decides, and consumes nothing.
    let token = env.issue(&[]);
    let out = env
        .jwtctl()
        .env("JWTCTL_LEDGER", &db.url)
        .args(["refresh", &token])
        .output()
        .unwrap();
    assert_refused(&env, &out, 2, "ledger_error");
    assert!(stderr(&out).contains("newer than this jwtctl"));
    assert_eq!(db.count("SELECT 1 FROM jwtctl_ids"), 0);
}

#[test]
#[ignore = "needs PostgreSQL; to run it: apt-get install postgresql, eval \"$(scripts/pg-test-server.sh DIR)\", cargo test -- --include-ignored"]
fn sixteen_hosts_racing_on_one_token_twenty_times_let_exactly_one_win_each_time() {
    let Some(db) = needs::postgres() else { return };
    let env = Env::new();
    db.init(&env);
    for _ in 0..20 {
        crate::ledger::race(&env, &db.url, 16);
    }
    assert_eq!(db.count("SELECT 1 FROM jwtctl_ids"), 20);
}

#[test]
#[ignore = "needs PostgreSQL; to run it: apt-get install postgresql, eval \"$(scripts/pg-test-server.sh DIR)\", cargo test -- --include-ignored"]
fn eight_workers_refresh_two_thousand_tokens_and_lose_none() {
    let Some(db) = needs::postgres() else { return };
    let env = Env::new();
    db.init(&env);
    let tokens: Vec<String> = (0..2000)
        .map(|i| {
            mint(json!({"sub": format!("user{i}"), "jti": format!("t{i}"), "exp": now() + 600}))
        })
        .collect();
    let bin = assert_cmd::cargo::cargo_bin("jwtctl");
    thread::scope(|scope| {
        for chunk in tokens.chunks(250) {
            let (bin, env, url) = (&bin, &env, &db.url);
            scope.spawn(move || {
                for token in chunk {
                    let out = Command::new(bin)
                        .current_dir(env.dir.path())
                        .env("JWTCTL_KEY_FILE", "test.key")
                        .env("JWTCTL_LEDGER", url)
                        .args(["--log-level", "info", "refresh", token])
                        .output()
                        .unwrap();
                    assert!(out.status.success(), "{}", stderr(&out));
                }
            });
        }
    });
    assert_eq!(
        db.count("SELECT 1 FROM jwtctl_ids WHERE state = 'consumed'"),
        2000
    );
    let refreshed = env
        .log()
        .iter()
        .filter(|r| r["op"] == "refresh" && r["outcome"] == "success")
        .count();
    assert_eq!(refreshed, 2000);
}

#[test]
fn a_password_on_the_command_line_is_refused_however_it_is_spelled() {
    let env = Env::new();
    for url in [
        "postgres://jwtctl:hunter2@127.0.0.1:1/ledger",
        "Postgres://jwtctl:hunter2@127.0.0.1:1/ledger",
        "postgresql://jwtctl@127.0.0.1:1/ledger?%70assword=hunter2",
        "postgres://jwtctl:hun/ter2@127.0.0.1:1/ledger",
    ] {
        // Even when the same URL is also in JWTCTL_LEDGER: it is on the command line.
        let out = env
            .jwtctl()
            .env("JWTCTL_LEDGER", url)
            .args(["ledger", "stats", "--ledger", url])
            .output()
            .unwrap();
        assert_refused(&env, &out, 2, "usage");
        assert!(!stderr(&out).contains("hunter2"), "{}", stderr(&out));
    }
    // A mistyped scheme is never taken for a file path and echoed.
    let out = env.run(&["ledger", "stats", "--ledger", "Postgres:/u:hunter2@h/x"]);
    assert_refused(&env, &out, 2, "usage");
    assert!(!stderr(&out).contains("hunter2"), "{}", stderr(&out));
}

#[test]
#[ignore = "needs PostgreSQL; to run it: apt-get install postgresql, eval \"$(scripts/pg-test-server.sh DIR)\", cargo test -- --include-ignored"]
fn a_revocation_keeps_the_later_of_two_until_times() {
    let Some(db) = needs::postgres() else { return };
    let env = Env::new();
    db.init(&env);
    let revoke = |until: &str| {
        let out = env
            .jwtctl()
            .env("JWTCTL_LEDGER", &db.url)
            .args(["revoke", "--jti", "abc", "--until", until])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    };
    revoke("2100-01-02T00:00:00Z");
    revoke("2100-01-01T00:00:00Z");
    let rows = db.sql("SELECT exp FROM jwtctl_ids WHERE id = 'any-iss+jti:abc'");
    let exp = rows
        .iter()
        .find_map(|m| match m {
            postgres::SimpleQueryMessage::Row(row) => row.get(0).map(str::to_string),
            _ => None,
        })
        .unwrap();
    assert_eq!(exp, "4102531200", "2100-01-02, the later one");
}

/// What a hostile proxy in front of the test server does once the connection is up.
#[derive(Clone, Copy)]
enum After {
    /// Forwards nothing more from the server, holding the connection open.
    Stall,
    /// Answers the first query with bytes that are not PostgreSQL's protocol.
    Garbage,
    /// Answers the first query with an error message 0x7ffffff0 bytes long, and streams zeros.
    Flood,
    /// Passes the first query's answer through, then floods as [`After::Flood`].
    FloodSecond,
}

/// A TCP proxy to the test server that passes the start-up and authentication through (until
/// the server's first ReadyForQuery), then behaves as `after` says. Its port.
fn hostile_proxy(after: After) -> u16 {
    use std::net::TcpListener;
    let upstream = std::env::var("JWTCTL_TEST_POSTGRES_TCP").unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for client in listener.incoming() {
            let upstream = upstream.clone();
            thread::spawn(move || serve(client.unwrap(), &upstream, after));
        }
    });
    port
}

/// One connection through [`hostile_proxy`].
fn serve(mut client: std::net::TcpStream, upstream: &str, after: After) {
    use std::io::{Read, Write};
    let mut server = std::net::TcpStream::connect(upstream).unwrap();
    let limit = Some(std::time::Duration::from_secs(60));
    for s in [&client, &server] {
        s.set_read_timeout(limit).unwrap();
    }
    let (mut c_in, mut s_out) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    thread::spawn(move || {
        let _ = std::io::copy(&mut c_in, &mut s_out);
    });
    // Server to client, message by message: a tag byte, then a length that counts itself.
    let mut ready = 0;
    loop {
        let mut head = [0u8; 5];
        if server.read_exact(&mut head).is_err() {
            break;
        }
        let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        let mut body = vec![0u8; len.saturating_sub(4)];
        if server.read_exact(&mut body).is_err() {
            break;
        }
        let _ = client
            .write_all(&head)
            .and_then(|()| client.write_all(&body));
        if head[0] == b'Z' {
            ready += 1;
            if ready == if let After::FloodSecond = after { 2 } else { 1 } {
                break;
            }
        }
    }
    match after {
        After::Garbage => {
            let _ = client.write_all(b"\xee\x00\x00\x00\x09garbage!<html>");
        }
        After::Flood | After::FloodSecond => {
            let zeros = vec![0u8; 1 << 16];
            let mut flood = client.write_all(b"E\x7f\xff\xff\xf0");
            while flood.is_ok() {
                flood = client.write_all(&zeros);
            }
        }
        After::Stall => {}
    }
    // Hold the connection, answering nothing more, until the client goes.
    let mut sink = [0u8; 1024];
    while matches!(server.read(&mut sink), Ok(n) if n > 0) {}
}

#[test]
#[ignore = "needs PostgreSQL; to run it: apt-get install postgresql, eval \"$(scripts/pg-test-server.sh DIR)\", cargo test -- --include-ignored"]
fn a_server_that_stalls_or_answers_garbage_after_connecting_is_given_up_on_in_time() {
    let Some(db) = needs::postgres() else { return };
    let env = Env::new();
    // Set up through the real server, then talk to it through the proxy.
    let direct = tcp_url(&db, "sslmode=disable");
    let init = env
        .jwtctl()
        .env("JWTCTL_LEDGER", &direct)
        .env("PGPASSWORD", PASSWORD)
        .args(["ledger", "init"])
        .output()
        .unwrap();
    assert!(init.status.success(), "{}", stderr(&init));
    let token = env.issue(&[]);
    for (after, words) in [
        (After::Stall, "did not answer within 2s"),
        (
            After::Garbage,
            "is not what PostgreSQL sends for a jwtctl ledger",
        ),
    ] {
        let port = hostile_proxy(after);
        // statement_timeout 1s and connect_timeout 1s: answers are awaited 2s.
        let url = format!(
            "postgres://jwtctl_test@127.0.0.1:{port}/{}?sslmode=disable&connect_timeout=1\
             &options=-c%20statement_timeout%3D1s",
            db.name
        );
        for args in [vec!["verify", &token], vec!["refresh", &token]] {
            let started = std::time::Instant::now();
            let out = run_bounded(&env, &url, &args, 15);
            assert!(
                started.elapsed().as_secs() < 10,
                "{args:?}: the deadline holds"
            );
            assert_refused(&env, &out, 2, "ledger_error");
            let err = stderr(&out);
            assert!(err.contains(words), "{args:?}: {err}");
            assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
        }
    }
    assert_eq!(db.count("SELECT 1 FROM jwtctl_ids"), 0, "nothing consumed");
}

#[test]
#[ignore = "needs PostgreSQL; to run it: apt-get install postgresql, eval \"$(scripts/pg-test-server.sh DIR)\", cargo test -- --include-ignored"]
fn pghost_lists_hosts_as_libpq_does_trying_each_in_turn() {
    let Some(db) = needs::postgres() else { return };
    let env = Env::new();
    let url = tcp_url(&db, &format!("sslmode=verify-full&sslrootcert={}", ca()));
    // The same database with the host and port left to PGHOST and PGPORT.
    let (_, rest) = url.split_once('@').unwrap();
    let (_, path) = rest.split_once('/').unwrap();
    let hostless = format!("postgres://jwtctl_test@/{path}");
    let real = std::env::var("JWTCTL_TEST_POSTGRES_TCP").unwrap();
    let (_, real_port) = real.rsplit_once(':').unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let run = |hosts: &str, ports: &str| {
        env.jwtctl()
            .env("JWTCTL_LEDGER", &hostless)
            .env("PGPASSWORD", PASSWORD)
            .env("PGHOST", hosts)
            .env("PGPORT", ports)
            .args(["ledger", "init"])
            .output()
            .unwrap()
    };
    // The first host refuses; the second is the server.
    let out = run("127.0.0.1,localhost", &format!("{closed},{real_port}"));
    assert!(out.status.success(), "{}", stderr(&out));
    // Three ports for two hosts: refused, saying what libpq takes.
    let out = run("127.0.0.1,localhost", &format!("{closed},{real_port},1"));
    assert_refused(&env, &out, 2, "usage");
    assert!(
        stderr(&out).contains("3 ports for 2 hosts"),
        "{}",
        stderr(&out)
    );
}

#[test]
#[ignore = "needs PostgreSQL; to run it: apt-get install postgresql, eval \"$(scripts/pg-test-server.sh DIR)\", cargo test -- --include-ignored"]
fn an_answer_of_the_wrong_type_refuses_the_token_instead_of_reading_as_not_revoked() {
    let Some(db) = needs::postgres() else { return };
    let env = Env::new();
    db.init(&env);
    let token = env.issue(&[]);
    let revoke = env
        .jwtctl()
        .env("JWTCTL_LEDGER", &db.url)
        .args(["revoke", &token])
        .output()
        .unwrap();
    assert!(revoke.status.success(), "{}", stderr(&revoke));
    // The state column altered to hold numbers: its answer can no longer be read as a state.
    db.sql(
        "ALTER TABLE jwtctl_ids DROP CONSTRAINT jwtctl_ids_state_check;
         ALTER TABLE jwtctl_ids ALTER COLUMN state TYPE integer USING 7;",
    );
    for op in ["verify", "refresh"] {
        let out = env
            .jwtctl()
            .env("JWTCTL_LEDGER", &db.url)
            .args([op, &token])
            .output()
            .unwrap();
        // Not accepted (the old reading took the row for "not held"): exit 2, named.
        assert_refused(&env, &out, 2, "ledger_error");
        assert!(
            stderr(&out).contains("its tables are not as jwtctl made them")
                || stderr(&out).contains("jwtctl's tables were not altered"),
            "{}",
            stderr(&out)
        );
    }
}

/// A location that may hold a password but is neither a postgres:// URL nor a file (a libpq
/// keyword/value string, a URL missing its colon) is never shown: refused on the command line
/// as a password there is, and from JWTCTL_LEDGER refused without being echoed.
#[test]
fn a_mistyped_ledger_location_with_a_password_is_never_shown() {
    let env = Env::new();
    let token = env.issue(&[]);
    for location in [
        "host=127.0.0.1 port=1 password=SECRETPW",
        "host=127.0.0.1 PASSWORD=SECRETPW",
        "postgres//u:SECRETPW@127.0.0.1:1/db",
    ] {
        let out = env.run(&["verify", "--ledger", location, &token]);
        assert_refused(&env, &out, 2, "usage");
        assert!(stderr(&out).contains("PGPASSFILE"), "{}", stderr(&out));
        let out = env
            .jwtctl()
            .env("JWTCTL_LEDGER", location)
            .args(["verify", &token])
            .output()
            .unwrap();
        assert_refused(&env, &out, 2, "usage");
        for text in [stderr(&out), env.log_text()] {
            assert!(!text.contains("SECRETPW"), "{location}: {text}");
        }
    }
}

/// A listener that accepts connections and, reading what the client sends, answers each with
/// `answer` (nothing: it stalls after the start-up message) and then holds it open. Its port.
fn fake_server(answer: &'static [u8]) -> u16 {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            thread::spawn(move || {
                let mut first = [0u8; 8];
                if stream.read_exact(&mut first).is_ok() {
                    let _ = stream.write_all(answer);
                }
                let mut sink = [0u8; 1024];
                while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
            });
        }
    });
    port
}

#[test]
#[ignore = "needs PostgreSQL; to run it: apt-get install postgresql, eval \"$(scripts/pg-test-server.sh DIR)\", cargo test -- --include-ignored"]
fn each_host_of_a_list_has_its_own_deadline_and_one_that_stalls_or_babbles_is_skipped() {
    let Some(db) = needs::postgres() else { return };
    let env = Env::new();
    let real = std::env::var("JWTCTL_TEST_POSTGRES_TCP").unwrap();
    let (_, real_port) = real.rsplit_once(':').unwrap();
    // The same database with the host and port left to PGHOST and PGPORT.
    let hostless = |mode: &str| {
        db.sql(&format!("ALTER DATABASE {} OWNER TO jwtctl_test", db.name));
        format!("postgres://jwtctl_test@/{}?{mode}", db.name)
    };
    let verified = hostless(&format!("sslmode=verify-full&sslrootcert={}", ca()));
    let plain = hostless("sslmode=disable");
    let run = |url: &str, args: &[&str], hosts: &str, ports: &str| {
        let started = std::time::Instant::now();
        let out = env
            .jwtctl()
            .env("JWTCTL_LEDGER", url)
            .env("PGPASSWORD", PASSWORD)
            .env("PGCONNECT_TIMEOUT", "2")
            .env("PGHOST", hosts)
            .env("PGPORT", ports)
            .args(args)
            .output()
            .unwrap();
        (out, started.elapsed())
    };
    let (init, _) = run(&verified, &["ledger", "init"], "localhost", real_port);
    assert!(init.status.success(), "{}", stderr(&init));
    // One accepts and never answers (under TLS, the SSLRequest; without, the start-up
    // message); one answers with something that is not PostgreSQL.
    let stall = fake_server(b"");
    let babble = fake_server(b"\xee\x00\x00\x00\x09garbage!<html>");
    for url in [&verified, &plain] {
        for first in [stall, babble] {
            let (out, took) = run(
                url,
                &["ledger", "stats"],
                "127.0.0.1,localhost",
                &format!("{first},{real_port}"),
            );
            assert!(out.status.success(), "{url} {first}: {}", stderr(&out));
            assert!(took.as_secs() < 4, "{first}: one host's deadline, {took:?}");
            assert!(!stdout(&out).is_empty(), "the stats are printed");
        }
    }
    // Every host failing: each is named with its own failure.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (out, took) = run(
        &plain,
        &["ledger", "stats"],
        "127.0.0.1,127.0.0.1,127.0.0.1",
        &format!("{stall},{babble},{closed}"),
    );
    assert_refused(&env, &out, 2, "ledger_error");
    assert!(took.as_secs() < 6, "{took:?}");
    let err = stderr(&out);
    for each in [
        format!("127.0.0.1:{stall}: no answer in 2s"),
        format!("127.0.0.1:{babble}: the server's answer is not what PostgreSQL sends"),
        format!("127.0.0.1:{closed}: connection refused"),
    ] {
        assert!(err.contains(&each), "{each}: {err}");
    }
}

#[test]
#[ignore = "needs PostgreSQL; to run it: apt-get install postgresql, eval \"$(scripts/pg-test-server.sh DIR)\", cargo test -- --include-ignored"]
fn pgconnect_timeout_zero_means_the_default_and_a_non_number_is_a_usage_error() {
    let Some(db) = needs::postgres() else { return };
    let env = Env::new();
    let with = |timeout: &str| {
        env.jwtctl()
            .env("JWTCTL_LEDGER", &db.url)
            .env("PGCONNECT_TIMEOUT", timeout)
            .args(["ledger", "init"])
            .output()
            .unwrap()
    };
    // libpq's "no limit": jwtctl keeps its 5 s bound, as for the URL's connect_timeout=0.
    for timeout in ["0", "-1", " 3 "] {
        let out = with(timeout);
        assert!(out.status.success(), "{timeout:?}: {}", stderr(&out));
    }
    for timeout in ["abc", "2.5", "5s"] {
        let out = with(timeout);
        assert_refused(&env, &out, 2, "usage");
        assert!(
            stderr(&out).contains("PGCONNECT_TIMEOUT is not a whole number of seconds"),
            "{}",
            stderr(&out)
        );
    }
}

#[test]
#[ignore = "needs PostgreSQL; to run it: apt-get install postgresql, eval \"$(scripts/pg-test-server.sh DIR)\", cargo test -- --include-ignored"]
fn a_password_file_that_is_a_directory_is_named_so_never_given_chmod() {
    let Some(db) = needs::postgres() else { return };
    let env = Env::new();
    let url = tcp_url(&db, &format!("sslmode=verify-full&sslrootcert={}", ca()));
    let sticky = env.path("shared");
    std::fs::create_dir(&sticky).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&sticky, std::fs::Permissions::from_mode(0o1777)).unwrap();
    }
    for dir in [sticky.as_path(), std::path::Path::new("/dev/null")] {
        let out = env
            .jwtctl()
            .env("JWTCTL_LEDGER", &url)
            .env("PGPASSFILE", dir)
            .env_remove("PGPASSWORD")
            .args(["ledger", "init"])
            .output()
            .unwrap();
        assert_refused(&env, &out, 2, "ledger_error");
        let err = stderr(&out);
        assert!(err.contains("is not a password file"), "{err}");
        assert!(!err.contains("chmod"), "{err}");
    }
}

#[test]
#[ignore = "needs PostgreSQL; to run it: apt-get install postgresql, eval \"$(scripts/pg-test-server.sh DIR)\", cargo test -- --include-ignored"]
fn a_tls_failure_is_told_in_words_with_what_to_set() {
    let Some(db) = needs::postgres() else { return };
    let env = Env::new();
    let real = std::env::var("JWTCTL_TEST_POSTGRES_TCP").unwrap();
    let (_, port) = real.rsplit_once(':').unwrap();
    let run = |url: String| {
        env.jwtctl()
            .env("JWTCTL_LEDGER", url)
            .env("PGPASSWORD", PASSWORD)
            .args(["ledger", "init"])
            .output()
            .unwrap()
    };
    // A CA the platform does not know; a name the certificate does not carry (reached at the
    // server's address through hostaddr).
    let unknown = run(tcp_url(&db, "sslmode=verify-full"));
    let misnamed = run(format!(
        "postgres://jwtctl_test@wrong-name.invalid:{port}/{}?sslmode=verify-full&\
         hostaddr=127.0.0.1&sslrootcert={}",
        db.name,
        ca()
    ));
    for (out, words) in [
        (
            unknown,
            "signed by a CA jwtctl does not trust; pass that CA with sslrootcert",
        ),
        (misnamed, "not for this host name"),
    ] {
        assert_refused(&env, &out, 2, "ledger_error");
        let err = stderr(&out);
        assert!(err.contains(words), "{err}");
        assert!(
            !err.contains("UnknownIssuer") && !err.contains("NotValidFor"),
            "{err}"
        );
    }
}

#[test]
#[ignore = "needs PostgreSQL; to run it: apt-get install postgresql, eval \"$(scripts/pg-test-server.sh DIR)\", cargo test -- --include-ignored"]
fn tables_altered_out_of_shape_are_named_as_such() {
    let Some(db) = needs::postgres() else { return };
    let env = Env::new();
    db.init(&env);
    let token = env.issue(&[]);
    // The key column made an integer: jwtctl's typed statements no longer fit (SQLSTATE 42883).
    db.sql("ALTER TABLE jwtctl_ids ALTER COLUMN key TYPE integer USING 1");
    for op in ["verify", "refresh", "revoke"] {
        let out = env
            .jwtctl()
            .env("JWTCTL_LEDGER", &db.url)
            .args([op, &token])
            .output()
            .unwrap();
        assert_refused(&env, &out, 2, "ledger_error");
        let err = stderr(&out);
        assert!(
            err.contains("its tables are not as jwtctl made them") && err.contains("backup"),
            "{op}: {err}"
        );
    }
}

#[test]
#[ignore = "needs PostgreSQL; to run it: apt-get install postgresql, eval \"$(scripts/pg-test-server.sh DIR)\", cargo test -- --include-ignored"]
fn an_answer_larger_than_any_jwtctl_asks_for_is_refused_at_once() {
    let Some(db) = needs::postgres() else { return };
    let env = Env::new();
    let direct = tcp_url(&db, "sslmode=disable");
    let init = env
        .jwtctl()
        .env("JWTCTL_LEDGER", &direct)
        .env("PGPASSWORD", PASSWORD)
        .args(["ledger", "init"])
        .output()
        .unwrap();
    assert!(init.status.success(), "{}", stderr(&init));
    let token = env.issue(&[]);
    // The default deadlines (35 s for an answer): only the cap ends this quickly.
    let url = |after| {
        format!(
            "postgres://jwtctl_test@127.0.0.1:{}/{}?sslmode=disable",
            hostile_proxy(after),
            db.name
        )
    };
    // The first query (the schema's version), and a listing's (after the schema check).
    for (args, url, limit) in [
        (
            vec!["verify", token.as_str()],
            url(After::Flood),
            "over 1 MiB",
        ),
        (
            vec!["refresh", token.as_str()],
            url(After::Flood),
            "over 1 MiB",
        ),
        (
            vec!["ledger", "list"],
            url(After::FloodSecond),
            "over 256 MiB",
        ),
    ] {
        let started = std::time::Instant::now();
        let out = run_bounded(&env, &url, &args, 20);
        assert!(
            started.elapsed().as_secs() < 15,
            "{args:?}: {:?}",
            started.elapsed()
        );
        assert_refused(&env, &out, 2, "ledger_error");
        let err = stderr(&out);
        assert!(
            err.contains(&format!("the server sent an answer {limit}"))
                && err.contains("not behaving like PostgreSQL"),
            "{args:?}: {err}"
        );
    }
    assert_eq!(db.count("SELECT 1 FROM jwtctl_ids"), 0, "nothing consumed");
}

#[test]
#[ignore = "needs PostgreSQL; to run it: apt-get install postgresql, eval \"$(scripts/pg-test-server.sh DIR)\", cargo test -- --include-ignored"]
fn target_session_attrs_is_honoured_host_by_host() {
    let Some(db) = needs::postgres() else { return };
    let env = Env::new();
    let init = |attrs: &str| {
        env.jwtctl()
            .env(
                "JWTCTL_LEDGER",
                tcp_url(
                    &db,
                    &format!("sslmode=disable&target_session_attrs={attrs}"),
                ),
            )
            .env("PGPASSWORD", PASSWORD)
            .args(["ledger", "init"])
            .output()
            .unwrap()
    };
    // The test server is a primary: read-only is refused, read-write accepted.
    let out = init("read-only");
    assert_refused(&env, &out, 2, "ledger_error");
    assert!(
        stderr(&out).contains("not the kind of server target_session_attrs asks for"),
        "{}",
        stderr(&out)
    );
    let out = init("read-write");
    assert!(out.status.success(), "{}", stderr(&out));
}

/// `jwtctl ARGS` against the ledger at `url`, killed (and the test failed) past `limit` seconds:
/// a jwtctl that waits forever on a hostile server fails the test instead of hanging it.
fn run_bounded(env: &Env, url: &str, args: &[&str], limit: u64) -> std::process::Output {
    use crate::common::Scrub;
    let started = std::time::Instant::now();
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("jwtctl"))
        .scrubbed()
        .current_dir(env.dir.path())
        .env("JWTCTL_KEY_FILE", "test.key")
        .env("JWTCTL_LEDGER", url)
        .env("PGPASSWORD", PASSWORD)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed().as_secs() > limit {
            child.kill().unwrap();
            panic!("{args:?}: still running after {limit}s");
        }
        thread::sleep(std::time::Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}
