//! Loading and calling plugins. One [`PluginRuntime`] per process owns the
//! `wasmtime::Engine` (pooling allocator, fuel, epoch interruption), the
//! linker (the `log` import plus a locked-down WASI), the compile cache and
//! an epoch ticker thread. A [`LoadedPlugin`] is one validated,
//! pre-instantiated version; an [`Activation`] is that version with a
//! validated config and a pool of warm, configured instances.
//!
//! Every call runs on a fuel budget (the decisive limit: the same input and
//! config stop at the same instruction on any machine) and a wall-clock
//! backstop, checked against a real clock at each epoch tick.
//!
//! Calls are synchronous and bounded; call them from a plain thread (e.g.
//! the engine's worker or `spawn_blocking`), not from inside an async task.

use std::fmt;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use sha2::{Digest, Sha256};
use wasmtime::component::{
    Component, ComponentExportIndex, ComponentNamedList, Func, HasSelf, InstancePre, Lift, Linker,
    Lower, ResourceTable, WasmStr, types::ComponentItem,
};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, StoreContextMut,
    Trap, UpdateDeadline,
};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::{compliance, escalation, kpi, log_iface, routing, v0_1};
use super::cache::{CacheStats, CompileCache, CompileSource};
use super::error::{CallOutcome, LoadError, PluginError};
use super::id::PluginId;
use super::limits::{HostLimits, Limits, StoreLimiter};
use super::log::{LogBuffer, LogLevel, LogSource};
use super::manifest::{Manifest, PluginKind, WIT_VERSION, WIT_VERSIONS};
use super::wasi::{self, CallRandom, sandboxed_ctx};

/// How the runtime is set up.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Directory of the compile cache; `None` compiles every load.
    pub cache_dir: Option<PathBuf>,
    /// Default and maximum limits for plugins.
    pub limits: HostLimits,
    /// How often a running call's wall-clock backstop is checked (against
    /// a real clock): the epoch ticker's period.
    pub epoch_tick: Duration,
    /// Instances plugin calls may hold at once, warm or in a call, all
    /// plugins together.
    pub max_instances: u32,
    /// Instances beyond `max_instances` that only admin operations
    /// (activation, validation, probes) may use, so calls holding every
    /// instance can never block the activation that replaces a bad version.
    pub admin_instances: u32,
    /// Warm instances kept per activation (more are created under load and dropped after).
    pub warm_instances: usize,
    /// Host-wide budget for plugin instances, in bytes: every live instance
    /// (warm or in a call) reserves its memory limit from it, so instances
    /// x memory limits never exceed it. Calls may reserve all of it but the
    /// admin headroom (the largest memory limit, at most half the budget),
    /// which only admin operations may use.
    pub memory_budget_bytes: usize,
    /// An instance whose linear memory grew more than this beyond what it
    /// held once configured is dropped after its call instead of kept warm
    /// (wasm memory never shrinks, so a warm instance keeps its peak).
    pub warm_growth_bytes: usize,
    /// Meter calls with fuel. Off only to measure what metering costs
    /// (benchmarks): without it, only the wall-clock backstop stops a call.
    pub fuel: bool,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            cache_dir: None,
            limits: HostLimits::default(),
            epoch_tick: Duration::from_millis(10),
            max_instances: 128,
            admin_instances: 4,
            warm_instances: 8,
            memory_budget_bytes: 2 << 30,
            warm_growth_bytes: 8 << 20,
            fuel: true,
        }
    }
}

/// Who asks for an instance. Calls may hold `max_instances` instances and
/// the memory budget less the admin headroom; admin operations
/// (activation, validation, probes) may also use `admin_instances` more and
/// the headroom, so a flood of calls can never block the activation that
/// swaps a bad version out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Call,
    Admin,
}

/// Why no instance could be had.
enum Refusal {
    /// Every instance `purpose` may use is taken; how many that is.
    Instances(usize),
    Memory,
}

/// One live instance's place: one of the instances and its memory limit's
/// share of [`RuntimeConfig::memory_budget_bytes`], given back when the
/// instance is dropped.
struct Reservation {
    runtime: Arc<RuntimeInner>,
    bytes: usize,
}

