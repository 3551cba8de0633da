package resourceserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// ErrInvalidToken wraps every reason a token is refused (answered 401
// invalid_token); the wrapped text says which check failed, for logs.
var ErrInvalidToken = errors.New("resourceserver: invalid token")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidToken, fmt.Sprintf(format, args...))
}

// Claims are a verified access token's claims (RFC 9068 §2.2).
type Claims struct {
	Issuer    string
	Subject   string // the user's id; the client's for client_credentials
	ClientID  string
	Audience  []string
	Scopes    []string
	JTI       string
	IssuedAt  time.Time
	ExpiresAt time.Time
	NotBefore time.Time
	AuthTime  time.Time
	// Name and Email are identity claims (RFC 9068 §2.2.1), when the token
	// carries them: Multinexo adds them to tokens for a registered resource
	// granted the profile and email scopes.
	Name  string
	Email string
	// Username is the introspection response's username (the account's
	// email on Multinexo); "" without Config.Introspection.
	Username string
	// Raw holds every claim as decoded from JSON.
	Raw map[string]any
}

// HasScope reports whether the token was granted scope s.
func (c *Claims) HasScope(s string) bool { return slices.Contains(c.Scopes, s) }

// algorithms are the signature algorithms accepted (never "none", never HMAC).
var algorithms = []jose.SignatureAlgorithm{jose.ES256, jose.ES384, jose.ES512, jose.RS256, jose.RS384, jose.RS512,
	jose.PS256, jose.PS384, jose.PS512, jose.EdDSA}

// wire is the JSON of the claims checked here.
type wire struct {
	Iss      string          `json:"iss"`
	Sub      string          `json:"sub"`
	Aud      json.RawMessage `json:"aud"`
	Exp      *float64        `json:"exp"`
	Nbf      *float64        `json:"nbf"`
	Iat      *float64        `json:"iat"`
	AuthTime *float64        `json:"auth_time"`
	JTI      string          `json:"jti"`
	ClientID string          `json:"client_id"`
	Scope    string          `json:"scope"`
	Name     string          `json:"name"`
	Email    string          `json:"email"`
}

// Verify checks raw as an access token for this resource and returns its
// claims. Every refusal wraps ErrInvalidToken; other errors (the issuer
// unreachable in introspection mode) do not.
func (s *Server) Verify(ctx context.Context, raw string) (*Claims, error) {
	jws, err := jose.ParseSignedCompact(raw, algorithms)
	if err != nil {
		return nil, invalid("not a signed JWT: %v", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, invalid("want exactly one signature")
	}
	h := jws.Signatures[0].Protected
	// RFC 9068 §4: "Resource servers MUST verify that the "typ" header
	// value is "at+jwt" or "application/at+jwt" and reject tokens
	// carrying any other value."
	typ, _ := h.ExtraHeaders[jose.HeaderType].(string)
	if t := strings.ToLower(typ); t != "at+jwt" && t != "application/at+jwt" {
		return nil, invalid("typ %q is not at+jwt", typ)
	}
	k, ok := s.key(h.KeyID)
	if !ok && s.refetchKeys(ctx) {
		k, ok = s.key(h.KeyID)
	}
	if !ok {
		return nil, invalid("unknown kid %q", h.KeyID)
	}
	if k.Algorithm != "" && k.Algorithm != h.Algorithm {
		return nil, invalid("alg %s does not match the key's %s", h.Algorithm, k.Algorithm)
	}
	payload, err := jws.Verify(k)
	if err != nil {
		return nil, invalid("bad signature")
	}
	c, err := s.check(payload)
	if err != nil {
		return nil, err
	}
	if s.cfg.Introspection != nil {
		if err := s.introspect(ctx, raw, c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// check applies the claim rules of RFC 9068 §4 to a verified payload.
func (s *Server) check(payload []byte) (*Claims, error) {
	var w wire
	dec := json.NewDecoder(bytes.NewReader(payload))
	if err := dec.Decode(&w); err != nil {
		return nil, invalid("claims are not a JSON object")
	}
	var rawClaims map[string]any
	_ = json.Unmarshal(payload, &rawClaims)
	aud, err := audience(w.Aud)
	if err != nil {
		return nil, err
	}
	now := s.cfg.Now()
	c := &Claims{Issuer: w.Iss, Subject: w.Sub, Audience: aud, JTI: w.JTI, ClientID: w.ClientID,
		Scopes: strings.Fields(w.Scope), Raw: rawClaims, Name: w.Name, Email: w.Email,
		ExpiresAt: date(w.Exp), NotBefore: date(w.Nbf), IssuedAt: date(w.Iat), AuthTime: date(w.AuthTime)}
	switch {
	case c.Issuer != s.cfg.Issuer:
		return nil, invalid("iss %q is not the issuer", c.Issuer)
	case !slices.Contains(c.Audience, s.cfg.Resource):
		// RFC 9068 §4 and RFC 8707: a token for another resource.
		return nil, invalid("aud does not name this resource")
	case w.Exp == nil:
		return nil, invalid("no exp")
	case !now.Before(c.ExpiresAt.Add(s.cfg.Leeway)):
		return nil, invalid("expired")
	case w.Nbf != nil && now.Add(s.cfg.Leeway).Before(c.NotBefore):
		return nil, invalid("not valid yet")
	case w.Iat != nil && now.Add(s.cfg.Leeway).Before(c.IssuedAt):
		return nil, invalid("issued in the future")
	case c.Subject == "":
		return nil, invalid("no sub")
	}
	return c, nil
}

func audience(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 {
		return nil, invalid("no aud")
	}
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		return []string{one}, nil
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil {
		return nil, invalid("aud is neither a string nor an array of strings")
	}
	return many, nil
}

func date(f *float64) time.Time {
	if f == nil {
		return time.Time{}
	}
	sec := int64(*f)
	return time.Unix(sec, int64((*f-float64(sec))*1e9)).UTC()
}

// introspection is the part of an RFC 7662 §2.2 response used here.
type introspection struct {
	Active   bool            `json:"active"`
	Aud      json.RawMessage `json:"aud"`
	Iss      string          `json:"iss"`
	Scope    *string         `json:"scope"`
	Username string          `json:"username"`
}

// introspect asks the issuer whether the token is still active (RFC 7662)
// and whether it is for this resource; it narrows c.Scopes to what the
// answer says and fills c.Username.
func (s *Server) introspect(ctx context.Context, raw string, c *Claims) error {
	body := url.Values{"token": {raw}, "token_type_hint": {"access_token"}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.meta.IntrospectionEndpoint, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	cc := s.cfg.Introspection
	req.SetBasicAuth(url.QueryEscape(cc.ClientID), url.QueryEscape(cc.ClientSecret))
	res, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("resourceserver: introspection: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("resourceserver: introspection: %s", res.Status)
	}
	var in introspection
	if err := json.NewDecoder(http.MaxBytesReader(nil, res.Body, maxDocument)).Decode(&in); err != nil {
		return fmt.Errorf("resourceserver: introspection answer: %w", err)
	}
	if !in.Active {
		return invalid("inactive (revoked or expired)")
	}
	if in.Iss != "" && in.Iss != s.cfg.Issuer {
		return invalid("introspection names another issuer")
	}
	if len(in.Aud) > 0 {
		aud, err := audience(in.Aud)
		if err != nil || !slices.Contains(aud, s.cfg.Resource) {
			return invalid("introspection: aud does not name this resource")
		}
	}
	if in.Scope != nil {
		c.Scopes = strings.Fields(*in.Scope)
	}
	c.Username = in.Username
	return nil
}
