//! Who a plugin version is: id, version and the digest of its bytes, as
//! errors, logs and the audit trail name it. Depends on nothing, so the
//! error types can name a plugin without depending on the runtime.

use std::fmt;
use std::sync::Arc;

/// Identifies one plugin version in errors, logs and the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct PluginId {
    pub id: Arc<str>,
    pub version: Arc<str>,
    /// Hex sha256 of the component bytes.
    pub digest: Arc<str>,
}

impl fmt::Display for PluginId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}@{} (sha256:{})",
            self.id,
            self.version,
            &self.digest[..12.min(self.digest.len())]
        )
    }
}
