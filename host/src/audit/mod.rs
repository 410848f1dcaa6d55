//! The append-only, hash-chained audit log. Each record carries the sha256
//! of the record before it, so changing, removing or reordering any stored
//! record breaks the chain at that point, and `verify` names it.
//! Depends on `store`.

use std::fmt;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use std::ops::Bound;
use std::sync::Arc;

use crate::store::{Store, StoreError, Writes};

const TREE: &str = "audit";
/// `subject 0x00 seq` -> ().
const BY_SUBJECT: &str = "audit_by_subject";
/// `plugin id 0x00 seq` -> () for records whose actor is a plugin.
const BY_PLUGIN: &str = "audit_by_plugin";
/// `at (order-preserving) seq` -> ().
const BY_TIME: &str = "audit_by_time";
/// `prev` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What is being recorded, before it gets its place in the chain.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEntry {
    /// Milliseconds since the Unix epoch (event time).
    pub at: i64,
    /// Who acted: `plugin:<id>@<version>`, `token:<id>`, `engine`.
    pub actor: String,
    /// What kind of record: `routing.decision`, `plugin.activate`, ...
    pub kind: String,
    /// What it is about (a contact id, a plugin id), for queries.
    pub subject: String,
    /// The details: plugin digests, input, output, outcome, duration, ...
    /// Kept as serialized JSON: it is written once and hashed, rarely read.
    #[schema(value_type = Object)]
    pub data: Box<serde_json::value::RawValue>,
}

impl AuditEntry {
    /// The details, parsed.
    pub fn data(&self) -> serde_json::Value {
        serde_json::from_str(self.data.get()).unwrap_or_default()
    }
}

impl PartialEq for AuditEntry {
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at
            && self.actor == other.actor
            && self.kind == other.kind
            && self.subject == other.subject
            && self.data.get() == other.data.get()
    }
}

/// A record in the chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditRecord {
    /// Position in the chain, from 1.
    pub seq: u64,
    /// Hex sha256 of the previous record ([`GENESIS`] for the first).
    pub prev: String,
    pub entry: AuditEntry,
    /// Hex sha256 of this record's other fields.
    pub hash: String,
}

/// The fields a record's hash covers, in a fixed order.
#[derive(Serialize)]
struct Hashed<'a> {
    seq: u64,
    prev: &'a str,
    entry: &'a AuditEntry,
}

fn digest(seq: u64, prev: &str, entry: &AuditEntry) -> String {
    sealed(seq, prev, entry).1
}

/// The record's stored bytes and its hash, from one encoding: the hashed
/// fields are the record's first three in the same order, so the record is
/// the hashed object with `"hash"` appended (byte for byte what encoding
/// the whole [`AuditRecord`] gives).
fn sealed(seq: u64, prev: &str, entry: &AuditEntry) -> (Vec<u8>, String) {
    let mut bytes = serde_json::to_vec(&Hashed { seq, prev, entry }).unwrap_or_default();
    let hash = hex::encode(Sha256::digest(&bytes));
    bytes.pop(); // the closing brace
    bytes.extend_from_slice(b",\"hash\":\"");
    bytes.extend_from_slice(hash.as_bytes());
    bytes.extend_from_slice(b"\"}");
    (bytes, hash)
}

/// The first broken link found by [`AuditLog::verify`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct BrokenLink {
    /// The record whose content or link is wrong.
    pub seq: u64,
    pub reason: String,
}

impl fmt::Display for BrokenLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "record {}: {}", self.seq, self.reason)
    }
}

/// The result of walking the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Verification {
    /// Records checked.
    pub records: u64,
    /// The first broken link, if any.
    pub broken: Option<BrokenLink>,
}

/// Which records to return; every given field must match. Results are in
/// chain order, from `after` (a cursor: the last `seq` of the previous page).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditQuery {
    /// Records about this contact, plugin id or agent.
    pub subject: Option<String>,
    /// Records made by this plugin (any version): decisions and failures.
    pub plugin: Option<String>,
    /// Records by this actor exactly, e.g. `token:admin-1`, `engine`.
    pub actor: Option<String>,
    /// Records of this kind, e.g. `routing.decision`.
    pub kind: Option<String>,
    /// Event time from (inclusive), ms since the epoch.
    pub from: Option<i64>,
    /// Event time until (exclusive).
    pub to: Option<i64>,
    /// Only records after this sequence number.
    pub after: Option<u64>,
}

