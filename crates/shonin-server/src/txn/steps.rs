//! The steps both doors to a transaction share — the client's API (`/transactions`) and the
//! user's approval page (`/approve/{id}`): load it, commit a move with its audit entry, issue
//! the challenge, check an approval. Each commits one unit of work.

use super::{Refused, failure_record};
use crate::audit_events::success_record;
use crate::oauth::access::replay_challenge;
use crate::oauth::commit::{Committed, commit_record};
use crate::request_meta::RequestMeta;
use crate::state::AppState;
use serde_json::Value;
use shonin_audit::{Actor, ActorKind, AuditRecord};
use shonin_keys::{KeyPurpose, KeySource};
use shonin_passkeys::{AssertionResponse, PasskeyStore};
use shonin_txn::approve::{self, RelyingParty};
use shonin_txn::receipt::{self, RECEIPT_TYP, StoredReceipt};
use shonin_txn::{Approval, Loaded, Move, TxnError, TxnPolicy, TxnState};
use shonin_types::flow;
use shonin_types::unit::UnitOfWork;

/// A request acting on a transaction: who asks, and the audit action of its step.
#[derive(Debug, Clone, Copy)]
pub struct Step<'a> {
    pub state: &'a AppState,
    pub meta: &'a RequestMeta,
    pub action: &'static str,
}

