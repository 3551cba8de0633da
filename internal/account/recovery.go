package account

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"time"

	"github.com/multinexo/auth/internal/mail"
	"github.com/multinexo/auth/internal/store"
)

// Mailed links: verification of the address, password reset and email
// change. Each link carries 256 random bits, is stored only as its hash,
// works once, and is written to the store together with the message that
// carries it (store.AccountTokenStore); the message leaves later, from the
// outbox, so no request waits for a relay.

// Link lifetimes and pages.
const (
	VerifyTTL      = 24 * time.Hour
	ResetTTL       = 30 * time.Minute
	EmailChangeTTL = 24 * time.Hour

	PathVerifyEmail   = "/verify-email"
	PathResetPassword = "/reset-password"
	PathConfirmEmail  = "/confirm-email"
)

var (
	// ErrMailUnavailable: the service was built without mail.
	ErrMailUnavailable = errors.New("account: mail is not configured")
	// ErrLinkInvalid: the link is unknown, or for another purpose, or its
	// account changed address or was disabled.
	ErrLinkInvalid = errors.New("account: link not valid")
	// ErrLinkExpired: the link is too old.
	ErrLinkExpired = errors.New("account: link expired")
	// ErrLinkUsed: the link was followed before (or a newer one was).
	ErrLinkUsed = errors.New("account: link already used")
	// ErrAlreadyVerified: the address is verified already.
	ErrAlreadyVerified = errors.New("account: email already verified")
	// ErrEmailNotVerified: the server requires a verified address to sign
	// in (--require-verified-email) and this account's is not.
	ErrEmailNotVerified = errors.New("account: email not verified")
)

// linkError maps the store's answers about a link.
func linkError(err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return ErrLinkInvalid
	case errors.Is(err, store.ErrExpired):
		return ErrLinkExpired
	case errors.Is(err, store.ErrAlreadyUsed):
		return ErrLinkUsed
	}
	return err
}

// newLinkSecret returns a link's secret (256 random bits) and its hash.
func newLinkSecret() (string, []byte) {
	var b [32]byte
	_, _ = rand.Read(b[:])
	s := base64.RawURLEncoding.EncodeToString(b[:])
	return s, linkHash(s)
}

func linkHash(secret string) []byte { return store.HashToken("mnx link\x00" + secret) }

// expiresText says a lifetime in words of lang.
func expiresText(d time.Duration, lang string) string {
	switch {
	case d == 30*time.Minute && lang == "en":
		return "30 minutes"
	case d == 30*time.Minute:
		return "30 minutos"
	case lang == "en":
		return "24 hours"
	}
	return "24 horas"
}

// compose builds a message for u (in u's language) about email, linking
// to path with secret ("" for a notice).
func (s *Service) compose(kind string, u *store.User, to, email, path, secret string, ttl time.Duration) (*store.OutboxMessage, error) {
	d := mail.Data{Name: u.FirstName, Email: email, Expires: expiresText(ttl, u.Lang)}
	if secret != "" {
		d.Link = s.cfg.Mail.Link(path, secret)
	}
	return s.cfg.Mail.Compose(kind, u.Lang, to, u.ID, d, s.cfg.Now())
}

// queued wakes this instance's deliverer after a message was queued.
func (s *Service) queued() {
	if s.cfg.Notify != nil {
		s.cfg.Notify()
	}
}

// registerWithLink creates u with its verification link and message.
func (s *Service) registerWithLink(ctx context.Context, u *store.User) error {
	secret, hash := newLinkSecret()
	now := s.cfg.Now().UTC()
	t := &store.AccountToken{Hash: hash, Purpose: store.TokenVerify, EmailKey: u.EmailKey, CreatedAt: now, ExpiresAt: now.Add(VerifyTTL)}
	m, err := s.compose(mail.KindVerify, u, u.Email, u.Email, PathVerifyEmail, secret, VerifyTTL)
	if err != nil {
		return err
	}
	if err := s.st.CreateUserWithToken(ctx, u, t, m); err != nil {
		return err
	}
	s.queued()
	return nil
}

