package account

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"errors"
	"image/png"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/token"
)

// The second factor: TOTP (RFC 6238) with the parameters every
// authenticator app expects — HMAC-SHA1, 6 digits, 30-second steps — and
// ten single-use recovery codes.
//
//   - Enrolment (BeginTOTP, ConfirmTOTP): a new 160-bit secret is sealed
//     with the server secret (token.Sealer, bound to the user id) and
//     stored as pending; it is enabled only when the person types a code it
//     generates, and then the recovery codes are made and returned once (the
//     store keeps SHA-256 hashes; each code has 80 random bits).
//   - Logging in: Authenticate answers ErrSecondFactorRequired (with the
//     user) instead of success when the account has TOTP; the caller then
//     asks for a code and calls VerifySecondFactor. Codes of the current
//     step and one step either side are accepted (clock drift), compared in
//     constant time, and each step at most once: the last accepted step is
//     advanced by one conditional UPDATE, so a code seen by someone else
//     (or sent twice at once) is refused. Recovery codes are deleted when
//     used. Wrong codes count in the same failure counters as wrong
//     passwords, so the same lock stops guessing.
//   - Disabling (DisableTOTP) needs the current password and a code.

// Errors of the second factor.
var (
	// ErrSecondFactorRequired: the password was right, but the account has
	// a second factor; Authenticate returns it together with the user, and
	// nothing may be granted until VerifySecondFactor accepts a code.
	ErrSecondFactorRequired = errors.New("account: second factor required")
	// ErrInvalidCode: a wrong, expired or already used TOTP or recovery code.
	ErrInvalidCode = errors.New("account: invalid second-factor code")
	// ErrMFAUnavailable: no server secret was configured, so TOTP secrets
	// cannot be sealed.
	ErrMFAUnavailable = errors.New("account: second factors need the server secret")
	// ErrMFAEnabled: the account already has a second factor.
	ErrMFAEnabled = errors.New("account: second factor already enabled")
	// ErrNoEnrolment: no enrolment is pending (or another one replaced it).
	ErrNoEnrolment = errors.New("account: no second-factor enrolment pending")
	// ErrMFADisabled: the account has no second factor.
	ErrMFADisabled = errors.New("account: second factor not enabled")
	// ErrLoginExpired: a pending login ticket is unreadable, expired, or no
	// longer matches the account (password or second factor changed).
	ErrLoginExpired = errors.New("account: pending login expired")
)

// TOTP parameters (what authenticator apps assume when an otpauth URI
// names none).
const (
	totpPeriod     = 30
	totpDigits     = otp.DigitsSix
	totpSkew       = 1  // steps accepted either side of now
	totpSecretSize = 20 // bytes: 160 bits, RFC 4226 §4's recommendation
	// RecoveryCodes is how many recovery codes an enrolment makes.
	RecoveryCodes = 10
	// PendingLoginTTL bounds the time between the password and the code.
	PendingLoginTTL = 5 * time.Minute
)

// Sealer purposes (HKDF info strings) of the account package.
const (
	sealTOTP  = "multinexo totp secrets v1"
	sealLogin = "multinexo pending login v1"
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// sealers returns the TOTP and pending-login sealers, or
// ErrMFAUnavailable when no server secret was configured.
func (s *Service) sealers() (totpSealer, loginSealer *token.Sealer, err error) {
	if s.totpSealer == nil || s.loginSealer == nil {
		return nil, nil, ErrMFAUnavailable
	}
	return s.totpSealer, s.loginSealer, nil
}

// MFAAvailable reports whether second factors can be used (a server secret
// was configured).
func (s *Service) MFAAvailable() bool { return s.totpSealer != nil }

// TOTPEnrolment is what the person needs to add the account to an
// authenticator app: the otpauth URI (as a QR code too) and the secret in
// base32 for typing by hand.
type TOTPEnrolment struct {
	Secret string // base32, no padding, upper case
	URI    string // otpauth://totp/...
	QRPNG  []byte // the URI as a QR code; nil if it could not be drawn
}

// SecretGroups is the secret in groups of four characters, easier to type.
func (e *TOTPEnrolment) SecretGroups() string { return groups(e.Secret, 4) }

func groups(s string, n int) string {
	var b strings.Builder
	for i := 0; i < len(s); i += n {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s[i:min(i+n, len(s))])
	}
	return b.String()
}

