//! `pregen`: signs N requests ahead of time, so that `run` measures the server and not the
//! generator's signing. Three kinds (`--kind`):
//!
//! - `client-credentials`: `grant_type=client_credentials` at the token endpoint;
//! - `refresh-token`: `grant_type=refresh_token` at the token endpoint with the refresh token of
//!   `--tokens` (a file written by `loadgen flow --save-tokens`), bound to the DPoP key of
//!   `--keys`; one refresh token serves every request, as refresh tokens are not rotated by
//!   default (FAPI 2.0 §5.3.2.1);
//! - `userinfo`: `GET` of the userinfo endpoint with `Authorization: DPoP <access token>` (the
//!   access token of `--tokens`) and a proof with `ath`.
//! - `json-post`: `POST` of the one-line JSON in `--body` to `--token-url` (a resource such as
//!   the 3DS Server's `/3ds/server/authentications`) with `Authorization: DPoP <access token>`
//!   (the access token of `--tokens`, a token response saved from a client_credentials grant)
//!   and a proof with `ath`.
//!
//! File format (`shonin-loadgen-pregen/1`): a JSON header line, then one request per line as
//! `<DPoP proof> TAB <form body>` (the body is empty for `GET`). The header names the method and,
//! for `userinfo`, the `Authorization` value every request carries. Every request carries its own
//! assertion `jti` (token endpoint) and proof `jti` (see [`JtiSource`]), so a run of N requests
//! never replays one. The header's `not_after` is when the first proofs go stale (Shonin accepts
//! a DPoP proof for 60 s after its `iat`); `run` stops before it.

use crate::client_jwt::{
    self, JtiSource, assertion, client_auth_fields, dpop_proof, dpop_proof_for_token,
};
use crate::keys;
use anyhow::Context;
use clap::{Args, ValueEnum};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::PathBuf;

pub const FORMAT: &str = "shonin-loadgen-pregen/1";
/// Shonin's DPoP proof lifetime (`iat` + 60 s, RFC 9449 §11.1) less a safety margin.
const USABLE_SECS: i64 = 55;
/// An upper bound on one file, so a typo cannot fill the disk (about 1 KiB per request).
const MAX_REQUESTS: usize = 2_000_000;

/// What each pregenerated request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    /// `grant_type=client_credentials` at the token endpoint.
    ClientCredentials,
    /// `grant_type=refresh_token` with the refresh token of `--tokens`.
    RefreshToken,
    /// `GET` of the userinfo endpoint with the access token of `--tokens`.
    Userinfo,
    /// `POST` of `--body` (JSON) to `--token-url` with the access token of `--tokens`.
    JsonPost,
}

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
    /// What each request is.
    #[arg(long, value_enum, default_value = "client-credentials")]
    pub kind: Kind,
    /// The URL the requests go to: the proofs' `htu` (default: issuer + `/token`, or issuer +
    /// `/userinfo` for `--kind userinfo`).
    #[arg(long)]
    pub token_url: Option<String>,
    /// Scope to request (client-credentials only).
    #[arg(long, default_value = "accounts")]
    pub scope: String,
    /// A token response saved by `loadgen flow --save-tokens` (refresh-token and userinfo).
    #[arg(long)]
    pub tokens: Option<PathBuf>,
    /// The JSON body of every request (json-post only).
    #[arg(long)]
    pub body: Option<PathBuf>,
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
    /// The requests' method: `POST` (a form body) or `GET` (no body).
    #[serde(default = "post")]
    pub method: String,
    /// An `Authorization` value every request carries (userinfo: `DPoP <access token>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<String>,
    /// The body's media type (POST).
    #[serde(default = "form")]
    pub content_type: String,
}

fn post() -> String {
    "POST".to_owned()
}

fn form() -> String {
    "application/x-www-form-urlencoded".to_owned()
}

/// What a request of each kind needs besides the keys: the token it presents.
enum Presents {
    Nothing,
    RefreshToken(String),
    AccessToken(String),
    /// An access token and the JSON body to post with it.
    AccessTokenWithBody(String, String),
}

