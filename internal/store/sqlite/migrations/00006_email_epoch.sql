-- A changed email moves the revocation epoch too, so caches that keep a
-- user's email with the grant's liveness (introspection's username) are
-- reloaded on every instance when it changes.

-- +goose Up
-- +goose StatementBegin
CREATE TRIGGER users_email_epoch AFTER UPDATE OF email ON users
WHEN OLD.email <> NEW.email
BEGIN
    UPDATE revocation_epoch SET epoch = epoch + 1 WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER users_email_epoch;