// BeginTOTP starts an enrolment for userID: a new secret, stored sealed as
// pending (replacing an earlier pending one). ErrMFAEnabled when the
// account already has TOTP.
func (s *Service) BeginTOTP(ctx context.Context, userID string) (*TOTPEnrolment, error) {
	ts, _, err := s.sealers()
	if err != nil {
		return nil, err
	}
	u, err := s.st.GetUser(ctx, userID)
	if err != nil {
		return nil, err
	}
	if u.HasTOTP() {
		return nil, ErrMFAEnabled
	}
	raw := make([]byte, totpSecretSize)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	secret := b32.EncodeToString(raw)
	if err := s.st.SetPendingTOTP(ctx, u.ID, ts.Seal([]byte(secret), u.ID), s.cfg.Now().UTC()); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, ErrMFAEnabled
		}
		return nil, err
	}
	return s.enrolment(u, secret)
}

// PendingTOTP returns the enrolment waiting for its first code (to show it
// again after a mistyped code); ErrNoEnrolment when there is none.
func (s *Service) PendingTOTP(ctx context.Context, userID string) (*TOTPEnrolment, error) {
	u, err := s.st.GetUser(ctx, userID)
	if err != nil {
		return nil, err
	}
	if u.HasTOTP() {
		return nil, ErrMFAEnabled
	}
	if len(u.TOTPSecret) == 0 {
		return nil, ErrNoEnrolment
	}
	secret, err := s.openSecret(u)
	if err != nil {
		return nil, err
	}
	return s.enrolment(u, secret)
}

func (s *Service) enrolment(u *store.User, secret string) (*TOTPEnrolment, error) {
	raw, err := b32.DecodeString(secret)
	if err != nil {
		return nil, err
	}
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer: s.cfg.TOTPIssuer, AccountName: u.Email, Period: totpPeriod,
		Secret: raw, Digits: totpDigits, Algorithm: otp.AlgorithmSHA1,
	})
	if err != nil {
		return nil, err
	}
	e := &TOTPEnrolment{Secret: secret, URI: key.URL()}
	if img, err := key.Image(240, 240); err == nil {
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err == nil {
			e.QRPNG = buf.Bytes()
		}
	}
	return e, nil
}

// QRDataURL is the QR code as a data: URL for an <img> (CSP img-src data:);
// "" when there is none.
func (e *TOTPEnrolment) QRDataURL() string {
	if len(e.QRPNG) == 0 {
		return ""
	}
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(e.QRPNG)
}

// openSecret unseals u's TOTP secret.
func (s *Service) openSecret(u *store.User) (string, error) {
	ts, _, err := s.sealers()
	if err != nil {
		return "", err
	}
	pt, err := ts.Open(u.TOTPSecret, u.ID)
	if err != nil {
		return "", err
	}
	return string(pt), nil
}

// matchStep returns the latest time step within the skew around now whose
// code is code, or false. Every candidate is computed and compared in
// constant time.
func matchStep(secret, code string, now time.Time) (int64, bool) {
	if len(code) != totpDigits.Length() {
		return 0, false
	}
	step := now.Unix() / totpPeriod
	var found int64
	ok := 0
	for d := int64(-totpSkew); d <= totpSkew; d++ {
		c := step + d
		want, err := totp.GenerateCodeCustom(secret, time.Unix(c*totpPeriod, 0), totp.ValidateOpts{
			Period: totpPeriod, Digits: totpDigits, Algorithm: otp.AlgorithmSHA1,
		})
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			found, ok = c, 1
		}
	}
	return found, ok == 1
}

