//! `crypto`: the crypto ceiling of the token endpoint on this machine.
//!
//! One client_credentials request with `private_key_jwt` and DPoP costs the server two ES256
//! verifications (the client assertion against the registered JWK set, the DPoP proof against
//! the key in its header) and one ES256 signature (the access token). This times exactly those
//! calls, through the same library functions the server uses (`shonin_jose::verify_jwt`,
//! `decode_header` + `verify_with_jwk`, `shonin_keys::LocalSigner` on aws-lc-rs), single-threaded
//! and on N threads. No server can answer such requests faster than the bundle rate; the
//! server's throughput divided by it says how much of the machine goes to everything else.
//!
//! It also times the bare aws-lc-rs operations (no JOSE parsing) for reference.

use crate::client_jwt::{JtiSource, assertion, dpop_proof, unix_now};
use crate::stats::{process_cpu_secs, round3};
use anyhow::Context;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};
use clap::Args;
use serde::Serialize;
use serde_json::{Value, json};
use shonin_jose::{Alg, VerifyOptions, assemble, decode_header, signing_input, verify_jwt};
use shonin_keys::{LocalSigner, Signer};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Distinct assertion/proof pairs cycled through, so caches see varied inputs.
const SAMPLES: usize = 256;
const MAX_SECONDS: f64 = 60.0;

#[derive(Debug, Args)]
pub struct CryptoArgs {
    /// Seconds each measurement runs.
    #[arg(long, default_value_t = 3.0)]
    pub seconds: f64,
    /// Thread counts to measure (the machine's cores: 2 here).
    #[arg(long, value_delimiter = ',', default_value = "1,2")]
    pub threads: Vec<usize>,
}

/// Everything one measurement needs, shared read-only by the threads.
struct Material {
    client_jwks: Value,
    assertions: Vec<String>,
    proofs: Vec<String>,
    server: LocalSigner,
    now: time::OffsetDateTime,
    raw_message: Vec<u8>,
    raw_signature: Vec<u8>,
    raw_public: Vec<u8>,
}

#[derive(Debug, Serialize)]
struct Rates {
    /// Whole requests' worth of crypto per second: 2 verifications + 1 signature.
    bundle_per_s: f64,
    jose_verify_per_s: f64,
    jose_sign_per_s: f64,
    raw_verify_per_s: f64,
    raw_sign_per_s: f64,
}

#[derive(Debug, Serialize)]
struct Report {
    mode: &'static str,
    alg: &'static str,
    per_request: &'static str,
    seconds_each: f64,
    threads: BTreeMap<usize, Rates>,
    /// The bundle rate on the largest thread count: the req/s no server here can exceed.
    ceiling_rps: f64,
    /// CPU seconds this process used for the whole measurement (to tell whether it had the
    /// machine to itself).
    cpu_s: f64,
}

pub fn run(args: &CryptoArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.seconds > 0.0 && args.seconds <= MAX_SECONDS,
        "--seconds must be in (0, {MAX_SECONDS}]"
    );
    let cpu_before = process_cpu_secs();
    let m = material()?;
    let d = Duration::from_secs_f64(args.seconds);
    let mut threads = BTreeMap::new();
    for &t in &args.threads {
        let t = t.clamp(1, 64);
        let rates = Rates {
            bundle_per_s: rate(t, d, &m, bundle)?,
            jose_verify_per_s: rate(t, d, &m, verify_assertion)?,
            jose_sign_per_s: rate(t, d, &m, sign_access_token)?,
            raw_verify_per_s: rate(t, d, &m, raw_verify)?,
            raw_sign_per_s: rate(t, d, &m, |m, _| {
                m.server.sign_now(&m.raw_message).map(|_| ())?;
                Ok(())
            })?,
        };
        threads.insert(t, rates);
    }
    let ceiling_rps = threads
        .last_key_value()
        .map(|(_, r)| r.bundle_per_s)
        .unwrap_or(0.0);
    let report = Report {
        mode: "crypto",
        alg: "ES256",
        per_request: "2 verify (client assertion, DPoP proof) + 1 sign (access token)",
        seconds_each: args.seconds,
        threads,
        ceiling_rps,
        cpu_s: cpu_before
            .zip(process_cpu_secs())
            .map(|(a, b)| round3(b - a))
            .unwrap_or(0.0),
    };
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

