//! The plugins compiled into this binary: the bundled rule library in
//! `plugins/`, built from source for `wasm32-wasip2` by `build.rs`.

/// A plugin shipped inside the `switchboard` binary.
#[derive(Debug, Clone, Copy)]
pub struct BundledPlugin {
    /// The crate it was built from, e.g. `skill-routing`.
    pub crate_name: &'static str,
    /// Its `manifest.json`.
    pub manifest: &'static str,
    /// The component bytes.
    pub wasm: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/plugins.rs"));
