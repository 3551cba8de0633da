package account

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/multinexo/auth/internal/lockcache"
	"github.com/multinexo/auth/internal/mail"
	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/token"
)

var (
	// ErrInvalidCredentials: wrong password, unknown user or disabled user;
	// deliberately indistinguishable.
	ErrInvalidCredentials = errors.New("account: invalid credentials")
	// ErrEmailTaken: another account has this email (after normalisation).
	ErrEmailTaken = errors.New("account: email taken")
	// ErrBusy: too many password hashes are queued; the caller should answer
	// 503 (or 429) with Retry-After and try again shortly.
	ErrBusy = errors.New("account: too many password hashes in progress")
)

// ThrottledError: too many failed logins for this account or client address
// in the current window; try again after RetryAfter.
type ThrottledError struct{ RetryAfter time.Duration }

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("account: too many failed attempts, retry after %s", e.RetryAfter.Round(time.Second))
}

// Config configures a Service. Zero values take the defaults.
type Config struct {
	Now func() time.Time
	// MaxConcurrentHashes: argon2 computations at once (default
	// GOMAXPROCS/2, at least 1). Each holds 19 MiB and a whole CPU, and one
	// argon2id computation uses one CPU (p=1): more at once than this adds
	// memory and takes CPU from every other request without hashing any
	// faster, so a flood of logins cannot starve token refreshes or push
	// memory up.
	MaxConcurrentHashes int
	// MaxQueuedHashes: callers waiting for a hash slot before ErrBusy
	// (default 64; negative: none may wait).
	MaxQueuedHashes int
	Log             *slog.Logger

	// Login throttling, per account and per client address, in fixed
	// windows of FailureWindow (default 15 min).
	FailureWindow time.Duration
	// SlowAfter: failures of an account after which each attempt waits
	// SlowDelay per extra failure, at most MaxDelay (defaults 5, 200 ms, 1 s).
	SlowAfter int
	SlowDelay time.Duration
	MaxDelay  time.Duration
	// LockAfter: failures of an account after which attempts are refused
	// with *ThrottledError until the window ends (default 10).
	LockAfter int
	// IPLockAfter: failures from one address after which its attempts are
	// refused until the window ends (default 100).
	IPLockAfter int

	// Secret is the server secret (MULTINEXO_SECRET): TOTP secrets are
	// sealed with a key derived from it. Empty: second factors are
	// unavailable (ErrMFAUnavailable).
	Secret string
	// TOTPIssuer names the service in authenticator apps (default
	// "Multinexo").
	TOTPIssuer string

	// Mail composes the mailed links (recovery.go); nil: no mail — no
	// verification on registration, an email change applies at once, and
	// the recovery methods return ErrMailUnavailable.
	Mail *mail.Composer
	// Notify is called after a message was queued (wakes this instance's
	// deliverer); nil: none.
	Notify func()
	// RequireVerifiedEmail: sign-ins of accounts whose address is not
	// verified are refused with ErrEmailNotVerified (serve
	// --require-verified-email).
	RequireVerifiedEmail bool
	// MailLimit: links mailed per account (or asked-for address) per hour
	// (default 5); ResetIPLimit: reset requests per client address per
	// hour (default 30).
	MailLimit    int
	ResetIPLimit int
}

// Service manages accounts. It keeps no state of its own beyond the hash
// limiter: counters live in the store so every instance sees them.
type Service struct {
	st     store.Store
	cfg    Config
	log    *slog.Logger
	params argonParams
	hashes *hashLimiter
	dummy  func() string   // a valid hash of a random password, made once
	locks  lockcache.Cache // accounts and addresses found locked, here

	// Second factors (totp.go); nil without Config.Secret.
	totpSealer, loginSealer *token.Sealer
}

