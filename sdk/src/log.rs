//! Writing to the plugin log (the WIT interface `switchboard:rules/log`).
//!
//! In a component these functions call the host's `log` import: lines land in
//! the plugin's bounded log buffer, readable through the admin API, and long
//! lines are truncated by the host. Compiled natively (e.g. in `cargo test`)
//! they write to stderr instead, so plugin logic is unit-testable without a
//! Wasm runtime.
//!
//! ```
//! use switchboard_sdk::log;
//!
//! log::info("routing started");
//! log::warn!("queue {} has no agents", "billing");
//! ```
//!
//! Plugins should not use `println!`: a plugin's stdout is not its log.

/// How important a log line is, from `Trace` (most verbose) to `Error`.
pub use crate::__private::log_iface::Level;

// The format macros live at the crate root (`#[macro_export]`); re-exported
// here so `log::info!(...)` reads like `log::info(...)`.
pub use crate::{debug, error, info, trace, warn};

/// Append one line at `level` to the plugin log.
pub fn log(level: Level, message: &str) {
    #[cfg(target_arch = "wasm32")]
    crate::__private::log_iface::log(level, message);
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("[plugin {}] {message}", level_name(level));
}

/// Append one line at level `trace`.
pub fn trace(message: &str) {
    log(Level::Trace, message);
}

/// Append one line at level `debug`.
pub fn debug(message: &str) {
    log(Level::Debug, message);
}

/// Append one line at level `info`.
pub fn info(message: &str) {
    log(Level::Info, message);
}

/// Append one line at level `warn`.
pub fn warn(message: &str) {
    log(Level::Warn, message);
}

/// Append one line at level `error`.
pub fn error(message: &str) {
    log(Level::Error, message);
}

/// The lower-case name of a level, as the host shows it.
pub fn level_name(level: Level) -> &'static str {
    match level {
        Level::Trace => "trace",
        Level::Debug => "debug",
        Level::Info => "info",
        Level::Warn => "warn",
        Level::Error => "error",
    }
}

/// Format and log one line at level `trace`: `trace!("{} waiting", n)`.
#[macro_export]
macro_rules! trace {
    ($($arg:tt)+) => { $crate::log::log($crate::log::Level::Trace, &::std::format!($($arg)+)) };
}

/// Format and log one line at level `debug`: `debug!("{} waiting", n)`.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)+) => { $crate::log::log($crate::log::Level::Debug, &::std::format!($($arg)+)) };
}

/// Format and log one line at level `info`: `info!("{} waiting", n)`.
#[macro_export]
macro_rules! info {
    ($($arg:tt)+) => { $crate::log::log($crate::log::Level::Info, &::std::format!($($arg)+)) };
}

/// Format and log one line at level `warn`: `warn!("{} waiting", n)`.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)+) => { $crate::log::log($crate::log::Level::Warn, &::std::format!($($arg)+)) };
}

/// Format and log one line at level `error`: `error!("{} waiting", n)`.
#[macro_export]
macro_rules! error {
    ($($arg:tt)+) => { $crate::log::log($crate::log::Level::Error, &::std::format!($($arg)+)) };
}
