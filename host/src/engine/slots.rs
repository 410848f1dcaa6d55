//! Plugin slots: where an activation serves calls, with the slot's failure
//! policy applied when it fails, the previous version kept for `last-good`,
//! and quarantine after repeated failures.
//!
//! A slot calls its current activation. When the call fails (trap, timeout,
//! invalid output, an error of the rule's own) and the manifest's policy is
//! `last-good`, the previous version in the slot is asked instead. After
//! `quarantine_after` failures in a row the current version is quarantined:
//! it is no longer called (the previous version takes over under
//! `last-good`; otherwise the slot's fail policy answers at once) until an
//! admin activates a version again. The engine audits each quarantine.
//! While quarantined the slot still answers by its fail policy: fail-closed
//! keeps holding contacts, blocking drafts and notifying supervisors.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};

use crate::plugins::{Activation, CallOutcome, FailPolicy, PluginError, World};

/// Consecutive failures after which a version is quarantined, by default.
pub const DEFAULT_QUARANTINE_AFTER: u32 = 5;

/// When a newly activated version is rolled back on its own: within its
/// first `window_calls` calls, once it has made at least `min_calls`, if
/// the share of failed calls (error, trap, timeout, invalid) reaches
/// `max_failure_rate`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AutoRollback {
    pub window_calls: u64,
    pub min_calls: u64,
    pub max_failure_rate: f64,
}

impl Default for AutoRollback {
    fn default() -> Self {
        Self {
            window_calls: 200,
            min_calls: 5,
            max_failure_rate: 0.5,
        }
    }
}

/// A version the slot rolled back on its own.
#[derive(Debug)]
pub struct RolledBack<W: World> {
    pub from: Arc<Activation<W>>,
    pub to: Arc<Activation<W>>,
    pub calls: u64,
    pub failures: u64,
}

/// Rings when a slot rolls back on its own, so the registry can record it
/// at once (a count, so no ring is missed between two waits).
#[derive(Debug, Default)]
pub struct RollbackBell {
    rung: Mutex<u64>,
    ringing: parking_lot::Condvar,
}

impl RollbackBell {
    fn ring(&self) {
        *self.rung.lock() += 1;
        self.ringing.notify_all();
    }

    /// Block until the bell has rung more than `seen` times; how many
    /// times it has.
    pub fn wait_past(&self, seen: u64) -> u64 {
        let mut rung = self.rung.lock();
        while *rung <= seen {
            self.ringing.wait(&mut rung);
        }
        *rung
    }
}

/// A version taken out of service after repeated failures.
#[derive(Debug)]
pub struct Quarantined<W: World> {
    pub activation: Arc<Activation<W>>,
    /// The failure that tipped it over.
    pub last_error: String,
    pub failures: u32,
    /// When (server wall time, ms since the epoch).
    pub since: i64,
}

impl<W: World> Clone for Quarantined<W> {
    fn clone(&self) -> Self {
        Self {
            activation: self.activation.clone(),
            last_error: self.last_error.clone(),
            failures: self.failures,
            since: self.since,
        }
    }
}

struct State<W: World> {
    current: Option<Arc<Activation<W>>>,
    previous: Option<Arc<Activation<W>>>,
    quarantined: Option<Quarantined<W>>,
}

/// One slot: the routing policy, or one escalation rule, compliance check
/// or KPI definition.
pub struct Slot<W: World> {
    name: String,
    state: RwLock<State<W>>,
    /// Failures in a row of the current version.
    failures: AtomicU32,
    quarantine_after: u32,
    auto_rollback: AutoRollback,
    /// The current version is new and watched for automatic rollback.
    probation: std::sync::atomic::AtomicBool,
    /// An automatic rollback the registry has not recorded yet.
    pending: Mutex<Option<RolledBack<W>>>,
    /// Rung when `pending` is set.
    bell: Arc<RollbackBell>,
}

