//! The on-disk compile cache. Compiling a component takes 40 ms (small Rust)
//! to 20 s (JavaScript, Python); loading a cached artifact takes well under a
//! millisecond. Artifacts are keyed by the component's sha256 and the
//! engine's compatibility hash, and each file carries the sha256 of its own
//! payload: a corrupted or truncated file is detected, discarded and
//! recompiled, never handed to `Component::deserialize` blindly.

use std::fs;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use super::error::LoadError;

const MAGIC: &[u8; 8] = b"SBCWASM1";
const HEADER: usize = MAGIC.len() + 32;

/// Where a loaded component came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CompileSource {
    /// A valid artifact was found in the cache.
    Cache,
    /// No artifact was cached (or caching is off): compiled now.
    Compiled,
    /// The cached artifact was corrupt: discarded and compiled again.
    Recompiled,
}

/// Counters of cache use since the runtime started.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
    pub corrupt: u64,
}

#[derive(Debug)]
pub(crate) struct CompileCache {
    dir: Option<PathBuf>,
    engine_key: String,
    hits: AtomicU64,
    misses: AtomicU64,
    corrupt: AtomicU64,
}

impl CompileCache {
    pub(crate) fn new(engine: &Engine, dir: Option<PathBuf>) -> Result<Self, LoadError> {
        if let Some(dir) = &dir {
            fs::create_dir_all(dir)?;
        }
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Ok(Self {
            dir,
            engine_key: format!("{:016x}", hasher.finish()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            corrupt: AtomicU64::new(0),
        })
    }

    pub(crate) fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            corrupt: self.corrupt.load(Ordering::Relaxed),
        }
    }

    /// The file holding the artifact of the component with this digest.
    pub(crate) fn path_for(&self, digest: &str) -> Option<PathBuf> {
        self.dir
            .as_ref()
            .map(|d| d.join(format!("{digest}-{}.cwasm", self.engine_key)))
    }

    /// Load the compiled form of `bytes` (whose sha256 is `digest`), from the
    /// cache when a valid artifact is there, else by compiling it. `save`:
    /// write what was compiled to the cache (off for a component that may
    /// yet be refused: see [`CompileCache::save`]).
    pub(crate) fn load(
        &self,
        engine: &Engine,
        digest: &str,
        bytes: &[u8],
        save: bool,
    ) -> Result<(Component, CompileSource), LoadError> {
        let Some(path) = self.path_for(digest) else {
            self.misses.fetch_add(1, Ordering::Relaxed);
            return Ok((compile(engine, bytes)?, CompileSource::Compiled));
        };
        let mut source = CompileSource::Compiled;
        match fs::read(&path) {
            Ok(file) => match verified_payload(&file) {
                Some(payload) => {
                    // SAFETY: `payload` is an artifact this host serialized
                    // with an engine of the same compatibility hash (it is in
                    // the file name), and its sha256 matches the one written
                    // with it, so it is the exact bytes we produced.
                    match unsafe { Component::deserialize(engine, payload) } {
                        Ok(component) => {
                            self.hits.fetch_add(1, Ordering::Relaxed);
                            return Ok((component, CompileSource::Cache));
                        }
                        Err(e) => {
                            tracing::warn!(path = %path.display(), error = %e, "cached artifact rejected by the engine; recompiling");
                            self.corrupt.fetch_add(1, Ordering::Relaxed);
                            source = CompileSource::Recompiled;
                        }
                    }
                }
                None => {
                    tracing::warn!(path = %path.display(), "cached artifact is corrupt (checksum mismatch); recompiling");
                    self.corrupt.fetch_add(1, Ordering::Relaxed);
                    source = CompileSource::Recompiled;
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        tracing::info!(
            size = bytes.len(),
            "compiling component (first load of this digest; the result is cached)"
        );
        let started = std::time::Instant::now();
        let component = compile(engine, bytes)?;
        tracing::info!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            "compiled"
        );
        if save {
            self.write(&path, &component)?;
        }
        Ok((component, source))
    }

    /// Cache `component` (of the component whose sha256 is `digest`) unless
    /// a valid artifact is there already: for a component loaded without
    /// saving that turned out to be accepted.
    pub(crate) fn save(&self, digest: &str, component: &Component) -> Result<(), LoadError> {
        let Some(path) = self.path_for(digest) else {
            return Ok(());
        };
        if fs::read(&path).is_ok_and(|file| verified_payload(&file).is_some()) {
            return Ok(());
        }
        self.write(&path, component)
    }

    fn write(&self, path: &Path, component: &Component) -> Result<(), LoadError> {
        let artifact = component.serialize().map_err(|e| {
            LoadError::Compile(format!("cannot serialize the compiled component: {e}"))
        })?;
        // The cache only saves time: failing to write it must not fail the load.
        if let Err(e) = write_atomically(path, &artifact) {
            tracing::warn!(path = %path.display(), error = %e, "could not write the compile cache");
        }
        Ok(())
    }
}

fn compile(engine: &Engine, bytes: &[u8]) -> Result<Component, LoadError> {
    Component::new(engine, bytes).map_err(|e| LoadError::Compile(format!("{e:#}")))
}

fn verified_payload(file: &[u8]) -> Option<&[u8]> {
    if file.len() < HEADER || &file[..MAGIC.len()] != MAGIC {
        return None;
    }
    let (expected, payload) = file[MAGIC.len()..].split_at(32);
    (Sha256::digest(payload).as_slice() == expected).then_some(payload)
}

fn write_atomically(path: &Path, artifact: &[u8]) -> std::io::Result<()> {
    // Unique per process and call: concurrent loads of one component each
    // write their own temporary file; the last rename wins, all are equal.
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let tmp = path.with_extension(format!(
        "tmp{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(MAGIC)?;
        f.write_all(&Sha256::digest(artifact))?;
        f.write_all(artifact)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_checksum_is_verified() {
        let payload = b"compiled bytes".to_vec();
        let mut file = MAGIC.to_vec();
        file.extend_from_slice(&Sha256::digest(&payload));
        file.extend_from_slice(&payload);
        assert_eq!(verified_payload(&file), Some(&payload[..]));
        let last = file.len() - 1;
        file[last] ^= 1;
        assert_eq!(verified_payload(&file), None);
        assert_eq!(verified_payload(b"short"), None);
    }
}