// normalizeCode removes the spaces and dashes people type or paste.
func normalizeCode(code string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '\t', '\u00a0':
			return -1
		}
		return r
	}, strings.TrimSpace(code))
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// ConfirmTOTP enables the pending enrolment of userID if code is a current
// code of its secret, and returns the new recovery codes (shown once).
// ErrInvalidCode for a wrong code; ErrNoEnrolment when none is pending (or
// another tab replaced it).
func (s *Service) ConfirmTOTP(ctx context.Context, userID, code string) ([]string, error) {
	u, err := s.st.GetUser(ctx, userID)
	if err != nil {
		return nil, err
	}
	if u.HasTOTP() {
		return nil, ErrMFAEnabled
	}
	if len(u.TOTPSecret) == 0 {
		return nil, ErrNoEnrolment
	}
	secret, err := s.openSecret(u)
	if err != nil {
		return nil, err
	}
	step, ok := matchStep(secret, normalizeCode(code), s.cfg.Now())
	if !ok {
		return nil, ErrInvalidCode
	}
	codes, hashes, err := newRecoveryCodes()
	if err != nil {
		return nil, err
	}
	// The step that confirmed the enrolment is used: it cannot log in.
	if err := s.st.EnableTOTP(ctx, u.ID, u.TOTPSecret, step, hashes, s.cfg.Now().UTC()); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, ErrNoEnrolment
		}
		return nil, err
	}
	// Like a password change: every browser session ends (the caller
	// starts a new one for the person who made the change).
	if _, err := s.st.DeleteUserSessions(ctx, u.ID); err != nil {
		return nil, err
	}
	s.event(ctx, "mfa.enabled", u.ID, "", "totp")
	return codes, nil
}

// newRecoveryCodes makes RecoveryCodes codes of 80 random bits, shown as
// xxxx-xxxx-xxxx-xxxx (lower-case base32), and their hashes.
func newRecoveryCodes() (codes []string, hashes [][]byte, err error) {
	seen := map[string]bool{}
	for len(codes) < RecoveryCodes {
		var b [10]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, nil, err
		}
		c := strings.ToLower(b32.EncodeToString(b[:]))
		if seen[c] {
			continue
		}
		seen[c] = true
		codes = append(codes, groups(c, 4))
		hashes = append(hashes, recoveryHash(c))
	}
	// groups uses spaces; recovery codes read better with dashes.
	for i, c := range codes {
		codes[i] = strings.ReplaceAll(c, " ", "-")
	}
	return codes, hashes, nil
}

// recoveryHash is how a normalised recovery code is stored.
func recoveryHash(normalized string) []byte { return store.HashToken("mnx recovery\x00" + normalized) }

// recoveryForm returns the normalised form of a typed recovery code, or
// false when it cannot be one.
func recoveryForm(code string) (string, bool) {
	c := strings.ToLower(code)
	if len(c) != 16 {
		return "", false
	}
	if _, err := b32.DecodeString(strings.ToUpper(c)); err != nil {
		return "", false
	}
	return c, true
}

// RegenerateRecoveryCodes replaces userID's recovery codes after checking
// a current code (TOTP or recovery), and returns the new ones.
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, userID, code, ip string) ([]string, error) {
	u, err := s.verifySecondFactor(ctx, userID, code, ip, false)
	if err != nil {
		return nil, err
	}
	codes, hashes, err := newRecoveryCodes()
	if err != nil {
		return nil, err
	}
	if err := s.st.ReplaceRecoveryCodes(ctx, u.ID, hashes, s.cfg.Now().UTC()); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, ErrMFADisabled
		}
		return nil, err
	}
	s.event(ctx, "mfa.recovery_regenerated", u.ID, ip, "")
	return codes, nil
}

// RecoveryCodesLeft returns how many unused recovery codes userID has.
func (s *Service) RecoveryCodesLeft(ctx context.Context, userID string) (int, error) {
	return s.st.CountRecoveryCodes(ctx, userID)
}

