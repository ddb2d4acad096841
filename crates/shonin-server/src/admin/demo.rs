//! `serve --dev` demo data: when the store has no client yet, a demo client with its own ES256
//! key pair and a demo user, so a newcomer can run a complete FAPI 2.0 flow at once.
//!
//! Written under the data directory:
//! - `demo-client/private.jwk` (0600): the client's private key, a JWK with `d`, for the client
//!   side of the flow (signing its `private_key_jwt` assertions and DPoP proofs);
//! - `demo-client/public.jwks`: the public JWK set registered for `demo-client`;
//! - `demo-user.txt` (0600): user `alice` and her random password, also printed once in the
//!   banner when created.
//!
//! `shonin demo` (the `shonin-demo` crate) reads the private JWK and `demo-user.txt` back, with
//! [`DEMO_CLIENT_ID`] and [`DEMO_USERNAME`] passed in by the CLI.
//!
//! Development only: never called without `--dev`.

pub use crate::dev::DemoAccount;

use crate::dev::write_private;
use crate::state::AppState;
use anyhow::Context;
use aws_lc_rs::encoding::AsBigEndian;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};
use shonin_audit::Actor;
use shonin_identity::{Password, User, UserStore, Username};
use shonin_jose::{Alg, b64url_encode, jwk_thumbprint_sha256};
use shonin_keys::{LocalSigner, Signer};
use shonin_oauth::client::{ClientRegistration, ClientStore, GrantType, validate};
use std::path::Path;
use zeroize::{Zeroize, Zeroizing};

pub const DEMO_CLIENT_ID: &str = "demo-client";
pub const DEMO_CLIENT_NAME: &str = "Shonin demo client";
pub const DEMO_USERNAME: &str = "alice";

/// Creates the demo client and user if the store has no client; returns what the banner shows,
/// or `None` when the store already had clients other than the demo client.
pub async fn ensure(data_dir: &Path, state: &AppState) -> anyhow::Result<Option<DemoAccount>> {
    let dir = data_dir.join("demo-client");
    let mut account = DemoAccount {
        client_id: DEMO_CLIENT_ID.to_owned(),
        private_jwk: dir.join("private.jwk"),
        public_jwks: dir.join("public.jwks"),
        username: DEMO_USERNAME.to_owned(),
        password_file: data_dir.join("demo-user.txt"),
        created: false,
        password: None,
    };
    let clients = state.store.list_clients().await?;
    if !clients.is_empty() {
        let demo_exists = clients
            .iter()
            .any(|c| c.client_id.as_str() == DEMO_CLIENT_ID);
        return Ok(demo_exists.then_some(account));
    }
    let now = state.clock.now();

    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("restricting {}", dir.display()))?;
    }
    let (public, private) = generate_client_key()?;
    // Files left from an earlier data directory whose database was deleted: replace them.
    replace_private(&account.private_jwk, private.as_bytes())?;
    let jwks = json!({ "keys": [public] });
    std::fs::write(&account.public_jwks, serde_json::to_vec_pretty(&jwks)?)
        .with_context(|| format!("writing {}", account.public_jwks.display()))?;

    let mut reg = ClientRegistration::new(DEMO_CLIENT_ID, DEMO_CLIENT_NAME);
    reg.redirect_uris = vec![format!("{}/demo/callback", state.config.issuer)];
    reg.jwks = Some(jwks);
    reg.scope = ["openid", "accounts", "payments"]
        .map(str::to_owned)
        .to_vec();
    reg.authorization_details_types = ["payment_initiation", "account_information"]
        .map(str::to_owned)
        .to_vec();
    reg.grant_types = [
        GrantType::AuthorizationCode,
        GrantType::RefreshToken,
        GrantType::ClientCredentials,
    ]
    .map(|g| g.as_str().to_owned())
    .to_vec();
    let client = validate(reg, now).context("the demo client registration")?;
    state.store.create_client(&client).await?;
    super::record::record(
        &state.audit,
        now,
        Actor::system(),
        "clients.add",
        DEMO_CLIENT_ID,
        Ok(()),
    )
    .await?;
    account.created = true;

    let username = Username::new(DEMO_USERNAME)?;
    if state.store.get_user_by_username(&username).await?.is_none() {
        let password = random_password()?;
        let hash =
            super::users::hash_on_blocking_thread(Password::new(password.to_string())?).await?;
        let user = User::new(username, Some("Alice (demo)".to_owned()), Some(hash), now)?;
        state.store.create_user(&user).await?;
        super::record::record(
            &state.audit,
            now,
            Actor::system(),
            "users.add",
            DEMO_USERNAME,
            Ok(()),
        )
        .await?;
        let text = Zeroizing::new(format!(
            "username: {DEMO_USERNAME}\npassword: {}\n",
            password.as_str()
        ));
        replace_private(&account.password_file, text.as_bytes())?;
        account.password = Some(password);
    }
    Ok(Some(account))
}

/// An ES256 key pair for the demo client: the public JWK and the private JWK as JSON text.
///
/// Not `LocalSigner::generate`: a `LocalSigner` never hands out its private key (the server's
/// own keys must not leave `shonin-keys`), but the demo client needs its private key as a JWK
/// file. So the key is generated here with aws-lc-rs and its private scalar exported, and the
/// same key is then loaded into a `LocalSigner`, so the public JWK and its kid (the RFC 7638
/// thumbprint) are exactly what the rest of Shonin computes.
fn generate_client_key() -> anyhow::Result<(Value, Zeroizing<String>)> {
    let fail = |what: &str| anyhow::anyhow!("generating the demo client key: {what}");
    let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
        .map_err(|_| fail("key generation"))?;
    // SEC 1 §2.3.3 uncompressed point: 0x04 ‖ x ‖ y, 32 bytes each for P-256.
    let (x, y) = match pair.public_key().as_ref() {
        [0x04, rest @ ..] if rest.len() == 64 => rest.split_at(32),
        _ => return Err(fail("unexpected public key encoding")),
    };
    let bare = json!({"kty": "EC", "crv": "P-256", "x": b64url_encode(x), "y": b64url_encode(y)});
    let kid = jwk_thumbprint_sha256(&bare)?;
    let pkcs8 = pair.to_pkcs8v1().map_err(|_| fail("PKCS#8 export"))?;
    let signer = LocalSigner::from_pkcs8(kid, Alg::ES256, pkcs8.as_ref())?;
    let public = signer.public_jwk().clone();
    // RFC 7518 §6.2.2.1: `d` is the private scalar, big-endian, as long as the curve order.
    let scalar = pair
        .private_key()
        .as_be_bytes()
        .map_err(|_| fail("private scalar export"))?;
    let d = Zeroizing::new(b64url_encode(scalar.as_ref()));
    let public_text = serde_json::to_string(&public)?;
    let open = public_text
        .strip_suffix('}')
        .ok_or_else(|| fail("public JWK is not a JSON object"))?;
    let private = Zeroizing::new(format!("{open},\"d\":\"{}\"}}\n", d.as_str()));
    Ok((public, private))
}

/// 144 random bits as 24 base64url characters: well over the 12-character minimum.
fn random_password() -> anyhow::Result<Zeroizing<String>> {
    let mut bytes = [0u8; 18];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| anyhow::anyhow!("no randomness available"))?;
    let password = Zeroizing::new(b64url_encode(&bytes));
    bytes.zeroize();
    Ok(password)
}

/// [`write_private`], removing a file left at `path` first.
fn replace_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("removing {}", path.display())),
    }
    write_private(path, bytes)
}
