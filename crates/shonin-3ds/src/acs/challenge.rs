//! The browser challenge as a state machine with its two timers, pure: every method takes `now`
//! and returns the next record (or the Erro to answer), so the store can move a record by
//! compare-and-set and any node can fire a timer that fell due.
//!
//! ```text
//! awaiting_creq ──CReq (≤ 30 s)──▶ challenging ──verified──▶ completed Y
//!       │                            │ │ ▲  └─wrong, attempts left─┘ (timer restarts)
//!       │                            │ └──wrong, none left──▶ completed N (19)
//!       │                            └──cancel──▶ completed N (challengeCancel 01)
//!       └──30 s──▶ completed N (14, challengeCancel 05)   challenging ──600 s──▶ completed N (14, 04)
//! ```
//! A CReq after the first one answers Erro 305 (already processed), or 402 when the
//! transaction timed out; the final CRes and the RReq carry only Y or N.

use time::{Duration, OffsetDateTime};

use super::risk::{ChallengeMethod, reason};
use crate::message::TransStatus;
use crate::{ErrorCode, Rejection};

/// How long the ACS waits for the first CReq after answering C.
pub const FIRST_CREQ_TIMEOUT: Duration = Duration::seconds(30);
/// How long the cardholder has for each challenge page (the timer restarts after each one).
pub const CHALLENGE_TIMEOUT: Duration = Duration::seconds(600);

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChallengeState {
    AwaitingCreq,
    Challenging,
    Completed,
}

impl ChallengeState {
    pub fn name(self) -> &'static str {
        match self {
            Self::AwaitingCreq => "awaiting_creq",
            Self::Challenging => "challenging",
            Self::Completed => "completed",
        }
    }

    /// The moves the flow allows; every method below makes only these.
    pub fn may_become(self, next: Self) -> bool {
        use ChallengeState::*;
        matches!(
            (self, next),
            (AwaitingCreq, Challenging)
                | (AwaitingCreq, Completed)
                | (Challenging, Challenging)
                | (Challenging, Completed)
        )
    }
}

/// How a challenge ended: what the RReq and the final CRes say.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChallengeResult {
    /// Y or N.
    pub status: TransStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenge_cancel: Option<String>,
}

impl ChallengeResult {
    fn timed_out(&self) -> bool {
        self.reason.as_deref() == Some(reason::TIMED_OUT)
    }
}

/// One challenge, as stored between requests.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Challenge {
    pub state: ChallengeState,
    pub method: ChallengeMethod,
    /// Answers the cardholder gave (`interactionCounter`).
    pub interaction_counter: u8,
    pub attempts_left: u8,
    /// When the running timer fires.
    #[serde(with = "time::serde::rfc3339")]
    pub due_at: OffsetDateTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<ChallengeResult>,
    /// Set by the CReq: what the challenge page holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<Page>,
}

/// What the first CReq started: the passkey challenge's nonce, the page's answer token (only its
/// SHA-256 is kept; the browser in the requestor's iframe has no cookie of ours) and the
/// requestor's `threeDSSessionData`, echoed with the final CRes.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Page {
    pub nonce: String,
    pub token_sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_data: Option<String>,
    /// The one-time code's keyed hash ([`super::code`]), for a code challenge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_mac: Option<String>,
    /// Codes sent so far (at most [`super::code::MAX_CODES`]).
    #[serde(default)]
    pub codes_sent: u8,
}

fn processed() -> Rejection {
    Rejection::new(
        ErrorCode::TransactionDataNotValid,
        "the challenge of this transaction was already processed",
    )
}

fn timed_out() -> Rejection {
    Rejection::new(
        ErrorCode::TransactionTimedOut,
        "Timeout expiry reached for the transaction as defined in Section 5.5",
    )
}

impl Challenge {
    /// The record made with an ARes of `C`: waiting for the first CReq.
    pub fn new(method: ChallengeMethod, max_attempts: u8, now: OffsetDateTime) -> Self {
        Challenge {
            state: ChallengeState::AwaitingCreq,
            method,
            interaction_counter: 0,
            attempts_left: max_attempts.max(1),
            due_at: now + FIRST_CREQ_TIMEOUT,
            result: None,
            page: None,
        }
    }

