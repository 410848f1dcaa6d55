//! The locked-down WASI context linked for guests built for `wasm32-wasip2`
//! (Rust std, C with wasi-libc, ...): no preopened directories, no
//! environment, no arguments, no sockets, stdin closed, stdout and stderr
//! captured into the plugin log, a frozen clock and fixed "random" bytes, so
//! a call depends on nothing but its input and config and can be replayed.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};
use wasmtime_wasi::{Deterministic, HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxBuilder};

use super::log::{LogBuffer, LogLevel, LogSource};

/// Bytes a guest may write to stdout/stderr per write call before the host
/// cuts it off (the log buffer truncates lines anyway).
const MAX_WRITE: usize = 64 * 1024;

pub(crate) fn sandboxed_ctx(log: &Arc<LogBuffer>) -> WasiCtx {
    WasiCtxBuilder::new()
        .stdout(LogPipe {
            log: log.clone(),
            source: LogSource::Stdout,
        })
        .stderr(LogPipe {
            log: log.clone(),
            source: LogSource::Stderr,
        })
        .wall_clock(FrozenClock)
        .monotonic_clock(FrozenClock)
        .secure_random(Deterministic::new(vec![0x5b, 0x0a, 0x4d, 0x21]))
        .insecure_random(Deterministic::new(vec![0x5b, 0x0a, 0x4d, 0x21]))
        .insecure_random_seed(0)
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .build()
}

/// Time stands still at the Unix epoch: plugins get `now` in their input.
struct FrozenClock;

impl HostWallClock for FrozenClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

impl HostMonotonicClock for FrozenClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

/// A guest stdout / stderr that appends each written chunk, line by line,
/// to the plugin's log buffer.
#[derive(Clone)]
struct LogPipe {
    log: Arc<LogBuffer>,
    source: LogSource,
}

impl IsTerminal for LogPipe {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for LogPipe {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        // Only the p2 stream below is used by p2 guests.
        Box::new(tokio::io::sink())
    }

    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for LogPipe {
    async fn ready(&mut self) {}
}

#[wasmtime_wasi::async_trait]
impl OutputStream for LogPipe {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        let level = match self.source {
            LogSource::Stderr => LogLevel::Warn,
            _ => LogLevel::Info,
        };
        let text = String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_WRITE)]);
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            self.log.push(level, self.source, line);
        }
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(MAX_WRITE)
    }
}