// NewService builds a Service on st.
func NewService(st store.Store, cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxConcurrentHashes <= 0 {
		cfg.MaxConcurrentHashes = max(1, runtime.GOMAXPROCS(0)/2)
	}
	if cfg.MaxQueuedHashes == 0 {
		cfg.MaxQueuedHashes = 64
	} else if cfg.MaxQueuedHashes < 0 {
		cfg.MaxQueuedHashes = 0
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.FailureWindow <= 0 {
		cfg.FailureWindow = 15 * time.Minute
	}
	if cfg.SlowAfter <= 0 {
		cfg.SlowAfter = 5
	}
	if cfg.SlowDelay <= 0 {
		cfg.SlowDelay = 200 * time.Millisecond
	}
	if cfg.MaxDelay <= 0 {
		cfg.MaxDelay = time.Second
	}
	if cfg.LockAfter <= 0 {
		cfg.LockAfter = 10
	}
	if cfg.IPLockAfter <= 0 {
		cfg.IPLockAfter = 100
	}
	if cfg.MailLimit <= 0 {
		cfg.MailLimit = 5
	}
	if cfg.ResetIPLimit <= 0 {
		cfg.ResetIPLimit = 30
	}
	if cfg.TOTPIssuer == "" {
		cfg.TOTPIssuer = "Multinexo"
	}
	s := &Service{
		st:     st,
		cfg:    cfg,
		log:    cfg.Log,
		params: defaultParams,
		hashes: &hashLimiter{slots: make(chan struct{}, cfg.MaxConcurrentHashes), maxQueue: int64(cfg.MaxQueuedHashes)},
	}
	if cfg.Secret != "" {
		ts, err1 := token.NewSealer(cfg.Secret, sealTOTP)
		ls, err2 := token.NewSealer(cfg.Secret, sealLogin)
		if err := errors.Join(err1, err2); err != nil {
			cfg.Log.Error("second factors unavailable", "error", err)
		} else {
			s.totpSealer, s.loginSealer = ts, ls
		}
	}
	s.dummy = sync.OnceValue(func() string {
		var pw [32]byte
		_, _ = rand.Read(pw[:])
		// Made once, outside the hash limiter, so it can never fail.
		return phcString(s.params, pw[:16], argon2.IDKey(pw[16:], pw[:16], s.params.Time, s.params.Memory, s.params.Threads, s.params.KeyLen))
	})
	return s
}

// newID returns a random UUID (version 4) for a new user.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// RegisterInput is a new account as submitted.
type RegisterInput struct {
	Email, Password, FirstName, LastName string
	Admin                                bool
	// EmailVerified: an operator vouches for the address (users create
	// --email-verified). Self-registration never sets it.
	EmailVerified bool
	// Lang is the language of the person registering ("es", "en"): the
	// language of what is mailed to the account.
	Lang string
}

// Register validates the input (every field, joined with errors.Join when
// several are wrong; each is a *ValidationError), hashes the password and
// creates the user. A taken email is ErrEmailTaken; too many hashes at once
// is ErrBusy.
func (s *Service) Register(ctx context.Context, in RegisterInput) (*store.User, error) {
	var errs []error
	display, key, err := NormalizeEmail(in.Email)
	if err != nil {
		errs = append(errs, err)
	}
	if err := checkPasswordForEmail(in.Password, display); err != nil {
		errs = append(errs, err)
	}
	first, err := cleanName("first_name", in.FirstName)
	if err != nil {
		errs = append(errs, err)
	}
	last, err := cleanName("last_name", in.LastName)
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 1 {
		return nil, errs[0]
	} else if len(errs) > 1 {
		return nil, errors.Join(errs...)
	}
	// A cheap check first, so a taken address costs no hash; the unique key
	// in the store still decides races.
	if _, err := s.st.GetUserByEmailKey(ctx, key); err == nil {
		return nil, ErrEmailTaken
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	phc, err := s.hashPassword(ctx, in.Password, s.params)
	if err != nil {
		return nil, err
	}
	now := s.cfg.Now().UTC()
	u := &store.User{
		ID:           newID(),
		Email:        display,
		EmailKey:     key,
		FirstName:    first,
		LastName:     last,
		PasswordHash: phc,
		Admin:        in.Admin,
		// Activated: registration is complete; the account may sign in.
		// Whether the address is the person's is EmailVerified's to say.
		Activated:     true,
		EmailVerified: in.EmailVerified,
		CreatedAt:     now,
		UpdatedAt:     now,
		Lang:          mailLang(in.Lang),
	}
	create := s.st.CreateUser
	if s.cfg.Mail != nil && !u.EmailVerified {
		// The verification link and its message are written with the
		// account; they leave from the outbox, never in this request.
		create = s.registerWithLink
	}
	if err := create(ctx, u); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, ErrEmailTaken
		}
		return nil, err
	}
	s.event(ctx, "user.registered", u.ID, "", "")
	return u, nil
}

// mailLang is the language stored for an account: "en" or "es".
func mailLang(lang string) string {
	if lang == "en" {
		return "en"
	}
	return "es"
}

// counterKey names a failure counter without putting the address itself in
// the counters table.
func counterKey(kind, v string) string {
	h := sha256.Sum256([]byte(v))
	return "login:" + kind + ":" + hex.EncodeToString(h[:16])
}

