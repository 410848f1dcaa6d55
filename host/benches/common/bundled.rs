//! The bundled plugins, loaded and activated for the benchmarks.
#![allow(dead_code)] // each benchmark uses part of it

use std::sync::Arc;

use switchboard::bundled::BUNDLED;
use switchboard::engine::Engine;
use switchboard::plugins::{
    EscalationRule, KpiDefinition, LoadedPlugin, Manifest, PluginRuntime, RoutingPolicy,
};

/// The bundled plugin whose crate is `name`, loaded into `rt`.
pub fn load(rt: &PluginRuntime, name: &str) -> Arc<LoadedPlugin> {
    let p = BUNDLED
        .iter()
        .find(|p| p.crate_name == name)
        .expect("bundled");
    rt.load(Manifest::from_json(p.manifest).expect("manifest"), p.wasm)
        .expect("load")
}

/// Activate the bundled routing policy, escalation rule and KPI
/// definition (default configs) in `engine`'s slots; the three plugins.
pub fn activate_all(engine: &Engine, rt: &PluginRuntime) -> [Arc<LoadedPlugin>; 3] {
    let plugins = [
        load(rt, "skill-routing"),
        load(rt, "complaint-escalation"),
        load(rt, "core-kpis"),
    ];
    engine.set_routing(Some(Arc::new(
        plugins[0]
            .activate::<RoutingPolicy>(None)
            .expect("activate"),
    )));
    engine.escalation().activate(
        "complaint-escalation",
        Arc::new(
            plugins[1]
                .activate::<EscalationRule>(None)
                .expect("activate"),
        ),
    );
    engine
        .activate_kpi(
            "core-kpis",
            Arc::new(
                plugins[2]
                    .activate::<KpiDefinition>(None)
                    .expect("activate"),
            ),
        )
        .expect("measures");
    plugins
}
