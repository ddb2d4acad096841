//! What a live TLS listener accepts (`shonin 3ds check-tls`): the TLS 1.3 and 1.2 suites one by
//! one, TLS 1.0 and 1.1, and the legacy TLS 1.2 suites (CBC, RSA key exchange, 3DES) by raw
//! ClientHellos, whether it asks for a client certificate, and its certificate. The rule judged
//! is the one Shonin's own listener keeps (RFC 9325, PCI DSS 4.2.1, the 3-D Secure links): TLS 1.2
//! or 1.3 only, forward-secret AEAD suites only.
//!
//! A probe sends a ClientHello and reads the answer; it never sends application data. The server
//! certificate is accepted whatever it is, so that every suite can be tried, and reported: its
//! subject, its validity period and, with a CA, whether it chains to it.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, aws_lc_rs};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme, SupportedCipherSuite};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const TIMEOUT: Duration = Duration::from_secs(5);

/// One offer the prober made, and the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    pub version: &'static str,
    pub suite: String,
    pub accepted: bool,
    /// Allowed by the rule: TLS 1.2+ with a forward-secret AEAD suite.
    pub allowed: bool,
}

/// The listener's certificate, as the handshakes saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    pub subject: String,
    pub not_after: String,
    /// Now within its validity period.
    pub valid_now: bool,
    /// With a CA given: whether the chain leads to it (the name included).
    pub trusted: Option<Result<(), String>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub offers: Vec<Offer>,
    /// The listener asked for a client certificate (mutual TLS).
    pub client_certificate_requested: bool,
    pub certificate: Option<Certificate>,
}

impl Report {
    /// What breaks the rule, one line each; empty when the listener keeps it.
    pub fn problems(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .offers
            .iter()
            .filter(|o| o.accepted && !o.allowed)
            .map(|o| format!("accepts {} {}", o.version, o.suite))
            .collect();
        if !self.offers.iter().any(|o| o.accepted && o.allowed) {
            out.push("accepts no TLS 1.2 or 1.3 suite at all".into());
        }
        match &self.certificate {
            Some(c) if !c.valid_now => {
                out.push(format!("certificate not valid now ({})", c.not_after))
            }
            Some(Certificate {
                trusted: Some(Err(why)),
                ..
            }) => out.push(format!("certificate not trusted: {why}")),
            _ => {}
        }
        out
    }
}

/// Accepts any server certificate and keeps the chain: the probe wants the suites, and reports
/// the certificate separately.
#[derive(Debug)]
struct Recorder {
    chain: Mutex<Vec<CertificateDer<'static>>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let mut chain = vec![end_entity.clone().into_owned()];
        chain.extend(intermediates.iter().map(|c| c.clone().into_owned()));
        *self.chain.lock().unwrap_or_else(|p| p.into_inner()) = chain;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Notes whether the server asked for a client certificate; presents none.
#[derive(Debug, Default)]
struct AskedForCertificate(Mutex<bool>);

impl rustls::client::ResolvesClientCert for AskedForCertificate {
    fn resolve(
        &self,
        _: &[&[u8]],
        _: &[SignatureScheme],
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = true;
        None
    }

    fn has_certs(&self) -> bool {
        // Asked to resolve only if it might have one.
        true
    }
}

/// One rustls handshake offering only `suite`.
async fn try_suite(
    addr: SocketAddr,
    name: &ServerName<'static>,
    suite: SupportedCipherSuite,
    recorder: &Arc<Recorder>,
    asked: &Arc<AskedForCertificate>,
) -> bool {
    let mut provider = aws_lc_rs::default_provider();
    provider.cipher_suites = vec![suite];
    let version = match suite {
        SupportedCipherSuite::Tls13(_) => &rustls::version::TLS13,
        SupportedCipherSuite::Tls12(_) => &rustls::version::TLS12,
    };
    let Ok(builder) = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&[version])
    else {
        return false;
    };
    let config = builder
        .dangerous()
        .with_custom_certificate_verifier(recorder.clone())
        .with_client_cert_resolver(asked.clone());
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let handshake = async {
        let tcp = TcpStream::connect(addr).await.ok()?;
        connector.connect(name.clone(), tcp).await.ok()
    };
    matches!(tokio::time::timeout(TIMEOUT, handshake).await, Ok(Some(_)))
}