// window returns the fixed window containing now: aligned to the epoch so
// every instance agrees.
func (s *Service) window(now time.Time) (start, end time.Time) {
	start = now.Truncate(s.cfg.FailureWindow)
	return start, start.Add(s.cfg.FailureWindow)
}

// throttle checks the failure counters before any hashing: refused with
// *ThrottledError over the limits, slowed down past SlowAfter.
func (s *Service) throttle(ctx context.Context, acctKey, ipKey string, userID, ip string) error {
	now := s.cfg.Now()
	start, end := s.window(now)
	n, err := s.st.Count(ctx, acctKey, start)
	if err != nil {
		return err
	}
	var nip int
	if ipKey != "" {
		if nip, err = s.st.Count(ctx, ipKey, start); err != nil {
			return err
		}
	}
	if n >= s.cfg.LockAfter || nip >= s.cfg.IPLockAfter {
		// One event per locked key and window per instance: a flood of
		// attempts on a locked account must not become a flood of writes.
		first := false
		if n >= s.cfg.LockAfter {
			first = s.locks.Lock(acctKey, end) || first
		}
		detail := "account"
		if nip >= s.cfg.IPLockAfter {
			detail = "address"
			first = s.locks.Lock(ipKey, end) || first
		}
		if first {
			s.event(ctx, "login.throttled", userID, ip, detail)
		}
		return &ThrottledError{RetryAfter: end.Sub(now)}
	}
	if n >= s.cfg.SlowAfter {
		d := min(time.Duration(n-s.cfg.SlowAfter+1)*s.cfg.SlowDelay, s.cfg.MaxDelay)
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// failed counts a failure against the account and the address.
func (s *Service) failed(ctx context.Context, acctKey, ipKey string) {
	start, end := s.window(s.cfg.Now())
	if _, err := s.st.Hit(ctx, acctKey, start, end); err != nil {
		s.log.ErrorContext(ctx, "counting a failed login", "error", err)
	}
	if ipKey != "" {
		if _, err := s.st.Hit(ctx, ipKey, start, end); err != nil {
			s.log.ErrorContext(ctx, "counting a failed login", "error", err)
		}
	}
}

func (s *Service) event(ctx context.Context, typ, userID, ip, detail string) {
	e := &store.Event{Time: s.cfg.Now().UTC(), Type: typ, UserID: userID, IP: ip, Detail: detail}
	if err := s.st.RecordEvent(ctx, e); err != nil {
		s.log.ErrorContext(ctx, "recording a security event", "type", typ, "error", err)
	}
}

// Authenticate checks an email and password from client address ip (may be
// ""). For an account with a second factor a right password returns the
// user and ErrSecondFactorRequired: not a login until VerifySecondFactor
// accepts a code. Unknown, disabled and wrong-password logins all return
// ErrInvalidCredentials after the same argon2 work. Too many failures return
// *ThrottledError before any hashing; a full hash queue returns ErrBusy.
func (s *Service) Authenticate(ctx context.Context, email, password, ip string) (*store.User, error) {
	_, key, err := NormalizeEmail(email)
	if err != nil {
		key = "invalid:" + email // still counted, never found
	}
	acctKey := counterKey("acct", key)
	ipKey := ""
	if ip != "" {
		ipKey = counterKey("ip", ip)
	}
	if err := s.lockedHere(ctx, acctKey, ipKey); err != nil {
		return nil, err
	}
	var u *store.User
	if err == nil {
		u, err = s.st.GetUserByEmailKey(ctx, key)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
	}
	userID := ""
	if u != nil {
		userID = u.ID
	}
	if err := s.throttle(ctx, acctKey, ipKey, userID, ip); err != nil {
		return nil, err
	}
	// Input-only checks: they depend on what was sent, not on the account,
	// so skipping the hash reveals nothing. Nothing longer than the policy
	// allows is ever hashed.
	if password == "" || len(password) > MaxPasswordBytes {
		s.failed(ctx, acctKey, ipKey)
		s.event(ctx, "login.failed", userID, ip, "unacceptable password length")
		return nil, ErrInvalidCredentials
	}
	phc := s.dummy()
	if u != nil {
		phc = u.PasswordHash
	}
	ok, rehash, verr := s.verifyPassword(ctx, password, phc)
	if verr != nil && !errors.Is(verr, errBadHash) {
		return nil, verr // ErrBusy or the context
	}
	if verr != nil && u != nil {
		s.log.ErrorContext(ctx, "unreadable password hash", "user_id", u.ID)
	}
	if !ok || u == nil || u.Disabled {
		s.failed(ctx, acctKey, ipKey)
		reason := "wrong password"
		switch {
		case u == nil:
			reason = "unknown account"
		case u.Disabled:
			reason = "disabled account"
		}
		s.event(ctx, "login.failed", userID, ip, reason)
		return nil, ErrInvalidCredentials
	}
	if rehash {
		if phc, err := s.hashPassword(ctx, password, s.params); err == nil {
			if nu, err := s.st.UpdateUser(ctx, u.ID, store.UserUpdate{PasswordHash: &phc}, s.cfg.Now().UTC()); err == nil {
				u = nu
			} else {
				s.log.ErrorContext(ctx, "rehashing a password", "user_id", u.ID, "error", err)
			}
		}
	}
	if s.cfg.RequireVerifiedEmail && !u.EmailVerified {
		// The password was right (so this says nothing to a guesser),
		// but the address must be proven first.
		s.event(ctx, "login.refused", u.ID, ip, "email not verified")
		return u, ErrEmailNotVerified
	}
	if u.HasTOTP() {
		// Not logged in yet, and the failure counter stays: resetting it on
		// a right password would let whoever knows the password guess
		// codes without limit (totp.go).
		s.event(ctx, "login.second_factor", u.ID, ip, "password accepted")
		return u, ErrSecondFactorRequired
	}
	if err := s.st.ResetCounter(ctx, acctKey); err != nil {
		s.log.ErrorContext(ctx, "resetting a login counter", "error", err)
	}
	s.event(ctx, "login.succeeded", u.ID, ip, "")
	return u, nil
}

// ChangePassword replaces the password of userID after verifying the current
// one. A wrong current password is ErrInvalidCredentials (and counts as a
// failed login, with the same throttling); a new password against the policy
// is a *ValidationError for field "password".
func (s *Service) ChangePassword(ctx context.Context, userID, current, next string) error {
	_, err := s.UpdateProfile(ctx, userID, ProfileUpdate{CurrentPassword: &current, Password: &next})
	return err
}

// ProfileUpdate is a change to an account; nil fields are left alone.
// Changing Password, or Email to another address, needs CurrentPassword.
type ProfileUpdate struct {
	Email, FirstName, LastName *string
	Password, CurrentPassword  *string
	// byOperator: the operator sets the password (SetPassword); no current
	// password is asked for.
	byOperator bool
}

// SetPassword replaces the password of userID without the current one, for
// the operator (`multinexo users set-password`), who has checked who asks.
// The same policy applies (a *ValidationError for field "password") and, as
// with ChangePassword, every browser session of the account ends.
func (s *Service) SetPassword(ctx context.Context, userID, password string) error {
	_, err := s.UpdateProfile(ctx, userID, ProfileUpdate{Password: &password, byOperator: true})
	return err
}

// UpdateProfile validates every field of upd (errors joined, each a
// *ValidationError), verifies the current password when the password or
// the address changes, and applies everything in one store update (a new
// address is unverified from that moment: store.UserUpdate). A taken email is
// ErrEmailTaken; a wrong current password ErrInvalidCredentials.
func (s *Service) UpdateProfile(ctx context.Context, userID string, upd ProfileUpdate) (*store.User, error) {
	u, _, err := s.UpdateProfileMail(ctx, userID, upd)
	return u, err
}

// UpdateProfileMail is UpdateProfile that also says which new address
// awaits confirmation: with mail, a new address (another mailbox, not
// just another case) is not applied but mailed a confirmation link, and
// the old one a notice (requestEmailChange); pending is that address.
func (s *Service) UpdateProfileMail(ctx context.Context, userID string, upd ProfileUpdate) (u *store.User, pending string, err error) {
	u, err = s.st.GetUser(ctx, userID)
	if err != nil {
		return nil, "", err
	}
	su, newEmail, err := profileChanges(u, upd)
	if err != nil {
		return nil, "", err
	}
	if (upd.Password != nil || newEmail) && !upd.byOperator {
		failType := "password.change_failed"
		if upd.Password == nil {
			failType = "email.change_failed"
		}
		if err := s.checkCurrentPassword(ctx, u, *upd.CurrentPassword, failType); err != nil {
			return nil, "", err
		}
	}
	if upd.Password != nil {
		phc, err := s.hashPassword(ctx, *upd.Password, s.params)
		if err != nil {
			return nil, "", err
		}
		su.PasswordHash = &phc
	}
	if newEmail && s.cfg.Mail != nil {
		if err := s.requestEmailChange(ctx, u, *su.Email, *su.EmailKey); err != nil {
			return nil, "", err
		}
		pending = *su.Email
		su.Email, su.EmailKey = nil, nil
	}
	if su == (store.UserUpdate{}) {
		return u, pending, nil
	}
	nu, err := s.applyProfile(ctx, u.ID, su)
	if err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, "", ErrEmailTaken
		}
		return nil, "", err
	}
	if su.PasswordHash != nil {
		// A new password ends every browser session of the account: whoever
		// knew the old one is logged out everywhere (the caller starts a
		// new session for the person who changed it).
		if _, err := s.st.DeleteUserSessions(ctx, u.ID); err != nil {
			return nil, "", err
		}
		detail := ""
		if upd.byOperator {
			detail = "set by the operator"
		}
		s.event(ctx, "password.changed", u.ID, "", detail)
	}
	if su.Email != nil && *su.Email != u.Email {
		s.event(ctx, "email.changed", u.ID, "", "")
	}
	return nu, pending, nil
}

