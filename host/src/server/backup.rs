//! `GET /v1/backup`: a consistent copy of the whole store, streamed.

use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use super::caller::perm;
use super::{Allowed, ApiResult, AppState};
use crate::auth::Action;

/// Buffers the stream into chunks for the response body.
struct ChunkSender {
    tx: tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
    buf: Vec<u8>,
}

const CHUNK: usize = 256 * 1024;

impl std::io::Write for ChunkSender {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::other("the client went away"))
    }
}

/// A point-in-time copy of every keyspace (contacts, timers, tokens, plugin
/// versions, the audit chain), as a self-checking stream. Writers pause
/// only while the copy is taken on the server's disk, not while it is sent.
/// `switchboard backup --out DIR` turns it into a data directory.
#[utoipa::path(get, path = "/v1/backup", tag = "audit",
    responses(
        (status = 200, description = "The backup stream (read it with `switchboard backup`)",
            content_type = "application/octet-stream", body = Vec<u8>),
    ),
    extensions(("x-roles" = json!(Action::Backup.roles()))))]
pub(super) async fn backup(
    State(state): State<AppState>,
    caller: Allowed<perm::Backup>,
) -> ApiResult<Response> {
    // Audited first, so the backup holds the record of its own taking.
    state
        .audit_action(&caller, "store.backup", "store", serde_json::json!({}))
        .await?;
    let (tx, mut rx) = tokio::sync::mpsc::channel(4);
    let engine = state.engine.clone();
    tokio::task::spawn_blocking(move || {
        let mut out = ChunkSender {
            tx: tx.clone(),
            buf: Vec::with_capacity(CHUNK),
        };
        match engine.backup(&mut out) {
            Ok(summary) => tracing::info!(
                keyspaces = summary.keyspaces,
                keys = summary.keys,
                bytes = summary.bytes,
                "backup sent"
            ),
            Err(e) => {
                // The body ends in an error: the client sees a cut stream
                // and keeps nothing of it.
                tracing::error!(error = %e, "backup failed");
                let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
            }
        }
    });
    let stream = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}