fn material() -> anyhow::Result<Material> {
    let client = LocalSigner::generate(Alg::ES256)?;
    let dpop = LocalSigner::generate(Alg::ES256)?;
    let server = LocalSigner::generate(Alg::ES256)?;
    let jtis = JtiSource::new()?;
    let iat = unix_now();
    let issuer = "https://localhost:8443";
    let mut assertions = Vec::with_capacity(SAMPLES);
    let mut proofs = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        assertions.push(assertion(&client, "bench", issuer, iat, &jtis.next())?);
        proofs.push(dpop_proof(
            &dpop,
            "POST",
            &format!("{issuer}/token"),
            iat,
            &jtis.next(),
        )?);
    }
    let raw_message = b"a message the size of a JWS signing input, more or less".repeat(6);
    let raw_signature = server.sign_now(&raw_message)?;
    let raw_public = ec_point(server.public_jwk())?;
    Ok(Material {
        client_jwks: json!({"keys": [client.public_jwk()]}),
        assertions,
        proofs,
        server,
        now: time::OffsetDateTime::now_utc(),
        raw_message,
        raw_signature,
        raw_public,
    })
}

/// The SEC 1 uncompressed point of a P-256 JWK, for the bare aws-lc-rs verification.
fn ec_point(jwk: &Value) -> anyhow::Result<Vec<u8>> {
    let coord = |name: &str| -> anyhow::Result<Vec<u8>> {
        let s = jwk.get(name).and_then(Value::as_str).context("EC JWK")?;
        Ok(shonin_jose::b64url_decode(s)?)
    };
    let mut point = vec![0x04];
    point.extend(coord("x")?);
    point.extend(coord("y")?);
    Ok(point)
}

fn pick(v: &[String], i: usize) -> &str {
    v.get(i % SAMPLES).map(String::as_str).unwrap_or_default()
}

fn verify_assertion(m: &Material, i: usize) -> anyhow::Result<()> {
    verify_jwt(
        pick(&m.assertions, i),
        &m.client_jwks,
        &VerifyOptions::new(m.now),
    )?;
    Ok(())
}

fn verify_proof(m: &Material, i: usize) -> anyhow::Result<()> {
    let proof = pick(&m.proofs, i);
    let header = decode_header(proof)?;
    let jwk = header.jwk.context("the proof has no jwk")?;
    let opts = VerifyOptions::new(m.now)
        .with_typ("dpop+jwt")
        .exp_optional();
    shonin_jose::verify_with_jwk(proof, &jwk, &opts)?;
    Ok(())
}

fn sign_access_token(m: &Material, i: usize) -> anyhow::Result<()> {
    let header = json!({"alg": "ES256", "kid": m.server.kid(), "typ": "at+jwt"});
    let iat = m.now.unix_timestamp();
    let claims = json!({
        "iss": "https://localhost:8443", "sub": "bench", "aud": "https://localhost:8443",
        "client_id": "bench", "scope": "accounts", "iat": iat, "exp": iat + 300,
        "jti": format!("at-{i}"), "cnf": {"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"},
    });
    let input = signing_input(&header, &claims)?;
    let sig = m.server.sign_now(input.as_bytes())?;
    std::hint::black_box(assemble(&input, &sig));
    Ok(())
}

fn bundle(m: &Material, i: usize) -> anyhow::Result<()> {
    verify_assertion(m, i)?;
    verify_proof(m, i)?;
    sign_access_token(m, i)
}

fn raw_verify(m: &Material, _i: usize) -> anyhow::Result<()> {
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &m.raw_public)
        .verify(&m.raw_message, &m.raw_signature)
        .map_err(|_| anyhow::anyhow!("raw verification failed"))
}

/// Calls `op` on `threads` threads for `d` and returns the total calls per second.
fn rate(
    threads: usize,
    d: Duration,
    m: &Material,
    op: impl Fn(&Material, usize) -> anyhow::Result<()> + Sync,
) -> anyhow::Result<f64> {
    let started = Instant::now();
    let counts: Vec<anyhow::Result<u64>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let op = &op;
                s.spawn(move || -> anyhow::Result<u64> {
                    let mut n: u64 = 0;
                    let mut i: usize = 0;
                    loop {
                        // Check the clock every 16 calls: each call takes tens of microseconds.
                        for _ in 0..16 {
                            op(m, i)?;
                            i = i.wrapping_add(1);
                        }
                        n += 16;
                        if started.elapsed() >= d {
                            return Ok(n);
                        }
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a thread panicked")))
            })
            .collect()
    });
    let elapsed = started.elapsed().as_secs_f64();
    let mut total: u64 = 0;
    for c in counts {
        total += c?;
    }
    #[allow(clippy::cast_precision_loss)]
    Ok(round3(total as f64 / elapsed))
}