impl Reservation {
    fn take(runtime: &Arc<RuntimeInner>, bytes: usize, purpose: Purpose) -> Result<Self, Refusal> {
        let (instances, budget) = runtime.ceilings(purpose);
        (runtime.instances)
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < instances).then_some(n + 1)
            })
            .map_err(|_| Refusal::Instances(instances))?;
        let memory = (runtime.reserved).fetch_update(Ordering::AcqRel, Ordering::Acquire, |r| {
            r.checked_add(bytes).filter(|total| *total <= budget)
        });
        if memory.is_err() {
            runtime.instances.fetch_sub(1, Ordering::AcqRel);
            return Err(Refusal::Memory);
        }
        Ok(Self {
            runtime: runtime.clone(),
            bytes,
        })
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.runtime
            .reserved
            .fetch_sub(self.bytes, Ordering::AcqRel);
        self.runtime.instances.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What a component is, read from its bytes (`switchboard plugin inspect`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct ComponentInfo {
    /// The plugin kind its exports make it, if any.
    pub kind: Option<PluginKind>,
    /// The world that kind targets.
    pub world: Option<&'static str>,
    /// The `switchboard:rules` version it was built against.
    pub wit_version: Option<String>,
    pub imports: Vec<String>,
    pub exports: Vec<String>,
    pub size_bytes: usize,
    /// Hex sha256 of the bytes.
    pub digest: String,
    /// Where the compiled form came from.
    pub compiled: CompileSource,
}

struct RuntimeInner {
    engine: Engine,
    linker: Linker<PluginState>,
    cache: CompileCache,
    config: RuntimeConfig,
    /// Bytes of the memory budget reserved by live instances.
    reserved: AtomicUsize,
    /// Live instances (warm, in a call, or being set up).
    instances: AtomicUsize,
    stop_ticker: Arc<AtomicBool>,
    ticker: Mutex<Option<JoinHandle<()>>>,
}

impl RuntimeInner {
    /// The instances and memory budget `purpose` may fill.
    fn ceilings(&self, purpose: Purpose) -> (usize, usize) {
        let c = &self.config;
        let budget = c.memory_budget_bytes;
        match purpose {
            Purpose::Call => (
                c.max_instances as usize,
                budget.saturating_sub(self.admin_memory_bytes()),
            ),
            Purpose::Admin => (
                c.max_instances as usize + c.admin_instances as usize,
                budget,
            ),
        }
    }

    /// Whether the live instances fit what `purpose` may hold.
    fn within(&self, purpose: Purpose) -> bool {
        let (instances, budget) = self.ceilings(purpose);
        self.instances.load(Ordering::Acquire) <= instances
            && self.reserved.load(Ordering::Acquire) <= budget
    }

    /// The part of the memory budget only admin operations may use: room
    /// for one instance of the largest plugin, at most half the budget.
    fn admin_memory_bytes(&self) -> usize {
        let c = &self.config;
        c.limits.max.memory_bytes.min(c.memory_budget_bytes / 2)
    }
}

impl Drop for RuntimeInner {
    fn drop(&mut self) {
        self.stop_ticker.store(true, Ordering::Relaxed);
        if let Some(t) = self.ticker.lock().take() {
            let _ = t.join();
        }
    }
}

/// The plugin runtime. Cheap to clone; all clones share one engine.
#[derive(Clone)]
pub struct PluginRuntime {
    inner: Arc<RuntimeInner>,
}

impl fmt::Debug for PluginRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluginRuntime")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl PluginRuntime {
    /// Create the engine, linker, cache and epoch ticker.
    pub fn new(config: RuntimeConfig) -> Result<Self, LoadError> {
        let engine = Engine::new(&engine_config(&config))
            .map_err(|e| LoadError::Compile(format!("cannot create the Wasm engine: {e:#}")))?;
        let mut linker = Linker::new(&engine);
        wasi::add_to_linker(&mut linker)
            .map_err(|e| LoadError::Compile(format!("cannot link WASI: {e:#}")))?;
        link_contract(&mut linker)
            .map_err(|e| LoadError::Compile(format!("cannot link the log import: {e:#}")))?;
        let cache = CompileCache::new(&engine, config.cache_dir.clone())?;
        let stop_ticker = Arc::new(AtomicBool::new(false));
        let ticker = {
            let engine = engine.clone();
            let stop = stop_ticker.clone();
            let tick = config.epoch_tick;
            std::thread::Builder::new()
                .name("switchboard-epoch".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(tick);
                        engine.increment_epoch();
                    }
                })?
        };
        Ok(Self {
            inner: Arc::new(RuntimeInner {
                engine,
                linker,
                cache,
                config,
                reserved: AtomicUsize::new(0),
                instances: AtomicUsize::new(0),
                stop_ticker,
                ticker: Mutex::new(Some(ticker)),
            }),
        })
    }

    /// Bytes of the host-wide memory budget reserved by live instances (each
    /// reserves its memory limit).
    pub fn memory_reserved(&self) -> usize {
        self.inner.reserved.load(Ordering::Acquire)
    }

    /// Live plugin instances: warm in a pool, in a call, or being set up.
    pub fn instances(&self) -> usize {
        self.inner.instances.load(Ordering::Acquire)
    }

    /// Compile-cache counters (hits, misses, corrupt artifacts replaced).
    pub fn cache_stats(&self) -> CacheStats {
        self.inner.cache.stats()
    }

    /// The cache file for a component digest, if caching is on.
    pub fn cache_path(&self, digest: &str) -> Option<PathBuf> {
        self.inner.cache.path_for(digest)
    }

    /// Read what a component is: kind, WIT version, imports, exports, digest.
    pub fn inspect(&self, bytes: &[u8]) -> Result<ComponentInfo, LoadError> {
        sniff(bytes)?;
        let digest = hex::encode(Sha256::digest(bytes));
        let (component, compiled) =
            self.inner
                .cache
                .load(&self.inner.engine, &digest, bytes, true)?;
        Ok(self.describe(&component, bytes.len(), digest, compiled))
    }

    fn describe(
        &self,
        component: &Component,
        size_bytes: usize,
        digest: String,
        compiled: CompileSource,
    ) -> ComponentInfo {
        let ty = component.component_type();
        let engine = &self.inner.engine;
        let imports: Vec<String> = ty.imports(engine).map(|(n, _)| n.to_owned()).collect();
        let exports: Vec<String> = ty
            .exports(engine)
            .filter(|(_, item)| matches!(item.ty, ComponentItem::ComponentInstance(_)))
            .map(|(n, _)| n.to_owned())
            .collect();
        let ours = exports.iter().find_map(|e| {
            let rest = e.strip_prefix("switchboard:rules/")?;
            let (iface, version) = rest.split_once('@')?;
            Some((PluginKind::from_interface(iface)?, version.to_owned()))
        });
        ComponentInfo {
            kind: ours.as_ref().map(|(k, _)| *k),
            world: ours.as_ref().map(|(k, _)| k.world()),
            wit_version: ours.map(|(_, v)| v),
            imports,
            exports,
            size_bytes,
            digest,
            compiled,
        }
    }

    /// Load one plugin version: check the bytes, compile (or load from the
    /// cache), check that the component implements the manifest's world and
    /// imports nothing else, and pre-instantiate it.
    #[tracing::instrument(skip_all, fields(plugin = %manifest.name()))]
    pub fn load(&self, manifest: Manifest, bytes: &[u8]) -> Result<Arc<LoadedPlugin>, LoadError> {
        self.load_with(manifest, bytes, true)
    }

    /// [`PluginRuntime::load`] without writing the compile cache: for a
    /// component that may yet be refused (validation, an upload before it
    /// is stored). [`PluginRuntime::save_compiled`] caches it once accepted.
    #[tracing::instrument(skip_all, fields(plugin = %manifest.name()))]
    pub fn load_unsaved(
        &self,
        manifest: Manifest,
        bytes: &[u8],
    ) -> Result<Arc<LoadedPlugin>, LoadError> {
        self.load_with(manifest, bytes, false)
    }

    /// Write the compiled form of `plugin` to the cache, if it is not there.
    pub fn save_compiled(&self, plugin: &LoadedPlugin) -> Result<(), LoadError> {
        self.inner.cache.save(&plugin.id.digest, &plugin.component)
    }

    fn load_with(
        &self,
        manifest: Manifest,
        bytes: &[u8],
        save: bool,
    ) -> Result<Arc<LoadedPlugin>, LoadError> {
        sniff(bytes)?;
        let digest = hex::encode(Sha256::digest(bytes));
        let (component, compiled) =
            self.inner
                .cache
                .load(&self.inner.engine, &digest, bytes, save)?;
        let info = self.describe(&component, bytes.len(), digest.clone(), compiled);
        let extra: Vec<String> = info
            .imports
            .iter()
            .filter(|i| !import_allowed(i))
            .cloned()
            .collect();
        if !extra.is_empty() {
            return Err(LoadError::ExtraImports { imports: extra });
        }
        let kind = manifest.kind;
        let version = WIT_VERSIONS
            .into_iter()
            .find(|v| *v == manifest.wit)
            .unwrap_or(WIT_VERSION);
        let export = kind.export_name(version);
        if !info.exports.contains(&export) {
            let found = if info.exports.is_empty() {
                "nothing".to_owned()
            } else {
                info.exports
                    .iter()
                    .map(|e| format!("`{e}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            return Err(LoadError::WrongWorld {
                expected: kind,
                world: kind.world(),
                export,
                found,
            });
        }
        let contract = |e: wasmtime::Error| LoadError::Contract {
            world: kind.world(),
            version,
            detail: format!("{e:#}"),
        };
        let pre = self
            .inner
            .linker
            .instantiate_pre(&component)
            .map_err(contract)?;
        let typed = match kind {
            _ if version != WIT_VERSION => {
                TypedPre::Legacy(LegacyPre::new(pre, kind, version, &export).map_err(contract)?)
            }
            PluginKind::Routing => {
                TypedPre::Routing(routing::RoutingPolicyPre::new(pre).map_err(contract)?)
            }
            PluginKind::Escalation => {
                TypedPre::Escalation(escalation::EscalationRulePre::new(pre).map_err(contract)?)
            }
            PluginKind::Compliance => {
                TypedPre::Compliance(compliance::ComplianceCheckPre::new(pre).map_err(contract)?)
            }
            PluginKind::Kpi => TypedPre::Kpi(kpi::KpiDefinitionPre::new(pre).map_err(contract)?),
        };
        let limits = self.inner.config.limits.resolve(&manifest.limits);
        tracing::info!(kind = %kind, wit = version, ?compiled, size = bytes.len(), "plugin loaded");
        Ok(Arc::new(LoadedPlugin {
            id: PluginId {
                id: manifest.id.as_str().into(),
                version: manifest.version.as_str().into(),
                digest: digest.into(),
            },
            manifest,
            limits,
            compiled,
            component,
            size_bytes: bytes.len(),
            typed,
            log: Arc::new(LogBuffer::default()),
            runtime: self.inner.clone(),
        }))
    }
}

