-- Retention (shonin_audit::archive): entries through `seq` were written to a segment file and
-- may be deleted; `hash` is entry `seq`'s hash, from which the stored chain continues. One row,
-- moved forward only. The append-only triggers now allow deleting what lies at or before the
-- base (entries) and before it (checkpoints: the one at the base attests it), nothing else.
CREATE TABLE audit_base (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  BIGINT  NOT NULL CHECK (seq >= 0),
    hash BYTEA   NOT NULL CHECK (octet_length(hash) = 32)
);

INSERT INTO audit_base (id, seq, hash) VALUES (1, 0, decode(repeat('00', 32), 'hex'));

CREATE FUNCTION audit_base_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.seq > OLD.seq THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_base only moves forward';
END;
$$;

CREATE TRIGGER audit_base_forward_only BEFORE UPDATE OR DELETE ON audit_base
    FOR EACH ROW EXECUTE FUNCTION audit_base_guard();

CREATE TRIGGER audit_base_no_truncate BEFORE TRUNCATE ON audit_base
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();

-- Deletes at or before the base (entries) or before it (checkpoints) are pruning; every other
-- UPDATE or DELETE is refused as before.
CREATE FUNCTION audit_prune_only() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    base BIGINT := (SELECT seq FROM audit_base WHERE id = 1);
BEGIN
    IF TG_OP = 'DELETE' AND (
        (TG_TABLE_NAME = 'audit_entries' AND OLD.seq <= base) OR
        (TG_TABLE_NAME = 'audit_checkpoints' AND OLD.seq < base)
    ) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END;
$$;

DROP TRIGGER audit_entries_no_update_or_delete ON audit_entries;
CREATE TRIGGER audit_entries_no_update_or_delete BEFORE UPDATE OR DELETE ON audit_entries
    FOR EACH ROW EXECUTE FUNCTION audit_prune_only();

DROP TRIGGER audit_checkpoints_no_update_or_delete ON audit_checkpoints;
CREATE TRIGGER audit_checkpoints_no_update_or_delete BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION audit_prune_only();
