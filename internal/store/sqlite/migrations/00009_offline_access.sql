-- clients.offline_access_required: the authorization-code and device flows
-- issue a refresh token only when offline_access was granted (OpenID Connect
-- Core §11). Existing clients keep the Multinexo behaviour (a refresh token
-- with every grant, which the consent page now says).

-- +goose Up
ALTER TABLE clients ADD COLUMN offline_access_required BOOLEAN NOT NULL DEFAULT FALSE;

-- +goose Down
ALTER TABLE clients DROP COLUMN offline_access_required;
