//! Host bindings generated from the WIT contract in `wit/`. WIT is the single
//! source of truth: no type here is written by hand. The shared `types` and
//! `log` interfaces are generated once (with the routing world) and reused
//! by the other three worlds.

#![allow(missing_docs, clippy::all)]

/// The `routing-policy` world.
pub mod routing {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "routing-policy",
        additional_derives: [serde::Serialize, serde::Deserialize, PartialEq, utoipa::ToSchema],
    });
    pub use exports::switchboard::rules::routing::*;
}

/// The `escalation-rule` world.
pub mod escalation {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "escalation-rule",
        with: {
            "switchboard:rules/types": super::routing::switchboard::rules::types,
            "switchboard:rules/log": super::routing::switchboard::rules::log,
        },
        additional_derives: [serde::Serialize, serde::Deserialize, PartialEq, utoipa::ToSchema],
    });
    pub use exports::switchboard::rules::escalation::*;
}

/// The `compliance-check` world.
pub mod compliance {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "compliance-check",
        with: {
            "switchboard:rules/types": super::routing::switchboard::rules::types,
            "switchboard:rules/log": super::routing::switchboard::rules::log,
        },
        additional_derives: [serde::Serialize, serde::Deserialize, PartialEq, utoipa::ToSchema],
    });
    pub use exports::switchboard::rules::compliance::*;
}

/// The `kpi-definition` world.
pub mod kpi {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "kpi-definition",
        with: {
            "switchboard:rules/types": super::routing::switchboard::rules::types,
            "switchboard:rules/log": super::routing::switchboard::rules::log,
        },
        additional_derives: [serde::Serialize, serde::Deserialize, PartialEq, utoipa::ToSchema],
    });
    pub use exports::switchboard::rules::kpi::*;
}

pub(crate) use routing::switchboard::rules::log as log_iface;
/// Types shared by every world (contacts, events, history, snapshots).
pub use routing::switchboard::rules::types;
