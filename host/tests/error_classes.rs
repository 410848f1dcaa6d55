//! Errors are classified honestly: a storage fault is a 5xx (never a 401 or
//! a 422), a clash with the registry's state is a 409. The server runs
//! in-process over a real sled store wrapped so that reads of one keyspace
//! fail, as a broken disk would make them; requests go through the real
//! router.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::ops::Bound;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use parking_lot::Mutex;
use switchboard::auth::{Role, Tokens};
use switchboard::engine::{Engine, EngineSettings};
use switchboard::plugins::{PluginRuntime, RuntimeConfig};
use switchboard::registry::Registry;
use switchboard::server::{AppState, router};
use switchboard::store::{Durability, Scan, SledStore, Store, StoreError, Writes};
use tower::ServiceExt as _;

/// What a [`FaultyStore`] hook sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StoreEvent {
    /// A commit that appends an audit record of this kind.
    Audit(&'static str),
    /// `make_durable` returned.
    Durable,
}

type Hook = Box<dyn Fn(StoreEvent) + Send + Sync>;

/// A sled store whose reads of the keyspaces in `broken` fail, and which
/// tells `hook` about plugin activation records and durable flushes.
struct FaultyStore {
    inner: SledStore,
    broken: Mutex<Vec<&'static str>>,
    hook: Mutex<Option<Hook>>,
}

impl FaultyStore {
    fn fault(&self, space: &str) -> Option<StoreError> {
        self.broken
            .lock()
            .contains(&space)
            .then(|| StoreError::Corrupt(format!("injected read fault in `{space}`")))
    }
}

impl Store for FaultyStore {
    fn get(&self, space: &'static str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        match self.fault(space) {
            Some(e) => Err(e),
            None => self.inner.get(space, key),
        }
    }
    fn scan(
        &self,
        space: &'static str,
        range: (Bound<Vec<u8>>, Bound<Vec<u8>>),
        reverse: bool,
    ) -> Scan<'_> {
        match self.fault(space) {
            Some(e) => Box::new(std::iter::once(Err(e))),
            None => self.inner.scan(space, range, reverse),
        }
    }
    fn commit(&self, writes: Writes) -> Result<(), StoreError> {
        let kinds: Vec<&'static str> = writes
            .0
            .iter()
            .filter(|w| w.space == "audit")
            .filter_map(|w| {
                let text = String::from_utf8_lossy(w.value.as_deref()?).into_owned();
                ["plugin.activate", "plugin.rollback"]
                    .into_iter()
                    .find(|k| text.contains(&format!("\"kind\":\"{k}\"")))
            })
            .collect();
        self.inner.commit(writes)?;
        if let Some(hook) = &*self.hook.lock() {
            for k in kinds {
                hook(StoreEvent::Audit(k));
            }
        }
        Ok(())
    }
    fn commit_atomic(&self, writes: Writes) -> Result<(), StoreError> {
        self.inner.commit_atomic(writes)
    }
    fn make_durable(&self) -> Result<(), StoreError> {
        self.inner.make_durable()?;
        if let Some(hook) = &*self.hook.lock() {
            hook(StoreEvent::Durable);
        }
        Ok(())
    }
    fn generate_id(&self) -> Result<u64, StoreError> {
        self.inner.generate_id()
    }
    fn flush(&self) -> Result<(), StoreError> {
        self.inner.flush()
    }
    fn commit_stats(&self) -> (u64, u64) {
        self.inner.commit_stats()
    }
    fn backup(
        &self,
        out: &mut dyn std::io::Write,
    ) -> Result<switchboard::store::BackupSummary, StoreError> {
        self.inner.backup(out)
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    store: Arc<FaultyStore>,
    engine: Arc<Engine>,
    registry: Arc<Registry>,
    app: axum::Router,
    token: String,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FaultyStore {
        inner: SledStore::open(&dir.path().join("db"), Durability::Group).unwrap(),
        broken: Mutex::new(Vec::new()),
        hook: Mutex::new(None),
    });
    let audit = Arc::new(switchboard::audit::AuditLog::open(store.clone()).unwrap());
    let engine = Arc::new(
        Engine::with_parts(store.clone(), audit.clone(), EngineSettings::default()).unwrap(),
    );
    let runtime = PluginRuntime::new(RuntimeConfig {
        cache_dir: Some(dir.path().join("cache")),
        ..RuntimeConfig::default()
    })
    .unwrap();
    let registry = Arc::new(Registry::new(
        engine.clone(),
        store.clone(),
        audit.clone(),
        Arc::new(runtime),
    ));
    registry.restore_or_bootstrap().unwrap();
    let token = Tokens::new(&*store)
        .create(Role::Admin, "test", None, 0)
        .unwrap()
        .token;
    let app = router(AppState {
        engine: engine.clone(),
        registry: registry.clone(),
        clock: None,
        streams: switchboard::server::StreamControl::default(),
        tokens: Arc::new(switchboard::auth::TokenCache::load(store.clone()).unwrap()),
        audit: audit.clone(),
        whatif: Default::default(),
        shadows: Arc::new(switchboard::shadow::Shadows::new(audit)),
    });
    Fixture {
        _dir: dir,
        store,
        engine,
        registry,
        app,
        token,
    }
}

impl Fixture {
    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (StatusCode, serde_json::Value) {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {}", self.token))
            .header("content-type", "application/json")
            .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
            .unwrap();
        let res = self.app.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .unwrap();
        let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        (status, json)
    }
}

