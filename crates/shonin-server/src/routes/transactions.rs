//! The first-party transaction approval API (`/transactions`): a client with an access token
//! for scope `transactions` (client_credentials, sender-constrained by DPoP or mTLS) creates a
//! transaction for one of its users, asks for the challenge, passes the user's passkey
//! assertion, and finally executes it through a gate that checks the approved data again.
//! Every step is one commit: the proof's `jti`, the compare-and-set that moves the
//! transaction, any record it writes and its audit entry.

use crate::error::OAuthError;
use crate::oauth::access::{Access, replay_challenge};
use crate::oauth::commit::commit;
use crate::request_meta::RequestMeta;
use crate::state::AppState;
use crate::txn::steps::Step;
use crate::txn::{Refused, client_actor, refused, view};
use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;
use shonin_identity::UserStore;
use shonin_txn::{Loaded, Move, NewTransaction, Terms, Transaction, TxnError};
use shonin_types::unit::UnitOfWork;

/// The scope a client's token needs for this API.
pub const SCOPE: &str = "transactions";
/// Longest request body, in bytes (an assertion is well under 8 KiB).
const MAX_BODY: usize = 16 * 1024;
/// Deepest JSON nesting accepted.
const MAX_DEPTH: usize = 8;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/transactions", post(create))
        .route("/transactions/{id}", get(show).patch(modify))
        .route("/transactions/{id}/challenge", post(challenge))
        .route("/transactions/{id}/approve", post(approve))
        .route("/transactions/{id}/reject", post(reject))
        .route("/transactions/{id}/execute", post(execute))
}

/// What every handler receives.
struct Call {
    state: AppState,
    meta: RequestMeta,
    action: &'static str,
}

impl Call {
    fn step(&self) -> Step<'_> {
        Step {
            state: &self.state,
            meta: &self.meta,
            action: self.action,
        }
    }

    /// Verifies the access token and its scope; a refusal is audited and answered.
    async fn access(
        &self,
        access: Result<Access, OAuthError>,
        target: &str,
    ) -> Result<Access, Response> {
        let verified = access.and_then(|a| {
            a.require_scope(SCOPE)?;
            Ok(a)
        });
        match verified {
            Ok(a) => Ok(a),
            Err(e) => Err(refused(
                &self.state,
                &self.meta,
                self.action,
                client_actor(""),
                target,
                e.into(),
            )
            .await),
        }
    }

    /// The answer, or the refusal with its audit entry.
    async fn finish(&self, client: &str, target: &str, r: Result<Response, Refused>) -> Response {
        match r {
            Ok(resp) => resp,
            Err(e) => {
                refused(
                    &self.state,
                    &self.meta,
                    self.action,
                    client_actor(client),
                    target,
                    e,
                )
                .await
            }
        }
    }

    /// The client's transaction `id`; another client's is as absent as an unknown one.
    async fn load(&self, client: &str, id: &str) -> Result<Loaded, Refused> {
        let loaded = self.step().load(id).await?;
        if loaded.txn.client_id != client {
            return Err(TxnError::NotFound.into());
        }
        Ok(loaded)
    }

    /// Commits the client's step and answers with the transaction after it.
    async fn answer_move(
        &self,
        client: &str,
        mv: Move,
        unit: UnitOfWork,
        action: &str,
    ) -> Result<Response, Refused> {
        let loaded = self
            .step()
            .commit_move(mv, unit, client_actor(client), action)
            .await?;
        Ok(self.show(&loaded, StatusCode::OK))
    }

    /// The transaction as the client sees it, with `status`.
    fn show(&self, loaded: &Loaded, status: StatusCode) -> Response {
        let step = self.step();
        answer(status, view(loaded, &step.policy(), step.now()))
    }
}

