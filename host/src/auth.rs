//! Bearer tokens with roles. A token is `sb_<id>_<secret>`; the store keeps
//! only the id, the role and the sha256 of the secret, and a presented
//! secret is compared in constant time. Depends on `store`.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::store::{Store, StoreError, Writes};

const TOKENS: &str = "tokens";

/// What a token may do.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    clap::ValueEnum,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, including tokens and audit.
    Admin,
    /// Queues, agents, plugin activation and rollback, KPIs, audit.
    Operator,
    /// Upload and validate plugins, read their logs.
    Partner,
    /// Contacts, their events, and drafts.
    Agent,
    /// Read-only: KPIs, queues, agents.
    Viewer,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::Partner => "partner",
            Role::Agent => "agent",
            Role::Viewer => "viewer",
        })
    }
}

/// A kind of request, for permission checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Create contacts, post events, submit drafts.
    WriteContacts,
    /// Read contacts and their events.
    ReadContacts,
    /// Create and change agents and queues.
    ManageFloor,
    /// Read agents, queues, KPIs, notifications.
    ReadFloor,
    /// Upload and validate plugin versions.
    UploadPlugins,
    /// Activate, roll back, deactivate, delete plugin versions.
    ActivatePlugins,
    /// Read plugin lists, logs and statistics.
    ReadPlugins,
    /// Read and verify the audit log.
    ReadAudit,
    /// Approve or reject drafts waiting for a supervisor.
    ApproveDrafts,
    /// Create and revoke tokens.
    ManageTokens,
    /// Take a backup of the whole store (customer data, tokens, audit).
    Backup,
}

impl Role {
    /// Every role, most powerful first.
    pub const ALL: [Role; 5] = [
        Role::Admin,
        Role::Operator,
        Role::Partner,
        Role::Agent,
        Role::Viewer,
    ];

    /// Whether this role may perform `action`.
    pub fn allows(self, action: Action) -> bool {
        use Action::*;
        match self {
            Role::Admin => true,
            Role::Operator => matches!(
                action,
                ReadContacts
                    | ManageFloor
                    | ReadFloor
                    | ActivatePlugins
                    | ReadPlugins
                    | ReadAudit
                    | ApproveDrafts
            ),
            Role::Partner => matches!(action, UploadPlugins | ReadPlugins),
            Role::Agent => matches!(action, WriteContacts | ReadContacts | ReadFloor),
            Role::Viewer => matches!(action, ReadFloor),
        }
    }
}

impl Action {
    /// Every action.
    pub const ALL: [Action; 11] = [
        Action::WriteContacts,
        Action::ReadContacts,
        Action::ManageFloor,
        Action::ReadFloor,
        Action::UploadPlugins,
        Action::ActivatePlugins,
        Action::ReadPlugins,
        Action::ReadAudit,
        Action::ApproveDrafts,
        Action::ManageTokens,
        Action::Backup,
    ];

    /// The action's name in the API (`whoami`), e.g. `read_floor`.
    pub fn name(self) -> &'static str {
        match self {
            Action::WriteContacts => "write_contacts",
            Action::ReadContacts => "read_contacts",
            Action::ManageFloor => "manage_floor",
            Action::ReadFloor => "read_floor",
            Action::UploadPlugins => "upload_plugins",
            Action::ActivatePlugins => "activate_plugins",
            Action::ReadPlugins => "read_plugins",
            Action::ReadAudit => "read_audit",
            Action::ApproveDrafts => "approve_drafts",
            Action::ManageTokens => "manage_tokens",
            Action::Backup => "backup",
        }
    }

    /// The roles that may perform this action (as the API documents them).
    pub fn roles(self) -> Vec<Role> {
        Role::ALL.into_iter().filter(|r| r.allows(self)).collect()
    }
}

/// A stored token (without its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TokenInfo {
    pub id: String,
    pub role: Role,
    pub label: String,
    /// For `agent` tokens: the agent this token acts as. Drafts are then
    /// submitted and read as this agent only. Without it, an `agent` token
    /// is an integration's (it may submit for any agent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    pub created_at: i64,
    /// Hex sha256 of the secret.
    #[serde(skip_serializing_if = "String::is_empty", default)]
    #[schema(ignore)]
    hash: String,
}

/// A new token: the only time its full text is known.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NewToken {
    pub info: TokenInfo,
    /// `sb_<id>_<secret>`: give it to the user once; it cannot be shown again.
    pub token: String,
}

/// Why a token was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error(
        "no bearer token: send `Authorization: Bearer sb_...` (the first start wrote an admin token to the data directory's `admin-token` file)"
    )]
    Missing,
    #[error("the bearer token is not valid: it is malformed, revoked or was never issued")]
    Invalid,
    #[error(
        "a token with role `{role}` may not do this; ask an admin for a token with a role that may"
    )]
    Forbidden { role: Role },
    /// The token store could not be read: a storage fault, not a bad token.
    #[error("the token store could not be read: {0}")]
    Unavailable(String),
}

