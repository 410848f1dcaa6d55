//! The contact-center domain, pure Rust with no I/O: contacts and their
//! lifecycle state machine, agents, queues, and matching a waiting contact
//! to an agent. Depends on nothing else in the host.

mod agent;
pub mod bounds;
mod contact;
mod matching;
mod unique;

pub use agent::{
    Agent, AgentStatus, DEFAULT_OFFER_TIMEOUT_SECS, DEFAULT_OVERFLOW_AFTER_SECS, Queue,
    SelectionStrategy, ServiceLevelTarget,
};
pub use contact::{Channel, ContactState, Transition, TransitionError};
pub use matching::{
    Match, PreferredSkill, Relaxation, RelaxationStep, RequiredSkill, Requirements, select_agent,
};
pub use unique::unique_keys;
