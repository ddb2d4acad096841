//! Records of issued access and refresh tokens, for introspection (RFC 7662), revocation
//! (RFC 7009), the resource-server revocation check (FAPI 2.0 §5.3.3 item 3) and revoking
//! everything issued from a reused authorization code (RFC 6749 §4.1.2, §10.5).
//!
//! A record is keyed by [`token_hash`], a function of the token string exactly as issued and as
//! presented (the whole compact JWT for access tokens, the opaque string for refresh tokens): the
//! second the token was issued, then 192 bits of its SHA-256. The token itself is never stored,
//! so a copy of the database grants nothing, and whoever holds a token (the resource server, the
//! introspection and revocation endpoints) computes its key from the string alone.
//!
//! The time comes first so that records issued together sit together in the key's B-tree: an
//! access token's key starts with its `iat`, and each commit of the group-commit writer adds its
//! records at the end of the table instead of on one random page per token (measured in
//! docs/benchmarks.md). Opaque tokens carry no time; their keys start with zero.
//!
//! A token is active only if its record exists, is unrevoked and unexpired
//! ([`TokenRecord::is_active`]): a **missing record means inactive**, because records are deleted
//! some time after expiry (the server's `oauth.token_record_retention_secs`) and with their
//! client.

use crate::client::ClientId;
use async_trait::async_trait;
use aws_lc_rs::digest::{SHA256, digest};
use shonin_types::StorageError;
use shonin_types::unit::{Assign, Cond, Expect, Record, Row, Update, Value, micros};
use std::fmt;
use time::OffsetDateTime;

/// The key of a [`TokenRecord`], computed by [`token_hash`].
pub type TokenHash = [u8; 32];

/// Bytes of the key that hold the issue time.
const KEY_TIME_LEN: usize = 8;
/// Longest JWT payload segment whose `iat` is read for a key; a longer one keys as opaque. Far
/// above what Shonin issues (the request limits bound the claims).
const MAX_PAYLOAD_CHARS: usize = 64 * 1024;

/// The key of a token's record (module documentation): the big-endian `iat` of a compact JWT
/// (zero for opaque tokens and anything else whose `iat` cannot be read), then the first 24 bytes
/// of SHA-256 of the token string. 192 bits of the hash keep keys as unguessable and as free of
/// collisions as the full digest would for this use; a forged `iat` only yields a key that no
/// record has.
pub fn token_hash(token: &str) -> TokenHash {
    let d = digest(&SHA256, token.as_bytes());
    let mut out = [0u8; 32];
    let (time, hash) = out.split_at_mut(KEY_TIME_LEN);
    time.copy_from_slice(&issued_second(token).to_be_bytes());
    hash.copy_from_slice(d.as_ref().get(..32 - KEY_TIME_LEN).unwrap_or_default());
    out
}

/// The `iat` of a compact JWT, or 0. Never fails: whatever does not parse keys as opaque.
fn issued_second(token: &str) -> u64 {
    #[derive(serde::Deserialize)]
    struct Issued {
        iat: Option<i64>,
    }
    let mut parts = token.split('.');
    let (Some(_), Some(payload), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return 0;
    };
    if payload.len() > MAX_PAYLOAD_CHARS {
        return 0;
    }
    shonin_jose::b64url_decode(payload)
        .ok()
        .and_then(|json| serde_json::from_slice::<Issued>(&json).ok())
        .and_then(|claims| claims.iat)
        .and_then(|iat| u64::try_from(iat).ok())
        .unwrap_or(0)
}

/// SHA-256 of `text`, in hex.
pub fn sha256_hex(text: &str) -> String {
    hex(digest(&SHA256, text.as_bytes()).as_ref())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Which kind of token a record is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    Access,
    Refresh,
}

impl TokenKind {
    /// The stored name, also the RFC 7009 `token_type_hint` value minus `_token`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Access => "access",
            Self::Refresh => "refresh",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "access" => Some(Self::Access),
            "refresh" => Some(Self::Refresh),
            _ => None,
        }
    }
}

impl fmt::Display for TokenKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What was issued, to whom, bound to which key, until when.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenRecord {
    /// [`token_hash`] of the token string.
    pub token_hash: TokenHash,
    pub kind: TokenKind,
    pub client_id: ClientId,
    /// The user (`User::id`); `None` for client_credentials.
    pub subject: Option<String>,
    /// One per authorization code or client_credentials grant; every token issued from that
    /// grant (including refreshes) shares it, so a reused code revokes them all at once.
    pub grant_id: String,
    /// The granted scope, space-separated (RFC 6749 §3.3).
    pub scope: String,
    /// The granted `authorization_details` (RFC 9396 §7), as returned in the token response.
    pub authorization_details: Option<serde_json::Value>,
    /// RFC 9449 §6.1 `cnf.jkt`: thumbprint of the DPoP key the token is bound to.
    pub cnf_jkt: Option<String>,
    /// RFC 8705 §3.1 `cnf.x5t#S256`: thumbprint of the bound client certificate.
    pub cnf_x5t_s256: Option<String>,
    pub issued_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
}

