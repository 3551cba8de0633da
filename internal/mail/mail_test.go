package mail_test

import (
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	mailpkg "github.com/multinexo/auth/internal/mail"
	"github.com/multinexo/auth/internal/mail/mailtest"
	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/store/sqlite"
	"github.com/multinexo/auth/internal/store/sqlstore"
)

const secret = "0123456789abcdef0123456789abcdef-test"

// clock is an injected clock the test moves by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newStore(t *testing.T) *sqlstore.DB {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "mail.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return db
}

func composer(t *testing.T) *mailpkg.Composer {
	t.Helper()
	c, err := mailpkg.NewComposer(secret, "https://auth.example.com")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type rig struct {
	t     *testing.T
	db    *sqlstore.DB
	c     *mailpkg.Composer
	clk   *clock
	relay *mailtest.Server
	d     *mailpkg.Deliverer
}

func newRig(t *testing.T, opts mailtest.Options) *rig {
	r := &rig{t: t, db: newStore(t), c: composer(t), clk: &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}}
	r.relay = mailtest.Start(t, opts)
	r.d = r.deliverer(r.db)
	return r
}

func (r *rig) deliverer(db *sqlstore.DB) *mailpkg.Deliverer {
	snd, err := mailpkg.NewSMTPSender(mailpkg.SMTPConfig{URL: r.relay.URL(), TLS: r.relay.ClientTLS, Timeout: 10 * time.Second})
	if err != nil {
		r.t.Fatal(err)
	}
	return mailpkg.NewDeliverer(mailpkg.DelivererConfig{Outbox: db, Composer: r.c, Sender: snd,
		From: mailpkg.DefaultFrom(r.c.Host()), Now: r.clk.Now})
}

func (r *rig) queue(kind, lang, to string) *store.OutboxMessage {
	r.t.Helper()
	m, err := r.c.Compose(kind, lang, to, "", mailpkg.Data{Name: "Ana", Email: to, Link: r.c.Link("/verify-email", "s3cr3t-"+to), Expires: "24 h"}, r.clk.Now())
	if err != nil {
		r.t.Fatal(err)
	}
	if err := r.db.EnqueueMail(r.t.Context(), m); err != nil {
		r.t.Fatal(err)
	}
	return m
}

func (r *rig) run() {
	r.t.Helper()
	if _, err := r.d.RunOnce(r.t.Context()); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rig) state(id string) *store.OutboxMessage {
	r.t.Helper()
	l, _, err := r.db.ListMail(r.t.Context(), store.ListOptions{Page: store.Page{Size: 100}})
	if err != nil {
		r.t.Fatal(err)
	}
	for _, m := range l {
		if m.ID == id {
			return m
		}
	}
	r.t.Fatalf("message %s not in the outbox", id)
	return nil
}

// parts returns the text and HTML parts of a multipart/alternative message.
func parts(t *testing.T, raw string) (text, html string, h mail.Header) {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q: want multipart/alternative", msg.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p)
		body := string(b)
		if p.Header.Get("Content-Transfer-Encoding") == "quoted-printable" {
			body = qp(body)
		}
		switch ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type")); ct {
		case "text/plain":
			text = body
		case "text/html":
			html = body
		}
	}
	return text, html, msg.Header
}

func TestMessageOverSTARTTLSWithAuth(t *testing.T) {
	r := newRig(t, mailtest.Options{TLS: "starttls", User: "relay", Password: "pa ss"})
	m := r.queue(mailpkg.KindVerify, "es", "ana@example.org")
	r.run()
	got := r.relay.WaitFor(1)[0]
	if !got.TLS || got.User != "relay" || got.To != "ana@example.org" || got.From != "no-reply@auth.example.com" {
		t.Fatalf("arrived %+v", got)
	}
	text, html, h := parts(t, got.Raw)
	if h.Get("Message-ID") != "<"+m.MessageID+">" || h.Get("Auto-Submitted") != "auto-generated" || h.Get("Date") == "" ||
		h.Get("Subject") != "Confirma tu correo" || h.Get("Content-Language") != "es" {
		t.Fatalf("headers %v", h)
	}
	if from, _ := mail.ParseAddress(h.Get("From")); from == nil || from.Name != "Multinexo" {
		t.Fatalf("From %q", h.Get("From"))
	}
	link := "https://auth.example.com/verify-email?token=s3cr3t-ana%40example.org"
	if !strings.Contains(text, "Hola Ana:") || !strings.Contains(text, link) {
		t.Fatalf("text part:\n%s", text)
	}
	if !strings.Contains(html, `href="`+link+`"`) || strings.Contains(html, "<img") {
		t.Fatalf("HTML part:\n%s", html)
	}
	if s := r.state(m.ID); s.State != store.MailSent || s.Attempts != 1 {
		t.Fatalf("outbox %+v", s)
	}
}

