package testenv

import (
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// Person is someone at a browser, driven over HTTP: signs in through the
// login page, answers consent pages. (The pages' own Chromium tests cover
// what a real browser adds.) It follows no redirect by itself.
type Person struct {
	t      testing.TB
	Client *http.Client
	base   string
}

// NewPerson signs email in at the server at base.
func NewPerson(t testing.TB, base, email, password string) *Person {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	p := &Person{t: t, base: base, Client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
	res, body := p.Do(http.MethodPost, base+"/login", url.Values{"email": {email}, "password": {password}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d %s", res.StatusCode, body)
	}
	return p
}

// Do sends a request (a form when form is not nil) and returns the
// response with its body read.
func (p *Person) Do(method, u string, form url.Values) (*http.Response, string) {
	p.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		p.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := p.Client.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

var hiddenRE = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`)

// Authorize opens an authorization URL, allows on the consent page if one
// is shown (check, when not nil, sees that page first), and returns where
// the server sends the browser back to.
func (p *Person) Authorize(authURL string, check func(page string)) *url.URL {
	p.t.Helper()
	res, body := p.Do(http.MethodGet, authURL, nil)
	if res.StatusCode == http.StatusOK {
		if !strings.Contains(body, `action="/consent"`) {
			p.t.Fatalf("not a consent page: %s", body)
		}
		if check != nil {
			check(body)
		}
		f := url.Values{}
		for _, m := range hiddenRE.FindAllStringSubmatch(body, -1) {
			f.Set(m[1], html.UnescapeString(m[2]))
		}
		f.Set("decision", "allow")
		res, body = p.Do(http.MethodPost, p.base+"/consent", f)
	}
	if res.StatusCode != http.StatusFound && res.StatusCode != http.StatusSeeOther {
		p.t.Fatalf("authorization: %d %s", res.StatusCode, body)
	}
	loc, err := res.Location()
	if err != nil {
		p.t.Fatal(err)
	}
	return loc
}