impl TokenRecord {
    /// Unrevoked and unexpired at `now`.
    pub fn is_active(&self, now: OffsetDateTime) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }
}

/// The table of token records (created by `shonin-store`'s migrations) and its columns, in the
/// order [`Record::row`] gives them.
pub const TOKEN_TABLE: &str = "oauth_tokens";
pub const TOKEN_COLUMNS: &[&str] = &[
    "token_hash",
    "kind",
    "client_id",
    "subject",
    "grant_id",
    "scope",
    "authorization_details",
    "cnf_jkt",
    "cnf_x5t_s256",
    "issued_at",
    "expires_at",
    "revoked_at",
];

impl Record for TokenRecord {
    fn row(&self) -> Row {
        Row {
            table: TOKEN_TABLE,
            columns: TOKEN_COLUMNS,
            values: vec![
                Value::blob(self.token_hash.to_vec()),
                Value::text(self.kind.as_str()),
                Value::text(self.client_id.as_str()),
                Value::Text(self.subject.clone()),
                Value::text(self.grant_id.clone()),
                Value::text(self.scope.clone()),
                Value::Text(self.authorization_details.as_ref().map(|v| v.to_string())),
                Value::Text(self.cnf_jkt.clone()),
                Value::Text(self.cnf_x5t_s256.clone()),
                Value::time(self.issued_at),
                Value::time(self.expires_at),
                Value::Int(self.revoked_at.map(micros)),
            ],
        }
    }
}

/// Staged: revoke the unrevoked token `hash` at `now` (no row to change is not a conflict).
pub fn revoke_token_update(hash: &TokenHash, now: OffsetDateTime) -> Update {
    Update {
        table: TOKEN_TABLE,
        set: vec![("revoked_at", Assign::Value(Value::time(now)))],
        filter: vec![
            ("token_hash", Cond::Eq(Value::blob(hash.to_vec()))),
            ("revoked_at", Cond::IsNull),
        ],
        expect: Expect::Any,
    }
}

/// Staged: revoke every unrevoked token of `grant_id` at `now`.
pub fn revoke_grant_update(grant_id: &str, now: OffsetDateTime) -> Update {
    Update {
        table: TOKEN_TABLE,
        set: vec![("revoked_at", Assign::Value(Value::time(now)))],
        filter: vec![
            ("grant_id", Cond::Eq(Value::text(grant_id))),
            ("revoked_at", Cond::IsNull),
        ],
        expect: Expect::Any,
    }
}

/// Staged: bring the expiry of token `hash` forward to `until` if it is later, on the condition
/// that the token is still unrevoked — a compare-and-set, so a revocation that lands first
/// makes the unit a conflict instead of a refresh of a revoked grant.
pub fn shorten_token_update(hash: &TokenHash, until: OffsetDateTime) -> Update {
    Update {
        table: TOKEN_TABLE,
        set: vec![("expires_at", Assign::AtMost(Value::time(until)))],
        filter: vec![
            ("token_hash", Cond::Eq(Value::blob(hash.to_vec()))),
            ("revoked_at", Cond::IsNull),
        ],
        expect: Expect::One,
    }
}

/// Storage of issued-token records. `shonin-store` implements it for SQLite and PostgreSQL.
#[async_trait]
pub trait TokenStore: Send + Sync + fmt::Debug {
    /// Stores a new record. Fails with [`StorageError::Conflict`] if the hash exists or the
    /// client does not.
    async fn insert_token(&self, record: &TokenRecord) -> Result<(), StorageError>;

    /// The record, **including expired and revoked ones** until they are swept: callers decide
    /// with [`TokenRecord::is_active`] (introspection answers `active: false`, revocation of an
    /// expired token still succeeds). `None` means inactive too.
    async fn get_token(&self, hash: &TokenHash) -> Result<Option<TokenRecord>, StorageError>;

    /// Marks the token revoked at `now`. Returns `true` if this call revoked it, `false` if it
    /// was already revoked or does not exist.
    async fn revoke_token(
        &self,
        hash: &TokenHash,
        now: OffsetDateTime,
    ) -> Result<bool, StorageError>;

