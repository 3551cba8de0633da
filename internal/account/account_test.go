package account

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/text/unicode/norm"

	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/store/sqlite"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newStore(t testing.TB) store.Store {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return db
}

// newService returns a service on a fresh store with a fake clock at
// 10:05, five minutes into a 15-minute window.
func newService(t testing.TB, cfg Config) (*Service, store.Store, *clock) {
	t.Helper()
	st := newStore(t)
	c := &clock{now: time.Date(2026, 3, 1, 10, 5, 0, 0, time.UTC)}
	cfg.Now = c.Now
	if cfg.SlowDelay == 0 {
		cfg.SlowDelay = time.Millisecond
		cfg.MaxDelay = 5 * time.Millisecond
	}
	return NewService(st, cfg), st, c
}

func validationCode(t *testing.T, err error, field string) string {
	t.Helper()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v is not a *ValidationError", err)
	}
	if ve.Field != field {
		t.Fatalf("field %q, want %q", ve.Field, field)
	}
	if ve.Detail == "" || ve.Localized("en") == "" || ve.Localized("en") == ve.Detail {
		t.Errorf("%s/%s: detail es %q en %q", ve.Field, ve.Code, ve.Detail, ve.Localized("en"))
	}
	return ve.Code
}

func TestNormalizeEmail(t *testing.T) {
	ok := []struct{ in, display, key string }{
		{"ana@example.com", "ana@example.com", "ana@example.com"},
		{"  Ana@Example.COM\t", "Ana@Example.COM", "ana@example.com"},
		{"ａｎａ@example.com", "ana@example.com", "ana@example.com"}, // fullwidth → NFKC
		{"ANA@ＥＸＡＭＰＬＥ.com", "ANA@EXAMPLE.com", "ana@example.com"},
		{"STRASSE@example.com", "STRASSE@example.com", "strasse@example.com"},
		{"straße@example.com", "straße@example.com", "strasse@example.com"}, // full case folding
		{"josé@correo.es", "josé@correo.es", "jose@correo.es"},              // marks dropped from the key only
		{"jose\u0301@correo.es", "josé@correo.es", "jose@correo.es"},        // combining accent composed
		{"a.b+tag@sub.example.co", "a.b+tag@sub.example.co", "a.b+tag@sub.example.co"},
	}
	for _, tt := range ok {
		d, k, err := NormalizeEmail(tt.in)
		if err != nil || d != tt.display || k != EmailKey(tt.key) {
			t.Errorf("NormalizeEmail(%q) = %q, %q, %v; want %q, %q", tt.in, d, k, err, tt.display, tt.key)
		}
	}
	bad := []struct{ in, code string }{
		{"", "required"},
		{"   ", "required"},
		{"anaexample.com", "invalid"},
		{"ana@@example.com", "invalid"},
		{"ana@b@example.com", "invalid"},
		{"@example.com", "invalid"},
		{"ana@", "invalid"},
		{"ana@localhost", "invalid"},
		{"ana@example..com", "invalid"},
		{"ana@.example.com", "invalid"},
		{"ana@example.com.", "invalid"},
		{"ana@-example.com", "invalid"},
		{"a na@example.com", "invalid"},
		{"ana@exa mple.com", "invalid"},
		{"ana\x00@example.com", "invalid"},
		{"ana\n@example.com", "invalid"},
		{"ana\u200b@example.com", "invalid"}, // zero-width space
		{"<ana>@example.com", "invalid"},
		{"ana,b@example.com", "invalid"},
		{".ana@example.com", "invalid"},
		{"an..a@example.com", "invalid"},
		{"ana\xff@example.com", "invalid"},
		{strings.Repeat("a", 65) + "@example.com", "invalid"},
		{"a@" + strings.Repeat("b", 250) + ".com", "too_long"},
	}
	for _, tt := range bad {
		_, _, err := NormalizeEmail(tt.in)
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Field != "email" || ve.Code != tt.code {
			t.Errorf("NormalizeEmail(%q) error %v, want email/%s", tt.in, err, tt.code)
		}
	}
	// Exactly 254 bytes is fine; 255 is too long.
	e := strings.Repeat("a", 64) + "@" + strings.Repeat("b", 60) + "." + strings.Repeat("c", 60) + "." + strings.Repeat("d", 60) + ".comxyz"
	if len(e) != 254 {
		t.Fatal(len(e))
	}
	if _, _, err := NormalizeEmail(e); err != nil {
		t.Errorf("a 254-byte address: %v", err)
	}
	_, _, err := NormalizeEmail(e + "w")
	var ve *ValidationError
	if !errors.As(err, &ve) || ve.Code != "too_long" {
		t.Errorf("a 255-byte address: %v", err)
	}
	if _, _, err := NormalizeEmail("a@" + strings.Repeat("b", 64) + ".com"); err == nil {
		t.Errorf("a 64-byte domain label was accepted")
	}
}

