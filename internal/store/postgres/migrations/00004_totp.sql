-- The second factor. users.totp_secret is the TOTP secret sealed with the
-- server secret (AES-256-GCM, key derived from MULTINEXO_SECRET), NULL for
-- none; totp_enabled_at is 0 while an enrolment awaits its first code;
-- totp_last_step is the last RFC 6238 time step accepted, advanced only by
-- a conditional UPDATE (totp_last_step < step), so a code is never
-- accepted twice, not even by two requests at once. Recovery codes are
-- stored only as SHA-256 hashes (80 random bits each) and deleted when
-- used.

-- +goose Up
ALTER TABLE users ADD COLUMN totp_secret BYTEA;
ALTER TABLE users ADD COLUMN totp_enabled_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN totp_last_step BIGINT NOT NULL DEFAULT 0;

CREATE TABLE recovery_codes (
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    hash       BYTEA NOT NULL,
    created_at BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, hash)
);

-- +goose Down
DROP TABLE recovery_codes;
ALTER TABLE users DROP COLUMN totp_last_step;
ALTER TABLE users DROP COLUMN totp_enabled_at;
ALTER TABLE users DROP COLUMN totp_secret;
