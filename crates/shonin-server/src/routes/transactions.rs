//! The first-party transaction approval API (`/transactions`): a client with an access token
//! for scope `transactions` (client_credentials, sender-constrained by DPoP or mTLS) creates a
//! transaction for one of its users, asks for the challenge, passes the user's passkey
//! assertion, and finally executes it through a gate that checks the approved data again.
//! Every step is one commit: the proof's `jti`, the compare-and-set that moves the
//! transaction, any record it writes and its audit entry.

use crate::oauth::access::{Access, replay_challenge};
use crate::oauth::commit::{Committed, Success, commit, commit_record};
use crate::oauth::reject::RequestMeta;
use crate::state::AppState;
use crate::txn::{Refused, client_actor, failure_record, problem, refused, view};
use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, OriginalUri, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use shonin_audit::{Actor, ActorKind};
use shonin_identity::UserStore;
use shonin_keys::{KeyPurpose, KeySource};
use shonin_passkeys::{AssertionResponse, PasskeyStore};
use shonin_txn::approve::{self, RelyingParty};
use shonin_txn::receipt::{self, RECEIPT_TYP, StoredReceipt};
use shonin_txn::{Approval, Loaded, NewTransaction, Terms, Transaction, TxnError, TxnState};
use shonin_types::flow;
use shonin_types::unit::UnitOfWork;
use time::OffsetDateTime;

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

/// The parts of a request the access-token check reads.
#[derive(Debug)]
pub struct Req {
    method: Method,
    headers: HeaderMap,
    path: String,
    query: Option<String>,
}

impl FromRequestParts<AppState> for Req {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        // The path as the client addressed it (the DPoP proof's `htu`), before any nesting.
        let uri = parts
            .extensions
            .get::<OriginalUri>()
            .map_or_else(|| parts.uri.clone(), |u| u.0.clone());
        Ok(Req {
            method: parts.method.clone(),
            headers: parts.headers.clone(),
            path: uri.path().to_owned(),
            query: uri.query().map(str::to_owned),
        })
    }
}

/// What every handler receives.
struct Call {
    state: AppState,
    meta: RequestMeta,
    action: &'static str,
}

impl Call {
    /// Verifies the access token and its scope; a refusal is audited and answered.
    async fn access(&self, req: &Req, target: &str) -> Result<Access, Response> {
        let verified = async {
            let a = Access::verify(
                &self.state,
                &self.meta,
                &req.method,
                &req.headers,
                req.query.as_deref(),
                &req.path,
            )
            .await?;
            a.require_scope(SCOPE)?;
            Ok::<_, Refused>(a)
        }
        .await;
        match verified {
            Ok(a) => Ok(a),
            Err(e) => Err(refused(&self.state, &self.meta, self.action, "-", target, e).await),
        }
    }

    /// The answer, or the refusal with its audit entry.
    async fn finish(&self, client: &str, target: &str, r: Result<Response, Refused>) -> Response {
        match r {
            Ok(resp) => resp,
            Err(e) => refused(&self.state, &self.meta, self.action, client, target, e).await,
        }
    }

    fn now(&self) -> OffsetDateTime {
        self.state.clock.now()
    }

    /// The client's transaction `id`; another client's is as absent as an unknown one.
    async fn load(&self, client: &str, id: &str) -> Result<Loaded, Refused> {
        if !shonin_txn::is_valid_id(id) {
            return Err(TxnError::NotFound.into());
        }
        let flow = flow::get::<TxnState>(&self.state.store, id, self.now())
            .await
            .map_err(|e| TxnError::Storage(e.into()))?
            .ok_or(TxnError::NotFound)?;
        let loaded = Loaded::decode(flow)?;
        if loaded.txn.client_id != client {
            return Err(TxnError::NotFound.into());
        }
        Ok(loaded)
    }

    /// Commits `unit` with the success entry `action` on transaction `id`, then reads the
    /// transaction as it now is. A lost compare-and-set is a 409: another request moved it
    /// first.
    async fn commit_and_load(
        &self,
        client: &str,
        id: &str,
        unit: UnitOfWork,
        actor: Actor,
        action: &str,
    ) -> Result<Loaded, Refused> {
        let success = Success {
            action,
            actor,
            target: id,
        };
        match commit(&self.state, &self.meta, unit, Some(success))
            .await
            .map_err(replay_challenge)?
        {
            Committed::Done => self.load(client, id).await,
            Committed::Conflict { .. } => Err(TxnError::Conflict.into()),
        }
    }

