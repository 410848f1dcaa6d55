//! The HTTP edge: connections are admitted within limits (all clients
//! together, and per client address), slow or silent clients are cut off,
//! and every response carries the headers browsers and caches need. The
//! router is served on hyper directly: `axum::serve` has no header timeout.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use parking_lot::Mutex;
use tokio::net::{TcpListener, TcpStream};

/// Limits of the HTTP edge (`[http]` in the config file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgeLimits {
    /// Time to send a whole request head; also how long an idle kept-alive
    /// connection stays open.
    pub header_read_timeout: Duration,
    /// Longest silence while a request body is being sent.
    pub body_read_timeout: Duration,
    /// Open connections, all clients together.
    pub max_connections: usize,
    /// Open connections from one IP address.
    pub max_connections_per_peer: usize,
}

impl Default for EdgeLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            max_connections: 2048,
            max_connections_per_peer: 256,
        }
    }
}

impl EdgeLimits {
    /// These limits within a process that may open `file_limit` files: at
    /// most three quarters of them go to connections, the rest stays for
    /// the store, the plugin cache and refusing connections politely.
    pub fn within_file_limit(&self, file_limit: Option<u64>) -> EdgeLimits {
        let mut limits = self.clone();
        if let Some(files) = file_limit {
            let room = usize::try_from(files / 4 * 3).unwrap_or(usize::MAX).max(1);
            limits.max_connections = limits.max_connections.min(room);
        }
        limits.max_connections_per_peer =
            limits.max_connections_per_peer.min(limits.max_connections);
        limits
    }
}

/// How many files this process may open (the soft `RLIMIT_NOFILE`), if
/// known.
pub fn file_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        rustix::process::getrlimit(rustix::process::Resource::Nofile).current
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// `max_connections` are open.
    Full,
    /// The client's address holds `max_connections_per_peer`.
    PeerFull,
}

impl Refused {
    fn label(self) -> &'static str {
        match self {
            Refused::Full => "server_full",
            Refused::PeerFull => "peer_full",
        }
    }
}

/// The open connections, in total and per client address.
#[derive(Clone)]
pub struct Admission {
    max_total: usize,
    max_per_peer: usize,
    open: Arc<Mutex<OpenConnections>>,
}

#[derive(Default)]
struct OpenConnections {
    total: usize,
    per_peer: HashMap<IpAddr, usize>,
}

/// An admitted connection; dropping it frees its place.
pub struct Admitted {
    peer: IpAddr,
    open: Arc<Mutex<OpenConnections>>,
}

impl Admission {
    pub fn new(limits: &EdgeLimits) -> Self {
        Self {
            max_total: limits.max_connections,
            max_per_peer: limits.max_connections_per_peer,
            open: Arc::default(),
        }
    }

    /// Admit a connection from `peer`, or say why not.
    pub fn admit(&self, peer: IpAddr) -> Result<Admitted, Refused> {
        let mut open = self.open.lock();
        if open.total >= self.max_total {
            return Err(Refused::Full);
        }
        let held = open.per_peer.entry(peer).or_default();
        if *held >= self.max_per_peer {
            return Err(Refused::PeerFull);
        }
        *held += 1;
        open.total += 1;
        crate::metrics::metrics()
            .http_connections_open
            .set(open.total as i64);
        Ok(Admitted {
            peer,
            open: self.open.clone(),
        })
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut open = self.open.lock();
        open.total = open.total.saturating_sub(1);
        if let Some(held) = open.per_peer.get_mut(&self.peer) {
            *held = held.saturating_sub(1);
            if *held == 0 {
                open.per_peer.remove(&self.peer);
            }
        }
        crate::metrics::metrics()
            .http_connections_open
            .set(open.total as i64);
    }
}

/// What a refused connection is told before it is closed: a problem
/// response, as every other error.
static REFUSAL: std::sync::LazyLock<Vec<u8>> = std::sync::LazyLock::new(|| {
    let detail =
        "too many open connections (from your address, or in all); close idle ones and retry";
    let body = serde_json::json!({
        "type": "urn:switchboard:problem:unavailable",
        "title": "Service Unavailable",
        "status": 503,
        "detail": detail,
        "error": "unavailable",
        "message": detail,
    })
    .to_string();
    format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/problem+json\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
});