impl Step<'_> {
    pub fn now(&self) -> time::OffsetDateTime {
        self.state.clock.now()
    }

    pub fn policy(&self) -> TxnPolicy {
        self.state.config.transactions.policy()
    }

    /// Transaction `id`, whoever owns it: the caller checks that the asker may see it.
    pub async fn load(&self, id: &str) -> Result<Loaded, Refused> {
        if !shonin_txn::is_valid_id(id) {
            return Err(TxnError::NotFound.into());
        }
        let flow = flow::get::<TxnState>(&self.state.store, id, self.now())
            .await
            .map_err(|e| TxnError::Storage(e.into()))?
            .ok_or(TxnError::NotFound)?;
        Ok(Loaded::decode(flow)?)
    }

    /// Commits `unit` with the success entry `action` by `actor` on transaction `id`. A lost
    /// compare-and-set is a 409: another request moved it first.
    pub async fn commit_unit(
        &self,
        id: &str,
        unit: UnitOfWork,
        actor: Actor,
        action: &str,
    ) -> Result<(), Refused> {
        let record = success_record(self.state, self.meta, action, actor, id);
        self.commit_success(unit, record).await
    }

    /// Commits `unit` with the success entry `record` (see [`Self::commit_unit`]).
    pub async fn commit_success(
        &self,
        unit: UnitOfWork,
        record: AuditRecord,
    ) -> Result<(), Refused> {
        let action = record.action.clone();
        match commit_record(self.state, unit, Some(record))
            .await
            .map_err(replay_challenge)?
        {
            Committed::Done => {
                super::counted(&action, "ok");
                Ok(())
            }
            Committed::Conflict { .. } => Err(TxnError::Conflict.into()),
        }
    }

    /// Stages `mv` in `unit` and commits it (see [`Self::commit_unit`]); the transaction as
    /// it now is.
    pub async fn commit_move(
        &self,
        mv: Move,
        mut unit: UnitOfWork,
        actor: Actor,
        action: &str,
    ) -> Result<Loaded, Refused> {
        unit.update(mv.update);
        self.commit_unit(&mv.after.flow.id, unit, actor, action)
            .await?;
        Ok(mv.after)
    }

    fn relying_party(&self) -> (String, String) {
        let config = self.state.passkeys.ceremonies.config();
        (
            config.rp_id.clone(),
            config.origin.origin().ascii_serialization(),
        )
    }

    /// Issues the challenge (`created → challenged`, a fresh nonce) — or, with `reuse`, answers
    /// again with the one already issued, which the approval page does when it is reloaded.
    /// Returns the transaction and the options for `navigator.credentials.get()`.
    pub async fn challenge(
        &self,
        loaded: Loaded,
        unit: UnitOfWork,
        actor: Actor,
        reuse: bool,
    ) -> Result<(Loaded, Value), Refused> {
        self.challenge_for(loaded, unit, actor, reuse, None)
            .await
            .map(|(l, options, _)| (l, options))
    }

    /// [`Step::challenge`], also for Secure Payment Confirmation when `spc` names where it may
    /// be answered: then the third value is what the checkout passes to `PaymentRequest`
    /// (`shonin_txn::spc::request`).
    pub async fn challenge_for(
        &self,
        loaded: Loaded,
        unit: UnitOfWork,
        actor: Actor,
        reuse: bool,
        spc: Option<shonin_txn::spc::SpcContext>,
    ) -> Result<(Loaded, Value, Option<Value>), Refused> {
        let passkeys = self.state.store.list_passkeys(&loaded.txn.user_id).await?;
        if passkeys.is_empty() {
            return Err(TxnError::NoPasskey.into());
        }
        let now = self.now();
        let challenged = if reuse && loaded.state(now) == TxnState::Challenged {
            loaded
        } else {
            let nonce = shonin_jose::b64url_encode(&random_bytes()?);
            let mv = loaded.challenge(nonce, spc, now)?;
            self.commit_move(mv, unit, actor, self.action).await?
        };
        let data = challenged
            .signed_data()
            .ok_or_else(|| TxnError::Internal("challenged without a nonce".into()))?;
        let (rp_id, _) = self.relying_party();
        let remaining = (challenged.txn.expires_at - now.unix_timestamp()).max(1);
        let timeout = std::time::Duration::from_secs(u64::try_from(remaining).unwrap_or(1));
        let challenge = data.challenge();
        let options = shonin_passkeys::request_options(&challenge, &rp_id, &passkeys, timeout);
        let spc_request = challenged.txn.spc.as_ref().map(|ctx| {
            let ids: Vec<String> = passkeys.iter().map(|p| p.credential_id.clone()).collect();
            shonin_txn::spc::request(
                &challenged.txn,
                ctx,
                &rp_id,
                &shonin_jose::b64url_encode(&challenge),
                &ids,
                u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
            )
        });
        Ok((challenged, options, spc_request))
    }

    /// Checks `assertion` (an AuthenticationResponseJSON) against the stored transaction and,
    /// if it approves it, records the approval, the passkey's use and the signed receipt in one
    /// unit, with what `then` stages once the approval is known (a payment consent's code).
    /// A refused assertion is a failed attempt, committed with its failure entry and answered
    /// as [`Refused::Recorded`]; the last allowed one locks the transaction.
    pub async fn approve<T>(
        &self,
        loaded: Loaded,
        assertion: Option<&Value>,
        mut unit: UnitOfWork,
        asker: Actor,
        then: impl FnOnce(&Loaded, &mut UnitOfWork) -> Result<T, Refused>,
    ) -> Result<(Loaded, T), Refused> {
        let now = self.now();
        // A request out of order is refused without counting as an attempt.
        loaded.may_approve(now)?;
        let (rp_id, origin) = self.relying_party();
        let rp = RelyingParty {
            rp_id: &rp_id,
            origin: &origin,
        };
        let refusal = |reason: String| approve::Refusal { reason };
        let parsed = assertion
            .ok_or_else(|| refusal("no assertion".into()))
            .and_then(|a| AssertionResponse::from_json(a).map_err(|e| refusal(e.reason())));
        let verified = match parsed {
            Ok(response) => {
                let passkey = self
                    .state
                    .store
                    .get_passkey(&response.credential_id_b64())
                    .await?;
                approve::verify(&loaded, response, passkey.as_ref(), rp)
            }
            Err(r) => Err(r),
        };
        let id = loaded.flow.id.clone();
        let verified = match verified {
            Ok(v) => v,
            Err(refused) => {
                // OWASP 2.4, PSD2 RTS Art. 4(3)(b): each failure counts; the last locks.
                let (mv, attempts_left) = loaded.failed_attempt(&self.policy(), now)?;
                unit.update(mv.update);
                let locked = if attempts_left == 0 { "; locked" } else { "" };
                let reason = format!("refused: {}{locked}", refused.reason);
                let record = failure_record(self.state, self.meta, self.action, asker, &id, reason);
                return match commit_record(self.state, unit, Some(record))
                    .await
                    .map_err(replay_challenge)?
                {
                    Committed::Done => {
                        if attempts_left == 0 {
                            // PSD2 RTS Art. 4(4): this move made the block; the operator hears
                            // of it once, in the background.
                            crate::alerts::transaction_locked(self.state, self.meta, &mv.after.txn);
                        }
                        Err(Refused::Recorded(TxnError::Refused {
                            reason: refused.reason,
                            attempts_left,
                        }))
                    }
                    Committed::Conflict { .. } => Err(TxnError::Conflict.into()),
                };
            }
        };
        let claims = receipt::claims(&loaded.txn, &verified, &self.state.config.issuer, rp, now);
        let claims =
            serde_json::to_value(&claims).map_err(|e| TxnError::Internal(e.to_string()))?;
        let signer = self
            .state
            .keys
            .signer_for(KeyPurpose::AuditCheckpoints)
            .map_err(|e| TxnError::Internal(e.to_string()))?;
        let jws = shonin_keys::sign_jwt(&*signer, RECEIPT_TYP, &claims)
            .await
            .map_err(|e| TxnError::Internal(e.to_string()))?;
        let noted = receipt::audit_reason(&jws);
        let Move { update, after } = loaded.approve(
            Approval {
                challenge: shonin_jose::b64url_encode(&verified.challenge),
                credential_id: verified.credential_id.clone(),
                approved_at: now.unix_timestamp(),
                receipt: jws.clone(),
            },
            now,
        )?;
        unit.update(update);
        // The passkey's counter moves by compare-and-set too: one assertion counts once.
        unit.update(shonin_passkeys::record_use(
            &verified.credential_id,
            verified.sign_count,
            verified.backup_state,
            now,
        ));
        unit.insert(&StoredReceipt {
            txn_id: id.clone(),
            client_id: loaded.txn.client_id.clone(),
            user_id: loaded.txn.user_id.clone(),
            receipt: jws,
            approved_at: now,
        });
        let staged = then(&after, &mut unit)?;
        let user = Actor {
            kind: ActorKind::User,
            id: loaded.txn.user_id.clone(),
        };
        // The entry commits to the receipt by its digest: the audit export adds the receipt
        // beside it, and a reader checks one against the other (docs/operations.md).
        let entry = AuditRecord {
            reason: Some(noted),
            ..success_record(self.state, self.meta, self.action, user, &id)
        };
        self.commit_success(unit, entry).await?;
        Ok((after, staged))
    }
}

