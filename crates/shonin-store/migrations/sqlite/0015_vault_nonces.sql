-- Client-side tokenization and held security codes (shonin_vault). A payment nonce is kept only
-- as its SHA-256 (`digest`, 64 hex characters); its card, and CVV if one came, are sealed as in
-- vault_cards (bound to kind "nonce", tenant and digest). A row is deleted when it is exchanged
-- (DELETE … RETURNING: single use) and swept when it expires.
CREATE TABLE vault_nonces (
    digest       TEXT    NOT NULL PRIMARY KEY CHECK (length(digest) = 64),
    tenant       TEXT    NOT NULL CHECK (length(tenant) BETWEEN 1 AND 255),
    kek_version  TEXT    NOT NULL,
    wrapped_key  TEXT    NOT NULL,
    sealed       TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX vault_nonces_expires_at ON vault_nonces (expires_at);

-- A card's security code held until the card's next detokenize (which deletes it) or its expiry
-- (PCI DSS 3.3.1.2, 3.3.2). Sealed, bound to kind "cvv", tenant and token; at most one per card.
CREATE TABLE vault_cvvs (
    tenant       TEXT    NOT NULL,
    token        TEXT    NOT NULL,
    kek_version  TEXT    NOT NULL,
    wrapped_key  TEXT    NOT NULL,
    sealed       TEXT    NOT NULL,
    expires_at   INTEGER NOT NULL,
    PRIMARY KEY (tenant, token)
) STRICT, WITHOUT ROWID;

CREATE INDEX vault_cvvs_expires_at ON vault_cvvs (expires_at);