    fn due(&self, now: OffsetDateTime) -> bool {
        now >= self.due_at
    }

    fn complete(&self, status: TransStatus, reason: Option<&str>, cancel: Option<&str>) -> Self {
        Challenge {
            state: ChallengeState::Completed,
            result: Some(ChallengeResult {
                status,
                reason: reason.map(str::to_owned),
                challenge_cancel: cancel.map(str::to_owned),
            }),
            ..self.clone()
        }
    }

    /// The first CReq arrived: show the challenge `page`, and give the cardholder 600 s.
    pub fn creq(&self, page: Page, now: OffsetDateTime) -> Result<Self, Rejection> {
        match self.state {
            ChallengeState::AwaitingCreq if self.due(now) => Err(timed_out()),
            ChallengeState::AwaitingCreq => Ok(Challenge {
                state: ChallengeState::Challenging,
                due_at: now + CHALLENGE_TIMEOUT,
                page: Some(page),
                ..self.clone()
            }),
            ChallengeState::Completed
                if self.result.as_ref().is_some_and(ChallengeResult::timed_out) =>
            {
                Err(timed_out())
            }
            ChallengeState::Challenging | ChallengeState::Completed => Err(processed()),
        }
    }

    /// The cardholder answered: `verified` when the passkey's signature over this purchase (or
    /// the one-time code) checked out. A wrong answer with attempts left shows the challenge
    /// again with the timer restarted; the last wrong one ends it N, reason 19.
    pub fn answer(&self, verified: bool, now: OffsetDateTime) -> Result<Self, Rejection> {
        if self.state != ChallengeState::Challenging {
            return Err(processed());
        }
        if self.due(now) {
            return Err(timed_out());
        }
        let answered = Challenge {
            interaction_counter: self.interaction_counter.saturating_add(1),
            ..self.clone()
        };
        if verified {
            return Ok(answered.complete(TransStatus::Y, None, None));
        }
        let attempts_left = self.attempts_left.saturating_sub(1);
        if attempts_left == 0 {
            return Ok(answered.complete(TransStatus::N, Some(reason::MAX_CHALLENGES), None));
        }
        Ok(Challenge {
            attempts_left,
            due_at: now + CHALLENGE_TIMEOUT,
            ..answered
        })
    }

    /// The cardholder chose Cancel: N, `challengeCancel` 01.
    pub fn cancel(&self, now: OffsetDateTime) -> Result<Self, Rejection> {
        if self.state != ChallengeState::Challenging {
            return Err(processed());
        }
        if self.due(now) {
            return Err(timed_out());
        }
        Ok(self.complete(
            TransStatus::N,
            Some(reason::CARD_AUTHENTICATION_FAILED),
            Some("01"),
        ))
    }

