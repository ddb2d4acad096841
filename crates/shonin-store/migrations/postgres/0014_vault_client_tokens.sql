-- Client tokens' nonce budgets (shonin_vault): a client token (`id` is its `jti`) may issue at
-- most `[vault] nonces_per_client_token` payment nonces; each nonce's unit of work counts one by
-- a guarded UPDATE (… WHERE nonces_issued < limit AND expires_at > now), so concurrent pages on
-- any node cannot exceed it. Swept when the token expires. Exchanges now delete the nonce row in
-- the same unit as the card they store.
CREATE TABLE vault_client_tokens (
    id             TEXT    NOT NULL PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
    tenant         TEXT    NOT NULL CHECK (length(tenant) BETWEEN 1 AND 255),
    nonces_issued  BIGINT  NOT NULL CHECK (nonces_issued >= 0),
    expires_at     BIGINT  NOT NULL
);

CREATE INDEX vault_client_tokens_expires_at ON vault_client_tokens (expires_at);