fn engine_config(config: &RuntimeConfig) -> Config {
    let mut c = Config::new();
    c.wasm_component_model(true);
    c.epoch_interruption(true);
    c.consume_fuel(config.fuel);
    c.parallel_compilation(true);
    let mut pool = PoolingAllocationConfig::default();
    // Room for every instance calls and admin operations may hold.
    let n = (config.max_instances.saturating_add(config.admin_instances)).max(4);
    pool.total_component_instances(n);
    // Python components hold ~40 core instances each, Rust ones 2-4.
    pool.total_core_instances(n * 16);
    pool.total_memories(n * 2);
    pool.total_tables(n * 4);
    pool.max_memory_size(config.limits.max.memory_bytes);
    pool.table_elements(config.limits.max.table_elements);
    c.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    c
}

/// Tell a component from a core module or something else entirely.
fn sniff(bytes: &[u8]) -> Result<(), LoadError> {
    const MAGIC: &[u8] = b"\0asm";
    if bytes.len() < 8 || &bytes[..4] != MAGIC {
        let got = bytes
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(" ");
        return Err(LoadError::NotWasm {
            got: if got.is_empty() {
                "an empty file".into()
            } else {
                got
            },
        });
    }
    // Core modules are version 1 (`01 00 00 00`); components use layer 1 (`0d 00 01 00`).
    if bytes[4..8] == [1, 0, 0, 0] {
        return Err(LoadError::CoreModule);
    }
    Ok(())
}

/// The WASI interfaces a sandboxed plugin may import. Their host side is
/// locked down (see `wasi.rs`); sockets and HTTP are never allowed.
const ALLOWED_WASI: &[&str] = &[
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:clocks/wall-clock",
    "wasi:clocks/monotonic-clock",
    "wasi:random/random",
    "wasi:random/insecure",
    "wasi:random/insecure-seed",
    "wasi:filesystem/types",
    "wasi:filesystem/preopens",
];

fn import_allowed(name: &str) -> bool {
    if let Some(ours) = name.strip_prefix("switchboard:rules/") {
        return ours.split_once('@').is_some_and(|(iface, version)| {
            matches!(iface, "log" | "types") && WIT_VERSIONS.contains(&version)
        });
    }
    let (base, version) = name.split_once('@').unwrap_or((name, ""));
    ALLOWED_WASI.contains(&base) && version.starts_with("0.2.")
}

/// Per-store state: limits, the sandboxed WASI context, the log buffer.
pub struct PluginState {
    limiter: StoreLimiter,
    /// When the running call (or setup) passes its wall-clock backstop.
    deadline: Instant,
    wasi: WasiCtx,
    /// The guest's random bytes, rewound before every call.
    random: CallRandom,
    table: ResourceTable,
    log: Arc<LogBuffer>,
}

impl fmt::Debug for PluginState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluginState").finish_non_exhaustive()
    }
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl super::bindings::types::Host for PluginState {}
impl v0_1::switchboard::rules::types::Host for PluginState {}

/// Link `switchboard:rules/log` and the type-only `types` interface, for the
/// current and the frozen 0.1.0 contract. `log` is linked by hand rather
/// than through the generated bindings: they would copy the whole message
/// into the host before the log buffer clips it; a `WasmStr` borrows it from
/// guest memory, so only the kept prefix is copied.
fn link_contract(linker: &mut Linker<PluginState>) -> wasmtime::Result<()> {
    use log_iface::Level as L;
    use v0_1::log_iface::Level as L01;
    routing::switchboard::rules::types::add_to_linker::<PluginState, HasSelf<PluginState>>(
        linker,
        |s| s,
    )?;
    v0_1::switchboard::rules::types::add_to_linker::<PluginState, HasSelf<PluginState>>(
        linker,
        |s| s,
    )?;
    let current = |level: L| match level {
        L::Trace => LogLevel::Trace,
        L::Debug => LogLevel::Debug,
        L::Info => LogLevel::Info,
        L::Warn => LogLevel::Warn,
        L::Error => LogLevel::Error,
    };
    let frozen = |level: L01| match level {
        L01::Trace => LogLevel::Trace,
        L01::Debug => LogLevel::Debug,
        L01::Info => LogLevel::Info,
        L01::Warn => LogLevel::Warn,
        L01::Error => LogLevel::Error,
    };
    for version in WIT_VERSIONS {
        let mut log = linker.instance(&format!("switchboard:rules/log@{version}"))?;
        if version == "0.1.0" {
            log.func_wrap("log", move |store, (level, message): (L01, WasmStr)| {
                guest_log(store, frozen(level), &message)
            })?;
        } else {
            log.func_wrap("log", move |store, (level, message): (L, WasmStr)| {
                guest_log(store, current(level), &message)
            })?;
        }
    }
    Ok(())
}

/// Append a guest's log line, reading it in place from guest memory (a
/// UTF-8 guest's line is validated there, not copied; the buffer copies
/// only the prefix it keeps).
fn guest_log(
    store: StoreContextMut<'_, PluginState>,
    level: LogLevel,
    message: &WasmStr,
) -> wasmtime::Result<()> {
    let log = store.data().log.clone();
    let text = message.to_str(&store)?;
    log.push(level, LogSource::Guest, &text);
    Ok(())
}

