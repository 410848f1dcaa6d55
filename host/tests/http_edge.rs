//! The HTTP edge over a real socket: slow and silent connections are
//! closed, one client cannot take every connection, a revoked token's open
//! stream ends, an agent's token acts only as its agent, the data directory
//! is private, and responses carry the headers browsers and caches need.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

use common::{Server, request};
use serde_json::json;

/// Whether an I/O error means our own read timeout ran out (the server
/// kept the connection open) rather than the server closing it.
fn is_our_timeout(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

/// Read until the server closes the connection; what it sent. Panics if
/// the connection is still open when our generous read timeout runs out.
fn read_until_closed(s: &mut TcpStream, what: &str) -> String {
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if is_our_timeout(&e) => {
                panic!(
                    "{what}: the server kept the connection open; it sent {:?}",
                    String::from_utf8_lossy(&got)
                )
            }
            // A reset is the server closing too.
            Err(_) => break,
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// A config file in `dir` with `text`; its path.
fn config(dir: &Path, text: &str) -> String {
    let path = dir.join("switchboard.toml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn slow_silent_and_half_sent_requests_are_closed_by_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        "[http]\nheader_read_timeout_ms = 300\nbody_read_timeout_ms = 300\n",
    );
    let server = Server::start_with(&dir.path().join("data"), &["--config", &cfg]);

    // Slowloris: a header that never ends, one byte at a time. Each byte
    // waits on a short blocking read, which also sees the close.
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: ")
        .unwrap();
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut closed = false;
    let mut buf = [0u8; 1024];
    for _ in 0..600 {
        if s.write_all(b"a").is_err() {
            closed = true;
            break;
        }
        match s.read(&mut buf) {
            Ok(_) => {
                closed = true;
                break;
            }
            Err(e) if is_our_timeout(&e) => {}
            Err(_) => {
                closed = true;
                break;
            }
        }
    }
    assert!(closed, "a trickling request head was kept open");

    // Silent: connected, never a byte.
    let mut s = TcpStream::connect(server.addr).unwrap();
    let sent = read_until_closed(&mut s, "a silent connection");
    assert!(
        sent.is_empty() || sent.starts_with("HTTP/1.1 408"),
        "{sent}"
    );

    // Half a request head, then silence.
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost:").unwrap();
    read_until_closed(&mut s, "a half-sent request head");

    // A whole head, half the body it announced, then silence.
    let mut s = TcpStream::connect(server.addr).unwrap();
    write!(
        s,
        "POST /v1/contacts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"channel\":",
        server.token
    )
    .unwrap();
    let sent = read_until_closed(&mut s, "a half-sent body");
    assert!(sent.starts_with("HTTP/1.1 408"), "{sent}");
    assert!(sent.contains("application/problem+json"), "{sent}");

    // A request sent whole is still answered.
    assert_eq!(server.get("/healthz").0, 200);
}

/// A connection to `addr` from the loopback address `from`.
#[cfg(target_os = "linux")]
fn connect_from(from: [u8; 4], addr: SocketAddr) -> TcpStream {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    let s = rt
        .block_on(async {
            let socket = tokio::net::TcpSocket::new_v4()?;
            socket.bind(SocketAddr::from((from, 0)))?;
            socket.connect(addr).await
        })
        .unwrap()
        .into_std()
        .unwrap();
    s.set_nonblocking(false).unwrap();
    s
}

// Linux answers on all of 127.0.0.0/8, so the test has two client addresses.
#[cfg(target_os = "linux")]
#[test]
fn one_client_holding_connections_open_cannot_starve_another() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "[http]\nmax_connections_per_peer = 64\n");
    // 256 files in all: more half-open requests than that would exhaust
    // the server's file descriptors.
    let server = Server::start_with_fd_limit(&dir.path().join("data"), &["--config", &cfg], 256);
    let greedy: Vec<TcpStream> = (0..300)
        .map(|_| {
            let mut s = connect_from([127, 0, 0, 1], server.addr);
            s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                .unwrap();
            s
        })
        .collect();
    // Another client (another address) is still answered.
    let mut other = connect_from([127, 0, 0, 2], server.addr);
    other
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let answer = read_until_closed(&mut other, "another client's request");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // The greedy client's connections beyond its share were refused
    // (503, or closed at once) and its first 64 were not.
    let mut refused = 0;
    for mut s in greedy.into_iter().skip(64) {
        let sent = read_until_closed(&mut s, "a connection beyond the peer's share");
        assert!(
            sent.is_empty() || sent.starts_with("HTTP/1.1 503"),
            "{sent}"
        );
        refused += 1;
    }
    assert_eq!(refused, 236);
}

