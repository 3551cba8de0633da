package passkey

import (
	"context"
	"errors"

	"github.com/multinexo/auth/internal/store"
)

// List returns the account's passkeys, oldest first (none when off).
func (s *Service) List(ctx context.Context, userID string) ([]*store.Passkey, error) {
	if s == nil {
		return nil, nil
	}
	return s.cfg.Store.ListPasskeys(ctx, userID)
}

// Rename names one of the account's passkeys.
func (s *Service) Rename(ctx context.Context, userID string, id []byte, name, ip string) error {
	if s == nil {
		return ErrUnavailable
	}
	name = cleanName(name, "")
	if name == "" || id == nil {
		return ErrNotFound
	}
	if err := s.cfg.Store.RenamePasskey(ctx, userID, id, name); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return ErrNotFound
		}
		return err
	}
	s.event(ctx, "passkey.renamed", userID, ip, name)
	return nil
}

// Delete removes one of the account's passkeys; it no longer signs in.
// (The pages ask for a recent sign-in first.)
func (s *Service) Delete(ctx context.Context, userID string, id []byte, ip string) error {
	if s == nil {
		return ErrUnavailable
	}
	if id == nil {
		return ErrNotFound
	}
	p, err := s.cfg.Store.GetPasskey(ctx, id)
	if err == nil && p.UserID != userID {
		err = store.ErrNotFound
	}
	if err == nil {
		err = s.cfg.Store.DeletePasskey(ctx, userID, id)
	}
	if errors.Is(err, store.ErrNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return err
	}
	s.event(ctx, "passkey.deleted", userID, ip, p.Name)
	return nil
}