// useCode accepts code for u — a TOTP code of an unused step, or an unused
// recovery code — consuming it. method is "totp" or "recovery code".
func (s *Service) useCode(ctx context.Context, u *store.User, code string) (method string, err error) {
	c := normalizeCode(code)
	switch {
	case isDigits(c):
		secret, err := s.openSecret(u)
		if err != nil {
			return "", err
		}
		step, ok := matchStep(secret, c, s.cfg.Now())
		if !ok || step <= u.TOTPLastStep {
			return "", ErrInvalidCode
		}
		// The store decides: only one use of a step ever succeeds.
		if err := s.st.UseTOTPStep(ctx, u.ID, u.TOTPSecret, step); err != nil {
			if errors.Is(err, store.ErrAlreadyUsed) {
				return "", ErrInvalidCode
			}
			return "", err
		}
		return "totp", nil
	default:
		rc, ok := recoveryForm(c)
		if !ok {
			return "", ErrInvalidCode
		}
		if err := s.st.UseRecoveryCode(ctx, u.ID, recoveryHash(rc)); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return "", ErrInvalidCode
			}
			return "", err
		}
		return "recovery code", nil
	}
}

// VerifySecondFactor checks the second factor of userID, whose password
// was accepted (Authenticate answered ErrSecondFactorRequired), from client
// address ip. It applies the login throttling first (*ThrottledError);
// a wrong or reused code is ErrInvalidCode and counts as a failed login;
// an account that is gone, disabled or without TOTP is
// ErrInvalidCredentials. On success the failure counter is reset and the
// current user returned.
func (s *Service) VerifySecondFactor(ctx context.Context, userID, code, ip string) (*store.User, error) {
	return s.verifySecondFactor(ctx, userID, code, ip, true)
}

// verifySecondFactor is VerifySecondFactor; login says whether a success
// is a login (recorded as login.succeeded) or the check before a change
// to the second factor itself.
func (s *Service) verifySecondFactor(ctx context.Context, userID, code, ip string, login bool) (*store.User, error) {
	if _, _, err := s.sealers(); err != nil {
		return nil, err
	}
	u, err := s.st.GetUser(ctx, userID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, ErrInvalidCredentials
		}
		return nil, err
	}
	acctKey := counterKey("acct", u.EmailKey)
	ipKey := ""
	if ip != "" {
		ipKey = counterKey("ip", ip)
	}
	if err := s.lockedHere(ctx, acctKey, ipKey); err != nil {
		return nil, err
	}
	if err := s.throttle(ctx, acctKey, ipKey, u.ID, ip); err != nil {
		return nil, err
	}
	if u.Disabled || !u.HasTOTP() {
		return nil, ErrInvalidCredentials
	}
	method, err := s.useCode(ctx, u, code)
	if errors.Is(err, ErrInvalidCode) {
		s.failed(ctx, acctKey, ipKey)
		typ := "login.failed"
		if !login {
			typ = "mfa.change_failed"
		}
		s.event(ctx, typ, u.ID, ip, "wrong second factor")
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	if err := s.st.ResetCounter(ctx, acctKey); err != nil {
		s.log.ErrorContext(ctx, "resetting a login counter", "error", err)
	}
	if method == "recovery code" {
		s.event(ctx, "mfa.recovery_used", u.ID, ip, "")
	}
	if login {
		s.event(ctx, "login.succeeded", u.ID, ip, method)
	}
	return u, nil
}

// AuthenticateOTP is Authenticate followed, for accounts with a second
// factor, by VerifySecondFactor with otp: the password grant's login. An
// account with TOTP and no otp is ErrSecondFactorRequired (with no user);
// a wrong or reused otp is ErrInvalidCode.
func (s *Service) AuthenticateOTP(ctx context.Context, email, password, otp, ip string) (*store.User, error) {
	u, err := s.Authenticate(ctx, email, password, ip)
	if !errors.Is(err, ErrSecondFactorRequired) {
		return u, err
	}
	if strings.TrimSpace(otp) == "" {
		return nil, ErrSecondFactorRequired
	}
	return s.VerifySecondFactor(ctx, u.ID, otp, ip)
}

