//! Mutual-TLS client authentication and certificate-bound tokens (RFC 8705), as rules over a
//! certificate the HTTP layer hands in.
//!
//! The TLS layer has only checked that the client holds the private key of the certificate it
//! sent. What lives here:
//!
//! - [`ClientCaBundle`]: chain building to the operator's client CA bundle (§2.1), with rustls's
//!   WebPKI verifier.
//! - [`ClientCertificate::parse`]: the facts of a DER certificate that the rules need (validity,
//!   subject DN, subject alternative names, public key) and its `x5t#S256` thumbprint (§3.1).
//! - `tls_client_auth` (§2.1.2): [`ClientCertificate::matches_subject`] against exactly one
//!   registered [`TlsClientAuthSubject`].
//! - `self_signed_tls_client_auth` (§2.2): [`ClientCertificate::matches_jwks`], comparing the
//!   certificate's public key with each JWK (EC P-256 `x`/`y`, RSA `n`/`e`, Ed25519 `x`), or its
//!   DER with a JWK's first `x5c` certificate.
//! - The operator's decisions per client: [`check_operator_policy`] (revoked and pinned
//!   thumbprints).

mod ca_bundle;
mod dn;
mod error;

pub use ca_bundle::{CaBundleError, ClientCaBundle};
pub use dn::Rdns;
pub use error::MtlsError;

use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;
use std::net::IpAddr;
use time::OffsetDateTime;
use x509_parser::extensions::GeneralName;
use x509_parser::public_key::PublicKey;

/// Length of a base64url SHA-256 thumbprint without padding.
pub const THUMBPRINT_LEN: usize = 43;

/// RFC 8705 §3.1 `x5t#S256`: base64url (no padding) of SHA-256 over the certificate's DER.
pub fn x5t_s256(der: &[u8]) -> String {
    shonin_jose::b64url_encode(digest(&SHA256, der).as_ref())
}

/// Whether `s` has the shape of an `x5t#S256` value: 43 base64url characters.
pub fn is_thumbprint(s: &str) -> bool {
    s.len() == THUMBPRINT_LEN
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// What a `tls_client_auth` client registered its certificate by: exactly one of the RFC 8705
/// §2.1.2 metadata values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum TlsClientAuthSubject {
    /// `tls_client_auth_subject_dn`: the subject DN as an RFC 4514 string.
    SubjectDn(String),
    /// `tls_client_auth_san_dns`: a dNSName SAN entry.
    SanDns(String),
    /// `tls_client_auth_san_uri`: a uniformResourceIdentifier SAN entry.
    SanUri(String),
    /// `tls_client_auth_san_ip`: an iPAddress SAN entry (IPv4 or IPv6).
    SanIp(IpAddr),
    /// `tls_client_auth_san_email`: an rfc822Name SAN entry.
    SanEmail(String),
}

impl TlsClientAuthSubject {
    /// The client metadata name of this value.
    pub fn metadata_name(&self) -> &'static str {
        match self {
            Self::SubjectDn(_) => "tls_client_auth_subject_dn",
            Self::SanDns(_) => "tls_client_auth_san_dns",
            Self::SanUri(_) => "tls_client_auth_san_uri",
            Self::SanIp(_) => "tls_client_auth_san_ip",
            Self::SanEmail(_) => "tls_client_auth_san_email",
        }
    }

    /// The registered value as written in the metadata.
    pub fn value(&self) -> String {
        match self {
            Self::SubjectDn(v) | Self::SanDns(v) | Self::SanUri(v) | Self::SanEmail(v) => v.clone(),
            Self::SanIp(ip) => ip.to_string(),
        }
    }
}

/// A public key in the form both a certificate and a JWK can be reduced to.
#[derive(Clone, PartialEq, Eq)]
enum KeyMaterial {
    P256 { x: Vec<u8>, y: Vec<u8> },
    Rsa { n: Vec<u8>, e: Vec<u8> },
    Ed25519(Vec<u8>),
    Other,
}

const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_RSA: &str = "1.2.840.113549.1.1.1";
const OID_ED25519: &str = "1.3.101.112";

/// The facts of a client certificate that RFC 8705's rules look at.
#[derive(Clone)]
pub struct ClientCertificate {
    der: Vec<u8>,
    thumbprint: String,
    not_before: i64,
    not_after: i64,
    subject: Option<Rdns>,
    dns: Vec<String>,
    uris: Vec<String>,
    ips: Vec<IpAddr>,
    emails: Vec<String>,
    key: KeyMaterial,
}

impl fmt::Debug for ClientCertificate {
    // The thumbprint names the certificate; the rest would only make logs long.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCertificate")
            .field("x5t#S256", &self.thumbprint)
            .finish_non_exhaustive()
    }
}