func TestCheckPassword(t *testing.T) {
	s := NewService(nil, Config{})
	tests := []struct {
		name, pw, code string
	}{
		{"empty", "", "required"},
		{"seven chars", "Xq7#mZ2", "too_short"},
		{"eight chars", "Xq7#mZ2!", ""},
		{"seven emoji are 28 bytes but 7 characters", "🦊🦊🦊🦊🐢🐢🐢", "too_short"},
		{"eight accented characters", "ñandúñan", ""},
		{"1024 bytes", strings.Repeat("ñ", 511) + "ab", ""},
		{"1025 bytes", strings.Repeat("ñ", 512) + "a", "too_long"},
		{"invalid utf-8", "abcdefgh\xff", "invalid"},
		{"common", "password", "common"},
		{"common, other case", "PassWord", "common"},
		{"common digits", "12345678", "common"},
		{"common, upper", "ILOVEYOU", "common"},
		{"common from the tail of the list", lastCommon(t), "common"},
		{"a phrase", "caballo correcto batería grapa", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.CheckPassword(tt.pw)
			if tt.code == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if got := validationCode(t, err, "password"); got != tt.code {
				t.Fatalf("code %q, want %q", got, tt.code)
			}
		})
	}
	if n := len(commonPasswords()); n < 10000 {
		t.Errorf("common password list has %d entries, want ≥ 10000", n)
	}
}

func lastCommon(t *testing.T) string {
	lines := strings.Split(strings.TrimSpace(commonPasswordsFile), "\n")
	if !strings.HasPrefix(lines[0], "#") || !strings.Contains(lines[0], "MIT") {
		t.Errorf("header %q does not name the source and licence", lines[0])
	}
	return lines[len(lines)-1]
}

