-- EMV 3-D Secure, merchant side (shonin_3ds::server::flow). One row per authentication a
-- requestor (an OAuth client) asked for. No card number is stored: `data` (JSON,
-- shonin_3ds::server::ServerData) holds the masked number, the purchase, the IDs and the result.
-- The authentication value is 3DS sensitive data: a row with `expires_at <= now` is never
-- returned and is swept. Times are integer unix microseconds (UTC).
CREATE TABLE threeds_server_transactions (
    three_ds_server_trans_id TEXT    NOT NULL PRIMARY KEY CHECK (length(three_ds_server_trans_id) = 36),
    client_id                TEXT    NOT NULL,
    state                    TEXT    NOT NULL CHECK (state IN ('method', 'completed', 'challenge', 'cancelled', 'failed')),
    data                     TEXT    NOT NULL,
    created_at               BIGINT  NOT NULL,
    expires_at               BIGINT  NOT NULL,
    version                  BIGINT  NOT NULL CHECK (version >= 1)
);

CREATE INDEX threeds_server_transactions_expires_at ON threeds_server_transactions (expires_at);
