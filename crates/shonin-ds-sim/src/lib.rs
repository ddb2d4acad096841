//! `shonin ds-sim FILE` (this crate): a Directory Server simulator for tests and integrators (not for
//! production: a real DS is the card scheme's). It meets the 3DS Server and the ACS over mutual
//! TLS on both links (EMV 3DS §6.1 links):
//!
//! - `POST /ds/areq` (from 3DS Servers): the AReq is checked, routed by its card number to the
//!   range's ACS with a fresh `dsTransID`, `dsReferenceNumber` and `dsURL`, and the ACS's ARes
//!   (or Erro) relayed back;
//! - `POST /ds/rreq` (from ACSs): the RReq is relayed to the `threeDSServerURL` its AReq named,
//!   and the 3DS Server's RRes relayed back;
//! - `POST /ds/preq` (from 3DS Servers): the PRes with the whole card-range table.
//!
//! Every caller's client certificate must chain to `client_ca_file` (else Erro 303, HTTP 403);
//! refusals are Erro messages from component D. The routing rules are `shonin_3ds::ds`'s pure
//! functions; the transactions awaiting an RReq are kept in memory (a simulator runs alone).

pub mod settings;

use anyhow::Context as _;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use settings::DsSimSettings;
use shonin_3ds::ds::{self, DsProfile, DsRange};
use shonin_3ds::{
    ErrorCode, ErrorComponent, Identified, Message, MessageType, Refused, Rejection, Versions,
};
use shonin_oauth::mtls::ClientCaBundle;
use shonin_tls::ConnectionInfo;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long the DS waits for an ACS's ARes or a 3DS Server's RRes.
const RELAY_TIMEOUT: Duration = Duration::from_secs(10);
/// Transactions remembered for their RReq: at most this many, for at most this long.
const PENDING_MAX: usize = 100_000;
const PENDING_TTL: Duration = Duration::from_secs(3600);
const MAX_ANSWER_BYTES: usize = 256 * 1024;

/// The running simulator.
#[derive(Debug)]
pub struct DsSim {
    versions: Versions,
    profile: DsProfile,
    ranges: Vec<DsRange>,
    callers: ClientCaBundle,
    http: reqwest::Client,
    /// `dsTransID` → the 3DS Server's `threeDSServerURL`, for the RReq.
    pending: Mutex<HashMap<String, (String, Instant)>>,
}

impl DsSim {
    pub fn build(s: &DsSimSettings) -> anyhow::Result<Self> {
        let (versions, profile, ranges) = s.checked()?;
        let pem = std::fs::read(&s.client_ca_file)
            .with_context(|| format!("client_ca_file {}", s.client_ca_file.display()))?;
        let callers = ClientCaBundle::from_pem(&pem)
            .with_context(|| format!("client_ca_file {}", s.client_ca_file.display()))?;
        let tls = shonin_tls::mutual_client_config(
            &s.server_ca_file,
            &s.client_certificate_file,
            &s.client_key_file,
        )?;
        let http = reqwest::Client::builder()
            .use_preconfigured_tls((*tls).clone())
            .timeout(RELAY_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .https_only(true)
            .build()?;
        Ok(DsSim {
            versions,
            profile,
            ranges,
            callers,
            http,
            pending: Mutex::new(HashMap::new()),
        })
    }

    pub fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/ds/areq", post(areq))
            .route("/ds/rreq", post(rreq))
            .route("/ds/preq", post(preq))
            .with_state(self)
    }

    fn remember(&self, ds_trans_id: &str, server_url: String) {
        let now = Instant::now();
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        if pending.len() >= PENDING_MAX {
            pending.retain(|_, (_, at)| now.duration_since(*at) < PENDING_TTL);
        }
        if pending.len() < PENDING_MAX {
            pending.insert(ds_trans_id.to_owned(), (server_url, now));
        }
    }

    fn server_url(&self, ds_trans_id: &str) -> Option<String> {
        let pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        pending
            .get(ds_trans_id)
            .filter(|(_, at)| at.elapsed() < PENDING_TTL)
            .map(|(url, _)| url.clone())
    }
}

