//! Seats taken on the floor: which agent holds each contact on which
//! channel, with every agent's count per channel kept alongside, so an
//! agent's load is one lookup instead of a scan of every contact handled.

use std::collections::{BTreeMap, HashMap};

use crate::domain::Channel;

/// Contacts per channel, without zero entries (an agent's `load` as the
/// API shows it).
pub(super) type Load = BTreeMap<Channel, u32>;

#[derive(Debug, Default)]
pub(super) struct Seats {
    /// contact id -> (agent id, channel).
    by_contact: HashMap<String, (String, Channel)>,
    by_agent: HashMap<String, Load>,
}

impl Seats {
    /// Seat `contact` with `agent` on `channel`; returns the seat it had.
    pub fn insert(
        &mut self,
        contact: String,
        agent: String,
        channel: Channel,
    ) -> Option<(String, Channel)> {
        *self
            .by_agent
            .entry(agent.clone())
            .or_default()
            .entry(channel)
            .or_default() += 1;
        let old = self.by_contact.insert(contact, (agent, channel));
        if let Some((agent, channel)) = &old {
            self.release(agent, *channel);
        }
        old
    }

    /// Free `contact`'s seat; returns it.
    pub fn remove(&mut self, contact: &str) -> Option<(String, Channel)> {
        let old = self.by_contact.remove(contact);
        if let Some((agent, channel)) = &old {
            self.release(agent, *channel);
        }
        old
    }

    /// `agent`'s seats per channel (`None`: none taken).
    pub fn load(&self, agent: &str) -> Option<&Load> {
        self.by_agent.get(agent)
    }

    fn release(&mut self, agent: &str, channel: Channel) {
        let Some(load) = self.by_agent.get_mut(agent) else {
            return;
        };
        if let Some(n) = load.get_mut(&channel) {
            *n -= 1;
            if *n == 0 {
                load.remove(&channel);
            }
        }
        if load.is_empty() {
            self.by_agent.remove(agent);
        }
    }
}

/// The sum of two loads.
pub(super) fn add(a: Option<&Load>, b: Option<&Load>) -> Load {
    let mut sum = a.cloned().unwrap_or_default();
    for (channel, n) in b.into_iter().flatten() {
        *sum.entry(*channel).or_default() += n;
    }
    sum
}
