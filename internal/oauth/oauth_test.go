package oauth

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestWriteTokenError(t *testing.T) {
	tests := []struct {
		name       string
		err        *Error
		basic      bool
		status     int
		challenge  bool
		retryAfter string
	}{
		{"invalid_request", InvalidRequest("falta grant_type"), false, 400, false, ""},
		{"invalid_client body", InvalidClient("cliente invalido"), false, 400, false, ""},
		{"invalid_client basic", InvalidClient("cliente invalido"), true, 401, true, ""},
		{"invalid_grant basic is still 400", InvalidGrant("x"), true, 400, false, ""},
		{"unauthorized_client", UnauthorizedClient("x"), false, 400, false, ""},
		{"unsupported_grant_type", UnsupportedGrantType("x"), false, 400, false, ""},
		{"invalid_scope", InvalidScope("x"), false, 400, false, ""},
		{"server_error", ServerError(errors.New("db is down at 10.0.0.1")), false, 500, false, ""},
		{"temporarily_unavailable", TemporarilyUnavailable(1500 * time.Millisecond), false, 503, false, "2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			WriteTokenError(rec, tt.err, tt.basic)
			if rec.Code != tt.status {
				t.Errorf("status %d, want %d", rec.Code, tt.status)
			}
			h := rec.Header()
			if h.Get("Cache-Control") != "no-store" || h.Get("Pragma") != "no-cache" {
				t.Errorf("cache headers %q %q", h.Get("Cache-Control"), h.Get("Pragma"))
			}
			if !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
				t.Errorf("content type %q", h.Get("Content-Type"))
			}
			if got := h.Get("WWW-Authenticate"); (got != "") != tt.challenge || (tt.challenge && !strings.HasPrefix(got, "Basic realm=")) {
				t.Errorf("WWW-Authenticate %q", got)
			}
			if got := h.Get("Retry-After"); got != tt.retryAfter {
				t.Errorf("Retry-After %q, want %q", got, tt.retryAfter)
			}
			var body map[string]string
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			if body["error"] != tt.err.Code {
				t.Errorf("error %q", body["error"])
			}
			if strings.Contains(rec.Body.String(), "10.0.0.1") {
				t.Errorf("cause leaked: %s", rec.Body)
			}
		})
	}
}

func TestErrorCause(t *testing.T) {
	cause := errors.New("boom")
	e := ServerError(cause)
	if !errors.Is(e, cause) {
		t.Fatal("cause not unwrapped")
	}
	if a, b := InvalidGrant("x"), InvalidGrant("x"); a == b {
		t.Fatal("constructors must build fresh errors")
	}
}

