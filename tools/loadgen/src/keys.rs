//! The benchmark client's key material: an ES256 key for `private_key_jwt` client assertions and
//! an ES256 key for DPoP proofs, kept as PKCS#8 files (0600) so that `pregen` and `flow` runs
//! sign with the key the server has registered.
//!
//! These are throw-away benchmark keys in a temporary directory, never a real client's.

use anyhow::Context;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use clap::Args;
use serde_json::json;
use shonin_jose::Alg;
use shonin_keys::{LocalSigner, Signer};
use std::io::Write;
use std::path::{Path, PathBuf};

const CLIENT_KEY: &str = "client.pk8";
const DPOP_KEY: &str = "dpop.pk8";
/// The client's public JWK set, for `shonin clients add --jwks-file` and the peer's config.
pub const CLIENT_JWKS: &str = "client-jwks.json";
/// The DPoP key's public JWK, for the peer to bind the tokens it is given ahead of time
/// (`bench/oidc-provider/server.mjs`).
pub const DPOP_PUBLIC_JWK: &str = "dpop-public-jwk.json";
const CLIENT_KID: &str = "bench-client-es256";
const DPOP_KID: &str = "bench-dpop-es256";

#[derive(Debug, Args)]
pub struct KeysArgs {
    /// Directory to create the files in (created if missing; existing key files are refused).
    #[arg(long)]
    pub dir: PathBuf,
}

/// The two signing keys of the benchmark client.
#[derive(Debug)]
pub struct ClientKeys {
    /// Signs client assertions (`private_key_jwt`).
    pub client: LocalSigner,
    /// Signs DPoP proofs; its public JWK goes into each proof's header.
    pub dpop: LocalSigner,
}

pub fn run(args: &KeysArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("creating {}", args.dir.display()))?;
    write_private(&args.dir.join(CLIENT_KEY), &new_pkcs8()?)?;
    write_private(&args.dir.join(DPOP_KEY), &new_pkcs8()?)?;
    let keys = load(&args.dir)?;
    let jwks = json!({ "keys": [keys.client.public_jwk()] });
    let path = args.dir.join(CLIENT_JWKS);
    std::fs::write(&path, serde_json::to_vec_pretty(&jwks)?)
        .with_context(|| format!("writing {}", path.display()))?;
    let path = args.dir.join(DPOP_PUBLIC_JWK);
    std::fs::write(&path, serde_json::to_vec_pretty(keys.dpop.public_jwk())?)
        .with_context(|| format!("writing {}", path.display()))?;
    eprintln!("loadgen: keys written to {}", args.dir.display());
    Ok(())
}

/// Loads the keys `keys` wrote into `dir`.
pub fn load(dir: &Path) -> anyhow::Result<ClientKeys> {
    let read = |name: &str, kid: &str| -> anyhow::Result<LocalSigner> {
        let path = dir.join(name);
        let der = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        LocalSigner::from_pkcs8(kid, Alg::ES256, &der)
            .with_context(|| format!("loading {}", path.display()))
    };
    Ok(ClientKeys {
        client: read(CLIENT_KEY, CLIENT_KID)?,
        dpop: read(DPOP_KEY, DPOP_KID)?,
    })
}

fn new_pkcs8() -> anyhow::Result<Vec<u8>> {
    let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
        .map_err(|_| anyhow::anyhow!("aws-lc-rs could not generate a P-256 key"))?;
    let der = key
        .to_pkcs8v1()
        .map_err(|_| anyhow::anyhow!("aws-lc-rs could not export a P-256 key"))?;
    Ok(der.as_ref().to_vec())
}

pub fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(bytes)?;
    Ok(())
}
