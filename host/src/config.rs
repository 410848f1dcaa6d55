//! The server's configuration file (TOML). Every setting has a default;
//! command-line flags and environment variables override the file.
//!
//! ```toml
//! listen = "0.0.0.0:8080"
//! data_dir = "/var/lib/switchboard"
//!
//! [log]
//! level = "info,switchboard=debug"
//! format = "json"
//!
//! [store]
//! durability = "group"   # or "deferred" (simulations and demos only)
//!
//! [http]
//! header_read_timeout_ms = 10000
//! body_read_timeout_ms = 30000
//! max_connections = 2048
//! max_connections_per_peer = 256
//!
//! [engine]
//! fallback_queue = "general"
//! triage_queue = "triage"
//! quarantine_after = 5
//! history_days = 30
//!
//! [engine.auto_rollback]
//! window_calls = 200
//! min_calls = 5
//! max_failure_rate = 0.5
//!
//! [plugins]
//! warm_instances = 8
//! max_instances = 128       # instances for calls; activation and validation always have 4 more
//! default_fuel = 300000000  # instructions per call when a manifest asks for none (the decisive limit)
//! max_fuel = 3000000000     # the most a manifest may ask for
//! default_timeout_ms = 3000 # wall-clock backstop per call, when a manifest asks for none
//! max_timeout_ms = 30000    # at least 10 ns per unit of max_fuel
//! min_timeout_ms = 1000     # every backstop is at least this (and 10 ns per unit of its fuel)
//! default_memory_mib = 32
//! max_memory_mib = 256
//! memory_budget_mib = 2048  # all plugin instances together (each counts its memory limit)
//! warm_growth_mib = 8       # an instance that grew more than this in a call is not kept warm
//! require_signatures = false
//! trusted_keys = []         # partners' ed25519 public keys (`plugin keygen` prints one)
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use crate::engine::{AutoRollback, EngineSettings, FallbackQueues};
use crate::plugins::{HostLimits, RuntimeConfig};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

/// The file, as written (everything optional).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConfigFile {
    pub listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub log: LogSection,
    pub store: StoreSection,
    pub http: HttpSection,
    pub engine: EngineSection,
    pub plugins: PluginsSection,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSection {
    /// A filter such as `info` or `switchboard=debug,tower_http=info`.
    pub level: Option<String>,
    pub format: Option<LogFormat>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreSection {
    pub durability: DurabilityMode,
}

/// When a write is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum DurabilityMode {
    /// On disk before it is acknowledged; concurrent writers share fsyncs.
    #[default]
    Group,
    /// Acknowledged at once, flushed every 500 ms: a crash loses up to half
    /// a second. For simulations and demos only.
    Deferred,
}

impl DurabilityMode {
    pub fn store(self) -> crate::store::Durability {
        match self {
            DurabilityMode::Group => crate::store::Durability::Group,
            DurabilityMode::Deferred => crate::store::Durability::Deferred,
        }
    }
}

/// Limits of the HTTP edge: how long a client may take to send a request,
/// and how many connections it may hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSection {
    /// Time to send a whole request head, from the first byte (or from the
    /// end of the previous response on a kept-alive connection, so idle
    /// connections close after it too).
    pub header_read_timeout_ms: u64,
    /// Longest silence while a request body is being sent.
    pub body_read_timeout_ms: u64,
    /// Open connections, all clients together (lowered to three quarters
    /// of the process's file limit when that is smaller).
    pub max_connections: usize,
    /// Open connections from one IP address.
    pub max_connections_per_peer: usize,
}

