//! The plugin registry: uploaded versions (component bytes by digest, the
//! manifest), and what each engine slot runs (current and previous version
//! with their configs), kept in the store so a restart comes back as it
//! was. Activation is atomic (one pointer swap in the engine's slot); calls
//! already running finish on the version they started with. Every change
//! is audited with the acting token. Calls `plugins`, `engine`, `store`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::audit::AuditEntry;
use crate::engine::{Engine, EngineError};
use crate::plugins::{
    ComplianceCheck, EscalationRule, KpiDefinition, LoadedPlugin, Manifest, PluginKind,
    PluginRuntime, RoutingPolicy,
};
use crate::store::{Store, StoreError, Writes};

const VERSIONS: &str = "plugin_versions";
const BLOBS: &str = "plugin_blobs";
const SLOTS: &str = "plugin_slots";
/// The slot name of the routing policy.
pub const ROUTING_SLOT: &str = "routing";

/// An uploaded plugin version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VersionInfo {
    pub id: String,
    pub version: String,
    pub kind: PluginKind,
    /// `sha256:<hex>` of the component bytes.
    pub digest: String,
    #[schema(value_type = u64)]
    pub size_bytes: usize,
    pub uploaded_at: i64,
    /// `token:<id>`, or `bundled`.
    pub uploaded_by: String,
    /// The public key (base64) that signed it, when signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_by: Option<String>,
    pub manifest: serde_json::Value,
}

/// A version with a config, as a slot runs it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SlotVersion {
    pub plugin: String,
    pub version: String,
    pub config: serde_json::Value,
    pub activated_at: i64,
    pub activated_by: String,
}

/// What a slot runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SlotInfo {
    pub slot: String,
    pub kind: PluginKind,
    pub current: Option<SlotVersion>,
    pub previous: Option<SlotVersion>,
}

/// Why a registry operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<EngineError> for RegistryError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Store(s) => RegistryError::Store(s),
            EngineError::NotFound(m) => RegistryError::NotFound(m),
            // A clash with the current state is a conflict (409), not bad input.
            EngineError::Conflict(m) => RegistryError::Conflict(m),
            EngineError::Transition(t) => RegistryError::Conflict(t.to_string()),
            EngineError::Invalid(m) => RegistryError::Invalid(m),
        }
    }
}

/// An uploaded manifest, checked for shape (not yet against a component).
fn parse_manifest(manifest: &serde_json::Value) -> Result<Manifest, RegistryError> {
    Manifest::from_json(&manifest.to_string())
        .map_err(|e| RegistryError::Invalid(format!("manifest: {e}")))
}

fn version_key(id: &str, version: &str) -> Vec<u8> {
    format!("{id}\0{version}").into_bytes()
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(format!("stored {what}: {e}")))
}

fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(v).map_err(|e| StoreError::Corrupt(format!("cannot encode: {e}")))
}

/// Load uploaded version `id@version` from `store` into `runtime` (the
/// compile cache makes a second load cheap). For [`Registry::plugin`], and
/// for tools that read a data directory without a running server
/// (`switchboard audit replay`).
pub fn load_stored(
    store: &dyn Store,
    runtime: &PluginRuntime,
    id: &str,
    version: &str,
) -> Result<Arc<LoadedPlugin>, RegistryError> {
    let info: VersionInfo = store
        .get(VERSIONS, &version_key(id, version))?
        .map(|v| decode(&v, "plugin version"))
        .transpose()?
        .ok_or_else(|| {
            RegistryError::NotFound(format!(
                "no plugin {id}@{version}; upload it first (GET /v1/plugins lists what is there)"
            ))
        })?;
    let bytes = store.get(BLOBS, info.digest.as_bytes())?.ok_or_else(|| {
        StoreError::Corrupt(format!("the component of {id}@{version} is missing"))
    })?;
    let manifest = Manifest::from_json(&info.manifest.to_string())
        .map_err(|e| StoreError::Corrupt(format!("stored manifest of {id}@{version}: {e}")))?;
    runtime
        .load(manifest, &bytes)
        .map_err(|e| RegistryError::Invalid(e.to_string()))
}

