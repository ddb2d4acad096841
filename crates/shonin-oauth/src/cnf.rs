//! The confirmation (`cnf`, RFC 7800 §3.1) an issued token is bound to: a DPoP key (`jkt`,
//! RFC 9449 §6.1), a client certificate (`x5t#S256`, RFC 8705 §3.1), or both. FAPI 2.0
//! §5.3.2.1 item 4 allows only sender-constrained tokens, so a confirmation is never empty.

use serde_json::{Map, Value, json};

/// What a token is bound to; at least one member is present.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmation {
    jkt: Option<String>,
    x5t_s256: Option<String>,
}

impl Confirmation {
    /// A confirmation with the given members; `None` if both are absent.
    pub fn new(jkt: Option<String>, x5t_s256: Option<String>) -> Option<Self> {
        (jkt.is_some() || x5t_s256.is_some()).then_some(Self { jkt, x5t_s256 })
    }

    /// Bound to a DPoP key only.
    pub fn dpop(jkt: impl Into<String>) -> Self {
        Self {
            jkt: Some(jkt.into()),
            x5t_s256: None,
        }
    }

    /// Bound to a client certificate only.
    pub fn certificate(x5t_s256: impl Into<String>) -> Self {
        Self {
            jkt: None,
            x5t_s256: Some(x5t_s256.into()),
        }
    }

    pub fn jkt(&self) -> Option<&str> {
        self.jkt.as_deref()
    }

    pub fn x5t_s256(&self) -> Option<&str> {
        self.x5t_s256.as_deref()
    }

    /// RFC 6749 §7.1 `token_type`: `DPoP` for a DPoP-bound token (RFC 9449 §5), `Bearer` for a
    /// token bound to the certificate only (RFC 8705 §3 keeps the Bearer scheme).
    pub fn token_type(&self) -> &'static str {
        if self.jkt.is_some() { "DPoP" } else { "Bearer" }
    }

    /// The `cnf` claim.
    pub fn to_claim(&self) -> Value {
        let mut cnf = Map::new();
        if let Some(jkt) = &self.jkt {
            cnf.insert("jkt".into(), json!(jkt));
        }
        if let Some(x5t) = &self.x5t_s256 {
            cnf.insert("x5t#S256".into(), json!(x5t));
        }
        Value::Object(cnf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_empty_and_token_type_follows_dpop() {
        assert_eq!(Confirmation::new(None, None), None);
        assert_eq!(Confirmation::dpop("j").token_type(), "DPoP");
        assert_eq!(Confirmation::certificate("x").token_type(), "Bearer");
        let both = Confirmation::new(Some("j".into()), Some("x".into())).unwrap();
        assert_eq!(both.token_type(), "DPoP");
        assert_eq!(both.to_claim(), json!({"jkt": "j", "x5t#S256": "x"}));
    }
}
