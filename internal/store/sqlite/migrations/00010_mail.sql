-- Mail and account recovery.
--
-- outbox: every message the server sends, written in the same transaction
-- as the change that causes it, delivered by any instance. A deliverer
-- claims a row by setting state 'sending', a random claim and lease_until;
-- a row whose lease ran out (its deliverer died) is claimed again. body is
-- the message (text, HTML, link) sealed with the server secret, since its
-- links are bearer secrets, and is erased once the message is sent or
-- failed; listings never read it.
--
-- account_tokens: the single-use links of verification, password reset and
-- email change, stored only as SHA-256 hashes. email_key is the address
-- the link was sent to (verification, reset: the link is void once the
-- account's address changes); new_email/new_email_key the address an email
-- change confirms.
--
-- users.lang: the language the account was created in (es, en), for the
-- messages sent to it.

-- +goose Up
CREATE TABLE outbox (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL DEFAULT '',
    kind            TEXT NOT NULL DEFAULT '',
    recipient       TEXT NOT NULL,
    subject         TEXT NOT NULL DEFAULT '',
    lang            TEXT NOT NULL DEFAULT '',
    message_id      TEXT NOT NULL DEFAULT '',
    body            BLOB,
    state           TEXT NOT NULL DEFAULT 'queued',
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL DEFAULT 0,
    lease_until     BIGINT NOT NULL DEFAULT 0,
    claim           TEXT NOT NULL DEFAULT '',
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      BIGINT NOT NULL DEFAULT 0,
    sent_at         BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
CREATE INDEX outbox_created_at ON outbox (created_at);

CREATE TABLE account_tokens (
    hash          BLOB PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose       TEXT NOT NULL,
    email_key     TEXT NOT NULL DEFAULT '',
    new_email     TEXT NOT NULL DEFAULT '',
    new_email_key TEXT NOT NULL DEFAULT '',
    created_at    BIGINT NOT NULL DEFAULT 0,
    expires_at    BIGINT NOT NULL,
    used_at       BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX account_tokens_user ON account_tokens (user_id, purpose);
CREATE INDEX account_tokens_expires_at ON account_tokens (expires_at);

ALTER TABLE users ADD COLUMN lang TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE users DROP COLUMN lang;
DROP TABLE account_tokens;
DROP TABLE outbox;