// TestEmailLookAlikes: addresses a person cannot tell apart have one key
// (issue 11: "alİce@example.com", with U+0130, registered a second account
// beside "alice@example.com"); different addresses keep different keys.
func TestEmailLookAlikes(t *testing.T) {
	same := []string{
		"alice@example.com",
		"alİce@example.com", // U+0130 LATIN CAPITAL LETTER I WITH DOT ABOVE
		"ALICE@EXAMPLE.COM", // case
		"ａｌｉｃｅ@ｅｘａｍｐｌｅ.ｃｏｍ",           // width
		"\u0430lice@example.com",      // Cyrillic а
		"alic\u0435@\u0435xample.com", // Cyrillic е
		"al\u0456ce@example.com",      // Cyrillic і
		"\u03b1lice@example.com",      // Greek α
		"alice@ex\u0430mple.c\u03bfm", // Cyrillic а, Greek ο
		"alíce@example.com",           // precomposed accent
		"ali\u0301ce@example.com",     // decomposed accent
		"a\u0308lice@example.com",     // a combining diaeresis
		"ａ\u0301lice@example.com",     // fullwidth and an accent
		"alice@examp\u217Ce.com",      // ROMAN NUMERAL FIFTY ⅼ
	}
	_, want, err := NormalizeEmail(same[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range same {
		d, k, err := NormalizeEmail(s)
		if err != nil || k != want {
			t.Errorf("NormalizeEmail(%q) = %q, %q, %v; want the key of %q", s, d, k, err, same[0])
		}
		if err == nil && d != norm.NFKC.String(s) {
			t.Errorf("display of %q changed to %q", s, d)
		}
	}
	// Zero-width and other format characters are refused outright.
	for _, s := range []string{"al\u200bice@example.com", "alice\u200d@example.com", "\ufeffalice@example.com", "ali\u00adce@example.com"} {
		if _, _, err := NormalizeEmail(s); err == nil {
			t.Errorf("NormalizeEmail(%q) accepted", s)
		}
	}
	for _, s := range []string{"bob@example.com", "alice@example.org", "alicea@example.com", "alice2@example.com", "al.ice@example.com"} {
		if _, k, _ := NormalizeEmail(s); k == want {
			t.Errorf("%q has the key of alice@example.com", s)
		}
	}
}

func TestRegister(t *testing.T) {
	s, st, c := newService(t, Config{})
	ctx := t.Context()
	u, err := s.Register(ctx, RegisterInput{Email: " Ana@Example.com ", Password: "caballo correcto", FirstName: " Ana ", LastName: "Pérez"})
	if err != nil {
		t.Fatal(err)
	}
	if u.ID == "" || u.Email != "Ana@Example.com" || u.EmailKey != EmailKey("ana@example.com") || u.FirstName != "Ana" || u.LastName != "Pérez" || !u.Activated || u.Admin || u.Disabled || !u.CreatedAt.Equal(c.Now()) {
		t.Errorf("user %+v", u)
	}
	if !strings.HasPrefix(u.PasswordHash, "$argon2id$v=19$m=19456,t=2,p=1$") || strings.Contains(u.PasswordHash, "caballo") {
		t.Errorf("hash %q", u.PasswordHash)
	}
	got, err := st.GetUser(ctx, u.ID)
	if err != nil || got.PasswordHash != u.PasswordHash || got.EmailKey != EmailKey("ana@example.com") {
		t.Fatalf("stored %+v, %v", got, err)
	}

	for _, dup := range []string{"ana@example.com", "ANA@EXAMPLE.COM", "ａｎａ@example.com", "Ａna@Ｅxample.com", "\tana@example.com ",
		"\u0430na@example.com", "ána@example.com", "a\u0301na@example.com", "ana@ex\u0430mple.com"} {
		before := s.hashes.runs.Load()
		if _, err := s.Register(ctx, RegisterInput{Email: dup, Password: "otra clave larga"}); !errors.Is(err, ErrEmailTaken) {
			t.Errorf("Register(%q) = %v, want ErrEmailTaken", dup, err)
		}
		if s.hashes.runs.Load() != before {
			t.Errorf("a taken email cost a hash")
		}
	}
	if n, _ := st.CountUsers(ctx); n != 1 {
		t.Errorf("%d users, want 1", n)
	}

	bad := []struct {
		name  string
		in    RegisterInput
		field string
		code  string
	}{
		{"no email", RegisterInput{Password: "caballo correcto"}, "email", "required"},
		{"bad email", RegisterInput{Email: "ana.example.com", Password: "caballo correcto"}, "email", "invalid"},
		{"no password", RegisterInput{Email: "b@example.com"}, "password", "required"},
		{"short password", RegisterInput{Email: "b@example.com", Password: "corta"}, "password", "too_short"},
		{"common password", RegisterInput{Email: "b@example.com", Password: "Football"}, "password", "common"},
		{"password is the email", RegisterInput{Email: "bruno.diaz@example.com", Password: "Bruno.Diaz@example.com"}, "password", "same_as_email"},
		{"password is the local part", RegisterInput{Email: "bruno.diaz@example.com", Password: "BRUNO.DIAZ"}, "password", "same_as_email"},
		{"long first name", RegisterInput{Email: "b@example.com", Password: "caballo correcto", FirstName: strings.Repeat("á", 101)}, "first_name", "too_long"},
		{"long last name", RegisterInput{Email: "b@example.com", Password: "caballo correcto", LastName: strings.Repeat("x", 101)}, "last_name", "too_long"},
		{"control in name", RegisterInput{Email: "b@example.com", Password: "caballo correcto", FirstName: "Ana\x07"}, "first_name", "invalid"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Register(ctx, tt.in)
			if got := validationCode(t, err, tt.field); got != tt.code {
				t.Errorf("code %q, want %q", got, tt.code)
			}
		})
	}
	// 100 characters is fine.
	if _, err := s.Register(ctx, RegisterInput{Email: "c@example.com", Password: "caballo correcto", FirstName: strings.Repeat("á", 100)}); err != nil {
		t.Errorf("100-character name refused: %v", err)
	}
	// Several wrong fields: all reported.
	_, err = s.Register(ctx, RegisterInput{Email: "x", Password: "y", FirstName: strings.Repeat("z", 200)})
	j, ok := err.(interface{ Unwrap() []error })
	if !ok || len(j.Unwrap()) != 3 {
		t.Errorf("several errors: %v", err)
	}
	if n, _ := st.CountUsers(ctx); n != 2 {
		t.Errorf("%d users, want 2", n)
	}
}

func TestAuthenticate(t *testing.T) {
	s, st, _ := newService(t, Config{})
	ctx := t.Context()
	u, err := s.Register(ctx, RegisterInput{Email: "ana@example.com", Password: "caballo correcto"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Authenticate(ctx, "ANA@example.com", "caballo correcto", "192.0.2.1")
	if err != nil || got.ID != u.ID {
		t.Fatalf("Authenticate = %v, %v", got, err)
	}
	if _, err := s.Authenticate(ctx, "ana@example.com", "Caballo correcto", "192.0.2.1"); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("wrong password: %v", err)
	}

	// Unknown user: the same argon2 work (one hash), the same error.
	before := s.hashes.runs.Load()
	if _, err := s.Authenticate(ctx, "nadie@example.com", "caballo correcto", "192.0.2.1"); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("unknown user: %v", err)
	}
	if n := s.hashes.runs.Load() - before; n != 1 {
		t.Errorf("unknown user ran %d hashes, want 1 (the dummy)", n)
	}
	// A malformed login name: same answer, same work.
	before = s.hashes.runs.Load()
	if _, err := s.Authenticate(ctx, "not an email", "caballo correcto", "192.0.2.1"); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("malformed email: %v", err)
	}
	if n := s.hashes.runs.Load() - before; n != 1 {
		t.Errorf("malformed email ran %d hashes, want 1", n)
	}

	// Disabled user: the right password still fails, after the real verify.
	if err := st.DisableUser(ctx, u.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	before = s.hashes.runs.Load()
	if _, err := s.Authenticate(ctx, "ana@example.com", "caballo correcto", "192.0.2.1"); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("disabled user: %v", err)
	}
	if n := s.hashes.runs.Load() - before; n != 1 {
		t.Errorf("disabled user ran %d hashes, want 1", n)
	}

	evs, _, err := st.ListEvents(ctx, store.ListOptions{Page: store.Page{Number: 1, Size: 100}})
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]int{}
	for _, e := range evs {
		types[e.Type]++
		if strings.Contains(e.Detail, "caballo") || strings.Contains(e.Detail, "Caballo") {
			t.Errorf("event %+v records the password", e)
		}
	}
	if types["login.succeeded"] != 1 || types["login.failed"] != 4 {
		t.Errorf("events %v", types)
	}
}

