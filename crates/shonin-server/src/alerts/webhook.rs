//! The operator's webhook: its settings, the signature, and the notification bodies. Sending
//! and auditing a delivery is `super`'s (it needs the application state).

use crate::config::AlertSettings;
use anyhow::Context as _;
use aws_lc_rs::hmac;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The signature header.
pub const SIGNATURE_HEADER: &str = "shonin-signature";

#[derive(Debug)]
pub struct Alerts {
    pub(super) url: url::Url,
    key: hmac::Key,
    pub(super) threshold: u32,
    pub(super) client: reqwest::Client,
}

/// The notification body.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct SignInFailuresAlert {
    pub event: String,
    pub issuer: String,
    pub user_id: String,
    pub username: String,
    pub consecutive_failures: u32,
    pub source_ip: String,
    pub time: String,
}

/// The `transaction.locked` notification body.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct TransactionLockedAlert {
    pub event: String,
    pub issuer: String,
    pub user_id: String,
    pub client_id: String,
    pub transaction_id: String,
    /// Failed approval attempts, the last of which locked it.
    pub attempts: u32,
    pub time: String,
}

impl Alerts {
    /// The alerts of `settings`, or `None` when no webhook is configured.
    pub fn build(settings: &AlertSettings) -> anyhow::Result<Option<Self>> {
        let (Some(url), Some(secret_file)) = (&settings.webhook_url, &settings.webhook_secret_file)
        else {
            return Ok(None);
        };
        let secret = std::fs::read(secret_file)
            .with_context(|| format!("alerts.webhook_secret_file {}", secret_file.display()))?;
        let secret = trim_ascii(&secret);
        anyhow::ensure!(
            secret.len() >= 32,
            "alerts.webhook_secret_file {}: the secret must be at least 32 bytes",
            secret_file.display()
        );
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(settings.timeout_secs))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .context("alerts: HTTP client")?;
        Ok(Some(Self {
            url: url::Url::parse(url).context("alerts.webhook_url")?,
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
            threshold: settings.failed_sign_in_threshold,
            client,
        }))
    }

    /// `t=…,v1=…` for `body` at unix time `t`.
    pub fn signature(&self, t: i64, body: &[u8]) -> String {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(t.to_string().as_bytes());
        ctx.update(b".");
        ctx.update(body);
        let tag = ctx.sign();
        let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        format!("t={t},v1={hex}")
    }
}

fn trim_ascii(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    bytes.get(start..end).unwrap_or_default()
}

/// The `threeds.challenge_code` notification: a 3-D Secure challenge's one-time code for the
/// issuer's channel to the cardholder (SMS), with the purchase it confirms (PSD2 RTS Art. 5(1)(a):
/// the payer is made aware of the amount and the payee).
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChallengeCodeAlert {
    pub event: String,
    pub issuer: String,
    pub user_id: String,
    pub acs_trans_id: String,
    pub code: String,
    pub merchant: String,
    pub amount: String,
    /// Masked: first six and last four digits.
    pub card: String,
    /// When the challenge times out.
    pub expires_at: String,
    pub time: String,
}

/// The `ciba.approval_requested` notification: a client asked for the user's approval (OpenID
/// CIBA); the operator's channel (push, e-mail) sends the user to `approval_url`, where the
/// user signs in with a passkey and sees who asks and the binding message.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct CibaRequestedAlert {
    pub event: String,
    pub issuer: String,
    pub user_id: String,
    pub username: String,
    pub client_id: String,
    pub client_name: String,
    /// Shown on both devices (CIBA Core §7.1), if the client sent one.
    pub binding_message: Option<String>,
    pub approval_url: String,
    pub expires_at: String,
    pub time: String,
}
