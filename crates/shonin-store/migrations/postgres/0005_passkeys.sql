-- Enrolled passkeys (shonin_passkeys::StoredPasskey). `credential` is webauthn-rs's credential
-- JSON (public key, counter, flags); the columns beside it are what pages and policies read.
-- Removing a user removes their passkeys.
CREATE TABLE passkeys (
    credential_id   TEXT    NOT NULL PRIMARY KEY CHECK (length(credential_id) BETWEEN 1 AND 1400),
    user_id         TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name            TEXT    NOT NULL CHECK (char_length(name) BETWEEN 1 AND 64),
    credential      TEXT    NOT NULL,
    aaguid          TEXT    NOT NULL,
    backup_eligible BOOLEAN NOT NULL,
    backup_state    BOOLEAN NOT NULL,
    transports      TEXT    NOT NULL,
    sign_count      BIGINT  NOT NULL CHECK (sign_count >= 0),
    created_at      BIGINT  NOT NULL,
    last_used_at    BIGINT
);

CREATE INDEX passkeys_user_id ON passkeys (user_id);

-- The user's own policy: once they have a passkey, their password no longer signs in.
ALTER TABLE users ADD COLUMN passkey_only BOOLEAN NOT NULL DEFAULT FALSE;

-- Recovery codes (shonin_passkeys::RecoveryCodeStore): SHA-256 of the normalised code; a code
-- is used once (`used_at` set by one atomic UPDATE).
CREATE TABLE recovery_codes (
    user_id    TEXT   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash  BYTEA  NOT NULL CHECK (octet_length(code_hash) = 32),
    created_at BIGINT NOT NULL,
    used_at    BIGINT,
    PRIMARY KEY (user_id, code_hash)
);