impl<W: World> std::fmt::Debug for Slot<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slot")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// What a call through a slot came to.
pub struct SlotCall<W: World, T> {
    /// The answer, from the current version or (last-good) the previous one.
    pub result: Result<T, PluginError>,
    /// The version whose answer `result` is, or that failed.
    pub by: Arc<Activation<W>>,
    /// When the previous version answered: how the current one failed.
    pub primary_error: Option<PluginError>,
    /// The policy of the version asked first.
    pub policy: FailPolicy,
    /// The version this call quarantined, if it did.
    pub quarantined: Option<Quarantined<W>>,
    pub duration_us: u64,
    /// Instructions the call that produced `result` used (0 when the
    /// caller did not meter it).
    pub fuel: u64,
}

impl<W: World, T> SlotCall<W, T> {
    /// The outcome of the call that produced `result`.
    pub fn outcome(&self) -> CallOutcome {
        match &self.result {
            Ok(_) => CallOutcome::Ok,
            Err(e) => e.outcome(),
        }
    }
}

/// Why a slot gave no answer at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unserved {
    /// Nothing was ever activated (or it was deactivated).
    Empty,
    /// The version was quarantined and no previous version stands in.
    Quarantined {
        plugin: String,
        error: String,
        /// The quarantined version's fail policy, which now answers.
        policy: FailPolicy,
    },
}

impl std::fmt::Display for Unserved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unserved::Empty => write!(f, "no plugin is active in this slot"),
            Unserved::Quarantined { plugin, error, .. } => write!(
                f,
                "{plugin} is quarantined after repeated failures (last: {error}); activate a version to resume"
            ),
        }
    }
}

impl<W: World> Slot<W> {
    pub fn new(name: impl Into<String>, quarantine_after: u32) -> Self {
        Self {
            name: name.into(),
            state: RwLock::new(State {
                current: None,
                previous: None,
                quarantined: None,
            }),
            failures: AtomicU32::new(0),
            quarantine_after: quarantine_after.max(1),
            auto_rollback: AutoRollback::default(),
            probation: std::sync::atomic::AtomicBool::new(false),
            pending: Mutex::new(None),
            bell: Arc::default(),
        }
    }

    /// Use `policy` for automatic rollback.
    pub fn with_auto_rollback(mut self, policy: AutoRollback) -> Self {
        self.auto_rollback = policy;
        self
    }

    /// Ring `bell` on each automatic rollback.
    pub fn with_bell(mut self, bell: Arc<RollbackBell>) -> Self {
        self.bell = bell;
        self
    }

    /// Like [`Slot::activate`], and watch the new version: if it fails too
    /// often early on, the slot rolls back to the version it replaced.
    pub fn activate_watched(&self, activation: Arc<Activation<W>>) {
        self.activate(activation);
        let has_previous = self.state.read().previous.is_some();
        self.probation.store(has_previous, Ordering::Relaxed);
    }

