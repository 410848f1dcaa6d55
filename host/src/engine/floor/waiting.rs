//! The waiting line, indexed so no query walks every waiting contact:
//!
//! - **lanes**, for dispatch: per effective queue (after relaxation) and
//!   per *class* (what decides which agents qualify: channel, required
//!   skills, language, team, a preferred agent still waited for), the
//!   contacts in dispatch order (priority after relaxation, then the
//!   longest wait, then the id);
//! - **per routed queue** (the queue routing chose, before relaxation), for
//!   snapshots and queue statuses: the count, the oldest wait and the
//!   first contact by id;
//! - **stages**: relaxation makes a contact's lane a function of time. Each
//!   contact is filed for an interval of time in which it does not change;
//!   [`WaitingLine::restage`] re-files only the contacts whose interval
//!   does not hold `now` (a relaxation step came due, or the clock went
//!   back before one), so time costs O(log n) per step that applies.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use crate::domain::{Agent, Channel, Requirements};

type Id = Arc<str>;

/// A contact's place in its lane: priority after relaxation (highest
/// first), then the longest wait, then the id.
pub(super) type Place = (Reverse<u32>, i64, Id);

/// What decides which agents may take a contact: two contacts of one
/// class are taken by the same agents.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(super) struct Class {
    channel: Channel,
    /// The requirements after relaxation, with only what `qualifies` reads
    /// (required skills, language, team).
    needs: Requirements,
    /// The preferred agent, while the contact still waits for them alone.
    only: Option<String>,
}

impl Class {
    /// Whether one of `agents` could take a contact of this class now,
    /// exactly as `select_agent` decides who qualifies.
    pub fn served_by(&self, agents: &[Agent]) -> bool {
        agents.iter().any(|a| {
            self.only.as_ref().is_none_or(|only| &a.id == only)
                && self.needs.qualifies(a, self.channel)
        })
    }
}

/// A contact waiting for an agent.
#[derive(Debug)]
pub(super) struct Waiting {
    pub channel: Channel,
    /// As routing decided, before relaxation.
    pub requirements: Requirements,
    pub queued_at: i64,
    /// An agent who let an offer of this contact expire, and until when
    /// they are not offered it again.
    pub avoid: Option<(String, i64)>,
    stage: Stage,
}

/// Where a contact is filed for the times in `[from, until)`.
#[derive(Debug)]
struct Stage {
    from: Option<i64>,
    until: Option<i64>,
    /// The queue after relaxation.
    queue: Arc<str>,
    class: Arc<Class>,
    priority: u32,
}

/// Contacts routed to one queue (before relaxation).
#[derive(Debug, Default)]
struct Routed {
    ids: BTreeSet<Id>,
    /// queued_at -> contacts queued then.
    since: BTreeMap<i64, u32>,
}

/// What a routed queue holds: the count, the oldest queued_at and the
/// first contact by id.
pub(super) struct InQueue<'a> {
    pub count: usize,
    pub oldest: Option<i64>,
    pub first: Option<&'a Waiting>,
}

#[derive(Debug, Default)]
pub(super) struct WaitingLine {
    contacts: HashMap<Id, Waiting>,
    /// Effective queue -> class -> contacts in dispatch order.
    lanes: HashMap<Arc<str>, HashMap<Arc<Class>, BTreeSet<Place>>>,
    routed: HashMap<String, Routed>,
    /// (end of the stage, contact), for stages that end.
    ends: BTreeSet<(i64, Id)>,
    /// (start of the stage, contact), for stages that start after the
    /// first: the clock may go back before them.
    starts: BTreeSet<(i64, Id)>,
}

/// Seconds waited at `t`, as dispatch counts them.
pub(super) fn waited(queued_at: i64, t: i64) -> u32 {
    ((t - queued_at).max(0) / 1000) as u32
}

impl WaitingLine {
    pub fn len(&self) -> usize {
        self.contacts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.contacts.is_empty()
    }

    pub fn get(&self, id: &str) -> Option<&Waiting> {
        self.contacts.get(id)
    }

    /// File contact `id` (replacing what was filed for it), staged at `at`.
    pub fn insert(
        &mut self,
        id: &str,
        channel: Channel,
        requirements: Requirements,
        queued_at: i64,
        avoid: Option<(String, i64)>,
        at: i64,
    ) {
        self.remove(id);
        let id: Id = Arc::from(id);
        let routed = self.routed.entry(requirements.queue.clone()).or_default();
        routed.ids.insert(id.clone());
        *routed.since.entry(queued_at).or_default() += 1;
        let stage = self.file(&id, &requirements, channel, queued_at, at);
        self.contacts.insert(
            id,
            Waiting {
                channel,
                requirements,
                queued_at,
                avoid,
                stage,
            },
        );
    }

    /// Take contact `id` out of the line; whether it was waiting.
    pub fn remove(&mut self, id: &str) -> bool {
        let Some((id, w)) = self.contacts.remove_entry(id) else {
            return false;
        };
        self.unfile(&id, &w);
        if let Some(routed) = self.routed.get_mut(&w.requirements.queue) {
            routed.ids.remove(&id);
            if let Some(n) = routed.since.get_mut(&w.queued_at) {
                *n -= 1;
                if *n == 0 {
                    routed.since.remove(&w.queued_at);
                }
            }
            if routed.ids.is_empty() {
                self.routed.remove(&w.requirements.queue);
            }
        }
        true
    }

