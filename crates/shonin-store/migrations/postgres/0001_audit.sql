-- The hash-chained audit log (shonin-audit). Times are `chain::format_time` text, hashes are raw
-- 32-byte SHA-256 digests. The length limits bound what one entry may hold; an append that
-- exceeds one fails as a whole.
CREATE TABLE audit_entries (
    seq        BIGINT PRIMARY KEY CHECK (seq >= 1),
    time       TEXT   NOT NULL,
    actor_kind TEXT   NOT NULL,
    actor_id   TEXT   NOT NULL CHECK (length(actor_id) <= 256),
    action     TEXT   NOT NULL CHECK (length(action) <= 128),
    target     TEXT   NOT NULL CHECK (length(target) <= 1024),
    outcome    TEXT   NOT NULL,
    reason     TEXT            CHECK (length(reason) <= 2048),
    source_ip  TEXT            CHECK (length(source_ip) <= 64),
    request_id TEXT            CHECK (length(request_id) <= 256),
    prev_hash  BYTEA  NOT NULL CHECK (octet_length(prev_hash) = 32),
    hash       BYTEA  NOT NULL CHECK (octet_length(hash) = 32)
);

-- Append-only: Shonin never rewrites or deletes an entry. This stops mistakes, not an attacker
-- with write access to the database; the hash chain and signed checkpoints are what detect that.
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END;
$$;

CREATE TRIGGER audit_entries_no_update_or_delete BEFORE UPDATE OR DELETE ON audit_entries
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();

CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_entries
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();

-- The last sequence number and hash. Exactly one row; `seq = 0` with the genesis hash means an
-- empty log. Appends lock this row (SELECT … FOR UPDATE) so the chain cannot fork.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  BIGINT  NOT NULL CHECK (seq >= 0),
    hash BYTEA   NOT NULL CHECK (octet_length(hash) = 32)
);

INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, decode(repeat('00', 32), 'hex'));

-- Signed checkpoints; several nodes may store the same one.
CREATE TABLE audit_checkpoints (
    seq        BIGINT PRIMARY KEY CHECK (seq >= 1),
    hash       BYTEA  NOT NULL CHECK (octet_length(hash) = 32),
    created_at TEXT   NOT NULL,
    jws        TEXT   NOT NULL
);