func TestEnglishImplicitTLSAuthLogin(t *testing.T) {
	r := newRig(t, mailtest.Options{TLS: "implicit", User: "u", Password: "p", Mechanisms: []string{"LOGIN"}})
	r.queue(mailpkg.KindReset, "en", "bo@example.org")
	r.run()
	got := r.relay.WaitFor(1)[0]
	text, _, h := parts(t, got.Raw)
	if !got.TLS || got.User != "u" || h.Get("Subject") != "Choose a new password" || !strings.Contains(text, "valid for") {
		t.Fatalf("arrived %+v\n%s", got, text)
	}
}

func TestBodySealedAndErased(t *testing.T) {
	r := newRig(t, mailtest.Options{})
	m := r.queue(mailpkg.KindVerify, "es", "ana@example.org")
	if strings.Contains(string(m.Body), "s3cr3t") {
		t.Fatal("the link is stored in clear")
	}
	r.run()
	r.relay.WaitFor(1)
	if l, err := r.db.ClaimMail(r.t.Context(), r.clk.Now().Add(time.Hour), time.Minute, 10); err != nil || len(l) != 0 {
		t.Fatalf("claimed after sent: %v %v", l, err)
	}
}

func TestTemporaryRefusalBacksOff(t *testing.T) {
	r := newRig(t, mailtest.Options{})
	r.relay.SetMode(mailtest.Temporary)
	m := r.queue(mailpkg.KindVerify, "es", "ana@example.org")
	r.run()
	s := r.state(m.ID)
	if s.State != store.MailRetrying || !strings.Contains(s.LastError, "451") || !s.NextAttemptAt.Equal(r.clk.Now().Add(time.Minute)) {
		t.Fatalf("after a 451: %+v", s)
	}
	// Not before the next attempt is due.
	r.clk.Add(59 * time.Second)
	r.run()
	if n := r.relay.Attempts(); n != 1 {
		t.Fatalf("%d attempts before the backoff ended", n)
	}
	r.clk.Add(time.Second)
	r.run()
	if s := r.state(m.ID); s.Attempts != 2 || !s.NextAttemptAt.Equal(r.clk.Now().Add(2*time.Minute)) {
		t.Fatalf("second backoff: %+v", s)
	}
	r.relay.SetMode(mailtest.Accept)
	r.clk.Add(2 * time.Minute)
	r.run()
	if s := r.state(m.ID); s.State != store.MailSent || len(r.relay.Messages()) != 1 {
		t.Fatalf("after the relay recovered: %+v", s)
	}
}

func TestPermanentRefusalFails(t *testing.T) {
	r := newRig(t, mailtest.Options{})
	r.relay.SetMode(mailtest.Permanent)
	m := r.queue(mailpkg.KindVerify, "es", "nobody@example.org")
	r.run()
	s := r.state(m.ID)
	if s.State != store.MailFailed || !strings.Contains(s.LastError, "550") || s.Attempts != 1 {
		t.Fatalf("after a 550: %+v", s)
	}
	r.clk.Add(48 * time.Hour)
	r.relay.SetMode(mailtest.Accept)
	r.run()
	if len(r.relay.Messages()) != 0 {
		t.Fatal("a failed message was sent again")
	}
}

// TestRetriesForADay: a relay that stays down gets attempts for at least
// 24 h, then the message fails with the reason.
func TestRetriesForADay(t *testing.T) {
	r := newRig(t, mailtest.Options{})
	r.relay.Stop()
	m := r.queue(mailpkg.KindVerify, "es", "ana@example.org")
	start := r.clk.Now()
	var lastRetry time.Time
	for range 100 {
		r.run()
		s := r.state(m.ID)
		if s.State == store.MailFailed {
			if !strings.Contains(s.LastError, "not delivered after") {
				t.Fatalf("failed with %q", s.LastError)
			}
			break
		}
		if s.State != store.MailRetrying {
			t.Fatalf("state %s", s.State)
		}
		lastRetry = r.clk.Now()
		r.clk.t = s.NextAttemptAt
	}
	if s := r.state(m.ID); s.State != store.MailFailed || lastRetry.Sub(start) < 24*time.Hour {
		t.Fatalf("gave up after %s in state %s; want ≥ 24 h then failed", lastRetry.Sub(start), s.State)
	}
}