enum TypedPre {
    Routing(routing::RoutingPolicyPre<PluginState>),
    Escalation(escalation::EscalationRulePre<PluginState>),
    Compliance(compliance::ComplianceCheckPre<PluginState>),
    Kpi(kpi::KpiDefinitionPre<PluginState>),
    /// A component built against an older WIT version.
    Legacy(LegacyPre),
}

/// A pre-instantiated component of an older WIT version (`wit/<version>/`).
/// Its exports are found by the versioned interface name, and called with
/// the current Rust types wherever the version's types are the same shape
/// (the component model checks them structurally on every typed call);
/// where they differ (0.1.0's `routing-decision`), the version's own
/// generated type is read and converted.
struct LegacyPre {
    pre: InstancePre<PluginState>,
    version: &'static str,
    configure: ComponentExportIndex,
    /// `route`, `on-event` or `check`.
    call: ComponentExportIndex,
    /// `measures`, for KPI definitions.
    measures: Option<ComponentExportIndex>,
}

impl LegacyPre {
    fn new(
        pre: InstancePre<PluginState>,
        kind: PluginKind,
        version: &'static str,
        export: &str,
    ) -> wasmtime::Result<Self> {
        let component = pre.component();
        let iface = component
            .get_export_index(None, export)
            .ok_or_else(|| wasmtime::format_err!("no export `{export}`"))?;
        let func = |name: &str| {
            component
                .get_export_index(Some(&iface), name)
                .ok_or_else(|| wasmtime::format_err!("`{export}` has no function `{name}`"))
        };
        let call = match kind {
            PluginKind::Routing => "route",
            PluginKind::Escalation | PluginKind::Kpi => "on-event",
            PluginKind::Compliance => "check",
        };
        Ok(Self {
            configure: func("configure")?,
            call: func(call)?,
            measures: match kind {
                PluginKind::Kpi => Some(func("measures")?),
                _ => None,
            },
            version,
            pre,
        })
    }

    fn instantiate(&self, store: &mut Store<PluginState>) -> wasmtime::Result<LegacyFuncs> {
        let instance = self.pre.instantiate(&mut *store)?;
        let mut func = |index: &ComponentExportIndex| {
            instance.get_func(&mut *store, index).ok_or_else(|| {
                wasmtime::format_err!("a function of WIT {} is missing", self.version)
            })
        };
        Ok(LegacyFuncs {
            configure: func(&self.configure)?,
            call: func(&self.call)?,
            measures: self.measures.as_ref().map(&mut func).transpose()?,
        })
    }
}

/// The functions of one instance of an older-version component.
pub struct LegacyFuncs {
    configure: Func,
    call: Func,
    measures: Option<Func>,
}

impl LegacyFuncs {
    /// A typed call; the types are checked against the component's first.
    fn invoke<P, R>(func: Func, store: &mut Store<PluginState>, params: P) -> wasmtime::Result<R>
    where
        P: ComponentNamedList + Lower,
        R: ComponentNamedList + Lift,
    {
        func.typed::<P, R>(&*store)?.call(&mut *store, params)
    }

    fn configure(
        &self,
        store: &mut Store<PluginState>,
        config: &str,
    ) -> wasmtime::Result<Result<(), String>> {
        Self::invoke::<(&str,), (Result<(), String>,)>(self.configure, store, (config,))
            .map(|r| r.0)
    }

    fn call<I: Lower, O: Lift>(
        &self,
        store: &mut Store<PluginState>,
        input: &I,
    ) -> wasmtime::Result<Result<O, String>> {
        Self::invoke::<(&I,), (Result<O, String>,)>(self.call, store, (input,)).map(|r| r.0)
    }

    fn measures(&self, store: &mut Store<PluginState>) -> wasmtime::Result<Vec<kpi::Measure>> {
        let func = self
            .measures
            .ok_or_else(|| wasmtime::format_err!("not a KPI definition"))?;
        Self::invoke::<(), (Vec<kpi::Measure>,)>(func, store, ()).map(|r| r.0)
    }
}

/// An instance's exports: through the current bindings, or an older
/// version's.
pub enum Bound<C> {
    Current(C),
    Legacy(LegacyFuncs),
}

/// One validated, pre-instantiated plugin version.
pub struct LoadedPlugin {
    id: PluginId,
    manifest: Manifest,
    limits: Limits,
    compiled: CompileSource,
    /// Kept to cache it once accepted (cheap: shared).
    component: Component,
    size_bytes: usize,
    typed: TypedPre,
    log: Arc<LogBuffer>,
    runtime: Arc<RuntimeInner>,
}

impl fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadedPlugin")
            .field("id", &self.id)
            .field("kind", &self.manifest.kind)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl LoadedPlugin {
    /// Who this plugin is.
    pub fn id(&self) -> &PluginId {
        &self.id
    }

    /// Its manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The limits it runs under.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Whether it came from the compile cache.
    pub fn compiled(&self) -> CompileSource {
        self.compiled
    }

    /// Size of the component, in bytes.
    pub fn size_bytes(&self) -> usize {
        self.size_bytes
    }

    /// Its log buffer (guest `log` calls, stdout, stderr, call failures).
    pub fn log(&self) -> &Arc<LogBuffer> {
        &self.log
    }

    /// Activate with a configuration (`None`: the manifest's default). The
    /// configuration is validated against the manifest's JSON Schema, then
    /// one instance is created and configured so errors surface now.
    pub fn activate<W: World>(
        self: &Arc<Self>,
        config: Option<serde_json::Value>,
    ) -> Result<Activation<W>, PluginError> {
        if W::KIND != self.manifest.kind {
            return Err(PluginError::WrongKind {
                plugin: self.id.clone(),
                wanted: W::KIND,
                actual: self.manifest.kind,
            });
        }
        let config = config.unwrap_or_else(|| self.manifest.default_config.clone());
        self.manifest.validate_config(&config)?;
        let config_json: Arc<str> = config.to_string().into();
        let activation = Activation {
            plugin: self.clone(),
            config_digest: hex::encode(Sha256::digest(config_json.as_bytes())),
            config: config_json,
            pool: Mutex::new(Vec::new()),
            stats: super::stats::CallCounter::default(),
            _world: std::marker::PhantomData,
        };
        // An admin operation: it may use the headroom calls cannot take, so
        // calls holding every instance never block it. The instance then
        // serves calls if it fits their share; otherwise it is dropped.
        let warm = activation.instantiate(Purpose::Admin)?;
        if self.runtime.within(Purpose::Call) {
            activation.pool.lock().push(warm);
        }
        Ok(activation)
    }
}