/// The token named `field` in a token response saved by `loadgen flow --save-tokens`.
fn saved_token(path: Option<&PathBuf>, field: &str) -> anyhow::Result<String> {
    let path = path.context("--tokens is needed for this --kind")?;
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    v.get(field)
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned)
        .with_context(|| format!("{} has no {field}", path.display()))
}

pub fn run(args: &PregenArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        (1..=MAX_REQUESTS).contains(&args.count),
        "-n must be 1 to {MAX_REQUESTS}"
    );
    let keys = keys::load(&args.keys)?;
    let issuer = args.issuer.trim_end_matches('/');
    let (presents, default_path) = match args.kind {
        Kind::ClientCredentials => (Presents::Nothing, "/token"),
        Kind::RefreshToken => (
            Presents::RefreshToken(saved_token(args.tokens.as_ref(), "refresh_token")?),
            "/token",
        ),
        Kind::Userinfo => (
            Presents::AccessToken(saved_token(args.tokens.as_ref(), "access_token")?),
            "/userinfo",
        ),
        Kind::JsonPost => {
            let path = args
                .body
                .as_ref()
                .context("--body is needed for json-post")?;
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            let body: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("parsing {}", path.display()))?;
            anyhow::ensure!(
                args.token_url.is_some(),
                "--token-url names the resource for json-post"
            );
            (
                Presents::AccessTokenWithBody(
                    saved_token(args.tokens.as_ref(), "access_token")?,
                    // One line: the file's requests are one per line.
                    serde_json::to_string(&body)?,
                ),
                "",
            )
        }
    };
    let htu = args
        .token_url
        .clone()
        .unwrap_or_else(|| format!("{issuer}{default_path}"));
    let jtis = JtiSource::new()?;
    let started = std::time::Instant::now();
    let iat = client_jwt::unix_now();
    let threads = args.threads.clamp(1, 64);
    let per_thread = args.count.div_ceil(threads);
    let chunks: Vec<anyhow::Result<Vec<String>>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let n = per_thread.min(args.count.saturating_sub(t * per_thread));
                let (keys, jtis, htu, presents) = (&keys, &jtis, &htu, &presents);
                s.spawn(move || {
                    (0..n)
                        .map(|_| line(keys, jtis, args, htu, presents, iat))
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
        method: if args.kind == Kind::Userinfo {
            "GET"
        } else {
            "POST"
        }
        .to_owned(),
        authorization: match &presents {
            Presents::AccessToken(at) | Presents::AccessTokenWithBody(at, _) => {
                Some(format!("DPoP {at}"))
            }
            _ => None,
        },
        content_type: match args.kind {
            Kind::JsonPost => "application/json".to_owned(),
            _ => form(),
        },
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
    presents: &Presents,
    iat: i64,
) -> anyhow::Result<String> {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    match presents {
        Presents::AccessToken(at) => {
            // A resource request: no client authentication, no body; the proof covers the
            // access token (`ath`).
            let proof = dpop_proof_for_token(&keys.dpop, "GET", htu, iat, &jtis.next(), Some(at))?;
            return Ok(format!("{proof}\t"));
        }
        Presents::AccessTokenWithBody(at, body) => {
            let proof = dpop_proof_for_token(&keys.dpop, "POST", htu, iat, &jtis.next(), Some(at))?;
            return Ok(format!("{proof}\t{body}"));
        }
        Presents::Nothing => {
            form.append_pair("grant_type", "client_credentials");
            form.append_pair("scope", &args.scope);
        }
        Presents::RefreshToken(rt) => {
            form.append_pair("grant_type", "refresh_token");
            form.append_pair("refresh_token", rt);
        }
    }
    let a = assertion(
        &keys.client,
        &args.client_id,
        &args.issuer,
        iat,
        &jtis.next(),
    )?;
    let proof = dpop_proof(&keys.dpop, "POST", htu, iat, &jtis.next())?;
    for (k, v) in client_auth_fields(&args.client_id, a) {
        form.append_pair(k, &v);
    }
    Ok(format!("{proof}\t{}", form.finish()))
}
