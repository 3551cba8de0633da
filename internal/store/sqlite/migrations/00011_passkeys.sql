-- Passkeys (WebAuthn). passkeys holds each account's credentials: the
-- credential id (unique across accounts: an authenticator never reuses one),
-- the COSE public key, what the authenticator said at registration
-- (attestation type and format, AAGUID, transports) and what changes with
-- use (the signature counter, the backup-state flag, last use). The raw
-- authenticator flags byte is kept so the library's view of the credential
-- round-trips exactly.
--
-- webauthn_ceremonies holds the challenge of every registration or sign-in
-- begun and not yet finished, so any instance can finish what another
-- began. A ceremony is single use (used_at set by one conditional UPDATE),
-- short-lived (expires_at) and bound to the browser that began it (binding:
-- SHA-256 of a secret only that browser's cookie carries); only the hash of
-- its handle is stored.
--
-- sessions, auth_codes, grants and device_codes gain amr: how the person
-- signed in (RFC 8176 method names, space separated), carried from the
-- session to the code or device approval, to the grant, to every ID token
-- minted from it. Rows from before this migration have none ('').

-- +goose Up
CREATE TABLE passkeys (
    credential_id      BLOB PRIMARY KEY,
    user_id            TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    public_key         BLOB NOT NULL,
    attestation_type   TEXT NOT NULL DEFAULT '',
    attestation_format TEXT NOT NULL DEFAULT '',
    aaguid             BLOB,
    sign_count         BIGINT NOT NULL DEFAULT 0,
    flags              INTEGER NOT NULL DEFAULT 0,
    backup_eligible    BOOLEAN NOT NULL DEFAULT FALSE,
    backup_state       BOOLEAN NOT NULL DEFAULT FALSE,
    transports         TEXT NOT NULL DEFAULT '',
    name               TEXT NOT NULL DEFAULT '',
    created_at         BIGINT NOT NULL DEFAULT 0,
    last_used_at       BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX passkeys_user_id ON passkeys (user_id);

CREATE TABLE webauthn_ceremonies (
    id_hash    BLOB PRIMARY KEY,
    kind       TEXT NOT NULL,
    user_id    TEXT REFERENCES users (id) ON DELETE CASCADE,
    binding    BLOB NOT NULL,
    data       TEXT NOT NULL,
    created_at BIGINT NOT NULL DEFAULT 0,
    expires_at BIGINT NOT NULL DEFAULT 0,
    used_at    BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX webauthn_ceremonies_expires_at ON webauthn_ceremonies (expires_at);

ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT '';
ALTER TABLE auth_codes ADD COLUMN amr TEXT NOT NULL DEFAULT '';
ALTER TABLE grants ADD COLUMN amr TEXT NOT NULL DEFAULT '';
ALTER TABLE device_codes ADD COLUMN amr TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE device_codes DROP COLUMN amr;
ALTER TABLE grants DROP COLUMN amr;
ALTER TABLE auth_codes DROP COLUMN amr;
ALTER TABLE sessions DROP COLUMN amr;
DROP TABLE webauthn_ceremonies;
DROP TABLE passkeys;
