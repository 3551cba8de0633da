package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/net/html"
)

// Endpoint paths (API.md).
const (
	pathToken      = "/auth/v1/token"
	pathIntrospect = "/auth/v1/introspect"
	pathUserinfo   = "/auth/v1/userinfo"
	pathAuthorize  = "/auth/v1/authorize"
	pathUsers      = "/v1/users"
	pathUsersMe    = "/v1/users/me"
	pathLogin      = "/login"
	pathConsent    = "/consent"
)

// env is what the scenarios share: the target, the client, the user.
type env struct {
	cfg    *Config
	target *url.URL
	http   *http.Client

	userOnce sync.Once
	userErr  error
}

func (e *env) basic() string {
	return "Authorization: Basic " + base64.StdEncoding.EncodeToString(
		[]byte(url.QueryEscape(e.cfg.ClientID)+":"+url.QueryEscape(e.cfg.ClientSecret)))
}

func (e *env) url(path string) string { return e.target.String() + path }

func (e *env) scenario(ctx context.Context, name string) ([]group, error) {
	n := e.cfg.Concurrency
	switch name {
	case ScenarioClientCredentials:
		req := request("POST", e.target, pathToken, []string{e.basic(), "Content-Type: application/x-www-form-urlencoded"},
			[]byte("grant_type=client_credentials"))
		return []group{{name: name, workers: n, paced: true, newStep: fixed(req, 200)}}, nil
	case ScenarioClientCredentialsResource:
		if e.cfg.Resource == "" {
			return nil, errors.New("bench: client-credentials-resource needs a registered resource (--resource)")
		}
		req := request("POST", e.target, pathToken, []string{e.basic(), "Content-Type: application/x-www-form-urlencoded"},
			[]byte(url.Values{"grant_type": {"client_credentials"}, "resource": {e.cfg.Resource}}.Encode()))
		return []group{{name: name, workers: n, paced: true, newStep: fixedCheck(req, 200, []byte(`"access_token"`))}}, nil
	case ScenarioPassword:
		if err := e.ensureUser(ctx); err != nil {
			return nil, err
		}
		req := request("POST", e.target, pathToken, []string{e.basic(), "Content-Type: application/x-www-form-urlencoded"},
			[]byte(url.Values{"grant_type": {"password"}, "username": {e.cfg.Username}, "password": {e.cfg.Password}, "scope": {e.cfg.Scope}}.Encode()))
		return []group{{name: name, workers: n, paced: true, newStep: fixed(req, 200),
			note: "argon2id-bound by design: each request hashes a password"}}, nil
	case ScenarioRefresh:
		if err := e.ensureUser(ctx); err != nil {
			return nil, err
		}
		return []group{{name: name, workers: n, paced: true, newStep: e.refreshStep}}, nil
	case ScenarioIntrospect, ScenarioUserinfo, ScenarioUsersMe:
		if err := e.ensureUser(ctx); err != nil {
			return nil, err
		}
		at, _, err := e.login(ctx)
		if err != nil {
			return nil, err
		}
		var req []byte
		switch name {
		case ScenarioIntrospect:
			req = request("POST", e.target, pathIntrospect, []string{e.basic(), "Content-Type: application/x-www-form-urlencoded"},
				[]byte(url.Values{"token": {at}}.Encode()))
		case ScenarioUserinfo:
			req = request("GET", e.target, pathUserinfo, []string{"Authorization: Bearer " + at}, nil)
		default:
			req = request("GET", e.target, pathUsersMe, []string{"Authorization: Bearer " + at, "Accept: application/vnd.api+json"}, nil)
		}
		check := []byte(nil)
		if name == ScenarioIntrospect {
			check = []byte(`"active":true`)
		}
		return []group{{name: name, workers: n, paced: true, newStep: fixedCheck(req, 200, check)}}, nil
	case ScenarioAuthorizationCode:
		if e.cfg.RedirectURI == "" {
			return nil, errors.New("needs a redirect URI registered for the client (--redirect-uri)")
		}
		if err := e.ensureUser(ctx); err != nil {
			return nil, err
		}
		return []group{{name: name, workers: n, paced: true, newStep: e.codeStep,
			note: "one flow = GET authorize (session cookie, remembered consent) → 302 with code → POST token"}}, nil
	case ScenarioPasswordFlood:
		if err := e.ensureUser(ctx); err != nil {
			return nil, err
		}
		// Wrong passwords for unknown accounts (each costs the same argon2
		// work as a real one), from FloodConcurrency connections, while
		// Concurrency workers refresh. The bench user is left alone so
		// its account is not locked under the refreshing workers.
		flood := func(ctx context.Context, i int) (stepFunc, error) {
			user := fmt.Sprintf("nobody-%d@bench.invalid", i)
			req := request("POST", e.target, pathToken, []string{e.basic(), "Content-Type: application/x-www-form-urlencoded"},
				[]byte(url.Values{"grant_type": {"password"}, "username": {user}, "password": {"wrong-password-" + strconv.Itoa(i)}, "scope": {e.cfg.Scope}}.Encode()))
			return func(ctx context.Context, c *conn) (outcome, string) {
				r, err := c.do(ctx, req)
				if err != nil {
					return failed, errKind(err)
				}
				switch {
				case r.Status == 400 && bytes.Contains(r.Body, []byte("invalid_grant")):
					return ok, ""
				case r.Status == 429 || r.Status == 503:
					return refused, ""
				}
				return failed, strconv.Itoa(r.Status)
			}, nil
		}
		return []group{
			{name: "refresh (during flood)", workers: n, paced: true, newStep: e.refreshStep},
			{name: name, workers: e.cfg.FloodConcurrency, newStep: flood,
				note: "wrong passwords; ok = 400 invalid_grant after a hash, refused = 429/503 with Retry-After"},
		}, nil
	}
	return nil, fmt.Errorf("unknown scenario %q", name)
}

