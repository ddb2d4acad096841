-- Compare-and-set flow records. `expires_at` is integer unix microseconds (UTC); a row with
-- `expires_at <= now` is expired and never returned.
CREATE TABLE flow_records (
    kind       TEXT    NOT NULL,
    id         TEXT    NOT NULL,
    state      TEXT    NOT NULL,
    data       BLOB    NOT NULL,
    expires_at INTEGER NOT NULL,
    version    INTEGER NOT NULL CHECK (version >= 1),
    PRIMARY KEY (kind, id)
) STRICT, WITHOUT ROWID;

CREATE INDEX flow_records_expires_at ON flow_records (expires_at);