impl AuditQuery {
    fn matches(&self, r: &AuditRecord) -> bool {
        self.subject.as_ref().is_none_or(|s| &r.entry.subject == s)
            && self
                .plugin
                .as_ref()
                .is_none_or(|p| plugin_of(&r.entry.actor) == Some(p.as_str()))
            && self.actor.as_ref().is_none_or(|a| &r.entry.actor == a)
            && self.kind.as_ref().is_none_or(|k| &r.entry.kind == k)
            && self.from.is_none_or(|f| r.entry.at >= f)
            && self.to.is_none_or(|t| r.entry.at < t)
            && self.after.is_none_or(|a| r.seq > a)
    }
}

/// `plugin:<id>@<version>` -> `<id>`.
fn plugin_of(actor: &str) -> Option<&str> {
    let rest = actor.strip_prefix("plugin:")?;
    Some(rest.rsplit_once('@').map_or(rest, |(id, _)| id))
}

fn time_key(at: i64) -> [u8; 8] {
    ((at as u64) ^ (1 << 63)).to_be_bytes()
}

fn index_key(prefix: &[u8], seq: u64) -> Vec<u8> {
    let mut k = prefix.to_vec();
    k.push(0);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// An index entry's value: the sequence numbers after the first (the one
/// in its key) of the records it stands for, 8 bytes each, big endian.
/// Empty for one record (and in indexes written before 0.2.0).
fn more_seqs(seqs: &[u64]) -> Vec<u8> {
    seqs[1..].iter().flat_map(|s| s.to_be_bytes()).collect()
}

/// Every sequence number an index entry stands for, in order.
fn entry_seqs(key: &[u8], value: &[u8]) -> Vec<u64> {
    seq_suffix(key)
        .into_iter()
        .chain(
            value
                .chunks_exact(8)
                .map(|c| u64::from_be_bytes(c.try_into().unwrap_or_default())),
        )
        .collect()
}

fn seq_suffix(key: &[u8]) -> Option<u64> {
    let tail = key.get(key.len().checked_sub(8)?..)?;
    Some(u64::from_be_bytes(tail.try_into().ok()?))
}

/// The audit log over a store.
pub struct AuditLog {
    store: Arc<dyn Store>,
    /// (last seq, last hash); appends are serialized so the chain is linear.
    head: Mutex<(u64, String)>,
}

impl fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditLog")
            .field("head", &*self.head.lock())
            .finish()
    }
}

impl AuditLog {
    /// Open the log in `store`, resuming after its last record.
    pub fn open(store: Arc<dyn Store>) -> Result<Self, StoreError> {
        let last = store
            .scan(TREE, (Bound::Unbounded, Bound::Unbounded), true)
            .next()
            .transpose()?;
        let head = match last {
            None => (0, GENESIS.to_owned()),
            Some((_, value)) => {
                let record: AuditRecord = serde_json::from_slice(&value).map_err(|e| {
                    StoreError::Corrupt(format!(
                        "the last audit record does not parse ({e}); run `switchboard audit verify`"
                    ))
                })?;
                (record.seq, record.hash)
            }
        };
        Ok(Self {
            store,
            head: Mutex::new(head),
        })
    }

    /// Append a record (not yet durable: call `Store::make_durable`).
    pub fn append(&self, entry: AuditEntry) -> Result<AuditRecord, StoreError> {
        let mut records = self.commit(vec![entry], Writes::default())?;
        Ok(records.remove(0))
    }

    /// [`AuditLog::append`], returning once the record is on disk.
    pub fn append_durable(&self, entry: AuditEntry) -> Result<AuditRecord, StoreError> {
        let record = self.append(entry)?;
        self.store.make_durable()?;
        Ok(record)
    }

    /// Append `entries`, then apply `writes` (in that order: after a
    /// crash, a state change is never there without the records of the
    /// decisions behind it). Not yet durable: call `Store::make_durable`.
    pub fn commit(
        &self,
        entries: Vec<AuditEntry>,
        writes: Writes,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let records = if entries.is_empty() {
            Vec::new()
        } else {
            // Records go to the store in chain order, so a crash leaves a
            // chain without gaps.
            let mut head = self.head.lock();
            let (records, audit_writes, new_head) = self.chain(&head, entries)?;
            self.store.commit(audit_writes)?;
            *head = new_head;
            records
        };
        self.store.commit(writes)?;
        Ok(records)
    }