fn random_hex(bytes: usize) -> Result<String, StoreError> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf)
        .map_err(|e| StoreError::Corrupt(format!("no randomness for a token: {e}")))?;
    Ok(hex::encode(buf))
}

fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// The tokens in a store.
pub struct Tokens<'a> {
    store: &'a dyn Store,
}

impl<'a> Tokens<'a> {
    pub fn new(store: &'a dyn Store) -> Self {
        Self { store }
    }

    /// Issue a token with `role` (and, for an agent's own token, the agent
    /// it acts as).
    pub fn create(
        &self,
        role: Role,
        label: &str,
        agent_id: Option<&str>,
        now: i64,
    ) -> Result<NewToken, StoreError> {
        Ok(self.issue(role, label, agent_id, now)?.0)
    }

    /// [`Tokens::create`], also returning the token as stored (with the
    /// hash of its secret).
    fn issue(
        &self,
        role: Role,
        label: &str,
        agent_id: Option<&str>,
        now: i64,
    ) -> Result<(NewToken, TokenInfo), StoreError> {
        let id = random_hex(4)?;
        let secret = random_hex(24)?;
        let info = TokenInfo {
            id: id.clone(),
            role,
            label: label.to_owned(),
            agent_id: agent_id.map(str::to_owned),
            created_at: now,
            hash: hash(&secret),
        };
        let mut w = Writes::default();
        w.put(
            TOKENS,
            id.as_bytes(),
            serde_json::to_vec(&info).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        );
        self.store.commit(w)?;
        self.store.make_durable()?;
        Ok((
            NewToken {
                token: format!("sb_{id}_{secret}"),
                info: TokenInfo {
                    hash: String::new(),
                    ..info.clone()
                },
            },
            info,
        ))
    }

    /// Every token, without secrets.
    pub fn list(&self) -> Result<Vec<TokenInfo>, StoreError> {
        let mut all = self.stored()?;
        for t in &mut all {
            t.hash.clear();
        }
        Ok(all)
    }

    /// Every token as stored (with the hash of its secret).
    fn stored(&self) -> Result<Vec<TokenInfo>, StoreError> {
        self.store
            .scan_prefix(TOKENS, b"")
            .map(|kv| {
                serde_json::from_slice(&kv?.1)
                    .map_err(|e| StoreError::Corrupt(format!("stored token: {e}")))
            })
            .collect()
    }

    /// Revoke token `id`; `false` if there was none.
    pub fn revoke(&self, id: &str) -> Result<bool, StoreError> {
        if self.store.get(TOKENS, id.as_bytes())?.is_none() {
            return Ok(false);
        }
        let mut w = Writes::default();
        w.remove(TOKENS, id.as_bytes());
        self.store.commit(w)?;
        self.store.make_durable()?;
        Ok(true)
    }

    /// Whether token `id` exists (it was issued and not revoked).
    pub fn exists(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self.store.get(TOKENS, id.as_bytes())?.is_some())
    }

    /// The token `presented` stands for, if it is valid.
    pub fn authenticate(&self, presented: &str) -> Result<TokenInfo, AuthError> {
        let (id, secret) = split(presented)?;
        // A store that cannot answer says nothing about the token: the
        // client must hear "try again", not "your token is bad".
        let stored = self
            .store
            .get(TOKENS, id.as_bytes())
            .map_err(|e| AuthError::Unavailable(e.to_string()))?
            .ok_or(AuthError::Invalid)?;
        let info: TokenInfo = serde_json::from_slice(&stored)
            .map_err(|e| AuthError::Unavailable(format!("stored token `{id}` is corrupt: {e}")))?;
        verify(info, secret)
    }
}

/// Every issued token, held in memory (loaded from the store at start and
/// kept in step by [`TokenCache::create`] and [`TokenCache::revoke`]), so
/// authenticating a request reads no store. A revocation takes effect at
/// once: the token leaves the cache before the store is written.
pub struct TokenCache {
    store: std::sync::Arc<dyn Store>,
    by_id: parking_lot::RwLock<std::collections::HashMap<String, TokenInfo>>,
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCache")
            .field("tokens", &self.by_id.read().len())
            .finish_non_exhaustive()
    }
}

impl TokenCache {
    /// The tokens stored in `store`.
    pub fn load(store: std::sync::Arc<dyn Store>) -> Result<Self, StoreError> {
        let by_id = Tokens::new(&*store)
            .stored()?
            .into_iter()
            .map(|t| (t.id.clone(), t))
            .collect();
        Ok(Self {
            store,
            by_id: parking_lot::RwLock::new(by_id),
        })
    }

