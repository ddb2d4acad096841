-- The OAuth client registry, user accounts and issued-token records. Times are integer unix
-- microseconds (UTC), like the other tables.

-- `data` is the JSON of `shonin_oauth::Client`; the columns beside it are authoritative for the
-- id and the times.
CREATE TABLE oauth_clients (
    client_id  TEXT    NOT NULL PRIMARY KEY CHECK (length(client_id) BETWEEN 1 AND 128),
    data       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- Usernames are stored lower-case (`shonin_oauth::user::Username`). `failed_attempts` and
-- `locked_until` implement the sign-in lockout; `data` holds the rest as JSON (display_name).
CREATE TABLE users (
    id              TEXT    NOT NULL PRIMARY KEY,
    username        TEXT    NOT NULL UNIQUE CHECK (username = lower(username)),
    disabled        INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    password_hash   TEXT,
    failed_attempts INTEGER NOT NULL DEFAULT 0 CHECK (failed_attempts >= 0),
    locked_until    INTEGER,
    created_at      INTEGER NOT NULL,
    data            TEXT    NOT NULL
) STRICT, WITHOUT ROWID;

-- Issued tokens, keyed by SHA-256 of the token string (the token itself is never stored).
-- Deleting a client deletes its records, which makes its tokens inactive.
CREATE TABLE oauth_tokens (
    token_hash            BLOB    NOT NULL PRIMARY KEY CHECK (length(token_hash) = 32),
    kind                  TEXT    NOT NULL CHECK (kind IN ('access', 'refresh')),
    client_id             TEXT    NOT NULL
                                  REFERENCES oauth_clients (client_id) ON DELETE CASCADE,
    subject               TEXT,
    grant_id              TEXT    NOT NULL,
    scope                 TEXT    NOT NULL,
    authorization_details TEXT,
    cnf_jkt               TEXT,
    cnf_x5t_s256          TEXT,
    issued_at             INTEGER NOT NULL,
    expires_at            INTEGER NOT NULL,
    revoked_at            INTEGER
) STRICT, WITHOUT ROWID;

CREATE INDEX oauth_tokens_grant_id ON oauth_tokens (grant_id);
CREATE INDEX oauth_tokens_client_id ON oauth_tokens (client_id);
CREATE INDEX oauth_tokens_expires_at ON oauth_tokens (expires_at);
