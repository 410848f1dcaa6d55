//! The customer history index: contacts per customer in time order, so a
//! routing or KPI input can carry a summary (recent contacts, per-topic
//! counts, same-topic repeats) without scanning all contacts.
//!
//! Key: `customer_id 0x00 created_at(8 bytes, order-preserving) contact_id`.

use serde::{Deserialize, Serialize};

use crate::domain::Channel;
use crate::plugins::types as wit;
use std::ops::Bound;

use crate::store::{Store, StoreError, Writes};

use super::convert;

/// How many earlier contacts a summary lists.
const RECENT: usize = 20;
const DAY_MS: i64 = 86_400_000;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    id: String,
    channel: Channel,
    topics: Vec<String>,
    created_at: i64,
}

fn prefix(customer: &str) -> Vec<u8> {
    let mut k = customer.as_bytes().to_vec();
    k.push(0);
    k
}

fn key(customer: &str, at: i64, id: &str) -> Vec<u8> {
    let mut k = prefix(customer);
    // Flip the sign bit so negative times sort before positive ones.
    k.extend_from_slice(&((at as u64) ^ (1 << 63)).to_be_bytes());
    k.extend_from_slice(id.as_bytes());
    k
}

/// Record a contact in its customer's history.
pub(super) const CUSTOMERS: &str = "customers";

/// Add a contact to its customer's history (in `writes`).
pub(super) fn record(
    writes: &mut Writes,
    customer: &str,
    id: &str,
    channel: Channel,
    topics: &[String],
    at: i64,
) -> Result<(), StoreError> {
    let entry = Entry {
        id: id.to_owned(),
        channel,
        topics: topics.to_vec(),
        created_at: at,
    };
    let bytes = serde_json::to_vec(&entry)
        .map_err(|e| StoreError::Corrupt(format!("cannot encode history entry: {e}")))?;
    writes.put(CUSTOMERS, key(customer, at, id), bytes);
    Ok(())
}

/// The customer's history over the `window_days` before `now`, as routing
/// and KPI plugins receive it. `topics` are the current contact's topics;
/// `flags` come from the contact (e.g. its `flags` attribute).
pub(super) fn summary(
    store: &dyn Store,
    current: &str,
    customer: &str,
    topics: &[String],
    now: i64,
    window_days: u32,
    flags: Vec<String>,
) -> Result<wit::CustomerHistory, StoreError> {
    // Saturating: an event time near the start of i64 is accepted.
    let from = key(
        customer,
        now.saturating_sub(i64::from(window_days) * DAY_MS),
        "",
    );
    let to = key(customer, now, "\u{10FFFF}");
    let mut recent = Vec::new();
    let mut topic_counts: Vec<wit::TopicCount> = Vec::new();
    let mut same_topic_repeats = 0;
    let mut last_agent = None;
    let mut open_complaints = 0;
    for kv in store.scan(
        CUSTOMERS,
        (Bound::Included(from), Bound::Included(to)),
        true,
    ) {
        let (_, bytes) = kv?;
        let e: Entry = serde_json::from_slice(&bytes)
            .map_err(|err| StoreError::Corrupt(format!("history entry: {err}")))?;
        if e.id == current {
            continue;
        }
        if e.topics.iter().any(|t| topics.contains(t)) {
            same_topic_repeats += 1;
        }
        for t in &e.topics {
            match topic_counts.iter_mut().find(|c| &c.topic == t) {
                Some(c) => c.count += 1,
                None => topic_counts.push(wit::TopicCount {
                    topic: t.clone(),
                    count: 1,
                }),
            }
        }
        if recent.len() < RECENT {
            // The contact as it is now: who handled it, whether it is closed.
            let c: Option<super::ContactRecord> = store
                .get(super::CONTACTS, e.id.as_bytes())?
                .map(|v| super::decode(&v, "contact"))
                .transpose()?;
            let (resolved_at, agent_id, complaint) = c.map_or((None, None, false), |c| {
                (c.resolved_at, c.agent_id, c.complaint.is_some())
            });
            if last_agent.is_none() {
                last_agent.clone_from(&agent_id);
            }
            if complaint && resolved_at.is_none() {
                open_complaints += 1;
            }
            recent.push(wit::PastContact {
                id: e.id,
                channel: convert::channel(e.channel),
                topics: e.topics,
                created_at: e.created_at,
                resolved_at,
                agent_id,
                complaint,
            });
        }
    }
    Ok(wit::CustomerHistory {
        window_days,
        recent,
        topic_counts,
        same_topic_repeats,
        last_agent,
        open_complaints,
        flags,
    })
}

/// The ids of the customer's contacts created in `[from, to]`, newest
/// first, at most `limit`.
pub(super) fn contact_ids(
    store: &dyn Store,
    customer: &str,
    from: i64,
    to: i64,
    limit: usize,
) -> Result<Vec<String>, StoreError> {
    let range = (
        Bound::Included(key(customer, from, "")),
        Bound::Included(key(customer, to, "\u{10FFFF}")),
    );
    let mut ids = Vec::new();
    for kv in store.scan(CUSTOMERS, range, true).take(limit) {
        let (_, bytes) = kv?;
        let e: Entry = serde_json::from_slice(&bytes)
            .map_err(|err| StoreError::Corrupt(format!("history entry: {err}")))?;
        ids.push(e.id);
    }
    Ok(ids)
}