    /// The timer, when it fell due: N, reason 14, `challengeCancel` 05 if the first CReq never
    /// came, 04 if the cardholder did not finish. `None` while it has not.
    pub fn expire(&self, now: OffsetDateTime) -> Option<Self> {
        if !self.due(now) {
            return None;
        }
        match self.state {
            ChallengeState::AwaitingCreq => {
                Some(self.complete(TransStatus::N, Some(reason::TIMED_OUT), Some("05")))
            }
            ChallengeState::Challenging => {
                Some(self.complete(TransStatus::N, Some(reason::TIMED_OUT), Some("04")))
            }
            ChallengeState::Completed => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2026-12-06 12:00 UTC);

    fn page() -> Page {
        Page {
            nonce: "n".into(),
            token_sha256: "t".into(),
            session_data: None,
            ..Page::default()
        }
    }

    fn started() -> Challenge {
        Challenge::new(ChallengeMethod::Passkey, 3, T0)
            .creq(page(), T0 + Duration::seconds(5))
            .unwrap()
    }

    fn check_moves(from: &Challenge, to: &Challenge) {
        assert!(
            from.state.may_become(to.state),
            "{:?} -> {:?}",
            from.state,
            to.state
        );
    }

    #[test]
    fn a_verified_answer_completes_y_after_one_interaction() {
        let c = started();
        assert_eq!(c.state, ChallengeState::Challenging);
        assert_eq!(c.due_at, T0 + Duration::seconds(5) + CHALLENGE_TIMEOUT);
        let done = c.answer(true, T0 + Duration::seconds(60)).unwrap();
        check_moves(&c, &done);
        assert_eq!(done.interaction_counter, 1);
        assert_eq!(
            done.result,
            Some(ChallengeResult {
                status: TransStatus::Y,
                reason: None,
                challenge_cancel: None
            })
        );
        assert_eq!(
            done.creq(page(), T0 + Duration::seconds(61))
                .unwrap_err()
                .code,
            ErrorCode::TransactionDataNotValid
        );
        assert!(
            done.answer(true, T0 + Duration::seconds(61)).is_err(),
            "nothing moves a completed challenge"
        );
        assert_eq!(done.expire(T0 + Duration::hours(1)), None);
    }

    #[test]
    fn wrong_answers_restart_the_timer_and_the_last_one_ends_n_19() {
        let mut c = started();
        for (i, at) in [100, 200].into_iter().enumerate() {
            let next = c.answer(false, T0 + Duration::seconds(at)).unwrap();
            check_moves(&c, &next);
            assert_eq!(next.state, ChallengeState::Challenging);
            assert_eq!(next.attempts_left, 2 - i as u8);
            assert_eq!(
                next.due_at,
                T0 + Duration::seconds(at) + CHALLENGE_TIMEOUT,
                "per interaction"
            );
            c = next;
        }
        let done = c.answer(false, T0 + Duration::seconds(300)).unwrap();
        assert_eq!(done.interaction_counter, 3);
        let result = done.result.unwrap();
        assert_eq!(
            (result.status, result.reason.as_deref()),
            (TransStatus::N, Some("19"))
        );
    }

    #[test]
    fn the_first_creq_timer_fires_at_30_s_and_a_late_creq_gets_402() {
        let c = Challenge::new(ChallengeMethod::OneTimeCode, 3, T0);
        assert_eq!(c.expire(T0 + Duration::seconds(29)), None);
        let expired = c.expire(T0 + FIRST_CREQ_TIMEOUT).unwrap();
        check_moves(&c, &expired);
        let result = expired.result.clone().unwrap();
        assert_eq!(
            (
                result.status,
                result.reason.as_deref(),
                result.challenge_cancel.as_deref()
            ),
            (TransStatus::N, Some("14"), Some("05"))
        );
        assert_eq!(
            c.creq(page(), T0 + FIRST_CREQ_TIMEOUT).unwrap_err().code,
            ErrorCode::TransactionTimedOut
        );
        assert_eq!(
            expired
                .creq(page(), T0 + Duration::seconds(40))
                .unwrap_err()
                .code,
            ErrorCode::TransactionTimedOut
        );
    }

    #[test]
    fn the_challenge_timer_fires_at_600_s_with_cancel_04() {
        let c = started();
        let at = c.due_at;
        assert_eq!(c.expire(at - Duration::seconds(1)), None);
        assert_eq!(
            c.answer(true, at).unwrap_err().code,
            ErrorCode::TransactionTimedOut,
            "too late to answer"
        );
        let result = c.expire(at).unwrap().result.unwrap();
        assert_eq!(
            (result.reason.as_deref(), result.challenge_cancel.as_deref()),
            (Some("14"), Some("04"))
        );
    }

    #[test]
    fn cancel_ends_n_with_cancel_01_and_a_second_creq_is_305() {
        let c = started();
        assert_eq!(
            c.creq(page(), T0 + Duration::seconds(6)).unwrap_err().code,
            ErrorCode::TransactionDataNotValid
        );
        let done = c.cancel(T0 + Duration::seconds(10)).unwrap();
        let result = done.result.unwrap();
        assert_eq!(
            (result.status, result.challenge_cancel.as_deref()),
            (TransStatus::N, Some("01"))
        );
        assert_eq!(done.interaction_counter, 0);
        assert!(
            Challenge::new(ChallengeMethod::Passkey, 3, T0)
                .cancel(T0)
                .is_err(),
            "no cancel before the CReq"
        );
    }

    #[test]
    fn the_record_round_trips_as_json() {
        let c = started().answer(false, T0 + Duration::seconds(9)).unwrap();
        let text = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<Challenge>(&text).unwrap(), c);
        assert!(text.contains("\"state\":\"challenging\""), "{text}");
    }
}
