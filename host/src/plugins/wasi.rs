//! The locked-down WASI context linked for guests built for `wasm32-wasip2`
//! (Rust std, C with wasi-libc, ...): no preopened directories, no
//! environment, no arguments, no sockets, stdin closed, stdout and stderr
//! captured into the plugin log, a frozen clock and fixed "random" bytes, so
//! a call depends on nothing but its input and config and can be replayed.
//! Nothing a guest can call waits: sleeps and `wasi:io/poll` return at once
//! (time is frozen, so every sleep is already over), and no host thread is
//! ever blocked by a guest.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::FutureExt as _;
use wasmtime::component::{HasData, Linker, Resource, ResourceTable};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::clocks::{WasiClocksCtxView, WasiClocksView as _};
use wasmtime_wasi::p2::bindings::clocks::monotonic_clock;
use wasmtime_wasi::p2::bindings::io::poll as async_poll;
use wasmtime_wasi::p2::bindings::sync::io::poll;
use wasmtime_wasi::p2::{DynPollable, OutputStream, Pollable, StreamResult, subscribe};
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxBuilder, WasiView};

use super::log::{LogBuffer, LogLevel, LogSource};

/// Link the sandboxed WASI 0.2 interfaces: wasmtime-wasi's, with
/// `wasi:io/poll` and the monotonic clock replaced by versions that never
/// wait (see [`NoWait`]).
pub(crate) fn add_to_linker<T: WasiView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    wasmtime_wasi::p2::add_to_linker_sync(linker)?;
    // Redefine the two interfaces in place; everything else stays as linked.
    linker.allow_shadowing(true);
    let replaced =
        poll::add_to_linker::<T, NoWait>(linker, |t| NoWaitView(t.clocks())).and_then(|()| {
            monotonic_clock::add_to_linker::<T, NoWait>(linker, |t| NoWaitView(t.clocks()))
        });
    linker.allow_shadowing(false);
    replaced
}

/// `wasi:io/poll` and `wasi:clocks/monotonic-clock` for a guest that may not
/// wait. wasmtime-wasi's own versions block the calling thread (in a Tokio
/// runtime) until a sleep's real deadline passes, inside a host call where
/// neither fuel nor the epoch deadline can stop it: a guest calling
/// `sleep(10 s)` held a host thread for 10 s. Here the monotonic clock is the
/// frozen one of the context, a subscription to it is ready at once (time
/// does not pass, so any sleep is already over), and `poll`, `block` and
/// `ready` look at each pollable once, without waiting. A guest that keeps
/// polling something never ready spins until its fuel runs out.
struct NoWait;

impl HasData for NoWait {
    type Data<'a> = NoWaitView<'a>;
}

struct NoWaitView<'a>(WasiClocksCtxView<'a>);

impl NoWaitView<'_> {
    fn table(&mut self) -> &mut ResourceTable {
        self.0.table
    }
}

/// A subscription that is over as soon as it is made.
struct Elapsed;

#[wasmtime_wasi::async_trait]
impl Pollable for Elapsed {
    async fn ready(&mut self) {}
}

impl monotonic_clock::Host for NoWaitView<'_> {
    fn now(&mut self) -> wasmtime::Result<monotonic_clock::Instant> {
        monotonic_clock::Host::now(&mut self.0)
    }

    fn resolution(&mut self) -> wasmtime::Result<monotonic_clock::Duration> {
        monotonic_clock::Host::resolution(&mut self.0)
    }

    fn subscribe_instant(
        &mut self,
        _when: monotonic_clock::Instant,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        elapsed(self.table())
    }

    fn subscribe_duration(
        &mut self,
        _duration: monotonic_clock::Duration,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        elapsed(self.table())
    }
}

fn elapsed(table: &mut ResourceTable) -> wasmtime::Result<Resource<DynPollable>> {
    let sleep = table.push(Elapsed)?;
    subscribe(table, sleep)
}

impl poll::Host for NoWaitView<'_> {
    fn poll(&mut self, pollables: Vec<Resource<DynPollable>>) -> wasmtime::Result<Vec<u32>> {
        let all = u32::try_from(pollables.len())?;
        // `poll` must answer with at least one index; when none is ready
        // now, the wait is declared over for all of them (a stream then
        // reports its real state when the guest reads or writes it).
        match async_poll::Host::poll(self.table(), pollables).now_or_never() {
            Some(ready) => ready,
            None => Ok((0..all).collect()),
        }
    }
}