impl Default for HttpSection {
    fn default() -> Self {
        let e = crate::server::EdgeLimits::default();
        Self {
            header_read_timeout_ms: e.header_read_timeout.as_millis() as u64,
            body_read_timeout_ms: e.body_read_timeout.as_millis() as u64,
            max_connections: e.max_connections,
            max_connections_per_peer: e.max_connections_per_peer,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineSection {
    /// Where contacts go when a fail-open routing policy fails.
    pub fallback_queue: String,
    /// Where contacts wait for a person when a fail-closed policy fails.
    pub triage_queue: String,
    /// Failed calls in a row before a plugin version is quarantined.
    pub quarantine_after: u32,
    /// Days of customer history the rules see.
    pub history_days: u32,
    pub auto_rollback: AutoRollback,
}

impl Default for EngineSection {
    fn default() -> Self {
        let e = EngineSettings::default();
        Self {
            fallback_queue: e.fallback.default_queue,
            triage_queue: e.fallback.triage_queue,
            quarantine_after: e.quarantine_after,
            history_days: e.history_days,
            auto_rollback: e.auto_rollback,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PluginsSection {
    /// Warm instances kept per active plugin version.
    pub warm_instances: usize,
    /// Instances plugin calls may hold at once (warm or in a call), all
    /// plugins together. Activation, validation and probes may use a few
    /// more, so calls can never block them.
    pub max_instances: u32,
    /// Instructions (wasmtime fuel) per call when a manifest asks for none:
    /// the decisive limit, the same on every machine under any load.
    pub default_fuel: u64,
    /// The most fuel a manifest may ask for.
    pub max_fuel: u64,
    /// Wall-clock backstop of a call when a manifest asks for none.
    pub default_timeout_ms: u64,
    /// The most a manifest may ask for; at least 10 ns per unit of
    /// `max_fuel`, so the backstop never cuts a call short of its fuel.
    pub max_timeout_ms: u64,
    /// Memory limit of an instance when a manifest asks for none.
    pub default_memory_mib: usize,
    /// The most a manifest may ask for.
    pub max_memory_mib: usize,
    /// Host-wide budget for plugin instances: each live instance (warm or
    /// in a call) counts its memory limit against it.
    pub memory_budget_mib: usize,
    /// An instance whose memory grew more than this beyond what it had once
    /// configured is dropped after its call rather than kept warm.
    pub warm_growth_mib: usize,
    /// Every call's wall-clock backstop is at least this, whatever its
    /// manifest asks: time is not the decisive limit (fuel is), so an honest
    /// call must never meet it, even descheduled on a busy machine. The
    /// backstop is also at least 10 ns per unit of the plugin's fuel.
    pub min_timeout_ms: u64,
    /// Refuse uploads not signed by one of `trusted_keys`.
    pub require_signatures: bool,
    /// Partners' ed25519 public keys (base64), as `switchboard plugin
    /// keygen` prints them. A signed upload by another key is refused.
    pub trusted_keys: Vec<String>,
}

impl Default for PluginsSection {
    fn default() -> Self {
        let r = RuntimeConfig::default();
        Self {
            warm_instances: r.warm_instances,
            max_instances: r.max_instances,
            default_fuel: r.limits.default.fuel,
            max_fuel: r.limits.max.fuel,
            default_timeout_ms: r.limits.default.timeout.as_millis() as u64,
            max_timeout_ms: r.limits.max.timeout.as_millis() as u64,
            default_memory_mib: r.limits.default.memory_bytes >> 20,
            max_memory_mib: r.limits.max.memory_bytes >> 20,
            memory_budget_mib: r.memory_budget_bytes >> 20,
            warm_growth_mib: r.warm_growth_bytes >> 20,
            min_timeout_ms: r.limits.min_timeout.as_millis() as u64,
            require_signatures: false,
            trusted_keys: Vec::new(),
        }
    }
}

impl ConfigFile {
    /// Read and check `path`. Errors name the file, the line and the key.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the config file {}", path.display()))?;
        let file: ConfigFile = toml::from_str(&text).map_err(|e| {
            anyhow::anyhow!(
                "{}: {e}(`switchboard serve --print-config` prints every setting with its default)",
                path.display()
            )
        })?;
        file.check()
            .with_context(|| format!("in the config file {}", path.display()))?;
        Ok(file)
    }

    fn check(&self) -> anyhow::Result<()> {
        let h = &self.http;
        anyhow::ensure!(
            h.header_read_timeout_ms >= 1 && h.body_read_timeout_ms >= 1,
            "http.header_read_timeout_ms and http.body_read_timeout_ms must be at least 1"
        );
        anyhow::ensure!(
            h.max_connections >= 1 && h.max_connections_per_peer >= 1,
            "http.max_connections and http.max_connections_per_peer must be at least 1"
        );
        let p = &self.plugins;
        anyhow::ensure!(
            p.default_timeout_ms >= 1 && p.default_timeout_ms <= p.max_timeout_ms,
            "plugins.default_timeout_ms must be at least 1 and at most plugins.max_timeout_ms ({})",
            p.max_timeout_ms
        );
        anyhow::ensure!(
            p.default_fuel >= 1 && p.default_fuel <= p.max_fuel,
            "plugins.default_fuel must be at least 1 and at most plugins.max_fuel ({})",
            p.max_fuel
        );
        let backstop = crate::plugins::backstop_for(p.max_fuel).as_millis();
        anyhow::ensure!(
            u128::from(p.max_timeout_ms) >= backstop,
            "plugins.max_timeout_ms must be at least {backstop} (10 ns per unit of plugins.max_fuel, {}): a shorter backstop would stop a call that is within its fuel on a busy machine, so its outcome would depend on load",
            p.max_fuel
        );
        anyhow::ensure!(
            p.min_timeout_ms <= p.max_timeout_ms,
            "plugins.min_timeout_ms must not exceed plugins.max_timeout_ms ({})",
            p.max_timeout_ms
        );
        anyhow::ensure!(
            p.default_memory_mib >= 1 && p.default_memory_mib <= p.max_memory_mib,
            "plugins.default_memory_mib must be at least 1 and at most plugins.max_memory_mib ({})",
            p.max_memory_mib
        );
        anyhow::ensure!(
            p.memory_budget_mib >= p.max_memory_mib,
            "plugins.memory_budget_mib must be at least plugins.max_memory_mib ({}): the budget must hold one instance of the largest plugin",
            p.max_memory_mib
        );
        anyhow::ensure!(
            p.warm_instances as u64 <= u64::from(p.max_instances) && p.max_instances >= 1,
            "plugins.warm_instances must not exceed plugins.max_instances"
        );
        self.trust().map_err(|e| anyhow::anyhow!("plugins: {e}"))?;
        let a = &self.engine.auto_rollback;
        anyhow::ensure!(
            (0.0..=1.0).contains(&a.max_failure_rate),
            "engine.auto_rollback.max_failure_rate is a share: 0.0 to 1.0"
        );
        anyhow::ensure!(
            !self.engine.fallback_queue.trim().is_empty()
                && !self.engine.triage_queue.trim().is_empty(),
            "engine.fallback_queue and engine.triage_queue must not be empty"
        );
        Ok(())
    }

    /// Which plugin signatures uploads need.
    pub fn trust(&self) -> Result<crate::signing::Trust, String> {
        crate::signing::Trust::new(&self.plugins.trusted_keys, self.plugins.require_signatures)
    }

    /// The engine's settings.
    pub fn engine_settings(&self) -> EngineSettings {
        let e = &self.engine;
        EngineSettings {
            fallback: FallbackQueues {
                default_queue: e.fallback_queue.clone(),
                triage_queue: e.triage_queue.clone(),
            },
            quarantine_after: e.quarantine_after.max(1),
            auto_rollback: e.auto_rollback,
            history_days: e.history_days,
        }
    }

    /// The HTTP edge's limits.
    pub fn edge_limits(&self) -> crate::server::EdgeLimits {
        let h = &self.http;
        crate::server::EdgeLimits {
            header_read_timeout: Duration::from_millis(h.header_read_timeout_ms.max(1)),
            body_read_timeout: Duration::from_millis(h.body_read_timeout_ms.max(1)),
            max_connections: h.max_connections.max(1),
            max_connections_per_peer: h.max_connections_per_peer.max(1),
        }
    }

    /// The plugin runtime's settings, with the compile cache in `cache_dir`.
    pub fn runtime_config(&self, cache_dir: PathBuf) -> RuntimeConfig {
        let p = &self.plugins;
        let mut limits = HostLimits::default();
        limits.default.fuel = p.default_fuel;
        limits.max.fuel = p.max_fuel;
        limits.default.timeout = Duration::from_millis(p.default_timeout_ms);
        limits.max.timeout = Duration::from_millis(p.max_timeout_ms);
        limits.default.memory_bytes = p.default_memory_mib << 20;
        limits.max.memory_bytes = p.max_memory_mib << 20;
        limits.min_timeout = Duration::from_millis(p.min_timeout_ms);
        RuntimeConfig {
            cache_dir: Some(cache_dir),
            limits,
            warm_instances: p.warm_instances,
            max_instances: p.max_instances,
            memory_budget_bytes: p.memory_budget_mib.saturating_mul(1 << 20),
            warm_growth_bytes: p.warm_growth_mib.saturating_mul(1 << 20),
            ..RuntimeConfig::default()
        }
    }

    /// The whole configuration as TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_file_is_the_defaults() {
        let f: ConfigFile = toml::from_str("").unwrap();
        assert_eq!(f, ConfigFile::default());
        assert_eq!(f.engine_settings(), EngineSettings::default());
    }

    #[test]
    fn every_setting_round_trips_through_print_config() {
        let mut f = ConfigFile {
            listen: Some("0.0.0.0:9000".parse().unwrap()),
            ..ConfigFile::default()
        };
        f.log.format = Some(LogFormat::Json);
        f.engine.quarantine_after = 9;
        f.plugins.default_timeout_ms = 20;
        f.http.max_connections_per_peer = 9;
        let back: ConfigFile = toml::from_str(&f.to_toml()).unwrap();
        assert_eq!(back, f);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sb.toml");
        std::fs::write(&path, "[engine]\nquarantine_afterr = 3\n").unwrap();
        let e = format!("{:#}", ConfigFile::load(&path).unwrap_err());
        assert!(
            e.contains("quarantine_afterr") && e.contains("sb.toml"),
            "{e}"
        );
        std::fs::write(&path, "[plugins]\ndefault_timeout_ms = 50000\n").unwrap();
        let e = format!("{:#}", ConfigFile::load(&path).unwrap_err());
        assert!(e.contains("max_timeout_ms"), "{e}");
        std::fs::write(&path, "[plugins]\nmax_fuel = 5000000000\n").unwrap();
        let e = format!("{:#}", ConfigFile::load(&path).unwrap_err());
        assert!(
            e.contains("max_timeout_ms must be at least 50000") && e.contains("depend on load"),
            "{e}"
        );
    }

    #[test]
    fn the_defaults_are_the_runtimes_and_fuel_settings_reach_it() {
        let mut f = ConfigFile::default();
        let limits = f.runtime_config(PathBuf::new()).limits;
        assert_eq!(limits, HostLimits::default());
        f.plugins.default_fuel = 7_000;
        f.plugins.max_fuel = 9_000;
        let limits = f.runtime_config(PathBuf::new()).limits;
        assert_eq!((limits.default.fuel, limits.max.fuel), (7_000, 9_000));
        assert!(f.check().is_ok());
        f.plugins.default_fuel = 10_000;
        assert!(f.check().is_err(), "default above max");
    }
}
