//! Plugin signatures: a partner signs a plugin version (its component and
//! its manifest) with an ed25519 key; a server configured with the
//! partner's public key (`[plugins] trusted_keys`) can require that every
//! upload is signed by a trusted key (`require_signatures`), and rejects
//! unsigned, tampered or foreign-signed plugins with a message that says
//! which.
//!
//! What is signed: `switchboard plugin signature v1\n`, then the
//! component's sha256 and the sha256 of the manifest in canonical JSON
//! (object keys sorted, no spaces), so re-indenting a manifest does not
//! break its signature but changing any value (a limit, the fail policy,
//! the default config) does.

use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey, Verifier as _, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

const CONTEXT: &str = "switchboard plugin signature v1\n";
/// The first word of a secret key file.
const KEY_FILE_TAG: &str = "switchboard-ed25519-secret-key";

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// A detached signature, as `switchboard plugin sign` writes it and an
/// upload carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PluginSignature {
    /// The signer's ed25519 public key, base64.
    pub key: String,
    /// The ed25519 signature, base64.
    pub signature: String,
}

/// The JSON text of `v` with object keys sorted and no spaces.
pub fn canonical_json(v: &serde_json::Value) -> String {
    use serde_json::Value;
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let fields: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", Value::String(k.clone()), canonical_json(&map[k])))
                .collect();
            format!("{{{}}}", fields.join(","))
        }
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(canonical_json).collect();
            format!("[{}]", items.join(","))
        }
        other => other.to_string(),
    }
}

/// The bytes a signature covers.
pub fn message(component: &[u8], manifest: &serde_json::Value) -> Vec<u8> {
    let component = hex::encode(Sha256::digest(component));
    let manifest = hex::encode(Sha256::digest(canonical_json(manifest).as_bytes()));
    format!("{CONTEXT}component sha256:{component}\nmanifest sha256:{manifest}\n").into_bytes()
}

/// A new signing key from the operating system's randomness.
pub fn generate() -> anyhow::Result<SigningKey> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// The text of a secret key file.
pub fn key_file_text(key: &SigningKey) -> String {
    format!("{KEY_FILE_TAG} {}\n", b64().encode(key.to_bytes()))
}

/// Read a secret key file's text.
pub fn parse_key_file(text: &str) -> anyhow::Result<SigningKey> {
    let bad = || {
        anyhow::anyhow!(
            "not a switchboard signing key (expected `{KEY_FILE_TAG} <base64>`; make one with `switchboard plugin keygen`)"
        )
    };
    let encoded = text
        .trim()
        .strip_prefix(KEY_FILE_TAG)
        .ok_or_else(bad)?
        .trim();
    let bytes: [u8; 32] = b64()
        .decode(encoded)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(bad)?;
    Ok(SigningKey::from_bytes(&bytes))
}

/// A public key as configured and shown: base64 of its 32 bytes.
pub fn public_key_text(key: &VerifyingKey) -> String {
    b64().encode(key.to_bytes())
}

/// Parse a public key written by [`public_key_text`].
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, String> {
    let bytes: [u8; 32] = b64()
        .decode(text.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| {
            format!(
                "`{text}` is not an ed25519 public key (32 bytes, base64), as `switchboard plugin keygen` prints it"
            )
        })?;
    VerifyingKey::from_bytes(&bytes)
        .map_err(|e| format!("`{text}` is not a valid ed25519 key: {e}"))
}

/// Sign a component and its manifest.
pub fn sign(key: &SigningKey, component: &[u8], manifest: &serde_json::Value) -> PluginSignature {
    let sig = key.sign(&message(component, manifest));
    PluginSignature {
        key: public_key_text(&key.verifying_key()),
        signature: b64().encode(sig.to_bytes()),
    }
}

/// Which signatures a server accepts.
#[derive(Debug, Clone, Default)]
pub struct Trust {
    keys: Vec<VerifyingKey>,
    require: bool,
}