// DisableTOTP removes userID's second factor after checking the current
// password and a current code (TOTP or recovery code), both with the login
// throttling. ErrInvalidCredentials for a wrong password, ErrInvalidCode for
// a wrong code, ErrMFADisabled when there is nothing to disable.
func (s *Service) DisableTOTP(ctx context.Context, userID, password, code, ip string) error {
	u, err := s.st.GetUser(ctx, userID)
	if err != nil {
		return err
	}
	if !u.HasTOTP() {
		return ErrMFADisabled
	}
	if err := s.checkCurrentPassword(ctx, u, password, "mfa.change_failed"); err != nil {
		return err
	}
	if _, err := s.verifySecondFactor(ctx, u.ID, code, ip, false); err != nil {
		return err
	}
	if err := s.st.DisableTOTP(ctx, u.ID, s.cfg.Now().UTC()); err != nil {
		return err
	}
	if _, err := s.st.DeleteUserSessions(ctx, u.ID); err != nil {
		return err
	}
	s.event(ctx, "mfa.disabled", u.ID, ip, "")
	return nil
}

// checkCurrentPassword verifies u's password for a change to the account,
// with the login throttling; a wrong one counts as a failure, is recorded
// as event failType and is ErrInvalidCredentials.
func (s *Service) checkCurrentPassword(ctx context.Context, u *store.User, password, failType string) error {
	acctKey := counterKey("acct", u.EmailKey)
	if err := s.throttle(ctx, acctKey, "", u.ID, ""); err != nil {
		return err
	}
	ok := false
	if password != "" && len(password) <= MaxPasswordBytes {
		var verr error
		ok, _, verr = s.verifyPassword(ctx, password, u.PasswordHash)
		if verr != nil && !errors.Is(verr, errBadHash) {
			return verr
		}
	}
	if !ok {
		s.failed(ctx, acctKey, "")
		s.event(ctx, failType, u.ID, "", "wrong current password")
		return ErrInvalidCredentials
	}
	return nil
}

// Pending logins: between a right password and the second factor, the
// browser holds a ticket — sealed with the server secret (so any instance
// reads it and nobody can forge or read it), valid PendingLoginTTL, naming
// the user and a fingerprint of the password hash and TOTP secret (a
// change to either ends it). It grants nothing by itself: only
// VerifySecondFactor turns it into a login.

type loginTicket struct {
	UserID  string `json:"u"`
	Expires int64  `json:"e"`
	FP      string `json:"f"`
}

func fingerprint(u *store.User) string {
	h := sha256.New()
	h.Write([]byte(u.PasswordHash))
	h.Write([]byte{0})
	h.Write(u.TOTPSecret)
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:12])
}

// PendingLogin returns a ticket for u's second step and when it expires.
func (s *Service) PendingLogin(u *store.User) (string, time.Time, error) {
	_, ls, err := s.sealers()
	if err != nil {
		return "", time.Time{}, err
	}
	exp := s.cfg.Now().Add(PendingLoginTTL)
	b, err := json.Marshal(loginTicket{UserID: u.ID, Expires: exp.Unix(), FP: fingerprint(u)})
	if err != nil {
		return "", time.Time{}, err
	}
	return base64.RawURLEncoding.EncodeToString(ls.Seal(b, "pending login")), exp, nil
}

// ResumeLogin reads a ticket made by PendingLogin and returns the user it
// names, or ErrLoginExpired.
func (s *Service) ResumeLogin(ctx context.Context, ticket string) (*store.User, error) {
	_, ls, err := s.sealers()
	if err != nil {
		return nil, err
	}
	if ticket == "" || len(ticket) > 1024 {
		return nil, ErrLoginExpired
	}
	raw, err := base64.RawURLEncoding.DecodeString(ticket)
	if err != nil {
		return nil, ErrLoginExpired
	}
	b, err := ls.Open(raw, "pending login")
	if err != nil {
		return nil, ErrLoginExpired
	}
	var t loginTicket
	if err := json.Unmarshal(b, &t); err != nil || t.UserID == "" {
		return nil, ErrLoginExpired
	}
	if !s.cfg.Now().Before(time.Unix(t.Expires, 0)) {
		return nil, ErrLoginExpired
	}
	u, err := s.st.GetUser(ctx, t.UserID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, ErrLoginExpired
		}
		return nil, err
	}
	if u.Disabled || !u.HasTOTP() || subtle.ConstantTimeCompare([]byte(fingerprint(u)), []byte(t.FP)) != 1 {
		return nil, ErrLoginExpired
	}
	return u, nil
}
