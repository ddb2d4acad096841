//! EMV 3-D Secure, merchant side: the 3DS Server's wiring. The decisions are
//! `shonin_3ds::server`'s pure functions; this module holds the `[threeds.server]` settings, the
//! mutual-TLS link to the DS (AReq and PReq), the card-range cache each node fills from the DS,
//! and the requestor API, RReq and notification endpoints (`routes/threeds_server.rs`).

pub mod requestor;
pub mod results;

use anyhow::Context as _;
use shonin_3ds::server::ranges::Applied;
use shonin_3ds::server::{Problem, RangeCache, ServerProfile};
use shonin_3ds::settings::ServerSettings;
use shonin_3ds::{AReq, ErrorCode, Message, PReq, PReqType, Versions};
use std::sync::RwLock;
use std::time::Duration;

/// The requestor API's scope.
pub use shonin_3ds::settings::REQUESTOR_SCOPE as SCOPE;
/// Where the DS sends RReqs, and where the browser posts the final CRes, under the issuer.
pub const RREQ_PATH: &str = "/3ds/server/rreq";
pub const NOTIFICATION_PATH: &str = "/3ds/server/notification";
/// Where the ACS's 3DS Method page posts `threeDSMethodData` back.
pub const METHOD_NOTIFICATION_PATH: &str = "/3ds/server/method-notification";
/// How long the 3DS Server waits to connect to the DS (the whole exchange: `ds_timeout_secs`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest ARes or PRes read (a PRes lists every card range of the DS).
const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;
/// The longest wait before a failed PReq is tried again.
pub const RANGE_RETRY: Duration = Duration::from_secs(60);

/// The configured 3DS Server.
#[derive(Debug)]
pub struct ServerService {
    pub profile: ServerProfile,
    pub versions: Versions,
    pub retention: time::Duration,
    pub refresh: Duration,
    areq_url: String,
    preq_url: String,
    http: reqwest::Client,
    ds_thumbprints: Vec<String>,
    ranges: RwLock<RangeCache>,
}

/// What came back for an AReq: a message (ARes or Erro), or the problem that stands for none.
pub type DsAnswer = Result<Message, Problem>;

impl ServerService {
    /// `None` when `[threeds.server]` is absent. The settings were validated with the
    /// configuration.
    pub fn build(settings: Option<&ServerSettings>, issuer: &str) -> anyhow::Result<Option<Self>> {
        let Some(s) = settings else { return Ok(None) };
        let tls = shonin_tls::mutual_client_config(&s.ds_ca_file, &s.certificate_file, &s.key_file)
            .context("threeds.server: ds_ca_file, certificate_file, key_file")?;
        let http = reqwest::Client::builder()
            .use_preconfigured_tls((*tls).clone())
            .connect_timeout(CONNECT_TIMEOUT.min(Duration::from_secs(s.ds_timeout_secs)))
            .timeout(Duration::from_secs(s.ds_timeout_secs))
            .redirect(reqwest::redirect::Policy::none())
            .https_only(true)
            .build()
            .context("threeds.server: the DS client")?;
        let versions = s
            .versions()
            .map_err(|(key, rule)| anyhow::anyhow!("threeds.server.{key}: {rule}"))?;
        Ok(Some(ServerService {
            profile: ServerProfile {
                reference_number: s.reference_number.clone(),
                operator_id: s.operator_id.clone(),
                results_url: s
                    .results_url
                    .clone()
                    .unwrap_or_else(|| format!("{issuer}{RREQ_PATH}")),
                notification_url: format!("{issuer}{NOTIFICATION_PATH}"),
                requestor_id: s.requestor_id.clone(),
                requestor_name: s.requestor_name.clone(),
                requestor_url: s.requestor_url.clone(),
            },
            versions,
            retention: time::Duration::seconds(
                i64::try_from(s.transaction_retention_secs).unwrap_or(i64::MAX),
            ),
            refresh: Duration::from_secs(s.card_range_refresh_secs),
            areq_url: s.ds_areq_url.clone(),
            preq_url: s.ds_preq_url.clone(),
            http,
            ds_thumbprints: s.ds_certificate_thumbprints.clone(),
            ranges: RwLock::new(RangeCache::default()),
        }))
    }

    /// Whether `thumbprint` is one of the DS's client certificates (RReqs).
    pub fn trusts(&self, thumbprint: &str) -> bool {
        self.ds_thumbprints
            .iter()
            .any(|t| shonin_types::constant_time_eq(t.as_bytes(), thumbprint.as_bytes()))
    }

