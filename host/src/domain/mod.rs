//! The contact-center domain, pure Rust with no I/O: contacts and their
//! lifecycle state machine, agents, queues. Depends on nothing else in the
//! host; everything else depends on it.

mod contact;

pub use contact::{Channel, ContactState, Transition, TransitionError};
