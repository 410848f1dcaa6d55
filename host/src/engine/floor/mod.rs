//! The live floor: agents, queues, waiting contacts and who handles what,
//! kept in memory (rebuilt from the store at start) so matching never scans
//! history. Loads are derived from the contacts being handled, so capacity
//! cannot drift from the contacts' real states.
//!
//! Every change costs O(log n) in the waiting contacts: the waiting line is
//! indexed for dispatch (per queue and class, in dispatch order) and per
//! queue for snapshots ([`waiting`]), and loads are counted per agent as
//! seats are taken and freed ([`seats`]). Queries cost O(queues + agents)
//! and a qualification check per free agent for each distinct first
//! contact of a queue.

mod seats;
mod waiting;

#[cfg(test)]
mod reference;
#[cfg(test)]
mod tests;

use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::sync::Arc;

use crate::domain::{Agent, AgentStatus, Channel, ContactState, Queue, Requirements, select_agent};

use super::ContactRecord;
use crate::plugins::types as wit;
use seats::Seats;
use waiting::{Class, Place, WaitingLine};

/// A contact the floor decided to offer to an agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Offer {
    pub contact_id: String,
    pub agent_id: String,
}

#[derive(Debug, Default)]
pub(super) struct Floor {
    pub agents: BTreeMap<String, Agent>,
    pub queues: BTreeMap<String, Queue>,
    waiting: WaitingLine,
    /// Offered, assigned and wrap-up contacts.
    handling: Seats,
    /// Seats dispatch reserved for offers not yet recorded: they count
    /// against capacity, but not in the load of the agent's period.
    reserved: Seats,
    rotation: HashMap<String, usize>,
    /// Planned activities per agent (shifts, breaks, training, meetings).
    pub plans: super::schedules::Plans,
    /// Contacts the last dispatch pass offered to `select_agent`.
    #[cfg(test)]
    walked: usize,
    /// Contacts the last dispatch pass re-filed (relaxation steps due).
    #[cfg(test)]
    refiled: usize,
}

impl Floor {
    /// Bring the floor in line with a contact's current state (idempotent).
    pub fn track(&mut self, c: &ContactRecord, at: i64) {
        self.reserved.remove(&c.id);
        if c.state == ContactState::Queued {
            self.waiting.insert(
                &c.id,
                c.channel,
                c.requirements.clone(),
                c.queued_at.unwrap_or(c.created_at),
                c.missed_offer
                    .as_ref()
                    .map(|m| (m.agent_id.clone(), m.retry_after)),
                at,
            );
        } else {
            self.waiting.remove(&c.id);
        }
        let handling = matches!(
            c.state,
            ContactState::Offered | ContactState::Assigned | ContactState::WrapUp
        );
        match (&c.agent_id, handling) {
            (Some(agent), true) => {
                self.handling.insert(c.id.clone(), agent.clone(), c.channel);
            }
            _ => {
                if let Some((agent, _)) = self.handling.remove(&c.id) {
                    let still_busy = self.handling.load(&agent).is_some();
                    if let (false, Some(a)) = (still_busy, self.agents.get_mut(&agent)) {
                        a.idle_since = at;
                    }
                }
            }
        }
    }

    /// Agent `id`'s recorded load: the contacts offered to, assigned to or
    /// wrapped up by them, without seats reserved by a dispatch in flight.
    pub fn recorded_load(&self, id: &str) -> BTreeMap<Channel, u32> {
        self.handling.load(id).cloned().unwrap_or_default()
    }

    /// Agent `id`'s load with the seats reserved by a dispatch in flight.
    fn load(&self, id: &str) -> BTreeMap<Channel, u32> {
        seats::add(self.handling.load(id), self.reserved.load(id))
    }

    /// Agent `id` with their current load (as in [`Floor::agents_with_load`]).
    pub fn agent(&self, id: &str) -> Option<Agent> {
        let mut a = self.agents.get(id)?.clone();
        a.load = self.load(id);
        Some(a)
    }

    /// Whether agent `a` may be offered a contact at `now` on some channel
    /// (as routing sees them: not planned off the queue), without cloning.
    fn has_free_seat(&self, a: &Agent, now: i64) -> bool {
        if !a.status.accepts_contacts() || self.plans.off_queue(&a.id, now) {
            return false;
        }
        let (handling, reserved) = (self.handling.load(&a.id), self.reserved.load(&a.id));
        let used = |c: &Channel| {
            let n = |l: Option<&seats::Load>| l.and_then(|l| l.get(c)).copied().unwrap_or(0);
            n(handling) + n(reserved)
        };
        Channel::ALL
            .iter()
            .any(|c| a.capacity.get(c).copied().unwrap_or(0) > used(c))
    }