/// What an activation took.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Activated {
    pub slot: SlotInfo,
    /// Time from the request to the new version serving calls (compile
    /// cache lookup, instantiate, configure, swap), in microseconds.
    pub swap_us: u64,
    /// The audit record of the change.
    pub audit_seq: u64,
}

/// The registry.
pub struct Registry {
    engine: Arc<Engine>,
    store: Arc<dyn Store>,
    audit: Arc<crate::audit::AuditLog>,
    runtime: Arc<PluginRuntime>,
    loaded: Mutex<HashMap<(String, String), Arc<LoadedPlugin>>>,
    /// Serializes changes to slots.
    changes: Mutex<()>,
    /// Which upload signatures are accepted.
    trust: crate::signing::Trust,
}

impl Registry {
    /// A registry activating into `engine`'s slots, keeping its versions in
    /// `store` and recording its changes in `audit` (the engine's own: see
    /// [`Engine::with_parts`]).
    pub fn new(
        engine: Arc<Engine>,
        store: Arc<dyn Store>,
        audit: Arc<crate::audit::AuditLog>,
        runtime: Arc<PluginRuntime>,
    ) -> Self {
        Self {
            engine,
            store,
            audit,
            runtime,
            loaded: Mutex::new(HashMap::new()),
            changes: Mutex::new(()),
            trust: crate::signing::Trust::default(),
        }
    }

    /// Accept uploads by these signature rules (default: unsigned is fine,
    /// any valid signature is recorded).
    pub fn with_trust(mut self, trust: crate::signing::Trust) -> Self {
        self.trust = trust;
        self
    }

    /// Check an upload's signature; the signer's key when signed.
    pub fn check_signature(
        &self,
        manifest: &serde_json::Value,
        bytes: &[u8],
        signature: Option<&crate::signing::PluginSignature>,
    ) -> Result<Option<String>, RegistryError> {
        self.trust
            .check(bytes, manifest, signature)
            .map_err(RegistryError::Invalid)
    }

    fn store(&self) -> &dyn Store {
        &*self.store
    }

    /// Check a component against its manifest exactly as an upload would
    /// (compile, world, WIT version, imports, default config), storing nothing.
    pub fn validate(
        &self,
        manifest: &serde_json::Value,
        bytes: &[u8],
    ) -> Result<Arc<LoadedPlugin>, RegistryError> {
        self.validate_parsed(parse_manifest(manifest)?, bytes)
    }

    fn validate_parsed(
        &self,
        manifest: Manifest,
        bytes: &[u8],
    ) -> Result<Arc<LoadedPlugin>, RegistryError> {
        // Not cached yet: a refused component must leave nothing behind.
        let plugin = self
            .runtime
            .load_unsaved(manifest, bytes)
            .map_err(|e| RegistryError::Invalid(e.to_string()))?;
        probe(&plugin)?;
        Ok(plugin)
    }

    /// Store a new version. The same id and version with the same bytes is
    /// a no-op; with other bytes it is refused (versions are immutable).
    /// A signature is checked first (see [`crate::signing::Trust`]).
    pub fn upload(
        &self,
        manifest: &serde_json::Value,
        bytes: &[u8],
        signature: Option<&crate::signing::PluginSignature>,
        actor: &str,
    ) -> Result<VersionInfo, RegistryError> {
        let signed_by = self.check_signature(manifest, bytes, signature)?;
        self.store_version(manifest, bytes, signed_by, actor)
    }