    /// Issue a token (see [`Tokens::create`]); usable once durable.
    pub fn create(
        &self,
        role: Role,
        label: &str,
        agent_id: Option<&str>,
        now: i64,
    ) -> Result<NewToken, StoreError> {
        let (new, stored) = Tokens::new(&*self.store).issue(role, label, agent_id, now)?;
        self.by_id.write().insert(stored.id.clone(), stored);
        Ok(new)
    }

    /// Every token, without secrets, by id.
    pub fn list(&self) -> Vec<TokenInfo> {
        let mut all: Vec<TokenInfo> = self
            .by_id
            .read()
            .values()
            .map(|t| TokenInfo {
                hash: String::new(),
                ..t.clone()
            })
            .collect();
        all.sort_by(|a, b| a.id.cmp(&b.id));
        all
    }

    /// Revoke token `id`; `false` if there was none. It stops
    /// authenticating before this returns; if the store cannot record the
    /// revocation the token is restored and the error returned.
    pub fn revoke(&self, id: &str) -> Result<bool, StoreError> {
        let Some(was) = self.by_id.write().remove(id) else {
            return Ok(false);
        };
        match Tokens::new(&*self.store).revoke(id) {
            Ok(_) => Ok(true),
            Err(e) => {
                self.by_id.write().insert(id.to_owned(), was);
                Err(e)
            }
        }
    }

    /// Whether token `id` exists (it was issued and not revoked).
    pub fn exists(&self, id: &str) -> bool {
        self.by_id.read().contains_key(id)
    }

    /// The token `presented` stands for, if it is valid (no store read).
    pub fn authenticate(&self, presented: &str) -> Result<TokenInfo, AuthError> {
        let (id, secret) = split(presented)?;
        let info = self
            .by_id
            .read()
            .get(id)
            .cloned()
            .ok_or(AuthError::Invalid)?;
        verify(info, secret)
    }
}

/// `sb_<id>_<secret>` split into id and secret.
fn split(presented: &str) -> Result<(&str, &str), AuthError> {
    let rest = presented.strip_prefix("sb_").ok_or(AuthError::Invalid)?;
    rest.split_once('_').ok_or(AuthError::Invalid)
}

/// `info` if `secret` is its secret (compared in constant time).
fn verify(info: TokenInfo, secret: &str) -> Result<TokenInfo, AuthError> {
    let presented_hash = hash(secret);
    if presented_hash.as_bytes().ct_eq(info.hash.as_bytes()).into() {
        Ok(info)
    } else {
        Err(AuthError::Invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Durability, SledStore};

    #[test]
    fn tokens_authenticate_by_secret_and_are_stored_hashed() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path(), Durability::Group).unwrap();
        let tokens = Tokens::new(&store);
        let t = tokens.create(Role::Operator, "ops", None, 1).unwrap();
        let info = tokens.authenticate(&t.token).unwrap();
        assert_eq!(
            (info.role, info.id.as_str()),
            (Role::Operator, t.info.id.as_str())
        );
        // The secret is not stored.
        let secret = t.token.rsplit('_').next().unwrap();
        let raw = store.get(TOKENS, t.info.id.as_bytes()).unwrap().unwrap();
        assert!(!String::from_utf8_lossy(&raw).contains(secret));
        // A changed secret, an unknown id, garbage: invalid.
        let mut wrong = t.token.clone();
        wrong.pop();
        wrong.push(if t.token.ends_with('0') { '1' } else { '0' });
        assert_eq!(tokens.authenticate(&wrong), Err(AuthError::Invalid));
        assert_eq!(
            tokens.authenticate("sb_ffffffff_00"),
            Err(AuthError::Invalid)
        );
        assert_eq!(tokens.authenticate("Bearer x"), Err(AuthError::Invalid));
        assert_eq!(tokens.list().unwrap().len(), 1);
        assert!(tokens.exists(&t.info.id).unwrap());
        assert!(tokens.revoke(&t.info.id).unwrap());
        assert!(!tokens.exists(&t.info.id).unwrap());
        assert_eq!(tokens.authenticate(&t.token), Err(AuthError::Invalid));
    }

    #[test]
    fn roles_allow_what_the_issue_names() {
        use Action::*;
        assert!(Role::Admin.allows(ManageTokens));
        assert!(Role::Operator.allows(ActivatePlugins) && !Role::Operator.allows(UploadPlugins));
        assert!(Role::Partner.allows(UploadPlugins) && !Role::Partner.allows(ActivatePlugins));
        assert!(Role::Agent.allows(WriteContacts) && !Role::Agent.allows(ManageFloor));
        assert!(Role::Viewer.allows(ReadFloor) && !Role::Viewer.allows(ReadContacts));
        assert!(!Role::Viewer.allows(ReadAudit) && !Role::Agent.allows(ManageTokens));
    }
}
