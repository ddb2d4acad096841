-- One-time values (jti, request_uri). `expires_at` is integer unix microseconds (UTC), so expiry
-- comparisons are exact; a row with `expires_at <= now` is expired.
CREATE TABLE replay_cache (
    namespace  TEXT   NOT NULL,
    key        TEXT   NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (namespace, key)
);

CREATE INDEX replay_cache_expires_at ON replay_cache (expires_at);
