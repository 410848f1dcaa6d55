//! Group commit: writers apply their writes to sled (in memory, ordered),
//! then wait until a flush that started after their write has finished. The
//! first waiter leads and flushes; everyone who arrives during that flush
//! waits and is covered by the next one, so N concurrent writers cost about
//! two fsyncs, not N.

use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::{Condvar, Mutex};

use super::StoreError;

/// How writes are made durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Concurrent writers share flushes (the default).
    Group,
    /// Every writer flushes on its own (the baseline group commit is measured against).
    PerWrite,
    /// Writes are acknowledged before they are flushed; the store flushes
    /// every 500 ms on its own, so a crash loses up to the last half second
    /// of acknowledged writes. For simulations and demos only
    /// (`[store] durability = "deferred"`), never for real contacts.
    Deferred,
}

#[derive(Debug, Default)]
struct State {
    /// Writes registered so far.
    written: u64,
    /// Every write up to this one is on disk.
    durable: u64,
    /// A leader is flushing now.
    flushing: bool,
}

/// Coordinates flushes among concurrent writers.
#[derive(Debug)]
pub struct GroupCommit {
    mode: Durability,
    state: Mutex<State>,
    flushed: Condvar,
    acknowledged: AtomicU64,
    flushes: AtomicU64,
}

impl GroupCommit {
    /// A coordinator in the given mode.
    pub fn new(mode: Durability) -> Self {
        Self {
            mode,
            state: Mutex::new(State::default()),
            flushed: Condvar::new(),
            acknowledged: AtomicU64::new(0),
            flushes: AtomicU64::new(0),
        }
    }

    /// (writes acknowledged durable, flushes performed).
    pub fn stats(&self) -> (u64, u64) {
        (
            self.acknowledged.load(Ordering::Relaxed),
            self.flushes.load(Ordering::Relaxed),
        )
    }

    /// Call after applying a write; returns once it is on disk.
    pub fn wait_durable(&self, db: &sled::Db) -> Result<(), StoreError> {
        if self.mode == Durability::Deferred {
            return Ok(());
        }
        if self.mode == Durability::PerWrite {
            db.flush()?;
            self.flushes.fetch_add(1, Ordering::Relaxed);
            self.acknowledged.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        let mut state = self.state.lock();
        state.written += 1;
        let mine = state.written;
        loop {
            if state.durable >= mine {
                self.acknowledged.fetch_add(1, Ordering::Relaxed);
                return Ok(());
            }
            if state.flushing {
                self.flushed.wait(&mut state);
                continue;
            }
            // Lead: every write registered so far was applied before it was
            // registered, so one flush now covers them all.
            state.flushing = true;
            let target = state.written;
            drop(state);
            let result = db.flush();
            self.flushes.fetch_add(1, Ordering::Relaxed);
            state = self.state.lock();
            state.flushing = false;
            if result.is_ok() {
                state.durable = state.durable.max(target);
            }
            self.flushed.notify_all();
            result?;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn concurrent_writers_are_all_durable_and_share_flushes() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new()
            .path(dir.path())
            .flush_every_ms(None)
            .open()
            .unwrap();
        let gc = Arc::new(GroupCommit::new(Durability::Group));
        let threads: Vec<_> = (0..8u64)
            .map(|t| {
                let (db, gc) = (db.clone(), gc.clone());
                std::thread::spawn(move || {
                    for i in 0..50u64 {
                        db.insert((t * 1000 + i).to_be_bytes(), &b"x"[..]).unwrap();
                        gc.wait_durable(&db).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let (acked, flushes) = gc.stats();
        assert_eq!(acked, 400);
        assert!(flushes <= acked, "{flushes} flushes for {acked} writes");
        drop(db);
        // sled releases a dropped database's file lock from a background
        // thread: wait for that (not for a time) before reopening.
        let db = loop {
            match sled::open(dir.path()) {
                Ok(db) => break db,
                Err(sled::Error::Io(e)) if e.to_string().contains("could not acquire lock") => {
                    std::thread::yield_now();
                }
                Err(e) => panic!("reopen: {e}"),
            }
        };
        assert_eq!(db.len(), 400);
    }

    #[test]
    fn per_write_mode_flushes_every_write() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let gc = GroupCommit::new(Durability::PerWrite);
        for i in 0..5u8 {
            db.insert([i], &b"x"[..]).unwrap();
            gc.wait_durable(&db).unwrap();
        }
        assert_eq!(gc.stats(), (5, 5));
    }
}
