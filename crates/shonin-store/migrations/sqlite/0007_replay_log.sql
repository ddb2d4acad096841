-- Replay claims as an append-only log (src/claims_memo.rs): the serving process decides
-- freshness in memory and appends the granted claims here, in claim order, so a batch of
-- claims fills one or two pages instead of one random B-tree leaf per claim. The memo is read
-- back from this table at start. PostgreSQL keeps `replay_cache`, decided by the database
-- across nodes.
CREATE TABLE replay_log (
    seq        INTEGER PRIMARY KEY,
    namespace  TEXT    NOT NULL,
    key        TEXT    NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;

-- Sweeping (`DELETE … WHERE expires_at <= now`); claims of similar lifetime append at its end.
CREATE INDEX replay_log_expires_at ON replay_log (expires_at);

INSERT INTO replay_log (namespace, key, expires_at)
    SELECT namespace, key, expires_at FROM replay_cache ORDER BY expires_at;

DROP TABLE replay_cache;
