//! The algorithm policy.

use std::fmt;
use std::str::FromStr;

/// A JWS algorithm Shonin accepts. FAPI 2.0 Security Profile §5.4.1: PS256, ES256 or EdDSA with
/// Ed25519 only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Alg {
    ES256,
    PS256,
    EdDSA,
}

impl Alg {
    pub fn as_str(self) -> &'static str {
        match self {
            Alg::ES256 => "ES256",
            Alg::PS256 => "PS256",
            Alg::EdDSA => "EdDSA",
        }
    }
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The algorithm named is not in the policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("algorithm {0:?} is not allowed (allowed: ES256, PS256, EdDSA)")]
pub struct AlgNotAllowed(pub String);

impl FromStr for Alg {
    type Err = AlgNotAllowed;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ES256" => Ok(Alg::ES256),
            "PS256" => Ok(Alg::PS256),
            "EdDSA" => Ok(Alg::EdDSA),
            other => Err(AlgNotAllowed(other.chars().take(32).collect())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_rejects_none_hmac_and_rsa_pkcs1() {
        for bad in ["none", "HS256", "RS256", "ES512", "es256", ""] {
            assert!(bad.parse::<Alg>().is_err(), "{bad} must be rejected");
        }
        assert_eq!("EdDSA".parse::<Alg>(), Ok(Alg::EdDSA));
    }
}
