//! KPI definitions declare measures and turn each event into samples (the
//! WIT interface `switchboard:rules/kpi`, world `kpi-definition`).
//!
//! The host aggregates samples incrementally into time buckets per
//! dimension, so a query never rescans history. Implement [`KpiDefinition`]
//! and export it with [`export_kpi_definition!`](crate::export_kpi_definition).
//!
//! ```
//! use switchboard_sdk::kpi::{Emission, Sample};
//!
//! // 1 of 1 contacts answered within the threshold, in queue "billing".
//! let e = Emission::Record(Sample::ratio("service_level", 1.0, 1.0).with_dimension("queue", "billing"));
//! # let _ = e;
//! ```

pub use crate::__private::kpi_iface::{Aggregation, Emission};

/// A measure a KPI definition produces: unique name, unit, how its samples
/// combine, and a description.
pub use crate::__private::kpi_iface::Measure;

/// What a KPI definition sees of one event: the event, the contact and the
/// customer's history (none for agent events), and the agent involved.
pub use crate::__private::kpi_iface::KpiInput;

/// One sample of a measure, with its dimensions (queue, agent, channel, ...).
/// See [`Sample::value`] and [`Sample::ratio`].
pub use crate::__private::kpi_iface::Sample;

/// Names an earlier sample (measure and id) to retract.
pub use crate::__private::kpi_iface::SampleRef;
use crate::types::KeyValue;

/// A KPI definition: declares its measures and emits samples for events.
///
/// Built once per instance by [`new`](Self::new) from the validated
/// configuration; the host calls [`measures`](Self::measures) once, then
/// [`on_event`](Self::on_event) for every contact and agent event.
pub trait KpiDefinition: Sized + 'static {
    /// The plugin's configuration, deserialized from the JSON the host already
    /// validated against the manifest's JSON Schema.
    type Config: serde::de::DeserializeOwned;

    /// Build the definition from its configuration. An error makes the
    /// activation fail, with the message shown to the admin.
    fn new(config: Self::Config) -> Result<Self, String>;

    /// The measures this definition produces; every sample must name one.
    fn measures(&self) -> Vec<Measure>;

    /// Turn one event into samples (usually none or a few). An error is a
    /// plugin failure and the slot's fail policy applies.
    fn on_event(&self, input: KpiInput) -> Result<Vec<Emission>, String>;
}

impl Measure {
    /// A measure named `name` (unique within the plugin), in `unit`,
    /// combined with `aggregation`.
    pub fn new(
        name: impl Into<String>,
        unit: impl Into<String>,
        aggregation: Aggregation,
        description: impl Into<String>,
    ) -> Self {
        Measure {
            name: name.into(),
            unit: unit.into(),
            aggregation,
            description: description.into(),
        }
    }
}

impl Sample {
    /// A sample of a `sum`, `mean`, `min` or `max` measure, with no id and no
    /// dimensions.
    pub fn value(measure: impl Into<String>, value: f64) -> Self {
        Sample {
            measure: measure.into(),
            id: None,
            dimensions: Vec::new(),
            value,
            denominator: 0.0,
        }
    }

    /// A sample of a `ratio` measure: adds `numerator` and `denominator` to
    /// the bucket's sums.
    pub fn ratio(measure: impl Into<String>, numerator: f64, denominator: f64) -> Self {
        Sample {
            measure: measure.into(),
            id: None,
            dimensions: Vec::new(),
            value: numerator,
            denominator,
        }
    }

    /// Give the sample an id (unique per measure) so it can later be replaced
    /// or retracted.
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Add a dimension, e.g. `("queue", "billing")`.
    pub fn with_dimension(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.dimensions.push(KeyValue::new(key, value));
        self
    }

    /// Replace the dimensions.
    pub fn with_dimensions(mut self, dimensions: Vec<KeyValue>) -> Self {
        self.dimensions = dimensions;
        self
    }

    /// The value of dimension `key`, if set.
    pub fn dimension(&self, key: &str) -> Option<&str> {
        self.dimensions
            .iter()
            .find(|kv| kv.key == key)
            .map(|kv| kv.value.as_str())
    }
}

/// Export a [`KpiDefinition`] as the component's `kpi` interface.
///
/// Invoke it once, at the top level of the plugin crate:
///
/// ```ignore
/// switchboard_sdk::export_kpi_definition!(MyKpis);
/// ```
///
/// `configure` behaves as described for
/// [`export_routing_policy!`](crate::export_routing_policy); `on-event` before
/// a successful `configure` returns an error. `measures` cannot return an
/// error in WIT, so calling it before `configure` traps with a message
/// naming the plugin.
#[macro_export]
macro_rules! export_kpi_definition {
    ($plugin:ty) => {
        const _: () = {
            #[allow(dead_code)] // never constructed: it only names the Guest impl
            struct __SwitchboardKpiDefinition;

            impl $crate::__private::kpi_iface::Guest for __SwitchboardKpiDefinition {
                fn configure(
                    config: ::std::string::String,
                ) -> ::core::result::Result<(), ::std::string::String> {
                    $crate::__private::configure::<
                        $plugin,
                        <$plugin as $crate::kpi::KpiDefinition>::Config,
                    >(
                        ::core::env!("CARGO_PKG_NAME"),
                        &config,
                        <$plugin as $crate::kpi::KpiDefinition>::new,
                    )
                }

                fn measures() -> ::std::vec::Vec<$crate::kpi::Measure> {
                    match $crate::__private::instance::<$plugin>(
                        ::core::env!("CARGO_PKG_NAME"),
                        "measures",
                    ) {
                        ::core::result::Result::Ok(plugin) => {
                            <$plugin as $crate::kpi::KpiDefinition>::measures(&plugin)
                        }
                        ::core::result::Result::Err(message) => ::core::panic!("{}", message),
                    }
                }

                fn on_event(
                    input: $crate::kpi::KpiInput,
                ) -> ::core::result::Result<
                    ::std::vec::Vec<$crate::kpi::Emission>,
                    ::std::string::String,
                > {
                    let plugin = $crate::__private::instance::<$plugin>(
                        ::core::env!("CARGO_PKG_NAME"),
                        "on-event",
                    )?;
                    <$plugin as $crate::kpi::KpiDefinition>::on_event(&plugin, input)
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
            > = <__SwitchboardKpiDefinition as $crate::__private::kpi_iface::Guest>::configure;

            // The exports' symbol names (`switchboard:rules/...#...`) only make
            // sense to wasm-ld; natively they would break cdylib linking.
            #[cfg(target_arch = "wasm32")]
            $crate::__private::kpi_world::export_kpi_world!(
                __SwitchboardKpiDefinition with_types_in $crate::__private::kpi_world
            );
        };
    };
}
