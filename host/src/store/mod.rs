//! Durable storage behind the [`Store`] trait: named keyspaces of ordered
//! byte keys, ordered multi-keyspace commits, and "make what I wrote
//! durable". The embedded default is sled ([`SledStore`]); an acknowledged
//! write is on disk. Many concurrent writers share one fsync through group
//! commit ([`GroupCommit`]), so durability does not cost one flush per
//! contact. Depends on nothing else in the host.

mod backup;
mod group_commit;
mod memory;

use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

pub use backup::{restore_stream, write_stream};
pub use group_commit::{Durability, GroupCommit};
pub use memory::MemoryStore;

/// The on-disk format this build reads and writes.
pub const FORMAT_VERSION: u32 = 3;

const META_TREE: &str = "meta";
const VERSION_KEY: &[u8] = b"format_version";
/// Added to sled's id generator, which a copied store does not inherit: a
/// restored backup must never hand out an id its source already used.
const ID_FLOOR_KEY: &[u8] = b"id_floor";

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
    #[error(
        "the store in {dir} is locked by another process: is another switchboard (or `switchboard audit verify`) running on this --data-dir? Stop it first"
    )]
    Locked { dir: String },
    #[error(
        "cannot write to the store in {dir} ({source}): switchboard needs a writable data directory; check that the file system is mounted read-write and that the directory belongs to the user running switchboard"
    )]
    NotWritable {
        dir: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the store in {dir} is damaged ({detail}): stop switchboard, move the directory aside and restore the last backup into its place (docs/operations.md, \"Backup and restore\"), or start on an empty --data-dir"
    )]
    Damaged { dir: String, detail: String },
    #[error("{dir} already exists: a backup goes into a new directory")]
    BackupTargetExists { dir: String },
    #[error("{0}")]
    Unsupported(String),
}

/// Why `sled::Config::open` failed, said so an operator knows what to do.
/// sled reports a held lock, a read-only file system and a damaged file all
/// as errors of one type; only the details tell them apart.
fn open_error(dir: &Path, e: sled::Error) -> StoreError {
    let dir = dir.display().to_string();
    match e {
        sled::Error::Io(io) if io.to_string().contains("could not acquire lock") => {
            StoreError::Locked { dir }
        }
        sled::Error::Io(io)
            if matches!(
                io.kind(),
                std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem
            ) =>
        {
            StoreError::NotWritable { dir, source: io }
        }
        sled::Error::Io(io)
            if matches!(
                io.kind(),
                std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::InvalidData
            ) =>
        {
            StoreError::Damaged {
                dir,
                detail: io.to_string(),
            }
        }
        // sled says "created using a sled version earlier than 0.29" for a
        // `conf` file it cannot parse; no switchboard ever wrote such a store.
        sled::Error::Unsupported(detail) => StoreError::Damaged { dir, detail },
        sled::Error::Corruption { at, .. } => StoreError::Damaged {
            dir,
            detail: format!("sled found corruption at {at:?}"),
        },
        other => StoreError::Sled(other),
    }
}

/// What [`SledStore::backup_into`] copied.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BackupSummary {
    /// Keyspaces copied.
    pub keyspaces: usize,
    /// Keys copied, over all keyspaces.
    pub keys: u64,
    /// Bytes of keys and values copied.
    pub bytes: u64,
}

/// One write of a [`Writes`] set: `value: None` removes the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    pub space: &'static str,
    pub key: Vec<u8>,
    pub value: Option<Vec<u8>>,
}

/// Writes applied together, in order: after a crash a prefix of them (on a
/// transactional backend: all or none) is there.
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

    /// Apply `writes`, in order (durable after [`Store::make_durable`]).
    /// After a crash, a prefix of a commit's writes survives (a
    /// transactional backend makes it all or nothing): put the write that
    /// makes a change take effect last.
    fn commit(&self, writes: Writes) -> Result<(), StoreError>;

    /// Apply `writes` all or nothing, also across a crash. Slower than
    /// [`Store::commit`] (sled serializes it against every writer): for
    /// rare changes that must not be half done, such as a fired timer and
    /// the decision it caused.
    fn commit_atomic(&self, writes: Writes) -> Result<(), StoreError>;

    /// Block until every write this thread committed is on disk. Writers
    /// that call this at the same time share one flush.
    fn make_durable(&self) -> Result<(), StoreError>;

    /// A new unique, increasing id (persisted across restarts).
    fn generate_id(&self) -> Result<u64, StoreError>;

    /// Flush everything now (shutdown).
    fn flush(&self) -> Result<(), StoreError>;

    /// The group-commit counters (writes acknowledged, flushes performed).
    fn commit_stats(&self) -> (u64, u64);

    /// Write a copy of every keyspace, as of one point in time, to `out` as
    /// a backup stream ([`restore_stream`] reads it into a new store).
    fn backup(&self, out: &mut dyn std::io::Write) -> Result<BackupSummary, StoreError>;

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

