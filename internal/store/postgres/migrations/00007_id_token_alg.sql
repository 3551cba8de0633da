-- The algorithm a client's ID tokens are signed with (OpenID Connect Dynamic
-- Client Registration §2, id_token_signed_response_alg). Empty: the server's
-- default (--id-alg, RS256 unless configured otherwise).

-- +goose Up
ALTER TABLE clients ADD COLUMN id_token_alg TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE clients DROP COLUMN id_token_alg;
