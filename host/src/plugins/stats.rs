//! Per-activation call statistics: counts and a lock-free latency
//! histogram (geometric buckets, 25% apart), so `p50`/`p99` cost one atomic
//! increment per call.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

/// Buckets: upper bounds 1.25^i microseconds, i = 0..N (1 us to ~ 2.8 h).
const N: usize = 100;
const RATIO: f64 = 1.25;

/// Calls, failures and a latency histogram.
#[derive(Debug)]
pub struct CallCounter {
    calls: AtomicU64,
    failures: AtomicU64,
    buckets: [AtomicU64; N],
}

impl Default for CallCounter {
    fn default() -> Self {
        Self {
            calls: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

/// What [`CallCounter::snapshot`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CallStats {
    pub calls: u64,
    /// Calls that did not end `ok` (error, trap, timeout, invalid output).
    pub failures: u64,
    /// Median call duration, microseconds (within 25%); none before a call.
    pub p50_us: Option<u64>,
    /// 99th percentile call duration, microseconds (within 25%).
    pub p99_us: Option<u64>,
}

fn bucket(us: u64) -> usize {
    if us <= 1 {
        return 0;
    }
    let i = ((us as f64).ln() / RATIO.ln()).ceil() as usize;
    i.min(N - 1)
}

fn upper_bound(i: usize) -> u64 {
    RATIO.powi(i as i32).ceil() as u64
}

impl CallCounter {
    /// Count a call that took `us` microseconds.
    pub fn record(&self, us: u64, ok: bool) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        if !ok {
            self.failures.fetch_add(1, Ordering::Relaxed);
        }
        self.buckets[bucket(us)].fetch_add(1, Ordering::Relaxed);
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
        let counts: Vec<u64> = self
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        let total: u64 = counts.iter().sum();
        let percentile = |q: f64| -> Option<u64> {
            if total == 0 {
                return None;
            }
            let rank = ((q * total as f64).ceil() as u64).max(1);
            let mut seen = 0;
            counts.iter().enumerate().find_map(|(i, c)| {
                seen += c;
                (seen >= rank).then(|| upper_bound(i))
            })
        };
        let (calls, failures) = self.counts();
        CallStats {
            calls,
            failures,
            p50_us: percentile(0.50),
            p99_us: percentile(0.99),
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
            c.record(us, us % 10 != 0);
        }
        let s = c.snapshot();
        assert_eq!((s.calls, s.failures), (1000, 100));
        let p50 = s.p50_us.unwrap();
        let p99 = s.p99_us.unwrap();
        assert!((500..=625).contains(&p50), "p50 {p50}");
        assert!((990..=1238).contains(&p99), "p99 {p99}");
    }

    #[test]
    fn no_calls_no_percentiles_and_huge_values_are_capped() {
        let c = CallCounter::default();
        assert_eq!(c.snapshot().p50_us, None);
        c.record(u64::MAX, true);
        assert!(c.snapshot().p99_us.unwrap() > 1_000_000_000);
    }
}
