//! The merchant side: what a 3DS Server decides, as pure functions. The server wires them: it
//! keeps the DS's card ranges ([`ranges`]), builds the AReq for a merchant's request
//! ([`areq::build`]), reads the ARes, the RReq and the final CRes ([`results`]) and keeps each
//! authentication as a typed flow ([`flow`]).

pub mod areq;
pub mod flow;
pub mod ranges;
pub mod results;

pub use areq::{Authenticate, CardSource, MethodCompletion, ServerProfile, StartMethod};
pub use flow::{
    AuthResult, ChallengeData, MethodData, Problem, PurchaseSummary, ServerData, ServerState,
    ServerStore, ServerTransaction,
};
pub use ranges::{CachedRange, RangeCache};
pub use results::{Answered, read_ares, read_cres, read_rreq, rres};
