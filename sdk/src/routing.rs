//! Routing policies decide which queue, priority and skills a contact needs
//! (the WIT interface `switchboard:rules/routing`, world `routing-policy`).
//!
//! The host then matches an agent (skills, proficiency, capacity, selection
//! strategy) and applies the relaxation steps while the contact waits.
//! Implement [`RoutingPolicy`] and export it with
//! [`export_routing_policy!`](crate::export_routing_policy).

pub use crate::__private::routing_iface::{
    PreferredAgent, RelaxationAction, RelaxationStep, RoutingDecision, RoutingInput,
    SkillPreference,
};

/// A routing policy: turns a [`RoutingInput`] into a [`RoutingDecision`].
///
/// The host creates the policy once per instance through [`new`](Self::new)
/// with the configuration it validated against the manifest's JSON Schema,
/// then calls [`route`](Self::route) for every contact. A policy is a pure
/// function of its configuration and its input: everything it may depend on
/// (history, queues, skills, the time) is in the input.
pub trait RoutingPolicy: Sized + 'static {
    /// The plugin's configuration, deserialized from the JSON the host already
    /// validated against the manifest's JSON Schema.
    type Config: serde::de::DeserializeOwned;

    /// Build the policy from its configuration. An error makes the activation
    /// fail, with the message shown to the admin.
    fn new(config: Self::Config) -> Result<Self, String>;

    /// Decide how to route one contact. An error is a plugin failure: the
    /// slot's fail policy (fail-open, fail-closed, last-good) applies. Prefer
    /// a decision with a clear `reason` over an error.
    fn route(&self, input: RoutingInput) -> Result<RoutingDecision, String>;
}

impl RoutingDecision {
    /// A decision that puts the contact in `queue` at `priority`, with no skill
    /// requirements, no preferred agent, no relaxation, no tags and an empty
    /// reason: a starting point to fill in.
    pub fn to_queue(queue: impl Into<String>, priority: u32) -> Self {
        RoutingDecision {
            queue: queue.into(),
            priority,
            required_skills: Vec::new(),
            preferred_skills: Vec::new(),
            team: None,
            language: None,
            preferred_agent: None,
            relaxation: Vec::new(),
            tags: Vec::new(),
            attributes: Vec::new(),
            reason: String::new(),
        }
    }
}

/// Export a [`RoutingPolicy`] as the component's `routing` interface.
///
/// Invoke it once, at the top level of the plugin crate:
///
/// ```ignore
/// switchboard_sdk::export_routing_policy!(MyPolicy);
/// ```
///
/// The generated `configure` parses the host's JSON into
/// [`RoutingPolicy::Config`] (errors name the plugin crate and the JSON
/// problem, e.g. `my-policy: invalid configuration: missing field
/// `default_queue` at line 1 column 2`) and stores the policy built by
/// [`RoutingPolicy::new`]; calling `configure` again replaces it. `route`
/// before a successful `configure` returns an error rather than trapping.
#[macro_export]
macro_rules! export_routing_policy {
    ($plugin:ty) => {
        const _: () = {
            #[allow(dead_code)] // never constructed: it only names the Guest impl
            struct __SwitchboardRoutingPolicy;

            impl $crate::__private::routing_iface::Guest for __SwitchboardRoutingPolicy {
                fn configure(
                    config: ::std::string::String,
                ) -> ::core::result::Result<(), ::std::string::String> {
                    $crate::__private::configure::<
                        $plugin,
                        <$plugin as $crate::routing::RoutingPolicy>::Config,
                    >(
                        ::core::env!("CARGO_PKG_NAME"),
                        &config,
                        <$plugin as $crate::routing::RoutingPolicy>::new,
                    )
                }

                fn route(
                    input: $crate::routing::RoutingInput,
                ) -> ::core::result::Result<$crate::routing::RoutingDecision, ::std::string::String>
                {
                    let plugin = $crate::__private::instance::<$plugin>(
                        ::core::env!("CARGO_PKG_NAME"),
                        "route",
                    )?;
                    <$plugin as $crate::routing::RoutingPolicy>::route(&plugin, input)
                }
            }

            // Natively nothing is exported; keep the glue (and so the plugin's
            // constructor) reachable so an unexported plugin type is not dead code.
            #[cfg(not(target_arch = "wasm32"))]
            #[used]
            static __SWITCHBOARD_CONFIGURE: fn(
                ::std::string::String,
            ) -> ::core::result::Result<
                (),
                ::std::string::String,
            > = <__SwitchboardRoutingPolicy as $crate::__private::routing_iface::Guest>::configure;

            // The exports' symbol names (`switchboard:rules/...#...`) only make
            // sense to wasm-ld; natively they would break cdylib linking.
            #[cfg(target_arch = "wasm32")]
            $crate::__private::routing_world::export_routing_world!(
                __SwitchboardRoutingPolicy with_types_in $crate::__private::routing_world
            );
        };
    };
}
