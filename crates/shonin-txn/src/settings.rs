//! `[transactions]`: the limits of transaction approval, as configured (seconds), and the
//! [`TxnPolicy`] they make.

use crate::TxnPolicy;
use serde::{Deserialize, Serialize};
use time::Duration;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct TxnSettings {
    /// From creation to the approval deadline: 1 – 300 s (the challenge's lifetime).
    pub lifetime_secs: u64,
    /// Failed approval attempts before a transaction locks: 1 – 5 (PSD2 RTS Art. 4(3)(b)).
    pub max_attempts: u32,
    /// How long after approval the payment backend may execute: 1 – 3600 s.
    pub execute_window_secs: u64,
    /// How long a transaction's record is kept; receipts are kept apart, without limit.
    pub retention_secs: u64,
    /// Secure Payment Confirmation: the instrument the browser's dialog shows. Both set, or
    /// SPC challenges are refused.
    pub spc_instrument_name: Option<String>,
    /// An https URL or a `data:image/…` URL of the instrument's icon.
    pub spc_instrument_icon: Option<String>,
}

impl Default for TxnSettings {
    fn default() -> Self {
        let p = TxnPolicy::default();
        TxnSettings {
            lifetime_secs: secs_of(p.lifetime),
            max_attempts: p.max_attempts,
            execute_window_secs: secs_of(p.execute_window),
            retention_secs: secs_of(p.retention),
            spc_instrument_name: None,
            spc_instrument_icon: None,
        }
    }
}

impl TxnSettings {
    pub fn policy(&self) -> TxnPolicy {
        TxnPolicy {
            lifetime: secs(self.lifetime_secs),
            max_attempts: self.max_attempts,
            execute_window: secs(self.execute_window_secs),
            retention: secs(self.retention_secs),
        }
    }

    /// The rule the settings break, if any (the server reports it under `transactions`).
    pub fn validate(&self) -> Result<(), &'static str> {
        self.policy().check()?;
        match (&self.spc_instrument_name, &self.spc_instrument_icon) {
            (None, None) => Ok(()),
            (Some(name), Some(icon)) => {
                let chars = name.chars().count();
                if chars == 0 || chars > 64 || !shonin_types::text::is_displayable(name) {
                    return Err("spc_instrument_name: 1 – 64 displayable characters");
                }
                let https = url::Url::parse(icon).is_ok_and(|u| u.scheme() == "https");
                if icon.len() > 8192 || !(https || icon.starts_with("data:image/")) {
                    return Err(
                        "spc_instrument_icon: an https URL or a data:image/ URL, at most 8 KiB",
                    );
                }
                Ok(())
            }
            _ => Err("spc_instrument_name and spc_instrument_icon: set both, or neither"),
        }
    }

    /// The SPC instrument, when configured.
    pub fn spc_instrument(&self) -> Option<crate::spc::Instrument> {
        Some(crate::spc::Instrument {
            display_name: self.spc_instrument_name.clone()?,
            icon: self.spc_instrument_icon.clone()?,
        })
    }
}

fn secs(s: u64) -> Duration {
    Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX))
}

fn secs_of(d: Duration) -> u64 {
    u64::try_from(d.whole_seconds()).unwrap_or(0)
}