/// Whose payment a consent's transaction is: the user who signs and the client that asked.
#[derive(Debug, Clone, Copy)]
pub struct ConsentOwner<'a> {
    pub user_id: &'a str,
    pub client_id: &'a str,
}

impl ConsentOwner<'_> {
    /// A derived id is this user's and this client's; a record that says otherwise is refused
    /// as absent.
    fn owns(&self, found: Loaded) -> Result<Loaded, Refused> {
        if found.txn.user_id != self.user_id || found.txn.client_id != self.client_id {
            return Err(TxnError::NotFound.into());
        }
        Ok(found)
    }
}

impl Step<'_> {
    /// The consent's existing transaction `id` (see [`Step::consent_transaction`]), if it is
    /// `owner`'s: for the approval, which never creates one.
    pub async fn owned_consent_transaction(
        &self,
        id: &str,
        owner: ConsentOwner<'_>,
    ) -> Result<Loaded, Refused> {
        self.load(id).await.and_then(|found| owner.owns(found))
    }

    /// The transaction of a `payment_initiation` detail that the user approves in a consent
    /// (the code flow's consent page, a CIBA approval page): `id` is derived from the request
    /// and the user (`shonin_txn::consent::transaction_id`), so it is created on first use and
    /// found again without a write. A record under that id of another user or client is
    /// refused as absent. Nothing is written for a user without a passkey.
    pub async fn consent_transaction(
        &self,
        id: &str,
        owner: ConsentOwner<'_>,
        detail: &Value,
        actor: Actor,
    ) -> Result<Loaded, Refused> {
        match self.load(id).await {
            Ok(found) => return owner.owns(found),
            Err(Refused::Txn(TxnError::NotFound)) => {}
            Err(e) => return Err(e),
        }
        if self
            .state
            .store
            .list_passkeys(owner.user_id)
            .await?
            .is_empty()
        {
            return Err(TxnError::NoPasskey.into());
        }
        let terms = shonin_txn::consent::terms_of(detail)?;
        let new = shonin_txn::NewTransaction {
            user_id: owner.user_id.to_owned(),
            payee: terms.payee,
            amount: terms.amount,
            reference: terms.reference,
        };
        let flow = shonin_txn::Transaction::create_with_id(
            id.to_owned(),
            new,
            owner.client_id,
            &self.policy(),
            self.now(),
        )?;
        let mut unit = UnitOfWork::new();
        unit.rows.push(flow.row());
        match self.commit_unit(id, unit, actor, "txn.create").await {
            Ok(()) => Ok(Loaded::decode(flow)?),
            // Created by a concurrent call of the same page: use that one.
            Err(e) => match self.load(id).await {
                Ok(found) => owner.owns(found),
                Err(_) => Err(e),
            },
        }
    }
}

fn random_bytes() -> Result<[u8; 32], TxnError> {
    let mut nonce = [0u8; 32];
    aws_lc_rs::rand::fill(&mut nonce).map_err(|_| TxnError::Internal("no randomness".into()))?;
    Ok(nonce)
}