impl poll::HostPollable for NoWaitView<'_> {
    fn ready(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<bool> {
        async_poll::HostPollable::ready(self.table(), pollable)
            .now_or_never()
            .unwrap_or(Ok(false))
    }

    fn block(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        async_poll::HostPollable::block(self.table(), pollable)
            .now_or_never()
            .unwrap_or(Ok(()))
    }

    fn drop(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        async_poll::HostPollable::drop(self.table(), pollable)
    }
}

/// Bytes a guest may write to stdout/stderr per write call before the host
/// cuts it off (the log buffer truncates lines anyway).
const MAX_WRITE: usize = 64 * 1024;

/// The bytes a guest gets from `wasi:random` (secure and insecure alike):
/// a fixed pseudo-random sequence that starts over at every call
/// ([`CallRandom::rewind`], done when a call is armed). A plugin is a pure
/// function of its input and config: the same call on a fresh or a warm
/// instance sees the same bytes, so a recorded decision replays exactly
/// (issue 20). The sequence is splitmix64 over the byte position, so a
/// guest that seeds a hash table from it gets well-spread bits, not a
/// short repeating pattern.
#[derive(Clone, Default)]
pub(crate) struct CallRandom(Arc<std::sync::atomic::AtomicU64>);

impl CallRandom {
    /// Start the sequence over (before each call).
    pub(crate) fn rewind(&self) {
        self.0.store(0, std::sync::atomic::Ordering::Relaxed);
    }

    fn byte(&self) -> u8 {
        let i = self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut z = (i / 8).wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        z.to_le_bytes()[(i % 8) as usize]
    }
}

impl rand::TryRng for CallRandom {
    type Error = std::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        let mut b = [0; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let mut b = [0; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for b in dst {
            *b = self.byte();
        }
        Ok(())
    }
}

/// A sandboxed WASI context whose `wasi:random` is `random` (both the
/// secure and the insecure interface read the one sequence).
pub(crate) fn sandboxed_ctx(log: &Arc<LogBuffer>, random: &CallRandom) -> WasiCtx {
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
        .secure_random(random.clone())
        .insecure_random(random.clone())
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A pollable that is never ready, such as a stream that never gets data.
    struct Never;

    #[wasmtime_wasi::async_trait]
    impl Pollable for Never {
        async fn ready(&mut self) {
            std::future::pending::<()>().await
        }
    }

    fn borrow(p: &Resource<DynPollable>) -> Resource<DynPollable> {
        Resource::new_borrow(p.rep())
    }

    #[test]
    fn sleeps_are_over_at_once_and_no_wait_blocks() {
        let mut wasi = sandboxed_ctx(&Arc::new(LogBuffer::default()), &CallRandom::default());
        let mut table = ResourceTable::new();
        let mut view = NoWaitView(WasiClocksCtxView {
            ctx: wasi.clocks(),
            table: &mut table,
        });
        assert_eq!(monotonic_clock::Host::now(&mut view).unwrap(), 0, "frozen");
        // An hour's sleep, and a wait for the end of time: both over.
        let hour = monotonic_clock::Host::subscribe_duration(&mut view, 3_600_000_000_000).unwrap();
        let never_time = monotonic_clock::Host::subscribe_instant(&mut view, u64::MAX).unwrap();
        assert!(poll::HostPollable::ready(&mut view, borrow(&hour)).unwrap());
        poll::HostPollable::block(&mut view, borrow(&never_time)).unwrap();
        let both = vec![borrow(&hour), borrow(&never_time)];
        assert_eq!(poll::Host::poll(&mut view, both).unwrap(), [0, 1]);

        // Something that is never ready: looked at once, never waited for.
        let never = view.table().push(Never).unwrap();
        let never = subscribe(view.table(), never).unwrap();
        assert!(!poll::HostPollable::ready(&mut view, borrow(&never)).unwrap());
        poll::HostPollable::block(&mut view, borrow(&never)).unwrap();
        let mixed = vec![borrow(&never), borrow(&hour)];
        assert_eq!(
            poll::Host::poll(&mut view, mixed).unwrap(),
            [1],
            "what is ready, when something is"
        );
        assert_eq!(
            poll::Host::poll(&mut view, vec![borrow(&never)]).unwrap(),
            [0],
            "the wait is declared over when nothing is"
        );
        assert!(
            poll::Host::poll(&mut view, vec![]).is_err(),
            "an empty list"
        );
        for p in [hour, never_time, never] {
            poll::HostPollable::drop(&mut view, p).unwrap();
        }
        assert!(
            view.table().is_empty(),
            "dropping frees what was subscribed"
        );
    }
}
