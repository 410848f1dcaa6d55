//! The plugin manifest: identity, kind, contract version, configuration
//! schema and defaults, requested limits and fail policy. The host validates
//! every configuration against the schema before the plugin sees it.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The current WIT package version (`wit/`): what new plugins are built
/// against.
pub const WIT_VERSION: &str = "0.2.0";

/// Every WIT package version this host serves, oldest first. Each has its
/// own generated bindings (`plugins::bindings`); a component is driven
/// through the bindings of the version its export declares. Published
/// versions are frozen under `wit/<version>/` and never removed without
/// notice (see the compatibility policy in the partner guide).
pub const WIT_VERSIONS: [&str; 2] = ["0.1.0", WIT_VERSION];

/// The four kinds of plugin, one per WIT world.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum PluginKind {
    /// World `routing-policy`, exports interface `routing`.
    Routing,
    /// World `escalation-rule`, exports interface `escalation`.
    Escalation,
    /// World `compliance-check`, exports interface `compliance`.
    Compliance,
    /// World `kpi-definition`, exports interface `kpi`.
    Kpi,
}

impl PluginKind {
    /// Every kind, in a stable order.
    pub const ALL: [PluginKind; 4] = [
        PluginKind::Routing,
        PluginKind::Escalation,
        PluginKind::Compliance,
        PluginKind::Kpi,
    ];

    /// The WIT world a component of this kind targets.
    pub fn world(self) -> &'static str {
        match self {
            PluginKind::Routing => "routing-policy",
            PluginKind::Escalation => "escalation-rule",
            PluginKind::Compliance => "compliance-check",
            PluginKind::Kpi => "kpi-definition",
        }
    }

    /// The interface (without package) a component of this kind exports.
    pub fn interface(self) -> &'static str {
        match self {
            PluginKind::Routing => "routing",
            PluginKind::Escalation => "escalation",
            PluginKind::Compliance => "compliance",
            PluginKind::Kpi => "kpi",
        }
    }

    /// The fully qualified export name in WIT `version`, e.g.
    /// `switchboard:rules/routing@0.2.0`.
    pub fn export_name(self, version: &str) -> String {
        format!("switchboard:rules/{}@{version}", self.interface())
    }

    /// The kind whose exported interface is `interface` (`routing`, ...).
    pub fn from_interface(interface: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.interface() == interface)
    }
}

impl fmt::Display for PluginKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.interface())
    }
}

/// What the host does when a plugin traps, times out or returns invalid
/// output (applied by the engine, per slot).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum FailPolicy {
    /// Carry on without the plugin's answer (routing: default queue;
    /// compliance: let the draft through, flagged).
    #[default]
    FailOpen,
    /// Refuse (compliance: block; routing: hold in the triage queue).
    FailClosed,
    /// Use the last version that worked.
    LastGood,
}

/// Limits a plugin asks for; the host caps each one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ManifestLimits {
    /// Instructions per call (wasmtime fuel): the decisive limit, the same
    /// on every machine. `configure` gets ten times as much.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fuel: Option<u64>,
    /// Wall-clock backstop per call, in milliseconds; the host raises it to
    /// its floor and to what the fuel budget needs.
    pub timeout_ms: Option<u64>,
    /// Linear memory per instance, in MiB.
    pub memory_mib: Option<u64>,
    /// Bytes of output per call.
    pub max_output_bytes: Option<u64>,
}

/// A plugin's manifest (`manifest.json` beside the component).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Stable identifier, e.g. `skill-routing`: lowercase letters, digits, `-`.
    pub id: String,
    /// Semantic version of this build of the plugin.
    pub version: String,
    pub kind: PluginKind,
    /// The WIT package version the component was built against.
    pub wit: String,
    #[serde(default)]
    pub description: String,
    /// JSON Schema (draft 2020-12 unless `$schema` says otherwise) for the configuration.
    #[serde(default = "empty_object_schema")]
    pub config_schema: serde_json::Value,
    /// The configuration used when an activation gives none.
    #[serde(default = "empty_object")]
    pub default_config: serde_json::Value,
    #[serde(default)]
    pub limits: ManifestLimits,
    #[serde(default)]
    pub fail_policy: FailPolicy,
}

fn empty_object_schema() -> serde_json::Value {
    serde_json::json!({ "type": "object" })
}

fn empty_object() -> serde_json::Value {
    serde_json::json!({})
}

/// A configuration that does not match the manifest's schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error, utoipa::ToSchema)]
#[error("invalid configuration for {plugin}: {}", .violations.iter().map(|v| format!("at `{}`: {}", v.pointer, v.message)).collect::<Vec<_>>().join("; "))]
pub struct ConfigError {
    /// `id@version` of the plugin.
    pub plugin: String,
    /// Every violation found, each with the JSON pointer of the offending field.
    pub violations: Vec<ConfigViolation>,
}

/// One violation of the configuration schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ConfigViolation {
    /// JSON pointer into the configuration, e.g. `/topic_queues/billing` (`` = the root).
    pub pointer: String,
    pub message: String,
}

