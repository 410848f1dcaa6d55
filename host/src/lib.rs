//! # switchboard
//!
//! The host runtime of switchboard, a contact-center rules platform. The host
//! owns every byte of state (contacts, agents, queues, the audit log); every
//! piece of business judgement (routing, escalation, compliance, KPIs) lives
//! in a sandboxed WebAssembly component written against the WIT contract in
//! `wit/`.
//!
//! Modules, and which way they may call:
//! - [`domain`]: contacts, agents, queues and the lifecycle state machine (pure);
//! - [`plugins`]: the Wasm runtime: one engine, a compile cache, loading and
//!   validation, bounded calls, plugin log buffers;
//! - [`engine`]: the contact pipeline: ingest, route, persist, audit;
//! - [`store`]: durable storage (sled) with group commit;
//! - [`audit`]: the hash-chained audit log, on the store;
//! - [`bundled`]: the plugins compiled into this binary;
//! - [`cli`]: the `switchboard` command line, [`config`] its config file;
//! - [`server`]: the HTTP server;
//! - [`simulate`]: a seeded contact-center day driven through the API.

pub mod ab;
pub mod audit;
pub mod auth;
pub mod bundled;
pub mod cli;
pub mod client;
pub mod config;
pub mod domain;
pub mod engine;
pub mod fixtures;
pub mod metrics;
pub(crate) mod output;
pub mod plugins;
pub mod registry;
pub mod replay;
pub mod server;
pub mod shadow;
pub mod signing;
pub mod simulate;
pub mod store;
pub mod toolchain;
pub mod whatif;