/// A plugin kind's world, as the runtime drives it. Implemented by the
/// marker types [`RoutingPolicy`], [`EscalationRule`], [`ComplianceCheck`]
/// and [`KpiDefinition`].
pub trait World: Send + Sync + 'static {
    /// The kind of plugin this world is.
    const KIND: PluginKind;
    #[doc(hidden)]
    type Current: Send;
    #[doc(hidden)]
    fn instantiate(
        plugin: &LoadedPlugin,
        store: &mut Store<PluginState>,
    ) -> wasmtime::Result<Bound<Self::Current>>;
    #[doc(hidden)]
    fn configure(
        bindings: &Bound<Self::Current>,
        store: &mut Store<PluginState>,
        config: &str,
    ) -> wasmtime::Result<Result<(), String>>;
}

macro_rules! world {
    ($marker:ident, $kind:ident, $module:ident, $bindings:ident, $variant:ident, $iface:ident, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug)]
        pub enum $marker {}

        impl World for $marker {
            const KIND: PluginKind = PluginKind::$kind;
            type Current = $module::$bindings;

            fn instantiate(
                plugin: &LoadedPlugin,
                store: &mut Store<PluginState>,
            ) -> wasmtime::Result<Bound<Self::Current>> {
                match &plugin.typed {
                    TypedPre::$variant(pre) => pre.instantiate(store).map(Bound::Current),
                    TypedPre::Legacy(pre) => pre.instantiate(store).map(Bound::Legacy),
                    _ => wasmtime::bail!("plugin kind mismatch"),
                }
            }

            fn configure(
                bindings: &Bound<Self::Current>,
                store: &mut Store<PluginState>,
                config: &str,
            ) -> wasmtime::Result<Result<(), String>> {
                match bindings {
                    Bound::Current(b) => b.$iface().call_configure(store, config),
                    Bound::Legacy(l) => l.configure(store, config),
                }
            }
        }
    };
}

world!(
    RoutingPolicy,
    Routing,
    routing,
    RoutingPolicy,
    Routing,
    switchboard_rules_routing,
    "The `routing-policy` world."
);
world!(
    EscalationRule,
    Escalation,
    escalation,
    EscalationRule,
    Escalation,
    switchboard_rules_escalation,
    "The `escalation-rule` world."
);
world!(
    ComplianceCheck,
    Compliance,
    compliance,
    ComplianceCheck,
    Compliance,
    switchboard_rules_compliance,
    "The `compliance-check` world."
);
world!(
    KpiDefinition,
    Kpi,
    kpi,
    KpiDefinition,
    Kpi,
    switchboard_rules_kpi,
    "The `kpi-definition` world."
);

struct Warm<W: World> {
    store: Store<PluginState>,
    bindings: Bound<W::Current>,
    /// Linear memory held once configured.
    baseline: usize,
    _reservation: Reservation,
}

/// A plugin version with a validated configuration, ready to be called from
/// many threads: each call borrows a warm instance from the pool.
pub struct Activation<W: World> {
    plugin: Arc<LoadedPlugin>,
    config: Arc<str>,
    config_digest: String,
    pool: Mutex<Vec<Warm<W>>>,
    stats: super::stats::CallCounter,
    _world: std::marker::PhantomData<fn() -> W>,
}

impl<W: World> fmt::Debug for Activation<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Activation")
            .field("plugin", &self.plugin.id)
            .field("config_digest", &self.config_digest)
            .finish_non_exhaustive()
    }
}

impl<W: World> Activation<W> {
    /// The plugin version.
    pub fn plugin(&self) -> &Arc<LoadedPlugin> {
        &self.plugin
    }

    /// The configuration, as the JSON text the plugin received.
    pub fn config(&self) -> &str {
        &self.config
    }

    /// Hex sha256 of the configuration text.
    pub fn config_digest(&self) -> &str {
        &self.config_digest
    }

    /// Calls made and calls that failed (any outcome but ok).
    pub fn call_counts(&self) -> (u64, u64) {
        self.stats.counts()
    }

    /// Calls, failures and duration percentiles so far.
    pub fn call_stats(&self) -> super::stats::CallStats {
        self.stats.snapshot()
    }

    /// Warm instances waiting in the pool.
    pub fn warm_instances(&self) -> usize {
        self.pool.lock().len()
    }

    /// Bytes of linear memory the warm instances in the pool hold.
    pub fn warm_memory_bytes(&self) -> usize {
        (self.pool.lock().iter())
            .map(|w| w.store.data().limiter.memory_bytes)
            .sum()
    }

    /// Create, configure and drop one fresh instance, as a call would after a
    /// trap: for readiness probes and benchmarks. Returns the time it took.
    /// An admin operation: it may use the instances reserved for those.
    pub fn probe_instantiate(&self) -> Result<Duration, PluginError> {
        let start = Instant::now();
        drop(self.instantiate(Purpose::Admin)?);
        Ok(start.elapsed())
    }

    fn new_store(&self) -> Store<PluginState> {
        let plugin = &self.plugin;
        let random = CallRandom::default();
        let state = PluginState {
            limiter: StoreLimiter::new(plugin.limits),
            deadline: Instant::now(),
            wasi: sandboxed_ctx(&plugin.log, &random),
            random,
            table: ResourceTable::new(),
            log: plugin.log.clone(),
        };
        let mut store = Store::new(&plugin.runtime.engine, state);
        store.limiter(|s| &mut s.limiter);
        store.set_hostcall_fuel(plugin.limits.copy_limit());
        // The epoch ticker only says when to look; the backstop is the real
        // clock, so a tick that comes late (a busy machine) never stretches it.
        store.epoch_deadline_callback(|store| {
            Ok(if Instant::now() >= store.data().deadline {
                UpdateDeadline::Interrupt
            } else {
                UpdateDeadline::Continue(1)
            })
        });
        store
    }

    /// Give the next call on `store` (or its setup) `fuel` instructions and
    /// `timeout` of wall time from now.
    fn arm(&self, store: &mut Store<PluginState>, fuel: u64, timeout: Duration) {
        if self.plugin.runtime.config.fuel {
            // Only fails when fuel is off, which is checked above.
            let _ = store.set_fuel(fuel);
        }
        let now = Instant::now();
        // A backstop too far out to represent is a year away: never, in practice.
        store.data_mut().deadline = now
            .checked_add(timeout)
            .unwrap_or_else(|| now + Duration::from_secs(365 * 24 * 3600));
        store.set_epoch_deadline(1);
        // Every call sees the same random bytes (a pure function: replay).
        store.data().random.rewind();
    }

    /// Fuel a call given `budget` has used so far.
    fn fuel_used(&self, store: &Store<PluginState>, budget: u64) -> u64 {
        if !self.plugin.runtime.config.fuel {
            return 0;
        }
        budget.saturating_sub(store.get_fuel().unwrap_or(0))
    }

