//! The sandboxed plugin runtime: one `wasmtime::Engine`, components compiled
//! once and cached on disk by content digest, `InstancePre` per version,
//! pooled warm instances, and bounded calls (an instruction budget, a
//! wall-clock backstop, memory, tables, instances, output).
//! Depends on nothing else in the host; the engine calls into it.

mod bindings;
mod cache;
mod error;
mod id;
mod limits;
mod log;
mod manifest;
mod runtime;
mod stats;
mod wasi;

pub use bindings::{compliance, escalation, kpi, routing, types};
pub use cache::{CacheStats, CompileSource};
pub use error::{CallOutcome, LoadError, PluginError};
pub use id::PluginId;
pub use limits::{
    BACKSTOP_NS_PER_FUEL, DEFAULT_FUEL, HostLimits, Limits, MAX_FUEL, STARTUP_FACTOR, backstop_for,
};
pub use log::{LogBuffer, LogLevel, LogLine, LogSource};
pub use manifest::{
    ConfigError, FailPolicy, Manifest, ManifestLimits, PluginKind, WIT_VERSION, WIT_VERSIONS,
};
pub use runtime::{
    Activation, ComplianceCheck, ComponentInfo, EscalationRule, KpiDefinition, LoadedPlugin,
    Metered, OutputCheck, PluginRuntime, PluginState, RoutingPolicy, RuntimeConfig, World,
    outcome_of,
};
pub use stats::{CallCounter, CallStats};
