//! Password sign-in for the pages (`/authorize` and the account page): the lockout and
//! no-enumeration rules of `shonin_identity::PasswordSignIn`, then the passkey-only policy
//! (`shonin_identity::MethodPolicy::password_disabled`), with audit entries and alerts.

use crate::audit_events::record_success;
use crate::audit_events::{user_actor, user_failure};
use crate::request_meta::RequestMeta;
use crate::state::AppState;
use shonin_identity::{Session, SignInError, SignInFailure, SignInMethod};
use shonin_passkeys::PasskeyStore;
use shonin_types::SecretBytes;

/// The outcome of a password sign-in; refusals are already audit-logged.
#[derive(Debug)]
pub enum PasswordOutcome {
    SignedIn(Session),
    /// Wrong username or password, locked, disabled, or the password is switched off by a
    /// passkey-only policy: one answer for all.
    Refused,
    /// Storage or the audit log failed.
    Unavailable,
}

/// The form's `name` field as a secret (at most 1024 bytes; absent or too long: empty).
pub fn password_field(params: &shonin_oauth::form::FormParams, name: &str) -> SecretBytes {
    SecretBytes::new(
        params
            .get_bounded(name, 1024)
            .ok()
            .flatten()
            .unwrap_or_default()
            .as_bytes()
            .to_vec(),
    )
}

/// The typed username as the refused sign-in page may show it again: as typed when it obeys the
/// displayed-text rule (`shonin_types::text`), otherwise not at all.
pub fn echoable_username(typed: &str) -> &str {
    if shonin_types::text::is_displayable(typed) {
        typed
    } else {
        ""
    }
}

pub async fn password_sign_in(
    state: &AppState,
    meta: &RequestMeta,
    username: &str,
    password: &SecretBytes,
) -> PasswordOutcome {
    const ACTION: &str = "user.sign_in";
    let now = state.clock.now();
    let user = match state.oauth.sign_in.sign_in(username, password, now).await {
        Ok(user) => user,
        Err(SignInError::InvalidCredentials(failure)) => {
            user_failure(state, meta, ACTION, failure.user_id(), failure.as_str()).await;
            if let SignInFailure::WrongPassword {
                user_id, failures, ..
            } = &failure
            {
                crate::alerts::after_failure(state, meta, user_id, username, *failures);
            }
            return PasswordOutcome::Refused;
        }
        Err(e) => {
            tracing::error!(error = %e, "sign-in failed");
            return PasswordOutcome::Unavailable;
        }
    };
    let has_passkey = match state.store.list_passkeys(&user.id).await {
        Ok(list) => !list.is_empty(),
        Err(_) => return PasswordOutcome::Unavailable,
    };
    if state.passkeys.methods.password_disabled(&user, has_passkey) {
        user_failure(
            state,
            meta,
            ACTION,
            Some(&user.id),
            "password_disabled_passkey_only",
        )
        .await;
        return PasswordOutcome::Refused;
    }
    if record_success(
        state,
        meta,
        ACTION,
        user_actor(&user.id),
        user.username.as_str(),
    )
    .await
    .is_err()
    {
        return PasswordOutcome::Unavailable;
    }
    PasswordOutcome::SignedIn(Session::new(&user, SignInMethod::Password, now))
}