func TestThrottling(t *testing.T) {
	s, st, c := newService(t, Config{})
	ctx := t.Context()
	if _, err := s.Register(ctx, RegisterInput{Email: "ana@example.com", Password: "caballo correcto"}); err != nil {
		t.Fatal(err)
	}
	// Four failures then a success: the counter is reset.
	for range 4 {
		if _, err := s.Authenticate(ctx, "ana@example.com", "equivocada", "192.0.2.1"); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatal(err)
		}
	}
	if _, err := s.Authenticate(ctx, "ana@example.com", "caballo correcto", "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	start, _ := s.window(c.Now())
	if n, err := st.Count(ctx, counterKey("acct", "ana@example.com"), start); err != nil || n != 0 {
		t.Fatalf("after success the count is %d, %v", n, err)
	}

	// Ten failures (the last five slowed), then refused before hashing, even
	// with the right password, until the window ends.
	for i := range 10 {
		if _, err := s.Authenticate(ctx, "Ana@Example.com", "equivocada", "192.0.2.1"); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("failure %d: %v", i+1, err)
		}
	}
	before := s.hashes.runs.Load()
	for _, pw := range []string{"equivocada", "caballo correcto"} {
		_, err := s.Authenticate(ctx, "ana@example.com", pw, "198.51.100.7")
		var te *ThrottledError
		if !errors.As(err, &te) {
			t.Fatalf("11th attempt: %v", err)
		}
		if te.RetryAfter != 10*time.Minute {
			t.Errorf("RetryAfter %v, want 10m (the rest of the 10:00–10:15 window)", te.RetryAfter)
		}
	}
	if s.hashes.runs.Load() != before {
		t.Errorf("a throttled attempt ran argon2")
	}
	// Other accounts are not affected.
	if _, err := s.Authenticate(ctx, "otra@example.com", "equivocada", "192.0.2.1"); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("another account: %v", err)
	}
	// The window ends: the real user gets in again.
	c.Add(10 * time.Minute)
	if _, err := s.Authenticate(ctx, "ana@example.com", "caballo correcto", "192.0.2.1"); err != nil {
		t.Errorf("after the window: %v", err)
	}

	evs, _, _ := st.ListEvents(ctx, store.ListOptions{Page: store.Page{Number: 1, Size: 100}, Filters: []store.Filter{{Field: "type", Op: "eq", Value: "login.throttled"}}})
	// One event per locked account and window (per instance), however many
	// attempts are refused: a flood must not become a flood of writes.
	if len(evs) != 1 {
		t.Errorf("%d login.throttled events, want 1", len(evs))
	}
}

