//! The floor as it was before the indexes (every query a scan of every
//! waiting or handled contact), kept verbatim as the oracle the indexed
//! floor is checked against: same inputs, same offers, snapshots, queue
//! statuses and loads.

use std::collections::{BTreeMap, HashMap};

use crate::domain::{Agent, AgentStatus, Channel, ContactState, Queue, Requirements, select_agent};

use super::Offer;
use crate::engine::ContactRecord;
use crate::plugins::types as wit;

#[derive(Debug, Clone)]
struct Waiting {
    channel: Channel,
    requirements: Requirements,
    queued_at: i64,
    /// An agent who let an offer of this contact expire, and until when
    /// they are not offered it again.
    avoid: Option<(String, i64)>,
}

#[derive(Debug, Default)]
pub(super) struct Floor {
    pub agents: BTreeMap<String, Agent>,
    pub queues: BTreeMap<String, Queue>,
    waiting: BTreeMap<String, Waiting>,
    /// contact id -> (agent id, channel) for offered, assigned and wrap-up contacts.
    handling: HashMap<String, (String, Channel)>,
    /// Seats dispatch reserved for offers not yet recorded: they count
    /// against capacity, but not in the load of the agent's period.
    reserved: HashMap<String, (String, Channel)>,
    rotation: HashMap<String, usize>,
    /// Planned activities per agent (shifts, breaks, training, meetings).
    pub plans: crate::engine::schedules::Plans,
}