/// A ClientHello of `version` offering `suites` (with the extensions an ECDHE handshake needs).
fn client_hello(version: [u8; 2], suites: &[u16], host: Option<&str>) -> Vec<u8> {
    let mut body = version.to_vec();
    body.extend([0x5a; 32]); // random
    body.push(0); // session id
    let list: Vec<u8> = suites.iter().flat_map(|s| s.to_be_bytes()).collect();
    body.extend(u16::try_from(list.len()).unwrap_or(0).to_be_bytes());
    body.extend(list);
    body.extend([0x01, 0x00]); // compression: null
    let mut extensions = vec![
        0x00, 0x0a, 0x00, 0x06, 0x00, 0x04, 0x00, 0x17, 0x00, 0x18, // groups: P-256, P-384
        0x00, 0x0b, 0x00, 0x02, 0x01, 0x00, // ec_point_formats: uncompressed
        // signature_algorithms: ecdsa_secp256r1_sha256, rsa_pss_rsae_sha256, rsa_pkcs1_sha256
        0x00, 0x0d, 0x00, 0x08, 0x00, 0x06, 0x04, 0x03, 0x08, 0x04, 0x04, 0x01, //
        0x00, 0x17, 0x00, 0x00, // extended_master_secret
    ];
    if let Some(host) = host.filter(|h| h.len() < 256) {
        let name = host.as_bytes();
        let n = u16::try_from(name.len()).unwrap_or(0);
        extensions.extend([0x00, 0x00]);
        extensions.extend((n + 5).to_be_bytes());
        extensions.extend((n + 3).to_be_bytes());
        extensions.push(0);
        extensions.extend(n.to_be_bytes());
        extensions.extend(name);
    }
    body.extend(u16::try_from(extensions.len()).unwrap_or(0).to_be_bytes());
    body.extend(extensions);
    let mut handshake = vec![0x01];
    handshake.extend(&u32::try_from(body.len()).unwrap_or(0).to_be_bytes()[1..]);
    handshake.extend(body);
    let mut record = vec![0x16, 0x03, 0x01];
    record.extend(u16::try_from(handshake.len()).unwrap_or(0).to_be_bytes());
    record.extend(handshake);
    record
}

/// Whether the listener answers a raw ClientHello of `version` offering `suites` with a
/// ServerHello (a handshake record whose first message is type 2) rather than an alert or
/// nothing.
pub async fn answers_hello(
    addr: SocketAddr,
    version: [u8; 2],
    suites: &[u16],
    host: Option<&str>,
) -> bool {
    let hello = client_hello(version, suites, host);
    let exchange = async {
        let mut tcp = TcpStream::connect(addr).await.ok()?;
        tcp.write_all(&hello).await.ok()?;
        let mut head = [0u8; 6];
        tcp.read_exact(&mut head).await.ok()?;
        Some(head)
    };
    matches!(
        tokio::time::timeout(TIMEOUT, exchange).await,
        Ok(Some([0x16, _, _, _, _, 0x02]))
    )
}

