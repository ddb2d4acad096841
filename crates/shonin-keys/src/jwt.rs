//! Signing JWTs with any [`Signer`], local or HSM-held.

use crate::{KeyError, Signer};
use serde_json::{Value, json};

/// Signs `claims` as a compact JWS with header `{"alg", "kid", "typ"}` (RFC 7515 §7.1). `typ`
/// follows RFC 8725 §3.11 explicit typing, e.g. `"at+jwt"` (RFC 9068 §2.1).
pub async fn sign_jwt(signer: &dyn Signer, typ: &str, claims: &Value) -> Result<String, KeyError> {
    let header = json!({"alg": signer.alg().as_str(), "kid": signer.kid(), "typ": typ});
    let input = shonin_jose::signing_input(&header, claims)?;
    let signature = signer.sign(input.as_bytes()).await?;
    Ok(shonin_jose::assemble(&input, &signature))
}
