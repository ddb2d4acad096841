//! Fuzzes `shonin_passkeys::aaguid_of_attestation`, the bounded CBOR reader that finds the
//! authenticator model in a browser's attestation object (untrusted input at enrolment).
//!
//! Input: the attestation object bytes as sent. Nothing may panic; an accepted input must hold a
//! CBOR map whose `authData` carries attested credential data, and the AAGUID returned must be
//! the 16 bytes after rpIdHash, flags and signCount in it.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match shonin_passkeys::aaguid_of_attestation(data) {
        Ok(aaguid) => {
            // The AAGUID bytes occur in the input (inside authData).
            let bytes = aaguid.as_bytes();
            assert!(data.windows(16).any(|w| w == bytes));
        }
        Err(e) => {
            let _ = (e.reason(), e.to_string());
        }
    }
});
