-- The revocation epoch: one counter that every change able to end a token
-- or a client authentication bumps, in the same transaction as the change
-- (triggers, so no code path can forget it). Instances cache grant liveness
-- and clients, tagged with the epoch read before loading them, and trust a
-- cached entry only while the epoch has not moved (sqlstore.RevocationEpoch).
-- It counts: a grant revoked (revoked_at set) or deleted, a user disabled or
-- re-enabled or deleted, and any change to or deletion of a client (secret
-- rotation, disabling, grants, scopes, redirect URIs, token lifetime).
--
-- The triggers are deferred constraint triggers: the counter row is updated
-- at commit, after every other lock the transaction takes, so the row lock
-- on the counter is always the last one taken and held only for the commit
-- (no lock-order inversion against row locks on grants and refresh tokens).

-- +goose Up
CREATE TABLE revocation_epoch (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    epoch BIGINT NOT NULL
);
INSERT INTO revocation_epoch (id, epoch) VALUES (1, 1);

-- +goose StatementBegin
CREATE FUNCTION bump_revocation_epoch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE revocation_epoch SET epoch = epoch + 1 WHERE id = 1;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

CREATE CONSTRAINT TRIGGER grants_revoked_epoch AFTER UPDATE OF revoked_at ON grants
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (OLD.revoked_at IS DISTINCT FROM NEW.revoked_at) EXECUTE FUNCTION bump_revocation_epoch();
CREATE CONSTRAINT TRIGGER grants_deleted_epoch AFTER DELETE ON grants
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_revocation_epoch();
CREATE CONSTRAINT TRIGGER users_disabled_epoch AFTER UPDATE OF disabled ON users
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (OLD.disabled IS DISTINCT FROM NEW.disabled) EXECUTE FUNCTION bump_revocation_epoch();
CREATE CONSTRAINT TRIGGER users_deleted_epoch AFTER DELETE ON users
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_revocation_epoch();
CREATE CONSTRAINT TRIGGER clients_updated_epoch AFTER UPDATE ON clients
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_revocation_epoch();
CREATE CONSTRAINT TRIGGER clients_deleted_epoch AFTER DELETE ON clients
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_revocation_epoch();

-- +goose Down
DROP TRIGGER clients_deleted_epoch ON clients;
DROP TRIGGER clients_updated_epoch ON clients;
DROP TRIGGER users_deleted_epoch ON users;
DROP TRIGGER users_disabled_epoch ON users;
DROP TRIGGER grants_deleted_epoch ON grants;
DROP TRIGGER grants_revoked_epoch ON grants;
DROP FUNCTION bump_revocation_epoch();
DROP TABLE revocation_epoch;
