-- Token record keys begin with the second the token was issued (shonin_oauth::token_record::
-- token_hash): an access token's `iat`, zero for opaque refresh tokens; then the first 24 bytes
-- of the SHA-256 that was the whole key until now. Records issued together then share the last
-- pages of the table instead of each landing on a random page. An access record's issued_at is
-- the instant its JWT's iat was taken from, so the new key of every stored record is the key
-- its token computes now.
-- Built as hex and decoded once: SQLite's || would turn the blobs into text, which the STRICT
-- BLOB column refuses.
UPDATE oauth_tokens
   SET token_hash = unhex(
           CASE kind
               WHEN 'access' THEN printf('%016x', issued_at / 1000000)
               ELSE '0000000000000000'
           END || substr(hex(token_hash), 1, 48));