// fixed sends the same request every time and expects status want.
func fixed(req []byte, want int) func(context.Context, int) (stepFunc, error) {
	return fixedCheck(req, want, nil)
}

func fixedCheck(req []byte, want int, contains []byte) func(context.Context, int) (stepFunc, error) {
	return func(context.Context, int) (stepFunc, error) {
		return func(ctx context.Context, c *conn) (outcome, string) {
			r, err := c.do(ctx, req)
			if err != nil {
				return failed, errKind(err)
			}
			if r.Status != want {
				return statusOutcome(r)
			}
			if contains != nil && !bytes.Contains(r.Body, contains) {
				return failed, "unexpected body"
			}
			return ok, ""
		}, nil
	}
}

func statusOutcome(r *response) (outcome, string) {
	if r.Status == 429 || r.Status == 503 {
		return refused, ""
	}
	return failed, strconv.Itoa(r.Status)
}

func errKind(err error) string {
	s := err.Error()
	if len(s) > 60 {
		s = s[:60]
	}
	return s
}

// refreshStep: one chain per worker, each iteration presenting the refresh
// token the previous one returned. A broken chain (an error) starts a new
// one with a password login, outside the measured request.
func (e *env) refreshStep(ctx context.Context, i int) (stepFunc, error) {
	_, rt, err := e.login(ctx)
	if err != nil {
		return nil, err
	}
	head := e.basic() + "\r\nContent-Type: application/x-www-form-urlencoded"
	return func(ctx context.Context, c *conn) (outcome, string) {
		if rt == "" {
			if _, rt, err = e.login(ctx); err != nil {
				return failed, "re-login: " + errKind(err)
			}
		}
		req := request("POST", e.target, pathToken, []string{head},
			[]byte("grant_type=refresh_token&refresh_token="+url.QueryEscape(rt)))
		r, err := c.do(ctx, req)
		if err != nil {
			rt = "" // the rotation may have happened: the chain is unknown
			return failed, errKind(err)
		}
		if r.Status != 200 {
			rt = ""
			return statusOutcome(r)
		}
		next := jsonString(r.Body, "refresh_token")
		if next == "" {
			rt = ""
			return failed, "no refresh_token"
		}
		rt = next
		return ok, ""
	}, nil
}