    fn instantiate(&self, purpose: Purpose) -> Result<Warm<W>, PluginError> {
        let runtime = &self.plugin.runtime;
        let limits = self.plugin.limits;
        let reservation =
            Reservation::take(runtime, limits.memory_bytes, purpose).map_err(|r| {
                let plugin = self.plugin.id.clone();
                self.failure(match r {
                    Refusal::Instances(limit) => PluginError::InstanceLimit { plugin, limit },
                    Refusal::Memory => PluginError::MemoryBudget {
                        plugin,
                        budget_bytes: runtime.config.memory_budget_bytes,
                    },
                })
            })?;
        let mut store = self.new_store();
        // Instantiation and `configure` may parse a large config or warm a
        // JS/Python runtime: they get ten call budgets.
        let bounds = Bounds {
            fuel: limits.startup_fuel(),
            max_fuel: runtime.config.limits.max.fuel,
            timeout: limits.startup_timeout(),
            starting: true,
        };
        self.arm(&mut store, bounds.fuel, bounds.timeout);
        let fail = |e: wasmtime::Error, store: Store<PluginState>| {
            let err = classify(&self.plugin.id, limits, bounds, e, store.data());
            // The instance goes before anything else is done about it.
            drop(store);
            self.failure(err)
        };
        let bindings = match W::instantiate(&self.plugin, &mut store) {
            Ok(b) => b,
            Err(e) => return Err(fail(e, store)),
        };
        match W::configure(&bindings, &mut store, &self.config) {
            Ok(Ok(())) => Ok(Warm {
                baseline: store.data().limiter.memory_bytes,
                store,
                bindings,
                _reservation: reservation,
            }),
            Ok(Err(message)) => Err(self.failure(PluginError::Rejected {
                plugin: self.plugin.id.clone(),
                message: format!("configure: {}", clip(&message)),
            })),
            Err(e) => Err(fail(e, store)),
        }
    }

    fn failure(&self, err: PluginError) -> PluginError {
        self.plugin
            .log
            .push(LogLevel::Error, LogSource::Guest, &format!("host: {err}"));
        tracing::debug!(plugin = %self.plugin.id, outcome = ?err.outcome(), "plugin call failed: {err}");
        err
    }

    /// Run one bounded call on a warm instance. A trap, an exhausted budget
    /// or a timeout discards the instance at once; the next call gets a
    /// fresh one.
    fn call<R: OutputSize>(
        &self,
        f: impl FnOnce(
            &Bound<W::Current>,
            &mut Store<PluginState>,
        ) -> wasmtime::Result<Result<R, String>>,
        check: impl FnOnce(&R) -> Result<(), String>,
    ) -> Metered<R> {
        let started = Instant::now();
        let (result, fuel) = self.call_inner(f, check);
        let us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.stats.record(us, fuel, result.is_ok());
        Metered { result, fuel }
    }

    fn call_inner<R: OutputSize>(
        &self,
        f: impl FnOnce(
            &Bound<W::Current>,
            &mut Store<PluginState>,
        ) -> wasmtime::Result<Result<R, String>>,
        check: impl FnOnce(&R) -> Result<(), String>,
    ) -> (Result<R, PluginError>, u64) {
        let pooled = self.pool.lock().pop();
        let mut warm = match pooled {
            Some(w) => w,
            None => match self.instantiate(Purpose::Call) {
                Ok(w) => w,
                Err(e) => return (Err(e), 0),
            },
        };
        let limits = self.plugin.limits;
        let bounds = Bounds {
            fuel: limits.fuel,
            max_fuel: self.plugin.runtime.config.limits.max.fuel,
            timeout: limits.timeout,
            starting: false,
        };
        self.arm(&mut warm.store, bounds.fuel, bounds.timeout);
        let Warm {
            store, bindings, ..
        } = &mut warm;
        // A panic in a host function (e.g. WASI) must not take the host down:
        // the instance is discarded and the call fails like a trap.
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| f(bindings, store)));
        let fuel = self.fuel_used(&warm.store, bounds.fuel);
        let id = &self.plugin.id;
        let result = match outcome {
            Ok(Ok(Ok(output))) => {
                let size = output.output_size();
                self.give_back(warm);
                if size > limits.max_output_bytes {
                    return (
                        Err(self.failure(PluginError::OutputTooLarge {
                            plugin: id.clone(),
                            size,
                            limit: limits.max_output_bytes,
                        })),
                        fuel,
                    );
                }
                // Invalid output is a failed call, as invalid API input is a 4xx.
                check(&output).map(|()| output).map_err(|message| {
                    self.failure(PluginError::InvalidOutput {
                        plugin: id.clone(),
                        message: clip(&message),
                    })
                })
            }
            Ok(Ok(Err(message))) => {
                self.give_back(warm);
                Err(self.failure(PluginError::Rejected {
                    plugin: id.clone(),
                    message: clip(&message),
                }))
            }
            Ok(Err(trap)) => {
                let err = classify(id, limits, bounds, trap, warm.store.data());
                // Free the instance (and its place under the instance cap)
                // before anything else is done about the failure.
                drop(warm);
                Err(self.failure(err))
            }
            Err(_) => {
                drop(warm);
                Err(self.failure(PluginError::Trap {
                    plugin: id.clone(),
                    message:
                        "the host panicked while serving this call; the instance was discarded"
                            .into(),
                }))
            }
        };
        (result, fuel)
    }

    /// Keep `warm` for the next call, unless the pool is full, its memory
    /// grew past `warm_growth_bytes` (dropping it returns the memory), or
    /// calls have no room left for another instance (so idle instances
    /// never starve calls, and an instance set up with the admin headroom
    /// gives it back).
    fn give_back(&self, warm: Warm<W>) {
        let runtime = &self.plugin.runtime;
        let grown = warm.store.data().limiter.memory_bytes;
        if grown
            > warm
                .baseline
                .saturating_add(runtime.config.warm_growth_bytes)
        {
            tracing::debug!(plugin = %self.plugin.id, grown, baseline = warm.baseline, "instance dropped: its memory grew");
            return;
        }
        let (_, budget) = runtime.ceilings(Purpose::Call);
        let reserved = runtime.reserved.load(Ordering::Acquire);
        if reserved.saturating_add(self.plugin.limits.memory_bytes) > budget
            || !runtime.within(Purpose::Call)
        {
            return;
        }
        let mut pool = self.pool.lock();
        if pool.len() < runtime.config.warm_instances {
            pool.push(warm);
        }
    }
}

