-- Enrolled passkeys (shonin_passkeys::StoredPasskey). `credential` is webauthn-rs's credential
-- JSON (public key, counter, flags); the columns beside it are what pages and policies read.
-- Removing a user removes their passkeys.
CREATE TABLE passkeys (
    credential_id   TEXT    NOT NULL PRIMARY KEY CHECK (length(credential_id) BETWEEN 1 AND 1400),
    user_id         TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name            TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    credential      TEXT    NOT NULL,
    aaguid          TEXT    NOT NULL,
    backup_eligible INTEGER NOT NULL CHECK (backup_eligible IN (0, 1)),
    backup_state    INTEGER NOT NULL CHECK (backup_state IN (0, 1)),
    transports      TEXT    NOT NULL,
    sign_count      INTEGER NOT NULL CHECK (sign_count >= 0),
    created_at      INTEGER NOT NULL,
    last_used_at    INTEGER
) STRICT, WITHOUT ROWID;

CREATE INDEX passkeys_user_id ON passkeys (user_id);

-- The user's own policy: once they have a passkey, their password no longer signs in.
ALTER TABLE users ADD COLUMN passkey_only INTEGER NOT NULL DEFAULT 0 CHECK (passkey_only IN (0, 1));

-- Recovery codes (shonin_passkeys::RecoveryCodeStore): SHA-256 of the normalised code; a code
-- is used once (`used_at` set by one atomic UPDATE).
CREATE TABLE recovery_codes (
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash  BLOB    NOT NULL CHECK (length(code_hash) = 32),
    created_at INTEGER NOT NULL,
    used_at    INTEGER,
    PRIMARY KEY (user_id, code_hash)
) STRICT, WITHOUT ROWID;
