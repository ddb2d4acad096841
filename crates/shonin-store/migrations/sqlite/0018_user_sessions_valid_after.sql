-- Sessions begun before this instant (unix microseconds, UTC) are no longer valid: an
-- operator's `shonin users sessions revoke`, checked on every request that reads a session.
ALTER TABLE users ADD COLUMN sessions_valid_after INTEGER;