/// One call's answer, and the instructions (fuel) it used: the same for the
/// same input, config and instance history on any machine. For a call that
/// ran out, its whole budget; 0 when no instance could be had (or metering
/// is off).
#[derive(Debug)]
pub struct Metered<T> {
    pub result: Result<T, PluginError>,
    pub fuel: u64,
}

/// The bounds of one call, or of setting up an instance.
#[derive(Debug, Clone, Copy)]
struct Bounds {
    fuel: u64,
    /// The most fuel a manifest may ask for on this host (for the message).
    max_fuel: u64,
    timeout: Duration,
    starting: bool,
}

/// A check of a plugin's answer; `Err` names what is wrong and makes the
/// call fail as [`PluginError::InvalidOutput`].
pub type OutputCheck<'a, R> = &'a dyn Fn(&R) -> Result<(), String>;

impl Activation<RoutingPolicy> {
    /// Decide how to route a contact.
    pub fn route(
        &self,
        input: &routing::RoutingInput,
    ) -> Result<routing::RoutingDecision, PluginError> {
        self.route_checked(input, &|_| Ok(()))
    }

    /// [`Activation::route`], with the decision checked by `check`.
    pub fn route_checked(
        &self,
        input: &routing::RoutingInput,
        check: OutputCheck<'_, routing::RoutingDecision>,
    ) -> Result<routing::RoutingDecision, PluginError> {
        self.route_metered(input, check).result
    }

    /// [`Activation::route_checked`], with the fuel the call used.
    pub fn route_metered(
        &self,
        input: &routing::RoutingInput,
        check: OutputCheck<'_, routing::RoutingDecision>,
    ) -> Metered<routing::RoutingDecision> {
        self.call(
            |b, s| match b {
                Bound::Current(b) => b.switchboard_rules_routing().call_route(s, input),
                Bound::Legacy(l) => Ok(l
                    .call::<_, v0_1::RoutingDecision>(s, input)?
                    .map(routing::RoutingDecision::from)),
            },
            check,
        )
    }
}

impl Activation<EscalationRule> {
    /// React to a contact event.
    pub fn on_event(
        &self,
        input: &escalation::EscalationInput,
    ) -> Result<escalation::EscalationOutcome, PluginError> {
        self.on_event_checked(input, &|_| Ok(()))
    }

    /// [`Activation::on_event`], with the outcome checked by `check`.
    pub fn on_event_checked(
        &self,
        input: &escalation::EscalationInput,
        check: OutputCheck<'_, escalation::EscalationOutcome>,
    ) -> Result<escalation::EscalationOutcome, PluginError> {
        self.on_event_metered(input, check).result
    }

    /// [`Activation::on_event_checked`], with the fuel the call used.
    pub fn on_event_metered(
        &self,
        input: &escalation::EscalationInput,
        check: OutputCheck<'_, escalation::EscalationOutcome>,
    ) -> Metered<escalation::EscalationOutcome> {
        self.call(
            |b, s| match b {
                Bound::Current(b) => b.switchboard_rules_escalation().call_on_event(s, input),
                Bound::Legacy(l) => l.call(s, input),
            },
            check,
        )
    }
}

impl Activation<ComplianceCheck> {
    /// Vet an agent's draft.
    pub fn check(
        &self,
        draft: &compliance::Draft,
    ) -> Result<compliance::ComplianceResult, PluginError> {
        self.check_checked(draft, &|_| Ok(()))
    }

    /// [`Activation::check`], with the result checked by `check`.
    pub fn check_checked(
        &self,
        draft: &compliance::Draft,
        check: OutputCheck<'_, compliance::ComplianceResult>,
    ) -> Result<compliance::ComplianceResult, PluginError> {
        self.check_metered(draft, check).result
    }

    /// [`Activation::check_checked`], with the fuel the call used.
    pub fn check_metered(
        &self,
        draft: &compliance::Draft,
        check: OutputCheck<'_, compliance::ComplianceResult>,
    ) -> Metered<compliance::ComplianceResult> {
        self.call(
            |b, s| match b {
                Bound::Current(b) => b.switchboard_rules_compliance().call_check(s, draft),
                Bound::Legacy(l) => l.call(s, draft),
            },
            check,
        )
    }
}

impl Activation<KpiDefinition> {
    /// The measures this definition declares.
    pub fn measures(&self) -> Result<Vec<kpi::Measure>, PluginError> {
        self.call(
            |b, s| {
                Ok(Ok(match b {
                    Bound::Current(b) => b.switchboard_rules_kpi().call_measures(s)?,
                    Bound::Legacy(l) => l.measures(s)?,
                }))
            },
            |_| Ok(()),
        )
        .result
    }

    /// Turn an event into samples.
    pub fn on_event(&self, input: &kpi::KpiInput) -> Result<Vec<kpi::Emission>, PluginError> {
        self.on_event_metered(input).result
    }

    /// [`Activation::on_event`], with the fuel the call used.
    pub fn on_event_metered(&self, input: &kpi::KpiInput) -> Metered<Vec<kpi::Emission>> {
        self.call(
            |b, s| match b {
                Bound::Current(b) => b.switchboard_rules_kpi().call_on_event(s, input),
                Bound::Legacy(l) => l.call(s, input),
            },
            |_| Ok(()),
        )
    }
}

fn clip(message: &str) -> String {
    const MAX: usize = 1024;
    if message.len() <= MAX {
        return message.to_owned();
    }
    let mut end = MAX;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &message[..end])
}

fn classify(
    plugin: &PluginId,
    limits: Limits,
    bounds: Bounds,
    err: wasmtime::Error,
    state: &PluginState,
) -> PluginError {
    let plugin = plugin.clone();
    if state.limiter.memory_exceeded {
        return PluginError::MemoryLimit {
            plugin,
            limit_bytes: limits.memory_bytes,
        };
    }
    if state.limiter.table_exceeded {
        return PluginError::TableLimit { plugin };
    }
    // wasmtime's error type for exhausted hostcall fuel is private; its
    // message is what identifies it.
    if (err.chain()).any(|e| e.to_string().contains("fuel allocated for hostcalls")) {
        return PluginError::CopyLimit {
            plugin,
            limit: limits.copy_limit(),
        };
    }
    match err.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => PluginError::FuelExhausted {
            plugin,
            budget: bounds.fuel,
            max: bounds.max_fuel,
            starting: bounds.starting,
        },
        Some(Trap::Interrupt) => PluginError::Timeout {
            plugin,
            limit: bounds.timeout,
        },
        Some(Trap::StackOverflow) => PluginError::StackOverflow { plugin },
        Some(Trap::UnreachableCodeReached) => PluginError::Trap {
            plugin,
            message: "wasm `unreachable` executed: the guest aborted (a Rust panic, an uncaught Python or JavaScript exception, C `abort()`, or a call the sandbox does not allow such as Python `print` or JavaScript `setTimeout`); the plugin log may have its message".into(),
        },
        Some(Trap::MemoryOutOfBounds) => PluginError::Trap {
            plugin,
            message: "out-of-bounds memory access (in a Rust or C guest this is usually deep recursion overflowing the shadow stack)".into(),
        },
        Some(trap) => PluginError::Trap {
            plugin,
            message: trap.to_string(),
        },
        None => match err.downcast_ref::<wasmtime_wasi::I32Exit>() {
            // WASI 0.2's exit carries only success or failure, so the
            // guest's own status number is not known here.
            Some(_) => PluginError::Trap {
                plugin,
                message: "the plugin exited instead of returning its answer: a rule must return a value or an error result (Rust `std::process::exit`, C `exit()` and Python `sys.exit()` end the call)".into(),
            },
            None => PluginError::Trap {
                plugin,
                message: clip(&without_backtrace(&err)),
            },
        },
    }
}