    /// Take the automatic rollback not yet recorded, if any.
    pub fn take_rollback(&self) -> Option<RolledBack<W>> {
        self.pending.lock().take()
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Serve calls with `activation` from now on; the version it replaces
    /// becomes the previous one (for `last-good` and rollback). Calls already
    /// running finish on the version they started with.
    pub fn activate(&self, activation: Arc<Activation<W>>) {
        let mut state = self.state.write();
        if let Some(old) = state.current.take() {
            state.previous = Some(old);
        }
        state.quarantined = None;
        state.current = Some(activation);
        self.failures.store(0, Ordering::Relaxed);
        self.probation.store(false, Ordering::Relaxed);
    }

    /// Serve calls with the previous version again; returns it, or `None`
    /// when there is none.
    pub fn rollback(&self) -> Option<Arc<Activation<W>>> {
        let mut state = self.state.write();
        let previous = state.previous.take()?;
        state.previous = state.current.take();
        state.quarantined = None;
        state.current = Some(previous.clone());
        self.failures.store(0, Ordering::Relaxed);
        Some(previous)
    }

    /// Stop calling plugins in this slot.
    pub fn deactivate(&self) -> Option<Arc<Activation<W>>> {
        let mut state = self.state.write();
        state.quarantined = None;
        let old = state.current.take();
        if old.is_some() {
            state.previous = old.clone();
        }
        old
    }

    /// The version serving calls.
    pub fn current(&self) -> Option<Arc<Activation<W>>> {
        self.state.read().current.clone()
    }

    /// The version before it.
    pub fn previous(&self) -> Option<Arc<Activation<W>>> {
        self.state.read().previous.clone()
    }

    /// The quarantined version, if any.
    pub fn quarantined(&self) -> Option<Quarantined<W>> {
        self.state.read().quarantined.clone()
    }

    /// Failures in a row of the current version.
    pub fn consecutive_failures(&self) -> u32 {
        self.failures.load(Ordering::Relaxed)
    }

    /// Call the slot: the current version, then (last-good) the previous
    /// one. `Err` when nothing could be asked.
    pub fn call<T>(
        &self,
        f: impl Fn(&Activation<W>) -> Result<T, PluginError>,
    ) -> Result<SlotCall<W, T>, Unserved> {
        self.call_metered(|a| crate::plugins::Metered {
            result: f(a),
            fuel: 0,
        })
    }

    /// [`Slot::call`] with a call that reports the fuel it used (recorded
    /// in the decision's audit record as `fuel`).
    pub fn call_metered<T>(
        &self,
        f: impl Fn(&Activation<W>) -> crate::plugins::Metered<T>,
    ) -> Result<SlotCall<W, T>, Unserved> {
        let (current, previous) = {
            let state = self.state.read();
            match (&state.current, &state.quarantined) {
                (Some(c), _) => (c.clone(), state.previous.clone()),
                (None, Some(q)) => {
                    return Err(Unserved::Quarantined {
                        plugin: q.activation.plugin().id().to_string(),
                        error: q.last_error.clone(),
                        policy: q.activation.plugin().manifest().fail_policy,
                    });
                }
                (None, None) => return Err(Unserved::Empty),
            }
        };
        let started = Instant::now();
        let crate::plugins::Metered { result, fuel } = f(&current);
        self.observe(&current, &result, started);
        let policy = current.plugin().manifest().fail_policy;
        let err = match result {
            Ok(v) => {
                self.failures.store(0, Ordering::Relaxed);
                return Ok(SlotCall {
                    result: Ok(v),
                    by: current,
                    primary_error: None,
                    policy,
                    quarantined: None,
                    duration_us: started.elapsed().as_micros() as u64,
                    fuel,
                });
            }
            Err(e) => e,
        };
        let failures = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
        self.watch(&current);
        let quarantined = (failures >= self.quarantine_after)
            .then(|| self.quarantine(&current, &err, failures))
            .flatten();
        if policy == FailPolicy::LastGood
            && let Some(prev) = previous.filter(|p| !Arc::ptr_eq(p, &current))
        {
            let again = Instant::now();
            let second = f(&prev);
            self.observe(&prev, &second.result, again);
            if second.result.is_ok() {
                return Ok(SlotCall {
                    result: second.result,
                    by: prev,
                    primary_error: Some(err),
                    policy,
                    quarantined,
                    duration_us: started.elapsed().as_micros() as u64,
                    fuel: second.fuel,
                });
            }
        }
        Ok(SlotCall {
            result: Err(err),
            by: current,
            primary_error: None,
            policy,
            quarantined,
            duration_us: started.elapsed().as_micros() as u64,
            fuel,
        })
    }

    fn observe<T>(&self, act: &Activation<W>, result: &Result<T, PluginError>, started: Instant) {
        let m = crate::metrics::metrics();
        let p = act.plugin().id();
        let outcome = match result {
            Ok(_) => "ok",
            Err(e) => match e.outcome() {
                CallOutcome::Ok => "ok",
                CallOutcome::Error => "error",
                CallOutcome::Trap => "trap",
                CallOutcome::Limit => "limit",
                CallOutcome::Timeout => "timeout",
                CallOutcome::Invalid => "invalid",
            },
        };
        m.plugin_calls
            .with_label_values(&[self.name.as_str(), &p.id, &p.version, outcome])
            .inc();
        m.plugin_duration
            .with_label_values(&[self.name.as_str(), &p.id])
            .observe(started.elapsed().as_secs_f64());
    }

    /// Roll a new version back when it fails too often early on.
    fn watch(&self, act: &Arc<Activation<W>>) {
        if !self.probation.load(Ordering::Relaxed) {
            return;
        }
        let (calls, failures) = act.call_counts();
        let p = self.auto_rollback;
        if calls > p.window_calls {
            self.probation.store(false, Ordering::Relaxed);
            return;
        }
        if calls < p.min_calls || (failures as f64) < p.max_failure_rate * calls as f64 {
            return;
        }
        let mut state = self.state.write();
        if !state.current.as_ref().is_some_and(|c| Arc::ptr_eq(c, act)) {
            return;
        }
        let Some(previous) = state.previous.take() else {
            return;
        };
        state.previous = state.current.take();
        state.current = Some(previous.clone());
        self.probation.store(false, Ordering::Relaxed);
        self.failures.store(0, Ordering::Relaxed);
        tracing::warn!(
            slot = %self.name,
            from = %act.plugin().id(),
            to = %previous.plugin().id(),
            calls,
            failures,
            "new plugin version failed too often; rolled back automatically"
        );
        *self.pending.lock() = Some(RolledBack {
            from: act.clone(),
            to: previous,
            calls,
            failures,
        });
        self.bell.ring();
    }

    /// Take `act` out of service, if it is still the current version.
    fn quarantine(
        &self,
        act: &Arc<Activation<W>>,
        err: &PluginError,
        failures: u32,
    ) -> Option<Quarantined<W>> {
        let mut state = self.state.write();
        if !state.current.as_ref().is_some_and(|c| Arc::ptr_eq(c, act)) {
            return None; // another call quarantined it, or an admin replaced it
        }
        let q = Quarantined {
            activation: act.clone(),
            last_error: err.to_string(),
            failures,
            since: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64),
        };
        state.current = None;
        if act.plugin().manifest().fail_policy == FailPolicy::LastGood {
            state.current = state.previous.take();
        }
        state.quarantined = Some(q.clone());
        self.failures.store(0, Ordering::Relaxed);
        tracing::warn!(
            slot = %self.name,
            plugin = %act.plugin().id(),
            failures,
            error = %err,
            "plugin quarantined after repeated failures"
        );
        Some(q)
    }
}