/// Open `GET /v1/stream` with `token`; the stream, after its first
/// `queues` event.
fn open_stream(addr: SocketAddr, token: &str) -> (TcpStream, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(
        s,
        "GET /v1/stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n"
    )
    .unwrap();
    let mut seen = String::new();
    let mut buf = [0u8; 4096];
    while !seen.contains("event: queues") {
        let n = s.read(&mut buf).expect("the stream stays open");
        assert!(n > 0, "the stream closed at once: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(seen.starts_with("HTTP/1.1 200"), "{seen}");
    (s, seen)
}

#[test]
fn revoking_a_token_ends_the_event_streams_opened_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let (status, t) = server.post(
        "/v1/tokens",
        &json!({"role": "viewer", "label": "wallboard"}),
    );
    assert_eq!(status, 201, "{t}");
    let token = t["token"].as_str().unwrap();
    let id = t["info"]["id"].as_str().unwrap();
    let (mut revoked, _) = open_stream(server.addr, token);
    // A stream opened with another token keeps going.
    let (mut kept, _) = open_stream(server.addr, &server.token);
    let (status, _) = request(
        server.addr,
        "DELETE",
        &format!("/v1/tokens/{id}"),
        None,
        Some(&server.token),
    )
    .unwrap();
    assert_eq!(status, 204);
    // A contact created after the revocation never reaches the revoked
    // token's stream: it ends instead.
    let (status, got) = server.post(
        "/v1/contacts",
        &json!({"channel": "chat", "customer_id": "cust-1", "language": "en",
                "topics": ["billing"], "text": "hello"}),
    );
    assert_eq!(status, 201, "{got}");
    let contact = format!("\"id\":\"{}\"", got["contact"]["id"].as_str().unwrap());
    let mut rest = String::new();
    let mut buf = [0u8; 4096];
    loop {
        match revoked.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => rest.push_str(&String::from_utf8_lossy(&buf[..n])),
            Err(e) if is_our_timeout(&e) => panic!("the revoked token's stream stayed open"),
            Err(_) => break,
        }
        assert!(
            !rest.contains(&contact),
            "delivered after revocation: {rest}"
        );
    }
    let mut seen = String::new();
    let mut buf = [0u8; 4096];
    while !seen.contains(&contact) {
        let n = kept.read(&mut buf).expect("the admin's stream stays open");
        assert!(n > 0, "the admin's stream closed: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
}

#[test]
fn an_agents_token_acts_only_as_its_own_agent() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    assert_eq!(
        server
            .put("/v1/queues/billing", &json!({"name": "billing"}))
            .0,
        204
    );
    for id in ["a-1", "a-2"] {
        let (status, got) = server.put(
            &format!("/v1/agents/{id}"),
            &json!({"id": id, "skills": {"billing": 4}, "languages": ["en"],
                    "capacity": {"chat": 1}, "status": "offline"}),
        );
        assert_eq!(status, 200, "{got}");
    }
    let (status, t) = server.post(
        "/v1/tokens",
        &json!({"role": "agent", "label": "desk 1", "agent_id": "a-1"}),
    );
    assert_eq!(status, 201, "{t}");
    let a1 = t["token"].as_str().unwrap().to_owned();
    let new_contact = |customer: &str| {
        let (status, got) = server.post(
            "/v1/contacts",
            &json!({"channel": "chat", "customer_id": customer, "language": "en",
                    "topics": ["billing"], "text": "hello"}),
        );
        assert_eq!(status, 201, "{got}");
        got["contact"]["id"].as_str().unwrap().to_owned()
    };
    let as_a1 = |method: &str, path: &str, body: serde_json::Value| {
        request(
            server.addr,
            method,
            path,
            Some(&body.to_string()),
            Some(&a1),
        )
        .unwrap()
    };

    // a-1's token cannot offer a contact to a-2, nor write a-2's draft.
    let c1 = new_contact("cust-1");
    let (status, err) = as_a1(
        "POST",
        &format!("/v1/contacts/{c1}/events"),
        json!({"type": "offer", "agent_id": "a-2"}),
    );
    assert_eq!(status, 403, "{err}");
    let detail = err["detail"].as_str().unwrap();
    assert!(detail.contains("a-1") && detail.contains("a-2"), "{err}");
    let (status, err) = as_a1(
        "POST",
        &format!("/v1/contacts/{c1}/drafts"),
        json!({"agent_id": "a-2", "text": "Thanks for waiting."}),
    );
    assert_eq!(status, 403, "{err}");
    // Nothing was recorded.
    let (_, events) = server.get(&format!("/v1/contacts/{c1}/events"));
    assert!(
        !events.to_string().contains("\"offer\""),
        "the refused offer was recorded: {events}"
    );

    // As itself it may.
    let (status, got) = as_a1(
        "POST",
        &format!("/v1/contacts/{c1}/events"),
        json!({"type": "offer", "agent_id": "a-1"}),
    );
    assert_eq!(status, 200, "{got}");
    let (status, got) = as_a1(
        "POST",
        &format!("/v1/contacts/{c1}/events"),
        json!({"type": "answer"}),
    );
    assert_eq!(status, 200, "{got}");

    // A supervisor (admin) offers to anyone; a-1 cannot then act on
    // a-2's contact.
    let c2 = new_contact("cust-2");
    let (status, got) = server.post(
        &format!("/v1/contacts/{c2}/events"),
        &json!({"type": "offer", "agent_id": "a-2"}),
    );
    assert_eq!(status, 200, "{got}");
    let (status, err) = as_a1(
        "POST",
        &format!("/v1/contacts/{c2}/events"),
        json!({"type": "answer"}),
    );
    assert_eq!(status, 403, "{err}");
    let (_, c) = server.get(&format!("/v1/contacts/{c2}"));
    assert_eq!(c["state"], "offered", "{c}");
}

#[cfg(unix)]
#[test]
fn the_data_directory_is_readable_by_the_servers_user_only() {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};

    fn walk(path: &Path, out: &mut Vec<(std::path::PathBuf, u32, bool)>) {
        let meta = std::fs::symlink_metadata(path).unwrap();
        out.push((
            path.to_owned(),
            meta.permissions().mode() & 0o777,
            meta.is_dir(),
        ));
        if meta.is_dir() {
            for entry in std::fs::read_dir(path).unwrap() {
                walk(&entry.unwrap().path(), out);
            }
        }
    }

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data);
    // Store something, so the store has written its files.
    assert_eq!(
        server
            .put("/v1/queues/billing", &json!({"name": "billing"}))
            .0,
        204
    );
    drop(server);
    let mut found = Vec::new();
    walk(&data, &mut found);
    for sub in ["db", "cache"] {
        assert!(found.iter().any(|(p, _, _)| p == &data.join(sub)), "{sub}");
    }
    assert!(
        found.iter().filter(|(_, _, d)| !d).count() >= 3,
        "{found:?}"
    );
    for (path, mode, is_dir) in &found {
        let want = if *is_dir { 0o700 } else { 0o600 };
        assert_eq!(*mode, want, "{} is {mode:o}", path.display());
    }

    // A directory someone made wider is named at start, with its mode.
    let wide = dir.path().join("wide");
    std::fs::DirBuilder::new()
        .mode(0o755)
        .create(&wide)
        .unwrap();
    std::fs::set_permissions(&wide, std::fs::Permissions::from_mode(0o755)).unwrap();
    let server = Server::start(&wide);
    let logs = server.logs.lock().unwrap().join("\n");
    let warning = logs
        .lines()
        .find(|l| l.contains("\"WARN\"") && l.contains("0755"))
        .unwrap_or_else(|| panic!("no warning naming the mode:\n{logs}"));
    assert!(warning.contains(wide.to_str().unwrap()), "{warning}");
}

