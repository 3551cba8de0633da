package account

import (
	"context"
	"errors"
	"time"

	"github.com/multinexo/auth/internal/mail"
	"github.com/multinexo/auth/internal/store"
)

// Password reset and email change.

// RequestPasswordReset mails a reset link to the account of email, if
// there is one (not disabled). The answer is the same either way — nil,
// or *ThrottledError past the limits per address and per client address —
// and so is the work: the address is normalised, both counters are hit
// and one store transaction looks the account up and, only if it exists,
// writes the link and its message. lang is the asker's language, used
// when the account has none.
func (s *Service) RequestPasswordReset(ctx context.Context, email, ip string) error {
	if s.cfg.Mail == nil {
		return ErrMailUnavailable
	}
	_, key, err := NormalizeEmail(email)
	if err != nil {
		key = "invalid:" + email // counted, never found
	}
	errA := s.limit(ctx, counterKey("reset:acct", key), s.cfg.MailLimit, time.Hour)
	errB := error(nil)
	if ip != "" {
		errB = s.limit(ctx, counterKey("reset:ip", ip), s.cfg.ResetIPLimit, time.Hour)
	}
	if err := errors.Join(errA, errB); err != nil {
		var te *ThrottledError
		if errors.As(err, &te) {
			s.event(ctx, "password_reset.throttled", "", ip, "")
			return te
		}
		return err
	}
	userID, err := s.issueReset(ctx, key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		// The message a known address gets is composed and sealed; do
		// that work here too, and drop it.
		_, _ = s.compose(mail.KindReset, &store.User{}, email, email, PathResetPassword, "unused", ResetTTL)
		s.event(ctx, "password_reset.requested", "", ip, "no such account")
		return nil
	case err != nil:
		return err
	}
	s.event(ctx, "password_reset.requested", userID, ip, "link sent")
	return nil
}

// SendReset mails a reset link to the account of email for the operator
// (`multinexo users send-reset`): no limits, and an unknown address is
// store.ErrNotFound.
func (s *Service) SendReset(ctx context.Context, email string) error {
	if s.cfg.Mail == nil {
		return ErrMailUnavailable
	}
	_, key, err := NormalizeEmail(email)
	if err != nil {
		return err
	}
	userID, err := s.issueReset(ctx, key)
	if err != nil {
		return err
	}
	s.event(ctx, "password_reset.requested", userID, "", "sent by the operator")
	return nil
}

// issueReset writes a reset link and its message for the account of key.
func (s *Service) issueReset(ctx context.Context, key string) (string, error) {
	secret, hash := newLinkSecret()
	now := s.cfg.Now().UTC()
	t := &store.AccountToken{Hash: hash, Purpose: store.TokenReset, EmailKey: key, CreatedAt: now, ExpiresAt: now.Add(ResetTTL)}
	var berr error
	err := s.st.IssueAccountToken(ctx, t, func(u *store.User) []*store.OutboxMessage {
		m, err := s.compose(mail.KindReset, u, u.Email, u.Email, PathResetPassword, secret, ResetTTL)
		berr = err
		return []*store.OutboxMessage{m}
	})
	if err = errors.Join(err, berr); err != nil {
		return "", err
	}
	s.queued()
	return t.UserID, nil
}

// CheckResetLink returns the account a reset link is for, so the page can
// ask for the new password (and say when a second factor will still be
// needed); the link stays unused.
func (s *Service) CheckResetLink(ctx context.Context, secret string) (*store.User, error) {
	_, u, err := s.st.GetAccountToken(ctx, linkHash(secret), store.TokenReset, s.cfg.Now().UTC())
	if err != nil {
		return nil, linkError(err)
	}
	return u, nil
}