// codeStep: one authorization-code flow per iteration with the worker's own
// browser session: GET /authorize (consent remembered) → 302 to the
// redirect URI with a code → POST /token with the code and PKCE verifier.
func (e *env) codeStep(ctx context.Context, i int) (stepFunc, error) {
	cookie, err := e.session(ctx)
	if err != nil {
		return nil, err
	}
	redirect := e.cfg.RedirectURI
	tokenHead := e.basic() + "\r\nContent-Type: application/x-www-form-urlencoded"
	return func(ctx context.Context, c *conn) (outcome, string) {
		verifier := randomString(43) // RFC 7636 §4.1: 43 to 128 characters
		sum := sha256.Sum256([]byte(verifier))
		q := url.Values{
			"response_type": {"code"}, "client_id": {e.cfg.ClientID}, "redirect_uri": {redirect},
			"scope": {e.cfg.Scope}, "state": {randomString(8)}, "code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])},
			"code_challenge_method": {"S256"},
		}
		r, err := c.do(ctx, request("GET", e.target, pathAuthorize+"?"+q.Encode(), []string{"Cookie: " + cookie}, nil))
		if err != nil {
			return failed, errKind(err)
		}
		if r.Status != 302 && r.Status != 303 {
			return failed, "authorize " + strconv.Itoa(r.Status)
		}
		loc, err := url.Parse(r.Location)
		if err != nil || loc.Query().Get("code") == "" {
			return failed, "authorize: no code in redirect"
		}
		body := url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")},
			"redirect_uri": {redirect}, "code_verifier": {verifier}}.Encode()
		r, err = c.do(ctx, request("POST", e.target, pathToken, []string{tokenHead}, []byte(body)))
		if err != nil {
			return failed, errKind(err)
		}
		if r.Status != 200 {
			o, k := statusOutcome(r)
			return o, "token " + k
		}
		return ok, ""
	}, nil
}

// formFields returns the name and value of every input of the first form
// in page whose action is action, as a browser would submit them (hidden
// fields included; buttons excluded). The page is parsed as HTML, not
// matched with patterns, so attribute order, quoting and entities do not
// matter.
func formFields(page io.Reader, action string) (url.Values, error) {
	doc, err := html.Parse(page)
	if err != nil {
		return nil, err
	}
	attr := func(n *html.Node, key string) string {
		for _, a := range n.Attr {
			if a.Key == key {
				return a.Val
			}
		}
		return ""
	}
	var form *html.Node
	for n := range doc.Descendants() {
		if n.Type == html.ElementNode && n.Data == "form" && attr(n, "action") == action {
			form = n
			break
		}
	}
	if form == nil {
		return nil, fmt.Errorf("no form posting to %s", action)
	}
	out := url.Values{}
	for n := range form.Descendants() {
		if n.Type == html.ElementNode && n.Data == "input" && attr(n, "name") != "" {
			out.Set(attr(n, "name"), attr(n, "value"))
		}
	}
	return out, nil
}