/// The embedded store: a sled database with a format version and group
/// commit, one sled tree per keyspace.
///
/// A commit's writes are applied in order, key by key. sled recovers a
/// prefix of its log after a crash, so a commit interrupted by a crash
/// leaves a prefix of its writes: callers put the write that makes a change
/// take effect last (a fired timer's removal comes after the decision it
/// caused). sled's atomic batches and multi-tree transactions would give
/// all-or-nothing, but both take a global write lock that serializes every
/// writer; it cut ingest throughput by more than half (docs/benchmarks.md).
#[derive(Clone)]
pub struct SledStore {
    db: sled::Db,
    trees: Arc<parking_lot::RwLock<std::collections::HashMap<&'static str, sled::Tree>>>,
    commit: Arc<GroupCommit>,
    /// Commits hold it shared; a backup holds it exclusively while it copies,
    /// so the copy is one point in time across every keyspace.
    barrier: Arc<parking_lot::RwLock<()>>,
    /// See [`ID_FLOOR_KEY`].
    id_floor: u64,
    dir: std::path::PathBuf,
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
        let config = sled::Config::new()
            .path(dir)
            // We flush explicitly (group commit); only deferred durability
            // leaves it to sled's background flush.
            .flush_every_ms((durability == Durability::Deferred).then_some(500));
        // sled releases its file lock from a background thread when the
        // previous owner (a process that just exited, or a handle just
        // dropped) goes away: wait for it a little before giving up.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let db = loop {
            match config.open() {
                Ok(db) => break db,
                Err(sled::Error::Io(e))
                    if e.to_string().contains("could not acquire lock")
                        && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                Err(e) => return Err(open_error(dir, e)),
            }
        };
        let meta = db.open_tree(META_TREE).map_err(|e| open_error(dir, e))?;
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
        let id_floor = match meta.get(ID_FLOOR_KEY)? {
            None => 0,
            Some(v) => std::str::from_utf8(&v)
                .ok()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| StoreError::Damaged {
                    dir: dir.display().to_string(),
                    detail: "the id floor in its meta keyspace is not a number".into(),
                })?,
        };
        Ok(Self {
            db,
            trees: Default::default(),
            commit: Arc::new(GroupCommit::new(durability)),
            barrier: Default::default(),
            id_floor,
            dir: dir.to_path_buf(),
        })
    }

    /// Copy the whole store into a new store at `dir` (which must not exist),
    /// as of one point in time: commits wait while the keys are copied (not
    /// while the copy is flushed). The copy opens like any data directory's
    /// `db`, and its ids continue after every id this store handed out.
    pub fn backup_into(&self, dir: &Path) -> Result<BackupSummary, StoreError> {
        self.copy_into(dir).map(|(_, summary)| summary)
    }

    /// [`SledStore::backup_into`], keeping the copy open (sled releases a
    /// closed database's lock from a background thread, so reopening it at
    /// once can fail).
    fn copy_into(&self, dir: &Path) -> Result<(sled::Db, BackupSummary), StoreError> {
        if dir.exists() {
            return Err(StoreError::BackupTargetExists {
                dir: dir.display().to_string(),
            });
        }
        let copy = sled::Config::new()
            .path(dir)
            .create_new(true)
            .open()
            .map_err(|e| open_error(dir, e))?;
        let mut summary = BackupSummary {
            keyspaces: 0,
            keys: 0,
            bytes: 0,
        };
        {
            let _paused = self.barrier.write();
            for name in self.db.tree_names() {
                let from = self.db.open_tree(&name)?;
                let to = copy.open_tree(&name)?;
                let mut batch = sled::Batch::default();
                for (i, kv) in from.iter().enumerate() {
                    let (k, v) = kv?;
                    summary.keys += 1;
                    summary.bytes += (k.len() + v.len()) as u64;
                    batch.insert(k, v);
                    // Bounded memory for large keyspaces.
                    if (i + 1).is_multiple_of(4096) {
                        to.apply_batch(std::mem::take(&mut batch))?;
                    }
                }
                to.apply_batch(batch)?;
                summary.keyspaces += 1;
            }
            // Every id handed out so far is below this one.
            let next = self.generate_id()?;
            copy.open_tree(META_TREE)?
                .insert(ID_FLOOR_KEY, next.to_string().as_bytes())?;
        }
        copy.flush()?;
        Ok((copy, summary))
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
        let _shared = self.barrier.read();
        for w in writes.0 {
            let tree = self.space(w.space)?;
            match w.value {
                Some(v) => drop(tree.insert(w.key, v)?),
                None => drop(tree.remove(w.key)?),
            }
        }
        Ok(())
    }

    fn commit_atomic(&self, writes: Writes) -> Result<(), StoreError> {
        use sled::Transactional as _;
        let _shared = self.barrier.read();
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

    fn make_durable(&self) -> Result<(), StoreError> {
        let started = std::time::Instant::now();
        let r = self.commit.wait_durable(&self.db);
        crate::metrics::metrics()
            .store_write_duration
            .with_label_values(&["sled"])
            .observe(started.elapsed().as_secs_f64());
        r
    }

    fn generate_id(&self) -> Result<u64, StoreError> {
        Ok(self.db.generate_id()? + self.id_floor)
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }

    fn commit_stats(&self) -> (u64, u64) {
        self.commit.stats()
    }

    fn backup(&self, out: &mut dyn std::io::Write) -> Result<BackupSummary, StoreError> {
        // The point-in-time copy goes beside the store (same file system,
        // same owner), then is streamed from there without pausing writers.
        let name = self
            .dir
            .file_name()
            .map_or_else(|| "db".into(), |n| n.to_string_lossy().into_owned());
        let scratch = self.dir.with_file_name(format!(
            "{name}.backup-{}-{}",
            std::process::id(),
            self.db.generate_id()?
        ));
        let result = self
            .copy_into(&scratch)
            .and_then(|(copy, _)| write_stream(&copy, out));
        let _ = std::fs::remove_dir_all(&scratch);
        result
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
                .db
                .open_tree(META_TREE)
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
    fn a_damaged_store_says_so_and_how_to_recover_not_that_another_server_runs() {
        let dir = tempfile::tempdir().unwrap();
        drop(SledStore::open(dir.path(), Durability::Group).unwrap());
        // What the issue saw: a `conf` file sled cannot parse.
        std::fs::write(dir.path().join("conf"), [0xff; 32]).unwrap();
        let err = SledStore::open(dir.path(), Durability::Group).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, StoreError::Damaged { .. }), "{msg}");
        assert!(msg.contains("damaged") && msg.contains("backup"), "{msg}");
        assert!(!msg.contains("another switchboard"), "{msg}");
    }

    #[test]
    fn a_store_held_by_another_process_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let _held = SledStore::open(dir.path(), Durability::Group).unwrap();
        // flock is per open file: a second open in this process is refused
        // like a second server's.
        let err = SledStore::open(dir.path(), Durability::Group).unwrap_err();
        assert!(matches!(err, StoreError::Locked { .. }), "{err}");
        assert!(err.to_string().contains("another switchboard"), "{err}");
    }

    #[test]
    fn a_read_only_or_forbidden_store_says_it_cannot_write() {
        // Root ignores file modes and tests cannot mount: classify the errors
        // sled returns for EROFS and EACCES.
        for io in [
            std::io::Error::from_raw_os_error(30), // EROFS
            std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        ] {
            let err = open_error(Path::new("/srv/sb/db"), sled::Error::Io(io));
            let msg = err.to_string();
            assert!(matches!(err, StoreError::NotWritable { .. }), "{msg}");
            assert!(
                msg.contains("writable") && msg.contains("/srv/sb/db"),
                "{msg}"
            );
            assert!(!msg.contains("another switchboard"), "{msg}");
        }
    }

    #[test]
    fn a_backup_is_one_point_in_time_across_keyspaces_while_writers_run() {
        let tmp = tempfile::tempdir().unwrap();
        let store = SledStore::open(&tmp.path().join("src"), Durability::Group).unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writer = {
            let (store, stop) = (store.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut i = 0u64;
                // Each commit puts the same key in two keyspaces.
                while !stop.load(std::sync::atomic::Ordering::Relaxed) || i < 2_000 {
                    let mut w = Writes::default();
                    w.put("first", i.to_be_bytes().to_vec(), vec![1; 64]);
                    w.put("second", i.to_be_bytes().to_vec(), vec![2; 64]);
                    store.commit(w).unwrap();
                    i += 1;
                }
                i
            })
        };
        // Wait (by data, not time) until the writer is well under way.
        while store
            .get("second", &1_000u64.to_be_bytes())
            .unwrap()
            .is_none()
        {
            std::thread::yield_now();
        }
        let copies: Vec<_> = (0..3)
            .map(|n| {
                store
                    .copy_into(&tmp.path().join(format!("copy{n}")))
                    .unwrap()
                    .0
            })
            .collect();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let written = writer.join().unwrap();
        for copy in copies {
            let keys = |space: &str| {
                copy.open_tree(space)
                    .unwrap()
                    .iter()
                    .keys()
                    .map(|k| k.unwrap().to_vec())
                    .collect::<Vec<_>>()
            };
            let (first, second) = (keys("first"), keys("second"));
            assert!(first.len() >= 1_000 && (first.len() as u64) <= written);
            assert_eq!(
                first.len(),
                second.len(),
                "a commit is in the copy whole or not at all"
            );
            assert_eq!(first, second);
        }
        assert!(matches!(
            store.backup_into(tmp.path()),
            Err(StoreError::BackupTargetExists { .. })
        ));
    }

    #[test]
    fn reopening_a_store_of_this_format_works_and_keeps_data() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SledStore::open(dir.path(), Durability::Group).unwrap();
            let mut w = Writes::default();
            w.put("t", b"k".to_vec(), b"v".to_vec());
            store.commit(w).unwrap();
            store.make_durable().unwrap();
        }
        let store = SledStore::open(dir.path(), Durability::Group).unwrap();
        assert_eq!(store.get("t", b"k").unwrap().as_deref(), Some(&b"v"[..]));
    }

    /// The [`Store`] contract, checked the same way for every backend.
    fn keyspaces_are_separate_and_scans_stay_inside_theirs(store: &dyn Store) {
        let mut w = Writes::default();
        for (space, key) in [("a", "1"), ("a", "2"), ("ab", "0"), ("b", "0"), ("a", "3")] {
            w.put(space, key.as_bytes().to_vec(), space.as_bytes().to_vec());
        }
        w.remove("a", b"3".to_vec());
        store.commit(w).unwrap();
        let keys = |space, reverse| {
            store
                .scan(space, (Bound::Unbounded, Bound::Unbounded), reverse)
                .map(|kv| String::from_utf8(kv.unwrap().0).unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(keys("a", false), ["1", "2"], "removed in the same commit");
        assert_eq!(keys("a", true), ["2", "1"]);
        assert_eq!(keys("ab", false), ["0"]);
        assert_eq!(store.get("b", b"0").unwrap().as_deref(), Some(&b"b"[..]));
        assert_eq!(store.get("a", b"0").unwrap(), None);
        let from_2: Vec<_> = store
            .scan(
                "a",
                (Bound::Included(b"2".to_vec()), Bound::Unbounded),
                false,
            )
            .map(|kv| kv.unwrap().0)
            .collect();
        assert_eq!(from_2, [b"2".to_vec()]);
        let prefixed: Vec<_> = store
            .scan_prefix("a", b"")
            .map(|kv| kv.unwrap().0)
            .collect();
        assert_eq!(prefixed, [b"1".to_vec(), b"2".to_vec()]);
        let ids: Vec<u64> = (0..3).map(|_| store.generate_id().unwrap()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    }

    #[test]
    fn every_store_keeps_keyspaces_apart_and_scans_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let sled = SledStore::open(dir.path(), Durability::Group).unwrap();
        keyspaces_are_separate_and_scans_stay_inside_theirs(&sled);
        keyspaces_are_separate_and_scans_stay_inside_theirs(&MemoryStore::new());
        assert_eq!(prefix_end(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_end(b"\xff"), None);
    }
}
