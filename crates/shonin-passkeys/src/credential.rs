//! One enrolled passkey as stored, and the storage port for them.

use crate::error::PasskeyError;
use async_trait::async_trait;
use shonin_types::StorageError;
use time::OffsetDateTime;

/// The longest passkey name, in characters.
pub const MAX_PASSKEY_NAME_CHARS: usize = 64;

/// A passkey name: 1–64 characters, no control characters, surrounding white space trimmed.
pub fn validate_name(input: &str) -> Result<String, PasskeyError> {
    let name = input.trim();
    if name.is_empty() {
        return Err(PasskeyError::InvalidName(
            "a passkey name must not be empty",
        ));
    }
    if name.chars().count() > MAX_PASSKEY_NAME_CHARS {
        return Err(PasskeyError::InvalidName(
            "a passkey name must be at most 64 characters",
        ));
    }
    if !shonin_types::text::is_displayable(name) {
        return Err(PasskeyError::InvalidName(
            "a passkey name must not contain control or bidirectional-formatting characters",
        ));
    }
    Ok(name.to_owned())
}

/// An enrolled passkey (WebAuthn L3 §4 "credential record").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPasskey {
    /// The credential id, base64url without padding; unique across all users.
    pub credential_id: String,
    /// The owner; also the WebAuthn user handle (the UUID's 16 bytes).
    pub user_id: String,
    /// The user's name for it.
    pub name: String,
    /// webauthn-rs's credential (public key, counter, flags) as JSON; opaque to the store.
    pub credential: String,
    /// The authenticator model (all zeros when the authenticator does not say).
    pub aaguid: uuid::Uuid,
    /// Backup eligible (BE): a synced passkey rather than a device-bound one.
    pub backup_eligible: bool,
    /// Backed up (BS) at the last use.
    pub backup_state: bool,
    /// Transports the browser reported at enrolment (`internal`, `hybrid`, `usb`…).
    pub transports: Vec<String>,
    /// The signature counter after the last use (0 for authenticators without one).
    pub sign_count: u32,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
}

/// Storage of enrolled passkeys; implemented by `shonin-store` for SQLite and PostgreSQL.
#[async_trait]
pub trait PasskeyStore: Send + Sync + std::fmt::Debug {
    /// Stores a new passkey. [`StorageError::Conflict`] if the credential id is enrolled already.
    async fn insert_passkey(&self, passkey: &StoredPasskey) -> Result<(), StorageError>;

    async fn get_passkey(&self, credential_id: &str)
    -> Result<Option<StoredPasskey>, StorageError>;

    /// The user's passkeys, oldest first.
    async fn list_passkeys(&self, user_id: &str) -> Result<Vec<StoredPasskey>, StorageError>;

    /// Records a successful use: the updated credential JSON, counter, backup state and time.
    /// Only moves forward: a row whose stored counter is already higher is left alone (a
    /// concurrent use got there first) and `false` is returned.
    async fn record_passkey_use(
        &self,
        credential_id: &str,
        credential: &str,
        sign_count: u32,
        backup_state: bool,
        used_at: OffsetDateTime,
    ) -> Result<bool, StorageError>;

    /// Renames the user's passkey; `false` if the user has no such passkey.
    async fn rename_passkey(
        &self,
        user_id: &str,
        credential_id: &str,
        name: &str,
    ) -> Result<bool, StorageError>;

    /// Removes the user's passkey; `false` if the user has no such passkey.
    async fn remove_passkey(
        &self,
        user_id: &str,
        credential_id: &str,
    ) -> Result<bool, StorageError>;
}

/// The table passkeys live in (created by `shonin-store`'s migrations).
pub const PASSKEY_TABLE: &str = "passkeys";

/// The compare-and-set that records a use of a passkey in a unit of work: the counter, backup
/// state and time. It matches only while the stored counter is below `sign_count` (or both are
/// 0, a passkey without a counter), so of two uses with the same counter exactly one is
/// recorded and the other's unit is a conflict — a cloned authenticator or a replay.
pub fn record_use(
    credential_id: &str,
    sign_count: u32,
    backup_state: bool,
    used_at: OffsetDateTime,
) -> shonin_types::unit::Update {
    use shonin_types::unit::{Assign, Cond, Expect, Update, Value};
    let counter = Value::int(i64::from(sign_count));
    let counter_rule = if sign_count == 0 {
        Cond::Eq(counter.clone())
    } else {
        Cond::Less(counter.clone())
    };
    Update {
        table: PASSKEY_TABLE,
        set: vec![
            ("sign_count", Assign::Value(counter)),
            ("backup_state", Assign::Value(Value::bool(backup_state))),
            ("last_used_at", Assign::Value(Value::time(used_at))),
        ],
        filter: vec![
            ("credential_id", Cond::Eq(Value::text(credential_id))),
            ("sign_count", counter_rule),
        ],
        expect: Expect::One,
    }
}
