//! Typed flows: each kind of flow record (an authorization code, a pushed request, a passkey
//! ceremony, a session, later a transaction or a 3DS authentication) names its states as an enum
//! and its allowed transitions in one function, [`FlowState::may_become`]. A move that function
//! does not allow is a [`FlowError::Illegal`] before anything is written, and a stored state the
//! enum does not know is [`FlowError::UnknownState`] (corrupt data), never a string mismatch.
//!
//! A move is a compare-and-set on the record's state *and* version, staged in a unit of work
//! ([`Flow::advance`]) or made at once ([`advance_now`]); exactly one of two racing requests wins.

use crate::StorageError;
use crate::ports::{FlowRecord, FlowStore};
use crate::unit::{Assign, Cond, Expect, Row, Update, Value};
use time::OffsetDateTime;

/// The table flow records live in (created by `shonin-store`'s migrations).
pub const FLOW_TABLE: &str = "flow_records";
const FLOW_COLUMNS: &[&str] = &["kind", "id", "state", "data", "expires_at", "version"];

/// The states of one kind of flow.
pub trait FlowState: Copy + Eq + std::fmt::Debug + Send + Sync + 'static {
    /// The record kind stored with every record of this flow.
    const KIND: &'static str;
    /// Every state, for parsing.
    const ALL: &'static [Self];
    /// The state's stored name.
    fn name(self) -> &'static str;
    /// Whether a record in `self` may move to `next`.
    fn may_become(self, next: Self) -> bool;

    fn parse(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|s| s.name() == name)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error("{kind} flow: `{from}` may not become `{to}`")]
    Illegal {
        kind: &'static str,
        from: &'static str,
        to: &'static str,
    },
    #[error("{kind} flow: unknown stored state `{state}`")]
    UnknownState { kind: &'static str, state: String },
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<FlowError> for StorageError {
    fn from(e: FlowError) -> Self {
        match e {
            FlowError::Storage(e) => e,
            // An illegal move is a programming error and an unknown state corrupt data; both
            // fail the request as a storage fault would, never as the client's mistake.
            other => StorageError::Corrupt(other.to_string()),
        }
    }
}

/// A flow record with its state typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flow<S> {
    pub id: String,
    pub state: S,
    pub data: Vec<u8>,
    pub expires_at: OffsetDateTime,
    pub version: i64,
}

impl<S: FlowState> Flow<S> {
    /// A new record at version 1.
    pub fn new(id: String, state: S, data: Vec<u8>, expires_at: OffsetDateTime) -> Self {
        Self {
            id,
            state,
            data,
            expires_at,
            version: 1,
        }
    }

    /// The row that creates this record (for a unit of work).
    pub fn row(&self) -> Row {
        Row {
            table: FLOW_TABLE,
            columns: FLOW_COLUMNS,
            values: vec![
                Value::text(S::KIND),
                Value::text(self.id.clone()),
                Value::text(S::name(self.state)),
                Value::blob(self.data.clone()),
                Value::time(self.expires_at),
                Value::int(self.version),
            ],
        }
    }

    /// The untyped record, for [`FlowStore::create_flow`].
    pub fn record(&self) -> FlowRecord {
        FlowRecord {
            kind: S::KIND.to_owned(),
            id: self.id.clone(),
            state: self.state.name().to_owned(),
            data: self.data.clone(),
            expires_at: self.expires_at,
            version: self.version,
        }
    }

    /// Types a stored record; `None` if it is of another kind.
    pub fn from_record(r: FlowRecord) -> Result<Option<Self>, FlowError> {
        if r.kind != S::KIND {
            return Ok(None);
        }
        let state = S::parse(&r.state).ok_or_else(|| FlowError::UnknownState {
            kind: S::KIND,
            state: r.state.chars().take(32).collect(),
        })?;
        Ok(Some(Self {
            id: r.id,
            state,
            data: r.data,
            expires_at: r.expires_at,
            version: r.version,
        }))
    }

    /// Checks that this record may move to `next`.
    pub fn check(&self, next: S) -> Result<(), FlowError> {
        if self.state.may_become(next) {
            Ok(())
        } else {
            Err(FlowError::Illegal {
                kind: S::KIND,
                from: self.state.name(),
                to: next.name(),
            })
        }
    }

