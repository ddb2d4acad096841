//! A development PKI so `shonin` can serve TLS on a laptop with no operator-supplied certificate:
//! a local CA and a `localhost` server certificate it signs. Never for production: the CA key
//! sits next to the certificates, unencrypted.
//!
//! Files in the directory:
//! - `dev-ca.pem` — "Shonin Development CA" (ECDSA P-256, CA:TRUE pathlen 0, keyCertSign and
//!   cRLSign, one year). Clients trust this file.
//! - `dev-ca-key.pem` (0600) — its PKCS#8 key, kept so tests can mint client certificates.
//! - `server.pem` — the server certificate **alone**, without the CA: a client must already hold
//!   the CA as its trust anchor, and RFC 8446 §4.4.2 lets the sender omit the root.
//!   DNS `localhost`, IP 127.0.0.1 and ::1, serverAuth, 90 days.
//! - `server-key.pem` (0600) — its PKCS#8 key.
//!
//! The CA is created once and never replaced: if one of its two files is missing or it has
//! expired, [`ensure`] fails and says what to delete. The server certificate is re-issued by
//! the same CA when it is missing, unreadable, not signed by the CA, or within 30 days of expiry.

use super::TlsError;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PublicKeyData,
};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use time::{Duration, OffsetDateTime};
use x509_parser::certificate::X509Certificate;
use zeroize::Zeroizing;

const CA_CERT_FILE: &str = "dev-ca.pem";
const CA_KEY_FILE: &str = "dev-ca-key.pem";
const SERVER_CERT_FILE: &str = "server.pem";
const SERVER_KEY_FILE: &str = "server-key.pem";

const CA_NAME: &str = "Shonin Development CA";
const CA_LIFETIME: Duration = Duration::days(365);
const SERVER_LIFETIME: Duration = Duration::days(90);
/// Re-issue the server certificate when less than this remains.
const SERVER_RENEW_BEFORE: Duration = Duration::days(30);
/// `notBefore` is set this far in the past so a client whose clock is slightly behind accepts it.
const BACKDATE: Duration = Duration::hours(1);

/// Where [`ensure`] put the development PKI's files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevPki {
    /// The CA certificate clients trust (`dev-ca.pem`).
    pub ca_cert: PathBuf,
    /// The server certificate, leaf only (`server.pem`).
    pub server_cert: PathBuf,
    /// The server's private key (`server-key.pem`, mode 0600).
    pub server_key: PathBuf,
}

/// Creates the development PKI in `dir` on first use and reuses it afterwards (see the module
/// documentation). The flag is `true` when this call created a **new CA**, i.e. clients have a
/// new certificate to trust; re-issuing the server certificate under the existing CA does not
/// set it.
pub fn ensure(dir: &Path) -> Result<(DevPki, bool), TlsError> {
    create_private_dir(dir)?;
    let ca_cert = dir.join(CA_CERT_FILE);
    let ca_key = dir.join(CA_KEY_FILE);
    let server_cert = dir.join(SERVER_CERT_FILE);
    let server_key = dir.join(SERVER_KEY_FILE);

    let (ca, created) = match (exists(&ca_cert)?, exists(&ca_key)?) {
        (true, true) => (DevCa::load(&ca_cert, &ca_key)?, false),
        (false, false) => (DevCa::create(&ca_cert, &ca_key)?, true),
        (true, false) => return Err(incomplete(ca_cert, ca_key)),
        (false, true) => return Err(incomplete(ca_key, ca_cert)),
    };
    warn_if_readable_by_others(&ca_key);

    match server_cert_problem(&server_cert, &server_key, &ca) {
        None => warn_if_readable_by_others(&server_key),
        Some(reason) => {
            tracing::info!(dir = %dir.display(), reason, "issuing development server certificate");
            issue_server_cert(&server_cert, &server_key, &ca)?;
        }
    }
    Ok((
        DevPki {
            ca_cert,
            server_cert,
            server_key,
        },
        created,
    ))
}

/// The development CA, ready to sign.
struct DevCa {
    issuer: Issuer<'static, KeyPair>,
    der: CertificateDer<'static>,
    not_after: OffsetDateTime,
}

impl DevCa {
    fn create(cert_path: &Path, key_path: &Path) -> Result<Self, TlsError> {
        let key = generate_key()?;
        let now = OffsetDateTime::now_utc();
        let mut params = CertificateParams::default();
        params.distinguished_name = common_name(CA_NAME);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.not_before = now - BACKDATE;
        params.not_after = now + CA_LIFETIME;
        let cert = params
            .self_signed(&key)
            .map_err(generate_error("self-signing the CA"))?;
        // Key first: a crash in between leaves a key without a certificate, which `ensure`
        // reports instead of silently minting a second CA.
        write_new(
            key_path,
            Zeroizing::new(key.serialize_pem()).as_bytes(),
            0o600,
        )?;
        write_new(cert_path, cert.pem().as_bytes(), 0o644)?;
        tracing::info!(path = %cert_path.display(), "created development CA");
        Ok(Self {
            not_after: params.not_after,
            der: cert.der().clone(),
            issuer: Issuer::new(params, key),
        })
    }

