//! Typed errors: loading (bad bytes, wrong world, extra imports, bad
//! manifest or config) and calling (instruction budget, wall-clock backstop,
//! memory, trap, oversize output, a rule that answered with an error).
//! Every call error names the plugin.

use std::time::Duration;

use super::id::PluginId;
use super::manifest::{ConfigError, PluginKind, WIT_VERSION};

/// Why a component could not be loaded. Each message says how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(
        "not a WebAssembly file: it does not start with the `\\0asm` magic bytes (got {got}); upload the `.wasm` component your build produced"
    )]
    NotWasm { got: String },
    #[error(
        "this is a core WebAssembly module, not a component: build the plugin with `cargo build --target wasm32-wasip2` (or wrap the module with `wasm-tools component new`)"
    )]
    CoreModule,
    #[error("the component could not be compiled: {0}")]
    Compile(String),
    #[error("{0}")]
    Manifest(String),
    #[error(
        "the component is not a {expected} plugin: it exports {found}, but a {expected} plugin (world `{world}`) must export `{export}`"
    )]
    WrongWorld {
        expected: PluginKind,
        world: &'static str,
        export: String,
        found: String,
    },
    #[error("the component imports {}, which switchboard does not provide: plugins are pure functions of their input and may import only `switchboard:rules/log@{}` and the sandboxed WASI interfaces (cli, io, clocks, random, filesystem without directories)", .imports.iter().map(|i| format!("`{i}`")).collect::<Vec<_>>().join(", "), WIT_VERSION)]
    ExtraImports { imports: Vec<String> },
    #[error(
        "the component does not match the `{world}` world of switchboard:rules@{version}: {detail}"
    )]
    Contract {
        world: &'static str,
        version: &'static str,
        detail: String,
    },
    #[error("could not read or write the compile cache: {0}")]
    Cache(#[from] std::io::Error),
}

/// Why a plugin call (or activation) failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PluginError {
    #[error(
        "plugin {plugin} used its budget of {budget} instructions{} and was stopped: it stops at the same point on any machine, so if the work is legitimate raise `limits.fuel` in the manifest (this host allows up to {max})",
        if *.starting { " while starting (instantiation and `configure`)" } else { "" }
    )]
    FuelExhausted {
        plugin: PluginId,
        /// The instructions (wasmtime fuel) it was given.
        budget: u64,
        /// The most a manifest may ask for on this host.
        max: u64,
        /// Whether it ran out while being instantiated and configured.
        starting: bool,
    },
    #[error("plugin {plugin} ran past its wall-clock time limit of {} ms and was stopped (a backstop: a call normally ends by its answer or its instruction budget long before)", .limit.as_millis())]
    Timeout { plugin: PluginId, limit: Duration },
    #[error("plugin {plugin} exceeded its memory limit of {} MiB and was stopped", .limit_bytes >> 20)]
    MemoryLimit {
        plugin: PluginId,
        limit_bytes: usize,
    },
    #[error("plugin {plugin} exceeded its table limit and was stopped")]
    TableLimit { plugin: PluginId },
    #[error("plugin {plugin} overflowed its stack (unbounded recursion?) and was stopped")]
    StackOverflow { plugin: PluginId },
    #[error("plugin {plugin} trapped: {message}")]
    Trap { plugin: PluginId, message: String },
    #[error("plugin {plugin} returned {size} bytes of output, more than its limit of {limit}")]
    OutputTooLarge {
        plugin: PluginId,
        size: usize,
        limit: usize,
    },
    #[error("plugin {plugin} could not get a new instance: the host's memory budget for plugin instances ({} MiB, `plugins.memory_budget_mib`) is taken by other instances; raise the budget, lower `plugins.warm_instances`, or lower the plugins' memory limits", .budget_bytes >> 20)]
    MemoryBudget {
        plugin: PluginId,
        budget_bytes: usize,
    },
    #[error(
        "plugin {plugin} could not get an instance: all {limit} instances for plugin calls (`plugins.max_instances`) are in use; raise it, or lower `plugins.warm_instances`"
    )]
    InstanceLimit { plugin: PluginId, limit: usize },
    #[error(
        "plugin {plugin} tried to pass the host more than {limit} bytes at once (in its answer, a log line or a write); the host refused before copying them"
    )]
    CopyLimit { plugin: PluginId, limit: usize },
    #[error("plugin {plugin} returned an error: {message}")]
    Rejected { plugin: PluginId, message: String },
    #[error("plugin {plugin} returned invalid output: {message}")]
    InvalidOutput { plugin: PluginId, message: String },
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("plugin {plugin} is a {actual} plugin, not a {wanted} plugin")]
    WrongKind {
        plugin: PluginId,
        wanted: PluginKind,
        actual: PluginKind,
    },
}

/// How a call ended, as recorded in the audit log and metrics.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum CallOutcome {
    /// The plugin answered.
    Ok,
    /// The plugin answered with an error of its own.
    Error,
    /// The plugin trapped (panic, memory, stack, table).
    Trap,
    /// The plugin used its whole instruction budget (`limits.fuel`): it
    /// is stopped at the same point on any machine, under any load.
    Limit,
    /// The plugin ran past its wall-clock backstop (`limits.timeout_ms`).
    Timeout,
    /// The plugin's answer was unusable (too large, out of range).
    Invalid,
}

impl PluginError {
    /// The outcome class of this error.
    pub fn outcome(&self) -> CallOutcome {
        match self {
            PluginError::FuelExhausted { .. } => CallOutcome::Limit,
            PluginError::Timeout { .. } => CallOutcome::Timeout,
            PluginError::MemoryLimit { .. }
            | PluginError::TableLimit { .. }
            | PluginError::StackOverflow { .. }
            | PluginError::Trap { .. } => CallOutcome::Trap,
            PluginError::OutputTooLarge { .. }
            | PluginError::CopyLimit { .. }
            | PluginError::InvalidOutput { .. } => CallOutcome::Invalid,
            // Not the plugin's fault, but no answer: counted like an error.
            PluginError::Rejected { .. }
            | PluginError::MemoryBudget { .. }
            | PluginError::InstanceLimit { .. }
            | PluginError::Config(_)
            | PluginError::WrongKind { .. } => CallOutcome::Error,
        }
    }
}