    /// The compare-and-set that moves this record (as read) to `next`, replacing its data when
    /// `data` is given: it matches only if the record is still in this state at this version
    /// and unexpired at `now`. Stage it with `UnitOfWork::update`.
    pub fn advance(
        &self,
        next: S,
        data: Option<Vec<u8>>,
        now: OffsetDateTime,
    ) -> Result<Update, FlowError> {
        self.check(next)?;
        let mut set = vec![
            ("state", Assign::Value(Value::text(next.name()))),
            ("version", Assign::Increment),
        ];
        if let Some(data) = data {
            set.push(("data", Assign::Value(Value::blob(data))));
        }
        Ok(Update {
            table: FLOW_TABLE,
            set,
            filter: vec![
                ("kind", Cond::Eq(Value::text(S::KIND))),
                ("id", Cond::Eq(Value::text(self.id.clone()))),
                ("state", Cond::Eq(Value::text(self.state.name()))),
                ("version", Cond::Eq(Value::int(self.version))),
                ("expires_at", Cond::Greater(Value::time(now))),
            ],
            expect: Expect::One,
        })
    }
}

impl<S: FlowState> Flow<S> {
    /// [`Flow::advance`], also moving the record's expiry to `expires_at` (a pushed request
    /// that becomes an authorization session when the browser arrives).
    pub fn advance_until(
        &self,
        next: S,
        data: Option<Vec<u8>>,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<Update, FlowError> {
        let mut update = self.advance(next, data, now)?;
        update
            .set
            .push(("expires_at", Assign::Value(Value::time(expires_at))));
        Ok(update)
    }
}

/// The record `id` of flow `S`, if present and unexpired at `now`.
pub async fn get<S: FlowState>(
    store: &dyn FlowStore,
    id: &str,
    now: OffsetDateTime,
) -> Result<Option<Flow<S>>, FlowError> {
    match store.get_flow(S::KIND, id, now).await? {
        Some(r) => Flow::from_record(r),
        None => Ok(None),
    }
}

/// Moves `flow` to `next` at once (outside a unit of work), replacing its data with `data`.
/// `None` if another request moved it first, or it expired.
pub async fn advance_now<S: FlowState>(
    store: &dyn FlowStore,
    flow: &Flow<S>,
    next: S,
    data: &[u8],
    now: OffsetDateTime,
) -> Result<Option<Flow<S>>, FlowError> {
    flow.check(next)?;
    match store
        .transition_flow(S::KIND, &flow.id, flow.state.name(), next.name(), data, now)
        .await?
    {
        Some(r) => Flow::from_record(r),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Door {
        Open,
        Shut,
    }

    impl FlowState for Door {
        const KIND: &'static str = "door";
        const ALL: &'static [Self] = &[Door::Open, Door::Shut];
        fn name(self) -> &'static str {
            match self {
                Door::Open => "open",
                Door::Shut => "shut",
            }
        }
        fn may_become(self, next: Self) -> bool {
            matches!((self, next), (Door::Open, Door::Shut))
        }
    }

    const NOW: OffsetDateTime = datetime!(2026-01-01 00:00 UTC);

    #[test]
    fn an_allowed_move_is_a_compare_and_set_on_state_and_version() {
        let door = Flow::new("d1".into(), Door::Open, b"{}".to_vec(), NOW);
        let u = door.advance(Door::Shut, None, NOW).unwrap();
        assert_eq!(u.expect, Expect::One);
        assert!(u.filter.contains(&("state", Cond::Eq(Value::text("open")))));
        assert!(u.filter.contains(&("version", Cond::Eq(Value::int(1)))));
        assert!(
            u.set
                .contains(&("state", Assign::Value(Value::text("shut"))))
        );
    }

    #[test]
    fn a_move_the_flow_does_not_allow_is_a_typed_error() {
        let door = Flow::new("d1".into(), Door::Shut, vec![], NOW);
        let e = door.advance(Door::Open, None, NOW).unwrap_err();
        assert!(matches!(
            e,
            FlowError::Illegal {
                kind: "door",
                from: "shut",
                to: "open"
            }
        ));
        assert!(door.advance(Door::Shut, None, NOW).is_err(), "no self-loop");
    }

    #[test]
    fn stored_states_are_parsed_and_unknown_ones_refused() {
        let mut r = Flow::new("d1".into(), Door::Open, vec![], NOW).record();
        assert_eq!(
            Flow::<Door>::from_record(r.clone()).unwrap().unwrap().state,
            Door::Open
        );
        r.state = "ajar".into();
        assert!(matches!(
            Flow::<Door>::from_record(r.clone()),
            Err(FlowError::UnknownState { .. })
        ));
        r.kind = "window".into();
        assert!(Flow::<Door>::from_record(r).unwrap().is_none());
    }
}