func TestDescriptionSafe(t *testing.T) {
	tests := map[string]string{
		"credenciales inválidas":       "credenciales invalidas",
		"ya está":                      "ya esta",
		`say "hi" \ bye`:               "say hi  bye",
		"línea\nnueva":                 "lineanueva",
		"¿año?":                        "?ano?",
		"plain ascii stays: !#$%&'()*": "plain ascii stays: !#$%&'()*",
		"日本":                           "",
	}
	for in, want := range tests {
		if got := DescriptionSafe(in); got != want {
			t.Errorf("DescriptionSafe(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseScope(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		err  bool
	}{
		{"", nil, false},
		{"   ", nil, false},
		{"openid", []string{"openid"}, false},
		{"openid profile email voucher", []string{"openid", "profile", "email", "voucher"}, false},
		{"email openid email  profile openid", []string{"email", "openid", "profile"}, false},
		{" openid ", []string{"openid"}, false},
		{"read:all write!", []string{"read:all", "write!"}, false},
		{"open\"id", nil, true},
		{`a\b`, nil, true},
		{"openid\tprofile", nil, true},
		{"openid\nprofile", nil, true},
		{"perfíl", nil, true},
		{strings.Repeat("a", MaxScopeLen+1), nil, true},
	}
	for _, tt := range tests {
		got, err := ParseScope(tt.in)
		if (err != nil) != tt.err {
			t.Errorf("ParseScope(%q) error %v", tt.in, err)
			continue
		}
		if err != nil && err.Code != CodeInvalidScope {
			t.Errorf("ParseScope(%q) code %s", tt.in, err.Code)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParseScope(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
	if FormatScope([]string{"openid", "email"}) != "openid email" {
		t.Error("FormatScope")
	}
}

func TestGrantScope(t *testing.T) {
	allowed := []string{"openid", "profile", "email", "voucher"}
	tests := []struct {
		req  []string
		want []string
		err  bool
	}{
		{nil, allowed, false},
		{[]string{"email", "openid"}, []string{"email", "openid"}, false},
		{[]string{"openid", "admin"}, nil, true},
		{[]string{"Openid"}, nil, true}, // case-sensitive
	}
	for _, tt := range tests {
		got, err := GrantScope(tt.req, allowed)
		if (err != nil) != tt.err {
			t.Errorf("GrantScope(%v) error %v", tt.req, err)
			continue
		}
		if err != nil && err.Code != CodeInvalidScope {
			t.Errorf("code %s", err.Code)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("GrantScope(%v) (-want +got):\n%s", tt.req, diff)
		}
	}
	// The default set is a copy: changing it must not change the client's.
	got, _ := GrantScope(nil, allowed)
	got[0] = "x"
	if allowed[0] != "openid" {
		t.Error("GrantScope aliased allowed")
	}
	if diff := cmp.Diff([]string{"email", "openid"}, Intersect([]string{"email", "voucher", "openid"}, []string{"openid", "email"})); diff != "" {
		t.Error(diff)
	}
}

func TestVerifyPKCE(t *testing.T) {
	// RFC 7636 Appendix B.
	const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	const challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
	tests := []struct {
		name                        string
		challenge, method, verifier string
		ok                          bool
	}{
		{"rfc vector", challenge, "S256", verifier, true},
		{"no challenge no verifier", "", "", "", true},
		{"verifier without challenge", "", "", verifier, false},
		{"challenge without verifier", challenge, "S256", "", false},
		{"wrong verifier", challenge, "S256", verifier[:42] + "A", false},
		{"plain refused", verifier, "plain", verifier, false},
		{"empty method refused", challenge, "", verifier, false},
		{"too short", challenge, "S256", verifier[:42], false},
		{"too long", challenge, "S256", strings.Repeat("a", 129), false},
		{"bad char", challenge, "S256", verifier[:42] + "+", false},
		{"challenge case matters", strings.ToLower(challenge), "S256", verifier, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := VerifyPKCE(tt.challenge, tt.method, tt.verifier)
			if (err == nil) != tt.ok {
				t.Fatalf("VerifyPKCE = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && err.Code != CodeInvalidGrant {
				t.Fatalf("code %s", err.Code)
			}
		})
	}
	if !ValidVerifier(strings.Repeat("A", 128)) || ValidVerifier(strings.Repeat("A", 42)) {
		t.Error("ValidVerifier bounds")
	}
	if ValidateChallenge(challenge, "S256") != nil || ValidateChallenge(challenge, "plain") == nil ||
		ValidateChallenge(challenge, "") == nil || ValidateChallenge("short", "S256") == nil ||
		ValidateChallenge(challenge[:42]+"+", "S256") == nil {
		t.Error("ValidateChallenge")
	}
}

func TestParseJSON(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Params
		err  bool
	}{
		{"plain", `{"grant_type":"password","username":"a@b.c"}`, Params{"grant_type": "password", "username": "a@b.c"}, false},
		{"seed 004 trailing comma", "{\n \"grant_type\": \"password\",\n \"username\": \"email@example.com\",\n \"password\": \"password\",\n}", Params{"grant_type": "password", "username": "email@example.com", "password": "password"}, false},
		{"trailing comma no space", `{"a":"b",}`, Params{"a": "b"}, false},
		{"comma inside string kept", `{"a":"x,}","b":"y",}`, Params{"a": "x,}", "b": "y"}, false},
		{"escaped quote", `{"a":"x\",}",}`, Params{"a": `x",}`}, false},
		{"empty value omitted", `{"scope":"","a":"b"}`, Params{"a": "b"}, false},
		{"empty object", `{}`, Params{}, false},
		{"unicode", `{"password":"contraseña\u00f1"}`, Params{"password": "contraseñañ"}, false},
		{"leading comma", `{,"a":"b"}`, nil, true},
		{"only comma", `{,}`, nil, true},
		{"double comma", `{"a":"b",,}`, nil, true},
		{"comma after colon", `{"a":,}`, nil, true},
		{"number", `{"a":1}`, nil, true},
		{"bool", `{"a":true}`, nil, true},
		{"null", `{"a":null}`, nil, true},
		{"array", `{"scope":["openid"]}`, nil, true},
		{"object", `{"a":{}}`, nil, true},
		{"duplicate", `{"a":"b","a":"c"}`, nil, true},
		{"not an object", `["a"]`, nil, true},
		{"string", `"a"`, nil, true},
		{"trailing data", `{"a":"b"} {}`, nil, true},
		{"truncated", `{"a":"b"`, nil, true},
		{"unterminated string", `{"a":"b,}`, nil, true},
		{"single quotes", `{'a':'b'}`, nil, true},
		{"unquoted key", `{a:"b"}`, nil, true},
		{"comment", `{"a":"b" /* c */}`, nil, true},
		{"empty", ``, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseJSON([]byte(tt.in))
			if (err != nil) != tt.err {
				t.Fatalf("ParseJSON(%s) error %v", tt.in, err)
			}
			if err != nil {
				if err.Code != CodeInvalidRequest || err.Status != http.StatusBadRequest {
					t.Fatalf("error %+v", err)
				}
				return
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseForm(t *testing.T) {
	tests := []struct {
		in   string
		want Params
		err  bool
	}{
		{"grant_type=password&scope=openid+email", Params{"grant_type": "password", "scope": "openid email"}, false},
		{"a=&b=c", Params{"b": "c"}, false},
		{"a=1&a=2", nil, true},
		{"a=%zz", nil, true},
		{"a=1;b=2", nil, true},
		{"", Params{}, false},
	}
	for _, tt := range tests {
		got, err := ParseForm(tt.in)
		if (err != nil) != tt.err {
			t.Errorf("ParseForm(%q) error %v", tt.in, err)
			continue
		}
		if err == nil {
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseForm(%q) (-want +got):\n%s", tt.in, diff)
			}
		} else if err.Code != CodeInvalidRequest {
			t.Errorf("code %s", err.Code)
		}
	}
}

func TestWriteBearerChallenge(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteBearerChallenge(rec, "multinexo", &BearerError{Status: 401, Code: "invalid_token", Description: `bad "x"`})
	if got, want := rec.Header().Get("WWW-Authenticate"), `Bearer realm="multinexo", error="invalid_token", error_description="bad 'x'"`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func FuzzParseJSON(f *testing.F) {
	f.Add([]byte(`{"a":"b",}`))
	f.Add([]byte(`{"a":"b\",}"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseJSON(b)
		if err == nil && p == nil {
			t.Fatal("nil params without error")
		}
		// Anything accepted without a trailing comma must be valid JSON.
		if err == nil && !strings.Contains(string(b), ",") && !json.Valid(b) {
			t.Fatalf("accepted invalid JSON %q", b)
		}
		// Whatever is accepted is valid JSON once its trailing commas go.
		if err == nil {
			clean, serr := StripTrailingCommas(b)
			if serr != nil || !json.Valid(clean) {
				t.Fatalf("accepted %q, stripped to invalid %q", b, clean)
			}
		}
	})
}
