//! The rustls server configuration: protocol versions, cipher suites, ALPN and client
//! certificates, following BCP 195 (RFC 9325) as the FAPI 2.0 Security Profile's network-layer
//! rules require.

use super::TlsError;
use super::client_cert::ProofOfPossessionOnly;
use super::pem_files::{read_cert_chain, read_private_key};
use rustls::crypto::{CryptoProvider, aws_lc_rs};
use rustls::{ServerConfig, SupportedCipherSuite};
use std::path::Path;
use std::sync::Arc;

/// Whether the server asks TLS clients for a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientCertMode {
    /// No certificate is requested.
    #[default]
    None,
    /// A certificate is requested but not required. One that is sent is accepted once its
    /// holder has proved possession of the key; whether it is *trusted* (CA chain, pinned
    /// thumbprint, JWKS match per RFC 8705) is for the application to decide per client.
    Optional,
}

/// The TLS 1.2 cipher suites, all and only those RFC 9325 §4.2 RECOMMENDS:
///
/// - `TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256`
/// - `TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384`
/// - `TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256`
/// - `TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384`
///
/// FAPI 2.0 (network layer) allows only BCP 195's *recommended* TLS 1.2 suites on endpoints not
/// used by browsers, so the ChaCha20-Poly1305 suites rustls also ships (RFC 7905, not on the
/// list) are left out, as are DHE (RFC 9325 §4.1: SHOULD NOT) and anything without forward
/// secrecy or AEAD. In server preference order: RFC 9325 §4.2.1 has servers prefer the AES-256
/// suites when a client offers them, and ECDSA first because our certificates are ECDSA (an RSA
/// certificate simply selects the RSA pair).
fn tls12_cipher_suites() -> [SupportedCipherSuite; 4] {
    use aws_lc_rs::cipher_suite as cs;
    [
        cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        cs::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    ]
}

/// aws-lc-rs with its TLS 1.3 suites as shipped (RFC 9325 §4.3 defers to RFC 8446 §9.1) and the
/// TLS 1.2 suites above. Key-exchange groups stay at the provider's defaults (X25519, P-256,
/// P-384, X25519MLKEM768), which include the two RFC 9325 §4.2.1 asks for.
fn provider() -> CryptoProvider {
    let mut provider = aws_lc_rs::default_provider();
    provider
        .cipher_suites
        .retain(|suite| matches!(suite, SupportedCipherSuite::Tls13(_)));
    provider.cipher_suites.extend(tls12_cipher_suites());
    provider
}

/// Builds the server's TLS configuration from a PEM certificate chain (leaf first) and its
/// PEM private key.
///
/// - TLS 1.3 and 1.2 only (RFC 8996 and RFC 9325 §3.1.1: never TLS 1.0/1.1; rustls has no code
///   for them at all).
/// - TLS 1.2 with the four RFC 9325 §4.2 suites only, in server order (`ignore_client_order`).
/// - TLS 1.2 requires the extended master secret (RFC 7627): RFC 9325 §3.5 makes support a MUST
///   against the triple-handshake attack, which targets exactly the client-certificate
///   authentication this server relies on. Clients without it (pre-2015 stacks) are refused.
/// - ALPN `h2` and `http/1.1`; a client offering only other protocols is refused with
///   `no_application_protocol` (RFC 9325 §3.8, RFC 7301 §3.2).
/// - No stateless session tickets, so there is no ticket key to rotate or leak (RFC 9325 §3.4);
///   resumption uses rustls's in-memory, per-process session cache.
/// - No 0-RTT data (RFC 9325 §3.10, RFC 8470): `max_early_data_size` stays 0.
pub fn server_config(
    cert_chain_pem: &Path,
    key_pem: &Path,
    client_certs: ClientCertMode,
) -> Result<Arc<ServerConfig>, TlsError> {
    let chain = read_cert_chain(cert_chain_pem)?;
    let key = read_private_key(key_pem)?;
    let provider = Arc::new(provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(TlsError::Config)?;
    let builder = match client_certs {
        ClientCertMode::None => builder.with_no_client_auth(),
        ClientCertMode::Optional => {
            builder.with_client_cert_verifier(Arc::new(ProofOfPossessionOnly::new(&provider)))
        }
    };
    let mut config =
        builder
            .with_single_cert(chain, key)
            .map_err(|source| TlsError::KeyRejected {
                cert: cert_chain_pem.to_owned(),
                key: key_pem.to_owned(),
                source,
            })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    config.ignore_client_order = true;
    config.require_ems = true;
    config.max_early_data_size = 0;
    Ok(Arc::new(config))
}

/// A TLS client configuration for a link that both sides authenticate (the ACS's RReq to the
/// DS): the peer's certificate must chain to a CA of `ca_pem` only (no system roots; a scheme's
/// directory has its own PKI), and the client presents the chain of `cert_chain_pem` with its
/// key. The same versions and suites as the server (RFC 9325).
pub fn mutual_client_config(
    ca_pem: &Path,
    cert_chain_pem: &Path,
    key_pem: &Path,
) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    for ca in read_cert_chain(ca_pem)? {
        roots.add(ca).map_err(|e| {
            TlsError::Config(rustls::Error::General(format!("{}: {e}", ca_pem.display())))
        })?;
    }
    let chain = read_cert_chain(cert_chain_pem)?;
    let key = read_private_key(key_pem)?;
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(provider()))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(TlsError::Config)?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(|source| TlsError::KeyRejected {
            cert: cert_chain_pem.to_owned(),
            key: key_pem.to_owned(),
            source,
        })?;
    config.require_ems = true;
    // HTTP/1.1: the RReq is one request per transaction.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