    /// The agents routing may offer a contact at `now`, with their loads.
    fn free_agents(&self, now: i64) -> Vec<Agent> {
        self.agents
            .values()
            .filter(|a| self.has_free_seat(a, now))
            .map(|a| {
                let mut a = a.clone();
                a.load = self.load(&a.id);
                a
            })
            .collect()
    }

    /// Queue `name` at `now` as routing and escalation rules see it;
    /// `seen` remembers how many of `free` qualify for a first contact's
    /// requirements, for queues whose first contacts ask the same.
    fn status_of<'a>(
        &'a self,
        name: &str,
        now: i64,
        free: &[Agent],
        seen: &mut Vec<(&'a Requirements, Channel, usize)>,
    ) -> wit::QueueStatus {
        let q = self.waiting.in_queue(name);
        let available = match q.first {
            None => free.len(),
            Some(w) => match seen
                .iter()
                .find(|(r, c, _)| *c == w.channel && *r == &w.requirements)
            {
                Some((_, _, n)) => *n,
                None => {
                    let n = free
                        .iter()
                        .filter(|a| w.requirements.qualifies(a, w.channel))
                        .count();
                    seen.push((&w.requirements, w.channel, n));
                    n
                }
            },
        };
        wit::QueueStatus {
            name: name.to_owned(),
            waiting: q.count as u32,
            oldest_wait_secs: q.oldest.map_or(0, |o| ((now - o).max(0) / 1000) as u32),
            available_agents: available as u32,
            service_level: None,
        }
    }

    /// Queue `name` as escalation rules see it at `now`: the contacts
    /// routed to it, the oldest wait, and the free agents who qualify for
    /// its first contact by id.
    pub fn queue_status(&self, name: &str, now: i64) -> Option<wit::QueueStatus> {
        if name.is_empty() {
            return None;
        }
        Some(self.status_of(name, now, &self.free_agents(now), &mut Vec::new()))
    }

    /// Every queue's status and every skill's availability at `now`, as
    /// routing sees them.
    pub fn snapshot(&self, now: i64) -> (Vec<wit::QueueStatus>, Vec<wit::SkillAvailability>) {
        let free = self.free_agents(now);
        let mut seen = Vec::new();
        let queues = self
            .queues
            .keys()
            .map(|name| self.status_of(name, now, &free, &mut seen))
            .collect();
        let mut skills: BTreeMap<&str, (u32, u8)> = BTreeMap::new();
        for a in &free {
            for (skill, level) in &a.skills {
                let e = skills.entry(skill.as_str()).or_default();
                e.0 += 1;
                e.1 = e.1.max(*level);
            }
        }
        let skills = skills
            .into_iter()
            .map(
                |(skill, (available_agents, best_proficiency))| wit::SkillAvailability {
                    skill: skill.to_owned(),
                    available_agents,
                    best_proficiency,
                },
            )
            .collect();
        (queues, skills)
    }

