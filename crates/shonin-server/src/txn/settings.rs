//! `[transactions]`: the limits of transaction approval.

use serde::{Deserialize, Serialize};
use shonin_txn::TxnPolicy;
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
}

impl Default for TxnSettings {
    fn default() -> Self {
        let p = TxnPolicy::default();
        TxnSettings {
            lifetime_secs: secs_of(p.lifetime),
            max_attempts: p.max_attempts,
            execute_window_secs: secs_of(p.execute_window),
            retention_secs: secs_of(p.retention),
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

    /// The rule the settings break, if any (`config.rs` reports it under `transactions`).
    pub fn validate(&self) -> Result<(), &'static str> {
        self.policy().check()
    }
}

fn secs(s: u64) -> Duration {
    Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX))
}

fn secs_of(d: Duration) -> u64 {
    u64::try_from(d.whole_seconds()).unwrap_or(0)
}