impl Manifest {
    /// Parse a manifest and check everything that can be checked without the
    /// component: id and version syntax, WIT version, the schema itself, and
    /// that the default configuration satisfies the schema.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let manifest: Manifest =
            serde_json::from_str(text).map_err(|e| format!("manifest is not valid: {e}"))?;
        manifest.check()?;
        Ok(manifest)
    }

    fn check(&self) -> Result<(), String> {
        let id_ok = !self.id.is_empty()
            && self.id.len() <= 64
            && self
                .id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !self.id.starts_with('-');
        if !id_ok {
            return Err(format!(
                "manifest `id` {:?} is not valid: use 1-64 lowercase letters, digits and `-`, e.g. \"skill-routing\"",
                self.id
            ));
        }
        if !is_semver(&self.version) {
            return Err(format!(
                "manifest `version` {:?} is not a semantic version like \"1.2.0\"",
                self.version
            ));
        }
        if !WIT_VERSIONS.contains(&self.wit.as_str()) {
            return Err(format!(
                "manifest says the plugin was built against WIT {}, but this host serves switchboard:rules@{} (current: {WIT_VERSION}); rebuild the plugin against the `wit/` of this release",
                self.wit,
                WIT_VERSIONS.join(", @")
            ));
        }
        jsonschema::meta::validate(&self.config_schema)
            .map_err(|e| format!("manifest `config_schema` is not a valid JSON Schema: {e}"))?;
        self.validate_config(&self.default_config).map_err(|e| {
            format!("manifest `default_config` does not match `config_schema`: {e}")
        })?;
        Ok(())
    }

    /// `id@version`.
    pub fn name(&self) -> String {
        format!("{}@{}", self.id, self.version)
    }

    /// Check a configuration against the schema; every violation is reported
    /// with the JSON pointer of the offending field.
    pub fn validate_config(&self, config: &serde_json::Value) -> Result<(), ConfigError> {
        let validator =
            jsonschema::validator_for(&self.config_schema).map_err(|e| ConfigError {
                plugin: self.name(),
                violations: vec![ConfigViolation {
                    pointer: String::new(),
                    message: format!("the manifest's schema cannot be compiled: {e}"),
                }],
            })?;
        let violations: Vec<ConfigViolation> = validator
            .iter_errors(config)
            .map(|e| ConfigViolation {
                pointer: e.instance_path().to_string(),
                message: e.to_string(),
            })
            .collect();
        if violations.is_empty() {
            Ok(())
        } else {
            Err(ConfigError {
                plugin: self.name(),
                violations,
            })
        }
    }
}

fn is_semver(v: &str) -> bool {
    let core = v.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(extra: serde_json::Value) -> serde_json::Value {
        let mut m = serde_json::json!({
            "id": "skill-routing",
            "version": "0.1.0",
            "kind": "routing",
            "wit": "0.2.0",
            "config_schema": {
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "default_queue": { "type": "string", "minLength": 1 },
                    "base_priority": { "type": "integer", "minimum": 0 }
                },
                "required": ["default_queue"]
            },
            "default_config": { "default_queue": "general" }
        });
        if let (Some(m), Some(extra)) = (m.as_object_mut(), extra.as_object()) {
            for (k, v) in extra {
                m.insert(k.clone(), v.clone());
            }
        }
        m
    }

    #[test]
    fn a_good_manifest_parses() {
        let m = Manifest::from_json(&manifest(serde_json::json!({})).to_string()).unwrap();
        assert_eq!(m.kind, PluginKind::Routing);
        assert_eq!(m.fail_policy, FailPolicy::FailOpen);
        assert_eq!(m.name(), "skill-routing@0.1.0");
    }

    #[test]
    fn bad_identity_is_explained() {
        let err =
            Manifest::from_json(&manifest(serde_json::json!({"id": "Skill Routing"})).to_string())
                .unwrap_err();
        assert!(err.contains("lowercase"), "{err}");
        let err = Manifest::from_json(&manifest(serde_json::json!({"version": "1.0"})).to_string())
            .unwrap_err();
        assert!(err.contains("semantic version"), "{err}");
        let err = Manifest::from_json(&manifest(serde_json::json!({"wit": "9.0.0"})).to_string())
            .unwrap_err();
        assert!(err.contains("9.0.0"), "{err}");
    }

    #[test]
    fn default_config_must_match_schema() {
        let err = Manifest::from_json(
            &manifest(serde_json::json!({"default_config": {"default_queue": ""}})).to_string(),
        )
        .unwrap_err();
        assert!(err.contains("default_config"), "{err}");
    }

    #[test]
    fn config_errors_point_at_the_field() {
        let m = Manifest::from_json(&manifest(serde_json::json!({})).to_string()).unwrap();
        let err = m
            .validate_config(&serde_json::json!({"default_queue": "x", "base_priority": -3}))
            .unwrap_err();
        assert_eq!(err.violations.len(), 1);
        assert_eq!(err.violations[0].pointer, "/base_priority");
        let err = m
            .validate_config(&serde_json::json!({"queue": "x"}))
            .unwrap_err();
        assert!(err.violations.len() >= 2, "{err}");
        assert!(err.to_string().contains("default_queue"), "{err}");
    }

    #[test]
    fn kinds_map_to_worlds_and_exports() {
        assert_eq!(PluginKind::Kpi.world(), "kpi-definition");
        assert_eq!(
            PluginKind::Compliance.export_name("0.1.0"),
            "switchboard:rules/compliance@0.1.0"
        );
        assert_eq!(
            PluginKind::from_interface("escalation"),
            Some(PluginKind::Escalation)
        );
    }
}
