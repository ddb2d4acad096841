-- Transaction approval receipts (shonin_txn::receipt::StoredReceipt): signed evidence that a
-- user's passkey approved exactly this payee and amount. Kept after the transaction's own flow
-- record is swept; the server never updates or deletes them. `approved_at` is integer unix
-- microseconds (UTC).
CREATE TABLE txn_receipts (
    txn_id      TEXT   NOT NULL PRIMARY KEY CHECK (length(txn_id) = 32),
    client_id   TEXT   NOT NULL,
    user_id     TEXT   NOT NULL,
    receipt     TEXT   NOT NULL,
    approved_at BIGINT NOT NULL
);

CREATE INDEX txn_receipts_user_id ON txn_receipts (user_id, approved_at);
