//! The bounds every plugin call runs under, in one place (as in Spin's
//! `limits.rs`): wall time (epoch deadline), linear memory, table elements,
//! instances, and the size of the output the host accepts.

use std::time::Duration;

use super::manifest::ManifestLimits;

/// The bounds one plugin version runs under: what its manifest asked for,
/// capped by the host's [`HostLimits`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Limits {
    /// Wall time one call (including `configure`) may take; serialized as
    /// `timeout_ms`.
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

impl Limits {
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

/// Host-wide defaults and caps: a manifest may ask for less than the cap,
/// never more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostLimits {
    /// Used when a manifest asks for nothing.
    pub default: Limits,
    /// The most any plugin gets.
    pub max: Limits,
    /// Every plugin gets at least this much time per call, whatever its
    /// manifest asks (capped by `max`): for machines where a call may be
    /// descheduled (time limits are wall time). Zero: no floor.
    pub min_timeout: Duration,
}

impl Default for HostLimits {
    fn default() -> Self {
        Self {
            default: Limits {
                timeout: Duration::from_millis(5),
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
                timeout: Duration::from_millis(1_000),
                memory_bytes: 256 << 20,
                table_elements: 100_000,
                instances: 128,
                max_output_bytes: 4 << 20,
            },
            min_timeout: Duration::ZERO,
        }
    }
}

impl HostLimits {
    /// The limits for a plugin whose manifest requested `requested`.
    pub fn resolve(&self, requested: &ManifestLimits) -> Limits {
        let d = self.default;
        let m = self.max;
        Limits {
            timeout: requested
                .timeout_ms
                .map_or(d.timeout, Duration::from_millis)
                .max(self.min_timeout)
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
            timeout_ms: Some(60_000),
            memory_mib: Some(4),
            max_output_bytes: None,
        };
        let got = host.resolve(&asked);
        assert_eq!(got.timeout, host.max.timeout);
        assert_eq!(got.memory_bytes, 4 << 20);
        assert_eq!(got.max_output_bytes, host.default.max_output_bytes);
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
