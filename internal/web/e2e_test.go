package web_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/multinexo/auth/internal/api"
	"github.com/multinexo/auth/internal/provider"
	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/web"
)

// These tests drive a real headless Chromium (Debian package "chromium")
// through the whole authorization-code flow, as a person would, against the
// pages and the real token endpoint, then use the tokens with
// golang.org/x/oauth2 and go-oidc. The relying party runs on another origin
// (another port), so the CSP form-action of the consent page is exercised
// on the redirect that follows the form post.

func chromiumPath(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("SKIPPING BROWSER TESTS: no chromium in PATH; install the Debian package `chromium` (apt-get install -y chromium) to run them")
	return ""
}

// rp is a relying party on its own origin: /cb records what the
// authorization server sent; /frame frames our login page; /evil posts a
// form to our login from another site.
type rp struct {
	srv  *httptest.Server
	mu   sync.Mutex
	hits []url.Values
}

func newRP(t *testing.T, issuer string) *rp {
	p := &rp{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /cb", func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.hits = append(p.hits, r.URL.Query())
		p.mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><html><body><p id="done">callback</p></body></html>`)
	})
	mux.HandleFunc("GET /frame", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html><body><p id="host">framing</p><iframe id="f" src="%s/login" width="600" height="400"></iframe></body></html>`, issuer)
	})
	mux.HandleFunc("GET /evil", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html><body><form method="post" action="%s/login">
<input name="email" value="%s"><input name="password" value="%s">
<button id="go" type="submit">go</button></form></body></html>`, issuer, testEmail, testPassword)
	})
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

func (p *rp) last() url.Values {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.hits) == 0 {
		return nil
	}
	return p.hits[len(p.hits)-1]
}

// crossSiteURL names the relying party by "localhost" instead of 127.0.0.1,
// which makes it another site for the browser, not just another origin.
func (p *rp) crossSiteURL(path string) string {
	return strings.Replace(p.srv.URL, "127.0.0.1", "localhost", 1) + path
}

// newBrowser starts a headless Chromium with a fresh profile, whose person
// prefers Spanish unless extra says otherwise, and returns a context for
// driving one tab.
func newBrowser(t *testing.T, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1000, 900),
		chromedp.Flag("lang", "es-ES"),
		chromedp.Flag("accept-lang", "es-ES,es"),
	}
	opts = append(opts, extra...)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	// The first action starts the browser; it must not run under a timeout
	// (that would bound the browser's life), the later ones do.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	ctx, cancel3 := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancel3)
	slowNetwork(t, ctx)
	return ctx
}

// slowNetwork makes every response reach the browser no sooner than
// MULTINEXO_BROWSER_LATENCY after its request (default 25ms; "0" turns it
// off). A loaded machine delays pages by chance; this delays each one on
// purpose, so that a step which checks the page before the next one has
// arrived (a wait satisfied by the page being left, a navigation started
// while a redirect is in flight) fails every time instead of once in a
// while. Raise it (e.g. 300ms) to sweep the tests for such steps.
func slowNetwork(t *testing.T, ctx context.Context) {
	t.Helper()
	latency := 25 * time.Millisecond
	if s := os.Getenv("MULTINEXO_BROWSER_LATENCY"); s != "" {
		d, err := time.ParseDuration(s)
		if s == "0" {
			d, err = 0, nil
		}
		if err != nil {
			t.Fatalf("MULTINEXO_BROWSER_LATENCY: %v", err)
		}
		latency = d
	}
	if latency == 0 {
		return
	}
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{
		MatchedNetworkConditions: []*network.Conditions{{Latency: float64(latency.Milliseconds()), DownloadThroughput: -1, UploadThroughput: -1}},
	}); err != nil {
		t.Fatalf("emulating a slow network: %v", err)
	}
}

type e2e struct {
	*env
	rp   *rp
	conf *oauth2.Config
}

// newE2E is a server with the pages and the protocol endpoints; withAPI
// mounts the JSON:API resources about the person too.
func newE2E(t *testing.T, withAPI ...bool) *e2e {
	return newE2EWith(t, envOptions{}, withAPI...)
}

func newE2EWith(t *testing.T, o envOptions, withAPI ...bool) *e2e {
	chromiumPath(t)
	x := &e2e{}
	x.env = newEnvWith(t, o, func(e *env) {
		e.clock.live = true
		log := slog.New(slog.DiscardHandler)
		p, err := provider.New(provider.Config{
			Issuer: e.issuer, Store: e.st.DB, Keys: e.keys, Accounts: e.accts, Now: e.clock.Now,
			AccessTTL: 900 * time.Second, Log: log,
		})
		if err != nil {
			t.Fatal(err)
		}
		p.Mount(e.mux)
		if len(withAPI) > 0 && withAPI[0] {
			api.NewUsers(e.accts, e.st.DB, p, api.UsersConfig{Log: log}).Mount(e.mux)
		}
	})
	x.rp = newRP(t, x.issuer)
	now := time.Now()
	c := &store.Client{ID: "e2e-app", Name: "Tienda Ejemplo", Type: store.ClientConfidential, SecretHash: store.HashToken("e2e-secret"),
		RedirectURIs: []string{x.rp.srv.URL + "/cb"}, Grants: []string{store.GrantAuthorizationCode, store.GrantRefreshToken},
		Scopes: []string{"openid", "profile", "email", "voucher", "offline_access"}, CreatedAt: now, UpdatedAt: now}
	if err := x.st.CreateClient(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	x.conf = &oauth2.Config{
		ClientID: c.ID, ClientSecret: "e2e-secret", RedirectURL: c.RedirectURIs[0],
		Scopes:   []string{oidc.ScopeOpenID, "profile", "email", "voucher"},
		Endpoint: oauth2.Endpoint{AuthURL: x.issuer + web.PathAuthorize, TokenURL: x.issuer + "/auth/v1/token"},
	}
	return x
}

// screenshot saves the page as dir/name when MULTINEXO_SCREENSHOTS=dir
// (MULTINEXO_SCREENSHOTS=docs refreshes the README's pictures).
func screenshot(t *testing.T, ctx context.Context, name string) {
	dir := os.Getenv("MULTINEXO_SCREENSHOTS")
	if dir == "" {
		return
	}
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		t.Fatal(err)
	}
}

// follow runs act, a click or a submit that loads another page, and waits
// until that page has loaded and shows waitFor. Waiting for waitFor alone
// is not enough: the page being left may have it too (a search result
// list, any h1), and the wait then ends before the new page has even
// arrived; the next step reads the old page, or navigates away while a
// redirect is in flight (net::ERR_ABORTED). RunResponse waits for the
// navigation that act starts, redirects included.
func follow(act chromedp.Action[chromedp.Void], waitFor string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		if _, err := chromedp.RunResponse(ctx, act); err != nil {
			return fmt.Errorf("loading the page that should show %s: %w", waitFor, err)
		}
		return chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(waitFor)))
	})
}

func text(ctx context.Context, t *testing.T) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func location(ctx context.Context, t *testing.T) *url.URL {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestBrowserAuthorizationCodeFlow(t *testing.T) {
	x := newE2E(t)
	ctx := newBrowser(t)
	verifier := oauth2.GenerateVerifier()
	state, nonce := "estado-"+fmt.Sprint(time.Now().UnixNano()), "nonce-e2e-1"
	authURL := x.conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce))

	// 1. The application sends the browser to us: the login page, in Spanish.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(authURL),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
	); err != nil {
		t.Fatal(err)
	}
	if body := text(ctx, t); !strings.Contains(body, "Iniciar sesión") || !strings.Contains(body, "Tienda Ejemplo") {
		t.Fatalf("login page: %q", body)
	}
	screenshot(t, ctx, "login.png")

	// 2. Log in; the consent page in Spanish names the app and each scope.
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`#email`), testEmail),
		chromedp.SendKeys(chromedp.CSS(`#password`), testPassword),
		follow(chromedp.Click(chromedp.CSS(`form button[type=submit]`)), `button[value="allow"]`),
	); err != nil {
		t.Fatal(err)
	}
	body := text(ctx, t)
	for _, s := range []string{"Tienda Ejemplo", "Confirmar tu identidad", "Ver tu nombre", "Ver tu dirección de correo", "Gestionar tus comprobantes", "Permitir", "Denegar"} {
		if !strings.Contains(body, s) {
			t.Errorf("consent page lacks %q: %q", s, body)
		}
	}
	screenshot(t, ctx, "consent.png")

	// 3. Allow: back at the application (another origin) with code, state, iss.
	if err := chromedp.Do(ctx,
		follow(chromedp.Click(chromedp.CSS(`button[value="allow"]`)), `#done`),
	); err != nil {
		t.Fatalf("allow did not reach the application (CSP form-action?): %v", err)
	}
	loc := location(ctx, t)
	got := x.rp.last()
	if loc.Host != strings.TrimPrefix(x.rp.srv.URL, "http://") || got.Get("state") != state || got.Get("iss") != x.issuer || got.Get("code") == "" {
		t.Fatalf("landed on %s with %v", loc, got)
	}

	// 4. Exchange with golang.org/x/oauth2, PKCE verifier included.
	tok, err := x.conf.Exchange(t.Context(), got.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if tok.AccessToken == "" || tok.RefreshToken == "" || tok.TokenType != "Bearer" {
		t.Fatalf("token %+v", tok)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		t.Fatal("no id_token")
	}

	// 5. Verify the ID token with go-oidc, through discovery and the JWKS.
	op, err := oidc.NewProvider(t.Context(), x.issuer)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	if op.Endpoint().AuthURL != x.issuer+web.PathAuthorize {
		t.Errorf("discovery names %s as authorization endpoint", op.Endpoint().AuthURL)
	}
	idt, err := op.Verifier(&oidc.Config{ClientID: x.conf.ClientID}).Verify(t.Context(), raw)
	if err != nil {
		t.Fatalf("ID token: %v", err)
	}
	if idt.Nonce != nonce || idt.Subject != x.user.ID {
		t.Fatalf("ID token nonce %q subject %q", idt.Nonce, idt.Subject)
	}
	var claims struct {
		Email string `json:"email"`
		Name  string `json:"given_name"`
	}
	if err := idt.Claims(&claims); err != nil || claims.Email != testEmail || claims.Name != "Ana" {
		t.Errorf("claims %+v %v", claims, err)
	}
	// The access token works at userinfo.
	ui, err := op.UserInfo(t.Context(), oauth2.StaticTokenSource(tok))
	if err != nil || ui.Subject != x.user.ID {
		t.Fatalf("userinfo %v %v", ui, err)
	}
	// The code is single use, and a replay revokes what the first
	// redemption issued (RFC 6749 §4.1.2).
	if _, err := x.conf.Exchange(t.Context(), got.Get("code"), oauth2.VerifierOption(verifier)); err == nil {
		t.Error("a code was redeemed twice")
	}
	if _, err := op.UserInfo(t.Context(), oauth2.StaticTokenSource(tok)); err == nil {
		t.Error("the access token of a replayed code still works")
	}
	if _, err := x.conf.TokenSource(t.Context(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err == nil {
		t.Error("the refresh token of a replayed code still works")
	}

	// 6. Remembered consent: the next authorization skips the page.
	verifier2 := oauth2.GenerateVerifier()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(x.conf.AuthCodeURL("second", oauth2.S256ChallengeOption(verifier2), oidc.Nonce("n2"))),
		chromedp.WaitVisible(chromedp.CSS(`#done`)),
	); err != nil {
		t.Fatalf("remembered consent: %v", err)
	}
	if got := x.rp.last(); got.Get("state") != "second" || got.Get("code") == "" {
		t.Fatalf("remembered consent answered %v", got)
	}
	if _, err := x.conf.Exchange(t.Context(), x.rp.last().Get("code"), oauth2.VerifierOption(verifier2)); err != nil {
		t.Fatalf("second exchange: %v", err)
	}

	// 7. Deny (prompt=consent asks again): error=access_denied.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(x.conf.AuthCodeURL("third", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("prompt", "consent"))),
		chromedp.WaitVisible(chromedp.CSS(`button[value="deny"]`)),
		follow(chromedp.Click(chromedp.CSS(`button[value="deny"]`)), `#done`),
	); err != nil {
		t.Fatalf("deny: %v", err)
	}
	if got := x.rp.last(); got.Get("error") != "access_denied" || got.Get("state") != "third" || got.Get("iss") != x.issuer || got.Has("code") {
		t.Fatalf("deny answered %v", got)
	}
}

