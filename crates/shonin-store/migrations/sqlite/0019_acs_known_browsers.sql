-- The ACS's memory of browsers (shonin_3ds::acs::browser): one row per challenge that ended Y,
-- holding the browser's keyed hash with the card's fingerprint (never the browser's fields).
-- The "new browser" risk rule asks whether an unexpired row names the card and the browser.
-- Times are integer unix microseconds (UTC); expired rows are swept.
CREATE TABLE acs_known_browsers (
    acs_trans_id     TEXT    NOT NULL PRIMARY KEY CHECK (length(acs_trans_id) = 36),
    card_fingerprint TEXT    NOT NULL CHECK (length(card_fingerprint) = 64),
    browser          TEXT    NOT NULL CHECK (length(browser) = 64),
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX acs_known_browsers_card ON acs_known_browsers (card_fingerprint, browser, expires_at);
CREATE INDEX acs_known_browsers_expires_at ON acs_known_browsers (expires_at);