impl Floor {
    /// Bring the floor in line with a contact's current state (idempotent).
    pub fn track(&mut self, c: &ContactRecord, at: i64) {
        self.reserved.remove(&c.id);
        if c.state == ContactState::Queued {
            self.waiting.insert(
                c.id.clone(),
                Waiting {
                    channel: c.channel,
                    requirements: c.requirements.clone(),
                    queued_at: c.queued_at.unwrap_or(c.created_at),
                    avoid: c
                        .missed_offer
                        .as_ref()
                        .map(|m| (m.agent_id.clone(), m.retry_after)),
                },
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
                self.handling
                    .insert(c.id.clone(), (agent.clone(), c.channel));
            }
            _ => {
                if let Some((agent, _)) = self.handling.remove(&c.id) {
                    let still_busy = self.handling.values().any(|(a, _)| a == &agent);
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
        let mut load = BTreeMap::new();
        for (agent, channel) in self.handling.values() {
            if agent == id {
                *load.entry(*channel).or_default() += 1;
            }
        }
        load
    }

    /// Queue `name` as escalation rules see it at `now`.
    pub fn queue_status(&self, name: &str, now: i64) -> Option<wit::QueueStatus> {
        if name.is_empty() {
            return None;
        }
        let waiting: Vec<&Waiting> = self
            .waiting
            .values()
            .filter(|w| w.requirements.queue == name)
            .collect();
        let oldest = waiting.iter().map(|w| w.queued_at).min();
        let available = self
            .routable(now)
            .iter()
            .filter(|a| {
                a.status.accepts_contacts()
                    && waiting
                        .first()
                        .is_none_or(|w| w.requirements.qualifies(a, w.channel))
                    && Channel::ALL.iter().any(|c| a.spare(*c) > 0)
            })
            .count();
        Some(wit::QueueStatus {
            name: name.to_owned(),
            waiting: waiting.len() as u32,
            oldest_wait_secs: oldest.map_or(0, |o| ((now - o).max(0) / 1000) as u32),
            available_agents: available as u32,
            service_level: None,
        })
    }

    /// Every queue's status and every skill's availability at `now`, as
    /// routing sees them.
    pub fn snapshot(&self, now: i64) -> (Vec<wit::QueueStatus>, Vec<wit::SkillAvailability>) {
        let agents = self.routable(now);
        let free: Vec<&Agent> = agents
            .iter()
            .filter(|a| a.status.accepts_contacts() && Channel::ALL.iter().any(|c| a.spare(*c) > 0))
            .collect();
        let queues = self
            .queues
            .keys()
            .map(|name| {
                let mut waiting = self
                    .waiting
                    .values()
                    .filter(|w| &w.requirements.queue == name)
                    .peekable();
                let first = waiting.peek().copied();
                let (count, oldest) = waiting.fold((0u32, None::<i64>), |(n, o), w| {
                    (n + 1, Some(o.map_or(w.queued_at, |o| o.min(w.queued_at))))
                });
                let available = free
                    .iter()
                    .filter(|a| first.is_none_or(|w| w.requirements.qualifies(a, w.channel)))
                    .count();
                wit::QueueStatus {
                    name: name.clone(),
                    waiting: count,
                    oldest_wait_secs: oldest.map_or(0, |o| ((now - o).max(0) / 1000) as u32),
                    available_agents: available as u32,
                    service_level: None,
                }
            })
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

    /// The queue of each waiting contact.
    pub fn waiting_queues(&self) -> impl Iterator<Item = String> + '_ {
        self.waiting.values().map(|w| w.requirements.queue.clone())
    }

    /// Contacts waiting now.
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// The agents with their current loads.
    pub fn agents_with_load(&self) -> Vec<Agent> {
        let mut agents: Vec<Agent> = self.agents.values().cloned().collect();
        for a in &mut agents {
            a.load.clear();
            for (agent, channel) in self.handling.values().chain(self.reserved.values()) {
                if agent == &a.id {
                    *a.load.entry(*channel).or_default() += 1;
                }
            }
        }
        agents
    }

    /// The agents with their loads as routing sees them at `now`: an agent
    /// whose schedule has them off the queue (a break, training, a
    /// meeting) is offered nothing, whatever status they set.
    pub fn routable(&self, now: i64) -> Vec<Agent> {
        let mut agents = self.agents_with_load();
        for a in &mut agents {
            if a.status.accepts_contacts() && self.plans.off_queue(&a.id, now) {
                a.status = crate::domain::AgentStatus::Break;
            }
        }
        agents
    }

    /// Match waiting contacts to agents at time `now`, most urgent first
    /// (queue priority, then contact priority after relaxation, then the
    /// longest wait). Each match is tracked at once, so one pass never
    /// overfills an agent.
    pub fn dispatch(&mut self, now: i64) -> Vec<Offer> {
        let mut agents = self.routable(now);
        // Nothing to do while no agent has a free seat: skip the scan.
        let free =
            |a: &Agent| a.status.accepts_contacts() && Channel::ALL.iter().any(|c| a.spare(*c) > 0);
        if self.waiting.is_empty() || !agents.iter().any(free) {
            return Vec::new();
        }
        let mut order: Vec<(u32, u32, i64, String)> = self
            .waiting
            .iter()
            .map(|(id, w)| {
                let waited = ((now - w.queued_at).max(0) / 1000) as u32;
                let req = w.requirements.after(waited);
                let queue_priority = self.queues.get(&req.queue).map_or(0, |q| q.priority);
                (queue_priority, req.priority, w.queued_at, id.clone())
            })
            .collect();
        order.sort_by(|a, b| {
            b.0.cmp(&a.0)
                .then(b.1.cmp(&a.1))
                .then(a.2.cmp(&b.2))
                .then(a.3.cmp(&b.3))
        });
        let mut offers = Vec::new();
        for (_, _, _, id) in order {
            let Some(w) = self.waiting.get(&id) else {
                continue;
            };
            let waited = ((now - w.queued_at).max(0) / 1000) as u32;
            let queue = w.requirements.after(waited).queue;
            let strategy = self
                .queues
                .get(&queue)
                .map(|q| q.strategy)
                .unwrap_or_default();
            let rotation = self.rotation.entry(queue).or_default();
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
            let Some(m) = chosen else {
                continue;
            };
            let channel = w.channel;
            self.waiting.remove(&id);
            self.reserved
                .insert(id.clone(), (m.agent_id.clone(), channel));
            if let Some(a) = agents.iter_mut().find(|a| a.id == m.agent_id) {
                *a.load.entry(channel).or_default() += 1;
            }
            offers.push(Offer {
                contact_id: id,
                agent_id: m.agent_id,
            });
        }
        offers
    }
}
