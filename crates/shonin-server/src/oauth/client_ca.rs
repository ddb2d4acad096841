//! The operator's client CA bundle (`server.client_ca_file`) for `tls_client_auth` (RFC 8705
//! §2.1): path validation of a presented chain, with stable reasons for a refusal.

use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::ClientCertVerifier;
use shonin_oauth::mtls::MtlsError;
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use time::OffsetDateTime;

/// The operator's client CA bundle (`server.client_ca_file`), for `tls_client_auth`.
pub struct ClientCaBundle {
    verifier: Option<Arc<dyn ClientCertVerifier>>,
}

impl fmt::Debug for ClientCaBundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCaBundle")
            .field("configured", &self.verifier.is_some())
            .finish()
    }
}

impl ClientCaBundle {
    /// Reads every `CERTIFICATE` of `path` as a trust anchor; `None` means no bundle, so
    /// `tls_client_auth` fails for every client.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Self> {
        let Some(path) = path else {
            return Ok(Self { verifier: None });
        };
        let bytes = std::fs::read(path)
            .map_err(|e| anyhow::anyhow!("server.client_ca_file {}: {e}", path.display()))?;
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(&bytes) {
            let cert = cert.map_err(|_| {
                anyhow::anyhow!(
                    "server.client_ca_file {}: not PEM certificates",
                    path.display()
                )
            })?;
            roots.add(cert).map_err(|e| {
                anyhow::anyhow!("server.client_ca_file {}: unusable CA: {e}", path.display())
            })?;
        }
        if roots.is_empty() {
            anyhow::bail!(
                "server.client_ca_file {}: no certificate found",
                path.display()
            );
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        // Chain building, signatures, validity of every certificate in the path and the
        // clientAuth extended key usage (RFC 5280 §6, §4.2.1.12), as rustls does for TLS
        // client authentication; the handshake itself stays permissive (shonin-tls, client_cert.rs).
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .allow_unauthenticated()
            .build()
            .map_err(|e| anyhow::anyhow!("server.client_ca_file {}: {e}", path.display()))?;
        Ok(Self {
            verifier: Some(verifier),
        })
    }

    /// Whether a bundle is configured (without one, `tls_client_auth` cannot succeed and is
    /// not advertised).
    pub fn is_configured(&self) -> bool {
        self.verifier.is_some()
    }

    /// RFC 8705 §2.1: the chain leads from the leaf to one of the bundle's CAs at `now`.
    pub fn verify(
        &self,
        chain: &[CertificateDer<'static>],
        now: OffsetDateTime,
    ) -> Result<(), MtlsError> {
        let Some(verifier) = &self.verifier else {
            return Err(MtlsError::Untrusted(
                "no client CA bundle is configured (server.client_ca_file)",
            ));
        };
        let (leaf, intermediates) = chain.split_first().ok_or(MtlsError::NoCertificate)?;
        let secs = u64::try_from(now.unix_timestamp()).unwrap_or(0);
        let now = UnixTime::since_unix_epoch(std::time::Duration::from_secs(secs));
        verifier
            .verify_client_cert(leaf, intermediates, now)
            .map(|_| ())
            .map_err(|e| {
                tracing::info!(error = %e, "client certificate path validation failed");
                MtlsError::Untrusted(untrusted_reason(&e))
            })
    }
}

/// A stable, client-facing phrase for a path-validation failure: the verifier's own text names
/// library internals and can change between versions.
fn untrusted_reason(e: &rustls::Error) -> &'static str {
    use rustls::CertificateError as C;
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            C::UnknownIssuer => "issuer unknown",
            C::BadSignature | C::UnsupportedSignatureAlgorithmContext { .. } => {
                "signature not verifiable"
            }
            C::Expired | C::ExpiredContext { .. } => "certificate or issuer expired",
            C::NotValidYet | C::NotValidYetContext { .. } => "certificate or issuer not valid yet",
            C::Revoked => "certificate revoked",
            C::InvalidPurpose | C::InvalidPurposeContext { .. } => {
                "certificate not valid for client authentication"
            }
            C::BadEncoding => "certificate not well-formed",
            _ => "certificate not acceptable as a client certificate",
        },
        _ => "certificate not acceptable as a client certificate",
    }
}