func TestBrowserEnglish(t *testing.T) {
	x := newE2E(t)
	ctx := newBrowser(t)
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{
		Headers: network.Headers{"Accept-Language": "en-US,en;q=0.9"},
	}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx,
		chromedp.Navigate(x.conf.AuthCodeURL("en", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
	); err != nil {
		t.Fatal(err)
	}
	if body := text(ctx, t); !strings.Contains(body, "Sign in") || !strings.Contains(body, "Enter your Multinexo email and password") {
		t.Fatalf("English login page: %q", body)
	}
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`#email`), testEmail),
		chromedp.SendKeys(chromedp.CSS(`#password`), testPassword),
		follow(chromedp.Click(chromedp.CSS(`form button[type=submit]`)), `button[value="allow"]`),
	); err != nil {
		t.Fatal(err)
	}
	body := text(ctx, t)
	for _, s := range []string{"Confirm your identity", "See your name", "Manage your vouchers", "Allow", "Deny"} {
		if !strings.Contains(body, s) {
			t.Errorf("English consent page lacks %q: %q", s, body)
		}
	}
}

func TestBrowserRefusesFraming(t *testing.T) {
	x := newE2E(t)
	ctx := newBrowser(t)
	if err := chromedp.Do(ctx,
		// Same site, other origin: the frame stays in this page's frame
		// tree (a cross-site frame would be out of process).
		chromedp.Navigate(x.rp.srv.URL+"/frame"),
		chromedp.WaitVisible(chromedp.CSS(`#host`)),
	); err != nil {
		t.Fatal(err)
	}
	// Wait (bounded) until the frame has been navigated, to our page or to
	// Chromium's error page: a fixed sleep looks too early on a loaded
	// machine, at an about:blank frame that proves nothing.
	var f *cdp.Frame
	for deadline := time.Now().Add(30 * time.Second); ; {
		res, err := chromedp.Call(ctx, page.GetFrameTree, cdp.Empty{})
		if err != nil {
			t.Fatal(err)
		}
		if kids := res.FrameTree.ChildFrames; len(kids) > 1 {
			t.Fatalf("%d child frames", len(kids))
		} else if len(kids) == 1 && kids[0].Frame.URL != "" && kids[0].Frame.URL != "about:blank" {
			f = kids[0].Frame
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the frame never loaded")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A frame refused by frame-ancestors shows Chromium's error page, not ours.
	if strings.HasPrefix(f.URL, x.issuer) && f.UnreachableURL == "" {
		t.Fatalf("the login page was rendered in a frame: url %q", f.URL)
	}
	t.Logf("framed login: url %q, unreachable %q", f.URL, f.UnreachableURL)
	// And the frame holds no login form: ask the frame's document.
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`(function(){try{return document.getElementById('f').contentDocument ? document.getElementById('f').contentDocument.querySelectorAll('#email').length : 0}catch(e){return 0}})()`))
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatal("the framed document has the login form")
	}
}

func TestBrowserRefusesCrossSiteFormPost(t *testing.T) {
	x := newE2E(t)
	ctx := newBrowser(t)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(x.rp.crossSiteURL("/evil")),
		chromedp.WaitVisible(chromedp.CSS(`#go`)),
	); err != nil {
		t.Fatal(err)
	}
	res, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`#go`)))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != http.StatusForbidden {
		t.Fatalf("status %d, want 403", res.Status)
	}
	if body := text(ctx, t); !strings.Contains(body, "El formulario llegó desde otro sitio") {
		t.Fatalf("cross-site post answered %q", body)
	}
	// And no session was made.
	cookies, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{x.issuer}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cookies.Cookies {
		if c.Name == web.CookieName {
			t.Fatal("a cross-site form post logged the browser in")
		}
	}
}