    /// Brings an unrevoked token's expiry forward to `until` if it is later: a rotated refresh
    /// token stays usable for the retry grace window and then simply expires. Revocation is
    /// untouched, so a token revoked through RFC 7009 stays revoked. Returns `true` if this call
    /// changed the expiry, `false` if it was already at or before `until`, revoked, or missing.
    async fn shorten_token(
        &self,
        hash: &TokenHash,
        until: OffsetDateTime,
    ) -> Result<bool, StorageError>;

    /// Revokes every unrevoked token of `client_id` bound to the client certificate `x5t_s256`
    /// (RFC 8705 §3.1) at `now`, when the operator revokes that certificate; returns how many.
    async fn revoke_certificate_bound(
        &self,
        client_id: &ClientId,
        x5t_s256: &str,
        now: OffsetDateTime,
    ) -> Result<u64, StorageError>;

    /// Revokes every unrevoked token of `grant_id` at `now`; returns how many this call revoked.
    async fn revoke_grant(&self, grant_id: &str, now: OffsetDateTime) -> Result<u64, StorageError>;

    /// Deletes records that expired at or before `expired_before`; returns how many. Revoked
    /// records that have not expired stay: they are what says the token is revoked.
    async fn sweep_tokens(&self, expired_before: OffsetDateTime) -> Result<u64, StorageError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;
    use time::macros::datetime;

    #[test]
    fn an_opaque_token_keys_as_zero_time_and_its_sha256() {
        // FIPS 180-2 appendix B.1: SHA-256("abc").
        let sha = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(sha256_hex("abc"), sha);
        let key = token_hash("abc");
        assert_eq!(hex(&key[..8]), "0000000000000000");
        assert_eq!(hex(&key[8..]), sha[..48]);
    }

    #[test]
    fn a_jwt_keys_by_its_iat_then_its_sha256() {
        // RFC 7519 §3.1's example claims carry no iat; this payload is {"iss":"x","iat":1700000000}.
        let payload = shonin_jose::b64url_encode(br#"{"iss":"x","iat":1700000000}"#);
        let jwt = format!("eyJhbGciOiJFUzI1NiJ9.{payload}.c2ln");
        let key = token_hash(&jwt);
        assert_eq!(key[..8], 1_700_000_000u64.to_be_bytes());
        assert_eq!(hex(&key[8..]), sha256_hex(&jwt)[..48]);
        // Keys of later tokens sort after keys of earlier ones, whatever their hashes.
        let later = format!(
            "eyJhbGciOiJFUzI1NiJ9.{}.c2ln",
            shonin_jose::b64url_encode(br#"{"iat":1700000001}"#)
        );
        assert!(token_hash(&later) > key);
    }

    #[test]
    fn an_unreadable_iat_keys_as_opaque() {
        let seg = |json: &[u8]| format!("e30.{}.c2ln", shonin_jose::b64url_encode(json));
        for token in [
            seg(br#"{"iat":-5}"#),
            seg(br#"{"iat":1.5}"#),
            seg(br#"{"iat":"1700000000"}"#),
            seg(br#"{"iat":1,"iat":2}"#),
            seg(b"not json"),
            seg(br#"{"sub":"no iat"}"#),
            "a.b".to_owned(),
            "a.b.c.d".to_owned(),
            "e30.!!!.c2ln".to_owned(),
            format!("e30.{}.c2ln", "A".repeat(MAX_PAYLOAD_CHARS + 1)),
        ] {
            assert_eq!(token_hash(&token)[..8], [0u8; 8], "{token:.60}");
        }
    }

    #[test]
    fn kinds_round_trip() {
        for k in [TokenKind::Access, TokenKind::Refresh] {
            assert_eq!(TokenKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(TokenKind::parse("id"), None);
    }

    #[test]
    fn active_means_unrevoked_and_unexpired() {
        let t0 = datetime!(2026-01-01 0:00 UTC);
        let mut r = TokenRecord {
            token_hash: token_hash("t"),
            kind: TokenKind::Access,
            client_id: ClientId::try_from("c").unwrap(),
            subject: None,
            grant_id: "g".into(),
            scope: String::new(),
            authorization_details: None,
            cnf_jkt: None,
            cnf_x5t_s256: None,
            issued_at: t0,
            expires_at: t0 + Duration::minutes(5),
            revoked_at: None,
        };
        assert!(r.is_active(t0));
        assert!(!r.is_active(t0 + Duration::minutes(5)));
        r.revoked_at = Some(t0);
        assert!(!r.is_active(t0));
    }
}
