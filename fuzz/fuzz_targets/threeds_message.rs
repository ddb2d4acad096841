//! Fuzzes the reading of an EMV 3-D Secure message (`shonin_3ds::check`): JSON with its size,
//! depth and duplicate-element bounds, the element rules of every message type and version, the
//! typed conversion, and the Erro built for a refusal.
//!
//! Nothing may panic. A message that passes serialises back to the JSON it was read from and
//! passes again; the Erro answering a refused message is itself a valid Erro.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shonin_3ds::{ErrorComponent, Message, Versions, check};

fuzz_target!(|data: &[u8]| {
    match check(data, Versions::ALL) {
        Ok(message) => {
            let json = message.to_json();
            let again = check(json.to_string().as_bytes(), Versions::ALL)
                .expect("a valid message, written back, is valid");
            assert_eq!(again.to_json(), json);
        }
        Err(refused) => {
            let erro = refused.erro(ErrorComponent::Acs, Versions::ALL);
            let bytes = serde_json::to_vec(&erro).expect("an Erro serialises");
            match check(&bytes, Versions::ALL) {
                Ok(Message::Erro(read)) => assert_eq!(read, erro),
                other => panic!("our Erro answer is not a valid Erro: {other:?}"),
            }
        }
    }
});
