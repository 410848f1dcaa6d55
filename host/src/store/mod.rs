//! Durable storage. The embedded default is sled; an acknowledged write is
//! on disk. Many concurrent writers share one fsync through group commit
//! ([`GroupCommit`]), so durability does not cost one flush per contact.
//! Depends on nothing else in the host.

mod group_commit;

use std::path::Path;
use std::sync::Arc;

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

/// The embedded store: a sled database with a format version and group commit.
#[derive(Clone)]
pub struct SledStore {
    db: sled::Db,
    commit: Arc<GroupCommit>,
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
        })
    }

    /// A named keyspace.
    pub fn tree(&self, name: &str) -> Result<sled::Tree, StoreError> {
        Ok(self.db.open_tree(name)?)
    }

    /// Block until every write this thread has applied is on disk. Writers
    /// that call this at the same time share one flush.
    pub fn make_durable(&self) -> Result<(), StoreError> {
        self.commit.wait_durable(&self.db)
    }

    /// The group-commit counters (writes acknowledged, flushes performed).
    pub fn commit_stats(&self) -> (u64, u64) {
        self.commit.stats()
    }

    /// A new unique, increasing id (persisted across restarts).
    pub fn generate_id(&self) -> Result<u64, StoreError> {
        Ok(self.db.generate_id()?)
    }

    /// Flush everything now (shutdown).
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
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
