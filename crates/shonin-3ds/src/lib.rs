//! EMV 3-D Secure messages for Shonin: typed AReq, ARes, CReq, CRes, RReq, RRes, PReq, PRes and
//! Erro for protocol versions 2.1.0, 2.2.0 and 2.3.1, and the checks that decide which `Erro`
//! answers a message Shonin cannot accept. Pure: no I/O, no clock, no keys.
//!
//! ```
//! use shonin_3ds::{check, ErrorCode, Message, Versions};
//!
//! let rres = br#"{"messageType":"RRes","messageVersion":"2.2.0","resultsStatus":"01",
//!   "threeDSServerTransID":"bc9f0b90-1041-47f0-94df-d692170ea0d7",
//!   "dsTransID":"6a00d179-bcdd-4eb4-a7e9-40eb30023b05",
//!   "acsTransID":"f888079d-dae8-4a18-81b0-be6e77355e71"}"#;
//! let Ok(Message::RRes(r)) = check(rres, Versions::ALL) else { panic!() };
//! assert_eq!(r.results_status, "01");
//!
//! let refused = check(br#"{"messageType":"RRes","messageVersion":"2.2.0"}"#, Versions::ALL).unwrap_err();
//! assert_eq!(refused.rejection.code, ErrorCode::RequiredElementMissing);
//! ```
//!
//! What is checked per element lives in `rules/elements.tsv`, a table an auditor can read.

pub mod acs;
mod check;
pub mod ds;
mod error;
mod json;
mod kind;
mod message;
mod rules;
pub mod server;
pub mod settings;
mod version;

pub use check::{Identified, Refused, check, check_object};
pub use error::{ErrorCode, ErrorComponent, Rejection};
pub use json::{MAX_DEPTH, MAX_MESSAGE_BYTES};
pub use kind::MessageType;
pub use message::{
    AReq, AReqType, ARes, AResType, CReq, CReqType, CRes, CResType, CardRange, Elements, Erro,
    ErroType, Message, PReq, PReqType, PRes, PResType, Pan, RReq, RReqType, RRes, RResType,
    TransStatus,
};
pub use version::{MessageVersion, Versions};