    /// Append `entries` and apply `writes` all or nothing, also across a
    /// crash (for rare changes such as a fired timer and its decision).
    pub fn commit_atomic(
        &self,
        entries: Vec<AuditEntry>,
        writes: Writes,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let mut head = self.head.lock();
        let (records, mut all, new_head) = self.chain(&head, entries)?;
        all.0.extend(writes.0);
        self.store.commit_atomic(all)?;
        *head = new_head;
        Ok(records)
    }

    /// The records for `entries` after `head`, their writes, and the new head.
    #[allow(clippy::type_complexity)]
    fn chain(
        &self,
        head: &(u64, String),
        entries: Vec<AuditEntry>,
    ) -> Result<(Vec<AuditRecord>, Writes, (u64, String)), StoreError> {
        let mut writes = Writes::default();
        let (mut seq, mut prev) = head.clone();
        let mut records = Vec::with_capacity(entries.len());
        // One index entry per subject, plugin and time in this commit (not
        // per record): the key names the first record, the value lists
        // the others (issue 19: fewer writes per contact).
        let mut by_subject: Vec<(Vec<u8>, Vec<u64>)> = Vec::new();
        let mut by_plugin: Vec<(Vec<u8>, Vec<u64>)> = Vec::new();
        let mut by_time: Vec<(Vec<u8>, Vec<u64>)> = Vec::new();
        let group = |groups: &mut Vec<(Vec<u8>, Vec<u64>)>, key: &[u8], seq: u64| match groups
            .iter_mut()
            .find(|(k, _)| k == key)
        {
            Some((_, seqs)) => seqs.push(seq),
            None => groups.push((key.to_vec(), vec![seq])),
        };
        for entry in entries {
            seq += 1;
            let (bytes, hash) = sealed(seq, &prev, &entry);
            let record = AuditRecord {
                seq,
                prev: std::mem::replace(&mut prev, hash.clone()),
                entry,
                hash,
            };
            writes.put(TREE, seq.to_be_bytes(), bytes);
            let e = &record.entry;
            group(&mut by_subject, e.subject.as_bytes(), seq);
            if let Some(plugin) = plugin_of(&e.actor) {
                group(&mut by_plugin, plugin.as_bytes(), seq);
            }
            group(&mut by_time, &time_key(e.at), seq);
            records.push(record);
        }
        for (space, groups) in [(BY_SUBJECT, by_subject), (BY_PLUGIN, by_plugin)] {
            for (prefix, seqs) in groups {
                writes.put(space, index_key(&prefix, seqs[0]), more_seqs(&seqs));
            }
        }
        for (tk, seqs) in by_time {
            let mut key = tk;
            key.extend_from_slice(&seqs[0].to_be_bytes());
            writes.put(BY_TIME, key, more_seqs(&seqs));
        }
        Ok((records, writes, (seq, prev)))
    }

    /// The last sequence number written.
    pub fn head(&self) -> u64 {
        self.head.lock().0
    }

    /// The record with sequence number `seq`.
    pub fn get(&self, seq: u64) -> Result<Option<AuditRecord>, StoreError> {
        self.store
            .get(TREE, &seq.to_be_bytes())?
            .map(|v| parse(&v))
            .transpose()
    }

    /// Records with `seq` in `from..`, oldest first, at most `limit`.
    pub fn read(&self, from: u64, limit: usize) -> Result<Vec<AuditRecord>, StoreError> {
        self.store
            .scan(
                TREE,
                (
                    Bound::Included(from.to_be_bytes().to_vec()),
                    Bound::Unbounded,
                ),
                false,
            )
            .take(limit)
            .map(|kv| parse(&kv?.1))
            .collect()
    }