// session logs the user in through the login page and gives consent once,
// returning the session cookie ("mnx_session=…").
func (e *env) session(ctx context.Context) (string, error) {
	form := url.Values{"email": {e.cfg.Username}, "password": {e.cfg.Password}}
	req, err := http.NewRequestWithContext(ctx, "POST", e.url(pathLogin), strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", e.target.Scheme+"://"+e.target.Host)
	resp, err := e.http.Do(req)
	if err != nil {
		return "", err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	var cookie string
	for _, c := range resp.Cookies() {
		if c.Name == "mnx_session" && c.Value != "" {
			cookie = c.Name + "=" + c.Value
		}
	}
	if cookie == "" {
		return "", fmt.Errorf("login page: status %d and no mnx_session cookie (is the login page served?)", resp.StatusCode)
	}
	// Consent once so later flows skip the page.
	q := url.Values{"response_type": {"code"}, "client_id": {e.cfg.ClientID}, "redirect_uri": {e.cfg.RedirectURI},
		"scope": {e.cfg.Scope}, "state": {"s"}, "code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"}}
	req, _ = http.NewRequestWithContext(ctx, "GET", e.url(pathAuthorize)+"?"+q.Encode(), nil)
	req.Header.Set("Cookie", cookie)
	resp, err = e.http.Do(req)
	if err != nil {
		return "", err
	}
	if resp.StatusCode == 302 || resp.StatusCode == 303 {
		resp.Body.Close()
		return cookie, nil // consent already remembered
	}
	if resp.StatusCode != 200 {
		resp.Body.Close()
		return "", fmt.Errorf("authorize: status %d", resp.StatusCode)
	}
	cf, err := formFields(io.LimitReader(resp.Body, 1<<20), pathConsent)
	resp.Body.Close()
	if err != nil {
		return "", fmt.Errorf("consent page: %w", err)
	}
	cf.Set("decision", "allow")
	req, _ = http.NewRequestWithContext(ctx, "POST", e.url(pathConsent), strings.NewReader(cf.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", e.target.Scheme+"://"+e.target.Host)
	req.Header.Set("Cookie", cookie)
	resp, err = e.http.Do(req)
	if err != nil {
		return "", err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 302 && resp.StatusCode != 303 {
		return "", fmt.Errorf("consent: status %d", resp.StatusCode)
	}
	return cookie, nil
}

// ensureUser registers the bench user once when none was given.
func (e *env) ensureUser(ctx context.Context) error {
	e.userOnce.Do(func() {
		if e.cfg.Username != "" {
			return
		}
		email := "bench-" + strings.ToLower(randomString(8)) + "@bench.invalid"
		password := randomString(24)
		body, _ := json.Marshal(map[string]any{"data": map[string]any{"type": "users", "attributes": map[string]string{
			"email": email, "password": password, "first_name": "Bench", "last_name": "Multinexo"}}})
		req, err := http.NewRequestWithContext(ctx, "POST", e.url(pathUsers), bytes.NewReader(body))
		if err != nil {
			e.userErr = err
			return
		}
		req.Header.Set("Content-Type", "application/vnd.api+json")
		resp, err := e.http.Do(req)
		if err != nil {
			e.userErr = err
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		switch {
		case resp.StatusCode == 201:
		case e.cfg.CreateUser != nil:
			// Registration is rate limited per address; the operator path
			// (the store, as `multinexo users create`) is not.
			if err := e.cfg.CreateUser(ctx, email, password); err != nil {
				e.userErr = fmt.Errorf("POST %s: status %d; creating the user in the store: %w", pathUsers, resp.StatusCode, err)
				return
			}
		default:
			e.userErr = fmt.Errorf("POST %s: status %d (pass --username/--password, or --db to create the user in the store)", pathUsers, resp.StatusCode)
			return
		}
		e.cfg.Username, e.cfg.Password = email, password
		if e.cfg.OnUser != nil {
			e.cfg.OnUser(email)
		}
	})
	return e.userErr
}

// login runs a password grant and returns the access and refresh tokens.
func (e *env) login(ctx context.Context) (access, refresh string, err error) {
	form := url.Values{"grant_type": {"password"}, "username": {e.cfg.Username}, "password": {e.cfg.Password}, "scope": {e.cfg.Scope}}
	req, err := http.NewRequestWithContext(ctx, "POST", e.url(pathToken), strings.NewReader(form.Encode()))
	if err != nil {
		return "", "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(e.cfg.ClientID), url.QueryEscape(e.cfg.ClientSecret))
	resp, err := e.http.Do(req)
	if err != nil {
		return "", "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != 200 {
		return "", "", fmt.Errorf("password grant: status %d: %s", resp.StatusCode, strings.TrimSpace(string(b)))
	}
	var t struct {
		Access  string `json:"access_token"`
		Refresh string `json:"refresh_token"`
	}
	if err := json.Unmarshal(b, &t); err != nil || t.Access == "" {
		return "", "", fmt.Errorf("password grant: unexpected response")
	}
	return t.Access, t.Refresh, nil
}

// jsonString extracts a top-level string field from a small JSON object
// without decoding all of it (token values need no unescaping).
func jsonString(b []byte, field string) string {
	key := []byte(`"` + field + `":"`)
	i := bytes.Index(b, key)
	if i < 0 {
		return ""
	}
	rest := b[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return ""
	}
	return string(rest[:j])
}

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)[:n]
}