/// The error's causes, without the wasm backtrace wasmtime attaches as
/// context: a partner reads the plugin log and `plugin test`, not frames.
fn without_backtrace(err: &wasmtime::Error) -> String {
    // The backtrace is a context layer of the error whose text is the frames.
    err.chain()
        .map(ToString::to_string)
        .filter(|cause| !cause.contains("wasm backtrace:"))
        .collect::<Vec<_>>()
        .join(": ")
}

/// Approximate size of a plugin's output: string bytes plus a small fixed
/// cost per record and list element. Checked against `max_output_bytes`.
pub(crate) trait OutputSize {
    fn output_size(&self) -> usize;
}

const RECORD: usize = 8;

impl OutputSize for String {
    fn output_size(&self) -> usize {
        self.len()
    }
}

impl<T: OutputSize> OutputSize for Vec<T> {
    fn output_size(&self) -> usize {
        self.iter().map(|t| t.output_size() + RECORD).sum()
    }
}

impl<T: OutputSize> OutputSize for Option<T> {
    fn output_size(&self) -> usize {
        self.as_ref().map_or(0, OutputSize::output_size)
    }
}

impl OutputSize for routing::RoutingDecision {
    fn output_size(&self) -> usize {
        use routing::RelaxationAction as A;
        RECORD
            + self.queue.len()
            + self
                .required_skills
                .iter()
                .map(|s| s.skill.len() + RECORD)
                .sum::<usize>()
            + self
                .preferred_skills
                .iter()
                .map(|s| s.skill.len() + RECORD)
                .sum::<usize>()
            + self.team.output_size()
            + self.language.output_size()
            + self
                .preferred_agent
                .as_ref()
                .map_or(0, |p| p.agent_id.len() + RECORD)
            + self
                .relaxation
                .iter()
                .map(|step| {
                    RECORD
                        + step
                            .actions
                            .iter()
                            .map(|a| {
                                RECORD
                                    + match a {
                                        A::DropRequiredSkill(s) | A::Overflow(s) => s.len(),
                                        _ => 0,
                                    }
                            })
                            .sum::<usize>()
                })
                .sum::<usize>()
            + self.tags.output_size()
            + (self.attributes.iter())
                .map(|kv| RECORD + kv.key.len() + kv.value.len())
                .sum::<usize>()
            + self.reason.len()
    }
}

impl OutputSize for escalation::EscalationOutcome {
    fn output_size(&self) -> usize {
        use escalation::{EscalationAction as A, NotifyTarget as T};
        RECORD
            + self.reason.len()
            + self.recheck.as_ref().map_or(0, |r| r.name.len() + RECORD)
            + self
                .actions
                .iter()
                .map(|a| {
                    RECORD
                        + match a {
                            A::SetPriority(_) | A::RaisePriority(_) => 0,
                            A::MoveQueue(s) | A::AddTag(s) | A::StopDeadline(s) => s.len(),
                            A::Notify(n) => {
                                n.message.len()
                                    + match &n.target {
                                        T::Supervisor => 0,
                                        T::Team(s) | T::Agent(s) => s.len(),
                                    }
                            }
                            A::MarkComplaint(c) => c.category.len(),
                            A::StartDeadline(d) => d.name.len() + d.warn_at.len() * 8,
                        }
                })
                .sum::<usize>()
    }
}

impl OutputSize for compliance::ComplianceResult {
    fn output_size(&self) -> usize {
        RECORD
            + self.redacted_text.output_size()
            + self
                .findings
                .iter()
                .map(|f| RECORD + f.rule_id.len() + f.message.len() + f.suggestion.output_size())
                .sum::<usize>()
    }
}

impl OutputSize for kpi::Measure {
    fn output_size(&self) -> usize {
        self.name.len() + self.unit.len() + self.description.len()
    }
}

impl OutputSize for kpi::Emission {
    fn output_size(&self) -> usize {
        let sample = |s: &kpi::Sample| {
            s.measure.len()
                + s.id.output_size()
                + s.dimensions
                    .iter()
                    .map(|d| d.key.len() + d.value.len() + RECORD)
                    .sum::<usize>()
                + 16
        };
        match self {
            kpi::Emission::Record(s) | kpi::Emission::Replace(s) => sample(s),
            kpi::Emission::Retract(r) => r.measure.len() + r.id.len(),
        }
    }
}

/// Outcome class of a call result (for audit and metrics).
pub fn outcome_of<T>(result: &Result<T, PluginError>) -> CallOutcome {
    match result {
        Ok(_) => CallOutcome::Ok,
        Err(e) => e.outcome(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniff_tells_components_from_modules_and_junk() {
        assert!(matches!(sniff(b""), Err(LoadError::NotWasm { .. })));
        assert!(matches!(
            sniff(b"{\"json\": true}"),
            Err(LoadError::NotWasm { .. })
        ));
        assert!(matches!(
            sniff(b"\0asm\x01\0\0\0"),
            Err(LoadError::CoreModule)
        ));
        assert!(sniff(b"\0asm\x0d\0\x01\0").is_ok());
    }

    #[test]
    fn only_the_contract_and_sandboxed_wasi_may_be_imported() {
        assert!(import_allowed("switchboard:rules/log@0.1.0"));
        assert!(import_allowed("switchboard:rules/types@0.1.0"));
        assert!(import_allowed("switchboard:rules/log@0.2.0"));
        assert!(!import_allowed("switchboard:rules/log@0.3.0"));
        assert!(!import_allowed("switchboard:rules/routing@0.2.0"));
        assert!(import_allowed("wasi:cli/stdout@0.2.3"));
        assert!(!import_allowed("switchboard:rules/log@9.0.0"));
        assert!(!import_allowed("wasi:sockets/tcp@0.2.3"));
        assert!(!import_allowed("wasi:http/outgoing-handler@0.2.3"));
        assert!(!import_allowed("acme:evil/exfiltrate"));
    }
}