    /// Records matching `q`, in chain order, at most `limit`. Uses the
    /// subject, plugin or time index when the query names one, so a query
    /// about one contact does not scan the log.
    pub fn query(&self, q: &AuditQuery, limit: usize) -> Result<Vec<AuditRecord>, StoreError> {
        let mut out = Vec::new();
        for seq in self.candidates(q)? {
            if out.len() >= limit {
                break;
            }
            if let Some(r) = self.get(seq?)?
                && q.matches(&r)
            {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// The sequence numbers of the records `q` may match, in chain order,
    /// from its index (a superset: the caller checks each record against
    /// `q`). For a long job that reports its progress (what-if).
    pub fn seqs(&self, q: &AuditQuery) -> Result<Vec<u64>, StoreError> {
        self.candidates(q)?.collect()
    }

    #[allow(clippy::type_complexity)]
    fn candidates(
        &self,
        q: &AuditQuery,
    ) -> Result<Box<dyn Iterator<Item = Result<u64, StoreError>> + '_>, StoreError> {
        let after = q.after.unwrap_or(0);
        let seqs: Box<dyn Iterator<Item = Result<u64, StoreError>> + '_> =
            if let Some(subject) = &q.subject {
                Box::new(self.index_seqs(BY_SUBJECT, subject.as_bytes(), after))
            } else if let Some(plugin) = &q.plugin {
                Box::new(self.index_seqs(BY_PLUGIN, plugin.as_bytes(), after))
            } else if q.from.is_some() || q.to.is_some() {
                // Time order is not chain order: collect, then sort.
                let start = time_key(q.from.unwrap_or(i64::MIN)).to_vec();
                let end = match q.to {
                    Some(t) => Bound::Excluded(time_key(t).to_vec()),
                    None => Bound::Unbounded,
                };
                let mut seqs = Vec::new();
                for kv in self
                    .store
                    .scan(BY_TIME, (Bound::Included(start), end), false)
                {
                    let (k, v) = kv?;
                    seqs.extend(entry_seqs(&k, &v).into_iter().filter(|s| *s > after));
                }
                seqs.sort_unstable();
                Box::new(seqs.into_iter().map(Ok))
            } else {
                Box::new(
                    self.store
                        .scan(
                            TREE,
                            (
                                Bound::Excluded(after.to_be_bytes().to_vec()),
                                Bound::Unbounded,
                            ),
                            false,
                        )
                        .map(|kv| kv.map(|(k, _)| seq_suffix(&k).unwrap_or(0))),
                )
            };
        Ok(seqs)
    }

    fn index_seqs<'a>(
        &'a self,
        space: &'static str,
        prefix: &[u8],
        after: u64,
    ) -> impl Iterator<Item = Result<u64, StoreError>> + 'a {
        let first = index_key(prefix, 0);
        let start = index_key(prefix, after.saturating_add(1));
        let mut end = prefix.to_vec();
        end.push(1);
        // The entry before `start` may stand for records after `after`
        // too (one entry per commit): look at it first.
        let before = self
            .store
            .scan(
                space,
                (Bound::Included(first), Bound::Excluded(start.clone())),
                true,
            )
            .take(1);
        let rest = self
            .store
            .scan(space, (Bound::Included(start), Bound::Excluded(end)), false);
        before.chain(rest).flat_map(move |kv| {
            let seqs: Vec<Result<u64, StoreError>> = match kv {
                Ok((k, v)) => entry_seqs(&k, &v)
                    .into_iter()
                    .filter(|s| *s > after)
                    .map(Ok)
                    .collect(),
                Err(e) => vec![Err(e)],
            };
            seqs
        })
    }

    /// Walk the whole chain and report the first broken link.
    pub fn verify(&self) -> Result<Verification, StoreError> {
        let mut prev = GENESIS.to_owned();
        let mut records = 0u64;
        let all = self
            .store
            .scan(TREE, (Bound::Unbounded, Bound::Unbounded), false);
        for (expected_seq, kv) in (1u64..).zip(all) {
            let (key, value) = kv?;
            let key_seq = key
                .as_slice()
                .try_into()
                .map(u64::from_be_bytes)
                .unwrap_or(0);
            let broken = |reason: String| Verification {
                records,
                broken: Some(BrokenLink {
                    seq: key_seq,
                    reason,
                }),
            };
            let record: AuditRecord = match serde_json::from_slice(&value) {
                Ok(r) => r,
                Err(e) => {
                    return Ok(broken(format!(
                        "the stored record does not parse ({e}): it was altered"
                    )));
                }
            };
            if record.seq != key_seq || key_seq != expected_seq {
                return Ok(broken(format!(
                    "expected record {expected_seq} here, found {} under key {key_seq}: records were removed or reordered",
                    record.seq
                )));
            }
            if record.prev != prev {
                return Ok(broken(format!(
                    "its `prev` is {} but the record before it hashes to {prev}: the chain was cut or rewritten",
                    record.prev
                )));
            }
            let actual = digest(record.seq, &record.prev, &record.entry);
            if actual != record.hash {
                return Ok(broken(format!(
                    "its content hashes to {actual}, not the stored {}: the record was altered",
                    record.hash
                )));
            }
            prev = record.hash;
            records += 1;
        }
        Ok(Verification {
            records,
            broken: None,
        })
    }
}

