//! `POST /3ds/acs/method`: the issuer's 3DS Method URL. The checkout posts `threeDSMethodData`
//! into a hidden iframe here before the AReq; the page answers by posting the same
//! `threeDSMethodData` to the 3DS Server's `threeDSMethodNotificationURL` (an https URL, else a
//! refusal), which tells the 3DS Server the method completed (`threeDSCompInd` Y).
//!
//! The ACS records no browser yet: the page collects nothing, so the risk rules' "known browser"
//! stays unknown (docs/3ds.md). What this gives the merchant side is the method's round trip,
//! with its timing and its notification, as a scheme's ACS would run it.

use super::areq::audit_refusal;
use super::challenge::origin;
use crate::pages::{self, AcsPostPage, Frame};
use crate::request_meta::RequestMeta;
use crate::state::AppState;
use axum::http::StatusCode;
use axum::response::Response;
use shonin_audit::{Actor, ActorKind};

/// Answers the method form `threeDSMethodData`.
pub async fn page(state: &AppState, meta: &RequestMeta, data: Option<&str>) -> Response {
    let read = data.and_then(shonin_3ds::server::areq::read_method_data);
    let target = read.as_ref().and_then(|(_, url)| {
        url::Url::parse(url)
            .ok()
            .filter(|u| u.scheme() == "https" && u.host().is_some())
            .map(|_| url.clone())
    });
    let (Some(data), Some(url)) = (data, target) else {
        let anyone = Actor {
            kind: ActorKind::Client,
            id: "-".into(),
        };
        let why = "threeDSMethodData is not base64url JSON naming a transaction and an https threeDSMethodNotificationURL";
        audit_refusal(state, meta, anyone, "/3ds/acs/method", why).await;
        let page = pages::ErrorPage {
            f: Frame::new(meta.lang, ""),
            message: meta.lang.texts().acs_invalid,
            request_id: "",
        };
        return pages::render_framed(StatusCode::BAD_REQUEST, &page, None);
    };
    let page = AcsPostPage {
        f: Frame::new(meta.lang, ""),
        action: &url,
        name: "threeDSMethodData",
        value: data.trim().to_owned(),
        session_data: None,
    };
    pages::render_framed(StatusCode::OK, &page, origin(&url).as_deref())
}
