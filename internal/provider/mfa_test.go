package provider

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/multinexo/auth/internal/account"
)

func withMFA() envOption {
	return func(_ *Config, a *account.Config) { a.Secret = testSecret; a.LockAfter = 5 }
}

func totpCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestPasswordGrantSecondFactor: for an account with TOTP the password
// grant needs otp (or totp); without it, or with a wrong or used code,
// invalid_grant and nothing is issued.
func TestPasswordGrantSecondFactor(t *testing.T) {
	e := newEnv(t, withMFA())
	en, err := e.acct.BeginTOTP(e.ctx, e.user.ID)
	if err != nil {
		t.Fatal(err)
	}
	recovery, err := e.acct.ConfirmTOTP(e.ctx, e.user.ID, totpCode(t, en.Secret, e.clk.Now()))
	if err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(30 * time.Second)
	req := func(kv ...string) *resp {
		v := url.Values{"grant_type": {"password"}, "username": {e.email}, "password": {e.password},
			"client_id": {e.pw.id}, "client_secret": {e.pw.secret}, "scope": {"openid"}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return e.form(PathToken, v)
	}
	before := e.counts()
	refused := func(name string, r *resp, wantDesc string) {
		t.Helper()
		if r.status != 400 || r.str("error") != "invalid_grant" || r.body["access_token"] != nil {
			t.Fatalf("%s: %d %s", name, r.status, r.raw)
		}
		if !strings.Contains(r.str("error_description"), wantDesc) {
			t.Errorf("%s: description %q, want it to mention %q", name, r.str("error_description"), wantDesc)
		}
		if r.header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: Cache-Control %q", name, r.header.Get("Cache-Control"))
		}
		if got := e.counts(); got != before {
			t.Fatalf("%s issued something: %v → %v", name, before, got)
		}
	}
	refused("no otp", req(), "otp")
	refused("wrong otp", req("otp", "000000"), "segundo factor")
	refused("wrong password, right otp", req("password", "equivocada", "otp", totpCode(t, en.Secret, e.clk.Now())), "credenciales")

	code := totpCode(t, en.Secret, e.clk.Now())
	r := req("otp", code)
	if r.status != 200 || r.str("access_token") == "" || r.str("refresh_token") == "" || r.str("id_token") == "" {
		t.Fatalf("right otp: %d %s", r.status, r.raw)
	}
	if amr := idAMR(t, r.str("id_token")); strings.Join(amr, " ") != "pwd otp mfa" {
		t.Errorf("ID token amr %v after password and code", amr)
	}
	before = e.counts()
	refused("replayed otp", req("otp", code), "segundo factor")
	// Keycloak's name for it, next step.
	e.clk.Advance(30 * time.Second)
	if r := req("totp", totpCode(t, en.Secret, e.clk.Now())); r.status != 200 {
		t.Fatalf("totp parameter: %d %s", r.status, r.raw)
	}
	// A recovery code works once.
	if r := req("otp", recovery[0]); r.status != 200 {
		t.Fatalf("recovery code: %d %s", r.status, r.raw)
	}
	before = e.counts()
	refused("recovery code again", req("otp", recovery[0]), "segundo factor")
	// JSON body (seed 004) with otp.
	body := `{"grant_type":"password","username":"` + e.email + `","password":"` + e.password + `","otp":"` + recovery[1] + `"}`
	if r := e.rawPost(PathToken, "application/json", body, "Authorization", basic(e.pw.id, e.pw.secret)); r.status != 200 {
		t.Fatalf("JSON body with otp: %d %s", r.status, r.raw)
	}
}

// TestPasswordGrantSecondFactorThrottled: wrong codes count like wrong
// passwords: after the limit even the right code gets 429.
func TestPasswordGrantSecondFactorThrottled(t *testing.T) {
	e := newEnv(t, withMFA())
	en, err := e.acct.BeginTOTP(e.ctx, e.user.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.acct.ConfirmTOTP(e.ctx, e.user.ID, totpCode(t, en.Secret, e.clk.Now())); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(30 * time.Second)
	v := url.Values{"grant_type": {"password"}, "username": {e.email}, "password": {e.password},
		"client_id": {e.pw.id}, "client_secret": {e.pw.secret}}
	for i := range 5 {
		v.Set("otp", "99999"+string(rune('0'+i)))
		if r := e.form(PathToken, v); r.status != 400 {
			t.Fatalf("wrong code %d: %d %s", i, r.status, r.raw)
		}
	}
	v.Set("otp", totpCode(t, en.Secret, e.clk.Now()))
	r := e.form(PathToken, v)
	if r.status != 429 || r.str("error") != "invalid_grant" || r.header.Get("Retry-After") == "" {
		t.Fatalf("right code after the limit: %d %s", r.status, r.raw)
	}
}

// TestPasswordGrantWithoutSecondFactorIgnoresOTP: accounts without TOTP
// log in as before, whatever otp says.
func TestPasswordGrantWithoutSecondFactorIgnoresOTP(t *testing.T) {
	e := newEnv(t, withMFA())
	v := url.Values{"grant_type": {"password"}, "username": {e.email}, "password": {e.password},
		"client_id": {e.pw.id}, "client_secret": {e.pw.secret}, "otp": {"123456"}}
	if r := e.form(PathToken, v); r.status != 200 {
		t.Fatalf("%d %s", r.status, r.raw)
	}
}

// idAMR is the amr claim of an ID token (the signature is checked by
// other tests).
func idAMR(t *testing.T, raw string) []string {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS: %q", raw)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		AMR []string `json:"amr"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c.AMR
}

// TestPasswordGrantAMR: a password alone is amr pwd, in the first ID
// token and in the one a refresh brings.
func TestPasswordGrantAMR(t *testing.T) {
	e := newEnv(t)
	r := e.form(PathToken, url.Values{"grant_type": {"password"}, "username": {e.email}, "password": {e.password},
		"client_id": {e.pw.id}, "client_secret": {e.pw.secret}, "scope": {"openid"}})
	if r.status != 200 || r.str("id_token") == "" {
		t.Fatalf("password grant: %d %s", r.status, r.raw)
	}
	if amr := idAMR(t, r.str("id_token")); strings.Join(amr, " ") != "pwd" {
		t.Errorf("ID token amr %v", amr)
	}
	r = e.form(PathToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r.str("refresh_token")},
		"client_id": {e.pw.id}, "client_secret": {e.pw.secret}})
	if r.status != 200 || r.str("id_token") == "" {
		t.Fatalf("refresh: %d %s", r.status, r.raw)
	}
	if amr := idAMR(t, r.str("id_token")); strings.Join(amr, " ") != "pwd" {
		t.Errorf("refreshed ID token amr %v", amr)
	}
}
