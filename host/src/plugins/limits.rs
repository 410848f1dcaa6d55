//! The bounds every plugin call runs under, in one place (as in Spin's
//! `limits.rs`): an instruction budget (wasmtime fuel, the decisive limit),
//! a wall-clock backstop, linear memory, table elements, instances, and the
//! size of the output the host accepts.

use std::time::Duration;

use super::manifest::ManifestLimits;

/// The bounds one plugin version runs under: what its manifest asked for,
/// capped by the host's [`HostLimits`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Limits {
    /// Instructions (wasmtime fuel) one call may execute: the decisive
    /// limit, so a call fits its budget on every machine under any load, or
    /// on none. Creating an instance and running `configure` get
    /// [`STARTUP_FACTOR`] times as much.
    pub fuel: u64,
    /// Wall time one call may take: a backstop, measured with a real clock,
    /// set so that a call runs out of fuel long before it runs out of time
    /// (see [`HostLimits::resolve`]). Serialized as `timeout_ms`.
    #[serde(rename = "timeout_ms", serialize_with = "as_millis")]
    #[schema(value_type = u64)]
    pub timeout: Duration,
    /// Linear memory one instance may grow to, in bytes.
    #[schema(value_type = u64)]
    pub memory_bytes: usize,
    /// Elements per table.
    #[schema(value_type = u64)]
    pub table_elements: usize,
    /// Core instances, tables and memories per component instance.
    #[schema(value_type = u64)]
    pub instances: usize,
    /// Bytes of output (strings and list elements, as lifted) one call may return.
    #[schema(value_type = u64)]
    pub max_output_bytes: usize,
}

/// How many call budgets (fuel and time) creating an instance and running
/// `configure` get: they may parse a large configuration or start a
/// JavaScript or Python runtime.
pub const STARTUP_FACTOR: u32 = 10;

/// The wall-clock backstop is at least this many nanoseconds per unit of
/// fuel in the budget: 20 to 50 times what a unit takes on an idle machine
/// (0.2 to 0.5 ns, docs/benchmarks.md), so a descheduled call still uses up
/// its fuel before its time and the outcome does not depend on load.
pub const BACKSTOP_NS_PER_FUEL: u64 = 10;

impl Limits {
    /// Fuel for creating an instance and running `configure`.
    pub fn startup_fuel(&self) -> u64 {
        self.fuel.saturating_mul(u64::from(STARTUP_FACTOR))
    }

    /// Wall-clock backstop for creating an instance and running `configure`.
    pub fn startup_timeout(&self) -> Duration {
        self.timeout.saturating_mul(STARTUP_FACTOR)
    }

    /// Bytes one guest-to-host transfer (a call's answer, or the arguments
    /// of one import call such as a log line) may carry: wasmtime's
    /// "hostcall fuel", checked before each string or list is copied into
    /// the host, so an oversized answer is refused without being copied.
    /// Four times the output limit (host types are larger than the guest's
    /// bytes), at least 1 MiB.
    pub fn copy_limit(&self) -> usize {
        self.max_output_bytes.saturating_mul(4).max(1 << 20)
    }
}

fn as_millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The wall-clock backstop a budget of `fuel` needs (see
/// [`BACKSTOP_NS_PER_FUEL`]).
pub fn backstop_for(fuel: u64) -> Duration {
    Duration::from_nanos(fuel.saturating_mul(BACKSTOP_NS_PER_FUEL))
}

/// Host-wide defaults and caps: a manifest may ask for less than the cap,
/// never more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostLimits {
    /// Used when a manifest asks for nothing.
    pub default: Limits,
    /// The most any plugin gets.
    pub max: Limits,
    /// Every plugin's wall-clock backstop is at least this, whatever its
    /// manifest asks (capped by `max`): time is not the decisive limit, so
    /// the floor is generous; an honest call never meets it, even on a
    /// loaded machine. Zero: no floor beyond the fuel's own.
    pub min_timeout: Duration,
}