// TestLeaseExpiryResumes: a deliverer that claimed a message and died
// (kill -9: nothing marked) leaves it to another once the lease ends.
func TestLeaseExpiryResumes(t *testing.T) {
	r := newRig(t, mailtest.Options{})
	m := r.queue(mailpkg.KindVerify, "es", "ana@example.org")
	if l, err := r.db.ClaimMail(t.Context(), r.clk.Now(), 2*time.Minute, 10); err != nil || len(l) != 1 {
		t.Fatalf("claim: %v %v", l, err)
	}
	r.run()
	if len(r.relay.Messages()) != 0 {
		t.Fatal("a leased message was sent by another deliverer")
	}
	r.clk.Add(2 * time.Minute)
	r.run()
	if s := r.state(m.ID); s.State != store.MailSent || len(r.relay.WaitFor(1)) != 1 || s.Attempts != 2 {
		t.Fatalf("after the lease: %+v", s)
	}
}

// TestConcurrentDeliverersSendOnce: two deliverers on two store handles
// of one database send each message exactly once.
func TestConcurrentDeliverersSendOnce(t *testing.T) {
	r := newRig(t, mailtest.Options{})
	dir := t.TempDir()
	path := filepath.Join(dir, "shared.db")
	open := func() *sqlstore.DB {
		db, err := sqlite.Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if err := db.Migrate(t.Context()); err != nil {
			t.Fatal(err)
		}
		return db
	}
	a, b := open(), open()
	r.db = a
	const n = 12
	for range n {
		r.queue(mailpkg.KindVerify, "es", "x@example.org")
	}
	da, db := r.deliverer(a), r.deliverer(b)
	var wg sync.WaitGroup
	for _, d := range []*mailpkg.Deliverer{da, db} {
		wg.Go(func() {
			for range n {
				if _, err := d.RunOnce(context.WithoutCancel(t.Context())); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	got := r.relay.WaitFor(n)
	seen := map[string]bool{}
	for _, m := range got {
		id := m.Header.Get("Message-ID")
		if seen[id] {
			t.Fatalf("message %s arrived twice", id)
		}
		seen[id] = true
	}
	if len(got) != n {
		t.Fatalf("%d messages arrived, want %d", len(got), n)
	}
}

func TestLogSender(t *testing.T) {
	var buf strings.Builder
	s := mailpkg.LogSender{Log: slogJSON(&buf)}
	err := s.Send(t.Context(), &mailpkg.Outgoing{To: "a@example.org", Subject: "Hola", Content: mailpkg.Content{Link: "https://x/verify-email?token=T"}})
	if err != nil || !strings.Contains(buf.String(), `"msg":"mail"`) || !strings.Contains(buf.String(), `"link":"https://x/verify-email?token=T"`) ||
		!strings.Contains(buf.String(), `"to":"a@example.org"`) {
		t.Fatalf("logged %s (%v)", buf.String(), err)
	}
}

func TestBadSMTPURL(t *testing.T) {
	for _, u := range []string{"http://x", "smtp://", "smtp://h:notaport", "::"} {
		if _, err := mailpkg.NewSMTPSender(mailpkg.SMTPConfig{URL: u}); err == nil {
			t.Errorf("%q accepted", u)
		}
	}
	var pe *mailpkg.PermanentError
	if errors.As(errors.New("x"), &pe) {
		t.Fatal("plain error taken for permanent")
	}
}

// slowSender is the real SMTP sender on a relay that takes 70 s (of the
// injected clock) per message.
type slowSender struct {
	mailpkg.Sender
	clk *clock
}

func (s slowSender) Send(ctx context.Context, m *mailpkg.Outgoing) error {
	s.clk.Add(70 * time.Second)
	return s.Sender.Send(ctx, m)
}

// TestSlowBatchLeavesTheRestToTheLease: a message whose lease would run
// out during its send is not sent; it is claimed again later, once.
func TestSlowBatchLeavesTheRestToTheLease(t *testing.T) {
	r := newRig(t, mailtest.Options{})
	snd, err := mailpkg.NewSMTPSender(mailpkg.SMTPConfig{URL: r.relay.URL(), Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	d := mailpkg.NewDeliverer(mailpkg.DelivererConfig{Outbox: r.db, Composer: r.c, Sender: slowSender{snd, r.clk},
		From: "a@example.com", Now: r.clk.Now})
	for range 3 {
		r.queue(mailpkg.KindVerify, "es", "x@example.org")
	}
	if n, err := d.RunOnce(t.Context()); err != nil || n != 3 {
		t.Fatalf("RunOnce: %d %v", n, err)
	}
	if got := len(r.relay.WaitFor(1)); got != 1 {
		t.Fatalf("%d sent in a batch whose lease allows one", got)
	}
	r.clk.Add(2 * time.Minute)
	for range 4 {
		if _, err := d.RunOnce(t.Context()); err != nil {
			t.Fatal(err)
		}
		r.clk.Add(2 * time.Minute)
	}
	if got := r.relay.WaitFor(3); len(got) != 3 {
		t.Fatalf("%d messages arrived, want 3", len(got))
	}
}
