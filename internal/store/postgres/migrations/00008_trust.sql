-- Trust (issue 10).
-- users.email_verified: the owner proved the address (followed a mailed link)
-- or the operator vouched for it (users create --email-verified). Existing
-- accounts start unverified: nobody proved their addresses, so the
-- email_verified claim may not say otherwise.
-- clients.first_party: marked by the operator (clients create --first-party,
-- the admin panel). Only first-party clients (and, by nature, clients given
-- the password grant) may be granted the scope "account". Existing clients are
-- third-party until marked.

-- +goose Up
ALTER TABLE users ADD COLUMN email_verified BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE clients ADD COLUMN first_party BOOLEAN NOT NULL DEFAULT FALSE;

-- +goose Down
ALTER TABLE clients DROP COLUMN first_party;
ALTER TABLE users DROP COLUMN email_verified;