impl Default for HostLimits {
    fn default() -> Self {
        Self {
            default: Limits {
                fuel: DEFAULT_FUEL,
                timeout: backstop_for(DEFAULT_FUEL),
                memory_bytes: 32 << 20,
                table_elements: 20_000,
                // A component's core instances are fixed when it is built
                // (a component cannot create more at run time): Rust and C
                // plugins have a handful, a componentize-py (Python)
                // plugin about 40 (CPython and its libraries linked as
                // separate modules).
                instances: 128,
                max_output_bytes: 256 << 10,
            },
            max: Limits {
                fuel: MAX_FUEL,
                timeout: backstop_for(MAX_FUEL),
                memory_bytes: 256 << 20,
                table_elements: 100_000,
                instances: 128,
                max_output_bytes: 4 << 20,
            },
            min_timeout: Duration::from_millis(1_000),
        }
    }
}

/// Instructions per call when a manifest asks for none: ten times what the
/// heaviest test guest (the JavaScript compliance example, 29 million)
/// uses, and more than 600 times what the bundled plugins and the Python
/// example use (docs/benchmarks.md). A runaway loop uses it up in about
/// 60 ms.
pub const DEFAULT_FUEL: u64 = 300_000_000;

/// The most fuel a manifest may ask for per call: about a second of
/// computation on an idle machine.
pub const MAX_FUEL: u64 = 3_000_000_000;

impl HostLimits {
    /// The limits for a plugin whose manifest requested `requested`. The
    /// wall-clock backstop is what the manifest asks, raised to the host's
    /// `min_timeout` and to what the fuel budget needs
    /// ([`backstop_for`]), capped by the maximum.
    pub fn resolve(&self, requested: &ManifestLimits) -> Limits {
        let d = self.default;
        let m = self.max;
        let fuel = requested.fuel.unwrap_or(d.fuel).clamp(1, m.fuel.max(1));
        Limits {
            fuel,
            timeout: requested
                .timeout_ms
                .map_or(d.timeout, Duration::from_millis)
                .max(self.min_timeout)
                .max(backstop_for(fuel))
                .min(m.timeout),
            memory_bytes: requested
                .memory_mib
                .map_or(d.memory_bytes, |mib| (mib as usize).saturating_mul(1 << 20))
                .min(m.memory_bytes),
            table_elements: d.table_elements.min(m.table_elements),
            instances: d.instances.min(m.instances),
            max_output_bytes: requested
                .max_output_bytes
                .map_or(d.max_output_bytes, |b| b as usize)
                .min(m.max_output_bytes),
        }
    }
}

/// Enforces [`Limits`] on one store and remembers which bound was hit, so a
/// trap can be reported as "memory limit" rather than a bare trap.
#[derive(Debug)]
pub(crate) struct StoreLimiter {
    limits: Limits,
    pub(crate) memory_exceeded: bool,
    pub(crate) table_exceeded: bool,
    /// Bytes of linear memory the store's instances hold now (wasm memory
    /// never shrinks, so this is also their peak).
    pub(crate) memory_bytes: usize,
}

impl StoreLimiter {
    pub(crate) fn new(limits: Limits) -> Self {
        Self {
            limits,
            memory_exceeded: false,
            table_exceeded: false,
            memory_bytes: 0,
        }
    }
}

