-- The initial schema. Conventions (see internal/store/sqlstore): times are
-- unix microseconds, 0 for "none"; scopes and grant types are space-separated
-- TEXT; redirect URIs JSON TEXT; secrets are SHA-256 hashes.

-- +goose Up
CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL,
    email_key     TEXT NOT NULL,
    first_name    TEXT NOT NULL DEFAULT '',
    last_name     TEXT NOT NULL DEFAULT '',
    password_hash TEXT NOT NULL DEFAULT '',
    avatar_url    TEXT NOT NULL DEFAULT '',
    admin         BOOLEAN NOT NULL DEFAULT FALSE,
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    activated     BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    BIGINT NOT NULL DEFAULT 0,
    updated_at    BIGINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX users_email_key ON users (email_key);
CREATE INDEX users_created_at ON users (created_at);

CREATE TABLE clients (
    id                        TEXT PRIMARY KEY,
    name                      TEXT NOT NULL DEFAULT '',
    type                      TEXT NOT NULL,
    secret_hash               BYTEA,
    redirect_uris             TEXT NOT NULL DEFAULT '[]',
    post_logout_redirect_uris TEXT NOT NULL DEFAULT '[]',
    grant_types               TEXT NOT NULL DEFAULT '',
    scopes                    TEXT NOT NULL DEFAULT '',
    owner_id                  TEXT NOT NULL DEFAULT '',
    legacy                    BOOLEAN NOT NULL DEFAULT FALSE,
    disabled                  BOOLEAN NOT NULL DEFAULT FALSE,
    access_token_ttl          BIGINT NOT NULL DEFAULT 0, -- nanoseconds
    created_at                BIGINT NOT NULL DEFAULT 0,
    updated_at                BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX clients_owner_id ON clients (owner_id);
CREATE INDEX clients_created_at ON clients (created_at);

-- user_id is NULL for grants a client holds for itself (client credentials).
CREATE TABLE grants (
    id           TEXT PRIMARY KEY,
    user_id      TEXT REFERENCES users (id) ON DELETE CASCADE,
    client_id    TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    grant_type   TEXT NOT NULL,
    scopes       TEXT NOT NULL DEFAULT '',
    auth_time    BIGINT NOT NULL DEFAULT 0,
    created_at   BIGINT NOT NULL DEFAULT 0,
    last_used_at BIGINT NOT NULL DEFAULT 0,
    expires_at   BIGINT NOT NULL DEFAULT 0,
    revoked_at   BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX grants_user_id ON grants (user_id, created_at);
CREATE INDEX grants_client_id ON grants (client_id);
CREATE INDEX grants_revoked_at ON grants (revoked_at) WHERE revoked_at <> 0;

CREATE TABLE refresh_tokens (
    hash        BYTEA PRIMARY KEY,
    grant_id    TEXT NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
    parent_hash BYTEA,
    scopes      TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL DEFAULT 0,
    rotated_at  BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX refresh_tokens_grant_id ON refresh_tokens (grant_id);
CREATE INDEX refresh_tokens_parent_hash ON refresh_tokens (parent_hash);

-- grant_id has no foreign key: it is set on redemption and its grant can
-- only disappear together with the code (same user and client).
CREATE TABLE auth_codes (
    hash                  BYTEA PRIMARY KEY,
    client_id             TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    user_id               TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    redirect_uri          TEXT NOT NULL DEFAULT '',
    scopes                TEXT NOT NULL DEFAULT '',
    nonce                 TEXT NOT NULL DEFAULT '',
    code_challenge        TEXT NOT NULL DEFAULT '',
    code_challenge_method TEXT NOT NULL DEFAULT '',
    auth_time             BIGINT NOT NULL DEFAULT 0,
    session_id            TEXT NOT NULL DEFAULT '',
    created_at            BIGINT NOT NULL DEFAULT 0,
    expires_at            BIGINT NOT NULL,
    used_at               BIGINT NOT NULL DEFAULT 0,
    grant_id              TEXT NOT NULL DEFAULT ''
);
CREATE INDEX auth_codes_expires_at ON auth_codes (expires_at);
CREATE INDEX auth_codes_client_id ON auth_codes (client_id);
CREATE INDEX auth_codes_user_id ON auth_codes (user_id);

CREATE TABLE sessions (
    id           TEXT PRIMARY KEY,
    secret_hash  BYTEA,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    auth_time    BIGINT NOT NULL DEFAULT 0,
    created_at   BIGINT NOT NULL DEFAULT 0,
    last_seen_at BIGINT NOT NULL DEFAULT 0,
    expires_at   BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

CREATE TABLE consents (
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    scopes     TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL DEFAULT 0,
    updated_at BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, client_id)
);
CREATE INDEX consents_client_id ON consents (client_id);

CREATE TABLE signing_keys (
    id          TEXT PRIMARY KEY,
    algorithm   TEXT NOT NULL,
    key_use     TEXT NOT NULL,
    private_key BYTEA NOT NULL,
    public_key  BYTEA NOT NULL,
    created_at  BIGINT NOT NULL DEFAULT 0,
    retired_at  BIGINT NOT NULL DEFAULT 0,
    expires_at  BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE counters (
    counter_key  TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    hits         BIGINT NOT NULL DEFAULT 0,
    expires_at   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (counter_key, window_start)
);
CREATE INDEX counters_expires_at ON counters (expires_at);

CREATE TABLE events (
    id        BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    time      BIGINT NOT NULL,
    type      TEXT NOT NULL,
    user_id   TEXT NOT NULL DEFAULT '',
    client_id TEXT NOT NULL DEFAULT '',
    ip        TEXT NOT NULL DEFAULT '',
    detail    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX events_time ON events (time);
CREATE INDEX events_user_id ON events (user_id);

CREATE TABLE meta (
    meta_key TEXT PRIMARY KEY,
    value    TEXT NOT NULL
);

-- +goose Down
DROP TABLE meta;
DROP TABLE events;
DROP TABLE counters;
DROP TABLE signing_keys;
DROP TABLE consents;
DROP TABLE sessions;
DROP TABLE auth_codes;
DROP TABLE refresh_tokens;
DROP TABLE grants;
DROP TABLE clients;
DROP TABLE users;