    /// The transaction as the client sees it, with `status`.
    fn show(&self, loaded: &Loaded, status: StatusCode) -> Response {
        answer(status, view(loaded, &self.policy(), self.now()))
    }

    fn policy(&self) -> shonin_txn::TxnPolicy {
        self.state.config.transactions.policy()
    }
}

fn answer(status: StatusCode, body: Value) -> Response {
    (status, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

/// The JSON body, bounded in size and depth and with unique member names; `method` is refused
/// outright: the approval method comes from the user's settings (OWASP 2.2).
fn body(bytes: &[u8]) -> Result<Value, TxnError> {
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

const TERMS_RULE: &str = "payee {name, account {iban | other {scheme_name, identification}}}, amount {value, currency}, reference?";

/// A handler for a transaction's route: the access token first, then `$work`, then the answer
/// or the audited refusal.
macro_rules! handler {
    ($name:ident, $action:literal, $work:ident) => {
        pub async fn $name(
            State(state): State<AppState>,
            meta: RequestMeta,
            req: Req,
            Path(id): Path<String>,
            bytes: Bytes,
        ) -> Response {
            let call = Call {
                state,
                meta,
                action: $action,
            };
            let access = match call.access(&req, &id).await {
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
    req: Req,
    bytes: Bytes,
) -> Response {
    let call = Call {
        state,
        meta,
        action: "txn.create",
    };
    let access = match call.access(&req, "-").await {
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
    let flow = Transaction::create(new, client, &call.policy(), call.now())?;
    let mut unit = access.unit;
    unit.rows.push(flow.row());
    let loaded = call
        .commit_and_load(client, &flow.id, unit, client_actor(client), call.action)
        .await?;
    let mut resp = call.show(&loaded, StatusCode::CREATED);
    if let Ok(location) = HeaderValue::from_str(&format!("/transactions/{}", flow.id)) {
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
    Ok(answer(
        StatusCode::OK,
        view(&loaded, &call.policy(), call.now()),
    ))
}

async fn modify_txn(
    call: &Call,
    access: Access,
    client: &str,
    id: &str,
    bytes: &[u8],
) -> Result<Response, Refused> {
    let terms: Terms = typed(body(bytes)?, TERMS_RULE)?;
    let terms = terms.validate()?;
    let loaded = call.load(client, id).await?;
    let (update, voided) = loaded.modify(terms, call.now())?;
    let mut unit = access.unit;
    unit.update(update);
    // PSD2 RTS Art. 5(1)(d), OWASP 2.6: a change after the challenge voids it, and the audit
    // entry says so.
    let action = if voided {
        "txn.modify.challenge_voided"
    } else {
        call.action
    };
    let loaded = call
        .commit_and_load(client, id, unit, client_actor(client), action)
        .await?;
    Ok(call.show(&loaded, StatusCode::OK))
}

async fn challenge_txn(
    call: &Call,
    access: Access,
    client: &str,
    id: &str,
    _: &[u8],
) -> Result<Response, Refused> {
    let loaded = call.load(client, id).await?;
    let passkeys = call.state.store.list_passkeys(&loaded.txn.user_id).await?;
    if passkeys.is_empty() {
        return Err(TxnError::NoPasskey.into());
    }
    let nonce = shonin_jose::b64url_encode(&random_bytes()?);
    let now = call.now();
    let (update, _) = loaded.challenge(nonce, now)?;
    let mut unit = access.unit;
    unit.update(update);
    let challenged = call
        .commit_and_load(client, id, unit, client_actor(client), call.action)
        .await?;
    // The options for `navigator.credentials.get()`, with the challenge just stored.
    let data = challenged
        .signed_data()
        .ok_or_else(|| TxnError::Internal("challenged without a nonce".into()))?;
    let rp = &call.state.passkeys.ceremonies.config().rp_id;
    let remaining = (challenged.txn.expires_at - now.unix_timestamp()).max(1);
    let options = shonin_passkeys::request_options(
        &data.challenge(),
        rp,
        &passkeys,
        std::time::Duration::from_secs(u64::try_from(remaining).unwrap_or(1)),
    );
    Ok(answer(
        StatusCode::OK,
        json!({
            "transaction": view(&challenged, &call.policy(), now),
            "options": options,
        }),
    ))
}

fn random_bytes() -> Result<[u8; 32], TxnError> {
    let mut nonce = [0u8; 32];
    aws_lc_rs::rand::fill(&mut nonce).map_err(|_| TxnError::Internal("no randomness".into()))?;
    Ok(nonce)
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
    let now = call.now();
    // A request out of order is refused without counting as an attempt.
    loaded.may_approve(now)?;
    let config = call.state.passkeys.ceremonies.config();
    let origin = config.origin.origin().ascii_serialization();
    let rp = RelyingParty {
        rp_id: &config.rp_id,
        origin: &origin,
    };
    let parsed = v
        .get("assertion")
        .ok_or(approve::Refusal {
            reason: "no assertion".into(),
        })
        .and_then(|a| {
            AssertionResponse::from_json(a).map_err(|e| approve::Refusal { reason: e.reason() })
        });
    let verified = match parsed {
        Ok(response) => {
            let passkey = call
                .state
                .store
                .get_passkey(&response.credential_id_b64())
                .await?;
            approve::verify(&loaded, response, passkey.as_ref(), rp)
        }
        Err(refusal) => Err(refusal),
    };
    let mut unit = access.unit;
    let verified = match verified {
        Ok(v) => v,
        Err(refusal) => {
            // OWASP 2.4, PSD2 RTS Art. 4(3)(b): each failure counts; the last locks.
            let (update, attempts_left) = loaded.failed_attempt(&call.policy(), now)?;
            unit.update(update);
            let reason = if attempts_left == 0 {
                format!("refused: {}; locked", refusal.reason)
            } else {
                format!("refused: {}", refusal.reason)
            };
            let record = failure_record(&call.state, &call.meta, call.action, client, id, reason);
            return match commit_record(&call.state, unit, Some(record))
                .await
                .map_err(replay_challenge)?
            {
                Committed::Done => Ok(problem(&TxnError::Refused {
                    reason: refusal.reason,
                    attempts_left,
                })),
                Committed::Conflict { .. } => Err(TxnError::Conflict.into()),
            };
        }
    };
    let claims = receipt::claims(&loaded.txn, &verified, &call.state.config.issuer, rp, now);
    let claims = serde_json::to_value(&claims).map_err(|e| TxnError::Internal(e.to_string()))?;
    let signer = call
        .state
        .keys
        .signer_for(KeyPurpose::AuditCheckpoints)
        .map_err(|e| TxnError::Internal(e.to_string()))?;
    let jws = shonin_keys::sign_jwt(&*signer, RECEIPT_TYP, &claims)
        .await
        .map_err(|e| TxnError::Internal(e.to_string()))?;
    unit.update(loaded.approve(
        Approval {
            challenge: shonin_jose::b64url_encode(&verified.challenge),
            credential_id: verified.credential_id.clone(),
            approved_at: now.unix_timestamp(),
            receipt: jws.clone(),
        },
        now,
    )?);
    // The passkey's counter moves by compare-and-set too: the same assertion cannot be
    // counted twice.
    unit.update(shonin_passkeys::record_use(
        &verified.credential_id,
        verified.sign_count,
        verified.backup_state,
        now,
    ));
    unit.insert(&StoredReceipt {
        txn_id: id.to_owned(),
        client_id: client.to_owned(),
        user_id: loaded.txn.user_id.clone(),
        receipt: jws,
        approved_at: now,
    });
    let user = Actor {
        kind: ActorKind::User,
        id: loaded.txn.user_id.clone(),
    };
    let loaded = call
        .commit_and_load(client, id, unit, user, call.action)
        .await?;
    Ok(call.show(&loaded, StatusCode::OK))
}

async fn reject_txn(
    call: &Call,
    access: Access,
    client: &str,
    id: &str,
    _: &[u8],
) -> Result<Response, Refused> {
    let loaded = call.load(client, id).await?;
    let mut unit = access.unit;
    unit.update(loaded.reject(call.now())?);
    let loaded = call
        .commit_and_load(client, id, unit, client_actor(client), call.action)
        .await?;
    Ok(call.show(&loaded, StatusCode::OK))
}

async fn execute_txn(
    call: &Call,
    access: Access,
    client: &str,
    id: &str,
    bytes: &[u8],
) -> Result<Response, Refused> {
    // The backend presents what it is about to execute, as it understands it.
    let terms: Terms = typed(body(bytes)?, TERMS_RULE)?;
    let terms = terms.validate()?;
    let loaded = call.load(client, id).await?;
    let mut unit = access.unit;
    unit.update(loaded.execute(&terms, &call.policy(), call.now())?);
    let loaded = call
        .commit_and_load(client, id, unit, client_actor(client), call.action)
        .await?;
    Ok(call.show(&loaded, StatusCode::OK))
}
