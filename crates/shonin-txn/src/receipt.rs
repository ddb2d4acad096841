//! Approval receipts: evidence that anyone holding the server's public keys can check offline.
//!
//! A receipt is a compact JWS (`typ` `shonin-txn-receipt+jwt`) signed with the audit key
//! (`KeyPurpose::AuditCheckpoints`). Its claims hold the transaction as approved, the inputs of
//! its challenge, the credential's public key and the user's raw assertion. [`verify`] checks,
//! without the server or its database:
//! 1. the JWS signature against the server's verification keys (`shonin keys public`);
//! 2. the challenge: recomputed from the receipt's transaction data with the canonical encoding
//!    (`linking.rs`), equal to `linking.challenge`;
//! 3. the assertion: `clientDataJSON` names that challenge, type `webauthn.get` and the origin
//!    (or, for an approval through Secure Payment Confirmation, type `payment.get`, the frame's
//!    origin, and a `payment` member naming this payee, amount, checkout and instrument);
//!    `authenticatorData` names the RP ID and says the user was present and verified; the
//!    signature over `authenticatorData ‖ SHA-256(clientDataJSON)` verifies with the credential
//!    key in the receipt.
//!
//! So the receipt proves that the holder of this passkey signed exactly this payee and amount,
//! and the server's signature binds that passkey to the user.

use crate::amount::Amount;
use crate::approve::{RelyingParty, VerifiedApproval};
use crate::linking::{PURPOSE_TAG, SignedData};
use crate::payee::Payee;
use crate::transaction::Transaction;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use shonin_jose::{VerifyOptions, b64url_decode, b64url_encode};
use shonin_passkeys::{AssertionResponse, CredentialPublicKey, Expected};
use time::OffsetDateTime;

/// The JWS `typ` of a receipt (RFC 8725 §3.11 explicit typing).
pub const RECEIPT_TYP: &str = "shonin-txn-receipt+jwt";

/// The claims of a receipt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptClaims {
    pub iss: String,
    pub iat: i64,
    pub txn: ReceiptTransaction,
    pub linking: Linking,
    pub user: String,
    pub credential: ReceiptCredential,
    pub assertion: ReceiptAssertion,
    pub rp: ReceiptRp,
    /// Present when the user approved through Secure Payment Confirmation: the assertion is a
    /// `payment.get` from `spc.origin` on the checkout `spc.top_origin`, and its `payment`
    /// member names the payee, the amount and the instrument shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spc: Option<crate::spc::SpcContext>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptTransaction {
    pub id: String,
    pub client_id: String,
    pub payee: Payee,
    pub amount: Amount,
    pub reference: Option<String>,
}

/// The challenge's inputs besides the transaction data, and the challenge itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Linking {
    /// The purpose tag, which also names the encoding (`shonin-txn-v1`).
    pub encoding: String,
    pub nonce: String,
    pub expires_at: i64,
    /// SHA-256 of the encoding, base64url.
    pub challenge: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptCredential {
    pub id: String,
    /// The credential's public key as a JWK.
    pub jwk: Value,
}

/// The assertion exactly as the browser returned it, base64url.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptAssertion {
    #[serde(rename = "authenticatorData")]
    pub authenticator_data: String,
    #[serde(rename = "clientDataJSON")]
    pub client_data_json: String,
    pub signature: String,
    #[serde(
        rename = "userHandle",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub user_handle: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptRp {
    pub id: String,
    pub origin: String,
}