    fn load(cert_path: &Path, key_path: &Path) -> Result<Self, TlsError> {
        let der = read_cert(cert_path)?;
        let key = read_key(key_path)?;
        let cert = parse_cert(cert_path, &der)?;
        if cert.public_key().raw != key.subject_public_key_info().as_slice() {
            return Err(TlsError::ParseCertificate {
                path: cert_path.to_owned(),
                reason: format!("its public key does not match {CA_KEY_FILE}"),
            });
        }
        let not_after = cert.validity().not_after.to_datetime();
        if not_after <= OffsetDateTime::now_utc() {
            return Err(TlsError::DevCaExpired {
                path: cert_path.to_owned(),
            });
        }
        if not_after - OffsetDateTime::now_utc() < SERVER_RENEW_BEFORE {
            tracing::warn!(path = %cert_path.display(), %not_after, "development CA expires soon");
        }
        let issuer = Issuer::from_ca_cert_der(&der, key)
            .map_err(generate_error("loading the CA certificate"))?;
        Ok(Self {
            issuer,
            der,
            not_after,
        })
    }
}

/// Why the server certificate must be (re-)issued, or `None` if it is fine.
fn server_cert_problem(cert_path: &Path, key_path: &Path, ca: &DevCa) -> Option<&'static str> {
    let (Ok(der), Ok(key)) = (read_cert(cert_path), read_key(key_path)) else {
        return Some("missing or unreadable");
    };
    let (Ok(cert), Ok(ca_cert)) = (parse_cert(cert_path, &der), parse_cert(cert_path, &ca.der))
    else {
        return Some("unparsable");
    };
    if cert.verify_signature(Some(ca_cert.public_key())).is_err() {
        return Some("not signed by the development CA");
    }
    if cert.public_key().raw != key.subject_public_key_info().as_slice() {
        return Some("certificate and key do not match");
    }
    if cert.validity().not_after.to_datetime() - OffsetDateTime::now_utc() < SERVER_RENEW_BEFORE {
        return Some("expired or expiring soon");
    }
    None
}

fn issue_server_cert(cert_path: &Path, key_path: &Path, ca: &DevCa) -> Result<(), TlsError> {
    let key = generate_key()?;
    let now = OffsetDateTime::now_utc();
    let names = ["localhost", "127.0.0.1", "::1"].map(String::from);
    let mut params = CertificateParams::new(names.to_vec())
        .map_err(generate_error("server certificate names"))?;
    params.distinguished_name = common_name("localhost");
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    params.not_before = now - BACKDATE;
    params.not_after = (now + SERVER_LIFETIME).min(ca.not_after);
    let cert = params
        .signed_by(&key, &ca.issuer)
        .map_err(generate_error("signing the server certificate"))?;
    // Key first: a crash in between leaves a mismatched pair, which the next call re-issues.
    replace(
        key_path,
        Zeroizing::new(key.serialize_pem()).as_bytes(),
        0o600,
    )?;
    replace(cert_path, cert.pem().as_bytes(), 0o644)
}

fn generate_key() -> Result<KeyPair, TlsError> {
    KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .map_err(generate_error("generating a key"))
}

fn common_name(name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, name);
    dn
}

fn generate_error(context: &'static str) -> impl FnOnce(rcgen::Error) -> TlsError {
    move |source| TlsError::Generate { context, source }
}

fn incomplete(present: PathBuf, missing: PathBuf) -> TlsError {
    TlsError::DevCaIncomplete { present, missing }
}

fn exists(path: &Path) -> Result<bool, TlsError> {
    path.try_exists().map_err(|source| TlsError::ReadFile {
        path: path.to_owned(),
        source,
    })
}

fn read_cert(path: &Path) -> Result<CertificateDer<'static>, TlsError> {
    let bytes = fs::read(path).map_err(|source| TlsError::ReadFile {
        path: path.to_owned(),
        source,
    })?;
    CertificateDer::from_pem_slice(&bytes).map_err(|_| TlsError::NoCertificate {
        path: path.to_owned(),
    })
}

fn read_key(path: &Path) -> Result<KeyPair, TlsError> {
    let pem = Zeroizing::new(
        fs::read_to_string(path).map_err(|source| TlsError::ReadFile {
            path: path.to_owned(),
            source,
        })?,
    );
    KeyPair::from_pem(&pem).map_err(generate_error("loading a private key"))
}

fn parse_cert<'a>(path: &Path, der: &'a [u8]) -> Result<X509Certificate<'a>, TlsError> {
    x509_parser::parse_x509_certificate(der)
        .map(|(_, cert)| cert)
        .map_err(|e| TlsError::ParseCertificate {
            path: path.to_owned(),
            reason: e.to_string(),
        })
}

fn create_private_dir(dir: &Path) -> Result<(), TlsError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|source| TlsError::WriteFile {
        path: dir.to_owned(),
        source,
    })
}

/// Writes a file that must not exist yet, with `mode` on Unix.
fn write_new(path: &Path, contents: &[u8], mode: u32) -> Result<(), TlsError> {
    let write_error = |source| TlsError::WriteFile {
        path: path.to_owned(),
        source,
    };
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(path).map_err(write_error)?;
    file.write_all(contents).map_err(write_error)?;
    file.sync_all().map_err(write_error)
}

/// Replaces `path` atomically: a reader sees the old file or the new one, never half of either.
fn replace(path: &Path, contents: &[u8], mode: u32) -> Result<(), TlsError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    match fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => return Err(TlsError::WriteFile { path: tmp, source }),
    }
    write_new(&tmp, contents, mode)?;
    fs::rename(&tmp, path).map_err(|source| TlsError::WriteFile {
        path: path.to_owned(),
        source,
    })
}

fn warn_if_readable_by_others(key_path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = fs::metadata(key_path)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(
                path = %key_path.display(),
                "private key is readable by other users; chmod 600 it"
            );
        }
    }
    #[cfg(not(unix))]
    let _ = key_path;
}
