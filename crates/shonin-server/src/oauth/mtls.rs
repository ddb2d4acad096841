//! Mutual TLS (RFC 8705) as the HTTP layer sees it: where a request's client certificate comes
//! from (this server's TLS handshake, or a header set by a trusted TLS-terminating proxy), the
//! operator's client CA bundle, and the per-client checks before `shonin-oauth`'s rules.
//!
//! The certificate's origin is decided once per request by [`certificate_source`], a middleware
//! that puts a [`PresentedCertificate`] into the request's extensions. Handlers read it through
//! [`crate::request_meta::RequestMeta`] and never look at the header themselves.

use crate::config::ServerMode;
use crate::error::OAuthError;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::HeaderName;
use axum::middleware::Next;
use axum::response::Response;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use shonin_audit::{Actor, ActorKind, AuditRecord, Outcome};
use shonin_oauth::Client;
use shonin_oauth::client::ClientJwks;
use shonin_oauth::mtls::{ClientCertificate, MtlsError, check_operator_policy};
use shonin_tls::ConnectionInfo;
use shonin_types::ErrorCode;
use std::fmt;
use std::sync::Arc;
use time::OffsetDateTime;

/// Audit action of a certificate header that arrived from a peer that is not a trusted proxy.
pub const SPOOFED_HEADER_ACTION: &str = "mtls.certificate_header_spoofed";

/// Largest chain taken from a proxy header (leaf plus intermediates).
const MAX_HEADER_CHAIN: usize = 4;

/// How the client certificate reached this server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertificateSource {
    /// This server terminated TLS and the client proved possession of the key in the handshake.
    TlsHandshake,
    /// A trusted TLS-terminating proxy forwarded it in `server.client_certificate_header`.
    ProxyHeader,
}

/// The client certificate a request came with, after the connection-level decision.
#[derive(Clone)]
pub enum PresentedCertificate {
    /// The chain, leaf first.
    Chain {
        chain: Arc<[CertificateDer<'static>]>,
        source: CertificateSource,
    },
    /// A trusted proxy's header that did not hold a PEM certificate.
    Malformed,
}

impl fmt::Debug for PresentedCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Chain { chain, source } => {
                write!(f, "Chain(<{} certificate(s)>, {source:?})", chain.len())
            }
            Self::Malformed => f.write_str("Malformed"),
        }
    }
}

impl PresentedCertificate {
    /// The leaf, parsed.
    pub fn leaf(&self) -> Result<ClientCertificate, MtlsError> {
        match self {
            Self::Chain { chain, .. } => chain
                .first()
                .ok_or(MtlsError::NoCertificate)
                .and_then(|der| ClientCertificate::parse(der)),
            Self::Malformed => Err(MtlsError::Unparseable),
        }
    }

    /// `x5t#S256` of the leaf, if there is one.
    pub fn thumbprint(&self) -> Option<String> {
        match self {
            Self::Chain { chain, .. } => chain.first().map(|d| shonin_oauth::mtls::x5t_s256(d)),
            Self::Malformed => None,
        }
    }
}

/// The checks every certificate gets before it authenticates a client or binds a token: it
/// parses, its validity period holds, the operator has not revoked it, and it is pinned if the
/// client has pins.
pub fn checked_leaf(
    client: &Client,
    presented: Option<&PresentedCertificate>,
    now: OffsetDateTime,
) -> Result<ClientCertificate, MtlsError> {
    let cert = presented.ok_or(MtlsError::NoCertificate)?.leaf()?;
    check_operator_policy(
        cert.thumbprint(),
        &client.pinned_certificates,
        &client.revoked_certificates,
    )?;
    cert.check_validity(now)?;
    Ok(cert)
}

/// `tls_client_auth` (RFC 8705 §2.1): the certificate chains to the bundle and its subject or SAN
/// matches the registration.
pub fn tls_client_auth(
    state: &AppState,
    client: &Client,
    presented: Option<&PresentedCertificate>,
) -> Result<ClientCertificate, MtlsError> {
    let now = state.clock.now();
    let cert = checked_leaf(client, presented, now)?;
    if let Some(PresentedCertificate::Chain { chain, .. }) = presented {
        state.oauth.client_cas.verify(chain, now).inspect_err(
            |e| tracing::info!(error = %e, "client certificate path validation failed"),
        )?;
    }
    let subject = client
        .tls_client_auth_subject
        .as_ref()
        .ok_or(MtlsError::SubjectMismatch("registered subject (none)"))?;
    cert.matches_subject(subject)?;
    Ok(cert)
}

/// `self_signed_tls_client_auth` (RFC 8705 §2.2): the certificate's key is in the client's JWK
/// set; a `jwks_uri` is fetched (and fetched again once if the key is not in the cached copy, the
/// client may have rotated).
pub async fn self_signed_tls_client_auth(
    state: &AppState,
    client: &Client,
    presented: Option<&PresentedCertificate>,
) -> Result<ClientCertificate, OAuthError> {
    let cert =
        checked_leaf(client, presented, state.clock.now()).map_err(|e| invalid_client(&e))?;
    let matched = match &client.jwks {
        ClientJwks::Inline(jwks) => cert.matches_jwks(jwks),
        ClientJwks::None => Err(MtlsError::KeyNotRegistered),
        ClientJwks::Uri(uri) => {
            let jwks = state
                .oauth
                .jwks
                .get(uri)
                .await
                .map_err(|_| super::client_auth::jwks_unusable())?;
            match cert.matches_jwks(&jwks) {
                Err(MtlsError::KeyNotRegistered) => match state
                    .oauth
                    .jwks
                    .refetch(uri)
                    .await
                    .map_err(|_| super::client_auth::jwks_unusable())?
                {
                    Some(fresh) => cert.matches_jwks(&fresh),
                    None => Err(MtlsError::KeyNotRegistered),
                },
                other => other,
            }
        }
    };
    matched.map_err(|e| invalid_client(&e))?;
    Ok(cert)
}

