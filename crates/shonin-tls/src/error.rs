//! Errors of the TLS layer. Messages name the file and the rule that failed; they never carry key
//! material (PEM parse errors of key files are reduced to a fixed reason).

use std::path::PathBuf;

/// Why the TLS configuration or the development PKI could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A certificate or key file could not be read.
    #[error("cannot read {path}: {source}")]
    ReadFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The certificate chain file holds no `CERTIFICATE` PEM block.
    #[error("certificate chain {path}: no CERTIFICATE PEM block found")]
    NoCertificate { path: PathBuf },

    /// The certificate chain file is not well-formed PEM.
    #[error("certificate chain {path}: malformed PEM ({reason})")]
    CertificatePem { path: PathBuf, reason: &'static str },

    /// The key file holds no PKCS#8, SEC1 or PKCS#1 private key PEM block.
    #[error("private key {path}: no PRIVATE KEY PEM block (PKCS#8, SEC1 or PKCS#1) found")]
    NoPrivateKey { path: PathBuf },

    /// The key file is not well-formed PEM. The reason is fixed text, never file content.
    #[error("private key {path}: malformed PEM ({reason})")]
    PrivateKeyPem { path: PathBuf, reason: &'static str },

    /// rustls refused the key: an unsupported key type, or it does not match the leaf certificate.
    #[error("private key {key} rejected for certificate {cert}: {source}")]
    KeyRejected {
        cert: PathBuf,
        key: PathBuf,
        #[source]
        source: rustls::Error,
    },

    /// rustls refused the protocol configuration (versions without cipher suites).
    #[error("TLS configuration rejected: {0}")]
    Config(#[source] rustls::Error),

    /// Only one of the development CA's certificate and key exists. Never guessed at: a CA is
    /// never replaced silently, so the operator removes or restores the other file.
    #[error(
        "development CA incomplete: {present} exists but {missing} does not; restore it, or delete \
         both to mint a new CA (every client trusting the old CA must then be updated)"
    )]
    DevCaIncomplete { present: PathBuf, missing: PathBuf },

    /// The development CA has expired. It is not renewed automatically.
    #[error(
        "development CA {path} has expired; delete dev-ca.pem and dev-ca-key.pem to mint a new \
         one (every client trusting the old CA must then be updated)"
    )]
    DevCaExpired { path: PathBuf },

    /// A certificate file of the development PKI could not be parsed.
    #[error("certificate {path} cannot be parsed: {reason}")]
    ParseCertificate { path: PathBuf, reason: String },

    /// rcgen could not generate, load or sign a key or certificate.
    #[error("development PKI: {context}: {source}")]
    Generate {
        context: &'static str,
        #[source]
        source: rcgen::Error,
    },

    /// A file of the development PKI could not be written.
    #[error("cannot write {path}: {source}")]
    WriteFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}
