//! `pregen`: signs N client_credentials token requests ahead of time, so that `run` measures the
//! server and not the generator's signing.
//!
//! File format (`shonin-loadgen-pregen/1`): a JSON header line, then one request per line as
//! `<DPoP proof> TAB <form body>`. Every request carries its own assertion `jti` and proof `jti`
//! (see [`JtiSource`]), so a run of N requests never replays one. The header's `not_after` is when
//! the first proofs go stale (Shonin accepts a DPoP proof for 60 s after its `iat`); `run` stops
//! before it.

use crate::client_jwt::{self, JtiSource, assertion, client_auth_fields, dpop_proof};
use crate::keys;
use anyhow::Context;
use clap::Args;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::PathBuf;

pub const FORMAT: &str = "shonin-loadgen-pregen/1";
/// Shonin's DPoP proof lifetime (`iat` + 60 s, RFC 9449 §11.1) less a safety margin.
const USABLE_SECS: i64 = 55;
/// An upper bound on one file, so a typo cannot fill the disk (about 1 KiB per request).
const MAX_REQUESTS: usize = 2_000_000;

#[derive(Debug, Args)]
pub struct PregenArgs {
    /// Directory written by `loadgen keys`.
    #[arg(long)]
    pub keys: PathBuf,
    /// The registered client_id.
    #[arg(long)]
    pub client_id: String,
    /// The server's issuer identifier: the assertions' `aud`.
    #[arg(long)]
    pub issuer: String,
    /// The token endpoint URL: the proofs' `htu` (default: issuer + `/token`).
    #[arg(long)]
    pub token_url: Option<String>,
    /// Scope to request.
    #[arg(long, default_value = "accounts")]
    pub scope: String,
    /// Number of requests.
    #[arg(short = 'n', long)]
    pub count: usize,
    /// Output file.
    #[arg(long)]
    pub out: PathBuf,
    /// Signing threads.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
}

/// The first line of a pregenerated file.
#[derive(Debug, Serialize, Deserialize)]
pub struct FileHeader {
    pub format: String,
    pub count: usize,
    pub htu: String,
    pub aud: String,
    pub iat: i64,
    /// Unix time after which the file's proofs must not be sent any more.
    pub not_after: i64,
}

pub fn run(args: &PregenArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        (1..=MAX_REQUESTS).contains(&args.count),
        "-n must be 1 to {MAX_REQUESTS}"
    );
    let keys = keys::load(&args.keys)?;
    let htu = args
        .token_url
        .clone()
        .unwrap_or_else(|| format!("{}/token", args.issuer.trim_end_matches('/')));
    let jtis = JtiSource::new()?;
    let started = std::time::Instant::now();
    let iat = client_jwt::unix_now();
    let threads = args.threads.clamp(1, 64);
    let per_thread = args.count.div_ceil(threads);
    let chunks: Vec<anyhow::Result<Vec<String>>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let n = per_thread.min(args.count.saturating_sub(t * per_thread));
                let (keys, jtis, htu) = (&keys, &jtis, &htu);
                s.spawn(move || {
                    (0..n)
                        .map(|_| line(keys, jtis, args, htu, iat))
                        .collect::<anyhow::Result<Vec<String>>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a signing thread panicked")))
            })
            .collect()
    });
    let header = FileHeader {
        format: FORMAT.to_owned(),
        count: args.count,
        htu,
        aud: args.issuer.clone(),
        iat,
        not_after: iat + USABLE_SECS,
    };
    let file = std::fs::File::create(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let mut w = std::io::BufWriter::new(file);
    writeln!(w, "{}", serde_json::to_string(&header)?)?;
    for chunk in chunks {
        for l in chunk? {
            writeln!(w, "{l}")?;
        }
    }
    w.flush()?;
    eprintln!(
        "loadgen: {} requests signed in {:.2} s into {}",
        args.count,
        started.elapsed().as_secs_f64(),
        args.out.display()
    );
    Ok(())
}

fn line(
    keys: &keys::ClientKeys,
    jtis: &JtiSource,
    args: &PregenArgs,
    htu: &str,
    iat: i64,
) -> anyhow::Result<String> {
    let a = assertion(
        &keys.client,
        &args.client_id,
        &args.issuer,
        iat,
        &jtis.next(),
    )?;
    let proof = dpop_proof(&keys.dpop, "POST", htu, iat, &jtis.next())?;
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.append_pair("grant_type", "client_credentials");
    form.append_pair("scope", &args.scope);
    for (k, v) in client_auth_fields(&args.client_id, a) {
        form.append_pair(k, &v);
    }
    Ok(format!("{proof}\t{}", form.finish()))
}
