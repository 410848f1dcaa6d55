//! Durable timers: relaxation steps and preferred-agent timeouts (re-run
//! matching), escalation re-checks, deadline-clock warnings and due
//! times, offer expiry and queue overflow. Each timer is a key in the `timers` keyspace ordered by due time,
//! written in the same atomic commit as the decision that asked for it, and
//! removed in the same atomic commit as the decision it causes, so a timer
//! reaches the plugin's decision path exactly once, across restarts.
//!
//! Cancellation is lazy: a stopped deadline or a contact that is no longer
//! waiting makes its timers no-ops when they come due. An offer's expiry
//! timer is the exception: answering or declining removes it in the same
//! commit, as every offer has one.

use std::ops::Bound;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};
use serde::{Deserialize, Serialize};

use crate::store::{Store, StoreError, Writes};

pub(super) const TIMERS: &str = "timers";

/// What a timer does when it comes due.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TimerKind {
    /// Re-run matching: a relaxation step or a preferred-agent timeout.
    Rematch,
    /// An escalation rule asked to be called again with `timer-fired(name)`.
    Recheck { slot: String, name: String },
    /// A deadline clock reaches one of its warning times.
    DeadlineWarning { name: String, due_at: i64 },
    /// A deadline clock is due.
    DeadlineDue { name: String, due_at: i64 },
    /// An offer made at `offered_at` expires unless answered by now.
    OfferExpiry { offered_at: i64 },
    /// A contact queued at `queued_at` still waiting in queue `from` moves
    /// to that queue's `overflow`.
    Overflow { from: String, queued_at: i64 },
}

/// A stored timer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timer {
    pub id: u64,
    pub contact_id: String,
    pub due_at: i64,
    pub kind: TimerKind,
}

pub(super) fn key(due_at: i64, id: u64) -> Vec<u8> {
    let mut k = ((due_at as u64) ^ (1 << 63)).to_be_bytes().to_vec();
    k.extend_from_slice(&id.to_be_bytes());
    k
}

/// Add a timer to `writes`; returns its id (its key is `key(due_at, id)`).
pub(super) fn schedule(
    store: &dyn Store,
    writes: &mut Writes,
    contact_id: &str,
    due_at: i64,
    kind: TimerKind,
) -> Result<u64, StoreError> {
    let timer = Timer {
        id: store.generate_id()?,
        contact_id: contact_id.to_owned(),
        due_at,
        kind,
    };
    writes.put(TIMERS, key(due_at, timer.id), super::encode(&timer)?);
    Ok(timer.id)
}

/// The earliest timer, if any.
pub(super) fn first(store: &dyn Store) -> Result<Option<(Vec<u8>, Timer)>, StoreError> {
    match store
        .scan(TIMERS, (Bound::Unbounded, Bound::Unbounded), false)
        .next()
    {
        None => Ok(None),
        Some(kv) => {
            let (k, v) = kv?;
            Ok(Some((k, super::decode(&v, "timer")?)))
        }
    }
}

/// Every pending timer, earliest first.
pub(super) fn pending(store: &dyn Store) -> Result<Vec<Timer>, StoreError> {
    store
        .scan(TIMERS, (Bound::Unbounded, Bound::Unbounded), false)
        .map(|kv| super::decode(&kv?.1, "timer"))
        .collect()
}

/// Wakes the timer thread when an earlier timer is scheduled or on shutdown.
#[derive(Debug, Default)]
pub(super) struct Wakeup {
    state: Mutex<WakeState>,
    cond: Condvar,
    fired: Mutex<u64>,
    fired_cond: Condvar,
}

#[derive(Debug, Default)]
struct WakeState {
    /// Set when something changed since the thread last looked.
    dirty: bool,
    stop: bool,
}

impl Wakeup {
    pub fn notify(&self) {
        self.state.lock().dirty = true;
        self.cond.notify_all();
    }

    pub fn stop(&self) {
        self.state.lock().stop = true;
        self.cond.notify_all();
    }

    /// Count `n` more fired timers.
    pub fn fired(&self, n: u64) {
        *self.fired.lock() += n;
        self.fired_cond.notify_all();
    }

    /// Wait until `n` timers have fired in all, or `timeout`.
    pub fn wait_fired(&self, n: u64, timeout: Duration) -> u64 {
        let deadline = std::time::Instant::now() + timeout;
        let mut fired = self.fired.lock();
        while *fired < n {
            if self.fired_cond.wait_until(&mut fired, deadline).timed_out() {
                break;
            }
        }
        *fired
    }

    /// Wait at most `timeout` or until notified; `false` once stopped.
    pub fn wait(&self, timeout: Duration) -> bool {
        let mut state = self.state.lock();
        if !state.dirty && !state.stop {
            self.cond.wait_for(&mut state, timeout);
        }
        state.dirty = false;
        !state.stop
    }
}