// applyProfile stores su; with mail, a new password comes with a notice
// to the account's address, queued in the same transaction.
func (s *Service) applyProfile(ctx context.Context, userID string, su store.UserUpdate) (*store.User, error) {
	now := s.cfg.Now().UTC()
	if su.PasswordHash == nil || s.cfg.Mail == nil {
		return s.st.UpdateUser(ctx, userID, su, now)
	}
	var berr error
	nu, err := s.st.UpdateUserNotify(ctx, userID, su, now, func(cu *store.User) []*store.OutboxMessage {
		m, err := s.compose(mail.KindPasswordUpdated, cu, cu.Email, cu.Email, "", "", 0)
		berr = err
		return []*store.OutboxMessage{m}
	})
	if err = errors.Join(err, berr); err != nil {
		return nil, err
	}
	s.queued()
	return nu, nil
}

// profileChanges validates upd against u: the store update it makes and
// whether it asks for another mailbox. Every problem is a *ValidationError,
// joined when several.
func profileChanges(u *store.User, upd ProfileUpdate) (su store.UserUpdate, newEmail bool, err error) {
	var errs []error
	email := u.Email
	if upd.Email != nil {
		display, key, err := NormalizeEmail(*upd.Email)
		if err != nil {
			errs = append(errs, err)
		} else {
			email = display
			su.Email, su.EmailKey = &display, &key
		}
	}
	if upd.FirstName != nil {
		if v, err := cleanName("first_name", *upd.FirstName); err != nil {
			errs = append(errs, err)
		} else {
			su.FirstName = &v
		}
	}
	if upd.LastName != nil {
		if v, err := cleanName("last_name", *upd.LastName); err != nil {
			errs = append(errs, err)
		} else {
			su.LastName = &v
		}
	}
	// A new address needs the current password too: a stolen access token
	// or an unattended browser must not be enough to take the account's
	// login (and so its password reset) away from its owner.
	newEmail = su.EmailKey != nil && *su.EmailKey != u.EmailKey
	if upd.Password != nil {
		if err := checkPasswordForEmail(*upd.Password, email); err != nil {
			errs = append(errs, err)
		}
	}
	if (upd.Password != nil || newEmail) && !upd.byOperator && (upd.CurrentPassword == nil || *upd.CurrentPassword == "") {
		errs = append(errs, invalid("current_password", "required"))
	}
	if len(errs) == 1 {
		return su, false, errs[0]
	} else if len(errs) > 1 {
		return su, false, errors.Join(errs...)
	}
	return su, newEmail, nil
}

// Delete deletes the account of userID and, with it, every grant, token,
// session and consent it has (store.DeleteUser), and records the event.
func (s *Service) Delete(ctx context.Context, userID string) error {
	if err := s.st.DeleteUser(ctx, userID); err != nil {
		return err
	}
	s.event(ctx, "user.deleted", userID, "", "")
	return nil
}

// lockedHere refuses, before any store access or hashing, an attempt on an
// account or from an address this instance already found locked. The
// refusal waits up to MaxDelay first (less if the lock ends sooner): a
// client retrying a refused login in a loop — a credential-stuffing flood —
// then costs the server one cheap request per MaxDelay per connection
// instead of all its CPU, and the other grants keep theirs.
func (s *Service) lockedHere(ctx context.Context, keys ...string) error {
	now := s.cfg.Now()
	end, ok := s.locks.Until(now, keys...)
	if !ok {
		return nil
	}
	wait := min(end.Sub(now), s.cfg.MaxDelay)
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		// The client left; the answer is the same (and is not a server
		// error to log).
	}
	return &ThrottledError{RetryAfter: end.Sub(now)}
}
