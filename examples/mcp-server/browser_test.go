package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/modelcontextprotocol/go-sdk/auth"
)

// The browser step of the end-to-end tests runs in a real headless
// Chromium: the person logs in on Multinexo's login page, reads the
// consent page and allows; the browser then lands on the client's
// loopback callback, which hands the code to the SDK's OAuth handler.

// callbackServer is the MCP client's loopback redirect URI.
type callbackServer struct {
	srv  *httptest.Server
	mu   sync.Mutex
	last url.Values
}

func newCallback(t *testing.T) *callbackServer {
	c := &callbackServer{}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/callback" { // the browser asks for /favicon.ico too
			http.NotFound(w, r)
			return
		}
		c.mu.Lock()
		c.last = r.URL.Query()
		c.mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><html><body><p id="done">Puedes cerrar esta ventana.</p></body></html>`)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *callbackServer) url() string { return c.srv.URL + "/callback" }

func (c *callbackServer) query() url.Values {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

// newBrowser starts a headless Chromium (skipping loudly without one);
// each use bounds its own time.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		t.Skip("SKIPPING MCP BROWSER TEST: no chromium in PATH; install the Debian package `chromium`")
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("lang", "es-ES"), chromedp.Flag("accept-lang", "es-ES,es"))
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	if err := chromedp.Do(ctx); err != nil { // starts the browser, outside any timeout
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

// follow runs act, which loads another page, and waits for that page to
// show waitFor (not merely for the page being left to still show it).
func follow(act chromedp.Action[chromedp.Void], waitFor string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		if _, err := chromedp.RunResponse(ctx, act); err != nil {
			return fmt.Errorf("loading the page that should show %s: %w", waitFor, err)
		}
		return chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(waitFor)))
	})
}

// pageKind tells which page the browser shows: login, consent, or the
// client's callback (done); null (keep polling) while none is there yet.
const pageKind = `(function(){
  if (document.querySelector('#done')) return 'done';
  if (document.querySelector('button[value="allow"]')) return 'consent';
  if (document.querySelector('#email')) return 'login';
  return null;
})()`

// browserFetcher is the SDK's AuthorizationCodeFetcher done in Chromium:
// one authorization at a time (the SDK may ask again while one runs),
// through the login page when the browser is not signed in yet and the
// consent page when consent is needed. check sees each consent page.
func browserFetcher(t *testing.T, s *stack, cb *callbackServer, check func(page string)) auth.AuthorizationCodeFetcher {
	browser := newBrowser(t)
	var mu sync.Mutex
	return func(_ context.Context, args *auth.AuthorizationArgs) (*auth.AuthorizationResult, error) {
		mu.Lock()
		defer mu.Unlock()
		ctx, cancel := context.WithTimeout(browser, 90*time.Second)
		defer cancel()
		u, _ := url.Parse(args.URL)
		if u.Query().Get("resource") != s.mcpURL || u.Query().Get("code_challenge_method") != "S256" {
			t.Errorf("authorization request without resource or PKCE: %s", args.URL)
		}
		if _, err := chromedp.RunResponse(ctx, chromedp.Navigate(args.URL)); err != nil {
			return nil, fmt.Errorf("opening the authorization URL: %w", err)
		}
		for range 3 {
			kind, err := chromedp.Run(ctx, chromedp.Poll[string](pageKind))
			if err != nil {
				return nil, fmt.Errorf("waiting for a page: %w", err)
			}
			switch kind {
			case "login":
				err = chromedp.Do(ctx,
					chromedp.SendKeys(chromedp.CSS(`#email`), email),
					chromedp.SendKeys(chromedp.CSS(`#password`), password),
					follow(chromedp.Click(chromedp.CSS(`form button[type=submit]`)), `#done, button[value="allow"]`))
			case "consent":
				var page string
				if page, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body"))); err == nil {
					check(page)
					err = chromedp.Do(ctx, follow(chromedp.Click(chromedp.CSS(`button[value="allow"]`)), `#done`))
				}
			case "done":
				q := cb.query()
				if q.Get("state") != u.Query().Get("state") {
					return nil, fmt.Errorf("the callback got state %q", q.Get("state"))
				}
				return &auth.AuthorizationResult{Code: q.Get("code"), State: q.Get("state"), Iss: q.Get("iss")}, nil
			}
			if err != nil {
				return nil, fmt.Errorf("in the browser (%s page): %w", kind, err)
			}
		}
		return nil, fmt.Errorf("the browser did not reach the callback")
	}
}

// wantConsent checks the consent page's text for each of want, and that
// the page was shown at all (at the test's end).
func wantConsent(t *testing.T, want ...string) func(string) {
	seen := false
	t.Cleanup(func() {
		if !seen {
			t.Error("no consent page was shown")
		}
	})
	return func(page string) {
		seen = true
		for _, w := range want {
			if !strings.Contains(page, w) {
				t.Errorf("consent page lacks %q: %s", w, page)
			}
		}
	}
}
