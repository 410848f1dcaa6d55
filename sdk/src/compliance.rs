//! Compliance checks read an agent's draft reply before it is sent and say
//! whether it may go out, must be revised, needs a supervisor, or is blocked
//! (the WIT interface `switchboard:rules/compliance`, world
//! `compliance-check`).
//!
//! Implement [`ComplianceCheck`] and export it with
//! [`export_compliance_check!`](crate::export_compliance_check).
//!
//! [`Verdict`] and [`Severity`] are ordered from most to least permissive,
//! so the strictest of several is their maximum:
//!
//! ```
//! use switchboard_sdk::compliance::Verdict;
//!
//! let verdicts = [Verdict::Revise, Verdict::Approve, Verdict::Block];
//! assert_eq!(verdicts.into_iter().max(), Some(Verdict::Block));
//! ```

use std::ops::Range;

pub use crate::__private::compliance_iface::{Span, Verdict};

/// A draft reply: its text, the time, and who writes to whom about what.
pub use crate::__private::compliance_iface::Draft;

/// The contact and agent a draft belongs to.
pub use crate::__private::compliance_iface::DraftContext;

/// How serious a finding is, from `Info` to `Critical` (ordered).
pub use crate::__private::compliance_iface::Severity;

/// One problem found in a draft: which rule, how serious, a message for the
/// agent, where (a [`Span`] in chars) and an optional replacement.
pub use crate::__private::compliance_iface::Finding;

/// A check's answer: the verdict, the findings behind it, and the draft with
/// sensitive data masked if the check redacted any.
pub use crate::__private::compliance_iface::ComplianceResult;

/// A compliance check: vets one draft reply at a time.
///
/// Built once per instance by [`new`](Self::new) from the validated
/// configuration; [`check`](Self::check) is then called for every draft.
pub trait ComplianceCheck: Sized + 'static {
    /// The plugin's configuration, deserialized from the JSON the host already
    /// validated against the manifest's JSON Schema.
    type Config: serde::de::DeserializeOwned;

    /// Build the check from its configuration. An error makes the activation
    /// fail, with the message shown to the admin.
    fn new(config: Self::Config) -> Result<Self, String>;

    /// Vet one draft. A draft that breaks a rule gets a verdict, not an
    /// error; an error is a plugin failure and the slot's fail policy applies.
    fn check(&self, draft: Draft) -> Result<ComplianceResult, String>;
}

impl ComplianceResult {
    /// The result of a check that found nothing: approve, no findings, no
    /// redaction.
    pub fn approved() -> Self {
        ComplianceResult {
            verdict: Verdict::Approve,
            findings: Vec::new(),
            redacted_text: None,
        }
    }
}

impl Span {
    /// The span of `text[bytes]`, converted from byte offsets (what Rust's
    /// `str::find` and friends return) to Unicode scalar values, which is
    /// what the host expects.
    ///
    /// ```
    /// use switchboard_sdk::compliance::Span;
    ///
    /// let text = "안녕 card";
    /// let start = text.find("card").unwrap(); // 7: bytes
    /// assert_eq!(Span::from_byte_range(text, start..start + 4), Span { start: 3, end: 7 });
    /// ```
    ///
    /// Offsets inside a multi-byte character count that character as not yet
    /// reached; offsets past the end are clamped to the end.
    pub fn from_byte_range(text: &str, bytes: Range<usize>) -> Self {
        let to_chars = |byte: usize| {
            let byte = byte.min(text.len());
            let n = text.char_indices().take_while(|(i, _)| *i < byte).count();
            u32::try_from(n).unwrap_or(u32::MAX)
        };
        Span {
            start: to_chars(bytes.start),
            end: to_chars(bytes.end),
        }
    }

    /// The number of Unicode scalar values the span covers.
    pub fn len(&self) -> u32 {
        self.end.saturating_sub(self.start)
    }

    /// Whether the span covers nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Export a [`ComplianceCheck`] as the component's `compliance` interface.
///
/// Invoke it once, at the top level of the plugin crate:
///
/// ```ignore
/// switchboard_sdk::export_compliance_check!(MyCheck);
/// ```
///
/// `configure` behaves as described for
/// [`export_routing_policy!`](crate::export_routing_policy); `check` before a
/// successful `configure` returns an error.
#[macro_export]
macro_rules! export_compliance_check {
    ($plugin:ty) => {
        const _: () = {
            #[allow(dead_code)] // never constructed: it only names the Guest impl
            struct __SwitchboardComplianceCheck;

            impl $crate::__private::compliance_iface::Guest for __SwitchboardComplianceCheck {
                fn configure(
                    config: ::std::string::String,
                ) -> ::core::result::Result<(), ::std::string::String> {
                    $crate::__private::configure::<
                        $plugin,
                        <$plugin as $crate::compliance::ComplianceCheck>::Config,
                    >(
                        ::core::env!("CARGO_PKG_NAME"),
                        &config,
                        <$plugin as $crate::compliance::ComplianceCheck>::new,
                    )
                }

                fn check(
                    draft: $crate::compliance::Draft,
                ) -> ::core::result::Result<
                    $crate::compliance::ComplianceResult,
                    ::std::string::String,
                > {
                    let plugin = $crate::__private::instance::<$plugin>(
                        ::core::env!("CARGO_PKG_NAME"),
                        "check",
                    )?;
                    <$plugin as $crate::compliance::ComplianceCheck>::check(&plugin, draft)
                }
            }

            // Natively nothing is exported; keep the glue (and so the plugin's
            // constructor) reachable so an unexported plugin type is not dead code.
            #[cfg(not(target_arch = "wasm32"))]
            #[used]
            static __SWITCHBOARD_CONFIGURE: fn(
                ::std::string::String,
            ) -> ::core::result::Result<(), ::std::string::String> =
                <__SwitchboardComplianceCheck as $crate::__private::compliance_iface::Guest>::configure;

            // The exports' symbol names (`switchboard:rules/...#...`) only make
            // sense to wasm-ld; natively they would break cdylib linking.
            #[cfg(target_arch = "wasm32")]
            $crate::__private::compliance_world::export_compliance_world!(
                __SwitchboardComplianceCheck with_types_in $crate::__private::compliance_world
            );
        };
    };
}