// ResetPassword follows a reset link: the new password (under the usual
// rules, a *ValidationError for field "password") replaces the old, every
// grant is revoked and every session ended, and a notice is queued — one
// transaction. A second factor is untouched: the next sign-in still needs
// it.
func (s *Service) ResetPassword(ctx context.Context, secret, password, ip string) (*store.User, error) {
	u, err := s.CheckResetLink(ctx, secret)
	if err != nil {
		s.event(ctx, "password_reset.failed", "", ip, err.Error())
		return nil, err
	}
	if err := checkPasswordForEmail(password, u.Email); err != nil {
		return nil, err
	}
	phc, err := s.hashPassword(ctx, password, s.params)
	if err != nil {
		return nil, err
	}
	var berr error
	_, nu, err := s.st.RedeemAccountToken(ctx, store.Redemption{Hash: linkHash(secret), Purpose: store.TokenReset,
		Now: s.cfg.Now().UTC(), PasswordHash: phc,
		Notify: func(cu *store.User) []*store.OutboxMessage {
			m, err := s.compose(mail.KindPasswordChanged, cu, cu.Email, cu.Email, "", "", 0)
			berr = err
			return []*store.OutboxMessage{m}
		}})
	if err = errors.Join(err, berr); err != nil {
		err = linkError(err)
		s.event(ctx, "password_reset.failed", u.ID, ip, err.Error())
		return nil, err
	}
	s.queued()
	// A new password clears the failed-login count of the account.
	if err := s.st.ResetCounter(ctx, counterKey("acct", nu.EmailKey)); err != nil {
		s.log.ErrorContext(ctx, "resetting a login counter", "error", err)
	}
	s.event(ctx, "password.reset", nu.ID, ip, "sessions ended, grants revoked")
	return nu, nil
}

// requestEmailChange mails a confirmation link to the new address and a
// notice to the old one; the address changes only when the link is
// followed (ConfirmEmailChange).
func (s *Service) requestEmailChange(ctx context.Context, u *store.User, display, key string) error {
	if other, err := s.st.GetUserByEmailKey(ctx, key); err == nil && other.ID != u.ID {
		return ErrEmailTaken
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if err := s.limit(ctx, counterKey("mail:email", u.ID), s.cfg.MailLimit, time.Hour); err != nil {
		return err
	}
	secret, hash := newLinkSecret()
	now := s.cfg.Now().UTC()
	t := &store.AccountToken{Hash: hash, UserID: u.ID, Purpose: store.TokenEmailChange, NewEmail: display, NewEmailKey: key,
		CreatedAt: now, ExpiresAt: now.Add(EmailChangeTTL)}
	var berr error
	err := s.st.IssueAccountToken(ctx, t, func(cu *store.User) []*store.OutboxMessage {
		confirm, err1 := s.compose(mail.KindEmailChange, cu, display, display, PathConfirmEmail, secret, EmailChangeTTL)
		notice, err2 := s.compose(mail.KindEmailChangeNotice, cu, cu.Email, display, "", "", 0)
		berr = errors.Join(err1, err2)
		return []*store.OutboxMessage{confirm, notice}
	})
	if err = errors.Join(err, berr); err != nil {
		return err
	}
	s.queued()
	s.event(ctx, "email.change_requested", u.ID, "", "")
	return nil
}

// ConfirmEmailChange follows an email-change link: the account's address
// becomes the new one, verified. ErrEmailTaken when another account has
// it by now (the same look-alike rule as registration).
func (s *Service) ConfirmEmailChange(ctx context.Context, secret, ip string) (*store.User, error) {
	_, u, err := s.st.RedeemAccountToken(ctx, store.Redemption{Hash: linkHash(secret), Purpose: store.TokenEmailChange, Now: s.cfg.Now().UTC()})
	if err != nil {
		if errors.Is(err, store.ErrConflict) {
			err = ErrEmailTaken
		} else {
			err = linkError(err)
		}
		s.event(ctx, "email.change_failed", "", ip, err.Error())
		return nil, err
	}
	s.event(ctx, "email.changed", u.ID, ip, "confirmed by link")
	return u, nil
}
