package account

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/multinexo/auth/internal/mail"
	"github.com/multinexo/auth/internal/store"
)

// newMailService is newService with mail and second factors.
func newMailService(t *testing.T, cfg Config) (*Service, store.Store, *clock, *mail.Composer) {
	t.Helper()
	mc, err := mail.NewComposer(testSecret, "https://auth.example.com")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Mail, cfg.Secret = mc, testSecret
	s, st, c := newService(t, cfg)
	return s, st, c, mc
}

// outbox returns the queued messages, oldest first, with their contents.
func outbox(t *testing.T, st store.Store, mc *mail.Composer) ([]*store.OutboxMessage, []*mail.Content) {
	t.Helper()
	l, err := st.ClaimMail(t.Context(), time.Now().Add(1000*time.Hour), 100000*time.Hour, 100)
	if err != nil {
		t.Fatal(err)
	}
	var cs []*mail.Content
	for _, m := range l {
		ct, err := mc.Open(m)
		if err != nil {
			t.Fatal(err)
		}
		cs = append(cs, ct)
	}
	return l, cs
}

// lastLink returns the secret of the newest message of kind to to.
func lastLink(t *testing.T, st store.Store, mc *mail.Composer, kind, to string) string {
	t.Helper()
	l, cs := outbox(t, st, mc)
	for i := len(l) - 1; i >= 0; i-- {
		if l[i].Kind == kind && l[i].Recipient == to {
			u, err := url.Parse(cs[i].Link)
			if err != nil {
				t.Fatal(err)
			}
			return u.Query().Get("token")
		}
	}
	t.Fatalf("no %s message to %s", kind, to)
	return ""
}

func kinds(t *testing.T, st store.Store, mc *mail.Composer) []string {
	l, _ := outbox(t, st, mc)
	var out []string
	for _, m := range l {
		out = append(out, m.Kind+" "+m.Recipient)
	}
	slices.Sort(out)
	return out
}

const pw = "caballo correcto batería"

func TestRegisterSendsVerification(t *testing.T) {
	s, st, c, mc := newMailService(t, Config{})
	u, err := s.Register(t.Context(), RegisterInput{Email: "Ana@Example.com", Password: pw, FirstName: "Ana", LastName: "P", Lang: "en"})
	if err != nil {
		t.Fatal(err)
	}
	if u.EmailVerified || u.Lang != "en" {
		t.Fatalf("registered %+v", u)
	}
	l, cs := outbox(t, st, mc)
	if len(l) != 1 || l[0].Kind != mail.KindVerify || l[0].Recipient != "Ana@Example.com" || l[0].Subject != "Confirm your email" ||
		!strings.HasPrefix(cs[0].Link, "https://auth.example.com/verify-email?token=") {
		t.Fatalf("queued %+v %+v", l, cs)
	}
	lu, _ := url.Parse(cs[0].Link)
	secret := lu.Query().Get("token")
	if len(secret) < 22 { // ≥ 128 bits in base64url
		t.Fatalf("link secret %q too short", secret)
	}
	if _, _, err := st.GetAccountToken(t.Context(), store.HashToken(secret), store.TokenVerify, c.Now()); err == nil {
		t.Fatal("the link's secret is stored as the bare hash of the secret; want a purpose-bound hash")
	}
	if _, err := s.VerifyEmail(t.Context(), secret+"x", ""); !errors.Is(err, ErrLinkInvalid) {
		t.Fatalf("a wrong link: %v", err)
	}
	v, err := s.VerifyEmail(t.Context(), secret, "")
	if err != nil || !v.EmailVerified {
		t.Fatalf("VerifyEmail: %+v %v", v, err)
	}
	if _, err := s.VerifyEmail(t.Context(), secret, ""); !errors.Is(err, ErrLinkUsed) {
		t.Fatalf("a second use: %v", err)
	}
	if err := s.SendVerification(t.Context(), u.ID, ""); !errors.Is(err, ErrAlreadyVerified) {
		t.Fatalf("resend when verified: %v", err)
	}
	// An operator-vouched account gets no link.
	if _, err := s.Register(t.Context(), RegisterInput{Email: "bo@example.com", Password: pw, FirstName: "B", LastName: "P", EmailVerified: true}); err != nil {
		t.Fatal(err)
	}
	if k := kinds(t, st, mc); len(k) != 0 {
		t.Fatalf("queued for a vouched account: %v", k)
	}
}

