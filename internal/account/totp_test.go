package account

import (
	"errors"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/multinexo/auth/internal/store"
)

const testSecret = "a server secret that is long enough for hkdf"

// code returns the TOTP code of secret at t.
func code(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// enrolled registers ana with TOTP enabled and returns her, the secret and
// the recovery codes. The clock is left one step after the confirming code.
func enrolled(t *testing.T, s *Service, c *clock) (*store.User, string, []string) {
	t.Helper()
	u, err := s.Register(t.Context(), RegisterInput{Email: "ana@example.com", Password: "caballo correcto batería", FirstName: "Ana", LastName: "Pérez"})
	if err != nil {
		t.Fatal(err)
	}
	e, err := s.BeginTOTP(t.Context(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	codes, err := s.ConfirmTOTP(t.Context(), u.ID, code(t, e.Secret, c.Now()))
	if err != nil {
		t.Fatal(err)
	}
	c.Add(30 * time.Second)
	return u, e.Secret, codes
}

func events(t *testing.T, st store.Store) []string {
	t.Helper()
	l, _, err := st.ListEvents(t.Context(), store.ListOptions{Page: store.Page{Number: 1, Size: 100}, Sort: "time"})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range l {
		out = append(out, e.Type)
	}
	return out
}

func TestTOTPEnrolment(t *testing.T) {
	s, st, c := newService(t, Config{Secret: testSecret})
	ctx := t.Context()
	u, err := s.Register(ctx, RegisterInput{Email: "ana@example.com", Password: "caballo correcto batería", FirstName: "Ana", LastName: "Pérez"})
	if err != nil {
		t.Fatal(err)
	}
	e, err := s.BeginTOTP(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	// What authenticator apps expect: SHA1, 6 digits, 30 s, a 160-bit secret.
	key, err := otp.NewKeyFromURL(e.URI)
	if err != nil {
		t.Fatal(err)
	}
	if key.Type() != "totp" || key.Secret() != e.Secret || key.Issuer() != "Multinexo" || key.AccountName() != "ana@example.com" ||
		key.Period() != 30 || key.Digits() != otp.DigitsSix || key.Algorithm() != otp.AlgorithmSHA1 || len(e.Secret) != 32 {
		t.Fatalf("otpauth URI %s", e.URI)
	}
	if !strings.HasPrefix(e.QRDataURL(), "data:image/png;base64,") || len(e.QRPNG) < 100 {
		t.Fatalf("no QR code: %d bytes", len(e.QRPNG))
	}
	if g := e.SecretGroups(); len(g) != 32+7 || strings.ReplaceAll(g, " ", "") != e.Secret {
		t.Fatalf("SecretGroups = %q", g)
	}
	// Stored sealed, never in clear.
	stored, _ := st.GetUser(ctx, u.ID)
	if len(stored.TOTPSecret) == 0 || strings.Contains(string(stored.TOTPSecret), e.Secret) || stored.HasTOTP() {
		t.Fatalf("stored secret %q, enabled %v", stored.TOTPSecret, stored.HasTOTP())
	}
	// Pending: the password alone still logs in.
	if _, err := s.Authenticate(ctx, "ana@example.com", "caballo correcto batería", ""); err != nil {
		t.Fatalf("Authenticate while pending: %v", err)
	}
	// Shown again after a mistake: the same secret.
	again, err := s.PendingTOTP(ctx, u.ID)
	if err != nil || again.Secret != e.Secret {
		t.Fatalf("PendingTOTP = %v, %v", again, err)
	}
	// A wrong code does not enable it.
	wrong := code(t, e.Secret, c.Now().Add(5*time.Minute))
	if _, err := s.ConfirmTOTP(ctx, u.ID, wrong); !errors.Is(err, ErrInvalidCode) {
		t.Fatalf("ConfirmTOTP wrong code: %v", err)
	}
	codes, err := s.ConfirmTOTP(ctx, u.ID, " "+code(t, e.Secret, c.Now())[:3]+" "+code(t, e.Secret, c.Now())[3:])
	if err != nil {
		t.Fatalf("ConfirmTOTP: %v", err)
	}
	if len(codes) != RecoveryCodes {
		t.Fatalf("%d recovery codes", len(codes))
	}
	for _, rc := range codes {
		if len(rc) != 19 || strings.Count(rc, "-") != 3 || strings.ToLower(rc) != rc {
			t.Errorf("recovery code %q", rc)
		}
	}
	if n, _ := s.RecoveryCodesLeft(ctx, u.ID); n != RecoveryCodes {
		t.Fatalf("RecoveryCodesLeft = %d", n)
	}
	// Enabled: the password alone does not log in any more.
	got, err := s.Authenticate(ctx, "ana@example.com", "caballo correcto batería", "")
	if !errors.Is(err, ErrSecondFactorRequired) || got == nil || got.ID != u.ID {
		t.Fatalf("Authenticate with TOTP: %v, %v", got, err)
	}
	if _, err := s.BeginTOTP(ctx, u.ID); !errors.Is(err, ErrMFAEnabled) {
		t.Fatalf("BeginTOTP again: %v", err)
	}
	if _, err := s.ConfirmTOTP(ctx, u.ID, code(t, e.Secret, c.Now())); !errors.Is(err, ErrMFAEnabled) {
		t.Fatalf("ConfirmTOTP again: %v", err)
	}
	// The code that confirmed the enrolment cannot log in (same step).
	if _, err := s.VerifySecondFactor(ctx, u.ID, code(t, e.Secret, c.Now()), ""); !errors.Is(err, ErrInvalidCode) {
		t.Fatalf("confirming code reused: %v", err)
	}
	if ev := events(t, st); !slices.Contains(ev, "mfa.enabled") {
		t.Errorf("events %v", ev)
	}
}

func TestTOTPSkewAndReplay(t *testing.T) {
	s, _, c := newService(t, Config{Secret: testSecret})
	ctx := t.Context()
	u, secret, _ := enrolled(t, s, c)
	now := c.Now()
	// Two steps away: refused, either way.
	for _, d := range []time.Duration{-61 * time.Second, 61 * time.Second} {
		if _, err := s.VerifySecondFactor(ctx, u.ID, code(t, secret, now.Add(d)), ""); !errors.Is(err, ErrInvalidCode) {
			t.Errorf("code %v away: %v", d, err)
		}
	}
	// One step behind (a slow phone): accepted.
	c.Add(30 * time.Second)
	if _, err := s.VerifySecondFactor(ctx, u.ID, code(t, secret, c.Now().Add(-30*time.Second)), ""); err != nil {
		t.Fatalf("code one step behind: %v", err)
	}
	// Replayed: refused, also from another "address".
	if _, err := s.VerifySecondFactor(ctx, u.ID, code(t, secret, c.Now().Add(-30*time.Second)), "198.51.100.7"); !errors.Is(err, ErrInvalidCode) {
		t.Fatalf("replayed code: %v", err)
	}
	// One step ahead (a fast phone): accepted; then the current step,
	// older than the last accepted one, is refused.
	if _, err := s.VerifySecondFactor(ctx, u.ID, code(t, secret, c.Now().Add(30*time.Second)), ""); err != nil {
		t.Fatalf("code one step ahead: %v", err)
	}
	if _, err := s.VerifySecondFactor(ctx, u.ID, code(t, secret, c.Now()), ""); !errors.Is(err, ErrInvalidCode) {
		t.Fatalf("older code after a newer one: %v", err)
	}
	// Garbage never matches.
	for _, bad := range []string{"", "12345", "1234567", "abcdef", "12 34 5x"} {
		if _, err := s.VerifySecondFactor(ctx, u.ID, bad, ""); !errors.Is(err, ErrInvalidCode) {
			t.Errorf("code %q: %v", bad, err)
		}
	}
}

func TestTOTPConcurrentUse(t *testing.T) {
	s, _, c := newService(t, Config{Secret: testSecret})
	u, secret, _ := enrolled(t, s, c)
	cd := code(t, secret, c.Now())
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, refused := 0, 0
	for range 8 {
		wg.Go(func() {
			_, err := s.VerifySecondFactor(t.Context(), u.ID, cd, "")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, ErrInvalidCode):
				refused++
			default:
				t.Errorf("unexpected %v", err)
			}
		})
	}
	wg.Wait()
	if ok != 1 || refused != 7 {
		t.Fatalf("%d accepted, %d refused; want 1 and 7", ok, refused)
	}
}

func TestRecoveryCodes(t *testing.T) {
	s, st, c := newService(t, Config{Secret: testSecret})
	ctx := t.Context()
	u, _, codes := enrolled(t, s, c)
	// Typed in capitals, without dashes, with spaces: still the code.
	typed := strings.ToUpper(strings.ReplaceAll(codes[0], "-", " "))
	if _, err := s.VerifySecondFactor(ctx, u.ID, typed, ""); err != nil {
		t.Fatalf("recovery code: %v", err)
	}
	if _, err := s.VerifySecondFactor(ctx, u.ID, codes[0], ""); !errors.Is(err, ErrInvalidCode) {
		t.Fatalf("recovery code used twice: %v", err)
	}
	if n, _ := s.RecoveryCodesLeft(ctx, u.ID); n != RecoveryCodes-1 {
		t.Fatalf("RecoveryCodesLeft = %d", n)
	}
	if _, err := s.VerifySecondFactor(ctx, u.ID, "aaaa-bbbb-cccc-dddd", ""); !errors.Is(err, ErrInvalidCode) {
		t.Fatalf("made-up recovery code: %v", err)
	}
	if ev := events(t, st); !slices.Contains(ev, "mfa.recovery_used") {
		t.Errorf("events %v", ev)
	}
	// Concurrent uses of one code: one wins.
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 6 {
		wg.Go(func() {
			if _, err := s.VerifySecondFactor(ctx, u.ID, codes[1], ""); err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d concurrent uses of one recovery code won", wins)
	}
	// New codes replace the old ones.
	fresh, err := s.RegenerateRecoveryCodes(ctx, u.ID, codes[2], "")
	if err != nil || len(fresh) != RecoveryCodes {
		t.Fatalf("RegenerateRecoveryCodes = %d, %v", len(fresh), err)
	}
	if _, err := s.VerifySecondFactor(ctx, u.ID, codes[3], ""); !errors.Is(err, ErrInvalidCode) {
		t.Fatalf("old code after regeneration: %v", err)
	}
	if _, err := s.VerifySecondFactor(ctx, u.ID, fresh[9], ""); err != nil {
		t.Fatalf("new code: %v", err)
	}
}

func TestSecondFactorThrottling(t *testing.T) {
	s, st, c := newService(t, Config{Secret: testSecret, LockAfter: 4, SlowAfter: 100})
	ctx := t.Context()
	u, secret, _ := enrolled(t, s, c)
	// A right password never resets the counter for an account with TOTP:
	// otherwise knowing the password would allow guessing codes forever.
	for i := range 4 {
		if _, err := s.Authenticate(ctx, "ana@example.com", "caballo correcto batería", ""); !errors.Is(err, ErrSecondFactorRequired) {
			t.Fatalf("attempt %d: password: %v", i, err)
		}
		if _, err := s.VerifySecondFactor(ctx, u.ID, "000000", ""); !errors.Is(err, ErrInvalidCode) {
			// 000000 could be right once in a million runs.
			if err != nil {
				t.Fatalf("attempt %d: %v", i, err)
			}
		}
	}
	var te *ThrottledError
	if _, err := s.VerifySecondFactor(ctx, u.ID, code(t, secret, c.Now()), ""); !errors.As(err, &te) {
		t.Fatalf("right code after the limit: %v", err)
	}
	if _, err := s.Authenticate(ctx, "ana@example.com", "caballo correcto batería", ""); !errors.As(err, &te) {
		t.Fatalf("right password after the limit: %v", err)
	}
	if _, err := s.AuthenticateOTP(ctx, "ana@example.com", "caballo correcto batería", code(t, secret, c.Now()), ""); !errors.As(err, &te) {
		t.Fatalf("password grant after the limit: %v", err)
	}
	// The window ends: a right code works and resets the counter.
	c.Add(15 * time.Minute)
	if _, err := s.VerifySecondFactor(ctx, u.ID, code(t, secret, c.Now()), ""); err != nil {
		t.Fatalf("after the window: %v", err)
	}
	if ev := events(t, st); !slices.Contains(ev, "login.throttled") {
		t.Errorf("events %v", ev)
	}
}

func TestAuthenticateOTP(t *testing.T) {
	s, _, c := newService(t, Config{Secret: testSecret})
	ctx := t.Context()
	u, secret, _ := enrolled(t, s, c)
	const pw = "caballo correcto batería"
	if _, err := s.AuthenticateOTP(ctx, "ana@example.com", pw, "", ""); !errors.Is(err, ErrSecondFactorRequired) {
		t.Fatalf("no otp: %v", err)
	}
	if _, err := s.AuthenticateOTP(ctx, "ana@example.com", "equivocada", code(t, secret, c.Now()), ""); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("wrong password, right code: %v", err)
	}
	if _, err := s.AuthenticateOTP(ctx, "ana@example.com", pw, "123", ""); !errors.Is(err, ErrInvalidCode) {
		t.Fatalf("wrong otp: %v", err)
	}
	cd := code(t, secret, c.Now())
	got, err := s.AuthenticateOTP(ctx, "ana@example.com", pw, cd, "")
	if err != nil || got.ID != u.ID {
		t.Fatalf("right otp: %v, %v", got, err)
	}
	if _, err := s.AuthenticateOTP(ctx, "ana@example.com", pw, cd, ""); !errors.Is(err, ErrInvalidCode) {
		t.Fatalf("replayed otp: %v", err)
	}
	// Accounts without TOTP ignore otp.
	if _, err := s.Register(ctx, RegisterInput{Email: "bea@example.com", Password: pw, FirstName: "Bea", LastName: "Ruiz"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AuthenticateOTP(ctx, "bea@example.com", pw, "999999", ""); err != nil {
		t.Fatalf("account without TOTP: %v", err)
	}
}

func TestDisableTOTP(t *testing.T) {
	s, st, c := newService(t, Config{Secret: testSecret})
	ctx := t.Context()
	u, secret, codes := enrolled(t, s, c)
	if err := s.DisableTOTP(ctx, u.ID, "equivocada", code(t, secret, c.Now()), ""); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("wrong password: %v", err)
	}
	if err := s.DisableTOTP(ctx, u.ID, "caballo correcto batería", "000001", ""); !errors.Is(err, ErrInvalidCode) {
		t.Fatalf("wrong code: %v", err)
	}
	if err := s.DisableTOTP(ctx, u.ID, "caballo correcto batería", codes[4], ""); err != nil {
		t.Fatalf("DisableTOTP with a recovery code: %v", err)
	}
	if _, err := s.Authenticate(ctx, "ana@example.com", "caballo correcto batería", ""); err != nil {
		t.Fatalf("password alone after disabling: %v", err)
	}
	if n, _ := s.RecoveryCodesLeft(ctx, u.ID); n != 0 {
		t.Fatalf("%d recovery codes left", n)
	}
	if err := s.DisableTOTP(ctx, u.ID, "caballo correcto batería", "", ""); !errors.Is(err, ErrMFADisabled) {
		t.Fatalf("DisableTOTP twice: %v", err)
	}
	ev := events(t, st)
	if !slices.Contains(ev, "mfa.disabled") || !slices.Contains(ev, "mfa.change_failed") {
		t.Errorf("events %v", ev)
	}
	// Checking the code before a change is not a login.
	if i, j := slices.Index(ev, "mfa.enabled"), slices.Index(ev, "mfa.disabled"); slices.Contains(ev[i:j], "login.succeeded") {
		t.Errorf("disabling recorded a login: %v", ev)
	}
}

func TestPendingLogin(t *testing.T) {
	s, st, c := newService(t, Config{Secret: testSecret})
	ctx := t.Context()
	u, _, _ := enrolled(t, s, c)
	u, _ = st.GetUser(ctx, u.ID) // as Authenticate returns it
	ticket, exp, err := s.PendingLogin(u)
	if err != nil {
		t.Fatal(err)
	}
	if exp.Sub(c.Now()) != PendingLoginTTL {
		t.Fatalf("expires in %v", exp.Sub(c.Now()))
	}
	if strings.Contains(ticket, u.ID) {
		t.Fatal("ticket shows the user id")
	}
	got, err := s.ResumeLogin(ctx, ticket)
	if err != nil || got.ID != u.ID {
		t.Fatalf("ResumeLogin = %v, %v", got, err)
	}
	for name, bad := range map[string]string{"empty": "", "garbage": "abc", "altered": ticket[:len(ticket)-2] + "AA", "url": url.QueryEscape(ticket + "=")} {
		if _, err := s.ResumeLogin(ctx, bad); !errors.Is(err, ErrLoginExpired) {
			t.Errorf("%s ticket: %v", name, err)
		}
	}
	// Another server secret cannot read it.
	other := NewService(st, Config{Secret: "another server secret, long enough too", Now: c.Now})
	if _, err := other.ResumeLogin(ctx, ticket); !errors.Is(err, ErrLoginExpired) {
		t.Errorf("other secret: %v", err)
	}
	// A password change ends it.
	if err := s.ChangePassword(ctx, u.ID, "caballo correcto batería", "otra contraseña larga"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ResumeLogin(ctx, ticket); !errors.Is(err, ErrLoginExpired) {
		t.Errorf("after a password change: %v", err)
	}
	u, _ = st.GetUser(ctx, u.ID)
	ticket, _, _ = s.PendingLogin(u)
	c.Add(PendingLoginTTL)
	if _, err := s.ResumeLogin(ctx, ticket); !errors.Is(err, ErrLoginExpired) {
		t.Errorf("after %v: %v", PendingLoginTTL, err)
	}
}

func TestMFAUnavailableWithoutSecret(t *testing.T) {
	s, _, _ := newService(t, Config{})
	u, err := s.Register(t.Context(), RegisterInput{Email: "ana@example.com", Password: "caballo correcto batería", FirstName: "Ana", LastName: "Pérez"})
	if err != nil {
		t.Fatal(err)
	}
	if s.MFAAvailable() {
		t.Fatal("MFAAvailable without a secret")
	}
	if _, err := s.BeginTOTP(t.Context(), u.ID); !errors.Is(err, ErrMFAUnavailable) {
		t.Fatalf("BeginTOTP: %v", err)
	}
	if _, _, err := s.PendingLogin(u); !errors.Is(err, ErrMFAUnavailable) {
		t.Fatalf("PendingLogin: %v", err)
	}
}

// TestSecondFactorChangesEndSessions: turning the second factor on or off
// ends every browser session of the account, as a password change does.
func TestSecondFactorChangesEndSessions(t *testing.T) {
	s, st, c := newService(t, Config{Secret: testSecret})
	ctx := t.Context()
	u, err := s.Register(ctx, RegisterInput{Email: "ana@example.com", Password: "caballo correcto batería"})
	if err != nil {
		t.Fatal(err)
	}
	session := func(id string) {
		t.Helper()
		if err := st.CreateSession(ctx, &store.Session{ID: id, UserID: u.ID, ExpiresAt: c.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	gone := func(when, id string) {
		t.Helper()
		if _, err := st.GetSession(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: session %s survived: %v", when, id, err)
		}
	}
	session("before-enable")
	e, err := s.BeginTOTP(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.GetSession(ctx, "before-enable"); err != nil {
		t.Fatalf("starting an enrolment ended a session: %v", err)
	}
	if _, err := s.ConfirmTOTP(ctx, u.ID, code(t, e.Secret, c.Now())); err != nil {
		t.Fatal(err)
	}
	gone("enable", "before-enable")
	c.Add(30 * time.Second)
	session("before-disable")
	if err := s.DisableTOTP(ctx, u.ID, "caballo correcto batería", code(t, e.Secret, c.Now()), ""); err != nil {
		t.Fatal(err)
	}
	gone("disable", "before-disable")
}
