-- EMV 3-D Secure, issuer side (shonin_3ds::acs::store). No card number is stored: a card is found
-- by its keyed fingerprint (HMAC-SHA256 under the card-fingerprint key, 64 hex characters) and
-- shown masked (first six, last four). Times are integer unix microseconds (UTC).
CREATE TABLE acs_cards (
    fingerprint TEXT    NOT NULL PRIMARY KEY CHECK (length(fingerprint) = 64),
    user_id     TEXT    NOT NULL,
    masked      TEXT    NOT NULL,
    scheme      TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL
);

CREATE INDEX acs_cards_user_id ON acs_cards (user_id);

-- One row per authentication the ACS answered. `data` is JSON (shonin_3ds::acs::TransactionData):
-- the IDs, the purchase shown, the challenge. `due_at` is the running challenge timer (NULL when
-- none runs); a row with `expires_at <= now` is never returned and is swept.
CREATE TABLE acs_transactions (
    acs_trans_id     TEXT    NOT NULL PRIMARY KEY CHECK (length(acs_trans_id) = 36),
    card_fingerprint TEXT    NOT NULL,
    trans_status     TEXT    NOT NULL CHECK (length(trans_status) = 1),
    data             TEXT    NOT NULL,
    due_at           BIGINT,
    created_at       BIGINT  NOT NULL,
    expires_at       BIGINT  NOT NULL,
    version          BIGINT  NOT NULL CHECK (version >= 1)
);

CREATE INDEX acs_transactions_card ON acs_transactions (card_fingerprint, created_at);
CREATE INDEX acs_transactions_due ON acs_transactions (due_at) WHERE due_at IS NOT NULL;
CREATE INDEX acs_transactions_expires_at ON acs_transactions (expires_at);
