//! The issuer side: what an Access Control Server decides and answers, as pure functions. The
//! server gathers the facts (enrolment, velocity, the browser), calls [`risk::decide`], computes
//! the authentication value under the issuer's key ([`auth_value`]) and answers [`ares::build`].

pub mod ares;
pub mod auth_value;
pub mod browser;
pub mod card;
pub mod challenge;
pub mod code;
pub mod creq;
pub mod linking;
pub mod results;
pub mod risk;
pub mod spc;
pub mod store;

pub use ares::{AcsProfile, Outcome};
pub use card::{Bounds, CardRange, EciOutcome, Scheme, find_range};
pub use challenge::{
    CHALLENGE_TIMEOUT, Challenge, ChallengeResult, ChallengeState, FIRST_CREQ_TIMEOUT, Page,
};
pub use linking::{PurchaseChallenge, ShownPurchase};
pub use results::{TransactionIds, final_cres, rreq};
pub use risk::{
    ChallengeMethod, ChallengeReason, Decision, Enrolment, Facts, NotEnrolled, RiskRules, decide,
};
pub use store::{AcsStore, AcsTransaction, EnrolledCard, Purchase, TransactionData, fingerprint};
