-- The hash-chained audit log (shonin-audit). Times are `chain::format_time` text, hashes are raw
-- 32-byte SHA-256 digests. The length limits bound what one entry may hold; an append that
-- exceeds one fails as a whole.
CREATE TABLE audit_entries (
    seq        INTEGER PRIMARY KEY CHECK (seq >= 1),
    time       TEXT    NOT NULL,
    actor_kind TEXT    NOT NULL,
    actor_id   TEXT    NOT NULL CHECK (length(actor_id) <= 256),
    action     TEXT    NOT NULL CHECK (length(action) <= 128),
    target     TEXT    NOT NULL CHECK (length(target) <= 1024),
    outcome    TEXT    NOT NULL,
    reason     TEXT             CHECK (length(reason) <= 2048),
    source_ip  TEXT             CHECK (length(source_ip) <= 64),
    request_id TEXT             CHECK (length(request_id) <= 256),
    prev_hash  BLOB    NOT NULL CHECK (length(prev_hash) = 32),
    hash       BLOB    NOT NULL CHECK (length(hash) = 32)
) STRICT;

-- Append-only: Shonin never rewrites or deletes an entry. This stops mistakes, not an attacker
-- with write access to the file; the hash chain and signed checkpoints are what detect that.
CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries
BEGIN
    SELECT RAISE(ABORT, 'audit_entries is append-only');
END;

CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries
BEGIN
    SELECT RAISE(ABORT, 'audit_entries is append-only');
END;

-- The last sequence number and hash. Exactly one row; `seq = 0` with the genesis hash means an
-- empty log. Appends lock this row (BEGIN IMMEDIATE) so the chain cannot fork.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL CHECK (seq >= 0),
    hash BLOB    NOT NULL CHECK (length(hash) = 32)
) STRICT;

INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, zeroblob(32));

-- Signed checkpoints; several nodes may store the same one.
CREATE TABLE audit_checkpoints (
    seq        INTEGER PRIMARY KEY CHECK (seq >= 1),
    hash       BLOB    NOT NULL CHECK (length(hash) = 32),
    created_at TEXT    NOT NULL,
    jws        TEXT    NOT NULL
) STRICT;
