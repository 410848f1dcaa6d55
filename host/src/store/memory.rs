//! [`MemoryStore`]: the [`Store`] contract in memory, for fast engine unit
//! tests. Nothing survives the process; `make_durable` returns at once.
//! The end-to-end tests use sled on disk.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::RwLock;

use super::{BackupSummary, Scan, Store, StoreError, Writes};

type Space = BTreeMap<Vec<u8>, Vec<u8>>;

/// Keyspaces in memory. Commits are applied under one write lock, so every
/// commit is all or nothing (a stronger guarantee than sled's ordered
/// commit, which engine code must not rely on).
#[derive(Debug, Default)]
pub struct MemoryStore {
    spaces: RwLock<HashMap<&'static str, Space>>,
    ids: AtomicU64,
    commits: AtomicU64,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn apply(&self, writes: Writes) {
        let mut spaces = self.spaces.write();
        for w in writes.0 {
            let space = spaces.entry(w.space).or_default();
            match w.value {
                Some(v) => drop(space.insert(w.key, v)),
                None => drop(space.remove(&w.key)),
            }
        }
        self.commits.fetch_add(1, Ordering::Relaxed);
    }
}

impl Store for MemoryStore {
    fn get(&self, space: &'static str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .spaces
            .read()
            .get(space)
            .and_then(|s| s.get(key).cloned()))
    }

    fn scan(
        &self,
        space: &'static str,
        range: (Bound<Vec<u8>>, Bound<Vec<u8>>),
        reverse: bool,
    ) -> Scan<'_> {
        // Copied out, so no lock is held while the caller iterates.
        let mut entries: Vec<(Vec<u8>, Vec<u8>)> = self
            .spaces
            .read()
            .get(space)
            .map(|s| {
                s.range(range)
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default();
        if reverse {
            entries.reverse();
        }
        Box::new(entries.into_iter().map(Ok))
    }

    fn commit(&self, writes: Writes) -> Result<(), StoreError> {
        self.apply(writes);
        Ok(())
    }

    fn commit_atomic(&self, writes: Writes) -> Result<(), StoreError> {
        self.apply(writes);
        Ok(())
    }

    fn make_durable(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn generate_id(&self) -> Result<u64, StoreError> {
        Ok(self.ids.fetch_add(1, Ordering::Relaxed))
    }

    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn commit_stats(&self) -> (u64, u64) {
        (self.commits.load(Ordering::Relaxed), 0)
    }

    fn backup(&self, _out: &mut dyn std::io::Write) -> Result<BackupSummary, StoreError> {
        Err(StoreError::Unsupported(
            "the in-memory store keeps nothing to back up".into(),
        ))
    }
}
