//! Per-IP rate limiting (GCRA via governor): over the limit → 429 with `Retry-After`.
//!
//! Limits are per node; the multi-node limiter over the shared store comes with the scale work.
//! Each 429 is counted in metrics; an audit entry is written at most once per IP per minute so a
//! flood cannot turn the audit log into its amplifier.

use crate::audit_events;
use crate::error::ApiError;
use crate::layers::request_id::RequestId;
use crate::net::ClientAddr;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::IpAddr;

pub async fn limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let addr = req.extensions().get::<ClientAddr>().copied();
    let ip = addr
        .map(|a| a.client_ip)
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
    let limiter = &state.rate_limiter;
    let Err(wait) = limiter.check(ip) else {
        return next.run(req).await;
    };
    metrics::counter!("shonin_rate_limited_total").increment(1);
    if let Some(admitted) = state
        .audit_sampler
        .admit("rate_limited", ip, std::time::Instant::now())
    {
        let rid = req.extensions().get::<RequestId>().cloned();
        let reason = admitted.reason("rate_limited");
        audit_events::rejection(&state, addr, rid.as_ref(), req.uri().path(), &reason).await;
    }
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let mut resp =
        ApiError::problem(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests").into_response();
    if let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string()) {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}
