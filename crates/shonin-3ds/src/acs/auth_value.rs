//! The `authenticationValue` (CAVV/AAV) an ACS returns for Y and A: 20 bytes, 28 characters of
//! base64, computed under the issuer's key, which stays behind [`MacKey`] (an HSM later).
//!
//! Shonin's value is scheme-neutral: byte 0 names the outcome (`Y` or `A`), bytes 1–19 are the
//! first 19 bytes of HMAC-SHA256 over a length-prefixed encoding of the tag `shonin-3ds-av-v1`,
//! `dsTransID`, `acsTransID`, the card's keyed fingerprint (`acs::fingerprint`: the ACS keeps
//! no card number, and the value is computed again when a challenge completes), `eci`, amount and
//! currency. The issuer's authorisation system recomputes it with [`verify`]. Visa's CAVV v7 and Mastercard's SPA2 AAV
//! have their own layouts and keys (3DES CVV keys, HMAC keys) that schemes certify; they are not
//! built, and a scheme-certified ACS needs them.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use shonin_keys::{KeyError, MacKey};

use crate::message::TransStatus;

const TAG: &[u8] = b"shonin-3ds-av-v1";

/// What the value commits to.
#[derive(Clone, Copy, Debug)]
pub struct AuthValueInput<'a> {
    /// Y or A.
    pub status: TransStatus,
    pub eci: &'a str,
    pub ds_trans_id: &'a str,
    pub acs_trans_id: &'a str,
    /// The card's fingerprint (`acs::fingerprint`).
    pub card: &'a str,
    pub purchase_amount: Option<&'a str>,
    pub purchase_currency: Option<&'a str>,
}

fn encode(input: &AuthValueInput<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(160);
    let status = match input.status {
        TransStatus::Y => "Y",
        TransStatus::A => "A",
        _ => "-",
    };
    for field in [
        TAG,
        status.as_bytes(),
        input.eci.as_bytes(),
        input.ds_trans_id.as_bytes(),
        input.acs_trans_id.as_bytes(),
        input.card.as_bytes(),
        input.purchase_amount.unwrap_or("").as_bytes(),
        input.purchase_currency.unwrap_or("").as_bytes(),
    ] {
        // Every field is short (≤ 48 bytes); u32 lengths keep the encoding unambiguous anyway.
        out.extend_from_slice(&u32::try_from(field.len()).unwrap_or(u32::MAX).to_be_bytes());
        out.extend_from_slice(field);
    }
    out
}

async fn raw(key: &dyn MacKey, input: &AuthValueInput<'_>) -> Result<[u8; 20], KeyError> {
    let mac = key.mac(&encode(input)).await?;
    let mut value = [0u8; 20];
    value[0] = match input.status {
        TransStatus::A => b'A',
        _ => b'Y',
    };
    value[1..].copy_from_slice(&mac[..19]);
    Ok(value)
}

/// The value for a Y or A outcome, as the ARes and RReq carry it.
pub async fn authentication_value(
    key: &dyn MacKey,
    input: &AuthValueInput<'_>,
) -> Result<String, KeyError> {
    Ok(STANDARD.encode(raw(key, input).await?))
}

/// Whether `value` is the one the key makes for `input` (constant-time).
pub async fn verify(key: &dyn MacKey, input: &AuthValueInput<'_>, value: &str) -> bool {
    let Ok(expected) = raw(key, input).await else {
        return false;
    };
    let Ok(given) = STANDARD.decode(value) else {
        return false;
    };
    shonin_types::constant_time_eq(&expected, &given)
}

#[cfg(test)]
mod tests {
    use super::*;
    use shonin_keys::{KeyPurpose, LocalMacKey, MasterKey};

    #[tokio::test]
    async fn the_value_is_28_characters_bound_to_every_input() {
        let master = MasterKey::generate().unwrap();
        let key = LocalMacKey::derived(&master, KeyPurpose::ThreeDsAuthenticationValue);
        let input = AuthValueInput {
            status: TransStatus::Y,
            eci: "05",
            ds_trans_id: "897e20c5-76b7-4ee4-9e43-f2ba9dd90044",
            acs_trans_id: "0ed1ec93-9e85-4114-87ba-120c50c6a7e7",
            card: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            purchase_amount: Some("12345"),
            purchase_currency: Some("978"),
        };
        let value = authentication_value(&key, &input).await.unwrap();
        assert_eq!(value.len(), 28);
        assert!(verify(&key, &input, &value).await);
        for changed in [
            AuthValueInput {
                status: TransStatus::A,
                ..input
            },
            AuthValueInput { eci: "06", ..input },
            AuthValueInput {
                purchase_amount: Some("12346"),
                ..input
            },
            AuthValueInput {
                purchase_currency: Some("392"),
                ..input
            },
            AuthValueInput {
                ds_trans_id: "997e20c5-76b7-4ee4-9e43-f2ba9dd90044",
                ..input
            },
            AuthValueInput {
                card: "0f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                ..input
            },
        ] {
            assert!(!verify(&key, &changed, &value).await, "{changed:?}");
        }
        let other_key = LocalMacKey::derived(
            &MasterKey::generate().unwrap(),
            KeyPurpose::ThreeDsAuthenticationValue,
        );
        assert!(!verify(&other_key, &input, &value).await);
        assert!(!verify(&key, &input, "not base64").await);
    }
}
