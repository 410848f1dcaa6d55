//! Escalation rules watch every contact event (and the timers they asked
//! for) and decide whether to raise priority, move, tag, page a supervisor,
//! mark a complaint, or start and stop deadline clocks (the WIT interface
//! `switchboard:rules/escalation`, world `escalation-rule`).
//!
//! Implement [`EscalationRule`] and export it with
//! [`export_escalation_rule!`](crate::export_escalation_rule).

pub use crate::__private::escalation_iface::{DeadlineStart, NotifyTarget, Recheck};

/// Everything an escalation decision may depend on: the event, the contact
/// as it is now, the customer's history, the contact's queue, the deadline
/// clocks running on the contact, and open incidents.
pub use crate::__private::escalation_iface::EscalationInput;

/// How urgent a notification or complaint is, from `Low` to `Critical`
/// (ordered, so the most urgent of several is their maximum).
pub use crate::__private::escalation_iface::Urgency;

/// A message to a supervisor, team or agent.
pub use crate::__private::escalation_iface::Notification;

/// Marks the contact as a complaint in `category` (e.g. `billing`,
/// `crisis:outage`).
pub use crate::__private::escalation_iface::Complaint;

/// One thing an escalation rule asks the host to do.
pub use crate::__private::escalation_iface::EscalationAction;

/// The result of one event: the actions to take (in order), an optional
/// re-check, and the reason kept in the audit log.
pub use crate::__private::escalation_iface::EscalationOutcome;

/// An escalation rule: reacts to one event of a contact at a time.
///
/// Built once per instance by [`new`](Self::new) from the validated
/// configuration; [`on_event`](Self::on_event) is then called for every
/// contact event, including the `timer-fired` re-checks and deadline warnings
/// the rule asked for.
pub trait EscalationRule: Sized + 'static {
    /// The plugin's configuration, deserialized from the JSON the host already
    /// validated against the manifest's JSON Schema.
    type Config: serde::de::DeserializeOwned;

    /// Build the rule from its configuration. An error makes the activation
    /// fail, with the message shown to the admin.
    fn new(config: Self::Config) -> Result<Self, String>;

    /// React to one event. Return an outcome with no actions when nothing
    /// needs doing; an error is a plugin failure and the slot's fail policy
    /// applies.
    fn on_event(&self, input: EscalationInput) -> Result<EscalationOutcome, String>;
}

impl EscalationOutcome {
    /// An outcome with no actions and no re-check, explained by `reason`.
    pub fn nothing(reason: impl Into<String>) -> Self {
        EscalationOutcome {
            actions: Vec::new(),
            recheck: None,
            reason: reason.into(),
        }
    }
}

/// Export an [`EscalationRule`] as the component's `escalation` interface.
///
/// Invoke it once, at the top level of the plugin crate:
///
/// ```ignore
/// switchboard_sdk::export_escalation_rule!(MyRule);
/// ```
///
/// `configure` behaves as described for
/// [`export_routing_policy!`](crate::export_routing_policy); `on-event` before
/// a successful `configure` returns an error.
#[macro_export]
macro_rules! export_escalation_rule {
    ($plugin:ty) => {
        const _: () = {
            #[allow(dead_code)] // never constructed: it only names the Guest impl
            struct __SwitchboardEscalationRule;

            impl $crate::__private::escalation_iface::Guest for __SwitchboardEscalationRule {
                fn configure(
                    config: ::std::string::String,
                ) -> ::core::result::Result<(), ::std::string::String> {
                    $crate::__private::configure::<
                        $plugin,
                        <$plugin as $crate::escalation::EscalationRule>::Config,
                    >(
                        ::core::env!("CARGO_PKG_NAME"),
                        &config,
                        <$plugin as $crate::escalation::EscalationRule>::new,
                    )
                }

                fn on_event(
                    input: $crate::escalation::EscalationInput,
                ) -> ::core::result::Result<
                    $crate::escalation::EscalationOutcome,
                    ::std::string::String,
                > {
                    let plugin = $crate::__private::instance::<$plugin>(
                        ::core::env!("CARGO_PKG_NAME"),
                        "on-event",
                    )?;
                    <$plugin as $crate::escalation::EscalationRule>::on_event(&plugin, input)
                }
            }

            // Natively nothing is exported; keep the glue (and so the plugin's
            // constructor) reachable so an unexported plugin type is not dead code.
            #[cfg(not(target_arch = "wasm32"))]
            #[used]
            static __SWITCHBOARD_CONFIGURE: fn(
                ::std::string::String,
            ) -> ::core::result::Result<(), ::std::string::String> =
                <__SwitchboardEscalationRule as $crate::__private::escalation_iface::Guest>::configure;

            // The exports' symbol names (`switchboard:rules/...#...`) only make
            // sense to wasm-ld; natively they would break cdylib linking.
            #[cfg(target_arch = "wasm32")]
            $crate::__private::escalation_world::export_escalation_world!(
                __SwitchboardEscalationRule with_types_in $crate::__private::escalation_world
            );
        };
    };
}