impl ClientCertificate {
    /// Parses a DER X.509 certificate. Trailing bytes are refused.
    pub fn parse(der: &[u8]) -> Result<Self, MtlsError> {
        let (rest, cert) =
            x509_parser::parse_x509_certificate(der).map_err(|_| MtlsError::Unparseable)?;
        if !rest.is_empty() {
            return Err(MtlsError::Unparseable);
        }
        // A subject attribute that is not a string (rare) makes the DN unmatchable, never a
        // partial match.
        let subject = cert
            .subject()
            .iter()
            .map(|rdn| {
                rdn.iter()
                    .map(|a| {
                        a.as_str()
                            .ok()
                            .map(|v| (a.attr_type().to_id_string(), v.to_owned()))
                    })
                    .collect::<Option<Vec<_>>>()
            })
            .collect::<Option<Vec<_>>>()
            .map(Rdns::from_certificate);
        let (mut dns, mut uris, mut ips, mut emails) = (vec![], vec![], vec![], vec![]);
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            for name in &san.value.general_names {
                match name {
                    GeneralName::DNSName(d) => dns.push((*d).to_owned()),
                    GeneralName::URI(u) => uris.push((*u).to_owned()),
                    GeneralName::RFC822Name(e) => emails.push((*e).to_owned()),
                    GeneralName::IPAddress(bytes) => {
                        if let Ok(v4) = <[u8; 4]>::try_from(*bytes) {
                            ips.push(IpAddr::from(v4));
                        } else if let Ok(v6) = <[u8; 16]>::try_from(*bytes) {
                            ips.push(IpAddr::from(v6));
                        }
                    }
                    _ => {}
                }
            }
        } else if cert.subject_alternative_name().is_err() {
            return Err(MtlsError::Unparseable);
        }
        let spki = cert.public_key();
        let alg = spki.algorithm.algorithm.to_id_string();
        let key = match (alg.as_str(), spki.parsed()) {
            (OID_EC_PUBLIC_KEY, Ok(PublicKey::EC(point))) => {
                let curve = spki
                    .algorithm
                    .parameters
                    .as_ref()
                    .and_then(|p| p.as_oid().ok())
                    .map(|o| o.to_id_string());
                match (curve.as_deref(), point.data()) {
                    (Some(OID_P256), [0x04, xy @ ..]) if xy.len() == 64 => {
                        let (x, y) = xy.split_at(32);
                        KeyMaterial::P256 {
                            x: x.to_vec(),
                            y: y.to_vec(),
                        }
                    }
                    _ => KeyMaterial::Other,
                }
            }
            (OID_RSA, Ok(PublicKey::RSA(rsa))) => KeyMaterial::Rsa {
                n: strip_zeros(rsa.modulus),
                e: strip_zeros(rsa.exponent),
            },
            (OID_ED25519, _) if spki.subject_public_key.data.len() == 32 => {
                KeyMaterial::Ed25519(spki.subject_public_key.data.to_vec())
            }
            _ => KeyMaterial::Other,
        };
        let validity = cert.validity();
        Ok(Self {
            der: der.to_vec(),
            thumbprint: x5t_s256(der),
            not_before: validity.not_before.timestamp(),
            not_after: validity.not_after.timestamp(),
            subject,
            dns,
            uris,
            ips,
            emails,
            key,
        })
    }

    /// RFC 8705 §3.1 `x5t#S256` of this certificate.
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// The certificate as DER.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The validity period holds at `now` (RFC 5280 §4.1.2.5: both ends inclusive).
    pub fn check_validity(&self, now: OffsetDateTime) -> Result<(), MtlsError> {
        let t = now.unix_timestamp();
        if t < self.not_before {
            return Err(MtlsError::NotYetValid);
        }
        if t > self.not_after {
            return Err(MtlsError::Expired);
        }
        Ok(())
    }

    /// RFC 8705 §2.1.2: the registered subject DN equals the certificate's subject, or the
    /// registered SAN equals one SAN entry of that type. DNS names and the domain of an email
    /// address compare case-insensitively (RFC 5280 §4.2.1.6), URIs and IP addresses exactly.
    pub fn matches_subject(&self, registered: &TlsClientAuthSubject) -> Result<(), MtlsError> {
        let ok = match registered {
            TlsClientAuthSubject::SubjectDn(dn) => {
                Rdns::parse_rfc4514(dn).is_some_and(|want| self.subject.as_ref() == Some(&want))
            }
            TlsClientAuthSubject::SanDns(d) => self.dns.iter().any(|n| n.eq_ignore_ascii_case(d)),
            TlsClientAuthSubject::SanUri(u) => self.uris.iter().any(|n| n == u),
            TlsClientAuthSubject::SanIp(ip) => self.ips.contains(ip),
            TlsClientAuthSubject::SanEmail(e) => self.emails.iter().any(|n| same_email(n, e)),
        };
        if ok {
            Ok(())
        } else {
            Err(MtlsError::SubjectMismatch(match registered {
                TlsClientAuthSubject::SubjectDn(_) => "subject DN",
                TlsClientAuthSubject::SanDns(_) => "DNS subject alternative name",
                TlsClientAuthSubject::SanUri(_) => "URI subject alternative name",
                TlsClientAuthSubject::SanIp(_) => "IP subject alternative name",
                TlsClientAuthSubject::SanEmail(_) => "email subject alternative name",
            }))
        }
    }

    /// RFC 8705 §2.2: the certificate's public key is one of the keys in `jwks`
    /// (`{"keys": [...]}`), or its DER is a key's first `x5c` entry.
    pub fn matches_jwks(&self, jwks: &Value) -> Result<(), MtlsError> {
        let keys = jwks
            .get("keys")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let found = keys.iter().any(|jwk| {
            let by_x5c = jwk
                .get("x5c")
                .and_then(Value::as_array)
                .and_then(|c| c.first())
                .and_then(Value::as_str)
                .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok())
                .is_some_and(|der| der == self.der);
            by_x5c || (self.key != KeyMaterial::Other && jwk_material(jwk) == self.key)
        });
        if found {
            Ok(())
        } else {
            Err(MtlsError::KeyNotRegistered)
        }
    }
}

