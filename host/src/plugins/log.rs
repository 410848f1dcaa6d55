//! Per-plugin log buffers: what a guest writes through the `log` import, or
//! to stdout / stderr, lands here (bounded), never on the host's stdout.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use parking_lot::Mutex;

/// Severity of a plugin log line.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Very detailed tracing.
    Trace,
    /// Debugging detail.
    Debug,
    /// Normal operation.
    Info,
    /// Something unexpected that the plugin handled.
    Warn,
    /// Something the plugin could not handle.
    Error,
}

/// Where a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogSource {
    /// The `switchboard:rules/log` import.
    Guest,
    /// The guest's WASI stdout.
    Stdout,
    /// The guest's WASI stderr.
    Stderr,
}

/// One line of a plugin log.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct LogLine {
    /// Position in the buffer's history, counting lines that were dropped.
    pub seq: u64,
    /// Host time when the line was written, in milliseconds since the Unix
    /// epoch.
    #[serde(serialize_with = "epoch_millis")]
    #[schema(value_type = i64)]
    pub at: SystemTime,
    pub level: LogLevel,
    pub source: LogSource,
    /// The text, truncated to the buffer's line limit.
    pub message: String,
}

fn epoch_millis<S: serde::Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    let ms = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    s.serialize_i64(ms)
}

/// Called with every line as it is written (see [`LogBuffer::follow`]).
pub type Follower = Box<dyn Fn(&LogLine) + Send + Sync>;

/// A bounded ring of log lines for one plugin version. When full, the oldest
/// line is dropped; [`LogBuffer::dropped`] counts how many were.
pub struct LogBuffer {
    lines: Mutex<VecDeque<LogLine>>,
    capacity: usize,
    max_line_bytes: usize,
    written: AtomicU64,
    followers: parking_lot::RwLock<Vec<Follower>>,
}

impl std::fmt::Debug for LogBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogBuffer")
            .field("capacity", &self.capacity)
            .field("written", &self.written)
            .finish_non_exhaustive()
    }
}

impl LogBuffer {
    /// Lines kept by default.
    pub const DEFAULT_CAPACITY: usize = 512;
    /// Bytes kept of each line by default.
    pub const DEFAULT_MAX_LINE_BYTES: usize = 2048;

    /// A buffer keeping at most `capacity` lines of at most `max_line_bytes` each.
    pub fn new(capacity: usize, max_line_bytes: usize) -> Self {
        Self {
            lines: Mutex::new(VecDeque::with_capacity(capacity.min(64))),
            capacity: capacity.max(1),
            max_line_bytes: max_line_bytes.max(16),
            written: AtomicU64::new(0),
            followers: Default::default(),
        }
    }

    /// Call `f` with every line from now on, as it is written, on the
    /// thread of the call that writes it (a live tail: keep `f` short,
    /// e.g. a channel send).
    pub fn follow(&self, f: impl Fn(&LogLine) + Send + Sync + 'static) {
        self.followers.write().push(Box::new(f));
    }

    /// Append a line, truncating it at a character boundary if it is too long.
    pub fn push(&self, level: LogLevel, source: LogSource, message: &str) {
        let message = truncate(message, self.max_line_bytes);
        let seq = self.written.fetch_add(1, Ordering::Relaxed);
        let line = LogLine {
            seq,
            at: SystemTime::now(),
            level,
            source,
            message,
        };
        let followers = self.followers.read();
        for f in followers.iter() {
            f(&line);
        }
        drop(followers);
        let mut lines = self.lines.lock();
        if lines.len() == self.capacity {
            lines.pop_front();
        }
        lines.push_back(line);
    }

    /// The lines currently held, oldest first.
    pub fn lines(&self) -> Vec<LogLine> {
        self.lines.lock().iter().cloned().collect()
    }

    /// Lines written since the buffer was created (held or dropped).
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    /// Lines dropped because the buffer was full.
    pub fn dropped(&self) -> u64 {
        self.written() - self.lines.lock().len() as u64
    }

    /// The most lines this buffer holds.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

impl Default for LogBuffer {
    fn default() -> Self {
        Self::new(Self::DEFAULT_CAPACITY, Self::DEFAULT_MAX_LINE_BYTES)
    }
}

fn truncate(message: &str, max: usize) -> String {
    if message.len() <= max {
        return message.to_owned();
    }
    let mut end = max;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}… [truncated {} bytes]",
        &message[..end],
        message.len() - end
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_drops_oldest_and_counts() {
        let buf = LogBuffer::new(3, 64);
        for i in 0..5 {
            buf.push(LogLevel::Info, LogSource::Guest, &format!("line {i}"));
        }
        let lines = buf.lines();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0].message, "line 2");
        assert_eq!(lines[2].seq, 4);
        assert_eq!(buf.dropped(), 2);
    }

    #[test]
    fn long_lines_are_truncated_on_a_char_boundary() {
        let buf = LogBuffer::new(4, 16);
        buf.push(LogLevel::Warn, LogSource::Stdout, &"한".repeat(20));
        let msg = &buf.lines()[0].message;
        assert!(msg.starts_with("한한한한한"), "{msg}");
        assert!(msg.contains("truncated"), "{msg}");
    }
}