/// Runs the simulator of `path` until `shutdown` completes.
pub async fn run(
    path: &std::path::Path,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let settings = DsSimSettings::read(path)?;
    let sim = Arc::new(DsSim::build(&settings)?);
    let tls = shonin_tls::server_config(
        &settings.certificate_file,
        &settings.key_file,
        shonin_tls::ClientCertMode::Optional,
    )?;
    let listener = tokio::net::TcpListener::bind(settings.listen).await?;
    eprintln!(
        "shonin ds-sim: listening on https://{} ({} card ranges; not for production)",
        listener.local_addr()?,
        sim.ranges.len()
    );
    shonin_tls::serve(
        listener,
        Some(tls),
        sim.router(),
        shonin_tls::ServeLimits::default(),
        shutdown,
    )
    .await?;
    Ok(())
}

fn protocol(status: StatusCode, message: &impl serde::Serialize) -> Response {
    let mut resp = (status, axum::Json(message)).into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn erro(sim: &DsSim, refused: Refused, status: StatusCode) -> Response {
    tracing::info!(code = refused.rejection.code.code(), detail = %refused.rejection.detail, "ds-sim: Erro");
    protocol(
        status,
        &refused.erro(ErrorComponent::DirectoryServer, sim.versions),
    )
}

fn refused(code: ErrorCode, element: Option<&str>, detail: &str, id: Identified) -> Refused {
    Refused {
        rejection: match element {
            Some(e) => Rejection::element(code, e, detail),
            None => Rejection::new(code, detail),
        },
        identified: id,
    }
}

/// The caller's certificate chains to the scheme CA, and the body is a JSON message of the
/// `expected` type, which `pick` takes out; else the Erro to answer.
fn read<T>(
    sim: &DsSim,
    conn: Option<&ConnectionInfo>,
    headers: &HeaderMap,
    body: &[u8],
    expected: MessageType,
    pick: fn(Message) -> Option<T>,
) -> Result<T, Box<Response>> {
    let chain = conn.and_then(|c| c.client_cert_chain.clone());
    let trusted = chain.is_some_and(|c| {
        sim.callers
            .verify(&c, time::OffsetDateTime::now_utc())
            .is_ok()
    });
    if !trusted {
        let r = refused(
            ErrorCode::AccessDenied,
            None,
            "the client certificate does not chain to the scheme CA",
            Identified::default(),
        );
        return Err(Box::new(erro(sim, r, StatusCode::FORBIDDEN)));
    }
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        let r = refused(
            ErrorCode::MessageReceivedInvalid,
            None,
            "the message must be sent as Content-Type: application/json",
            Identified::default(),
        );
        return Err(Box::new(erro(sim, r, StatusCode::UNSUPPORTED_MEDIA_TYPE)));
    }
    match shonin_3ds::check(body, sim.versions) {
        Ok(m) => {
            let id = Identified {
                message_type: Some(m.message_type()),
                message_version: Some(m.message_version()),
                ..Identified::default()
            };
            if let Some(picked) = pick(m) {
                return Ok(picked);
            }
            let detail = format!("this endpoint reads {} messages", expected.as_str());
            Err(Box::new(erro(
                sim,
                refused(
                    ErrorCode::MessageReceivedInvalid,
                    Some("messageType"),
                    &detail,
                    id,
                ),
                StatusCode::OK,
            )))
        }
        Err(r) => Err(Box::new(erro(sim, *r, StatusCode::OK))),
    }
}

/// POSTs `body` to `url`; the answer if it is a valid message of the `expected` type or an Erro,
/// else the Erro the DS answers (405 connection failure or another answer, 402 timeout).
async fn relay(
    sim: &DsSim,
    url: &str,
    body: Vec<u8>,
    id: &Identified,
    expected: MessageType,
) -> Result<Message, Refused> {
    let failed = |code, detail: String| refused(code, None, &detail, id.clone());
    let resp = sim
        .http
        .post(url)
        .header(header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| {
            if e.is_timeout() {
                failed(
                    ErrorCode::TransactionTimedOut,
                    "the peer did not answer in time".into(),
                )
            } else {
                failed(
                    ErrorCode::SystemConnectionFailure,
                    format!("the peer could not be reached: {e}"),
                )
            }
        })?;
    let bytes = resp.bytes().await.map_err(|_| {
        failed(
            ErrorCode::SystemConnectionFailure,
            "the answer was cut off".into(),
        )
    })?;
    if bytes.len() > MAX_ANSWER_BYTES {
        return Err(failed(
            ErrorCode::SystemConnectionFailure,
            "the answer is too large".into(),
        ));
    }
    let answer = shonin_3ds::check(&bytes, Versions::ALL).map_err(|r| {
        failed(
            ErrorCode::SystemConnectionFailure,
            format!(
                "the peer's answer is not a valid message: {}",
                r.rejection.detail
            ),
        )
    })?;
    match answer.message_type() {
        t if t == expected || t == MessageType::Erro => Ok(answer),
        t => Err(failed(
            ErrorCode::SystemConnectionFailure,
            format!(
                "the peer answered {}, not {}",
                t.as_str(),
                expected.as_str()
            ),
        )),
    }
}

