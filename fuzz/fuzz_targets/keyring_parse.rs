//! Fuzzes the keyring file parser (shonin-keyring-v1): any bytes give a file or a Keyring error,
//! never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(file) = shonin_keys::parse_keyring_file(data) {
        // Accepted files satisfy the one-current, one-next rule.
        let current = file
            .keys()
            .filter(|(_, _, s)| *s == shonin_keys::KeyState::Current)
            .count();
        assert_eq!(current, 1);
    }
});
