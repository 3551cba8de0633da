package web_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/multinexo/auth/internal/web"
)

var (
	secretRE = regexp.MustCompile(`id="totp-secret">([A-Z2-7 ]+)</code>`)
	codesRE  = regexp.MustCompile(`<li><code>([a-z2-7-]{19})</code></li>`)
)

func totpAt(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// enrol turns on TOTP for the test user through the pages, in browser b
// (signed in), and returns the secret and the recovery codes. The clock is
// left one step later, so the confirming code's step is over.
func (b *browser) enrol() (string, []string) {
	t := b.e.t
	t.Helper()
	r := b.get(web.PathAccount)
	if r.status != 200 || !strings.Contains(r.body, "Verificación en dos pasos") || !strings.Contains(r.body, `href="/account/mfa"`) {
		t.Fatalf("account page: %d %s", r.status, r.body)
	}
	r = b.get(web.PathMFA)
	if r.status != 200 || !strings.Contains(r.body, `action="/account/mfa/setup"`) {
		t.Fatalf("mfa page: %d %s", r.status, r.body)
	}
	r = b.post(web.PathMFA+"/setup", url.Values{})
	m := secretRE.FindStringSubmatch(r.body)
	if r.status != 200 || m == nil {
		t.Fatalf("setup: %d %s", r.status, r.body)
	}
	secret := strings.ReplaceAll(m[1], " ", "")
	if !strings.Contains(r.body, `<img src="data:image/png;base64,`) {
		t.Error("setup page has no QR code image")
	}
	if !strings.Contains(r.body, `href="otpauth://totp/Multinexo:ana.perez@example.com?`) || !strings.Contains(html.UnescapeString(r.body), "secret="+secret) {
		t.Errorf("setup page has no otpauth link for the secret: %s", r.body)
	}
	if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "img-src 'self' data:") || r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("setup page headers: CSP %q, Cache-Control %q", csp, r.header.Get("Cache-Control"))
	}
	// A wrong code: the same secret again, with a message.
	r = b.post(web.PathMFA+"/confirm", url.Values{"code": {totpAt(t, secret, b.e.clock.Now().Add(10*time.Minute))}})
	if m := secretRE.FindStringSubmatch(r.body); r.status != http.StatusUnprocessableEntity || m == nil || strings.ReplaceAll(m[1], " ", "") != secret ||
		!strings.Contains(r.body, "Ese código no es correcto") {
		t.Fatalf("wrong confirming code: %d %s", r.status, r.body)
	}
	r = b.post(web.PathMFA+"/confirm", url.Values{"code": {totpAt(t, secret, b.e.clock.Now())}})
	var codes []string
	for _, m := range codesRE.FindAllStringSubmatch(r.body, -1) {
		codes = append(codes, m[1])
	}
	if r.status != 200 || len(codes) != 10 || !strings.Contains(r.body, "Guarda tus códigos de recuperación") {
		t.Fatalf("confirm: %d, %d codes: %s", r.status, len(codes), r.body)
	}
	r = b.get(web.PathAccount + "?saved=mfaon")
	if !strings.Contains(r.body, "La verificación en dos pasos está activada") {
		t.Fatalf("account page after enrolment: %s", r.body)
	}
	b.e.clock.Add(30 * time.Second)
	return secret, codes
}

