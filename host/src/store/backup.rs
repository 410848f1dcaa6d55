//! The backup stream: a point-in-time copy of a store ([`super::SledStore::backup_into`])
//! written as a self-checking byte stream, so a running server can send it
//! over HTTP and `switchboard backup` can write it into a new data
//! directory on another machine.
//!
//! Format, after the magic line: frames of a one-byte tag.
//! `K` len:u32 name: a keyspace begins; `E` len:u32 key len:u32 value: one
//! entry of it; `Z` keys:u64 sha256:[32]: the end, with the number of
//! entries and the sha256 of every byte before the `Z`. A stream cut short
//! or changed in transit is refused, and nothing of it is kept.

use std::io::{Read, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

use super::{BackupSummary, StoreError};

const MAGIC: &[u8] = b"switchboard-backup 1\n";

/// A writer that hashes what passes through it.
struct Hashing<W> {
    inner: W,
    hash: Sha256,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn len(n: usize) -> std::io::Result<[u8; 4]> {
    u32::try_from(n)
        .map(u32::to_be_bytes)
        .map_err(|_| std::io::Error::other("a key or value over 4 GiB"))
}

/// Write every keyspace of `copy` to `out` as a backup stream.
pub fn write_stream(copy: &sled::Db, out: impl Write) -> Result<BackupSummary, StoreError> {
    let io = |e: std::io::Error| StoreError::Corrupt(format!("writing the backup stream: {e}"));
    let mut out = Hashing {
        inner: out,
        hash: Sha256::new(),
    };
    let mut summary = BackupSummary {
        keyspaces: 0,
        keys: 0,
        bytes: 0,
    };
    out.write_all(MAGIC).map_err(io)?;
    for name in copy.tree_names() {
        out.write_all(b"K").map_err(io)?;
        out.write_all(&len(name.len()).map_err(io)?).map_err(io)?;
        out.write_all(&name).map_err(io)?;
        summary.keyspaces += 1;
        for kv in copy.open_tree(&name)?.iter() {
            let (k, v) = kv?;
            out.write_all(b"E").map_err(io)?;
            out.write_all(&len(k.len()).map_err(io)?).map_err(io)?;
            out.write_all(&k).map_err(io)?;
            out.write_all(&len(v.len()).map_err(io)?).map_err(io)?;
            out.write_all(&v).map_err(io)?;
            summary.keys += 1;
            summary.bytes += (k.len() + v.len()) as u64;
        }
    }
    let digest = out.hash.clone().finalize();
    let mut inner = out.inner;
    inner.write_all(b"Z").map_err(io)?;
    inner.write_all(&summary.keys.to_be_bytes()).map_err(io)?;
    inner.write_all(&digest).map_err(io)?;
    inner.flush().map_err(io)?;
    Ok(summary)
}

/// Read a backup stream into a new store at `dir` (which must not exist).
/// On any error the partial directory is removed.
pub fn restore_stream(input: impl Read, dir: &Path) -> Result<BackupSummary, StoreError> {
    if dir.exists() {
        return Err(StoreError::BackupTargetExists {
            dir: dir.display().to_string(),
        });
    }
    let result = restore_into(input, dir);
    if result.is_err() {
        let _ = std::fs::remove_dir_all(dir);
    }
    result
}

fn restore_into(input: impl Read, dir: &Path) -> Result<BackupSummary, StoreError> {
    let bad = |what: &str| StoreError::Corrupt(format!("the backup stream {what}"));
    let db = sled::Config::new()
        .path(dir)
        .create_new(true)
        .open()
        .map_err(|e| super::open_error(dir, e))?;
    let mut input = std::io::BufReader::new(input);
    let mut hash = Sha256::new();
    let read = |n: usize, hash: &mut Sha256, input: &mut dyn Read| {
        let mut buf = vec![0; n];
        input
            .read_exact(&mut buf)
            .map_err(|_| bad("ends early: the transfer was cut; take the backup again"))?;
        hash.update(&buf);
        Ok::<_, StoreError>(buf)
    };
    let read_len = |hash: &mut Sha256, input: &mut dyn Read| {
        let mut b = [0; 4];
        input
            .read_exact(&mut b)
            .map_err(|_| bad("ends early: the transfer was cut; take the backup again"))?;
        hash.update(b);
        Ok::<_, StoreError>(u32::from_be_bytes(b) as usize)
    };
    if read(MAGIC.len(), &mut hash, &mut input)? != MAGIC {
        return Err(bad("is not a switchboard backup (or of a newer format)"));
    }
    let mut summary = BackupSummary {
        keyspaces: 0,
        keys: 0,
        bytes: 0,
    };
    let mut tree: Option<sled::Tree> = None;
    let mut batch = sled::Batch::default();
    let mut pending = 0usize;
    loop {
        let mut tag = [0u8; 1];
        input
            .read_exact(&mut tag)
            .map_err(|_| bad("ends early: the transfer was cut; take the backup again"))?;
        match &tag {
            b"K" => {
                hash.update(tag);
                if let Some(t) = &tree {
                    t.apply_batch(std::mem::take(&mut batch))?;
                }
                let n = read_len(&mut hash, &mut input)?;
                let name = read(n, &mut hash, &mut input)?;
                tree = Some(db.open_tree(name)?);
                summary.keyspaces += 1;
            }
            b"E" => {
                hash.update(tag);
                let Some(t) = &tree else {
                    return Err(bad("has an entry before any keyspace"));
                };
                let n = read_len(&mut hash, &mut input)?;
                let key = read(n, &mut hash, &mut input)?;
                let n = read_len(&mut hash, &mut input)?;
                let value = read(n, &mut hash, &mut input)?;
                summary.keys += 1;
                summary.bytes += (key.len() + value.len()) as u64;
                batch.insert(key, value);
                pending += 1;
                if pending.is_multiple_of(4096) {
                    t.apply_batch(std::mem::take(&mut batch))?;
                }
            }
            b"Z" => {
                if let Some(t) = &tree {
                    t.apply_batch(std::mem::take(&mut batch))?;
                }
                let mut keys = [0u8; 8];
                let mut digest = [0u8; 32];
                input
                    .read_exact(&mut keys)
                    .and_then(|()| input.read_exact(&mut digest))
                    .map_err(|_| bad("ends early: the transfer was cut; take the backup again"))?;
                if u64::from_be_bytes(keys) != summary.keys {
                    return Err(bad("holds another number of keys than it announces"));
                }
                if hash.finalize().as_slice() != digest {
                    return Err(bad("was changed in transit: its checksum does not match"));
                }
                if input.read(&mut [0u8; 1]).map_err(|e| bad(&e.to_string()))? != 0 {
                    return Err(bad("goes on after its end"));
                }
                break;
            }
            _ => return Err(bad("is damaged: an unknown frame")),
        }
    }
    db.flush()?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Durability, SledStore, Store, Writes};

    fn store_with(n: u32, dir: &Path) -> SledStore {
        let store = SledStore::open(dir, Durability::Group).unwrap();
        let mut w = Writes::default();
        for i in 0..n {
            w.put("contacts", i.to_be_bytes().to_vec(), vec![b'c'; 100]);
            w.put("audit", i.to_be_bytes().to_vec(), vec![b'a'; 50]);
        }
        store.commit(w).unwrap();
        store
    }

    #[test]
    fn a_backup_stream_restores_every_key_and_ids_continue_after_the_source() {
        let tmp = tempfile::tempdir().unwrap();
        let store = store_with(10_000, &tmp.path().join("src"));
        let used = (0..5).map(|_| store.generate_id().unwrap()).max().unwrap();
        let copy = tmp.path().join("copy");
        let (copy_db, copied) = store.copy_into(&copy).unwrap();
        let mut stream = Vec::new();
        let written = write_stream(&copy_db, &mut stream).unwrap();
        assert!(copied.keys >= 20_000 && written.keys >= copied.keys);
        let restored_dir = tmp.path().join("restored");
        let restored = restore_stream(&stream[..], &restored_dir).unwrap();
        assert_eq!(restored, written);
        let restored = SledStore::open(&restored_dir, Durability::Group).unwrap();
        for i in [0u32, 4095, 4096, 9_999] {
            assert_eq!(
                restored.get("contacts", &i.to_be_bytes()).unwrap(),
                Some(vec![b'c'; 100])
            );
        }
        assert!(
            restored.generate_id().unwrap() > used,
            "a restored store must not hand out an id its source used"
        );
    }

    #[test]
    fn a_cut_or_changed_stream_is_refused_and_leaves_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let store = store_with(100, &tmp.path().join("src"));
        let (copy, _) = store.copy_into(&tmp.path().join("copy")).unwrap();
        let mut stream = Vec::new();
        write_stream(&copy, &mut stream).unwrap();
        let target = tmp.path().join("t");
        let cut = restore_stream(&stream[..stream.len() / 2], &target).unwrap_err();
        assert!(cut.to_string().contains("ends early"), "{cut}");
        assert!(!target.exists(), "a refused restore leaves no directory");
        let mut changed = stream.clone();
        let i = changed.len() / 2;
        changed[i] ^= 0x01;
        let err = restore_stream(&changed[..], &target).unwrap_err();
        assert!(!target.exists());
        assert!(
            err.to_string().contains("changed in transit") || err.to_string().contains("damaged"),
            "{err}"
        );
        let exists = restore_stream(&stream[..], tmp.path()).unwrap_err();
        assert!(matches!(exists, StoreError::BackupTargetExists { .. }));
    }
}