    /// Reads the card-range cache.
    pub fn with_ranges<T>(&self, f: impl FnOnce(&RangeCache) -> T) -> T {
        f(&self.ranges.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Sends `body` to `url` and reads the answer as a message (any type; the caller decides):
    /// one retry after a connection failure, then Erro 405; no answer in time is 402.
    async fn exchange(&self, url: &str, body: Vec<u8>) -> DsAnswer {
        let mut last = String::new();
        for _ in 0..2 {
            let sent = self
                .http
                .post(url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone())
                .send()
                .await;
            let resp = match sent {
                Ok(r) => r,
                Err(e) if e.is_connect() => {
                    last = format!("the DS could not be reached: {e}");
                    continue;
                }
                Err(e) if e.is_timeout() => {
                    return Err(Problem::ours(
                        ErrorCode::TransactionTimedOut,
                        "the DS did not answer in time",
                    ));
                }
                Err(e) => {
                    return Err(Problem::ours(
                        ErrorCode::SystemConnectionFailure,
                        format!("the DS exchange failed: {e}"),
                    ));
                }
            };
            let bytes = match resp.bytes().await {
                Ok(b) if b.len() <= MAX_ANSWER_BYTES => b,
                Ok(_) => {
                    return Err(Problem::ours(
                        ErrorCode::SystemConnectionFailure,
                        "the DS's answer is too large",
                    ));
                }
                Err(e) if e.is_timeout() => {
                    return Err(Problem::ours(
                        ErrorCode::TransactionTimedOut,
                        "the DS did not answer in time",
                    ));
                }
                Err(_) => {
                    return Err(Problem::ours(
                        ErrorCode::SystemConnectionFailure,
                        "the DS's answer was cut off",
                    ));
                }
            };
            return shonin_3ds::check(&bytes, Versions::ALL).map_err(|r| {
                Problem::ours(
                    r.rejection.code,
                    format!(
                        "the DS's answer is not a valid message: {}",
                        r.rejection.error_detail()
                    ),
                )
            });
        }
        Err(Problem::ours(ErrorCode::SystemConnectionFailure, last))
    }

    /// Sends the AReq to the DS.
    pub async fn send_areq(&self, areq: &AReq) -> DsAnswer {
        let body = serde_json::to_vec(areq).unwrap_or_default();
        self.exchange(&self.areq_url, body).await
    }

    /// Asks the DS for its card ranges (PReq, in the highest version spoken, with the serial
    /// number of the last PRes) and applies the PRes.
    pub async fn refresh_ranges(&self) -> Result<Applied, String> {
        let version = shonin_3ds::MessageVersion::ALL
            .into_iter()
            .rfind(|v| self.versions.accepts(*v))
            .unwrap_or(shonin_3ds::MessageVersion::V2_2_0);
        let mut other = serde_json::Map::new();
        other.insert(
            "threeDSServerRefNumber".into(),
            self.profile.reference_number.clone().into(),
        );
        if let Some(op) = &self.profile.operator_id {
            other.insert("threeDSServerOperatorID".into(), op.clone().into());
        }
        let preq = PReq {
            message_type: PReqType,
            message_version: version,
            three_ds_server_trans_id: uuid::Uuid::new_v4().to_string(),
            serial_num: self.with_ranges(|r| r.serial_num.clone()),
            other: shonin_3ds::Elements(other),
        };
        let body = serde_json::to_vec(&preq).unwrap_or_default();
        let answer = self
            .exchange(&self.preq_url, body)
            .await
            .map_err(|p| format!("Erro {}: {}", p.error_code, p.error_detail))?;
        let pres = match answer {
            Message::PRes(p) if p.three_ds_server_trans_id == preq.three_ds_server_trans_id => p,
            Message::PRes(_) => return Err("the PRes names another threeDSServerTransID".into()),
            Message::Erro(e) => {
                return Err(format!(
                    "the DS answered Erro {}: {}",
                    e.error_code, e.error_detail
                ));
            }
            other => {
                return Err(format!(
                    "the DS answered {}, not a PRes",
                    other.message_type().as_str()
                ));
            }
        };
        let applied = self
            .ranges
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .apply(&pres);
        metrics::gauge!("shonin_3ds_server_card_ranges").set(applied.ranges as f64);
        Ok(applied)
    }
}

/// Keeps the card ranges fresh: a PReq at start, then every `refresh`. A failed PReq is tried
/// again after 1 s, then after twice as long each time up to a minute (EMV 3DS: retry a failed
/// PReq; the quick first retries cover a DS link that comes up just after this node). Runs on
/// every node (each holds its own cache).
pub async fn keep_ranges(server: std::sync::Arc<ServerService>) {
    let mut retry = Duration::from_secs(1);
    loop {
        let wait = match server.refresh_ranges().await {
            Ok(applied) => {
                tracing::info!(
                    ranges = applied.ranges,
                    skipped = applied.skipped,
                    "3DS Server: card ranges loaded from the DS"
                );
                retry = Duration::from_secs(1);
                server.refresh
            }
            Err(e) => {
                metrics::counter!("shonin_3ds_server_preq_failures_total").increment(1);
                tracing::warn!(error = %e, retry_secs = retry.as_secs(), "3DS Server: the PReq failed");
                let wait = retry;
                retry = (retry * 2).min(RANGE_RETRY);
                wait
            }
        };
        tokio::time::sleep(wait).await;
    }
}
