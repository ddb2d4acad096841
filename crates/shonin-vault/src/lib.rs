//! The card vault: a card number goes in, a token comes out, and the number is kept only
//! encrypted.
//!
//! Every record has its own data key (AES-256-GCM, one encryption per key, so the 2^32 limit on
//! random nonces of NIST SP 800-38D §8.3 never comes near); the data key is kept wrapped by a
//! key-encryption key that never leaves its keystore (an HSM through PKCS#11, or one derived from
//! the master key). The ciphertext's associated data binds it to its tenant, its token and the
//! KEK version, so a ciphertext copied into another record does not open (PCI DSS 3.5.1,
//! 3.6.1). Cards are found again by a keyed fingerprint of the whole number (3.5.1.1), shown with
//! the first six and last four digits at most (3.4.1), and kept only until their retention ends
//! (3.2.1): expired records are never returned and are swept.
//!
//! Client-side tokenization keeps even the merchant's server out of the card's path: a signed,
//! short-lived client token lets a page post the card here for a one-time payment nonce
//! ([`client_token`], [`PaymentNonce`]), which the merchant's server exchanges for a token. A
//! card security code is held sealed apart from the card, for minutes, and handed out once
//! (PCI DSS 3.3.1.2, 3.3.2).
//!
//! This crate does no I/O of its own: records go through [`VaultStore`], keys through
//! `shonin_keys`.

mod card;
pub mod client_token;
mod cvv;
mod error;
mod nonce;
mod random_id;
mod records;
pub mod requests;
mod seal;
mod service;
mod staged;
mod store;
mod token;

pub use card::{Brand, CardData, CardInput, CardView};
pub use client_token::{ClientGrant, WebOrigin};
pub use cvv::Cvv;
pub use error::VaultError;
pub use nonce::PaymentNonce;
pub use records::ClientTokenUses;
pub use seal::{Aad, Sealed, open, seal};
pub use service::{NonceIssued, Revealed, Tokenized, Vault, VaultSettings};
pub use staged::{Staged, Unsettled, settle};
pub use store::{HeldCvv, StoredCard, StoredNonce, VaultStore, VaultSwept};
pub use token::CardToken;