/// Tell a refused client why, without waiting on it, and close.
fn refuse(stream: TcpStream, peer: SocketAddr, why: Refused) {
    // `try_write` never blocks: a client that does not read costs nothing.
    let _ = stream.try_write(&REFUSAL);
    crate::metrics::metrics()
        .http_connections_refused
        .with_label_values(&[why.label()])
        .inc();
    tracing::debug!(%peer, reason = why.label(), "connection refused");
}

/// Cut a request body off after `timeout` of silence (the handler reading
/// it gets an error and answers 408).
async fn body_read_timeout(timeout: Duration, req: Request, next: Next) -> Response {
    let req = req.map(|body| Body::new(tower_http::timeout::TimeoutBody::new(timeout, body)));
    next.run(req).await
}

/// `X-Content-Type-Options: nosniff` on every response, and
/// `Cache-Control: no-store` on the API's (they carry tokens and customer
/// data), unless a handler chose otherwise.
pub(super) async fn security_headers(req: Request, next: Next) -> Response {
    let api = req.uri().path().starts_with("/v1/");
    let mut res = next.run(req).await;
    let headers = res.headers_mut();
    headers
        .entry(header::X_CONTENT_TYPE_OPTIONS)
        .or_insert(HeaderValue::from_static("nosniff"));
    if api {
        headers
            .entry(header::CACHE_CONTROL)
            .or_insert(HeaderValue::from_static("no-store"));
    }
    res
}

/// Serve `app` on `listener` within `limits` until `shutdown` completes,
/// then finish the requests in flight.
pub(super) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: EdgeLimits,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let body_timeout = limits.body_read_timeout;
    let app = app.layer(axum::middleware::from_fn(
        move |req: Request, next: Next| body_read_timeout(body_timeout, req, next),
    ));
    let admission = Admission::new(&limits);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors or a connection reset before
                    // it was accepted: pause instead of spinning.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let admitted = match admission.admit(peer.ip()) {
            Ok(admitted) => admitted,
            Err(why) => {
                refuse(stream, peer, why);
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let conn =
            http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(%peer, error = %e, "connection closed with an error");
            }
            drop(admitted);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(total: usize, per_peer: usize) -> EdgeLimits {
        EdgeLimits {
            max_connections: total,
            max_connections_per_peer: per_peer,
            ..EdgeLimits::default()
        }
    }

    #[test]
    fn one_peer_gets_its_share_and_the_total_is_capped() {
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        let c: IpAddr = [10, 0, 0, 3].into();
        let admission = Admission::new(&limits(5, 2));
        let held_a: Vec<_> = (0..2).map(|_| admission.admit(a).unwrap()).collect();
        assert_eq!(admission.admit(a).err(), Some(Refused::PeerFull));
        let held_b: Vec<_> = (0..2).map(|_| admission.admit(b).unwrap()).collect();
        let held_c = admission.admit(c).unwrap();
        // Five open: nobody else, whatever their address.
        assert_eq!(admission.admit(c).err(), Some(Refused::Full));
        assert_eq!(
            admission.admit([10, 0, 0, 4].into()).err(),
            Some(Refused::Full)
        );
        // Closing one frees its place, for its peer or another.
        drop(held_c);
        drop(held_a);
        let again: Vec<_> = (0..2).map(|_| admission.admit(a).unwrap()).collect();
        let held_c = admission.admit(c).unwrap();
        assert_eq!(admission.admit(c).err(), Some(Refused::Full));
        drop((again, held_b, held_c));
        assert!(admission.open.lock().per_peer.is_empty());
    }

    #[test]
    fn connections_leave_a_quarter_of_the_file_limit_free() {
        let configured = limits(2048, 256);
        assert_eq!(configured.within_file_limit(None), configured);
        assert_eq!(configured.within_file_limit(Some(20_000)), configured);
        let low = configured.within_file_limit(Some(1024));
        assert_eq!(
            (low.max_connections, low.max_connections_per_peer),
            (768, 256)
        );
        let tiny = configured.within_file_limit(Some(256));
        assert_eq!(
            (tiny.max_connections, tiny.max_connections_per_peer),
            (192, 192)
        );
    }
}
