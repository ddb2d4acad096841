//! `passkeys`: passkey verifications against password checks, per core, in one run (issue 4,
//! "Performance").
//!
//! Both sides run exactly what the server runs for one sign-in's credential check:
//! - passkey: webauthn-rs `finish_discoverable_authentication_v2` on a browser-shaped assertion
//!   (JSON already parsed, as the server has it after reading the body): client data and
//!   authenticator data checks and one ES256 signature verification;
//! - password: `shonin_identity::verify_password` with the Argon2id parameters the server
//!   enforces (OWASP: 19 MiB, 2 iterations, 1 lane).
//!
//! Single-threaded, so the rates are per core. The assertions come from `shonin-testkit`'s
//! software authenticator, made before the clock starts.

use crate::stats::round3;
use anyhow::{Context, anyhow};
use clap::Args;
use serde_json::json;
use shonin_identity::{Argon2Params, Password, hash_password, verify_password};
use shonin_testkit::Authenticator;
use std::time::{Duration, Instant};
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PublicKeyCredential, RegisterPublicKeyCredential, Url,
    Uuid, WebauthnBuilder,
};

const ORIGIN: &str = "https://localhost:8443";
/// The AAGUID the benchmark's software authenticator reports.
pub const BENCH_AAGUID: [u8; 16] = [0x42; 16];
/// Distinct challenge/assertion pairs cycled through.
const SAMPLES: usize = 512;

#[derive(Debug, Args)]
pub struct PasskeyArgs {
    /// Seconds each side is measured.
    #[arg(long, default_value_t = 3.0)]
    pub seconds: f64,
}

pub fn run(args: &PasskeyArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.seconds > 0.0 && args.seconds <= 60.0,
        "--seconds must be in (0, 60]"
    );
    let window = Duration::from_secs_f64(args.seconds);
    let origin = Url::parse(ORIGIN)?;
    let webauthn = WebauthnBuilder::new("localhost", &origin)
        .and_then(|b| b.build())
        .map_err(|e| anyhow!("webauthn: {e:?}"))?;
    let mut authenticator = Authenticator::new(BENCH_AAGUID);
    let (ccr, reg_state) = webauthn
        .start_passkey_registration(Uuid::new_v4(), "bench", "Bench", None)
        .map_err(|e| anyhow!("start registration: {e:?}"))?;
    let cred = authenticator.register(&serde_json::to_value(&ccr)?, ORIGIN)?;
    let cred: RegisterPublicKeyCredential = serde_json::from_value(cred)?;
    let passkey: Passkey = webauthn
        .finish_passkey_registration(&cred, &reg_state)
        .map_err(|e| anyhow!("finish registration: {e:?}"))?;

    let mut samples: Vec<(DiscoverableAuthentication, PublicKeyCredential)> =
        Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let (rcr, state) = webauthn
            .start_discoverable_authentication()
            .map_err(|e| anyhow!("start authentication: {e:?}"))?;
        let assertion = authenticator.authenticate(&serde_json::to_value(&rcr)?, ORIGIN)?;
        samples.push((state, serde_json::from_value(assertion)?));
    }

    // Passkeys: every assertion must verify; the stored counter stays at its registration
    // value, and each assertion's counter is higher, as in a series of real sign-ins.
    let start = Instant::now();
    let mut passkey_ops = 0u64;
    for (state, assertion) in samples.iter().cycle() {
        webauthn
            .finish_discoverable_authentication_v2(assertion, state.clone(), &passkey)
            .map_err(|e| anyhow!("a valid assertion was refused: {e:?}"))?;
        passkey_ops += 1;
        if passkey_ops.is_multiple_of(64) && start.elapsed() >= window {
            break;
        }
    }
    let passkey_secs = start.elapsed().as_secs_f64();

    let params = Argon2Params::OWASP;
    let password = Password::new("correct horse battery staple".into())
        .map_err(|e| anyhow!("password: {e}"))?;
    let hash = hash_password(&password, &params).map_err(|e| anyhow!("hash: {e}"))?;
    let start = Instant::now();
    let mut password_ops = 0u64;
    while start.elapsed() < window {
        anyhow::ensure!(
            verify_password(b"correct horse battery staple", &hash),
            "the right password was refused"
        );
        password_ops += 1;
    }
    let password_secs = start.elapsed().as_secs_f64();
    anyhow::ensure!(
        !verify_password(b"wrong horse battery staple", &hash),
        "a wrong password was accepted"
    );

    let passkey_rate = passkey_ops as f64 / passkey_secs;
    let password_rate = password_ops as f64 / password_secs;
    let report = json!({
        "mode": "passkeys",
        "threads": 1,
        "passkey": {"verifications": passkey_ops, "seconds": round3(passkey_secs),
                    "per_s": round3(passkey_rate), "what": "webauthn-rs finish_discoverable_authentication_v2, ES256"},
        "password": {"verifications": password_ops, "seconds": round3(password_secs),
                     "per_s": round3(password_rate),
                     "what": format!("argon2id m={} KiB t={} p={}", params.m_cost_kib(), params.t_cost(), params.p_cost())},
        "ratio": round3(passkey_rate / password_rate),
    });
    println!("{}", serde_json::to_string(&report).context("report")?);
    Ok(())
}