/// One request; the response head (status line and headers), lowercased.
fn head_of(addr: SocketAddr, method: &str, path: &str, auth: &str, body: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: {auth}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let got = read_until_closed(&mut s, "a request");
    got.split("\r\n\r\n").next().unwrap().to_ascii_lowercase()
}

#[test]
fn responses_are_not_cached_or_sniffed_and_the_bearer_scheme_ignores_case() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let bearer = format!("Bearer {}", server.token);
    let head = head_of(
        server.addr,
        "POST",
        "/v1/tokens",
        &bearer,
        r#"{"role":"viewer"}"#,
    );
    assert!(head.starts_with("http/1.1 201"), "{head}");
    assert!(head.contains("\r\ncache-control: no-store"), "{head}");
    assert!(
        head.contains("\r\nx-content-type-options: nosniff"),
        "{head}"
    );
    // Every JSON answer, errors too.
    for (path, auth) in [
        ("/v1/whoami", bearer.as_str()),
        ("/v1/whoami", "Bearer sb_x"),
    ] {
        let head = head_of(server.addr, "GET", path, auth, "");
        assert!(head.contains("application/"), "{head}");
        assert!(
            head.contains("\r\nx-content-type-options: nosniff"),
            "{head}"
        );
    }
    // RFC 7235: the scheme is case-insensitive.
    for scheme in ["bearer", "BEARER", "BeArEr"] {
        let head = head_of(
            server.addr,
            "GET",
            "/v1/whoami",
            &format!("{scheme} {}", server.token),
            "",
        );
        assert!(head.starts_with("http/1.1 200"), "{scheme}: {head}");
    }
}
