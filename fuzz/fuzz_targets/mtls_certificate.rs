//! Fuzzes the RFC 8705 certificate rules: `mtls::ClientCertificate::parse` on arbitrary DER
//! (what a client sends in the handshake or a proxy forwards) followed by every check the server
//! runs on a parsed certificate, and `mtls::Rdns::parse_rfc4514` on arbitrary text (what an
//! operator registers as `tls_client_auth_subject_dn`).
//!
//! Input: one selector byte, then the payload. Even selector: the payload is DER. Odd: the
//! payload is a DN string (non-UTF-8 ends the run).
//!
//! Properties: nothing panics; a parsed certificate's thumbprint is `x5t_s256` of the input and
//! has the thumbprint shape; a DN that parses parses again to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::json;
use shonin_oauth::mtls::{self, ClientCertificate, Rdns, TlsClientAuthSubject};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, payload)) = data.split_first() else {
        return;
    };
    if selector % 2 == 0 {
        let Ok(cert) = ClientCertificate::parse(payload) else {
            return;
        };
        assert_eq!(cert.thumbprint(), mtls::x5t_s256(payload));
        assert!(mtls::is_thumbprint(cert.thumbprint()));
        let now = time::OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
        let _ = cert.check_validity(now);
        for subject in [
            TlsClientAuthSubject::SubjectDn("CN=tpp,O=Bank AG,C=DE".into()),
            TlsClientAuthSubject::SanDns("tpp.example".into()),
            TlsClientAuthSubject::SanUri("https://tpp.example/id".into()),
            TlsClientAuthSubject::SanIp(std::net::Ipv4Addr::new(192, 0, 2, 7).into()),
            TlsClientAuthSubject::SanEmail("ops@tpp.example".into()),
        ] {
            let _ = cert.matches_subject(&subject);
        }
        let jwks = json!({"keys": [
            {"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"},
            {"kty": "RSA", "n": "AQAB", "e": "AQAB"},
            {"kty": "OKP", "crv": "Ed25519", "x": "AAAA"},
            {"kty": "EC", "x5c": ["AAAA"]},
        ]});
        let _ = cert.matches_jwks(&jwks);
    } else {
        let Ok(text) = std::str::from_utf8(payload) else {
            return;
        };
        if let Some(dn) = Rdns::parse_rfc4514(text) {
            assert_eq!(Rdns::parse_rfc4514(text), Some(dn));
        }
    }
});
