//! Durable storage behind the [`Store`] trait: named keyspaces of ordered
//! byte keys, atomic multi-keyspace commits, and "make what I wrote
//! durable". The embedded default is sled ([`SledStore`]); an acknowledged
//! write is on disk. Many concurrent writers share one fsync through group
//! commit ([`GroupCommit`]), so durability does not cost one flush per
//! contact. Depends on nothing else in the host.

mod group_commit;

use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use sled::Transactional;

pub use group_commit::{Durability, GroupCommit};

/// The on-disk format this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

const META_TREE: &str = "meta";
const VERSION_KEY: &[u8] = b"format_version";

/// Why the store could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage error: {0}")]
    Sled(#[from] sled::Error),
    #[error(
        "the data directory {dir} was written by a switchboard with on-disk format {found}; this build reads format {supported}. Use a matching switchboard build, or point --data-dir at a new directory"
    )]
    UnknownVersion {
        dir: String,
        found: String,
        supported: u32,
    },
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

/// One write of a [`Writes`] set: `value: None` removes the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    pub space: &'static str,
    pub key: Vec<u8>,
    pub value: Option<Vec<u8>>,
}

/// Writes applied together: after a crash either all of them are there or
/// none is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Writes(pub Vec<Write>);

impl Writes {
    pub fn put(&mut self, space: &'static str, key: impl Into<Vec<u8>>, value: Vec<u8>) {
        self.0.push(Write {
            space,
            key: key.into(),
            value: Some(value),
        });
    }

    pub fn remove(&mut self, space: &'static str, key: impl Into<Vec<u8>>) {
        self.0.push(Write {
            space,
            key: key.into(),
            value: None,
        });
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A key and its value.
pub type Entry = (Vec<u8>, Vec<u8>);

/// An ordered scan over part of a keyspace.
pub type Scan<'a> = Box<dyn Iterator<Item = Result<Entry, StoreError>> + Send + 'a>;

/// What the engine, the audit log and the API need from storage. The
/// embedded [`SledStore`] implements it; a networked database (one table per
/// keyspace, `commit` as a transaction) can implement it too: see
/// `docs/decisions/0002-embedded-store-and-group-commit.md`.
pub trait Store: Send + Sync + 'static {
    /// The value of `key` in `space`.
    fn get(&self, space: &'static str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// Keys in `range` of `space`, in key order (or reversed).
    fn scan(
        &self,
        space: &'static str,
        range: (Bound<Vec<u8>>, Bound<Vec<u8>>),
        reverse: bool,
    ) -> Scan<'_>;

    /// Apply `writes` atomically (visible at once; durable after
    /// [`Store::make_durable`]).
    fn commit(&self, writes: Writes) -> Result<(), StoreError>;

    /// Block until every write this thread committed is on disk. Writers
    /// that call this at the same time share one flush.
    fn make_durable(&self) -> Result<(), StoreError>;

    /// A new unique, increasing id (persisted across restarts).
    fn generate_id(&self) -> Result<u64, StoreError>;

    /// Flush everything now (shutdown).
    fn flush(&self) -> Result<(), StoreError>;

    /// The group-commit counters (writes acknowledged, flushes performed).
    fn commit_stats(&self) -> (u64, u64);

    /// Every key with `prefix` in `space`, in order.
    fn scan_prefix(&self, space: &'static str, prefix: &[u8]) -> Scan<'_> {
        let start = Bound::Included(prefix.to_vec());
        let end = match prefix_end(prefix) {
            Some(end) => Bound::Excluded(end),
            None => Bound::Unbounded,
        };
        self.scan(space, (start, end), false)
    }
}

/// The smallest key greater than every key starting with `prefix`.
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// The embedded store: a sled database with a format version and group commit.
#[derive(Clone)]
pub struct SledStore {
    db: sled::Db,
    commit: Arc<GroupCommit>,
    trees: Arc<parking_lot::RwLock<std::collections::HashMap<&'static str, sled::Tree>>>,
}

impl std::fmt::Debug for SledStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledStore").finish_non_exhaustive()
    }
}

impl SledStore {
    /// Open (or create) the store in `dir`. A directory written with another
    /// on-disk format is refused with a message that says what to do.
    pub fn open(dir: &Path, durability: Durability) -> Result<Self, StoreError> {
        let db = sled::Config::new()
            .path(dir)
            // We flush explicitly (group commit); no background timer needed.
            .flush_every_ms(None)
            .open()?;
        let meta = db.open_tree(META_TREE)?;
        match meta.get(VERSION_KEY)? {
            None => {
                meta.insert(VERSION_KEY, FORMAT_VERSION.to_string().as_bytes())?;
                db.flush()?;
            }
            Some(v) if v.as_ref() == FORMAT_VERSION.to_string().as_bytes() => {}
            Some(v) => {
                return Err(StoreError::UnknownVersion {
                    dir: dir.display().to_string(),
                    found: String::from_utf8_lossy(&v).into_owned(),
                    supported: FORMAT_VERSION,
                });
            }
        }
        Ok(Self {
            db,
            commit: Arc::new(GroupCommit::new(durability)),
            trees: Default::default(),
        })
    }

