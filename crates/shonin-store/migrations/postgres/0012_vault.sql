-- The card vault (shonin_vault). A card number is kept only inside `sealed` (AES-256-GCM under the
-- record's own data key, bound to tenant, token and KEK version); `wrapped_key` is that data key
-- wrapped by the KEK `kek_version` names (RFC 3394). Both are base64url. `fingerprint` is the
-- keyed hash of the whole number (HMAC-SHA256, 64 hex characters) for finding a tenant's card
-- again. Times are integer unix microseconds (UTC); a row with `expires_at <= now` is never
-- returned and is swept.
CREATE TABLE vault_cards (
    tenant       TEXT    NOT NULL CHECK (length(tenant) BETWEEN 1 AND 255),
    token        TEXT    NOT NULL CHECK (length(token) = 26),
    fingerprint  TEXT    NOT NULL CHECK (length(fingerprint) = 64),
    brand        TEXT    NOT NULL,
    first6       TEXT    NOT NULL CHECK (length(first6) = 6),
    last4        TEXT    NOT NULL CHECK (length(last4) = 4),
    exp_month    BIGINT  NOT NULL CHECK (exp_month BETWEEN 1 AND 12),
    exp_year     BIGINT  NOT NULL,
    kek_version  TEXT    NOT NULL,
    wrapped_key  TEXT    NOT NULL,
    sealed       TEXT    NOT NULL,
    created_at   BIGINT  NOT NULL,
    expires_at   BIGINT  NOT NULL,
    PRIMARY KEY (tenant, token)
);

CREATE UNIQUE INDEX vault_cards_fingerprint ON vault_cards (tenant, fingerprint);
CREATE INDEX vault_cards_kek_version ON vault_cards (kek_version);
CREATE INDEX vault_cards_expires_at ON vault_cards (expires_at);
