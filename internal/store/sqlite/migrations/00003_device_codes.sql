-- RFC 8628 device authorizations. Both codes are stored only as SHA-256
-- hashes: device_hash of the device code the device polls with,
-- user_code_hash of the normalised user code the person types on /activate
-- (unique, so a typed code names one authorization; a collision at creation
-- is retried with a new code). status is pending, approved or denied;
-- user_id and auth_time are set on approval; used_at and grant_id when the
-- device redeemed the approval. poll_interval is in nanoseconds (as
-- clients.access_token_ttl); it grows by 5 s on every slow_down.

-- +goose Up
CREATE TABLE device_codes (
    device_hash    BLOB PRIMARY KEY,
    user_code_hash BLOB NOT NULL,
    client_id      TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    scopes         TEXT NOT NULL DEFAULT '',
    status         TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'denied')),
    user_id        TEXT REFERENCES users (id) ON DELETE CASCADE,
    auth_time      BIGINT NOT NULL DEFAULT 0,
    created_at     BIGINT NOT NULL DEFAULT 0,
    expires_at     BIGINT NOT NULL,
    poll_interval  BIGINT NOT NULL DEFAULT 0,
    last_polled_at BIGINT NOT NULL DEFAULT 0,
    used_at        BIGINT NOT NULL DEFAULT 0,
    grant_id       TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX device_codes_user_code_hash ON device_codes (user_code_hash);
CREATE INDEX device_codes_expires_at ON device_codes (expires_at);
CREATE INDEX device_codes_client_id ON device_codes (client_id);
CREATE INDEX device_codes_user_id ON device_codes (user_id);

-- +goose Down
DROP TABLE device_codes;
