//! The operator's client CA bundle for the PKI method of RFC 8705 (§2.1): path validation of a
//! presented chain to one of the bundle's CAs — chain building, signatures, the validity of every
//! certificate in the path and the clientAuth extended key usage (RFC 5280 §6, §4.2.1.12) — by
//! rustls's WebPKI verifier, as for TLS client authentication. The TLS handshake itself stays
//! permissive (`shonin-tls`), so a refusal is an answer the application shapes, not a TLS alert.
//!
//! Reading the bundle's file is the caller's; this takes its PEM bytes.

use super::MtlsError;
use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::ClientCertVerifier;
use std::fmt;
use std::sync::Arc;
use time::OffsetDateTime;

/// Why a bundle could not be built.
#[derive(Debug, thiserror::Error)]
pub enum CaBundleError {
    #[error("not PEM certificates")]
    NotPem,
    #[error("no certificate found")]
    Empty,
    #[error("unusable CA: {0}")]
    Unusable(String),
}

/// A client CA bundle, or none (then every chain is refused).
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
    /// No bundle: `tls_client_auth` fails for every client.
    pub fn none() -> Self {
        Self { verifier: None }
    }

    /// Every `CERTIFICATE` block of `pem` as a trust anchor.
    pub fn from_pem(pem: &[u8]) -> Result<Self, CaBundleError> {
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|_| CaBundleError::NotPem)?;
            roots
                .add(cert)
                .map_err(|e| CaBundleError::Unusable(e.to_string()))?;
        }
        if roots.is_empty() {
            return Err(CaBundleError::Empty);
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .allow_unauthenticated()
            .build()
            .map_err(|e| CaBundleError::Unusable(e.to_string()))?;
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
            return Err(MtlsError::Untrusted("no client CA bundle is configured"));
        };
        let (leaf, intermediates) = chain.split_first().ok_or(MtlsError::NoCertificate)?;
        let secs = u64::try_from(now.unix_timestamp()).unwrap_or(0);
        let now = UnixTime::since_unix_epoch(std::time::Duration::from_secs(secs));
        verifier
            .verify_client_cert(leaf, intermediates, now)
            .map(|_| ())
            .map_err(|e| MtlsError::Untrusted(untrusted_reason(&e)))
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
