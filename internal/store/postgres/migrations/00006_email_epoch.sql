-- A changed email moves the revocation epoch too, so caches that keep a
-- user's email with the grant's liveness (introspection's username) are
-- reloaded on every instance when it changes.

-- +goose Up
CREATE CONSTRAINT TRIGGER users_email_epoch AFTER UPDATE OF email ON users
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (OLD.email IS DISTINCT FROM NEW.email) EXECUTE FUNCTION bump_revocation_epoch();

-- +goose Down
DROP TRIGGER users_email_epoch ON users;
