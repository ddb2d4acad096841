//! The client-certificate verifier used by [`super::ClientCertMode::Optional`].

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};

/// Requests a client certificate, lets the handshake finish without one, and accepts any
/// certificate **whose holder proved possession of its private key** — nothing more.
///
/// What the TLS layer checks: the client's `CertificateVerify` signature over the handshake
/// transcript (TLS 1.2: RFC 5246 §7.4.8; TLS 1.3: RFC 8446 §4.4.3), with the provider's
/// algorithms. A client that sends a certificate therefore holds its key.
///
/// What it deliberately does **not** check: chain building to a CA, validity dates, key usage,
/// revocation, or whether the certificate belongs to any client. RFC 8705 leaves that to the
/// authorization server per registered client: `tls_client_auth` (§2.1) matches a CA-issued
/// certificate's subject against the client's metadata, `self_signed_tls_client_auth` (§2.2)
/// matches the certificate against a key in the client's JWKS, and certificate-bound tokens
/// (§3) pin the leaf's SHA-256 thumbprint. A TLS-layer trust store would reject the self-signed
/// case outright, so the decision is made by the application, which reads the chain from
/// [`super::ConnectionInfo`]. **A certificate seen here is an unauthenticated claim until
/// the application has checked it.**
///
/// `root_hint_subjects` is empty: the client may offer any certificate (RFC 8446 §4.3.2 and
/// RFC 5246 §7.4.4 allow an empty `certificate_authorities` list).
#[derive(Debug)]
pub(crate) struct ProofOfPossessionOnly {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ProofOfPossessionOnly {
    pub(crate) fn new(provider: &CryptoProvider) -> Self {
        Self {
            algorithms: provider.signature_verification_algorithms,
        }
    }
}

impl ClientCertVerifier for ProofOfPossessionOnly {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        // Trust is the application's decision (see the type's documentation). The certificate
        // is still parsed, and its key checked, by the signature verification below.
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