func TestThrottlingPerAddress(t *testing.T) {
	s, _, _ := newService(t, Config{IPLockAfter: 3})
	ctx := t.Context()
	for i, e := range []string{"a@example.com", "b@example.com", "c@example.com"} {
		if _, err := s.Authenticate(ctx, e, "equivocada", "203.0.113.9"); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	var te *ThrottledError
	if _, err := s.Authenticate(ctx, "d@example.com", "equivocada", "203.0.113.9"); !errors.As(err, &te) {
		t.Errorf("4th failure from one address: %v", err)
	}
	if _, err := s.Authenticate(ctx, "d@example.com", "equivocada", "203.0.113.10"); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("another address: %v", err)
	}
}

func TestSlowDownIsContextAware(t *testing.T) {
	s, _, _ := newService(t, Config{SlowDelay: time.Hour, MaxDelay: time.Hour})
	for range 5 {
		if _, err := s.Authenticate(t.Context(), "ana@example.com", "equivocada", ""); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := s.Authenticate(ctx, "ana@example.com", "equivocada", ""); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("6th attempt: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("waited %v", d)
	}
}

func TestErrBusy(t *testing.T) {
	s, st, _ := newService(t, Config{MaxConcurrentHashes: 1, MaxQueuedHashes: 1})
	ctx := t.Context()
	s.hashes.slots <- struct{}{} // every hash slot is taken
	done := make(chan error, 1)
	go func() {
		_, err := s.Register(ctx, RegisterInput{Email: "cola@example.com", Password: "caballo correcto"})
		done <- err
	}()
	for s.hashes.waiting.Load() != 1 {
		time.Sleep(time.Millisecond)
	}
	// The queue is full: refused at once, for registration and login alike.
	if _, err := s.Register(ctx, RegisterInput{Email: "b@example.com", Password: "caballo correcto"}); !errors.Is(err, ErrBusy) {
		t.Errorf("Register with a full queue: %v", err)
	}
	if _, err := s.Authenticate(ctx, "cola@example.com", "caballo correcto", ""); !errors.Is(err, ErrBusy) {
		t.Errorf("Authenticate with a full queue: %v", err)
	}
	<-s.hashes.slots
	if err := <-done; err != nil {
		t.Errorf("the queued registration: %v", err)
	}
	if n, _ := st.CountUsers(ctx); n != 1 {
		t.Errorf("%d users, want 1", n)
	}
	if s.hashes.waiting.Load() != 0 || len(s.hashes.slots) != 0 {
		t.Errorf("limiter not released")
	}
}

func TestPasswordLengths(t *testing.T) {
	s, st, _ := newService(t, Config{})
	ctx := t.Context()
	pw1024 := strings.Repeat("ñ", 500) + strings.Repeat("k", 24)
	if len(pw1024) != 1024 {
		t.Fatal(len(pw1024))
	}
	if _, err := s.Register(ctx, RegisterInput{Email: "largo@example.com", Password: pw1024}); err != nil {
		t.Fatalf("1024-byte password refused: %v", err)
	}
	if _, err := s.Authenticate(ctx, "largo@example.com", pw1024, ""); err != nil {
		t.Errorf("1024-byte password does not log in: %v", err)
	}
	_, err := s.Register(ctx, RegisterInput{Email: "largo2@example.com", Password: pw1024 + "k"})
	if got := validationCode(t, err, "password"); got != "too_long" {
		t.Errorf("1025 bytes: %s", got)
	}
	// Nothing is truncated: two passwords equal in their first 72 bytes
	// (bcrypt's limit) and more are different passwords.
	prefix := strings.Repeat("ñ", 40) // 80 bytes
	if _, err := s.Register(ctx, RegisterInput{Email: "prefijo@example.com", Password: prefix + "contraseña-A"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, "prefijo@example.com", prefix+"contraseña-B", ""); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("a password sharing the first 80 bytes logged in: %v", err)
	}
	if _, err := s.Authenticate(ctx, "prefijo@example.com", prefix, ""); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("the prefix alone logged in: %v", err)
	}
	if _, err := s.Authenticate(ctx, "prefijo@example.com", prefix+"contraseña-A", ""); err != nil {
		t.Errorf("the right password: %v", err)
	}
	// NFKC: the decomposed form of the same password verifies.
	if _, err := s.Authenticate(ctx, "prefijo@example.com", strings.Repeat("n\u0303", 40)+"contrasen\u0303a-A", ""); err != nil {
		t.Errorf("the decomposed form: %v", err)
	}
	// Over-long at login: refused without hashing.
	if _, err := s.Authenticate(ctx, "largo@example.com", strings.Repeat("x", 1<<20), ""); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("1 MiB password: %v", err)
	}
	if n, _ := st.CountUsers(ctx); n != 2 {
		t.Errorf("%d users", n)
	}
}