func (b *browser) cookie(name string) *http.Cookie {
	u, _ := url.Parse(b.e.srv.URL + web.PathLogin)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// passwordStep posts the password and expects the second step.
func (b *browser) passwordStep(cont string) *resp {
	t := b.e.t
	t.Helper()
	f := url.Values{"email": {testEmail}, "password": {testPassword}}
	if cont != "" {
		f.Set("continue", cont)
	}
	r := b.post(web.PathLogin, f)
	if r.status != http.StatusSeeOther || r.loc.Path != web.PathLoginVerify {
		t.Fatalf("password step: %d %v %s", r.status, r.loc, r.body)
	}
	if b.sessionCookie() != nil {
		t.Fatal("a session cookie was set before the second factor")
	}
	sc := r.header.Get("Set-Cookie")
	for _, want := range []string{web.LoginCookie + "=", "Path=/login", "HttpOnly", "SameSite=Strict", "Max-Age=300"} {
		if !strings.Contains(sc, want) {
			t.Errorf("pending cookie %q lacks %q", sc, want)
		}
	}
	return r
}

func TestMFAEnrolAndLogin(t *testing.T) {
	e := newEnv(t, nil)
	owner := e.browser()
	owner.login()
	secret, _ := owner.enrol()

	b := e.browser()
	r := b.passwordStep("")
	r = b.get(r.loc.RequestURI())
	if r.status != 200 || !strings.Contains(r.body, `action="/login/verify"`) || !strings.Contains(r.body, "Abre tu aplicación de autenticación") {
		t.Fatalf("verify page: %d %s", r.status, r.body)
	}
	// The pending login is not a session: /account still asks to log in.
	if r := b.get(web.PathAccount); r.status != http.StatusFound || r.loc.Path != web.PathLogin {
		t.Fatalf("/account during the second step: %d %v", r.status, r.loc)
	}
	if r := b.get(web.PathMFA); r.status != http.StatusFound || r.loc.Path != web.PathLogin {
		t.Fatalf("/account/mfa during the second step: %d %v", r.status, r.loc)
	}
	// A wrong code.
	r = b.post(web.PathLoginVerify, url.Values{"code": {"000000"}, "continue": {web.PathAccount}})
	if r.status != http.StatusUnauthorized || !strings.Contains(r.body, "Ese código no es correcto o ya se usó") || b.sessionCookie() != nil {
		t.Fatalf("wrong code: %d %s", r.status, r.body)
	}
	// The right one: a session, the pending cookie gone.
	code := totpAt(t, secret, e.clock.Now())
	r = b.post(web.PathLoginVerify, url.Values{"code": {code}, "continue": {web.PathAccount}})
	if r.status != http.StatusSeeOther || r.loc.Path != web.PathAccount || b.sessionCookie() == nil {
		t.Fatalf("right code: %d %v %s", r.status, r.loc, r.body)
	}
	if b.cookie(web.LoginCookie) != nil {
		t.Error("the pending-login cookie outlived the login")
	}
	if r := b.get(web.PathAccount); r.status != 200 {
		t.Fatalf("/account after the second step: %d", r.status)
	}
	// The same code in another browser, with the right password: refused.
	other := e.browser()
	other.passwordStep("")
	r = other.post(web.PathLoginVerify, url.Values{"code": {code}})
	if r.status != http.StatusUnauthorized || other.sessionCookie() != nil {
		t.Fatalf("replayed code: %d %s", r.status, r.body)
	}
}

func TestMFARecoveryCodeLogin(t *testing.T) {
	e := newEnv(t, nil)
	owner := e.browser()
	owner.login()
	_, codes := owner.enrol()
	b := e.browser()
	b.passwordStep("")
	r := b.post(web.PathLoginVerify, url.Values{"code": {strings.ToUpper(codes[3])}})
	if r.status != http.StatusSeeOther || b.sessionCookie() == nil {
		t.Fatalf("recovery code: %d %s", r.status, r.body)
	}
	if r := b.get(web.PathMFA); !strings.Contains(r.body, `id="codes-left">9<`) {
		t.Fatalf("codes left: %s", r.body)
	}
	again := e.browser()
	again.passwordStep("")
	if r := again.post(web.PathLoginVerify, url.Values{"code": {codes[3]}}); r.status != http.StatusUnauthorized {
		t.Fatalf("recovery code twice: %d %s", r.status, r.body)
	}
}

// TestMFAAuthorizationFlow: the second step sits between the password and
// the consent page; before the code nothing is issued and neither consent
// nor the authorization endpoint treat the browser as logged in.
func TestMFAAuthorizationFlow(t *testing.T) {
	e := newEnv(t, nil)
	owner := e.browser()
	owner.login()
	secret, _ := owner.enrol()

	b := e.browser()
	r := b.authorize(authzQuery())
	if r.status != http.StatusFound || r.loc.Path != web.PathLogin {
		t.Fatalf("authorize: %d %v", r.status, r.loc)
	}
	cont := r.loc.Query().Get("continue")
	r = b.passwordStep(cont)
	if got := r.loc.Query().Get("continue"); got != cont {
		t.Fatalf("continue %q, want %q", got, cont)
	}
	verify := b.get(r.loc.RequestURI())
	if verify.status != 200 || !strings.Contains(verify.body, "Tienda Ejemplo") {
		t.Fatalf("verify page does not name the application: %s", verify.body)
	}
	if csp := verify.header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' https://app.example.com") {
		t.Errorf("verify page CSP %q does not let the redirect reach the client", csp)
	}
	// Skipping the code: straight to the authorization endpoint, or to
	// the consent form with the request's parameters.
	if r := b.authorize(authzQuery()); r.status != http.StatusFound || r.loc.Path != web.PathLogin {
		t.Fatalf("authorize during the second step: %d %v", r.status, r.loc)
	}
	if r := b.authorize(authzQuery("prompt", "none")); r.status != http.StatusFound || r.loc.Query().Get("error") != "login_required" {
		t.Fatalf("prompt=none during the second step: %d %v", r.status, r.loc)
	}
	forged := url.Values{"authz": {authzQuery().Encode()}, "binding": {"x"}, "decision": {"allow"}}
	if r := b.post(web.PathConsent, forged); r.status != http.StatusSeeOther || r.loc.Path != web.PathLogin {
		t.Fatalf("consent during the second step: %d %v %s", r.status, r.loc, r.body)
	}
	if codes, grants := e.st.issued(); codes != 0 || grants != 0 {
		t.Fatalf("issued before the second factor: %d codes, %d grants", codes, grants)
	}
	// The code: back to the authorization request, then consent, then the
	// client gets its code.
	r = b.post(web.PathLoginVerify, url.Values{"code": {totpAt(t, secret, e.clock.Now())}, "continue": {cont}})
	if r.status != http.StatusSeeOther || r.loc.Path != web.PathAuthorize {
		t.Fatalf("after the code: %d %v %s", r.status, r.loc, r.body)
	}
	r = b.get(r.loc.RequestURI())
	r = b.consent(r, "allow")
	if r.status != http.StatusSeeOther || r.loc.Query().Get("code") == "" || r.loc.Query().Get("state") != "st-123" {
		t.Fatalf("after consent: %d %v", r.status, r.loc)
	}
}

