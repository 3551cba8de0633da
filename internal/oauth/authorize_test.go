package oauth

import (
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestParseAuthorizeRequest: the protocol rules of an authorization request,
// on their own (the client lookup and the redirect URI are the caller's).
func TestParseAuthorizeRequest(t *testing.T) {
	const challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
	web := AuthorizeClient{CodeFlow: true, Scopes: []string{"openid", "profile", "email"}}
	public := AuthorizeClient{CodeFlow: true, Public: true, Scopes: []string{"openid"}}
	legacy := AuthorizeClient{CodeFlow: true, Legacy: true, Scopes: []string{"openid"}}
	first := AuthorizeClient{CodeFlow: true, FirstParty: true, Scopes: []string{"openid"}}
	base := func(kv ...string) url.Values {
		v := url.Values{"response_type": {"code"}, "scope": {"openid"}, "state": {"st"}}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "" {
				v.Del(kv[i])
			} else {
				v.Set(kv[i], kv[i+1])
			}
		}
		return v
	}
	errs := []struct {
		name   string
		client AuthorizeClient
		vals   url.Values
		code   string
	}{
		{"no response_type", web, base("response_type", ""), CodeInvalidRequest},
		{"code without the grant", AuthorizeClient{Scopes: []string{"openid"}}, base(), CodeUnauthorizedClient},
		{"implicit for a non-legacy client", web, base("response_type", "token"), CodeUnsupportedResponseType},
		{"hybrid", web, base("response_type", "code id_token"), CodeUnsupportedResponseType},
		{"form_post", web, base("response_mode", "form_post"), CodeInvalidRequest},
		{"fragment for code", web, base("response_mode", "fragment"), CodeInvalidRequest},
		{"repeated", web, func() url.Values { v := base(); v.Add("scope", "email"); return v }(), CodeInvalidRequest},
		{"state too long", web, base("state", strings.Repeat("s", MaxState+1)), CodeInvalidRequest},
		{"request object", web, base("request", "eyJ.e30."), CodeRequestNotSupported},
		{"request_uri", web, base("request_uri", "https://x/r"), CodeRequestURINotSupported},
		{"unregistered scope", web, base("scope", "openid voucher"), CodeInvalidScope},
		{"account for a third party", web, base("scope", "openid account"), CodeInvalidScope},
		{"bad scope characters", web, base("scope", `openid "x"`), CodeInvalidScope},
		{"plain PKCE", web, base("code_challenge", challenge, "code_challenge_method", "plain"), CodeInvalidRequest},
		{"challenge without method", web, base("code_challenge", challenge), CodeInvalidRequest},
		{"method without challenge", web, base("code_challenge_method", "S256"), CodeInvalidRequest},
		{"public client without PKCE", public, base(), CodeInvalidRequest},
		{"unknown prompt", web, base("prompt", "sometimes"), CodeInvalidRequest},
		{"prompt none with login", web, base("prompt", "none login"), CodeInvalidRequest},
		{"negative max_age", web, base("max_age", "-1"), CodeInvalidRequest},
		{"max_age not a number", web, base("max_age", "soon"), CodeInvalidRequest},
		{"nonce too long", web, base("nonce", strings.Repeat("n", MaxNonce+1)), CodeInvalidRequest},
		{"claims not JSON", web, base("claims", "{x"), CodeInvalidRequest},
	}
	for _, tc := range errs {
		t.Run(tc.name, func(t *testing.T) {
			q, e := ParseAuthorizeRequest(tc.vals, tc.client)
			if e == nil || e.Code != tc.code {
				t.Fatalf("error %v, want %s", e, tc.code)
			}
			if q == nil {
				t.Fatal("nil request with the error: the caller cannot redirect")
			}
			if tc.name != "state too long" && q.State != "st" {
				t.Errorf("state %q not kept for the error redirect", q.State)
			}
		})
	}

	t.Run("valid code request", func(t *testing.T) {
		q, e := ParseAuthorizeRequest(base("scope", "openid profile", "code_challenge", challenge, "code_challenge_method", "S256",
			"prompt", "login consent", "max_age", "300", "nonce", "n-1", "login_hint", "ana@example.com", "ui_locales", "en",
			"claims", `{"id_token":{"email":null,"given_name":null,"voucher_thing":null}}`, "id_token_hint", "h.i.nt",
			"display", "popup", "acr_values", "x", "unknown", "ignored"), web)
		if e != nil {
			t.Fatal(e)
		}
		switch {
		case q.ResponseType != "code" || q.Fragment || q.State != "st":
			t.Errorf("type %q fragment %v state %q", q.ResponseType, q.Fragment, q.State)
		case !slices.Equal(q.Scopes, []string{"openid", "profile"}):
			t.Errorf("scopes %v", q.Scopes)
		case q.Challenge != challenge || q.Method != "S256":
			t.Errorf("pkce %q %q", q.Challenge, q.Method)
		case !q.Prompt["login"] || !q.Prompt["consent"] || q.Prompt["none"]:
			t.Errorf("prompt %v", q.Prompt)
		case !q.HasMaxAge || q.MaxAge != 300*time.Second:
			t.Errorf("max_age %v %v", q.HasMaxAge, q.MaxAge)
		case q.Nonce != "n-1" || q.LoginHint != "ana@example.com" || q.UILocales != "en" || q.IDTokenHint != "h.i.nt":
			t.Errorf("oidc %+v", q)
		case !slices.Equal(q.ClaimScopes, []string{"email"}):
			// email is asked for through claims, beyond the scope parameter
			t.Errorf("claim scopes %v", q.ClaimScopes)
		}
	})
	t.Run("legacy implicit answers in the fragment, without PKCE", func(t *testing.T) {
		q, e := ParseAuthorizeRequest(base("response_type", "token", "code_challenge", challenge, "code_challenge_method", "S256"), legacy)
		if e != nil || q.ResponseType != "token" || !q.Fragment || q.Challenge != "" {
			t.Fatalf("%+v %v", q, e)
		}
	})
	t.Run("defaults and a first party", func(t *testing.T) {
		q, e := ParseAuthorizeRequest(base("scope", ""), first)
		if e != nil || !slices.Equal(q.Scopes, []string{"openid"}) {
			t.Fatalf("default scopes %v %v: account is never a default", q.Scopes, e)
		}
		if q, e = ParseAuthorizeRequest(base("scope", "openid account"), first); e != nil || !slices.Contains(q.Scopes, "account") {
			t.Fatalf("first party asking for account: %v %v", q.Scopes, e)
		}
		// A login_hint too long is dropped, not an error; claims outside
		// an OpenID request are ignored.
		q, e = ParseAuthorizeRequest(base("login_hint", strings.Repeat("a", MaxLoginHint+1), "scope", "profile", "claims", `{"userinfo":{"email":null}}`),
			AuthorizeClient{CodeFlow: true, Scopes: []string{"profile", "email"}})
		if e != nil || q.LoginHint != "" || q.Claims != nil || q.ClaimScopes != nil {
			t.Fatalf("%+v %v", q, e)
		}
	})
}