func TestRehashOnLogin(t *testing.T) {
	s, st, _ := newService(t, Config{})
	ctx := t.Context()
	s.params = argonParams{Memory: 8 * 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
	u, err := s.Register(ctx, RegisterInput{Email: "viejo@example.com", Password: "caballo correcto"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(u.PasswordHash, "$argon2id$v=19$m=8192,t=1,p=1$") {
		t.Fatalf("hash %q", u.PasswordHash)
	}
	s.params = defaultParams
	if _, err := s.Authenticate(ctx, "viejo@example.com", "caballo correcto", ""); err != nil {
		t.Fatal(err)
	}
	got, _ := st.GetUser(ctx, u.ID)
	if !strings.HasPrefix(got.PasswordHash, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("not rehashed: %q", got.PasswordHash)
	}
	if _, err := s.Authenticate(ctx, "viejo@example.com", "caballo correcto", ""); err != nil {
		t.Errorf("after rehash: %v", err)
	}
}

func TestParsePHC(t *testing.T) {
	for _, bad := range []string{
		"", "plain", "$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=16$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=99999999,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=19456,t=2,p=0$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=19456,t=2,p=1,x=3$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=19456,t=2,p=1$!!$aGFzaGhhc2hoYXNoaGFzaA",
	} {
		if _, _, _, err := parsePHC(bad); err == nil {
			t.Errorf("parsePHC(%q) accepted", bad)
		}
	}
}

func TestChangePassword(t *testing.T) {
	s, st, _ := newService(t, Config{})
	ctx := t.Context()
	u, err := s.Register(ctx, RegisterInput{Email: "ana@example.com", Password: "caballo correcto"})
	if err != nil {
		t.Fatal(err)
	}
	// Two browsers are logged in; a failed change leaves them, a successful
	// one ends both.
	for _, id := range []string{"browser-1", "browser-2"} {
		if err := st.CreateSession(ctx, &store.Session{ID: id, UserID: u.ID, ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	defer func() {
		for _, id := range []string{"browser-1", "browser-2"} {
			if _, err := st.GetSession(ctx, id); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("session %s survived the password change: %v", id, err)
			}
		}
	}()
	if err := s.ChangePassword(ctx, u.ID, "equivocada", "batería grapa"); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("wrong current password: %v", err)
	}
	if got := validationCode(t, s.ChangePassword(ctx, u.ID, "caballo correcto", "qwertyuiop"), "password"); got != "common" {
		t.Errorf("common new password: %s", got)
	}
	if got := validationCode(t, s.ChangePassword(ctx, u.ID, "", "batería grapa"), "current_password"); got != "required" {
		t.Errorf("no current password: %s", got)
	}
	if _, err := st.GetSession(ctx, "browser-1"); err != nil {
		t.Fatalf("a refused change ended a session: %v", err)
	}
	if err := s.ChangePassword(ctx, u.ID, "caballo correcto", "batería grapa"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, "ana@example.com", "caballo correcto", ""); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("old password still works: %v", err)
	}
	if _, err := s.Authenticate(ctx, "ana@example.com", "batería grapa", ""); err != nil {
		t.Errorf("new password: %v", err)
	}
}

func TestUpdateProfileEmail(t *testing.T) {
	s, _, _ := newService(t, Config{})
	ctx := t.Context()
	a, _ := s.Register(ctx, RegisterInput{Email: "ana@example.com", Password: "caballo correcto", EmailVerified: true})
	if _, err := s.Register(ctx, RegisterInput{Email: "bea@example.com", Password: "caballo correcto"}); err != nil {
		t.Fatal(err)
	}
	pw, wrong := "caballo correcto", "otra cosa"
	taken := "ＢＥＡ@example.com"
	if _, err := s.UpdateProfile(ctx, a.ID, ProfileUpdate{Email: &taken, CurrentPassword: &pw}); !errors.Is(err, ErrEmailTaken) {
		t.Errorf("taken email: %v", err)
	}
	// Changing the case of one's own address is no new address.
	mine := "ANA@example.com"
	u, err := s.UpdateProfile(ctx, a.ID, ProfileUpdate{Email: &mine})
	if err != nil || u.Email != "ANA@example.com" || !u.EmailVerified {
		t.Errorf("own email in other case: %+v, %v", u, err)
	}
	// A new address needs the current password: a token alone is not enough.
	next := "ana.nueva@example.com"
	var ve *ValidationError
	if _, err := s.UpdateProfile(ctx, a.ID, ProfileUpdate{Email: &next}); !errors.As(err, &ve) || ve.Field != "current_password" {
		t.Errorf("new email without current_password: %v", err)
	}
	if _, err := s.UpdateProfile(ctx, a.ID, ProfileUpdate{Email: &next, CurrentPassword: &wrong}); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("new email with a wrong current_password: %v", err)
	}
	u, err = s.UpdateProfile(ctx, a.ID, ProfileUpdate{Email: &next, CurrentPassword: &pw})
	if err != nil || u.Email != next {
		t.Fatalf("new email: %+v, %v", u, err)
	}
	// Nobody has proved the new address yet.
	if u.EmailVerified {
		t.Error("a new address is email_verified")
	}
}

func BenchmarkHashPassword(b *testing.B) {
	s := NewService(nil, Config{})
	ctx := context.Background()
	for b.Loop() {
		if _, err := s.hashPassword(ctx, "caballo correcto batería grapa", s.params); err != nil {
			b.Fatal(err)
		}
	}
}