func TestMFAThrottled(t *testing.T) {
	e := newEnv(t, nil) // LockAfter: 4
	owner := e.browser()
	owner.login()
	secret, _ := owner.enrol()
	b := e.browser()
	b.passwordStep("")
	for i := range 4 {
		if r := b.post(web.PathLoginVerify, url.Values{"code": {"00000" + string(rune('1'+i))}}); r.status != http.StatusUnauthorized {
			t.Fatalf("wrong code %d: %d", i, r.status)
		}
	}
	r := b.post(web.PathLoginVerify, url.Values{"code": {totpAt(t, secret, e.clock.Now())}})
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" || b.sessionCookie() != nil ||
		!strings.Contains(r.body, "Demasiados intentos fallidos") {
		t.Fatalf("right code after the limit: %d %s", r.status, r.body)
	}
	// The password step is locked too.
	r = e.browser().post(web.PathLogin, url.Values{"email": {testEmail}, "password": {testPassword}})
	if r.status != http.StatusTooManyRequests {
		t.Fatalf("password after the limit: %d", r.status)
	}
}

func TestMFAPendingLoginExpires(t *testing.T) {
	e := newEnv(t, nil)
	owner := e.browser()
	owner.login()
	secret, _ := owner.enrol()
	b := e.browser()
	b.passwordStep("")
	e.clock.Add(5*time.Minute + time.Second)
	r := b.post(web.PathLoginVerify, url.Values{"code": {totpAt(t, secret, e.clock.Now())}})
	if r.status != http.StatusUnauthorized || !strings.Contains(r.body, `action="/login"`) ||
		!strings.Contains(r.body, "Pasó demasiado tiempo") || b.sessionCookie() != nil {
		t.Fatalf("expired pending login: %d %s", r.status, r.body)
	}
	// No pending login at all, or a forged one: the password page.
	for _, c := range []string{"", "bm90LWEtdGlja2V0"} {
		nb := e.browser()
		u, _ := url.Parse(e.srv.URL + web.PathLogin)
		if c != "" {
			nb.c.Jar.SetCookies(u, []*http.Cookie{{Name: web.LoginCookie, Value: c, Path: "/login"}})
		}
		if r := nb.get(web.PathLoginVerify); r.status != 200 || !strings.Contains(r.body, `action="/login"`) || strings.Contains(r.body, `action="/login/verify"`) {
			t.Fatalf("verify page with cookie %q: %d %s", c, r.status, r.body)
		}
		if r := nb.post(web.PathLoginVerify, url.Values{"code": {"123456"}}); r.status != http.StatusUnauthorized || nb.sessionCookie() != nil {
			t.Fatalf("verify with cookie %q: %d", c, r.status)
		}
	}
}

