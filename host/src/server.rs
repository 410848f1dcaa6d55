//! The HTTP server. For now: `/healthz` reporting the active plugins; the
//! full API arrives with the HTTP issue.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

use crate::plugins::LoadedPlugin;

/// Shared state of the HTTP handlers.
#[derive(Debug, Clone)]
pub struct AppState {
    plugins: Arc<Vec<Arc<LoadedPlugin>>>,
}

/// The application's routes.
pub fn router(plugins: Vec<Arc<LoadedPlugin>>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .with_state(AppState {
            plugins: Arc::new(plugins),
        })
        .layer(tower_http::trace::TraceLayer::new_for_http())
}

async fn healthz(State(state): State<AppState>) -> Json<serde_json::Value> {
    let plugins: Vec<_> = state
        .plugins
        .iter()
        .map(|p| {
            serde_json::json!({
                "id": &*p.id().id,
                "version": &*p.id().version,
                "kind": p.manifest().kind,
                "digest": format!("sha256:{}", p.id().digest),
            })
        })
        .collect();
    Json(serde_json::json!({ "status": "ok", "plugins": plugins }))
}

/// Serve until Ctrl-C / SIGTERM, then finish in-flight requests.
pub async fn run(listen: SocketAddr, plugins: Vec<Arc<LoadedPlugin>>) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}: is another server using that port? pick one with --listen"))?;
    let local = listener.local_addr()?;
    tracing::info!(address = %local, "switchboard is listening; try: curl http://{local}/healthz");
    axum::serve(listener, router(plugins))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("server error")?;
    tracing::info!("shut down cleanly");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown requested; finishing in-flight requests");
}
