//! Contacts and the lifecycle state machine:
//! `new -> queued -> offered -> assigned -> wrap_up -> resolved`, with the
//! side exits `abandoned`, `transferred` and `escalated`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The channel a contact arrives on.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Voice,
    Email,
    Chat,
    Sms,
    Social,
}

impl Channel {
    /// Every channel.
    pub const ALL: [Channel; 5] = [
        Channel::Voice,
        Channel::Email,
        Channel::Chat,
        Channel::Sms,
        Channel::Social,
    ];
}

/// Where a contact is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ContactState {
    /// Accepted, not yet routed.
    New,
    /// Waiting in a queue for an agent.
    Queued,
    /// Offered to an agent who has not yet answered.
    Offered,
    /// An agent is handling it (talking, typing, on hold).
    Assigned,
    /// The agent is doing after-contact work.
    WrapUp,
    /// Done. Terminal.
    Resolved,
    /// The customer left before an agent answered. Terminal.
    Abandoned,
    /// Handed on by an agent; goes back to a queue.
    Transferred,
    /// Escalated by a rule or a supervisor; goes back to a queue.
    Escalated,
}

/// A step in the lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transition {
    /// Put in a queue (after routing, a transfer or an escalation).
    Enqueue,
    /// Offered to an agent.
    Offer,
    /// The agent declined or did not answer in time: back to the queue.
    Decline,
    /// The agent answered.
    Answer,
    /// The agent finished talking; after-contact work starts.
    WrapUp,
    /// Closed.
    Resolve,
    /// The customer hung up or left.
    Abandon,
    /// The agent handed it to another queue.
    Transfer,
    /// A rule or supervisor escalated it.
    Escalate,
}

impl fmt::Display for ContactState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ContactState::New => "new",
            ContactState::Queued => "queued",
            ContactState::Offered => "offered",
            ContactState::Assigned => "assigned",
            ContactState::WrapUp => "wrap_up",
            ContactState::Resolved => "resolved",
            ContactState::Abandoned => "abandoned",
            ContactState::Transferred => "transferred",
            ContactState::Escalated => "escalated",
        })
    }
}

impl fmt::Display for Transition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Transition::Enqueue => "enqueue",
            Transition::Offer => "offer",
            Transition::Decline => "decline",
            Transition::Answer => "answer",
            Transition::WrapUp => "wrap_up",
            Transition::Resolve => "resolve",
            Transition::Abandon => "abandon",
            Transition::Transfer => "transfer",
            Transition::Escalate => "escalate",
        })
    }
}

/// An illegal lifecycle step, with what would have been legal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot {transition} a contact that is {from}; from {from} a contact can: {}", if .allowed.is_empty() { "nothing (it is closed)".to_owned() } else { .allowed.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ") })]
pub struct TransitionError {
    pub from: ContactState,
    pub transition: Transition,
    pub allowed: Vec<Transition>,
}

impl ContactState {
    /// Every state.
    pub const ALL: [ContactState; 9] = [
        ContactState::New,
        ContactState::Queued,
        ContactState::Offered,
        ContactState::Assigned,
        ContactState::WrapUp,
        ContactState::Resolved,
        ContactState::Abandoned,
        ContactState::Transferred,
        ContactState::Escalated,
    ];

    /// Whether no further transition is possible.
    pub fn is_terminal(self) -> bool {
        matches!(self, ContactState::Resolved | ContactState::Abandoned)
    }

    /// The state `transition` leads to from here, if it is legal.
    pub fn next(self, transition: Transition) -> Option<ContactState> {
        use ContactState as S;
        use Transition as T;
        Some(match (self, transition) {
            (S::New | S::Transferred | S::Escalated, T::Enqueue) => S::Queued,
            (S::Queued, T::Offer) => S::Offered,
            (S::Offered, T::Decline) => S::Queued,
            (S::Offered, T::Answer) => S::Assigned,
            (S::Assigned, T::WrapUp) => S::WrapUp,
            (S::WrapUp, T::Resolve) => S::Resolved,
            (S::New | S::Queued | S::Offered, T::Abandon) => S::Abandoned,
            (S::Assigned | S::WrapUp, T::Transfer) => S::Transferred,
            (S::New | S::Queued | S::Offered | S::Assigned, T::Escalate) => S::Escalated,
            _ => return None,
        })
    }

