-- Checkpoints are chained: each names the checkpoint before it (`prev_seq`, 0 for the first), and
-- its signature covers that link, so deleting a checkpoint from the middle breaks the chain.
-- Checkpoints written before this migration have no link (NULL). The unique index lets only one
-- checkpoint follow each one, so two nodes cannot fork the checkpoint chain.
ALTER TABLE audit_checkpoints ADD COLUMN prev_seq INTEGER CHECK (prev_seq >= 0);
CREATE UNIQUE INDEX audit_checkpoints_prev_seq ON audit_checkpoints (prev_seq);

-- Append-only like the entries. This stops mistakes, not an attacker with write access to the
-- file; the chain, the signatures and an anchor kept elsewhere (`audit.anchor_file`) detect that.
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'audit_checkpoints is append-only');
END;

CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'audit_checkpoints is append-only');
END;