// limit counts one request against key (limit per window) and refuses it
// with *ThrottledError past the limit. Counters live in the store, so the
// limit holds across instances.
func (s *Service) limit(ctx context.Context, key string, limit int, window time.Duration) error {
	now := s.cfg.Now()
	start := now.Truncate(window)
	n, err := s.st.Hit(ctx, key, start, start.Add(window))
	if err != nil {
		return err
	}
	if n > limit {
		return &ThrottledError{RetryAfter: start.Add(window).Sub(now)}
	}
	return nil
}

// SendVerification mails userID a new verification link (POST
// /v1/users/me/verification). ErrAlreadyVerified when there is no need;
// *ThrottledError past MailLimit links an hour.
func (s *Service) SendVerification(ctx context.Context, userID, ip string) error {
	if s.cfg.Mail == nil {
		return ErrMailUnavailable
	}
	u, err := s.st.GetUser(ctx, userID)
	if err != nil {
		return err
	}
	if u.EmailVerified {
		return ErrAlreadyVerified
	}
	if err := s.limit(ctx, counterKey("mail:verify", u.ID), s.cfg.MailLimit, time.Hour); err != nil {
		s.event(ctx, "email.verification_throttled", u.ID, ip, "")
		return err
	}
	secret, hash := newLinkSecret()
	now := s.cfg.Now().UTC()
	t := &store.AccountToken{Hash: hash, UserID: u.ID, Purpose: store.TokenVerify, EmailKey: u.EmailKey,
		CreatedAt: now, ExpiresAt: now.Add(VerifyTTL)}
	var berr error
	err = s.st.IssueAccountToken(ctx, t, func(cur *store.User) []*store.OutboxMessage {
		m, err := s.compose(mail.KindVerify, cur, cur.Email, cur.Email, PathVerifyEmail, secret, VerifyTTL)
		berr = err
		return []*store.OutboxMessage{m}
	})
	if err = errors.Join(err, berr); err != nil {
		return err
	}
	s.queued()
	s.event(ctx, "email.verification_sent", u.ID, ip, "")
	return nil
}

// VerifyEmail follows a verification link.
func (s *Service) VerifyEmail(ctx context.Context, secret, ip string) (*store.User, error) {
	_, u, err := s.st.RedeemAccountToken(ctx, store.Redemption{Hash: linkHash(secret), Purpose: store.TokenVerify, Now: s.cfg.Now().UTC()})
	if err != nil {
		err = linkError(err)
		s.event(ctx, "email.verification_failed", "", ip, err.Error())
		return nil, err
	}
	s.event(ctx, "email.verified", u.ID, ip, "")
	return u, nil
}

// RequireVerified reports whether a sign-in needs a verified address.
func (s *Service) RequireVerified() bool { return s.cfg.RequireVerifiedEmail }

// CheckVerified refuses u with ErrEmailNotVerified when the server
// requires verified addresses and u's is not.
func (s *Service) CheckVerified(ctx context.Context, u *store.User, ip string) error {
	if !s.cfg.RequireVerifiedEmail || u.EmailVerified {
		return nil
	}
	s.event(ctx, "login.refused", u.ID, ip, "email not verified")
	return ErrEmailNotVerified
}

// CheckLink says whether a verification (store.TokenVerify) or
// email-change (store.TokenEmailChange) link still works, without using
// it, and the address it is about, so its page can name it.
func (s *Service) CheckLink(ctx context.Context, purpose, secret string) (string, error) {
	t, u, err := s.st.GetAccountToken(ctx, linkHash(secret), purpose, s.cfg.Now().UTC())
	if err != nil {
		return "", linkError(err)
	}
	if purpose == store.TokenEmailChange {
		return t.NewEmail, nil
	}
	return u.Email, nil
}
