package account

import (
	"context"
	"errors"
	"fmt"

	"github.com/multinexo/auth/internal/store"
)

// EmailCollision is a stored account whose address, under the current
// EmailKey, looks like another account's: the key cannot be moved to the
// new form, so the account keeps its old key (it can still be found by the
// operator; a login with the look-alike address reaches Holder). An
// operator must resolve it (change or remove one of the addresses).
type EmailCollision struct {
	UserID   string // the account that kept its old key
	HolderID string // the account that holds the new key
}

// rekeyPage is how many users RekeyEmails reads at once.
const rekeyPage = 500

// RekeyEmails brings every stored account's EmailKey to the current form
// (EmailKeyVersion), once per store: the version is recorded in the store's
// meta table when done, and later starts read only that. Several instances
// starting together may all run it; each update is idempotent.
//
// A collision between existing accounts never fails the start-up: the
// later account keeps its old key, is returned, logged and recorded as a
// security event (email.collision), and the rest are rekeyed.
func (s *Service) RekeyEmails(ctx context.Context) ([]EmailCollision, error) {
	if _, err := s.st.GetMeta(ctx, EmailKeyVersion); err == nil {
		return nil, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	var collisions []EmailCollision
	for page := 1; ; page++ {
		users, _, err := s.st.ListUsers(ctx, store.ListOptions{Page: store.Page{Number: page, Size: rekeyPage}, Sort: "created_at"})
		if err != nil {
			return collisions, fmt.Errorf("listing users to rekey their addresses: %w", err)
		}
		for _, u := range users {
			key := EmailKey(u.Email)
			if key == u.EmailKey {
				continue
			}
			// updated_at stays: the account did not change, its index did.
			_, err := s.st.UpdateUser(ctx, u.ID, store.UserUpdate{EmailKey: &key}, u.UpdatedAt)
			if errors.Is(err, store.ErrConflict) {
				c := EmailCollision{UserID: u.ID}
				if h, herr := s.st.GetUserByEmailKey(ctx, key); herr == nil {
					c.HolderID = h.ID
				}
				collisions = append(collisions, c)
				s.log.WarnContext(ctx, "two accounts have look-alike email addresses; the later keeps its old key until an operator changes one of them",
					"user_id", c.UserID, "holder_id", c.HolderID)
				s.event(ctx, "email.collision", c.UserID, "", "look-alike of "+c.HolderID)
				continue
			}
			if errors.Is(err, store.ErrNotFound) {
				continue // deleted meanwhile
			}
			if err != nil {
				return collisions, fmt.Errorf("rekeying the address of user %s: %w", u.ID, err)
			}
		}
		if len(users) < rekeyPage {
			break
		}
	}
	if _, err := s.st.SetMetaIfAbsent(ctx, EmailKeyVersion, s.cfg.Now().UTC().Format("2006-01-02T15:04:05Z")); err != nil {
		return collisions, err
	}
	return collisions, nil
}
