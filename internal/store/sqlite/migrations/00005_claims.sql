-- The OpenID Connect claims request parameter (Core §5.5): the normalised
-- JSON of the individual claims a client asked for, kept with the
-- authorization code and copied to the grant it is redeemed for, so the ID
-- token and the UserInfo response can include them. NULL: none asked.

-- +goose Up
ALTER TABLE auth_codes ADD COLUMN claims TEXT;
ALTER TABLE grants ADD COLUMN claims TEXT;

-- +goose Down
ALTER TABLE grants DROP COLUMN claims;
ALTER TABLE auth_codes DROP COLUMN claims;