impl Trust {
    /// From the configured keys (base64) and whether uploads must be signed.
    pub fn new(keys: &[String], require: bool) -> Result<Self, String> {
        if require && keys.is_empty() {
            return Err(
                "`require_signatures` needs at least one key in `trusted_keys` (partners print theirs with `switchboard plugin keygen`)".into(),
            );
        }
        let keys = keys
            .iter()
            .map(|k| parse_public_key(k))
            .collect::<Result<_, _>>()?;
        Ok(Self { keys, require })
    }

    /// Check an upload's signature; the signer's key when it is signed.
    pub fn check(
        &self,
        component: &[u8],
        manifest: &serde_json::Value,
        signature: Option<&PluginSignature>,
    ) -> Result<Option<String>, String> {
        let Some(sig) = signature else {
            if self.require {
                return Err("this server accepts only signed plugins: sign the component and manifest with `switchboard plugin sign --key <your key>` and upload the signature with them (`plugin push` sends `<component>.sig.json`); the operator must trust your public key".into());
            }
            return Ok(None);
        };
        let key = parse_public_key(&sig.key)?;
        let bytes: [u8; 64] = b64()
            .decode(sig.signature.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or("`signature.signature` is not a base64 ed25519 signature (64 bytes)")?;
        let signature = ed25519_dalek::Signature::from_bytes(&bytes);
        key.verify(&message(component, manifest), &signature)
            .map_err(|_| {
                format!(
                    "the signature by key {} does not match this component and manifest: one of them changed after signing (or was signed with another key); sign again, or upload the files that were signed",
                    sig.key
                )
            })?;
        if !self.keys.is_empty() && !self.keys.contains(&key) {
            return Err(format!(
                "the plugin is signed by key {}, which this server does not trust; the operator adds it to `[plugins] trusted_keys`",
                sig.key
            ));
        }
        Ok(Some(sig.key.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[7; 32])
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_depth() {
        let a = json!({"b": 1, "a": {"y": [1, {"d": 2, "c": 3}], "x": "s"}});
        let b: serde_json::Value =
            serde_json::from_str(r#"{ "a": { "x": "s", "y": [1, {"c": 3, "d": 2}] }, "b": 1 }"#)
                .unwrap();
        assert_eq!(canonical_json(&a), canonical_json(&b));
        assert_eq!(
            canonical_json(&a),
            r#"{"a":{"x":"s","y":[1,{"c":3,"d":2}]},"b":1}"#
        );
    }

    #[test]
    fn a_signed_plugin_verifies_and_any_change_breaks_it() {
        let manifest = json!({"id": "p", "version": "1.0.0", "limits": {"timeout_ms": 5}});
        let sig = sign(&key(), b"component", &manifest);
        let trust = Trust::new(&[public_key_text(&key().verifying_key())], true).unwrap();
        assert_eq!(
            trust.check(b"component", &manifest, Some(&sig)),
            Ok(Some(sig.key.clone()))
        );
        let err = trust
            .check(b"componenT", &manifest, Some(&sig))
            .unwrap_err();
        assert!(err.contains("does not match"), "{err}");
        let raised = json!({"id": "p", "version": "1.0.0", "limits": {"timeout_ms": 50}});
        assert!(trust.check(b"component", &raised, Some(&sig)).is_err());
        let err = trust.check(b"component", &manifest, None).unwrap_err();
        assert!(err.contains("only signed plugins"), "{err}");
    }

    #[test]
    fn a_foreign_key_is_refused_and_unsigned_is_fine_unless_required() {
        let manifest = json!({"id": "p"});
        let other = SigningKey::from_bytes(&[9; 32]);
        let sig = sign(&other, b"c", &manifest);
        let trust = Trust::new(&[public_key_text(&key().verifying_key())], false).unwrap();
        let err = trust.check(b"c", &manifest, Some(&sig)).unwrap_err();
        assert!(err.contains("does not trust"), "{err}");
        assert_eq!(trust.check(b"c", &manifest, None), Ok(None));
        assert!(Trust::new(&[], true).is_err());
        assert!(Trust::new(&["not a key".into()], false).is_err());
    }

    #[test]
    fn key_files_round_trip() {
        let text = key_file_text(&key());
        assert_eq!(parse_key_file(&text).unwrap().to_bytes(), key().to_bytes());
        assert!(parse_key_file("hello").is_err());
    }
}