    fn store_version(
        &self,
        manifest: &serde_json::Value,
        bytes: &[u8],
        signed_by: Option<String>,
        actor: &str,
    ) -> Result<VersionInfo, RegistryError> {
        let manifest = parse_manifest(manifest)?;
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(bytes)));
        // A version already stored is answered before compiling anything
        // (a Python component takes seconds): the same upload again is a
        // no-op, anything else a conflict.
        if let Some(existing) = self.existing_version(&manifest, &digest)? {
            return Ok(existing);
        }
        let plugin = self.validate_parsed(manifest, bytes)?;
        // Again: another upload of this version may have landed while
        // this one compiled.
        if let Some(existing) = self.existing_version(plugin.manifest(), &digest)? {
            return Ok(existing);
        }
        let p = plugin.id();
        let key = version_key(&p.id, &p.version);
        let info = VersionInfo {
            id: p.id.to_string(),
            version: p.version.to_string(),
            kind: plugin.manifest().kind,
            digest: digest.clone(),
            size_bytes: bytes.len(),
            uploaded_at: self.engine.now(),
            uploaded_by: actor.to_owned(),
            signed_by,
            manifest: serde_json::to_value(plugin.manifest())
                .map_err(|e| RegistryError::Invalid(e.to_string()))?,
        };
        let mut w = Writes::default();
        w.put(BLOBS, digest.as_bytes(), bytes.to_vec());
        w.put(VERSIONS, key, encode(&info)?);
        let entry = self.entry(actor, "plugin.upload", &info.id, &info)?;
        self.audit.commit(vec![entry], w)?;
        self.store().make_durable()?;
        // Stored: now its compiled form is worth keeping.
        if let Err(e) = self.runtime.save_compiled(&plugin) {
            tracing::warn!(plugin = %plugin.id(), error = %e, "could not cache the compiled component");
        }
        self.loaded
            .lock()
            .insert((info.id.clone(), info.version.clone()), plugin);
        Ok(info)
    }

    /// The stored version `manifest` names, if it is exactly this upload
    /// (a component of `digest`, `sha256:<hex>`); a conflict if that
    /// version was uploaded with another component or another manifest (a
    /// changed limit or fail policy must not be lost without a word);
    /// `None` if it is new.
    fn existing_version(
        &self,
        manifest: &Manifest,
        digest: &str,
    ) -> Result<Option<VersionInfo>, RegistryError> {
        let key = version_key(&manifest.id, &manifest.version);
        let Some(existing) = self.store().get(VERSIONS, &key)? else {
            return Ok(None);
        };
        let existing: VersionInfo = decode(&existing, "plugin version")?;
        let what = if existing.digest != digest {
            format!("another component ({})", existing.digest)
        } else if serde_json::to_value(manifest).ok().as_ref() != Some(&existing.manifest) {
            "the same component but another manifest (GET /v1/plugins shows it)".to_owned()
        } else {
            return Ok(Some(existing));
        };
        Err(RegistryError::Conflict(format!(
            "{}@{} is already uploaded with {what}; versions are immutable: bump `version` in the manifest",
            manifest.id, manifest.version
        )))
    }

    /// Every uploaded version, by id then version.
    pub fn versions(&self) -> Result<Vec<VersionInfo>, RegistryError> {
        Ok(self
            .store()
            .scan_prefix(VERSIONS, b"")
            .map(|kv| decode(&kv?.1, "plugin version"))
            .collect::<Result<_, StoreError>>()?)
    }

    /// What every slot runs (automatic rollbacks not yet recorded are
    /// recorded first).
    pub fn slots(&self) -> Result<Vec<SlotInfo>, RegistryError> {
        self.sync_auto_rollbacks()?;
        self.stored_slots()
    }

    fn stored_slots(&self) -> Result<Vec<SlotInfo>, RegistryError> {
        Ok(self
            .store()
            .scan_prefix(SLOTS, b"")
            .map(|kv| decode(&kv?.1, "plugin slot"))
            .collect::<Result<_, StoreError>>()?)
    }

    pub fn slot(&self, name: &str) -> Result<Option<SlotInfo>, RegistryError> {
        Ok(self
            .store()
            .get(SLOTS, name.as_bytes())?
            .map(|v| decode(&v, "plugin slot"))
            .transpose()?)
    }

    /// The loaded plugin of an uploaded version.
    pub fn plugin(&self, id: &str, version: &str) -> Result<Arc<LoadedPlugin>, RegistryError> {
        let k = (id.to_owned(), version.to_owned());
        if let Some(p) = self.loaded.lock().get(&k) {
            return Ok(p.clone());
        }
        let plugin = load_stored(&*self.store, &self.runtime, id, version)?;
        self.loaded.lock().insert(k, plugin.clone());
        Ok(plugin)
    }

    /// Run `plugin@version` with `config` (the manifest's default when
    /// `None`) in `slot`. The config is validated against the manifest's
    /// schema first; errors name the field.
    pub fn activate(
        &self,
        slot: &str,
        id: &str,
        version: &str,
        config: Option<serde_json::Value>,
        actor: &str,
    ) -> Result<Activated, RegistryError> {
        let started = Instant::now();
        let _guard = self.changes.lock();
        // Change the slot as it runs: record an automatic rollback first.
        self.sync_auto_rollbacks_locked()?;
        let plugin = self.plugin(id, version)?;
        let kind = plugin.manifest().kind;
        if (slot == ROUTING_SLOT) != (kind == PluginKind::Routing) {
            return Err(RegistryError::Invalid(format!(
                "{id}@{version} is a {kind} plugin; slot `{ROUTING_SLOT}` takes the routing policy and routing policies go only there"
            )));
        }
        let existing = self.slot(slot)?;
        if let Some(s) = &existing
            && s.kind != kind
        {
            // The request is well-formed; it clashes with what the slot is.
            return Err(RegistryError::Conflict(format!(
                "slot `{slot}` runs {} plugins, not {kind}; pick another slot name",
                s.kind
            )));
        }
        let config = config.unwrap_or_else(|| plugin.manifest().default_config.clone());
        let ready = self.prepare(slot, &plugin, config.clone())?;
        let swap_us = started.elapsed().as_micros() as u64;
        let now = self.engine.now();
        let info = SlotInfo {
            slot: slot.to_owned(),
            kind,
            // As the engine's slot keeps it: activating what already runs
            // (same version, same config) keeps the way back to what ran
            // before it; activating into an emptied slot keeps the version
            // that ran before the deactivation.
            previous: existing.and_then(|s| match s.current {
                Some(c) if c.plugin == id && c.version == version && c.config == config => {
                    s.previous
                }
                Some(c) => Some(c),
                None => s.previous,
            }),
            current: Some(SlotVersion {
                plugin: id.to_owned(),
                version: version.to_owned(),
                config,
                activated_at: now,
                activated_by: actor.to_owned(),
            }),
        };
        // The record first: no call can be decided by this version before
        // the record of its activation is durable.
        let audit_seq = self.save(&info, actor, "plugin.activate", swap_us)?;
        ready.put(&self.engine, slot, true);
        Ok(Activated {
            slot: info,
            swap_us,
            audit_seq,
        })
    }

    /// Put the previous version of `slot` back.
    pub fn rollback(&self, slot: &str, actor: &str) -> Result<Activated, RegistryError> {
        let started = Instant::now();
        let _guard = self.changes.lock();
        // Change the slot as it runs: record an automatic rollback first.
        self.sync_auto_rollbacks_locked()?;
        let info = self
            .slot(slot)?
            .ok_or_else(|| RegistryError::NotFound(format!("no plugin slot `{slot}`")))?;
        let Some(previous) = info.previous.clone() else {
            return Err(RegistryError::Conflict(format!(
                "slot `{slot}` has no previous version to roll back to"
            )));
        };
        let plugin = self.plugin(&previous.plugin, &previous.version)?;
        let ready = self.prepare(slot, &plugin, previous.config.clone())?;
        let swap_us = started.elapsed().as_micros() as u64;
        let info = SlotInfo {
            slot: slot.to_owned(),
            kind: info.kind,
            current: Some(previous),
            previous: info.current,
        };
        let audit_seq = self.save(&info, actor, "plugin.rollback", swap_us)?;
        ready.put(&self.engine, slot, false);
        Ok(Activated {
            slot: info,
            swap_us,
            audit_seq,
        })
    }

    /// Stop running anything in `slot`.
    pub fn deactivate(&self, slot: &str, actor: &str) -> Result<SlotInfo, RegistryError> {
        let _guard = self.changes.lock();
        // Change the slot as it runs: record an automatic rollback first.
        self.sync_auto_rollbacks_locked()?;
        let info = self
            .slot(slot)?
            .ok_or_else(|| RegistryError::NotFound(format!("no plugin slot `{slot}`")))?;
        let kind = info.kind;
        let info = SlotInfo {
            previous: info.current.or(info.previous),
            current: None,
            ..info
        };
        self.save(&info, actor, "plugin.deactivate", 0)?;
        self.deactivate_engine(slot, kind);
        Ok(info)
    }

    /// Delete an uploaded version that no slot runs or would roll back to.
    pub fn delete(&self, id: &str, version: &str, actor: &str) -> Result<(), RegistryError> {
        let _guard = self.changes.lock();
        let key = version_key(id, version);
        let info: VersionInfo = self
            .store()
            .get(VERSIONS, &key)?
            .map(|v| decode(&v, "plugin version"))
            .transpose()?
            .ok_or_else(|| RegistryError::NotFound(format!("no plugin {id}@{version}")))?;
        let uses = |v: &Option<SlotVersion>| {
            v.as_ref()
                .is_some_and(|v| v.plugin == id && v.version == version)
        };
        // Under `changes`: record pending rollbacks without taking it again.
        self.sync_auto_rollbacks_locked()?;
        if let Some(s) = self
            .stored_slots()?
            .into_iter()
            .find(|s| uses(&s.current) || uses(&s.previous))
        {
            return Err(RegistryError::Conflict(format!(
                "{id}@{version} is in use by slot `{}` (current or rollback target); activate another version there first",
                s.slot
            )));
        }
        let mut w = Writes::default();
        w.remove(VERSIONS, key);
        let shared = self
            .versions()?
            .iter()
            .any(|v| v.digest == info.digest && !(v.id == id && v.version == version));
        if !shared {
            w.remove(BLOBS, info.digest.as_bytes());
        }
        let entry = self.entry(actor, "plugin.delete", id, &info)?;
        self.audit.commit(vec![entry], w)?;
        self.store().make_durable()?;
        self.loaded
            .lock()
            .remove(&(id.to_owned(), version.to_owned()));
        Ok(())
    }

    /// Bring the engine's slots back as stored; on a first start (no
    /// slots), upload the bundled plugins and activate each with its
    /// default config. Returns the slots.
    pub fn restore_or_bootstrap(&self) -> Result<Vec<SlotInfo>, RegistryError> {
        let slots = self.slots()?;
        if slots.is_empty() {
            for b in crate::bundled::BUNDLED {
                let manifest: serde_json::Value = serde_json::from_str(b.manifest)
                    .map_err(|e| RegistryError::Invalid(format!("bundled manifest: {e}")))?;
                // Part of the binary: trusted as the binary is.
                let info = self.store_version(&manifest, b.wasm, None, "bundled")?;
                let slot = if info.kind == PluginKind::Routing {
                    ROUTING_SLOT.to_owned()
                } else {
                    info.id.clone()
                };
                self.activate(&slot, &info.id, &info.version, None, "bundled")?;
            }
            return self.slots();
        }
        for s in &slots {
            // Previous first, so the engine keeps it for last-good.
            for v in [&s.previous, &s.current].into_iter().flatten() {
                let plugin = self.plugin(&v.plugin, &v.version)?;
                self.prepare(&s.slot, &plugin, v.config.clone())?
                    .put(&self.engine, &s.slot, false);
            }
            if s.current.is_none() {
                self.deactivate_engine(&s.slot, s.kind);
            }
        }
        Ok(slots)
    }

    fn deactivate_engine(&self, slot: &str, kind: PluginKind) {
        match kind {
            PluginKind::Routing => self.engine.set_routing(None),
            PluginKind::Escalation => drop(self.engine.escalation().remove(slot)),
            PluginKind::Compliance => drop(self.engine.compliance().remove(slot)),
            PluginKind::Kpi => drop(self.engine.kpis().remove(slot)),
        }
    }

    /// Get `plugin` ready to serve in `slot` with `config` (validates the
    /// config, warms one instance, asks a KPI definition for its measures)
    /// without touching the engine: [`Ready::put`] swaps it in.
    fn prepare(
        &self,
        slot: &str,
        plugin: &Arc<LoadedPlugin>,
        config: serde_json::Value,
    ) -> Result<Ready, RegistryError> {
        let err = |e: crate::plugins::PluginError| RegistryError::Invalid(e.to_string());
        Ok(match plugin.manifest().kind {
            PluginKind::Routing => Ready::Routing(Arc::new(
                plugin
                    .activate::<RoutingPolicy>(Some(config))
                    .map_err(err)?,
            )),
            PluginKind::Escalation => Ready::Escalation(Arc::new(
                plugin
                    .activate::<EscalationRule>(Some(config))
                    .map_err(err)?,
            )),
            PluginKind::Compliance => Ready::Compliance(Arc::new(
                plugin
                    .activate::<ComplianceCheck>(Some(config))
                    .map_err(err)?,
            )),
            PluginKind::Kpi => {
                let a = plugin
                    .activate::<KpiDefinition>(Some(config))
                    .map_err(err)?;
                let measures = self.engine.declared_measures(slot, &a).map_err(err)?;
                Ready::Kpi(Arc::new(a), measures)
            }
        })
    }

    /// Record the engine's automatic rollbacks (a new version that failed
    /// too often) in the stored slots and the audit log, so that what is
    /// stored is what runs and a restart comes back to it. Returns the
    /// slots. [`Registry::slots`] calls it first, and the thread of
    /// [`Registry::record_auto_rollbacks`] as soon as the engine rolls back.
    pub fn sync_auto_rollbacks(&self) -> Result<Vec<String>, RegistryError> {
        let _guard = self.changes.lock();
        self.sync_auto_rollbacks_locked()
    }

    /// [`Registry::sync_auto_rollbacks`], with `changes` held.
    fn sync_auto_rollbacks_locked(&self) -> Result<Vec<String>, RegistryError> {
        /// One rollback: the slot, the versions it went from and to (`None`
        /// when an activation has replaced it since), and the audit detail.
        type Version = (String, String, String);
        type Found = (String, Option<(Version, Version)>, serde_json::Value);
        fn take<W: crate::plugins::World>(s: &crate::engine::Slot<W>) -> Option<Found> {
            s.take_rollback().map(|rb| {
                let runs = s.current().is_some_and(|c| Arc::ptr_eq(&c, &rb.to));
                let id = |a: &crate::plugins::Activation<W>| {
                    let p = a.plugin().id();
                    (
                        p.id.to_string(),
                        p.version.to_string(),
                        a.config().to_owned(),
                    )
                };
                let json = |a: &crate::plugins::Activation<W>| {
                    let p = a.plugin().id();
                    serde_json::json!({"plugin": &*p.id, "version": &*p.version})
                };
                (
                    s.name().to_owned(),
                    runs.then(|| (id(&rb.from), id(&rb.to))),
                    serde_json::json!({
                        "from": json(&rb.from), "to": json(&rb.to),
                        "calls": rb.calls, "failures": rb.failures,
                        "superseded": !runs,
                    }),
                )
            })
        }
        let e = &self.engine;
        let mut found: Vec<Found> = Vec::new();
        found.extend(take(e.routing()));
        found.extend(e.escalation().all().iter().filter_map(|s| take(s)));
        found.extend(e.compliance().all().iter().filter_map(|s| take(s)));
        found.extend(e.kpis().all().iter().filter_map(|s| take(s)));
        let mut slots = Vec::new();
        for (name, versions, detail) in found {
            let Some(info) = self.slot(&name)? else {
                continue;
            };
            let mut w = Writes::default();
            // Store the versions the engine went from and to, whatever the
            // stored slot said (it may have been emptied meanwhile).
            let known = [info.current.clone(), info.previous.clone()];
            let version = |(plugin, version, config): (String, String, String)| {
                let config: serde_json::Value = serde_json::from_str(&config).unwrap_or_default();
                known
                    .iter()
                    .flatten()
                    .find(|v| v.plugin == plugin && v.version == version && v.config == config)
                    .cloned()
                    .unwrap_or(SlotVersion {
                        plugin,
                        version,
                        config,
                        activated_at: self.engine.now(),
                        activated_by: "engine".to_owned(),
                    })
            };
            let info = match versions {
                Some((from, to)) => {
                    let info = SlotInfo {
                        current: Some(version(to)),
                        previous: Some(version(from)),
                        ..info
                    };
                    w.put(SLOTS, info.slot.as_bytes(), encode(&info)?);
                    info
                }
                // Activated over since: the slot is stored as it runs.
                None => info,
            };
            let mut data = serde_json::to_value(&info).unwrap_or_default();
            data["rollback"] = detail;
            let entry = self.entry("engine", "plugin.auto_rollback", &name, &data)?;
            self.audit.commit(vec![entry], w)?;
            self.store().make_durable()?;
            slots.push(name);
        }
        Ok(slots)
    }

    /// Record each automatic rollback as soon as the engine makes one, on
    /// a thread of its own (ends with the registry).
    pub fn record_auto_rollbacks(self: &Arc<Self>) -> std::io::Result<()> {
        let registry = Arc::downgrade(self);
        let bell = self.engine.rollback_bell();
        std::thread::Builder::new()
            .name("switchboard-rollbacks".into())
            .spawn(move || {
                let mut seen = 0;
                loop {
                    seen = bell.wait_past(seen);
                    let Some(r) = registry.upgrade() else { return };
                    match r.sync_auto_rollbacks() {
                        Ok(slots) if !slots.is_empty() => {
                            tracing::warn!(?slots, "automatic rollback recorded");
                        }
                        Ok(_) => {}
                        Err(e) => {
                            tracing::error!(error = %e, "recording an automatic rollback failed");
                        }
                    }
                }
            })?;
        Ok(())
    }

    fn save(
        &self,
        info: &SlotInfo,
        actor: &str,
        kind: &str,
        swap_us: u64,
    ) -> Result<u64, RegistryError> {
        let mut w = Writes::default();
        w.put(SLOTS, info.slot.as_bytes(), encode(info)?);
        let mut data = serde_json::to_value(info).unwrap_or_default();
        data["swap_us"] = swap_us.into();
        let entry = self.entry(actor, kind, &info.slot, &data)?;
        let records = self.audit.commit(vec![entry], w)?;
        self.store().make_durable()?;
        Ok(records.first().map_or(0, |r| r.seq))
    }

    fn entry(
        &self,
        actor: &str,
        kind: &str,
        subject: &str,
        data: &impl Serialize,
    ) -> Result<AuditEntry, RegistryError> {
        Ok(AuditEntry {
            at: self.engine.now(),
            actor: actor.to_owned(),
            kind: kind.to_owned(),
            subject: subject.to_owned(),
            data: serde_json::value::to_raw_value(data)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        })
    }
}

