package provider

import (
	"bytes"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/multinexo/auth/internal/account"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Failing requests are logged (at debug level) without their secrets.
func TestNoSecretsInLogs(t *testing.T) {
	var buf lockedBuffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := newEnv(t, func(c *Config, a *account.Config) { c.Log = log; a.Log = log })
	login := e.passwordLogin(e.pw, "openid")
	secrets := []string{e.pw.secret, e.password, "wr%zzong-password", login.str("refresh_token"), login.str("access_token")}

	e.form(PathToken, url.Values{"grant_type": {"password"}, "username": {e.email}, "password": {"wrong-password-xyz"}, "client_id": {e.pw.id}, "client_secret": {e.pw.secret}})
	e.rawPost(PathToken, "application/x-www-form-urlencoded", "grant_type=password&password=wr%zzong-password")
	e.form(PathToken, url.Values{"grant_type": {"password"}, "username": {e.email}, "password": {e.password}, "client_id": {e.pw.id}, "client_secret": {"bad" + e.pw.secret}})
	e.refresh(e.pw, login.str("refresh_token"), "")
	e.refresh(e.pw, login.str("refresh_token"), "") // reuse
	e.form(PathUserinfo, url.Values{"access_token": {login.str("access_token")}})
	e.form(PathIntrospect, url.Values{"token": {login.str("access_token")}, "client_id": {e.pub.id}})

	out := buf.String()
	if !strings.Contains(out, "request failed") {
		t.Fatalf("nothing logged: %s", out)
	}
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("secret %.12q… in the log", s)
		}
	}
	if strings.Contains(out, "wrong-password-xyz") || strings.Contains(out, "%zz") {
		t.Error("password in the log")
	}
}
