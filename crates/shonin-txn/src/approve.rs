//! Checking an approval: the assertion must come from one of the transaction's user's passkeys
//! and sign exactly the challenge recomputed from the *stored* transaction (PSD2 RTS Art.
//! 5(1)(c)); the client's copy of anything is never consulted (OWASP Transaction Authorization
//! 2.3).

use crate::transaction::Loaded;
use shonin_passkeys::{AssertionResponse, CredentialPublicKey, Expected, StoredPasskey};

/// The relying party the assertion must be for.
#[derive(Debug, Clone, Copy)]
pub struct RelyingParty<'a> {
    pub rp_id: &'a str,
    /// The serialized origin of the pages that ask for the assertion.
    pub origin: &'a str,
}

/// An assertion that approves the transaction, with what its receipt records.
#[derive(Debug, Clone)]
pub struct VerifiedApproval {
    pub challenge: [u8; 32],
    pub credential_id: String,
    pub public_key: CredentialPublicKey,
    pub response: AssertionResponse,
    pub sign_count: u32,
    pub backup_state: bool,
    /// Set when the assertion came through Secure Payment Confirmation (`payment.get`).
    pub spc: Option<crate::spc::SpcContext>,
}

/// Why an assertion did not approve; each is a failed attempt. `reason` goes to the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub reason: String,
}

impl Refusal {
    fn new(reason: impl Into<String>) -> Self {
        Refusal {
            reason: reason.into(),
        }
    }
}

/// The `clientDataJSON.type` of a Secure Payment Confirmation assertion.
pub const SPC_TYPE: &str = "payment.get";

/// The `type` an assertion's `clientDataJSON` names, if it parses (the full check follows).
pub fn client_data_type(response: &AssertionResponse) -> Option<&'static str> {
    let v: serde_json::Value = serde_json::from_slice(&response.client_data_json).ok()?;
    match v.get("type")?.as_str()? {
        SPC_TYPE => Some(SPC_TYPE),
        "webauthn.get" => Some("webauthn.get"),
        _ => None,
    }
}

/// Verifies `response` (parsed with [`AssertionResponse::from_json`]) against the loaded
/// transaction. `passkey` is the stored passkey whose id the response names, if there is one.
/// The transaction must be awaiting approval ([`Loaded::may_approve`], checked by the caller
/// first: a request out of order is not an attempt).
pub fn verify(
    loaded: &Loaded,
    response: AssertionResponse,
    passkey: Option<&StoredPasskey>,
    rp: RelyingParty<'_>,
) -> Result<VerifiedApproval, Refusal> {
    let data = loaded
        .signed_data()
        .ok_or_else(|| Refusal::new("no_challenge"))?;
    let passkey = passkey.ok_or_else(|| Refusal::new("unknown_credential"))?;
    // The passkey must be the transaction's user's (its user handle is the account id).
    if passkey.user_id != loaded.txn.user_id {
        return Err(Refusal::new("credential_of_another_user"));
    }
    let public_key =
        CredentialPublicKey::of_passkey(passkey).map_err(|e| Refusal::new(e.reason()))?;
    let challenge = data.challenge();
    // The signed type says which ceremony made the assertion: SPC only where the challenge was
    // issued for it, and then only from the frame and checkout it names.
    let spc = if client_data_type(&response) == Some(SPC_TYPE) {
        Some(
            loaded
                .txn
                .spc
                .clone()
                .ok_or_else(|| Refusal::new("spc: the challenge was not issued for SPC"))?,
        )
    } else {
        None
    };
    let expected = match &spc {
        None => Expected {
            challenge: &challenge,
            origin: rp.origin,
            rp_id: rp.rp_id,
            client_data_type: "webauthn.get",
            framing: shonin_passkeys::Framing::SameOrigin,
        },
        Some(ctx) => Expected {
            challenge: &challenge,
            origin: &ctx.origin,
            rp_id: rp.rp_id,
            client_data_type: SPC_TYPE,
            framing: shonin_passkeys::Framing::AnyHttpsTop,
        },
    };
    // The credential must be the one named, its user handle its owner's, its counter forward.
    let verified = shonin_passkeys::verify_passkey_assertion(&response, passkey, &expected)
        .map_err(|e| Refusal::new(e.reason()))?;
    if let Some(ctx) = &spc {
        let txn = &loaded.txn;
        crate::spc::check_payment(
            &verified.client_data,
            &txn.payee,
            &txn.amount,
            ctx,
            rp.rp_id,
        )
        .map_err(Refusal::new)?;
    }
    Ok(VerifiedApproval {
        spc,
        challenge,
        credential_id: passkey.credential_id.clone(),
        public_key,
        response,
        sign_count: verified.sign_count,
        backup_state: verified.backup_state,
    })
}
