//! Response headers every response carries. The headers themselves and [`apply`] are
//! `shonin_tls::headers`, since the connection layer puts them on the responses it writes itself
//! (`message_rules.rs`, `error_heads.rs` in shonin-tls); this layer puts them on everything the
//! router answers.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use shonin_tls::headers::apply;

pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    apply(resp.headers_mut());
    resp
}
