//! Reading the server's certificate chain and private key from PEM files.

use super::TlsError;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;
use zeroize::Zeroizing;

/// Every `CERTIFICATE` block of `path`, leaf first (RFC 8446 §4.4.2: the sender's certificate
/// comes first, each following one certifies the one before it).
pub(crate) fn read_cert_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = std::fs::read(path).map_err(|source| TlsError::ReadFile {
        path: path.to_owned(),
        source,
    })?;
    let chain = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::CertificatePem {
            path: path.to_owned(),
            reason: pem_reason(&e),
        })?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_owned(),
        });
    }
    Ok(chain)
}

/// The first private key block of `path` (PKCS#8, SEC1 or PKCS#1). The file's bytes are wiped
/// from memory once parsed.
pub(crate) fn read_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = Zeroizing::new(std::fs::read(path).map_err(|source| TlsError::ReadFile {
        path: path.to_owned(),
        source,
    })?);
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| match e {
        pem::Error::NoItemsFound => TlsError::NoPrivateKey {
            path: path.to_owned(),
        },
        other => TlsError::PrivateKeyPem {
            path: path.to_owned(),
            reason: pem_reason(&other),
        },
    })
}

/// A fixed description of a PEM error: the library's own messages can quote a line of the file,
/// which must not end up in logs when the file holds a key.
fn pem_reason(e: &pem::Error) -> &'static str {
    match e {
        pem::Error::MissingSectionEnd { .. } => "a section has no END line",
        pem::Error::IllegalSectionStart { .. } => "a BEGIN line is malformed",
        pem::Error::Base64Decode(_) => "invalid base64 in a section",
        pem::Error::Io(_) => "read error",
        pem::Error::NoItemsFound => "no PEM section found",
        pem::Error::SectionTooLarge => "a section is too large",
        _ => "unrecognised PEM error",
    }
}
