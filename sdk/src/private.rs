//! Everything the export macros need and plugin authors should not see: the
//! `wit_bindgen::generate!` output for the four worlds and the glue that keeps
//! one configured plugin instance per component.
//!
//! Not part of the public API: names here may change in any release.

#![allow(missing_docs)]

use std::any::Any;
use std::cell::RefCell;
use std::rc::Rc;

pub use wit_bindgen;

// The `types` and `log` interfaces are generated once, here, and every other
// world points at them through `with`, so `types::Contact` is one Rust type for
// all plugin kinds. `pub_export_macro` keeps each world's exports out of this
// library's custom section: they are only emitted where a plugin invokes its
// export macro, so a routing plugin never claims to export `kpi`.
pub mod routing_world {
    wit_bindgen::generate!({
        world: "routing-policy",
        path: "../wit",
        pub_export_macro: true,
        export_macro_name: "export_routing_world",
        default_bindings_module: "::switchboard_sdk::__private::routing_world",
        runtime_path: "::switchboard_sdk::__private::wit_bindgen::rt",
        additional_derives: [serde::Serialize, serde::Deserialize, Clone, PartialEq],
    });
}

pub mod escalation_world {
    wit_bindgen::generate!({
        world: "escalation-rule",
        path: "../wit",
        pub_export_macro: true,
        export_macro_name: "export_escalation_world",
        default_bindings_module: "::switchboard_sdk::__private::escalation_world",
        runtime_path: "::switchboard_sdk::__private::wit_bindgen::rt",
        additional_derives: [serde::Serialize, serde::Deserialize, Clone, PartialEq],
        with: {
            "switchboard:rules/types@0.2.0": ::switchboard_sdk::__private::routing_world::switchboard::rules::types,
            "switchboard:rules/log@0.2.0": ::switchboard_sdk::__private::routing_world::switchboard::rules::log,
        },
    });
}

pub mod compliance_world {
    wit_bindgen::generate!({
        world: "compliance-check",
        path: "../wit",
        pub_export_macro: true,
        export_macro_name: "export_compliance_world",
        default_bindings_module: "::switchboard_sdk::__private::compliance_world",
        runtime_path: "::switchboard_sdk::__private::wit_bindgen::rt",
        additional_derives: [serde::Serialize, serde::Deserialize, Clone, PartialEq],
        with: {
            "switchboard:rules/types@0.2.0": ::switchboard_sdk::__private::routing_world::switchboard::rules::types,
            "switchboard:rules/log@0.2.0": ::switchboard_sdk::__private::routing_world::switchboard::rules::log,
        },
    });
}

pub mod kpi_world {
    wit_bindgen::generate!({
        world: "kpi-definition",
        path: "../wit",
        pub_export_macro: true,
        export_macro_name: "export_kpi_world",
        default_bindings_module: "::switchboard_sdk::__private::kpi_world",
        runtime_path: "::switchboard_sdk::__private::wit_bindgen::rt",
        additional_derives: [serde::Serialize, serde::Deserialize, Clone, PartialEq],
        with: {
            "switchboard:rules/types@0.2.0": ::switchboard_sdk::__private::routing_world::switchboard::rules::types,
            "switchboard:rules/log@0.2.0": ::switchboard_sdk::__private::routing_world::switchboard::rules::log,
        },
    });
}

/// The generated interface modules, by short name.
pub use compliance_world::exports::switchboard::rules::compliance as compliance_iface;
pub use escalation_world::exports::switchboard::rules::escalation as escalation_iface;
pub use kpi_world::exports::switchboard::rules::kpi as kpi_iface;
pub use routing_world::exports::switchboard::rules::routing as routing_iface;
pub use routing_world::switchboard::rules::log as log_iface;
pub use routing_world::switchboard::rules::types as types_iface;

thread_local! {
    // The configured plugin. A component exports exactly one world, so one
    // slot is enough; `dyn Any` lets the SDK own it without knowing the type.
    // Wasm components are single-threaded, so a thread-local is the whole
    // instance's state.
    static INSTANCE: RefCell<Option<Rc<dyn Any>>> = const { RefCell::new(None) };
}

/// Parse `config` as the plugin's configuration type, with an error that
/// names the plugin and says what was wrong and where.
pub fn parse_config<C: serde::de::DeserializeOwned>(
    plugin: &str,
    config: &str,
) -> Result<C, String> {
    serde_json::from_str(config).map_err(|e| format!("{plugin}: invalid configuration: {e}"))
}

/// `configure` for every kind: parse, construct, store. The previous instance
/// is dropped first, so after a failed reconfiguration the plugin refuses
/// calls instead of silently running with the old configuration.
pub fn configure<T: 'static, C: serde::de::DeserializeOwned>(
    plugin: &str,
    config: &str,
    new: fn(C) -> Result<T, String>,
) -> Result<(), String> {
    INSTANCE.with(|slot| slot.borrow_mut().take());
    let config = parse_config::<C>(plugin, config)?;
    let instance = new(config).map_err(|e| format!("{plugin}: configuration rejected: {e}"))?;
    INSTANCE.with(|slot| *slot.borrow_mut() = Some(Rc::new(instance) as Rc<dyn Any>));
    Ok(())
}

/// The configured instance, or the error every call made too early returns.
pub fn instance<T: 'static>(plugin: &str, function: &str) -> Result<Rc<T>, String> {
    // Clone the `Rc` out so the borrow ends before the plugin code runs.
    let any = INSTANCE
        .with(|slot| slot.borrow().clone())
        .ok_or_else(|| format!("{plugin}: {function} called before configure"))?;
    any.downcast::<T>().map_err(|_| {
        format!("{plugin}: {function}: the configured instance has an unexpected type")
    })
}

/// Forget the configured instance (used by tests of the glue itself).
pub fn reset() {
    INSTANCE.with(|slot| slot.borrow_mut().take());
}
