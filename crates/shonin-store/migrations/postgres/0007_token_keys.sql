-- Token record keys begin with the second the token was issued (shonin_oauth::token_record::
-- token_hash): an access token's `iat`, zero for opaque refresh tokens; then the first 24 bytes
-- of the SHA-256 that was the whole key until now. Records issued together then share the last
-- pages of the primary-key index instead of each landing on a random page. An access record's
-- issued_at is the instant its JWT's iat was taken from, so the new key of every stored record
-- is the key its token computes now.
UPDATE oauth_tokens
   SET token_hash = CASE kind
           WHEN 'access' THEN decode(lpad(to_hex(issued_at / 1000000), 16, '0'), 'hex')
           ELSE '\x0000000000000000'::bytea
       END || substring(token_hash FROM 1 FOR 24);