/// The legacy offers: every one must be refused.
const LEGACY: &[(&str, [u8; 2], &str, &[u16])] = &[
    (
        "TLS 1.0",
        [3, 1],
        "any of ECDHE/RSA with AES-CBC or 3DES",
        &[0xc013, 0xc009, 0xc014, 0xc00a, 0x002f, 0x0035, 0x000a],
    ),
    (
        "TLS 1.1",
        [3, 2],
        "any of ECDHE/RSA with AES-CBC or 3DES",
        &[0xc013, 0xc009, 0xc014, 0xc00a, 0x002f, 0x0035, 0x000a],
    ),
    (
        "TLS 1.2",
        [3, 3],
        "ECDHE with AES-CBC",
        &[
            0xc013, 0xc009, 0xc014, 0xc00a, 0xc027, 0xc023, 0xc028, 0xc024,
        ],
    ),
    (
        "TLS 1.2",
        [3, 3],
        "RSA key exchange (no forward secrecy)",
        &[0x002f, 0x0035, 0x009c, 0x009d, 0x003c],
    ),
    ("TLS 1.2", [3, 3], "3DES", &[0x000a, 0xc012, 0xc008]),
];

/// Probes the listener at `addr` (`host` names it for SNI and, with `ca`, for the certificate).
pub async fn probe(addr: SocketAddr, host: &str, ca: Option<rustls::RootCertStore>) -> Report {
    let name = ServerName::try_from(host.to_owned())
        .unwrap_or_else(|_| ServerName::IpAddress(addr.ip().into()));
    let recorder = Arc::new(Recorder {
        chain: Mutex::new(Vec::new()),
        provider: Arc::new(aws_lc_rs::default_provider()),
    });
    let asked = Arc::new(AskedForCertificate::default());
    let mut offers = Vec::new();
    for suite in aws_lc_rs::ALL_CIPHER_SUITES.iter().copied() {
        let version = match suite {
            SupportedCipherSuite::Tls13(_) => "TLS 1.3",
            SupportedCipherSuite::Tls12(_) => "TLS 1.2",
        };
        let accepted = try_suite(addr, &name, suite, &recorder, &asked).await;
        offers.push(Offer {
            version,
            suite: format!("{:?}", suite.suite()),
            accepted,
            // rustls implements only forward-secret AEAD suites.
            allowed: true,
        });
    }
    let sni = match &name {
        ServerName::DnsName(d) => Some(d.as_ref().to_owned()),
        _ => None,
    };
    for (version, wire, suite, suites) in LEGACY {
        let accepted = answers_hello(addr, *wire, suites, sni.as_deref()).await;
        offers.push(Offer {
            version,
            suite: (*suite).to_owned(),
            accepted,
            allowed: false,
        });
    }
    let chain = recorder
        .chain
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let certificate = certificate(&chain, &name, ca);
    let client_certificate_requested = *asked.0.lock().unwrap_or_else(|p| p.into_inner());
    Report {
        offers,
        client_certificate_requested,
        certificate,
    }
}

fn certificate(
    chain: &[CertificateDer<'static>],
    name: &ServerName<'static>,
    ca: Option<rustls::RootCertStore>,
) -> Option<Certificate> {
    let (leaf, intermediates) = chain.split_first()?;
    let (_, parsed) = x509_parser::parse_x509_certificate(leaf).ok()?;
    let validity = parsed.validity();
    let trusted = ca.map(|roots| {
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots),
            Arc::new(aws_lc_rs::default_provider()),
        )
        .build()
        .map_err(|e| e.to_string())?;
        verifier
            .verify_server_cert(leaf, intermediates, name, &[], UnixTime::now())
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
    Some(Certificate {
        subject: parsed.subject().to_string(),
        not_after: validity.not_after.to_string(),
        valid_now: validity.is_valid(),
        trusted,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hello_names_the_host_and_the_suites() {
        let hello = client_hello([3, 1], &[0xc013, 0x002f], Some("acs.example"));
        assert_eq!(&hello[..3], &[0x16, 0x03, 0x01]);
        assert_eq!(
            usize::from(u16::from_be_bytes([hello[3], hello[4]])),
            hello.len() - 5
        );
        assert_eq!(hello[5], 1, "ClientHello");
        assert_eq!(&hello[9..11], &[3, 1]);
        assert!(hello.windows(4).any(|w| w == [0xc0, 0x13, 0x00, 0x2f]));
        assert!(hello.windows(11).any(|w| w == b"acs.example"));
    }
}
