//! The append-only, hash-chained audit log. Each record carries the sha256
//! of the record before it, so changing, removing or reordering any stored
//! record breaks the chain at that point, and `verify` names it.
//! Depends on `store`.

use std::fmt;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::store::{SledStore, StoreError};

const TREE: &str = "audit";
/// `prev` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What is being recorded, before it gets its place in the chain.
#[derive(Debug, Clone, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    let bytes = serde_json::to_vec(&Hashed { seq, prev, entry }).unwrap_or_default();
    hex::encode(Sha256::digest(bytes))
}

/// The first broken link found by [`AuditLog::verify`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    /// Records checked.
    pub records: u64,
    /// The first broken link, if any.
    pub broken: Option<BrokenLink>,
}

/// The audit log over a store.
pub struct AuditLog {
    tree: sled::Tree,
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
    pub fn open(store: &SledStore) -> Result<Self, StoreError> {
        let tree = store.tree(TREE)?;
        let head = match tree.last()? {
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
            tree,
            head: Mutex::new(head),
        })
    }

    /// Append a record (not yet durable: call `SledStore::make_durable`).
    pub fn append(&self, entry: AuditEntry) -> Result<AuditRecord, StoreError> {
        let mut head = self.head.lock();
        let seq = head.0 + 1;
        let hash = digest(seq, &head.1, &entry);
        let record = AuditRecord {
            seq,
            prev: head.1.clone(),
            entry,
            hash,
        };
        let bytes = serde_json::to_vec(&record)
            .map_err(|e| StoreError::Corrupt(format!("cannot encode audit record: {e}")))?;
        self.tree.insert(seq.to_be_bytes(), bytes)?;
        *head = (seq, record.hash.clone());
        Ok(record)
    }

    /// Records with `seq` in `from..`, oldest first, at most `limit`.
    pub fn read(&self, from: u64, limit: usize) -> Result<Vec<AuditRecord>, StoreError> {
        self.tree
            .range(from.to_be_bytes()..)
            .take(limit)
            .map(|kv| {
                let (_, v) = kv?;
                serde_json::from_slice(&v)
                    .map_err(|e| StoreError::Corrupt(format!("audit record does not parse: {e}")))
            })
            .collect()
    }

    /// Walk the whole chain and report the first broken link.
    pub fn verify(&self) -> Result<Verification, StoreError> {
        let mut prev = GENESIS.to_owned();
        let mut records = 0u64;
        for (expected_seq, kv) in (1u64..).zip(self.tree.iter()) {
            let (key, value) = kv?;
            let key_seq = key.as_ref().try_into().map(u64::from_be_bytes).unwrap_or(0);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Durability;

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
    fn appended_records_chain_and_verify_after_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SledStore::open(dir.path(), Durability::Group).unwrap();
            let log = AuditLog::open(&store).unwrap();
            let first = log.append(entry(1)).unwrap();
            assert_eq!((first.seq, first.prev.as_str()), (1, GENESIS));
            let second = log.append(entry(2)).unwrap();
            assert_eq!(second.prev, first.hash);
            store.make_durable().unwrap();
        }
        let store = SledStore::open(dir.path(), Durability::Group).unwrap();
        let log = AuditLog::open(&store).unwrap();
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
        let log = AuditLog::open(&store).unwrap();
        for i in 1..=5 {
            log.append(entry(i)).unwrap();
        }
        let tree = store.tree(TREE).unwrap();
        let key = 3u64.to_be_bytes();
        let mut bytes = tree.get(key).unwrap().unwrap().to_vec();
        // Change a digit of the payload ("i":3 -> "i":2): still valid JSON.
        let pos = bytes.windows(4).position(|w| w == b"\"i\":").unwrap() + 4;
        bytes[pos] = b'2';
        tree.insert(key, bytes).unwrap();
        let v = log.verify().unwrap();
        let broken = v.broken.expect("tampering is detected");
        assert_eq!(broken.seq, 3);
        assert!(broken.reason.contains("altered"), "{broken}");
        assert_eq!(v.records, 2, "records before the tampered one verified");
    }

    #[test]
    fn a_removed_record_breaks_the_chain_at_that_point() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path(), Durability::Group).unwrap();
        let log = AuditLog::open(&store).unwrap();
        for i in 1..=4 {
            log.append(entry(i)).unwrap();
        }
        store
            .tree(TREE)
            .unwrap()
            .remove(2u64.to_be_bytes())
            .unwrap();
        let broken = log.verify().unwrap().broken.unwrap();
        assert_eq!(broken.seq, 3);
        assert!(broken.reason.contains("removed"), "{broken}");
    }
}
