//! The four export macros expand and type-check in a crate that depends on
//! nothing but the SDK (and serde for its config). A real plugin uses one;
//! their exports have distinct names, so all four fit in this test binary.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use serde::Deserialize;
use switchboard_sdk::prelude::*;

#[derive(Deserialize)]
pub struct NoConfig {}

struct Router;
impl RoutingPolicy for Router {
    type Config = NoConfig;
    fn new(_: NoConfig) -> Result<Self, String> {
        Ok(Router)
    }
    fn route(&self, input: RoutingInput) -> Result<RoutingDecision, String> {
        Ok(RoutingDecision::to_queue(input.contact.id, 1))
    }
}
export_routing_policy!(Router);

struct Escalator;
impl EscalationRule for Escalator {
    type Config = NoConfig;
    fn new(_: NoConfig) -> Result<Self, String> {
        Ok(Escalator)
    }
    fn on_event(&self, _: EscalationInput) -> Result<EscalationOutcome, String> {
        Ok(EscalationOutcome::nothing("nothing to do"))
    }
}
export_escalation_rule!(Escalator);

struct Checker;
impl ComplianceCheck for Checker {
    type Config = NoConfig;
    fn new(_: NoConfig) -> Result<Self, String> {
        Ok(Checker)
    }
    fn check(&self, _: Draft) -> Result<ComplianceResult, String> {
        Ok(ComplianceResult::approved())
    }
}
export_compliance_check!(Checker);

mod nested {
    // The macros work from any module, with the plugin type given by path.
    pub struct Kpis;
    impl switchboard_sdk::KpiDefinition for Kpis {
        type Config = super::NoConfig;
        fn new(_: super::NoConfig) -> Result<Self, String> {
            Ok(Kpis)
        }
        fn measures(&self) -> Vec<switchboard_sdk::kpi::Measure> {
            Vec::new()
        }
        fn on_event(
            &self,
            _: switchboard_sdk::kpi::KpiInput,
        ) -> Result<Vec<switchboard_sdk::kpi::Emission>, String> {
            Ok(Vec::new())
        }
    }
    switchboard_sdk::export_kpi_definition!(self::Kpis);
}

#[test]
fn plugins_behind_the_macros_are_plain_rust() {
    let router = Router::new(NoConfig {}).unwrap();
    let input = switchboard_sdk::testing::routing_input(switchboard_sdk::testing::contact(
        "c-9",
        Channel::Voice,
    ));
    assert_eq!(router.route(input).unwrap().queue, "c-9");
}