/// A refused certificate at a token-style endpoint (RFC 8705 §2: `invalid_client`).
pub fn invalid_client(e: &MtlsError) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidClient, e.to_string())
}

/// Middleware: decides which client certificate, if any, the request came with, and puts a
/// `Option<PresentedCertificate>` into its extensions.
///
/// - `server.mode = "tls"`: the chain from this server's handshake.
/// - `server.mode = "proxy"` with `server.client_certificate_header`: the header's URL-encoded
///   PEM chain (nginx `$ssl_client_escaped_cert`), **only** when the TCP peer is one of
///   `server.trusted_proxies`. From any other peer the header is removed, logged and written to
///   the audit log as [`SPOOFED_HEADER_ACTION`]; the request goes on without a certificate.
pub async fn certificate_source(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let conn = req.extensions().get::<ConnectionInfo>().cloned();
    let mut presented = conn
        .as_ref()
        .and_then(|c| c.client_cert_chain.clone())
        .map(|chain| PresentedCertificate::Chain {
            chain,
            source: CertificateSource::TlsHandshake,
        });
    if let Some(name) = &state.oauth.client_certificate_header
        && req.headers().contains_key(name)
    {
        let server = &state.config.server;
        let peer = conn.as_ref().map(|c| c.peer_addr.ip());
        let trusted = server.mode == ServerMode::Proxy
            && peer.is_some_and(|p| server.trusted_proxies.contains(&p));
        if trusted {
            presented = Some(from_header(&req, name));
        } else {
            // Only owned values cross the await: a request body is not `Sync`.
            let request_id = req
                .extensions()
                .get::<crate::layers::request_id::RequestId>()
                .map(|r| r.0.clone());
            let path: String = req.uri().path().chars().take(256).collect();
            let peer = conn.as_ref().map(|c| c.peer_addr);
            tracing::warn!(
                ?peer,
                header = %name,
                request_id = request_id.as_deref().unwrap_or("-"),
                "client certificate header from a peer that is not a trusted proxy; ignored"
            );
            let ip = peer.map_or(std::net::IpAddr::from([0, 0, 0, 0]), |p| p.ip());
            if let Some(admitted) =
                state
                    .audit_sampler
                    .admit(SPOOFED_HEADER_ACTION, ip, std::time::Instant::now())
            {
                spoofed(&state, ip, request_id, path, name, admitted).await;
            }
        }
        req.headers_mut().remove(name);
    }
    req.extensions_mut().insert(presented);
    next.run(req).await
}

fn from_header(req: &Request, name: &HeaderName) -> PresentedCertificate {
    let mut values = req.headers().get_all(name).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return PresentedCertificate::Malformed;
    };
    let Some(pem) = percent_decode(value.as_bytes()) else {
        return PresentedCertificate::Malformed;
    };
    let chain: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(&pem)
        .take(MAX_HEADER_CHAIN + 1)
        .collect();
    match chain {
        Ok(chain) if !chain.is_empty() && chain.len() <= MAX_HEADER_CHAIN => {
            PresentedCertificate::Chain {
                chain: Arc::from(chain),
                source: CertificateSource::ProxyHeader,
            }
        }
        _ => PresentedCertificate::Malformed,
    }
}

/// RFC 3986 §2.1 percent-decoding, as nginx's `$ssl_client_escaped_cert` encodes (a `+` stays a
/// `+`: this is not form encoding). `None` on a broken escape.
fn percent_decode(input: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while let Some(&b) = input.get(i) {
        if b == b'%' {
            let hex = std::str::from_utf8(input.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    Some(out)
}

/// Writes the sampled audit entry for spoofed certificate headers from `ip`.
async fn spoofed(
    state: &AppState,
    ip: std::net::IpAddr,
    request_id: Option<String>,
    path: String,
    name: &HeaderName,
    admitted: shonin_audit::sampler::Admitted,
) {
    let record = AuditRecord {
        time: state.clock.now(),
        actor: Actor {
            kind: ActorKind::Client,
            id: "-".to_owned(),
        },
        action: SPOOFED_HEADER_ACTION.to_owned(),
        target: path,
        outcome: Outcome::Failure,
        reason: Some(admitted.reason(&format!(
            "header {name} from untrusted peer; ignored (only server.trusted_proxies may set it)"
        ))),
        source_ip: Some(ip),
        request_id,
    };
    if let Err(e) = state.audit.append(record).await {
        tracing::error!(error = %e, "audit entry for a spoofed certificate header could not be written");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_keeps_plus_and_rejects_broken_escapes() {
        assert_eq!(percent_decode(b"a%2Bb+c%0A").unwrap(), b"a+b+c\n");
        assert_eq!(percent_decode(b"%zz"), None);
        assert_eq!(percent_decode(b"%4"), None);
    }
}
