//! Offers that expire and contacts that overflow: an offer not answered
//! within its queue's `offer_timeout_secs` goes back to its place in line
//! (a missed offer, counted per queue and agent), and a contact waiting in
//! a queue with `overflow` longer than `overflow_after_secs`, or whose
//! routing relaxation step says so, moves to the next queue and is counted
//! there. Both ride on durable timers, so they survive restarts.

use crate::audit::AuditEntry;
use crate::domain::{ContactState, DEFAULT_OFFER_TIMEOUT_SECS};
use crate::store::StoreError;

use super::events::EventKind;
use super::reactions::Reaction;
use super::timers::{self, TimerKind};
use super::{ContactRecord, Engine, EngineError, MissedOffer, kpi};

impl Engine {
    /// Seconds an offer of a contact in `queue` stays open (0: forever).
    fn offer_timeout_secs(&self, queue: &str) -> u32 {
        self.floor
            .lock()
            .queues
            .get(queue)
            .map_or(DEFAULT_OFFER_TIMEOUT_SECS, |q| q.offer_timeout_secs)
    }

    /// An event took `before` to `c`: start the offer's expiry timer when
    /// an offer opens, remove it when the offer closes, and record a missed
    /// offer when it expired.
    pub(super) fn offer_changed(
        &self,
        before: &ContactRecord,
        c: &mut ContactRecord,
        kind: &EventKind,
        at: i64,
        r: &mut Reaction,
    ) -> Result<(), EngineError> {
        if before.state == ContactState::Offered && c.state != ContactState::Offered {
            // Every offer has a timer: remove it rather than let it fire
            // as a no-op.
            if let (Some(due), Some(id)) = (c.offer_expires_at.take(), c.offer_timer.take()) {
                r.writes.remove(timers::TIMERS, timers::key(due, id));
            }
        }
        if c.state == ContactState::Offered && before.state != ContactState::Offered {
            let secs = self.offer_timeout_secs(&c.requirements.queue);
            if secs > 0 {
                let due = at + i64::from(secs) * 1000;
                let id = timers::schedule(
                    &*self.store,
                    &mut r.writes,
                    &c.id,
                    due,
                    TimerKind::OfferExpiry { offered_at: at },
                )?;
                c.offer_expires_at = Some(due);
                c.offer_timer = Some(id);
                r.timers = true;
            }
        }
        if matches!(kind, EventKind::OfferExpired) {
            self.missed(before, c, at, r)?;
        }
        Ok(())
    }

    /// The offer of `before` expired at `at`: count it, audit it, and keep
    /// its agent from being offered the contact again at once.
    fn missed(
        &self,
        before: &ContactRecord,
        c: &mut ContactRecord,
        at: i64,
        r: &mut Reaction,
    ) -> Result<(), EngineError> {
        let agent = before.agent_id.clone().unwrap_or_default();
        let queue = c.requirements.queue.clone();
        // The agent who missed it gets it again only after one more
        // timeout; anyone else may take it meanwhile.
        let pause = self
            .offer_timeout_secs(&queue)
            .max(DEFAULT_OFFER_TIMEOUT_SECS);
        let retry_after = at + i64::from(pause) * 1000;
        c.missed_offer = Some(MissedOffer {
            agent_id: agent.clone(),
            at,
            retry_after,
        });
        timers::schedule(
            &*self.store,
            &mut r.writes,
            &c.id,
            retry_after,
            TimerKind::Rematch,
        )?;
        r.timers = true;
        let team = self
            .floor
            .lock()
            .agents
            .get(&agent)
            .and_then(|a| a.teams.first().cloned());
        let mut dims = vec![
            ("queue".to_owned(), queue.clone()),
            ("agent".to_owned(), agent.clone()),
            ("channel".to_owned(), channel_name(c.channel)),
        ];
        if let Some(t) = team {
            dims.push(("team".to_owned(), t));
        }
        kpi::plan_host_sample(
            kpi::MISSED_OFFERS,
            &format!("{}:{}", c.id, c.events),
            at,
            dims,
            1.0,
            &mut r.writes,
            &mut r.kpi,
        )?;
        r.audit.push(AuditEntry {
            at,
            actor: "engine".into(),
            kind: "offer.expired".into(),
            subject: c.id.clone(),
            data: raw(&serde_json::json!({
                "agent": agent,
                "queue": queue,
                "offered_at": before.offered_at,
                "retry_after": retry_after,
            }))?,
        });
        r.missed.push((queue, agent));
        Ok(())
    }

    /// A contact entered `c.requirements.queue` (or came back to it after
    /// an offer) at `at`: if that queue overflows, a timer moves it on once
    /// it has waited there `overflow_after_secs`.
    pub(super) fn schedule_overflow(
        &self,
        c: &ContactRecord,
        at: i64,
        r: &mut Reaction,
    ) -> Result<(), EngineError> {
        let (Some(queued_at), ContactState::Queued) = (c.queued_at, c.state) else {
            return Ok(());
        };
        let after = match self.floor.lock().queues.get(&c.requirements.queue) {
            Some(q) if q.overflow.as_ref().is_some_and(|o| !o.trim().is_empty()) => {
                q.overflow_after_secs
            }
            _ => return Ok(()),
        };
        // Back in line after an offer it keeps its time in this queue, so
        // the move may be due at once.
        let entered = c.in_queue_since.unwrap_or(queued_at).min(at);
        // Never due in the engine's past: queues that overflow into each
        // other move a long-waiting (or back-dated) contact one step per
        // clock tick, not round and round within one firing.
        let due = (entered + i64::from(after) * 1000)
            .max(at)
            .max((self.clock)() + 1);
        timers::schedule(
            &*self.store,
            &mut r.writes,
            &c.id,
            due,
            TimerKind::Overflow {
                from: c.requirements.queue.clone(),
                queued_at,
            },
        )?;
        r.timers = true;
        Ok(())
    }

    /// Where a waiting contact should wait from `at`, if not in its queue:
    /// the queue's overflow (timer `Overflow`) or a relaxation step's queue
    /// (timer `Rematch`). `None`: it stays where it is.
    pub(super) fn overflow_target(
        &self,
        c: &ContactRecord,
        kind: &TimerKind,
        at: i64,
    ) -> Option<(String, String)> {
        if c.state != ContactState::Queued {
            return None;
        }
        let from = c.requirements.queue.clone();
        let to = match kind {
            TimerKind::Overflow { from: f, queued_at } => {
                if f != &from || c.queued_at != Some(*queued_at) {
                    return None;
                }
                self.floor
                    .lock()
                    .queues
                    .get(&from)
                    .and_then(|q| q.overflow.clone())?
            }
            TimerKind::Rematch => {
                let waited = ((at - c.queued_at?).max(0) / 1000) as u32;
                c.requirements.after(waited).queue
            }
            _ => return None,
        };
        (!to.trim().is_empty() && to != from).then_some((from, to))
    }
}

fn raw(v: &impl serde::Serialize) -> Result<Box<serde_json::value::RawValue>, StoreError> {
    serde_json::value::to_raw_value(v)
        .map_err(|e| StoreError::Corrupt(format!("cannot encode audit record: {e}")))
}

fn channel_name(c: crate::domain::Channel) -> String {
    serde_json::to_value(c)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}