fn parse(bytes: &[u8]) -> Result<AuditRecord, StoreError> {
    serde_json::from_slice(bytes)
        .map_err(|e| StoreError::Corrupt(format!("audit record does not parse: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Durability, SledStore};

    fn entry(i: i64) -> AuditEntry {
        AuditEntry {
            at: 1_700_000_000_000 + i,
            actor: "plugin:skill-routing@0.1.0".into(),
            kind: "routing.decision".into(),
            subject: format!("c-{i}"),
            data: serde_json::value::to_raw_value(&serde_json::json!({"queue": "billing", "i": i}))
                .unwrap(),
        }
    }

    #[test]
    fn a_sealed_record_is_byte_for_byte_its_serde_encoding() {
        let entry = AuditEntry {
            at: 7,
            actor: "plugin:p@1".into(),
            kind: "routing.decision".into(),
            subject: "c-1".into(),
            data: serde_json::value::to_raw_value(&serde_json::json!({"a": [1, "x\"y"]})).unwrap(),
        };
        let (bytes, hash) = sealed(3, GENESIS, &entry);
        let record = AuditRecord {
            seq: 3,
            prev: GENESIS.into(),
            entry,
            hash,
        };
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            serde_json::to_string(&record).unwrap()
        );
    }

    #[test]
    fn appended_records_chain_and_verify_after_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SledStore::open(dir.path(), Durability::Group).unwrap();
            let log = AuditLog::open(Arc::new(store.clone())).unwrap();
            let first = log.append(entry(1)).unwrap();
            assert_eq!((first.seq, first.prev.as_str()), (1, GENESIS));
            let second = log.append(entry(2)).unwrap();
            assert_eq!(second.prev, first.hash);
            store.make_durable().unwrap();
        }
        let store = SledStore::open(dir.path(), Durability::Group).unwrap();
        let log = AuditLog::open(Arc::new(store.clone())).unwrap();
        let third = log.append(entry(3)).unwrap();
        assert_eq!(third.seq, 3, "the chain resumes after reopening");
        let v = log.verify().unwrap();
        assert_eq!(
            v,
            Verification {
                records: 3,
                broken: None
            }
        );
        assert_eq!(log.read(2, 10).unwrap().len(), 2);
    }

    #[test]
    fn flipping_one_byte_of_a_stored_record_is_named_by_verify() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path(), Durability::Group).unwrap();
        let log = AuditLog::open(Arc::new(store.clone())).unwrap();
        for i in 1..=5 {
            log.append(entry(i)).unwrap();
        }
        let key = 3u64.to_be_bytes();
        let mut bytes = store.get(TREE, &key).unwrap().unwrap();
        // Change a digit of the payload ("i":3 -> "i":2): still valid JSON.
        let pos = bytes.windows(4).position(|w| w == b"\"i\":").unwrap() + 4;
        bytes[pos] = b'2';
        let mut w = Writes::default();
        w.put(TREE, key, bytes);
        store.commit(w).unwrap();
        let v = log.verify().unwrap();
        let broken = v.broken.expect("tampering is detected");
        assert_eq!(broken.seq, 3);
        assert!(broken.reason.contains("altered"), "{broken}");
        assert_eq!(v.records, 2, "records before the tampered one verified");
    }

    #[test]
    fn queries_use_the_indexes_and_page_with_a_cursor() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path(), Durability::Group).unwrap();
        let log = AuditLog::open(Arc::new(store)).unwrap();
        for i in 1..=6 {
            let mut e = entry(i % 3);
            e.at = 1_700_000_000_000 + i;
            if i == 6 {
                e.actor = "plugin:other@2.0.0".into();
            }
            log.append(e).unwrap();
        }
        let q = |q: AuditQuery, limit| {
            log.query(&q, limit)
                .unwrap()
                .iter()
                .map(|r| r.seq)
                .collect::<Vec<_>>()
        };
        let about = |s: &str| AuditQuery {
            subject: Some(s.into()),
            ..Default::default()
        };
        assert_eq!(q(about("c-1"), 10), vec![1, 4]);
        assert_eq!(q(about("c-0"), 1), vec![3], "limit");
        assert_eq!(
            q(
                AuditQuery {
                    after: Some(3),
                    ..about("c-0")
                },
                10
            ),
            vec![6],
            "cursor"
        );
        let plugin = |p: &str| AuditQuery {
            plugin: Some(p.into()),
            ..Default::default()
        };
        assert_eq!(q(plugin("skill-routing"), 10), vec![1, 2, 3, 4, 5]);
        assert_eq!(q(plugin("other"), 10), vec![6]);
        let window = AuditQuery {
            from: Some(1_700_000_000_002),
            to: Some(1_700_000_000_004),
            ..Default::default()
        };
        assert_eq!(q(window, 10), vec![2, 3]);
        assert_eq!(q(AuditQuery::default(), 100).len(), 6);
    }

    /// One index entry per subject, plugin and time in a commit (not per
    /// record), and queries, cursors included, still find every record.
    #[test]
    fn a_commit_of_several_records_writes_one_index_entry_per_key() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> =
            Arc::new(SledStore::open(dir.path(), Durability::Group).unwrap());
        let log = AuditLog::open(store.clone()).unwrap();
        // Commit 1: four records about c-1 (one by another plugin, one by
        // the engine) at one time, and one about agent a-1 at another.
        let mut batch: Vec<AuditEntry> = (0..4).map(|_| entry(1)).collect();
        batch[2].actor = "plugin:core-kpis@0.1.0".into();
        batch[3].actor = "engine".into();
        let mut agent = entry(1);
        agent.subject = "a-1".into();
        agent.at += 5;
        batch.insert(2, agent);
        log.commit(batch, Writes::default()).unwrap();
        // Commit 2: one more about c-1.
        log.append(entry(1)).unwrap();
        let keys = |space| {
            store
                .scan(space, (Bound::Unbounded, Bound::Unbounded), false)
                .count()
        };
        assert_eq!(keys(BY_SUBJECT), 3, "c-1 and a-1 in commit 1, c-1 in 2");
        assert_eq!(
            keys(BY_PLUGIN),
            3,
            "skill-routing and core-kpis, then skill-routing"
        );
        assert_eq!(keys(BY_TIME), 3, "two times in commit 1, one in 2");
        let q = |q: AuditQuery| {
            log.query(&q, 100)
                .unwrap()
                .iter()
                .map(|r| r.seq)
                .collect::<Vec<_>>()
        };
        let about = |s: &str, after| AuditQuery {
            subject: Some(s.into()),
            after,
            ..Default::default()
        };
        assert_eq!(q(about("c-1", None)), vec![1, 2, 4, 5, 6]);
        assert_eq!(
            q(about("c-1", Some(2))),
            vec![4, 5, 6],
            "cursor inside an entry"
        );
        assert_eq!(q(about("c-1", Some(5))), vec![6]);
        assert_eq!(q(about("a-1", None)), vec![3]);
        let plugin = |p: &str| AuditQuery {
            plugin: Some(p.into()),
            ..Default::default()
        };
        assert_eq!(q(plugin("skill-routing")), vec![1, 2, 3, 6]);
        assert_eq!(q(plugin("core-kpis")), vec![4]);
        let window = AuditQuery {
            from: Some(1_700_000_000_001),
            to: Some(1_700_000_000_002),
            ..Default::default()
        };
        assert_eq!(q(window), vec![1, 2, 4, 5, 6]);
        let later = AuditQuery {
            from: Some(1_700_000_000_006),
            ..Default::default()
        };
        assert_eq!(q(later), vec![3]);
    }

    #[test]
    fn a_removed_record_breaks_the_chain_at_that_point() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path(), Durability::Group).unwrap();
        let log = AuditLog::open(Arc::new(store.clone())).unwrap();
        for i in 1..=4 {
            log.append(entry(i)).unwrap();
        }
        let mut w = Writes::default();
        w.remove(TREE, 2u64.to_be_bytes());
        store.commit(w).unwrap();
        let broken = log.verify().unwrap().broken.unwrap();
        assert_eq!(broken.seq, 3);
        assert!(broken.reason.contains("removed"), "{broken}");
    }
}
