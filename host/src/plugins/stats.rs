//! Per-activation call statistics: counts and lock-free histograms
//! (geometric buckets, 25% apart) of call durations and of the fuel
//! (instructions) calls used, so `p50`/`p99` cost a few atomic increments
//! per call.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

/// Buckets: upper bounds 1.25^i, i = 0..N (1 to ~ 3.9e9: microseconds up
/// to ~ 1 h, fuel up to four times the host's largest budget).
const N: usize = 100;
const RATIO: f64 = 1.25;

/// Calls, failures, and histograms of durations and fuel.
#[derive(Debug)]
pub struct CallCounter {
    calls: AtomicU64,
    failures: AtomicU64,
    durations: Histogram,
    fuel: Histogram,
    fuel_max: AtomicU64,
}

impl Default for CallCounter {
    fn default() -> Self {
        Self {
            calls: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            durations: Histogram::default(),
            fuel: Histogram::default(),
            fuel_max: AtomicU64::new(0),
        }
    }
}

/// What [`CallCounter::snapshot`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CallStats {
    pub calls: u64,
    /// Calls that did not end `ok` (error, trap, limit, timeout, invalid output).
    pub failures: u64,
    /// Median call duration, microseconds (within 25%); none before a call.
    pub p50_us: Option<u64>,
    /// 99th percentile call duration, microseconds (within 25%).
    pub p99_us: Option<u64>,
    /// Median fuel (instructions) a call used (within 25%): compare with
    /// the plugin's `limits.fuel`. None before a call ran.
    pub fuel_p50: Option<u64>,
    /// 99th percentile of the fuel a call used (within 25%).
    pub fuel_p99: Option<u64>,
    /// The most fuel any call used (exact); a call that ran out used its
    /// whole budget.
    pub fuel_max: Option<u64>,
}

#[derive(Debug)]
struct Histogram([AtomicU64; N]);

impl Default for Histogram {
    fn default() -> Self {
        Self(std::array::from_fn(|_| AtomicU64::new(0)))
    }
}

impl Histogram {
    fn record(&self, value: u64) {
        self.0[bucket(value)].fetch_add(1, Ordering::Relaxed);
    }

    /// The upper bounds of the buckets holding the `qs` quantiles.
    fn quantiles<const Q: usize>(&self, qs: [f64; Q]) -> [Option<u64>; Q] {
        let counts: Vec<u64> = self.0.iter().map(|b| b.load(Ordering::Relaxed)).collect();
        let total: u64 = counts.iter().sum();
        qs.map(|q| {
            if total == 0 {
                return None;
            }
            let rank = ((q * total as f64).ceil() as u64).max(1);
            let mut seen = 0;
            counts.iter().enumerate().find_map(|(i, c)| {
                seen += c;
                (seen >= rank).then(|| upper_bound(i))
            })
        })
    }
}

fn bucket(value: u64) -> usize {
    if value <= 1 {
        return 0;
    }
    let i = ((value as f64).ln() / RATIO.ln()).ceil() as usize;
    i.min(N - 1)
}

fn upper_bound(i: usize) -> u64 {
    RATIO.powi(i as i32).ceil() as u64
}

impl CallCounter {
    /// Count a call that took `us` microseconds and used `fuel`
    /// instructions (0: it never ran, or metering is off).
    pub fn record(&self, us: u64, fuel: u64, ok: bool) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        if !ok {
            self.failures.fetch_add(1, Ordering::Relaxed);
        }
        self.durations.record(us);
        if fuel > 0 {
            self.fuel.record(fuel);
            self.fuel_max.fetch_max(fuel, Ordering::Relaxed);
        }
    }

    /// Calls and failures so far.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.calls.load(Ordering::Relaxed),
            self.failures.load(Ordering::Relaxed),
        )
    }

    /// The counts and percentiles now.
    pub fn snapshot(&self) -> CallStats {
        let (calls, failures) = self.counts();
        let [p50_us, p99_us] = self.durations.quantiles([0.50, 0.99]);
        let [fuel_p50, fuel_p99] = self.fuel.quantiles([0.50, 0.99]);
        let fuel_max = Some(self.fuel_max.load(Ordering::Relaxed)).filter(|f| *f > 0);
        CallStats {
            calls,
            failures,
            p50_us,
            p99_us,
            fuel_p50,
            fuel_p99,
            fuel_max,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_fall_in_the_bucket_of_the_true_value() {
        let c = CallCounter::default();
        for us in 1..=1000 {
            c.record(us, us * 1000, us % 10 != 0);
        }
        let s = c.snapshot();
        assert_eq!((s.calls, s.failures), (1000, 100));
        let p50 = s.p50_us.unwrap();
        let p99 = s.p99_us.unwrap();
        assert!((500..=625).contains(&p50), "p50 {p50}");
        assert!((990..=1238).contains(&p99), "p99 {p99}");
        let f50 = s.fuel_p50.unwrap();
        assert!((500_000..=625_000).contains(&f50), "fuel p50 {f50}");
        assert_eq!(s.fuel_max, Some(1_000_000));
    }

    #[test]
    fn no_calls_no_percentiles_and_huge_values_are_capped() {
        let c = CallCounter::default();
        assert_eq!(c.snapshot().p50_us, None);
        c.record(u64::MAX, 0, true);
        let s = c.snapshot();
        assert!(s.p99_us.unwrap() > 1_000_000_000);
        assert_eq!(
            (s.fuel_p50, s.fuel_max),
            (None, None),
            "a call that never ran used no fuel"
        );
    }
}
