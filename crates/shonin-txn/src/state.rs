//! The states of a transaction and the moves between them (OWASP Transaction Authorization 2.5:
//! the steps happen in order, none skipped). Every move is a compare-and-set on the record's
//! state and version (`shonin_types::flow`), so of two racing requests exactly one wins.
//!
//! ```text
//! created ──challenge──▶ challenged ──approve──▶ approved ──execute──▶ executed
//!    ▲ │                   │ │ │ │
//!    │ └──reject/expire──┐ │ │ │ └─ a failed attempt (stays challenged, attempts + 1)
//!    └────── modify ─────┼─┘ │ └─── the 5th failed attempt ──▶ locked
//!                        ▼   ▼
//!                   rejected / expired
//! ```
//! A change to the data after the challenge voids the challenge: the record goes back to
//! `created` and needs a new one (PSD2 RTS Art. 5(1)(d)).

use shonin_types::flow::FlowState;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TxnState {
    Created,
    Challenged,
    Approved,
    Rejected,
    Expired,
    Locked,
    Executed,
}

impl FlowState for TxnState {
    const KIND: &'static str = "transaction";
    const ALL: &'static [Self] = &[
        TxnState::Created,
        TxnState::Challenged,
        TxnState::Approved,
        TxnState::Rejected,
        TxnState::Expired,
        TxnState::Locked,
        TxnState::Executed,
    ];

    fn name(self) -> &'static str {
        match self {
            TxnState::Created => "created",
            TxnState::Challenged => "challenged",
            TxnState::Approved => "approved",
            TxnState::Rejected => "rejected",
            TxnState::Expired => "expired",
            TxnState::Locked => "locked",
            TxnState::Executed => "executed",
        }
    }

    fn may_become(self, next: Self) -> bool {
        use TxnState::*;
        matches!(
            (self, next),
            // A modification before the challenge.
            (Created, Created | Challenged | Rejected | Expired)
                // A failed attempt (the attempt count grows), or a modification (back to created).
                | (Challenged, Challenged | Created)
                | (Challenged, Approved | Rejected | Expired | Locked)
                | (Approved, Executed)
        )
    }
}

impl TxnState {
    /// No move leaves this state.
    pub fn is_final(self) -> bool {
        Self::ALL.iter().all(|next| !self.may_become(*next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn execution_needs_an_approval_and_approval_needs_a_challenge() {
        use TxnState::*;
        assert!(!Created.may_become(Approved), "skipping the challenge");
        assert!(!Created.may_become(Executed));
        assert!(
            !Challenged.may_become(Executed),
            "executing before approval"
        );
        assert!(Challenged.may_become(Approved));
        assert!(Approved.may_become(Executed));
        assert!(!Approved.may_become(Approved), "approved twice");
        assert!(
            !Approved.may_become(Created),
            "an approved transaction cannot change"
        );
        assert!(!Executed.may_become(Executed), "executed twice");
    }

    #[test]
    fn rejected_expired_locked_and_executed_are_final() {
        for s in TxnState::ALL {
            let expected = matches!(
                s,
                TxnState::Rejected | TxnState::Expired | TxnState::Locked | TxnState::Executed
            );
            assert_eq!(s.is_final(), expected, "{s:?}");
        }
    }
}
