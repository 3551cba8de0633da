-- The revocation epoch: one counter that every change able to end a token
-- or a client authentication bumps, in the same transaction as the change
-- (triggers, so no code path can forget it). Instances cache grant liveness
-- and clients, tagged with the epoch read before loading them, and trust a
-- cached entry only while the epoch has not moved (sqlstore.RevocationEpoch).
-- It counts: a grant revoked (revoked_at set) or deleted, a user disabled or
-- re-enabled or deleted, and any change to or deletion of a client (secret
-- rotation, disabling, grants, scopes, redirect URIs, token lifetime).

-- +goose Up
CREATE TABLE revocation_epoch (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    epoch BIGINT NOT NULL
);
INSERT INTO revocation_epoch (id, epoch) VALUES (1, 1);

-- +goose StatementBegin
CREATE TRIGGER grants_revoked_epoch AFTER UPDATE OF revoked_at ON grants
WHEN OLD.revoked_at <> NEW.revoked_at
BEGIN
    UPDATE revocation_epoch SET epoch = epoch + 1 WHERE id = 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER grants_deleted_epoch AFTER DELETE ON grants
BEGIN
    UPDATE revocation_epoch SET epoch = epoch + 1 WHERE id = 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER users_disabled_epoch AFTER UPDATE OF disabled ON users
WHEN OLD.disabled <> NEW.disabled
BEGIN
    UPDATE revocation_epoch SET epoch = epoch + 1 WHERE id = 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER users_deleted_epoch AFTER DELETE ON users
BEGIN
    UPDATE revocation_epoch SET epoch = epoch + 1 WHERE id = 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER clients_updated_epoch AFTER UPDATE ON clients
BEGIN
    UPDATE revocation_epoch SET epoch = epoch + 1 WHERE id = 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER clients_deleted_epoch AFTER DELETE ON clients
BEGIN
    UPDATE revocation_epoch SET epoch = epoch + 1 WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER clients_deleted_epoch;
DROP TRIGGER clients_updated_epoch;
DROP TRIGGER users_deleted_epoch;
DROP TRIGGER users_disabled_epoch;
DROP TRIGGER grants_deleted_epoch;
DROP TRIGGER grants_revoked_epoch;
DROP TABLE revocation_epoch;
