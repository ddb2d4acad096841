//! The one-time code, for cardholders without a passkey: six digits, sent to the cardholder by
//! the issuer's own channel (Shonin signs a webhook; the issuer's SMS gateway delivers it), kept
//! only as HMAC-SHA256 under the `ChallengeCodes` key over the transaction and the code, and
//! compared in constant time. A resend replaces the code; the attempts are the challenge's.
//!
//! A code confirms possession of the phone, not the purchase: it is the weaker fallback (PSD2
//! RTS Art. 5 asks that the code be specific to amount and payee, so the message that carries it
//! names both — see the webhook in docs/3ds.md).

use shonin_keys::{KeyError, MacKey};

/// Digits in a code.
pub const CODE_DIGITS: usize = 6;
/// Codes sent per challenge at most (the first and two resends).
pub const MAX_CODES: u8 = 3;

/// A code from 4 random bytes: uniform enough (the bias of 2³² mod 10⁶ is below 10⁻³).
pub fn from_random(bytes: [u8; 4]) -> String {
    format!("{:06}", u32::from_be_bytes(bytes) % 1_000_000)
}

/// The keyed hash of `code` for transaction `acs_trans_id`, hex.
pub async fn mac(key: &dyn MacKey, acs_trans_id: &str, code: &str) -> Result<String, KeyError> {
    let mut data = b"shonin-3ds-code-v1\0".to_vec();
    data.extend_from_slice(acs_trans_id.as_bytes());
    data.push(0);
    data.extend_from_slice(code.as_bytes());
    Ok(key
        .mac(&data)
        .await?
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// What the cardholder typed, as a code: six digits once spaces are removed; else `None`.
pub fn normalize(input: &str) -> Option<String> {
    let digits: String = input.chars().filter(|c| !c.is_whitespace()).collect();
    (digits.len() == CODE_DIGITS && digits.bytes().all(|b| b.is_ascii_digit())).then_some(digits)
}

/// Whether `input` is the code whose hash is `stored`.
pub async fn matches(key: &dyn MacKey, acs_trans_id: &str, input: &str, stored: &str) -> bool {
    let Some(code) = normalize(input) else {
        return false;
    };
    mac(key, acs_trans_id, &code)
        .await
        .is_ok_and(|m| shonin_types::constant_time_eq(m.as_bytes(), stored.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use shonin_keys::{KeyPurpose, LocalMacKey, MasterKey};

    #[tokio::test]
    async fn a_code_matches_only_its_transaction_and_survives_spaces() {
        let key = LocalMacKey::derived(&MasterKey::generate().unwrap(), KeyPurpose::ChallengeCodes);
        let code = from_random([0, 1, 2, 3]);
        assert_eq!(code, "066051");
        let stored = mac(&key, "t1", &code).await.unwrap();
        assert!(matches(&key, "t1", "066051", &stored).await);
        assert!(matches(&key, "t1", " 066 051 ", &stored).await);
        assert!(
            !matches(&key, "t2", "066051", &stored).await,
            "another transaction"
        );
        for wrong in ["066052", "66051", "0660510", "06605a", ""] {
            assert!(!matches(&key, "t1", wrong, &stored).await, "{wrong}");
        }
        assert_eq!(from_random([0xff; 4]).len(), CODE_DIGITS);
        assert!(!stored.contains(&code));
    }
}
