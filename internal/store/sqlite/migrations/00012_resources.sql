-- Protected resources (RFC 8707 resource indicators): the APIs a client may
-- ask a token for. uri is the resource indicator itself (an absolute URI
-- without fragment); name is what the consent page shows; scopes are the
-- scopes the resource defines, space-separated.
--
-- resources on grants, auth_codes, device_codes and consents: the resource
-- indicators granted (space-separated; '' for none: tokens for the server's
-- own API, aud = the issuer). A token request may narrow them, never widen.

--
-- clients.origin: how the client came to be (cli, admin, developer, dynamic
-- for RFC 7591 registration, metadata for a client ID metadata document
-- fetched from its URL); '' for clients made before this column.
-- clients.registration_hash: SHA-256 of the RFC 7592 registration access
-- token of a dynamically registered client (NULL for the others).
--
-- registration_tokens: RFC 7591 initial access tokens (serve --registration
-- token), by SHA-256 hash; single use (used_at set when spent).

-- +goose Up
CREATE TABLE resources (
    uri        TEXT PRIMARY KEY,
    name       TEXT NOT NULL DEFAULT '',
    scopes     TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL DEFAULT 0
);
ALTER TABLE grants ADD COLUMN resources TEXT NOT NULL DEFAULT '';
ALTER TABLE auth_codes ADD COLUMN resources TEXT NOT NULL DEFAULT '';
ALTER TABLE device_codes ADD COLUMN resources TEXT NOT NULL DEFAULT '';
ALTER TABLE consents ADD COLUMN resources TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN origin TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN registration_hash BLOB;
CREATE TABLE registration_tokens (
    hash       BLOB PRIMARY KEY,
    created_at BIGINT NOT NULL DEFAULT 0,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT NOT NULL DEFAULT 0
);

-- +goose Down
DROP TABLE registration_tokens;
ALTER TABLE clients DROP COLUMN registration_hash;
ALTER TABLE clients DROP COLUMN origin;
ALTER TABLE consents DROP COLUMN resources;
ALTER TABLE device_codes DROP COLUMN resources;
ALTER TABLE auth_codes DROP COLUMN resources;
ALTER TABLE grants DROP COLUMN resources;
DROP TABLE resources;
