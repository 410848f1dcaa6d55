//! A routing policy: VIP contacts to their own queue.
//!
//! The host calls `new` once per instance with the configuration (already
//! validated against `config_schema` in manifest.json), then `route` for
//! every contact that needs a queue.
//!
//! The rule: a contact whose customer tier is in `vip_tiers` goes to
//! `vip_queue`, its priority raised by `vip_priority_bonus`, tagged `vip`
//! and given the attribute `segment=vip` (escalation rules and KPI
//! definitions see it in `contact.attributes`); everyone else goes to
//! `default_queue` at the priority they have. `reason` says which and why.

use serde::Deserialize;
use switchboard_sdk::prelude::*;

/// The configuration, as in manifest.json's `config_schema`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    default_queue: String,
    vip_queue: String,
    vip_tiers: Vec<String>,
    vip_priority_bonus: u32,
}

struct VipRouting {
    config: Config,
}

impl RoutingPolicy for VipRouting {
    type Config = Config;

    /// Checks what the JSON Schema cannot; an `Err` makes the activation fail
    /// with this message (it reaches the host as the WIT `result` error).
    fn new(config: Config) -> Result<Self, String> {
        if config.vip_queue == config.default_queue {
            return Err(format!(
                "vip_queue and default_queue are both {}: VIP contacts would not get a queue of their own",
                config.default_queue
            ));
        }
        Ok(VipRouting { config })
    }

    fn route(&self, input: RoutingInput) -> Result<RoutingDecision, String> {
        let contact = &input.contact;
        let tier = &contact.customer_tier;

        if !self.config.vip_tiers.contains(tier) {
            // Not a VIP: the default queue, priority unchanged.
            let mut decision =
                RoutingDecision::to_queue(&self.config.default_queue, contact.priority);
            decision.reason = format!("tier {tier} -> queue {}", self.config.default_queue);
            return Ok(decision);
        }

        let bonus = self.config.vip_priority_bonus;
        // Priorities are u32: add without overflowing.
        let priority = contact.priority.saturating_add(bonus);
        let mut decision = RoutingDecision::to_queue(&self.config.vip_queue, priority);
        decision.tags.push("vip".into());
        decision.attributes.push(KeyValue::new("segment", "vip"));
        decision.reason = format!(
            "tier {tier} is a VIP tier -> queue {}, priority +{bonus}",
            self.config.vip_queue
        );
        switchboard_sdk::log::debug!("contact {}: {}", contact.id, decision.reason);
        Ok(decision)
    }
}

switchboard_sdk::export_routing_policy!(VipRouting);

// Unit tests run natively: `cargo test`. The fixtures in fixtures/ run the
// built component in the real sandbox: `switchboard plugin test`.
#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_sdk::testing;

    /// The manifest's `default_config`: also checks it fits `Config`.
    fn default_policy() -> VipRouting {
        let config = testing::default_config_from_manifest(include_str!("../manifest.json"));
        VipRouting::new(config.expect("default_config fits Config")).expect("a valid config")
    }

    #[test]
    fn vip_tier_goes_to_the_vip_queue() {
        let mut contact = testing::contact("c-1", Channel::Chat);
        contact.customer_tier = "vip".into();
        let decision = default_policy()
            .route(testing::routing_input(contact))
            .expect("a decision");
        assert_eq!(decision.queue, "vip");
        assert_eq!(decision.priority, 10);
        assert_eq!(decision.tags, ["vip"]);
    }
}