/// The receipt claims for an approval of `txn`.
pub fn claims(
    txn: &Transaction,
    approval: &VerifiedApproval,
    issuer: &str,
    rp: RelyingParty<'_>,
    now: OffsetDateTime,
) -> ReceiptClaims {
    let r = &approval.response;
    ReceiptClaims {
        iss: issuer.to_owned(),
        iat: now.unix_timestamp(),
        txn: ReceiptTransaction {
            id: txn.id.clone(),
            client_id: txn.client_id.clone(),
            payee: txn.payee.clone(),
            amount: txn.amount,
            reference: txn.reference.clone(),
        },
        linking: Linking {
            encoding: PURPOSE_TAG.to_owned(),
            nonce: txn.nonce.clone().unwrap_or_default(),
            expires_at: txn.expires_at,
            challenge: b64url_encode(&approval.challenge),
        },
        user: txn.user_id.clone(),
        credential: ReceiptCredential {
            id: approval.credential_id.clone(),
            jwk: approval.public_key.to_jwk(),
        },
        assertion: ReceiptAssertion {
            authenticator_data: b64url_encode(&r.authenticator_data),
            client_data_json: b64url_encode(&r.client_data_json),
            signature: b64url_encode(&r.signature),
            user_handle: r.user_handle.as_deref().map(b64url_encode),
        },
        rp: ReceiptRp {
            id: rp.rp_id.to_owned(),
            origin: rp.origin.to_owned(),
        },
        spc: approval.spc.clone(),
    }
}

/// Why a receipt does not hold.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReceiptError {
    #[error("the receipt's signature does not verify with the given keys: {0}")]
    Signature(String),
    #[error("the receipt's claims are malformed: {0}")]
    Claims(String),
    #[error("the receipt uses encoding `{0}`, which this verifier does not know")]
    Encoding(String),
    #[error("the challenge recomputed from the transaction data is not the one recorded")]
    Challenge,
    #[error("the user's assertion does not verify: {0}")]
    Assertion(String),
}

/// Verifies a receipt (see the module documentation) against a JWK set (`{"keys": [...]}`),
/// and returns its claims.
pub fn verify(receipt: &str, jwks: &Value) -> Result<ReceiptClaims, ReceiptError> {
    // Receipts are evidence: they do not expire, and `iat` is informational.
    let opts = VerifyOptions::new(OffsetDateTime::now_utc())
        .with_typ(RECEIPT_TYP)
        .exp_optional();
    let claims = shonin_jose::verify_jwt(receipt.trim(), jwks, &opts)
        .map_err(|e| ReceiptError::Signature(e.to_string()))?;
    let claims: ReceiptClaims = serde_json::from_value(Value::Object(claims))
        .map_err(|e| ReceiptError::Claims(e.to_string()))?;
    if claims.linking.encoding != PURPOSE_TAG {
        return Err(ReceiptError::Encoding(claims.linking.encoding.clone()));
    }
    let data = SignedData {
        transaction_id: &claims.txn.id,
        payee: &claims.txn.payee,
        amount: &claims.txn.amount,
        reference: claims.txn.reference.as_deref(),
        nonce: &claims.linking.nonce,
        expires_at: claims.linking.expires_at,
    };
    let challenge = data.challenge();
    if b64url_encode(&challenge) != claims.linking.challenge {
        return Err(ReceiptError::Challenge);
    }
    let key = CredentialPublicKey::from_jwk(&claims.credential.jwk)
        .map_err(|e| ReceiptError::Claims(format!("credential key: {e}")))?;
    let a = &claims.assertion;
    let field = |name: &str, v: &str| {
        b64url_decode(v).map_err(|_| ReceiptError::Claims(format!("assertion.{name}")))
    };
    let response = AssertionResponse {
        credential_id: field("credential.id", &claims.credential.id)?,
        authenticator_data: field("authenticatorData", &a.authenticator_data)?,
        client_data_json: field("clientDataJSON", &a.client_data_json)?,
        signature: field("signature", &a.signature)?,
        user_handle: a
            .user_handle
            .as_deref()
            .map(|h| field("userHandle", h))
            .transpose()?,
    };
    let expected = match &claims.spc {
        None => Expected {
            challenge: &challenge,
            origin: &claims.rp.origin,
            rp_id: &claims.rp.id,
            client_data_type: "webauthn.get",
            framing: shonin_passkeys::Framing::SameOrigin,
        },
        Some(spc) => Expected {
            challenge: &challenge,
            origin: &spc.origin,
            rp_id: &claims.rp.id,
            client_data_type: crate::approve::SPC_TYPE,
            framing: shonin_passkeys::Framing::AnyHttpsTop,
        },
    };
    let verified = shonin_passkeys::verify_assertion(&response, &key, &expected, 0)
        .map_err(|e| ReceiptError::Assertion(e.reason()))?;
    if let Some(spc) = &claims.spc {
        let t = &claims.txn;
        crate::spc::check_payment(
            &verified.client_data,
            &t.payee,
            &t.amount,
            spc,
            &claims.rp.id,
        )
        .map_err(ReceiptError::Assertion)?;
    }
    Ok(claims)
}

