//! Shared helpers of the end-to-end tests: the real `switchboard` binary
//! started on a loopback port, and a tiny blocking HTTP/1.1 client (one
//! request per connection) so the tests depend on nothing but std.

#![allow(dead_code)] // each test file uses a subset

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

/// A running server process.
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    /// The admin token the first start wrote to the data directory.
    pub token: String,
    /// Every log line (JSON) the server wrote so far.
    pub logs: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Start `switchboard serve` on `data_dir` and wait until it listens.
    pub fn start(data_dir: &Path) -> Server {
        Self::start_with(data_dir, &[])
    }

    /// [`Server::start`] with more `serve` arguments.
    pub fn start_with(data_dir: &Path, args: &[&str]) -> Server {
        Self::launch(
            Command::new(env!("CARGO_BIN_EXE_switchboard")),
            data_dir,
            args,
        )
    }

    /// [`Server::start_with`] in a process that may open at most `fds`
    /// files and sockets (`ulimit -n`).
    pub fn start_with_fd_limit(data_dir: &Path, args: &[&str], fds: u32) -> Server {
        let mut sh = Command::new("sh");
        sh.args(["-c", r#"ulimit -n "$0" && exec "$@""#])
            .arg(fds.to_string())
            .arg(env!("CARGO_BIN_EXE_switchboard"));
        Self::launch(sh, data_dir, args)
    }

    fn launch(mut command: Command, data_dir: &Path, args: &[&str]) -> Server {
        let mut child = command
            .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json"])
            .arg("--data-dir")
            .arg(data_dir)
            .args(args)
            .env("SWITCHBOARD_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start switchboard");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        let logs = Arc::new(Mutex::new(Vec::new()));
        let log = logs.clone();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Ok(mut log) = log.lock() {
                    log.push(line.clone());
                }
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
                    && let Some(addr) = v["fields"]["address"].as_str()
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(addr.parse::<SocketAddr>().expect("address"));
                }
                // Keep draining so the server never blocks on a full pipe.
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(300)) {
            Ok(addr) => addr,
            Err(e) => {
                let _ = child.kill();
                let status = child.wait().ok();
                let tail = logs
                    .lock()
                    .map(|l| l[l.len().saturating_sub(30)..].join("\n"))
                    .unwrap_or_default();
                panic!(
                    "the server did not report its address ({e}; exit {status:?}); its last log lines:\n{tail}"
                )
            }
        };
        let token = std::fs::read_to_string(data_dir.join("admin-token"))
            .expect("the first start writes an admin token")
            .trim()
            .to_owned();
        Server {
            child,
            addr,
            token,
            logs,
        }
    }

    /// SIGKILL: no shutdown, no flush.
    pub fn kill(mut self) {
        self.child.kill().expect("kill");
        self.child.wait().expect("wait");
    }

    pub fn get(&self, path: &str) -> (u16, serde_json::Value) {
        request(self.addr, "GET", path, None, Some(&self.token)).expect("request")
    }

    pub fn post(&self, path: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
        request(
            self.addr,
            "POST",
            path,
            Some(&body.to_string()),
            Some(&self.token),
        )
        .expect("request")
    }

    pub fn put(&self, path: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
        request(
            self.addr,
            "PUT",
            path,
            Some(&body.to_string()),
            Some(&self.token),
        )
        .expect("request")
    }

    #[allow(dead_code)] // not every test binary deletes
    pub fn delete(&self, path: &str) -> (u16, serde_json::Value) {
        request(self.addr, "DELETE", path, None, Some(&self.token)).expect("request")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Write one request on a fresh connection (closed after the answer).
fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
    token: Option<&str>,
) -> std::io::Result<TcpStream> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    let body = body.unwrap_or("");
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    Ok(s)
}

/// One request on a fresh connection; the body of the answer as JSON
/// (`null` when empty).
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
    token: Option<&str>,
) -> std::io::Result<(u16, serde_json::Value)> {
    let mut s = send(addr, method, path, body, token)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("no HTTP response: {text:?}")))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line: {head:?}")))?;
    let json = if body.trim().is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(body).unwrap_or(serde_json::Value::String(body.to_owned()))
    };
    Ok((status, json))
}

/// The status of a request, reading only the response head (for streams
/// that never end).
pub fn status_only(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
    token: Option<&str>,
) -> std::io::Result<u16> {
    let s = send(addr, method, path, body, token)?;
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line)?;
    line.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line: {line:?}")))
}

/// A token of `role` created through the API with the admin token.
pub fn token_for(server: &Server, role: &str) -> String {
    let (status, body) = server.post(
        "/v1/tokens",
        &serde_json::json!({ "role": role, "label": format!("{role} (test)") }),
    );
    assert_eq!(status, 201, "{body}");
    body["token"].as_str().expect("token").to_owned()
}

/// Run `switchboard simulate <args> --json` against `server`; its JSON
/// summary and its progress log (stderr). Panics if it fails.
pub fn simulate(server: &Server, args: &[&str]) -> (serde_json::Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .arg("simulate")
        .args(args)
        .args(["--json", "--server", &format!("http://{}", server.addr)])
        .args(["--token", &server.token])
        .output()
        .expect("run switchboard simulate");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "simulate failed:\n{stderr}");
    let summary = serde_json::from_slice(&out.stdout).expect("the JSON summary");
    (summary, stderr)
}
