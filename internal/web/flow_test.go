package web_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/multinexo/auth/internal/account"
	"github.com/multinexo/auth/internal/provider"
)

// Codes issued by the pages, redeemed at the real token endpoint: every
// way of presenting a code wrongly is refused.

func withProvider(t *testing.T) *env {
	return newEnv(t, func(e *env) {
		p, err := provider.New(provider.Config{Issuer: e.issuer, Store: e.st.DB, Keys: e.keys, Accounts: e.accts, Now: e.clock.Now, Log: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		p.Mount(e.mux)
	})
}

// code runs q through the pages (consenting if asked) and returns the code.
func (b *browser) code(q url.Values) string {
	b.e.t.Helper()
	r := b.authorized(q)
	if r.loc == nil || r.loc.Query().Get("code") == "" {
		b.e.t.Fatalf("no code: %d %v %s", r.status, r.loc, r.body)
	}
	return r.loc.Query().Get("code")
}

func (e *env) token(form url.Values) (int, map[string]any) {
	e.t.Helper()
	res, err := http.PostForm(e.srv.URL+"/auth/v1/token", form)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		e.t.Fatalf("token response %s: %v", data, err)
	}
	return res.StatusCode, m
}

func exchange(code string, kv ...string) url.Values {
	f := url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {webRedirect},
		"client_id": {webApp}, "client_secret": {"web-secret"}, "code_verifier": {verifier},
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			f.Del(kv[i])
		} else {
			f.Set(kv[i], kv[i+1])
		}
	}
	return f
}

func TestCodeRedemption(t *testing.T) {
	e := withProvider(t)
	b := e.browser()
	b.login()

	t.Run("good", func(t *testing.T) {
		status, m := e.token(exchange(b.code(authzQuery())))
		if status != http.StatusOK || m["access_token"] == nil || m["id_token"] == nil {
			t.Fatalf("%d %v", status, m)
		}
		claims, err := e.keys.VerifyID(t.Context(), m["id_token"].(string), e.issuer)
		if err != nil || claims.Nonce != "n-0S6_WzA2Mj" || claims.Audience != webApp || claims.Subject != e.user.ID {
			t.Fatalf("ID token %+v %v", claims, err)
		}
	})
	refused := []struct {
		name string
		q    url.Values
		form func(code string) url.Values
	}{
		{"missing verifier", authzQuery(), func(c string) url.Values { return exchange(c, "code_verifier", "") }},
		{"wrong verifier", authzQuery(), func(c string) url.Values {
			return exchange(c, "code_verifier", strings.Repeat("a", 43))
		}},
		{"downgrade: verifier for a code without challenge", authzQuery("code_challenge", "", "code_challenge_method", ""), func(c string) url.Values { return exchange(c) }},
		{"other redirect_uri", authzQuery(), func(c string) url.Values {
			return exchange(c, "redirect_uri", "https://app.example.com/other")
		}},
		{"redirect_uri dropped", authzQuery(), func(c string) url.Values { return exchange(c, "redirect_uri", "") }},
		{"another client", authzQuery(), func(c string) url.Values {
			return exchange(c, "client_id", "single", "client_secret", "s")
		}},
		{"tampered code", authzQuery(), func(c string) url.Values { return exchange(tamper(c)) }},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			status, m := e.token(tc.form(b.code(tc.q)))
			if status != http.StatusBadRequest || m["error"] != "invalid_grant" || m["access_token"] != nil {
				t.Fatalf("%d %v", status, m)
			}
		})
	}
	t.Run("expired", func(t *testing.T) {
		c := b.code(authzQuery())
		e.clock.Add(61 * time.Second)
		if status, m := e.token(exchange(c)); status != http.StatusBadRequest || m["error"] != "invalid_grant" {
			t.Fatalf("%d %v", status, m)
		}
	})
	t.Run("replay revokes the first redemption's tokens", func(t *testing.T) {
		c := b.code(authzQuery("scope", "openid offline_access"))
		status, first := e.token(exchange(c))
		if status != http.StatusOK {
			t.Fatalf("%d %v", status, first)
		}
		if status, m := e.token(exchange(c)); status != http.StatusBadRequest || m["error"] != "invalid_grant" {
			t.Fatalf("replay: %d %v", status, m)
		}
		status, m := e.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first["refresh_token"].(string)},
			"client_id": {webApp}, "client_secret": {"web-secret"}})
		if status == http.StatusOK {
			t.Fatalf("the refresh token of a replayed code still works: %v", m)
		}
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, e.srv.URL+"/auth/v1/userinfo", nil)
		req.Header.Set("Authorization", "Bearer "+first["access_token"].(string))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("the access token of a replayed code: %d", res.StatusCode)
		}
	})
	t.Run("public client with PKCE", func(t *testing.T) {
		q := authzQuery("client_id", "spa", "redirect_uri", "http://127.0.0.1:8765/cb")
		c := b.code(q)
		status, m := e.token(url.Values{"grant_type": {"authorization_code"}, "code": {c}, "client_id": {"spa"},
			"redirect_uri": {"http://127.0.0.1:8765/cb"}, "code_verifier": {verifier}})
		if status != http.StatusOK {
			t.Fatalf("%d %v", status, m)
		}
	})
}

func TestIDTokenHintAtAuthorize(t *testing.T) {
	e := withProvider(t)
	b := e.browser()
	b.login()
	_, m := e.token(exchange(b.code(authzQuery())))
	hint := m["id_token"].(string)
	// The hint names the signed-in person: prompt=none answers.
	if r := b.authorize(authzQuery("prompt", "none", "id_token_hint", hint)); r.loc.Query().Get("code") == "" {
		t.Fatalf("matching hint: %v", r.loc)
	}
	// Someone else is signed in: login_required.
	other, err := e.accts.Register(t.Context(), accountInput("otra@example.com"))
	if err != nil {
		t.Fatal(err)
	}
	b2 := e.browser()
	if r := b2.post("/login", url.Values{"email": {other.Email}, "password": {testPassword}}); r.status != http.StatusSeeOther {
		t.Fatalf("login: %d", r.status)
	}
	e.wantRedirectError(b2.authorize(authzQuery("prompt", "none", "id_token_hint", hint)), webRedirect, "login_required")
}

func accountInput(email string) account.RegisterInput {
	return account.RegisterInput{Email: email, Password: testPassword, FirstName: "Otra", LastName: "Persona"}
}

// tamper changes the last character of s to another one (always another:
// replacing it with a fixed letter left the code unchanged one time in 64).
func tamper(s string) string {
	last := s[len(s)-1]
	repl := byte('A')
	if last == repl {
		repl = 'B'
	}
	return s[:len(s)-1] + string(repl)
}