func TestVerificationExpiresAndResend(t *testing.T) {
	s, st, c, mc := newMailService(t, Config{MailLimit: 2})
	u, err := s.Register(t.Context(), RegisterInput{Email: "ana@example.com", Password: pw, FirstName: "A", LastName: "P"})
	if err != nil {
		t.Fatal(err)
	}
	first := lastLink(t, st, mc, mail.KindVerify, "ana@example.com")
	c.Add(VerifyTTL)
	if _, err := s.VerifyEmail(t.Context(), first, ""); !errors.Is(err, ErrLinkExpired) {
		t.Fatalf("after 24 h: %v", err)
	}
	for range 2 {
		if err := s.SendVerification(t.Context(), u.ID, ""); err != nil {
			t.Fatal(err)
		}
	}
	var te *ThrottledError
	if err := s.SendVerification(t.Context(), u.ID, ""); !errors.As(err, &te) {
		t.Fatalf("third resend in an hour: %v", err)
	}
	second := lastLink(t, st, mc, mail.KindVerify, "ana@example.com")
	if _, err := s.VerifyEmail(t.Context(), second, ""); err != nil {
		t.Fatal(err)
	}
}

func TestRequireVerifiedEmail(t *testing.T) {
	s, st, _, mc := newMailService(t, Config{RequireVerifiedEmail: true})
	if _, err := s.Register(t.Context(), RegisterInput{Email: "ana@example.com", Password: pw, FirstName: "A", LastName: "P"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(t.Context(), "ana@example.com", "wrong password!", ""); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("wrong password: %v", err)
	}
	if _, err := s.Authenticate(t.Context(), "ana@example.com", pw, ""); !errors.Is(err, ErrEmailNotVerified) {
		t.Fatalf("unverified: %v", err)
	}
	if _, err := s.VerifyEmail(t.Context(), lastLink(t, st, mc, mail.KindVerify, "ana@example.com"), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(t.Context(), "ana@example.com", pw, ""); err != nil {
		t.Fatalf("verified: %v", err)
	}
}

func TestPasswordReset(t *testing.T) {
	s, st, c, mc := newMailService(t, Config{})
	u, err := s.Register(t.Context(), RegisterInput{Email: "ana@example.com", Password: pw, FirstName: "A", LastName: "P"})
	if err != nil {
		t.Fatal(err)
	}
	outbox(t, st, mc) // drop the verification message
	now := c.Now()
	if err := st.CreateSession(t.Context(), &store.Session{ID: "s1", SecretHash: []byte("h"), UserID: u.ID, AuthTime: now,
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := s.RequestPasswordReset(t.Context(), "nobody@example.com", "192.0.2.1"); err != nil {
		t.Fatalf("unknown address: %v", err)
	}
	if k := kinds(t, st, mc); len(k) != 0 {
		t.Fatalf("queued for an unknown address: %v", k)
	}
	if err := s.RequestPasswordReset(t.Context(), "ANA@example.com", "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	secret := lastLink(t, st, mc, mail.KindReset, "ana@example.com")
	if _, err := s.ResetPassword(t.Context(), secret, "corto", ""); validationCode(t, err, "password") == "" {
		t.Fatal("a short password accepted")
	}
	nu, err := s.ResetPassword(t.Context(), secret, "otra contraseña bastante larga", "")
	if err != nil {
		t.Fatal(err)
	}
	if !nu.EmailVerified {
		t.Error("a followed reset link did not verify the address")
	}
	if _, err := st.GetSession(t.Context(), "s1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("session after the reset: %v", err)
	}
	if _, err := s.Authenticate(t.Context(), "ana@example.com", pw, ""); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("old password: %v", err)
	}
	if _, err := s.Authenticate(t.Context(), "ana@example.com", "otra contraseña bastante larga", ""); err != nil {
		t.Errorf("new password: %v", err)
	}
	if k := kinds(t, st, mc); !slices.Equal(k, []string{"password_changed ana@example.com"}) {
		t.Errorf("queued %v, want the notice", k)
	}
	if _, err := s.ResetPassword(t.Context(), secret, "y otra contraseña más larga", ""); !errors.Is(err, ErrLinkUsed) {
		t.Errorf("second use: %v", err)
	}
	// 30 minutes.
	if err := s.RequestPasswordReset(t.Context(), "ana@example.com", ""); err != nil {
		t.Fatal(err)
	}
	late := lastLink(t, st, mc, mail.KindReset, "ana@example.com")
	c.Add(ResetTTL)
	if _, err := s.ResetPassword(t.Context(), late, "y otra contraseña más larga", ""); !errors.Is(err, ErrLinkExpired) {
		t.Errorf("after 30 min: %v", err)
	}
}

// TestResetLimits: per address (known or not, alike) and per client address.
func TestResetLimits(t *testing.T) {
	s, _, _, _ := newMailService(t, Config{MailLimit: 2, ResetIPLimit: 3})
	if _, err := s.Register(t.Context(), RegisterInput{Email: "ana@example.com", Password: pw, FirstName: "A", LastName: "P"}); err != nil {
		t.Fatal(err)
	}
	var te *ThrottledError
	for _, email := range []string{"ana@example.com", "nobody@example.com"} {
		for i := range 3 {
			err := s.RequestPasswordReset(t.Context(), email, "")
			if (i < 2) != (err == nil) || (i == 2 && !errors.As(err, &te)) {
				t.Fatalf("%s request %d: %v", email, i+1, err)
			}
		}
	}
	for i := range 4 {
		err := s.RequestPasswordReset(t.Context(), "x"+string(rune('a'+i))+"@example.com", "192.0.2.9")
		if (i < 3) != (err == nil) {
			t.Fatalf("address request %d: %v", i+1, err)
		}
	}
}

// TestResetKeepsSecondFactor: a reset proves the mailbox, not the phone.
func TestResetKeepsSecondFactor(t *testing.T) {
	s, st, _, mc := newMailService(t, Config{})
	c := &clock{now: time.Date(2026, 3, 1, 10, 5, 0, 0, time.UTC)}
	s.cfg.Now = c.Now
	enrolled(t, s, c)
	if err := s.RequestPasswordReset(t.Context(), "ana@example.com", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ResetPassword(t.Context(), lastLink(t, st, mc, mail.KindReset, "ana@example.com"), "otra contraseña bastante larga", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(t.Context(), "ana@example.com", "otra contraseña bastante larga", ""); !errors.Is(err, ErrSecondFactorRequired) {
		t.Fatalf("after the reset: %v, want the second factor still required", err)
	}
}

func TestEmailChangeNeedsConfirmation(t *testing.T) {
	s, st, _, mc := newMailService(t, Config{})
	u, err := s.Register(t.Context(), RegisterInput{Email: "ana@example.com", Password: pw, FirstName: "A", LastName: "P"})
	if err != nil {
		t.Fatal(err)
	}
	outbox(t, st, mc)
	newAddr := "nueva@example.com"
	got, pending, err := s.UpdateProfileMail(t.Context(), u.ID, ProfileUpdate{Email: &newAddr, CurrentPassword: ptr(pw)})
	if err != nil || pending != newAddr || got.Email != "ana@example.com" {
		t.Fatalf("UpdateProfileMail: %+v %q %v", got, pending, err)
	}
	if k := kinds(t, st, mc); !slices.Equal(k, []string{"email_change nueva@example.com", "email_change_notice ana@example.com"}) {
		t.Fatalf("queued %v", k)
	}
	// Ask again (the first messages were claimed above) and confirm.
	if _, _, err := s.UpdateProfileMail(t.Context(), u.ID, ProfileUpdate{Email: &newAddr, CurrentPassword: ptr(pw)}); err != nil {
		t.Fatal(err)
	}
	secret := lastLink(t, st, mc, mail.KindEmailChange, newAddr)
	cu, err := s.ConfirmEmailChange(t.Context(), secret, "")
	if err != nil || cu.Email != newAddr || !cu.EmailVerified {
		t.Fatalf("confirmed %+v %v", cu, err)
	}
	if _, err := s.Authenticate(t.Context(), newAddr, pw, ""); err != nil {
		t.Fatalf("sign in with the new address: %v", err)
	}
}

func TestEmailChangeTakenAtConfirmation(t *testing.T) {
	s, st, _, mc := newMailService(t, Config{})
	u, err := s.Register(t.Context(), RegisterInput{Email: "ana@example.com", Password: pw, FirstName: "A", LastName: "P"})
	if err != nil {
		t.Fatal(err)
	}
	other := "Bo@example.com"
	if _, _, err := s.UpdateProfileMail(t.Context(), u.ID, ProfileUpdate{Email: &other, CurrentPassword: ptr(pw)}); err != nil {
		t.Fatal(err)
	}
	secret := lastLink(t, st, mc, mail.KindEmailChange, other)
	// Someone registers a look-alike of it meanwhile (same skeleton).
	if _, err := s.Register(t.Context(), RegisterInput{Email: "bo@EXAMPLE.com", Password: pw, FirstName: "B", LastName: "P"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ConfirmEmailChange(t.Context(), secret, ""); !errors.Is(err, ErrEmailTaken) {
		t.Fatalf("confirm a taken address: %v", err)
	}
	if _, _, err := s.UpdateProfileMail(t.Context(), u.ID, ProfileUpdate{Email: &other, CurrentPassword: ptr(pw)}); !errors.Is(err, ErrEmailTaken) {
		t.Fatalf("ask for a taken address: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }

// BenchmarkRegister: a registration with mail (the account, its link and
// the message written in one transaction) against one without, on real
// SQLite. The argon2id hash dominates both; the outbox adds one
// transaction's worth of inserts, and nothing is sent in the request.
func BenchmarkRegister(b *testing.B) {
	for _, withMail := range []bool{false, true} {
		name := "without-mail"
		if withMail {
			name = "with-mail"
		}
		b.Run(name, func(b *testing.B) {
			cfg := Config{}
			if withMail {
				mc, err := mail.NewComposer(testSecret, "https://auth.example.com")
				if err != nil {
					b.Fatal(err)
				}
				cfg.Mail = mc
			}
			s := NewService(newStore(b), cfg)
			i := 0
			for b.Loop() {
				i++
				if _, err := s.Register(b.Context(), RegisterInput{Email: fmt.Sprintf("u%d@example.com", i), Password: pw, FirstName: "A", LastName: "B"}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestPasswordChangeNotice: a new password set on /account, the API or
// by the operator mails a notice.
func TestPasswordChangeNotice(t *testing.T) {
	s, st, _, mc := newMailService(t, Config{})
	u, err := s.Register(t.Context(), RegisterInput{Email: "ana@example.com", Password: pw, FirstName: "A", LastName: "P"})
	if err != nil {
		t.Fatal(err)
	}
	outbox(t, st, mc)
	if err := s.ChangePassword(t.Context(), u.ID, pw, "otra contraseña bastante larga"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPassword(t.Context(), u.ID, "y otra contraseña más larga"); err != nil {
		t.Fatal(err)
	}
	first := "Ana"
	if _, err := s.UpdateProfile(t.Context(), u.ID, ProfileUpdate{FirstName: &first}); err != nil {
		t.Fatal(err)
	}
	if k := kinds(t, st, mc); !slices.Equal(k, []string{"password_updated ana@example.com", "password_updated ana@example.com"}) {
		t.Fatalf("queued %v, want two notices (none for a name)", k)
	}
}