    /// Apply `transition`, or explain why it is illegal.
    pub fn apply(self, transition: Transition) -> Result<ContactState, TransitionError> {
        self.next(transition).ok_or_else(|| TransitionError {
            from: self,
            transition,
            allowed: self.allowed(),
        })
    }

    /// The transitions legal from here.
    pub fn allowed(self) -> Vec<Transition> {
        Transition::ALL
            .into_iter()
            .filter(|t| self.next(*t).is_some())
            .collect()
    }
}

impl Transition {
    /// Every transition.
    pub const ALL: [Transition; 9] = [
        Transition::Enqueue,
        Transition::Offer,
        Transition::Decline,
        Transition::Answer,
        Transition::WrapUp,
        Transition::Resolve,
        Transition::Abandon,
        Transition::Transfer,
        Transition::Escalate,
    ];
}

#[cfg(test)]
mod tests {
    use super::*;
    use ContactState as S;
    use Transition as T;

    /// The complete transition table: every (state, transition) pair is
    /// listed, legal ones with their target, so a change to the machine
    /// must change this table too.
    const LEGAL: &[(ContactState, Transition, ContactState)] = &[
        (S::New, T::Enqueue, S::Queued),
        (S::New, T::Abandon, S::Abandoned),
        (S::New, T::Escalate, S::Escalated),
        (S::Queued, T::Offer, S::Offered),
        (S::Queued, T::Abandon, S::Abandoned),
        (S::Queued, T::Escalate, S::Escalated),
        (S::Offered, T::Decline, S::Queued),
        (S::Offered, T::Answer, S::Assigned),
        (S::Offered, T::Abandon, S::Abandoned),
        (S::Offered, T::Escalate, S::Escalated),
        (S::Assigned, T::WrapUp, S::WrapUp),
        (S::Assigned, T::Transfer, S::Transferred),
        (S::Assigned, T::Escalate, S::Escalated),
        (S::WrapUp, T::Resolve, S::Resolved),
        (S::WrapUp, T::Transfer, S::Transferred),
        (S::Transferred, T::Enqueue, S::Queued),
        (S::Escalated, T::Enqueue, S::Queued),
    ];

    #[test]
    fn every_legal_transition_leads_where_the_table_says() {
        for &(from, t, to) in LEGAL {
            assert_eq!(from.apply(t), Ok(to), "{from} --{t}-->");
        }
    }

    #[test]
    fn every_other_transition_is_rejected_with_the_legal_ones_listed() {
        let mut rejected = 0;
        for from in ContactState::ALL {
            for t in Transition::ALL {
                if LEGAL.iter().any(|&(f, tr, _)| f == from && tr == t) {
                    continue;
                }
                let err = from.apply(t).unwrap_err();
                rejected += 1;
                assert_eq!(err.from, from);
                let msg = err.to_string();
                assert!(msg.contains(&format!("cannot {t}")), "{msg}");
                for legal in from.allowed() {
                    assert!(
                        msg.contains(&legal.to_string()),
                        "{msg} should list {legal}"
                    );
                }
            }
        }
        assert_eq!(rejected, 9 * 9 - LEGAL.len());
    }

    #[test]
    fn terminal_states_allow_nothing() {
        for s in [S::Resolved, S::Abandoned] {
            assert!(s.is_terminal());
            assert!(s.allowed().is_empty());
            assert!(
                s.apply(T::Enqueue)
                    .unwrap_err()
                    .to_string()
                    .contains("closed")
            );
        }
    }

    #[test]
    fn the_happy_path_reaches_resolved() {
        let path = [T::Enqueue, T::Offer, T::Answer, T::WrapUp, T::Resolve];
        let end = path.iter().try_fold(S::New, |s, t| s.apply(*t)).unwrap();
        assert_eq!(end, S::Resolved);
    }
}