impl wasmtime::ResourceLimiter for StoreLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired <= self.limits.memory_bytes {
            // Also called with `current` 0 when a memory is created.
            self.memory_bytes = (self.memory_bytes + desired).saturating_sub(current);
        } else {
            self.memory_exceeded = true;
            // An error (rather than `Ok(false)`) traps at once: a guest that
            // ignores a failed `memory.grow` cannot keep running.
            wasmtime::bail!(
                "memory limit of {} bytes exceeded (wanted {desired})",
                self.limits.memory_bytes
            );
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limits.table_elements {
            self.table_exceeded = true;
            wasmtime::bail!(
                "table limit of {} elements exceeded (wanted {desired})",
                self.limits.table_elements
            );
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        self.limits.instances
    }

    fn tables(&self) -> usize {
        self.limits.instances
    }

    fn memories(&self) -> usize {
        self.limits.instances
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_requests_are_capped_by_the_host() {
        let host = HostLimits::default();
        let asked = ManifestLimits {
            fuel: Some(u64::MAX),
            timeout_ms: Some(60_000),
            memory_mib: Some(4),
            max_output_bytes: None,
        };
        let got = host.resolve(&asked);
        assert_eq!(got.fuel, host.max.fuel);
        assert_eq!(got.timeout, host.max.timeout);
        assert_eq!(got.memory_bytes, 4 << 20);
        assert_eq!(got.max_output_bytes, host.default.max_output_bytes);
    }

    #[test]
    fn the_backstop_leaves_room_for_the_whole_fuel_budget() {
        let host = HostLimits::default();
        let ask = |fuel, timeout_ms| {
            host.resolve(&ManifestLimits {
                fuel,
                timeout_ms,
                ..ManifestLimits::default()
            })
        };
        // A tight time limit is raised to the generous floor...
        let small = ask(Some(1_000), Some(5));
        assert_eq!((small.fuel, small.timeout), (1_000, host.min_timeout));
        // ...and to what the default budget needs.
        assert_eq!(ask(None, Some(5)).timeout, backstop_for(host.default.fuel));
        assert_eq!(ask(None, None).timeout, host.default.timeout);
        // A large budget raises the backstop with it, up to the maximum.
        let big = ask(Some(500_000_000), Some(5));
        assert_eq!(big.timeout, backstop_for(500_000_000));
        assert!(big.timeout > host.min_timeout);
        let max = ask(Some(host.max.fuel), None);
        assert_eq!(max.timeout, host.max.timeout);
        assert!(
            backstop_for(host.max.fuel) <= host.max.timeout,
            "the maximum backstop covers the maximum budget"
        );
        // Startup gets ten of each.
        assert_eq!(max.startup_fuel(), 10 * host.max.fuel);
        assert_eq!(max.startup_timeout(), 10 * host.max.timeout);
        // A zero budget could never run anything: at least one instruction.
        assert_eq!(ask(Some(0), None).fuel, 1);
    }

    fn instantiate(wat: &str, limits: Limits) -> (wasmtime::Result<()>, StoreLimiter) {
        let engine = wasmtime::Engine::default();
        let module = wasmtime::Module::new(&engine, wat::parse_str(wat).unwrap()).unwrap();
        let mut store = wasmtime::Store::new(&engine, StoreLimiter::new(limits));
        store.limiter(|l| l);
        let result = wasmtime::Instance::new(&mut store, &module, &[]).map(drop);
        (result, store.into_data())
    }

    #[test]
    fn table_limit_held_and_exceeded() {
        let limits = HostLimits::default().default;
        let (ok, l) = instantiate("(module (table 1000 funcref))", limits);
        assert!(ok.is_ok() && !l.table_exceeded);
        let (err, l) = instantiate("(module (table 1000000 funcref))", limits);
        assert!(err.is_err());
        assert!(l.table_exceeded, "the limiter records which bound was hit");
    }

    #[test]
    fn memory_limit_held_and_exceeded_at_instantiation() {
        let limits = Limits {
            memory_bytes: 4 << 20,
            ..HostLimits::default().default
        };
        let (ok, l) = instantiate("(module (memory 64))", limits); // 4 MiB
        assert!(ok.is_ok() && !l.memory_exceeded);
        assert_eq!(
            l.memory_bytes,
            4 << 20,
            "the limiter tracks what it allowed"
        );
        let (err, l) = instantiate("(module (memory 65))", limits);
        assert!(err.is_err() && l.memory_exceeded);
    }

    #[test]
    fn empty_request_gets_defaults() {
        let host = HostLimits::default();
        assert_eq!(host.resolve(&ManifestLimits::default()), host.default);
    }
}