    /// A named keyspace, as a sled tree (tests and tools that inspect the
    /// raw data, e.g. to tamper with the audit log).
    pub fn tree(&self, name: &str) -> Result<sled::Tree, StoreError> {
        Ok(self.db.open_tree(name)?)
    }

    fn space(&self, name: &'static str) -> Result<sled::Tree, StoreError> {
        if let Some(t) = self.trees.read().get(name) {
            return Ok(t.clone());
        }
        let tree = self.db.open_tree(name)?;
        self.trees.write().insert(name, tree.clone());
        Ok(tree)
    }
}

impl Store for SledStore {
    fn get(&self, space: &'static str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.space(space)?.get(key)?.map(|v| v.to_vec()))
    }

    fn scan(
        &self,
        space: &'static str,
        range: (Bound<Vec<u8>>, Bound<Vec<u8>>),
        reverse: bool,
    ) -> Scan<'_> {
        let tree = match self.space(space) {
            Ok(t) => t,
            Err(e) => return Box::new(std::iter::once(Err(e))),
        };
        let iter = tree.range(range);
        let map = |kv: sled::Result<(sled::IVec, sled::IVec)>| {
            kv.map(|(k, v)| (k.to_vec(), v.to_vec()))
                .map_err(StoreError::from)
        };
        if reverse {
            Box::new(iter.rev().map(map))
        } else {
            Box::new(iter.map(map))
        }
    }

    fn commit(&self, writes: Writes) -> Result<(), StoreError> {
        // One batch per keyspace; one keyspace needs no transaction.
        let mut batches: Vec<(&'static str, sled::Batch)> = Vec::new();
        for w in writes.0 {
            let i = match batches.iter().position(|(s, _)| *s == w.space) {
                Some(i) => i,
                None => {
                    batches.push((w.space, sled::Batch::default()));
                    batches.len() - 1
                }
            };
            match w.value {
                Some(v) => batches[i].1.insert(w.key, v),
                None => batches[i].1.remove(w.key),
            }
        }
        match batches.len() {
            0 => Ok(()),
            1 => {
                let (space, batch) = batches.pop().expect("one batch");
                Ok(self.space(space)?.apply_batch(batch)?)
            }
            _ => {
                let trees = batches
                    .iter()
                    .map(|(s, _)| self.space(s))
                    .collect::<Result<Vec<_>, _>>()?;
                trees
                    .as_slice()
                    .transaction(|txs| {
                        for (tx, (_, batch)) in txs.iter().zip(&batches) {
                            tx.apply_batch(batch)?;
                        }
                        Ok::<(), sled::transaction::ConflictableTransactionError<StoreError>>(())
                    })
                    .map_err(|e| match e {
                        sled::transaction::TransactionError::Abort(e) => e,
                        sled::transaction::TransactionError::Storage(e) => e.into(),
                    })
            }
        }
    }

    fn make_durable(&self) -> Result<(), StoreError> {
        self.commit.wait_durable(&self.db)
    }

    fn generate_id(&self) -> Result<u64, StoreError> {
        Ok(self.db.generate_id()?)
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }

    fn commit_stats(&self) -> (u64, u64) {
        self.commit.stats()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_of_another_format_is_refused_clearly() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SledStore::open(dir.path(), Durability::Group).unwrap();
            store
                .tree(META_TREE)
                .unwrap()
                .insert(VERSION_KEY, b"99")
                .unwrap();
            store.flush().unwrap();
        }
        let err = SledStore::open(dir.path(), Durability::Group).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, StoreError::UnknownVersion { .. }), "{msg}");
        assert!(
            msg.contains("format 99") || msg.contains("format 99;") || msg.contains("99"),
            "{msg}"
        );
        assert!(msg.contains(&format!("format {FORMAT_VERSION}")), "{msg}");
    }

    #[test]
    fn reopening_a_store_of_this_format_works_and_keeps_data() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SledStore::open(dir.path(), Durability::Group).unwrap();
            store.tree("t").unwrap().insert(b"k", b"v").unwrap();
            store.make_durable().unwrap();
        }
        let store = SledStore::open(dir.path(), Durability::Group).unwrap();
        assert_eq!(
            store.tree("t").unwrap().get(b"k").unwrap().as_deref(),
            Some(&b"v"[..])
        );
    }
}