/// A version ready to serve in a slot, not yet swapped in.
enum Ready {
    Routing(Arc<crate::plugins::Activation<RoutingPolicy>>),
    Escalation(Arc<crate::plugins::Activation<EscalationRule>>),
    Compliance(Arc<crate::plugins::Activation<ComplianceCheck>>),
    Kpi(
        Arc<crate::plugins::Activation<KpiDefinition>>,
        Vec<crate::engine::MeasureInfo>,
    ),
}

impl Ready {
    /// Swap it into `slot`. `watched`: a new version, rolled back on its
    /// own if it fails too often early on.
    fn put(self, engine: &Engine, slot: &str, watched: bool) {
        fn put<W: crate::plugins::World>(
            s: &crate::engine::Slot<W>,
            a: Arc<crate::plugins::Activation<W>>,
            watched: bool,
        ) {
            if watched {
                s.activate_watched(a);
            } else {
                s.activate(a);
            }
        }
        match self {
            Ready::Routing(a) => put(engine.routing(), a, watched),
            Ready::Escalation(a) => put(&engine.escalation().slot(slot), a, watched),
            Ready::Compliance(a) => put(&engine.compliance().slot(slot), a, watched),
            Ready::Kpi(a, measures) => {
                engine.set_measures(slot, measures);
                put(&engine.kpis().slot(slot), a, watched);
            }
        }
    }
}

/// Activate with the default config once, so an upload that cannot even
/// start is refused at upload time.
fn probe(plugin: &Arc<LoadedPlugin>) -> Result<(), RegistryError> {
    let err = |e: crate::plugins::PluginError| {
        RegistryError::Invalid(format!(
            "the component loads but does not start with its default config: {e}"
        ))
    };
    match plugin.manifest().kind {
        PluginKind::Routing => drop(plugin.activate::<RoutingPolicy>(None).map_err(err)?),
        PluginKind::Escalation => drop(plugin.activate::<EscalationRule>(None).map_err(err)?),
        PluginKind::Compliance => drop(plugin.activate::<ComplianceCheck>(None).map_err(err)?),
        PluginKind::Kpi => drop(plugin.activate::<KpiDefinition>(None).map_err(err)?),
    }
    Ok(())
}
