-- Retention (shonin_audit::archive): entries through `seq` were written to a segment file and
-- may be deleted; `hash` is entry `seq`'s hash, from which the stored chain continues. One row,
-- moved forward only. The append-only triggers now allow deleting what lies at or before the
-- base (entries) and before it (checkpoints: the one at the base attests it), nothing else.
CREATE TABLE audit_base (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL CHECK (seq >= 0),
    hash BLOB    NOT NULL CHECK (length(hash) = 32)
) STRICT;

INSERT INTO audit_base (id, seq, hash) VALUES (1, 0, zeroblob(32));

CREATE TRIGGER audit_base_forward_only BEFORE UPDATE ON audit_base
WHEN NEW.seq <= OLD.seq
BEGIN
    SELECT RAISE(ABORT, 'audit_base only moves forward');
END;

CREATE TRIGGER audit_base_no_delete BEFORE DELETE ON audit_base
BEGIN
    SELECT RAISE(ABORT, 'audit_base cannot be deleted');
END;

DROP TRIGGER audit_entries_no_delete;
CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries
WHEN OLD.seq > (SELECT seq FROM audit_base WHERE id = 1)
BEGIN
    SELECT RAISE(ABORT, 'audit_entries is append-only');
END;

DROP TRIGGER audit_checkpoints_no_delete;
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
WHEN OLD.seq >= (SELECT seq FROM audit_base WHERE id = 1)
BEGIN
    SELECT RAISE(ABORT, 'audit_checkpoints is append-only');
END;
