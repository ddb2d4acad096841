-- Token records by client in issue order. The old index on (client_id) alone ordered a client's
-- entries by the random token_hash that follows, so every issue dirtied a random page of it; with
-- issued_at second, new records go to the end of their client's range. Serves certificate
-- revocation by client (RFC 8705) as before. Grant ids made since this version begin with their
-- time (shonin_oauth::claims::new_grant_id), so the grant_id index fills at its end too.
CREATE INDEX oauth_tokens_client_issued ON oauth_tokens (client_id, issued_at);
DROP INDEX oauth_tokens_client_id;
