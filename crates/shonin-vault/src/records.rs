//! The vault's records as rows and statements of a unit of work (`shonin_types::unit`): the
//! vault stages its writes here and the caller commits them with the call's audit entry, so a
//! card, its held CVV, the nonce it came from and the entry are written together or not at all.
//! Table and column names are the store's migrations' (`vault_*`).

use crate::{HeldCvv, Sealed, StoredCard, StoredNonce};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use shonin_types::unit::{Assign, Cond, Expect, Record, Row, Update, Value};
use time::OffsetDateTime;

pub(crate) const CARDS: &str = "vault_cards";
pub(crate) const NONCES: &str = "vault_nonces";
pub(crate) const CVVS: &str = "vault_cvvs";
pub(crate) const CLIENT_TOKENS: &str = "vault_client_tokens";

/// A client token's nonce budget: how many nonces it has issued, until when it is good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientTokenUses {
    /// The token's `jti`.
    pub id: String,
    pub tenant: String,
    pub nonces_issued: u32,
    pub expires_at: OffsetDateTime,
}

fn sealed_values(s: &Sealed) -> [Value; 3] {
    [
        Value::text(s.kek_version.as_str()),
        Value::text(B64.encode(&s.wrapped_key)),
        Value::text(B64.encode(&s.ciphertext)),
    ]
}

fn key(tenant: &str, column: &'static str, value: &str) -> Vec<(&'static str, Cond)> {
    vec![
        ("tenant", Cond::Eq(Value::text(tenant))),
        (column, Cond::Eq(Value::text(value))),
    ]
}

/// `expires_at > now`: the record is alive.
fn alive(now: OffsetDateTime) -> (&'static str, Cond) {
    ("expires_at", Cond::Greater(Value::time(now)))
}

impl Record for StoredCard {
    fn row(&self) -> Row {
        let [kek_version, wrapped_key, sealed] = sealed_values(&self.sealed);
        Row {
            table: CARDS,
            columns: &[
                "tenant",
                "token",
                "fingerprint",
                "brand",
                "first6",
                "last4",
                "exp_month",
                "exp_year",
                "kek_version",
                "wrapped_key",
                "sealed",
                "created_at",
                "expires_at",
            ],
            values: vec![
                Value::text(self.tenant.as_str()),
                Value::text(self.token.as_str()),
                Value::text(self.fingerprint.as_str()),
                Value::text(self.brand.as_str()),
                Value::text(self.first6.as_str()),
                Value::text(self.last4.as_str()),
                Value::int(i64::from(self.exp_month)),
                Value::int(i64::from(self.exp_year)),
                kek_version,
                wrapped_key,
                sealed,
                Value::time(self.created_at),
                Value::time(self.expires_at),
            ],
        }
    }
}

impl Record for StoredNonce {
    fn row(&self) -> Row {
        let [kek_version, wrapped_key, sealed] = sealed_values(&self.sealed);
        Row {
            table: NONCES,
            columns: &[
                "digest",
                "tenant",
                "kek_version",
                "wrapped_key",
                "sealed",
                "created_at",
                "expires_at",
            ],
            values: vec![
                Value::text(self.digest.as_str()),
                Value::text(self.tenant.as_str()),
                kek_version,
                wrapped_key,
                sealed,
                Value::time(self.created_at),
                Value::time(self.expires_at),
            ],
        }
    }
}

impl Record for HeldCvv {
    fn row(&self) -> Row {
        let [kek_version, wrapped_key, sealed] = sealed_values(&self.sealed);
        Row {
            table: CVVS,
            columns: &[
                "tenant",
                "token",
                "kek_version",
                "wrapped_key",
                "sealed",
                "expires_at",
            ],
            values: vec![
                Value::text(self.tenant.as_str()),
                Value::text(self.token.as_str()),
                kek_version,
                wrapped_key,
                sealed,
                Value::time(self.expires_at),
            ],
        }
    }
}

impl Record for ClientTokenUses {
    fn row(&self) -> Row {
        Row {
            table: CLIENT_TOKENS,
            columns: &["id", "tenant", "nonces_issued", "expires_at"],
            values: vec![
                Value::text(self.id.as_str()),
                Value::text(self.tenant.as_str()),
                Value::int(i64::from(self.nonces_issued)),
                Value::time(self.expires_at),
            ],
        }
    }
}

/// Replaces a card's sealed data, expiry and retention if its KEK version is still
/// `expected_kek_version` (a re-wrap or a delete in between loses it).
pub(crate) fn replace_card(card: &StoredCard, expected_kek_version: &str) -> Update {
    let [kek_version, wrapped_key, sealed] = sealed_values(&card.sealed);
    let mut filter = key(&card.tenant, "token", &card.token);
    filter.push(("kek_version", Cond::Eq(Value::text(expected_kek_version))));
    Update {
        table: CARDS,
        set: vec![
            (
                "exp_month",
                Assign::Value(Value::int(i64::from(card.exp_month))),
            ),
            (
                "exp_year",
                Assign::Value(Value::int(i64::from(card.exp_year))),
            ),
            ("kek_version", Assign::Value(kek_version)),
            ("wrapped_key", Assign::Value(wrapped_key)),
            ("sealed", Assign::Value(sealed)),
            ("expires_at", Assign::Value(Value::time(card.expires_at))),
        ],
        filter,
        expect: Expect::One,
    }
}

/// Deletes the tenant's expired card with this fingerprint, if there is one: the unique index
/// on (tenant, fingerprint) would refuse a new record of the same number otherwise.
pub(crate) fn delete_expired_card(tenant: &str, fingerprint: &str, now: OffsetDateTime) -> Update {
    let mut filter = key(tenant, "fingerprint", fingerprint);
    // expires_at <= now, in the store's whole microseconds.
    filter.push((
        "expires_at",
        Cond::Less(Value::int(
            shonin_types::unit::micros(now).saturating_add(1),
        )),
    ));
    Update::delete(CARDS, filter, Expect::Any)
}

/// Deletes a card; exactly one row must go.
pub(crate) fn delete_card(tenant: &str, token: &str) -> Update {
    Update::delete(CARDS, key(tenant, "token", token), Expect::One)
}

/// Deletes the CVV held for a card: any (before a new one is held, or with the card), or
/// exactly the live one (a detokenize taking it).
pub(crate) fn delete_cvv(tenant: &str, token: &str, take_live: Option<OffsetDateTime>) -> Update {
    let mut filter = key(tenant, "token", token);
    match take_live {
        Some(now) => {
            filter.push(alive(now));
            Update::delete(CVVS, filter, Expect::One)
        }
        None => Update::delete(CVVS, filter, Expect::Any),
    }
}

/// Takes a live nonce: of concurrent exchanges, on any node, one deletes the row.
pub(crate) fn take_nonce(tenant: &str, digest: &str, now: OffsetDateTime) -> Update {
    let mut filter = key(tenant, "digest", digest);
    filter.push(alive(now));
    Update::delete(NONCES, filter, Expect::One)
}

/// Counts one more nonce against a live client token whose budget `limit` is not spent.
pub(crate) fn spend_client_token(
    tenant: &str,
    id: &str,
    limit: u32,
    now: OffsetDateTime,
) -> Update {
    let mut filter = key(tenant, "id", id);
    filter.push(("nonces_issued", Cond::Less(Value::int(i64::from(limit)))));
    filter.push(alive(now));
    Update {
        table: CLIENT_TOKENS,
        set: vec![("nonces_issued", Assign::Increment)],
        filter,
        expect: Expect::One,
    }
}