async fn areq(
    State(sim): State<Arc<DsSim>>,
    conn: Option<axum::Extension<ConnectionInfo>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let pick = |m| match m {
        Message::AReq(a) => Some(a),
        _ => None,
    };
    let areq = match read(
        &sim,
        conn.as_deref(),
        &headers,
        &body,
        MessageType::AReq,
        pick,
    ) {
        Ok(a) => a,
        Err(resp) => return *resp,
    };
    let range = match ds::route(&sim.ranges, &areq) {
        Ok(r) => r,
        Err(r) => return erro(&sim, *r, StatusCode::OK),
    };
    let ds_trans_id = uuid::Uuid::new_v4().to_string();
    let relayed = ds::relayed(&areq, &sim.profile, &ds_trans_id);
    let id = Identified {
        message_type: Some(MessageType::AReq),
        message_version: Some(areq.message_version),
        three_ds_server_trans_id: Some(areq.three_ds_server_trans_id.clone()),
        ds_trans_id: Some(ds_trans_id.clone()),
        ..Identified::default()
    };
    let body = serde_json::to_vec(&relayed).unwrap_or_default();
    match relay(&sim, &range.acs_url, body, &id, MessageType::ARes).await {
        Ok(answer) => {
            let server_url = areq
                .other
                .0
                .get("threeDSServerURL")
                .and_then(|v| v.as_str());
            if let (Message::ARes(_), Some(url)) = (&answer, server_url) {
                sim.remember(&ds_trans_id, url.to_owned());
            }
            protocol(StatusCode::OK, &answer.to_json())
        }
        Err(r) => erro(&sim, r, StatusCode::OK),
    }
}

async fn rreq(
    State(sim): State<Arc<DsSim>>,
    conn: Option<axum::Extension<ConnectionInfo>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let pick = |m| match m {
        Message::RReq(r) => Some(r),
        _ => None,
    };
    let rreq = match read(
        &sim,
        conn.as_deref(),
        &headers,
        &body,
        MessageType::RReq,
        pick,
    ) {
        Ok(r) => r,
        Err(resp) => return *resp,
    };
    let id = Identified {
        message_type: Some(MessageType::RReq),
        message_version: Some(rreq.message_version),
        three_ds_server_trans_id: Some(rreq.three_ds_server_trans_id.clone()),
        ds_trans_id: Some(rreq.ds_trans_id.clone()),
        acs_trans_id: Some(rreq.acs_trans_id.clone()),
        ..Identified::default()
    };
    let Some(url) = sim.server_url(&rreq.ds_trans_id) else {
        let r = refused(
            ErrorCode::TransactionIdNotRecognised,
            Some("dsTransID"),
            "no AReq with this dsTransID awaits a result",
            id,
        );
        return erro(&sim, r, StatusCode::OK);
    };
    match relay(&sim, &url, body.to_vec(), &id, MessageType::RRes).await {
        Ok(answer) => protocol(StatusCode::OK, &answer.to_json()),
        Err(r) => erro(&sim, r, StatusCode::OK),
    }
}

async fn preq(
    State(sim): State<Arc<DsSim>>,
    conn: Option<axum::Extension<ConnectionInfo>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let pick = |m| match m {
        Message::PReq(p) => Some(p),
        _ => None,
    };
    match read(
        &sim,
        conn.as_deref(),
        &headers,
        &body,
        MessageType::PReq,
        pick,
    ) {
        Ok(p) => {
            let ds_trans_id = uuid::Uuid::new_v4().to_string();
            protocol(
                StatusCode::OK,
                &ds::pres(&p, &sim.profile, &sim.ranges, &ds_trans_id),
            )
        }
        Err(resp) => *resp,
    }
}