/// What the success entry of an approval (`txn.approve`) says in its `reason`: the receipt's
/// digest, `receipt sha256=<hex>`. The entry is hash-chained, so the audit log commits to the
/// one receipt whose compact JWS has this SHA-256; `shonin audit export` adds the receipt
/// itself beside the entry, and a reader checks it with [`digest_hex`].
pub const AUDIT_REASON_PREFIX: &str = "receipt sha256=";

/// SHA-256 of the compact JWS exactly as issued (its ASCII bytes), as lowercase hex.
pub fn digest_hex(receipt: &str) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, receipt.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The approval entry's `reason` for `receipt`.
pub fn audit_reason(receipt: &str) -> String {
    format!("{AUDIT_REASON_PREFIX}{}", digest_hex(receipt))
}

/// The digest an approval entry's `reason` names, if it names one (64 lowercase hex digits).
pub fn digest_in_reason(reason: &str) -> Option<&str> {
    let hex = reason.strip_prefix(AUDIT_REASON_PREFIX)?;
    let well_formed = hex.len() == 64
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    well_formed.then_some(hex)
}

/// The table receipts are kept in (created by `shonin-store`'s migrations).
pub const RECEIPT_TABLE: &str = "txn_receipts";
const RECEIPT_COLUMNS: &[&str] = &["txn_id", "client_id", "user_id", "receipt", "approved_at"];

/// A receipt as kept: it outlives the transaction's own record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredReceipt {
    pub txn_id: String,
    pub client_id: String,
    pub user_id: String,
    /// The compact JWS.
    pub receipt: String,
    pub approved_at: OffsetDateTime,
}

impl shonin_types::unit::Record for StoredReceipt {
    fn row(&self) -> shonin_types::unit::Row {
        use shonin_types::unit::{Row, Value};
        Row {
            table: RECEIPT_TABLE,
            columns: RECEIPT_COLUMNS,
            values: vec![
                Value::text(self.txn_id.clone()),
                Value::text(self.client_id.clone()),
                Value::text(self.user_id.clone()),
                Value::text(self.receipt.clone()),
                Value::time(self.approved_at),
            ],
        }
    }
}

/// Reading receipts; written only through a unit of work. Implemented by `shonin-store`.
#[async_trait::async_trait]
pub trait ReceiptStore: Send + Sync + std::fmt::Debug {
    async fn get_receipt(
        &self,
        txn_id: &str,
    ) -> Result<Option<StoredReceipt>, shonin_types::StorageError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_audit_reason_names_the_receipts_sha256_and_reads_back() {
        // FIPS 180-2 appendix B.1: SHA-256("abc").
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(digest_hex("abc"), abc);
        let reason = audit_reason("abc");
        assert_eq!(reason, format!("receipt sha256={abc}"));
        assert_eq!(digest_in_reason(&reason), Some(abc));
        for other in [
            "refused: bad signature",
            "receipt sha256=",
            &format!("receipt sha256={}", abc.to_uppercase()),
            &format!("receipt sha256={abc}0"),
            &format!("receipt sha256={}", &abc[1..]),
            &format!("receipt sha256={}g", &abc[1..]),
        ] {
            assert_eq!(digest_in_reason(other), None, "{other}");
        }
    }
}