func TestMFACrossOriginRefused(t *testing.T) {
	e := newEnv(t, nil)
	owner := e.browser()
	owner.login()
	secret, _ := owner.enrol()
	b := e.browser()
	b.passwordStep("")
	code := totpAt(t, secret, e.clock.Now())
	for _, hdr := range [][]string{{"Sec-Fetch-Site", "cross-site"}, {"Origin", "https://evil.example"}} {
		r := b.post(web.PathLoginVerify, url.Values{"code": {code}}, hdr...)
		if r.status != http.StatusForbidden || b.sessionCookie() != nil {
			t.Fatalf("cross-origin code %v: %d", hdr, r.status)
		}
		for _, p := range []string{"/setup", "/confirm", "/disable", "/recovery"} {
			if r := owner.post(web.PathMFA+p, url.Values{"code": {code}, "password": {testPassword}}, hdr...); r.status != http.StatusForbidden {
				t.Errorf("cross-origin %s %v: %d", p, hdr, r.status)
			}
		}
	}
	// The refused posts changed nothing: the code still works, once.
	if r := b.post(web.PathLoginVerify, url.Values{"code": {code}}); r.status != http.StatusSeeOther {
		t.Fatalf("same-origin code: %d %s", r.status, r.body)
	}
}

func TestMFADisableAndRegenerate(t *testing.T) {
	e := newEnv(t, nil)
	owner := e.browser()
	owner.login()
	secret, codes := owner.enrol()
	// New recovery codes need a code; the old ones stop working.
	r := owner.post(web.PathMFA+"/recovery", url.Values{"code": {"999999"}})
	if r.status != http.StatusBadRequest || !strings.Contains(r.body, "Ese código no es correcto") {
		t.Fatalf("regenerate with a wrong code: %d %s", r.status, r.body)
	}
	r = owner.post(web.PathMFA+"/recovery", url.Values{"code": {codes[0]}})
	fresh := codesRE.FindAllStringSubmatch(r.body, -1)
	if r.status != 200 || len(fresh) != 10 {
		t.Fatalf("regenerate: %d %s", r.status, r.body)
	}
	// Disabling needs the password and a code.
	r = owner.post(web.PathMFA+"/disable", url.Values{"password": {"equivocada"}, "code": {totpAt(t, secret, e.clock.Now())}})
	if r.status != http.StatusBadRequest || !strings.Contains(r.body, "La contraseña actual no es correcta") {
		t.Fatalf("disable, wrong password: %d %s", r.status, r.body)
	}
	r = owner.post(web.PathMFA+"/disable", url.Values{"password": {testPassword}, "code": {codes[1]}})
	if r.status != http.StatusBadRequest || !strings.Contains(r.body, "Ese código no es correcto") {
		t.Fatalf("disable with an old recovery code: %d %s", r.status, r.body)
	}
	r = owner.post(web.PathMFA+"/disable", url.Values{"password": {testPassword}, "code": {totpAt(t, secret, e.clock.Now())}})
	if r.status != http.StatusSeeOther || r.loc.RequestURI() != web.PathAccount+"?saved=mfaoff" {
		t.Fatalf("disable: %d %v %s", r.status, r.loc, r.body)
	}
	if r := owner.get(r.loc.RequestURI()); !strings.Contains(r.body, "La verificación en dos pasos se desactivó") {
		t.Fatalf("account page after disabling: %s", r.body)
	}
	// The password alone logs in again.
	e.browser().login()
}

func TestMFAPagesEnglish(t *testing.T) {
	e := newEnv(t, nil)
	owner := e.browser()
	owner.login()
	owner.enrol()
	b := e.browser()
	b.passwordStep("")
	r := b.get(web.PathLoginVerify, "Accept-Language", "en-GB,en;q=0.9")
	if !strings.Contains(r.body, "Open your authenticator app and type the 6-digit code") || r.header.Get("Content-Language") != "en" {
		t.Fatalf("English verify page: %s", r.body)
	}
	r = owner.get(web.PathMFA, "Accept-Language", "en")
	if !strings.Contains(r.body, "Two-step verification is on.") {
		t.Fatalf("English mfa page: %s", r.body)
	}
}