/// Tokens are held in memory (issue 19): authenticating reads no store,
/// so a broken token keyspace stops no request; a revocation the store
/// cannot record is a 5xx storage fault, and the token stays valid rather than vanishing
/// until the next restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storage_fault_in_the_tokens_stops_no_request_and_a_failed_revoke_is_a_5xx() {
    let f = fixture();
    let (status, _) = f.call("GET", "/v1/queues", None).await;
    assert_eq!(status, StatusCode::OK, "the token works");
    f.store.broken.lock().push("tokens");
    let (status, body) = f.call("GET", "/v1/queues", None).await;
    assert_eq!(status, StatusCode::OK, "no store read: {body}");
    let id = f.token.split('_').nth(1).unwrap().to_owned();
    let (status, problem) = f.call("DELETE", &format!("/v1/tokens/{id}"), None).await;
    assert!(status.is_server_error(), "{status}: {problem}");
    assert_eq!(problem["error"], "storage", "{problem}");
    // The client is not given the fault's detail.
    let detail = problem["detail"].as_str().unwrap();
    assert!(!detail.contains("injected"), "{detail}");
    let (status, body) = f.call("GET", "/v1/queues", None).await;
    assert_eq!(status, StatusCode::OK, "the revoke did not happen: {body}");
    f.store.broken.lock().clear();
    let (status, _) = f.call("DELETE", &format!("/v1/tokens/{id}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = f.call("GET", "/v1/queues", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "revoked at once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storage_fault_while_building_a_report_is_a_5xx_not_a_422() {
    let f = fixture();
    let (status, report) = f.call("GET", "/v1/reports/agents", None).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    f.store.broken.lock().push("goals");
    let (status, problem) = f.call("GET", "/v1/reports/agents", None).await;
    assert!(status.is_server_error(), "{status}: {problem}");
    assert_eq!(problem["error"], "storage", "{problem}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activating_into_a_slot_of_another_kind_is_a_conflict() {
    let f = fixture();
    let (_, slots) = f.call("GET", "/v1/slots", None).await;
    let slots = slots["slots"].as_array().unwrap();
    let find = |kind: &str| {
        slots
            .iter()
            .find(|s| s["kind"] == kind)
            .unwrap_or_else(|| panic!("a bundled {kind} slot"))
            .clone()
    };
    let escalation = find("escalation");
    let compliance = find("compliance");
    // A compliance check into the escalation rule's slot: the slot exists
    // with another kind, a clash with its state, not a malformed request.
    let (status, problem) = f
        .call(
            "POST",
            &format!(
                "/v1/slots/{}/activate",
                escalation["slot"].as_str().unwrap()
            ),
            Some(serde_json::json!({
                "plugin": compliance["current"]["plugin"],
                "version": compliance["current"]["version"],
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["error"], "conflict", "{problem}");
}

/// Store events, each with the routing version serving at that moment.
type Seen = Vec<(StoreEvent, Option<String>)>;

/// The routing version that serves calls right now.
fn serving(engine: &Engine) -> Option<String> {
    engine.routing().current().map(|a| {
        let p = a.plugin().id();
        format!("{}@{}", p.id, p.version)
    })
}

#[test]
fn an_activation_is_recorded_durably_before_any_call_can_use_it() {
    let f = fixture();
    let before = serving(&f.engine).expect("bundled routing policy");
    let bytes = std::fs::read(switchboard::bundled::test_guests::MISBEHAVING).unwrap();
    let manifest = serde_json::json!({
        "id": "misbehaving", "version": "1.0.0", "kind": "routing", "wit": "0.2.0",
        "config_schema": {"type": "object"}, "default_config": {},
        "fail_policy": "fail-open"
    });
    f.registry.upload(&manifest, &bytes, None, "test").unwrap();
    // What serves calls at the moment each activation record is written,
    // and when it has become durable.
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let (engine, log) = (Arc::downgrade(&f.engine), seen.clone());
    *f.store.hook.lock() = Some(Box::new(move |event| {
        if let Some(engine) = engine.upgrade() {
            log.lock().push((event, serving(&engine)));
        }
    }));
    f.registry
        .activate("routing", "misbehaving", "1.0.0", None, "token:test")
        .unwrap();
    f.registry.rollback("routing", "token:test").unwrap();
    *f.store.hook.lock() = None;
    let seen = seen.lock().clone();
    let after_record = |kind: &'static str| {
        let at = seen
            .iter()
            .position(|(e, _)| *e == StoreEvent::Audit(kind))
            .unwrap_or_else(|| panic!("no {kind} record: {seen:?}"));
        let durable = seen[at..]
            .iter()
            .find(|(e, _)| *e == StoreEvent::Durable)
            .unwrap_or_else(|| panic!("{kind} record never made durable: {seen:?}"));
        (seen[at].1.clone(), durable.1.clone())
    };
    // The old version still serves while the record is written and flushed.
    let old = Some(before.clone());
    assert_eq!(
        after_record("plugin.activate"),
        (old.clone(), old),
        "{seen:?}"
    );
    let new = Some("misbehaving@1.0.0".to_owned());
    assert_eq!(
        after_record("plugin.rollback"),
        (new.clone(), new),
        "{seen:?}"
    );
    assert_eq!(serving(&f.engine), Some(before));
}