    #[cfg(test)]
    /// The queue of each waiting contact (one item per contact: prefer
    /// [`Floor::waiting_in`] or [`Floor::waiting_per_queue`]).
    pub fn waiting_queues(&self) -> impl Iterator<Item = String> + '_ {
        self.waiting.routed_queues().map(str::to_owned)
    }

    /// Contacts waiting in `queue` (the queue routing put them in).
    pub fn waiting_in(&self, queue: &str) -> usize {
        self.waiting.in_queue(queue).count
    }

    /// (queue, contacts waiting in it) for every queue with some, in no
    /// particular order.
    pub fn waiting_per_queue(&self) -> impl Iterator<Item = (&str, usize)> + '_ {
        self.waiting.counts()
    }

    /// Contacts waiting now.
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// The agents with their current loads.
    pub fn agents_with_load(&self) -> Vec<Agent> {
        self.agents
            .values()
            .map(|a| {
                let mut a = a.clone();
                a.load = self.load(&a.id);
                a
            })
            .collect()
    }

    /// The agents with their loads as routing sees them at `now`: an agent
    /// whose schedule has them off the queue (a break, training, a
    /// meeting) is offered nothing, whatever status they set.
    pub fn routable(&self, now: i64) -> Vec<Agent> {
        let mut agents = self.agents_with_load();
        for a in &mut agents {
            if a.status.accepts_contacts() && self.plans.off_queue(&a.id, now) {
                a.status = AgentStatus::Break;
            }
        }
        agents
    }

    /// Match waiting contacts to agents at time `now`, most urgent first
    /// (queue priority, then contact priority after relaxation, then the
    /// longest wait). Each match is tracked at once, so one pass never
    /// overfills an agent.
    ///
    /// The pass merges the heads of the lanes (queue x class) in that
    /// order, and skips a lane as soon as no agent qualifies for its class
    /// (seats only fill up during a pass, so it stays so): a backlog nobody
    /// free can take costs one check, not a walk. It ends when no agent
    /// has a free seat left.
    pub fn dispatch(&mut self, now: i64) -> Vec<Offer> {
        #[cfg(test)]
        {
            (self.walked, self.refiled) = (0, 0);
        }
        // Nothing to do while no agent has a free seat: skip the pass.
        if self.waiting.is_empty() || !self.agents.values().any(|a| self.has_free_seat(a, now)) {
            return Vec::new();
        }
        let mut agents = self.routable(now);
        let free =
            |a: &Agent| a.status.accepts_contacts() && Channel::ALL.iter().any(|c| a.spare(*c) > 0);
        let _refiled = self.waiting.restage(now);
        #[cfg(test)]
        {
            self.refiled = _refiled;
        }
        let mut lanes = Vec::new();
        let mut heads = BinaryHeap::new();
        for (queue, class, place) in self.waiting.lanes() {
            heads.push(Head {
                queue_priority: self.queues.get(&**queue).map_or(0, |q| q.priority),
                place: place.clone(),
                lane: lanes.len(),
            });
            lanes.push(Lane {
                queue: queue.clone(),
                class: class.clone(),
                served: None,
            });
        }
        let mut offers = Vec::new();
        while let Some(head) = heads.pop() {
            let lane = &mut lanes[head.lane];
            if lane.served.is_none() {
                lane.served = Some(lane.class.served_by(&agents));
            }
            if lane.served == Some(false) {
                continue;
            }
            let id = &head.place.2;
            let Some(w) = self.waiting.get(id) else {
                continue;
            };
            let waited = waiting::waited(w.queued_at, now);
            #[cfg(test)]
            {
                self.walked += 1;
            }
            // The lane's queue is the contact's queue after relaxation.
            let strategy = self
                .queues
                .get(&*lane.queue)
                .map(|q| q.strategy)
                .unwrap_or_default();
            if !self.rotation.contains_key(&*lane.queue) {
                self.rotation.insert(lane.queue.to_string(), 0);
            }
            let Some(rotation) = self.rotation.get_mut(&*lane.queue) else {
                continue;
            };
            // The agent who just let this contact's offer expire sits this
            // one out until `retry_after` (one lookup, only then).
            let avoided = w
                .avoid
                .as_ref()
                .filter(|(_, until)| now < *until)
                .and_then(|(a, _)| agents.iter().position(|x| &x.id == a));
            let saved =
                avoided.map(|i| std::mem::replace(&mut agents[i].status, AgentStatus::Break));
            let chosen = select_agent(
                &w.requirements,
                w.channel,
                waited,
                &agents,
                strategy,
                rotation,
            );
            if let (Some(i), Some(status)) = (avoided, saved) {
                agents[i].status = status;
            }
            match chosen {
                // Nobody qualifies for this contact's class: nobody will
                // for the rest of the lane either, unless it was only the
                // avoided agent.
                None => {
                    if avoided.is_none() || !lane.class.served_by(&agents) {
                        lane.served = Some(false);
                        continue;
                    }
                }
                Some(m) => {
                    let channel = w.channel;
                    self.waiting.remove(id);
                    self.reserved
                        .insert(id.to_string(), m.agent_id.clone(), channel);
                    if let Some(a) = agents.iter_mut().find(|a| a.id == m.agent_id) {
                        *a.load.entry(channel).or_default() += 1;
                    }
                    offers.push(Offer {
                        contact_id: id.to_string(),
                        agent_id: m.agent_id,
                    });
                    if !agents.iter().any(free) {
                        break;
                    }
                }
            }
            if let Some(next) = self.waiting.next_in(&lane.queue, &lane.class, &head.place) {
                heads.push(Head {
                    place: next,
                    ..head
                });
            }
        }
        offers
    }
}

/// One lane of a dispatch pass: an effective queue and a class.
struct Lane {
    queue: Arc<str>,
    class: Arc<Class>,
    /// Whether some agent qualifies for the class (checked when the lane
    /// is first reached, and again when a contact of it finds nobody).
    served: Option<bool>,
}

/// A lane's next contact in a dispatch pass, ordered as dispatch serves
/// them: the highest queue priority, then the lane's own order.
struct Head {
    queue_priority: u32,
    place: Place,
    lane: usize,
}

impl Ord for Head {
    fn cmp(&self, other: &Self) -> Ordering {
        self.queue_priority
            .cmp(&other.queue_priority)
            .then_with(|| other.place.cmp(&self.place))
    }
}

impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Head {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Head {}
