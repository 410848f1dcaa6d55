//! The sandboxed plugin runtime: one `wasmtime::Engine`, components compiled
//! once and cached on disk by content digest, `InstancePre` per version,
//! pooled warm instances, and bounded calls (time, memory, tables, output).
//! Depends on nothing else in the host; the engine calls into it.

mod bindings;
mod cache;
mod error;
mod limits;
mod log;
mod manifest;
mod runtime;
mod stats;
mod wasi;

pub use bindings::{compliance, escalation, kpi, routing, types};
pub use cache::{CacheStats, CompileSource};
pub use error::{CallOutcome, LoadError, PluginError};
pub use limits::{HostLimits, Limits};
pub use log::{LogBuffer, LogLevel, LogLine, LogSource};
pub use manifest::{
    ConfigError, FailPolicy, Manifest, ManifestLimits, PluginKind, WIT_VERSION, WIT_VERSIONS,
};
pub use runtime::{
    Activation, ComplianceCheck, ComponentInfo, EscalationRule, KpiDefinition, LoadedPlugin,
    OutputCheck, PluginId, PluginRuntime, PluginState, RoutingPolicy, RuntimeConfig, World,
    outcome_of,
};
pub use stats::{CallCounter, CallStats};