/// Named slots of one kind (escalation rules, compliance checks, KPIs).
pub struct SlotMap<W: World> {
    slots: RwLock<BTreeMap<String, Arc<Slot<W>>>>,
    quarantine_after: u32,
    auto_rollback: AutoRollback,
    bell: Arc<RollbackBell>,
}

impl<W: World> SlotMap<W> {
    pub fn new(quarantine_after: u32) -> Self {
        Self {
            slots: RwLock::new(BTreeMap::new()),
            quarantine_after,
            auto_rollback: AutoRollback::default(),
            bell: Arc::default(),
        }
    }

    /// New slots roll a failing new version back under `policy`.
    pub fn with_auto_rollback(mut self, policy: AutoRollback) -> Self {
        self.auto_rollback = policy;
        self
    }

    /// New slots ring `bell` on each automatic rollback.
    pub fn with_bell(mut self, bell: Arc<RollbackBell>) -> Self {
        self.bell = bell;
        self
    }

    /// Activate `activation` in slot `name`, creating the slot if needed.
    pub fn activate(&self, name: &str, activation: Arc<Activation<W>>) -> Arc<Slot<W>> {
        let slot = self.slot(name);
        slot.activate(activation);
        slot
    }

    /// Slot `name`, created if needed.
    pub fn slot(&self, name: &str) -> Arc<Slot<W>> {
        self.slots
            .write()
            .entry(name.to_owned())
            .or_insert_with(|| {
                Arc::new(
                    Slot::new(name, self.quarantine_after)
                        .with_auto_rollback(self.auto_rollback)
                        .with_bell(self.bell.clone()),
                )
            })
            .clone()
    }

    pub fn get(&self, name: &str) -> Option<Arc<Slot<W>>> {
        self.slots.read().get(name).cloned()
    }

    /// Every slot, in name order.
    pub fn all(&self) -> Vec<Arc<Slot<W>>> {
        self.slots.read().values().cloned().collect()
    }

    /// Remove slot `name` entirely.
    pub fn remove(&self, name: &str) -> Option<Arc<Slot<W>>> {
        self.slots.write().remove(name)
    }
}