    /// Re-file every contact whose stage does not hold `now`; returns how
    /// many.
    pub fn restage(&mut self, now: i64) -> usize {
        let mut due = Vec::new();
        while let Some((end, _)) = self.ends.first()
            && *end <= now
        {
            due.extend(self.ends.pop_first().map(|(_, id)| id));
        }
        while let Some((start, _)) = self.starts.last()
            && *start > now
        {
            due.extend(self.starts.pop_last().map(|(_, id)| id));
        }
        let refiled = due.len();
        for id in due {
            let Some(mut w) = self.contacts.remove(&id) else {
                continue;
            };
            self.unfile(&id, &w);
            w.stage = self.file(&id, &w.requirements, w.channel, w.queued_at, now);
            self.contacts.insert(id, w);
        }
        refiled
    }

    /// Every lane with its first contact: (effective queue, class, place).
    pub fn lanes(&self) -> impl Iterator<Item = (&Arc<str>, &Arc<Class>, &Place)> + '_ {
        self.lanes.iter().flat_map(|(queue, classes)| {
            classes
                .iter()
                .filter_map(move |(class, line)| Some((queue, class, line.first()?)))
        })
    }

    /// The contact after `place` in the lane of `queue` and `class`.
    pub fn next_in(&self, queue: &str, class: &Class, place: &Place) -> Option<Place> {
        self.lanes
            .get(queue)?
            .get(class)?
            .range((std::ops::Bound::Excluded(place), std::ops::Bound::Unbounded))
            .next()
            .cloned()
    }

    /// The contacts routed to `queue` (before relaxation).
    pub fn in_queue(&self, queue: &str) -> InQueue<'_> {
        let Some(routed) = self.routed.get(queue) else {
            return InQueue {
                count: 0,
                oldest: None,
                first: None,
            };
        };
        InQueue {
            count: routed.ids.len(),
            oldest: routed.since.keys().next().copied(),
            first: routed.ids.first().and_then(|id| self.contacts.get(id)),
        }
    }

    /// (queue, contacts routed to it), for each queue with some.
    pub fn counts(&self) -> impl Iterator<Item = (&str, usize)> + '_ {
        self.routed.iter().map(|(q, r)| (q.as_str(), r.ids.len()))
    }

    #[cfg(test)]
    /// The queue each waiting contact was routed to.
    pub fn routed_queues(&self) -> impl Iterator<Item = &str> + '_ {
        self.contacts
            .values()
            .map(|w| w.requirements.queue.as_str())
    }

    /// File `id` in the lane its requirements put it in at `t`.
    fn file(
        &mut self,
        id: &Id,
        requirements: &Requirements,
        channel: Channel,
        queued_at: i64,
        t: i64,
    ) -> Stage {
        let waited = waited(queued_at, t);
        let after = requirements.after(waited);
        let only = requirements
            .preferred_agent
            .as_ref()
            .filter(|(_, timeout)| waited < *timeout)
            .map(|(agent, _)| agent.clone());
        // A step of `s` seconds applies from queued_at + s * 1000 on (one
        // of 0 applies at once): the stage lies between two such times.
        let (mut from, mut until) = (None, None);
        let steps = requirements.relaxation.iter().map(|s| s.after_secs);
        let timeout = requirements.preferred_agent.iter().map(|(_, t)| *t);
        for secs in steps.chain(timeout).filter(|s| *s > 0) {
            let at = queued_at.saturating_add(i64::from(secs) * 1000);
            if at <= t {
                from = from.max(Some(at));
            } else {
                until = Some(until.map_or(at, |u: i64| u.min(at)));
            }
        }
        let class = Class {
            channel,
            needs: Requirements {
                required: after.required,
                language: after.language,
                team: after.team,
                ..Requirements::default()
            },
            only,
        };
        let lanes = match self.lanes.get_key_value(after.queue.as_str()) {
            Some((queue, _)) => queue.clone(),
            None => Arc::from(after.queue.as_str()),
        };
        let classes = self.lanes.entry(lanes.clone()).or_default();
        let class = match classes.get_key_value(&class) {
            Some((shared, _)) => shared.clone(),
            None => Arc::new(class),
        };
        classes.entry(class.clone()).or_default().insert((
            Reverse(after.priority),
            queued_at,
            id.clone(),
        ));
        if let Some(end) = until {
            self.ends.insert((end, id.clone()));
        }
        if let Some(start) = from {
            self.starts.insert((start, id.clone()));
        }
        Stage {
            from,
            until,
            queue: lanes,
            class,
            priority: after.priority,
        }
    }

    /// Take `id` out of its lane and the stage indexes.
    fn unfile(&mut self, id: &Id, w: &Waiting) {
        let s = &w.stage;
        if let Some(classes) = self.lanes.get_mut(&s.queue) {
            if let Some(line) = classes.get_mut(&s.class) {
                line.remove(&(Reverse(s.priority), w.queued_at, id.clone()));
                if line.is_empty() {
                    classes.remove(&s.class);
                }
            }
            if classes.is_empty() {
                self.lanes.remove(&s.queue);
            }
        }
        if let Some(end) = s.until {
            self.ends.remove(&(end, id.clone()));
        }
        if let Some(start) = s.from {
            self.starts.remove(&(start, id.clone()));
        }
    }
}