fn answer(status: StatusCode, body: Value) -> Response {
    (status, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

/// The JSON body, bounded in size and depth and with unique member names; `method` is refused
/// outright: the approval method comes from the user's settings (OWASP 2.2).
pub(crate) fn body(bytes: &[u8]) -> Result<Value, TxnError> {
    if bytes.len() > MAX_BODY {
        return Err(TxnError::Invalid("body", "at most 16 KiB"));
    }
    if shonin_jose::json_depth_exceeds(bytes, MAX_DEPTH) {
        return Err(TxnError::Invalid("body", "JSON nested at most 8 deep"));
    }
    let v = shonin_types::json::from_slice(bytes)
        .map_err(|_| TxnError::Invalid("body", "a JSON object with unique member names"))?;
    if !v.is_object() {
        return Err(TxnError::Invalid("body", "a JSON object"));
    }
    if v.get("method").is_some() || v.get("authentication_method").is_some() {
        return Err(TxnError::MethodParameter);
    }
    Ok(v)
}

fn typed<T: serde::de::DeserializeOwned>(v: Value, rule: &'static str) -> Result<T, TxnError> {
    serde_json::from_value(v).map_err(|_| TxnError::Invalid("body", rule))
}

/// The terms in a PATCH or execute body, checked.
fn terms(bytes: &[u8]) -> Result<Terms, TxnError> {
    typed::<Terms>(body(bytes)?, TERMS_RULE)?.validate()
}

const TERMS_RULE: &str = "payee {name, account {iban | other {scheme_name, identification}}}, amount {value, currency}, reference?";

/// A handler for a transaction's route: the access token first, then `$work`, then the answer
/// or the audited refusal.
macro_rules! handler {
    ($name:ident, $action:literal, $work:ident) => {
        pub async fn $name(
            State(state): State<AppState>,
            meta: RequestMeta,
            access: Result<Access, OAuthError>,
            Path(id): Path<String>,
            bytes: Bytes,
        ) -> Response {
            let call = Call {
                state,
                meta,
                action: $action,
            };
            let access = match call.access(access, &id).await {
                Ok(a) => a,
                Err(resp) => return resp,
            };
            let client = access.client_id().to_owned();
            let result = $work(&call, access, &client, &id, &bytes).await;
            call.finish(&client, &id, result).await
        }
    };
}

/// `POST /transactions`.
pub async fn create(
    State(state): State<AppState>,
    meta: RequestMeta,
    access: Result<Access, OAuthError>,
    bytes: Bytes,
) -> Response {
    let call = Call {
        state,
        meta,
        action: "txn.create",
    };
    let access = match call.access(access, "-").await {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    let client = access.client_id().to_owned();
    let result = create_txn(&call, access, &client, &bytes).await;
    call.finish(&client, "-", result).await
}

handler!(show, "txn.read", show_txn);
handler!(modify, "txn.modify", modify_txn);
handler!(challenge, "txn.challenge", challenge_txn);
handler!(approve, "txn.approve", approve_txn);
handler!(reject, "txn.reject", reject_txn);
handler!(execute, "txn.execute", execute_txn);

async fn create_txn(
    call: &Call,
    access: Access,
    client: &str,
    bytes: &[u8],
) -> Result<Response, Refused> {
    let new: NewTransaction = typed(
        body(bytes)?,
        "user_id and the terms: payee, amount, reference?",
    )?;
    let user = call.state.store.get_user(&new.user_id).await?;
    if user.is_none_or(|u| u.disabled) {
        return Err(TxnError::UnknownUser.into());
    }
    let step = call.step();
    let flow = Transaction::create(new, client, &step.policy(), step.now())?;
    let mut unit = access.unit;
    unit.rows.push(flow.row());
    step.commit_unit(&flow.id, unit, client_actor(client), call.action)
        .await?;
    let loaded = Loaded::decode(flow)?;
    let mut resp = call.show(&loaded, StatusCode::CREATED);
    if let Ok(location) = HeaderValue::from_str(&format!("/transactions/{}", loaded.flow.id)) {
        resp.headers_mut().insert(header::LOCATION, location);
    }
    Ok(resp)
}

async fn show_txn(
    call: &Call,
    access: Access,
    client: &str,
    id: &str,
    _: &[u8],
) -> Result<Response, Refused> {
    // The proof's jti is claimed before anything is revealed (RFC 9449 §11.1).
    let _ = commit(&call.state, &call.meta, access.unit, None)
        .await
        .map_err(replay_challenge)?;
    let loaded = call.load(client, id).await?;
    crate::txn::counted(call.action, "ok");
    Ok(call.show(&loaded, StatusCode::OK))
}

async fn modify_txn(
    call: &Call,
    access: Access,
    client: &str,
    id: &str,
    bytes: &[u8],
) -> Result<Response, Refused> {
    let terms = terms(bytes)?;
    let loaded = call.load(client, id).await?;
    let (mv, voided) = loaded.modify(terms, call.step().now())?;
    // PSD2 RTS Art. 5(1)(d), OWASP 2.6: a change after the challenge voids it, and the audit
    // entry says so.
    let action = if voided {
        "txn.modify.challenge_voided"
    } else {
        call.action
    };
    call.answer_move(client, mv, access.unit, action).await
}

/// The optional body of a challenge request: `{"spc": {"top_origin", "origin"?}}` asks for a
/// Secure Payment Confirmation challenge answered on that checkout (and from that frame; the
/// checkout itself by default).
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ChallengeBody {
    spc: Option<SpcAsked>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SpcAsked {
    top_origin: String,
    origin: Option<String>,
}

fn spc_context(
    settings: &shonin_txn::settings::TxnSettings,
    bytes: &[u8],
) -> Result<Option<shonin_txn::spc::SpcContext>, TxnError> {
    if bytes.is_empty() {
        return Ok(None);
    }
    let rule = "{} or {\"spc\": {\"top_origin\": …, \"origin\": …}}";
    let Some(asked) = typed::<ChallengeBody>(body(bytes)?, rule)?.spc else {
        return Ok(None);
    };
    let instrument = settings.spc_instrument().ok_or(TxnError::Invalid(
        "spc",
        "Secure Payment Confirmation is not configured (transactions.spc_instrument_name)",
    ))?;
    let top_origin = shonin_txn::spc::https_origin("spc.top_origin", &asked.top_origin)?;
    let origin = match asked.origin {
        Some(o) => shonin_txn::spc::https_origin("spc.origin", &o)?,
        None => top_origin.clone(),
    };
    Ok(Some(shonin_txn::spc::SpcContext {
        top_origin,
        origin,
        instrument,
    }))
}

async fn challenge_txn(
    call: &Call,
    access: Access,
    client: &str,
    id: &str,
    bytes: &[u8],
) -> Result<Response, Refused> {
    let spc = spc_context(&call.state.config.transactions, bytes)?;
    let loaded = call.load(client, id).await?;
    let (challenged, options, spc_request) = call
        .step()
        .challenge_for(loaded, access.unit, client_actor(client), false, spc)
        .await?;
    let step = call.step();
    let mut answer_body = serde_json::Map::new();
    answer_body.insert(
        "transaction".into(),
        view(&challenged, &step.policy(), step.now()),
    );
    answer_body.insert("options".into(), options);
    if let Some(request) = spc_request {
        answer_body.insert("spc".into(), request);
    }
    Ok(answer(StatusCode::OK, Value::Object(answer_body)))
}

async fn approve_txn(
    call: &Call,
    access: Access,
    client: &str,
    id: &str,
    bytes: &[u8],
) -> Result<Response, Refused> {
    let v = body(bytes)?;
    let loaded = call.load(client, id).await?;
    let (approved, ()) = call
        .step()
        .approve(
            loaded,
            v.get("assertion"),
            access.unit,
            client_actor(client),
            |_, _| Ok(()),
        )
        .await?;
    Ok(call.show(&approved, StatusCode::OK))
}

async fn reject_txn(
    call: &Call,
    access: Access,
    client: &str,
    id: &str,
    _: &[u8],
) -> Result<Response, Refused> {
    let loaded = call.load(client, id).await?;
    let mv = loaded.reject(call.step().now())?;
    call.answer_move(client, mv, access.unit, call.action).await
}

async fn execute_txn(
    call: &Call,
    access: Access,
    client: &str,
    id: &str,
    bytes: &[u8],
) -> Result<Response, Refused> {
    // The backend presents what it is about to execute, as it understands it.
    let terms = terms(bytes)?;
    let loaded = call.load(client, id).await?;
    let step = call.step();
    let mv = loaded.execute(&terms, &step.policy(), step.now())?;
    call.answer_move(client, mv, access.unit, call.action).await
}