/// The operator's per-client decisions: a revoked thumbprint is refused; if any thumbprint is
/// pinned, only pinned ones are accepted.
pub fn check_operator_policy(
    thumbprint: &str,
    pinned: &[String],
    revoked: &[String],
) -> Result<(), MtlsError> {
    if revoked.iter().any(|r| r == thumbprint) {
        return Err(MtlsError::Revoked);
    }
    if !pinned.is_empty() && !pinned.iter().any(|p| p == thumbprint) {
        return Err(MtlsError::NotPinned);
    }
    Ok(())
}

fn same_email(a: &str, b: &str) -> bool {
    match (a.rsplit_once('@'), b.rsplit_once('@')) {
        (Some((la, da)), Some((lb, db))) => la == lb && da.eq_ignore_ascii_case(db),
        _ => a == b,
    }
}

fn strip_zeros(b: &[u8]) -> Vec<u8> {
    let start = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    b.get(start..).unwrap_or_default().to_vec()
}

fn jwk_material(jwk: &Value) -> KeyMaterial {
    let member = |name: &str| {
        jwk.get(name)
            .and_then(Value::as_str)
            .and_then(|v| shonin_jose::b64url_decode(v).ok())
    };
    let kty = jwk.get("kty").and_then(Value::as_str);
    let crv = jwk.get("crv").and_then(Value::as_str);
    match (kty, crv) {
        (Some("EC"), Some("P-256")) => match (member("x"), member("y")) {
            (Some(x), Some(y)) => KeyMaterial::P256 { x, y },
            _ => KeyMaterial::Other,
        },
        (Some("RSA"), _) => match (member("n"), member("e")) {
            (Some(n), Some(e)) => KeyMaterial::Rsa {
                n: strip_zeros(&n),
                e: strip_zeros(&e),
            },
            _ => KeyMaterial::Other,
        },
        (Some("OKP"), Some("Ed25519")) => {
            member("x").map_or(KeyMaterial::Other, KeyMaterial::Ed25519)
        }
        _ => KeyMaterial::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprint_shape() {
        let t = x5t_s256(b"abc");
        // FIPS 180-2 B.1 SHA-256("abc"), base64url.
        assert_eq!(t, "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
        assert!(is_thumbprint(&t));
        assert!(!is_thumbprint(
            "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0"
        ));
        assert!(!is_thumbprint("short"));
    }

    #[test]
    fn operator_policy_revocation_wins_over_pinning() {
        let a = "a".repeat(43);
        let b = "b".repeat(43);
        assert_eq!(check_operator_policy(&a, &[], &[]), Ok(()));
        assert_eq!(
            check_operator_policy(&a, std::slice::from_ref(&a), std::slice::from_ref(&a)),
            Err(MtlsError::Revoked)
        );
        assert_eq!(
            check_operator_policy(&a, std::slice::from_ref(&b), &[]),
            Err(MtlsError::NotPinned)
        );
        assert_eq!(check_operator_policy(&a, &[b, a.clone()], &[]), Ok(()));
    }

    #[test]
    fn emails_compare_the_domain_case_insensitively() {
        assert!(same_email("Ops@Bank.example", "Ops@bank.EXAMPLE"));
        assert!(!same_email("ops@bank.example", "Ops@bank.example"));
    }

    #[test]
    fn garbage_is_unparseable() {
        assert!(matches!(
            ClientCertificate::parse(b"not a certificate"),
            Err(MtlsError::Unparseable)
        ));
    }
}
