package token

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/multinexo/auth/internal/store"
)

// ClockLeeway is the one allowance for clock differences used wherever we
// verify the times of our own tokens (exp, nbf, iat): a token minted by one
// instance is checked by another, whose clock may differ. RFC 7519 §4.1.4:
// "Implementers MAY provide for some small leeway, usually no more than a
// few minutes, to account for clock skew."
//
// 30 s: instances must keep their clocks synchronised (NTP, which holds
// them within milliseconds); the leeway only absorbs a host whose
// synchronisation has lapsed for a while or a VM that resumed with a stale
// clock, without rejecting valid tokens. It lengthens a 900 s access token
// by at most 3 % — and revocation does not depend on it (the grant is
// checked at every introspection, userinfo and API call).
const ClockLeeway = 30 * time.Second

// AccessClaims are the claims of an access token (RFC 9068 §2.2).
type AccessClaims struct {
	Issuer    string
	Subject   string // user id; the client id for client_credentials
	ClientID  string
	Scope     string // space-separated
	GrantID   string // "gid": the grant the token belongs to (unit of revocation)
	GrantType string
	JTI       string
	Audience  []string
	IssuedAt  time.Time
	ExpiresAt time.Time
	AuthTime  time.Time // zero: omitted
	// Name and Email are identity claims (RFC 9068 §2.2.1) for resource
	// servers that show who called; "" omits them.
	Name  string
	Email string
}

// accessWire is the JSON payload of an access token.
type accessWire struct {
	Issuer    string           `json:"iss"`
	Subject   string           `json:"sub"`
	Audience  jwt.Audience     `json:"aud"`
	Expiry    *jwt.NumericDate `json:"exp"`
	IssuedAt  *jwt.NumericDate `json:"iat"`
	NotBefore *jwt.NumericDate `json:"nbf,omitempty"` // never minted; honoured if present
	JTI       string           `json:"jti"`
	ClientID  string           `json:"client_id"`
	Scope     string           `json:"scope,omitempty"`
	AuthTime  *jwt.NumericDate `json:"auth_time,omitempty"`
	GrantID   string           `json:"gid,omitempty"`
	GrantType string           `json:"grant_type,omitempty"`
	Name      string           `json:"name,omitempty"`
	Email     string           `json:"email,omitempty"`
}

// MintAccess signs an access token with the current access key: header
// typ "at+jwt" and kid; claims iss, sub, aud, exp, iat, jti, client_id, scope,
// auth_time (if set), gid and grant_type.
//
// Defaults: IssuedAt zero means now; JTI empty gets NewID(); Subject empty
// for a client_credentials grant is the client id (RFC 9068 §2.2: "In cases
// of access tokens obtained through grants where no resource owner is
// involved, such as the client credentials grant, the value of sub SHOULD
// correspond to an identifier the authorization server uses to indicate the
// client application."). Issuer, Subject, ClientID, Audience and ExpiresAt
// are required, and the lifetime may not exceed KeyConfig.MaxTokenTTL.
func (m *KeyManager) MintAccess(ctx context.Context, c AccessClaims) (string, error) {
	if c.Subject == "" && c.GrantType == store.GrantClientCredentials {
		c.Subject = c.ClientID
	}
	if c.IssuedAt.IsZero() {
		c.IssuedAt = m.cfg.Now()
	}
	if c.JTI == "" {
		c.JTI = NewID()
	}
	switch {
	case c.Issuer == "":
		return "", errors.New("token: access token needs an issuer")
	case c.Subject == "":
		return "", errors.New("token: access token needs a subject")
	case c.ClientID == "":
		return "", errors.New("token: access token needs a client_id")
	case len(c.Audience) == 0 || slices.Contains(c.Audience, ""):
		// RFC 9068 §2.2 lists aud as REQUIRED.
		return "", errors.New("token: access token needs an audience")
	case !c.ExpiresAt.After(c.IssuedAt):
		return "", errors.New("token: access token expires before it is issued")
	case c.ExpiresAt.Sub(c.IssuedAt) > m.cfg.MaxTokenTTL:
		return "", fmt.Errorf("token: access token lifetime %s exceeds KeyConfig.MaxTokenTTL %s", c.ExpiresAt.Sub(c.IssuedAt), m.cfg.MaxTokenTTL)
	}
	st, err := m.current(ctx)
	if err != nil {
		return "", err
	}
	k := st.signing[UseAccess]
	if k == nil {
		return "", errors.New("token: no access-token signing key (call KeyManager.Ensure at start-up)")
	}
	w := &accessWire{
		Issuer:    c.Issuer,
		Subject:   c.Subject,
		Audience:  jwt.Audience(c.Audience),
		Expiry:    jwt.NewNumericDate(c.ExpiresAt),
		IssuedAt:  jwt.NewNumericDate(c.IssuedAt),
		JTI:       c.JTI,
		ClientID:  c.ClientID,
		Scope:     c.Scope,
		AuthTime:  jwt.NewNumericDate(c.AuthTime), // nil (omitted) when zero
		GrantID:   c.GrantID,
		GrantType: c.GrantType,
		Name:      c.Name,
		Email:     c.Email,
	}
	if k.fast != nil && w.Name == "" && w.Email == "" {
		if payload, ok := appendAccessClaims(make([]byte, 0, 512), w); ok {
			return k.fast.sign(payload)
		}
	}
	payload, err := json.Marshal(w)
	if err != nil {
		return "", fmt.Errorf("token: encode claims: %w", err)
	}
	jws, err := k.signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("token: sign: %w", err)
	}
	return jws.CompactSerialize()
}

// VerifyAccess validates an access token issued by this server, following
// RFC 9068 §4, and returns its claims. aud lists the audiences the caller
// accepts; empty skips the audience check. Every failure wraps
// ErrInvalidToken.
//
// It does not know about revocation: callers that must honour a revoked
// grant look up GrantID in the store.
func (m *KeyManager) VerifyAccess(ctx context.Context, raw, issuer string, aud []string) (*AccessClaims, error) {
	w, err := m.verifiedAccess(ctx, raw)
	if err != nil {
		return nil, err
	}
	now := m.cfg.Now()
	// RFC 9068 §4: "The issuer identifier for the authorization server [...]
	// MUST exactly match the value of the iss claim."
	if w.Issuer == "" || w.Issuer != issuer {
		return nil, invalid("iss %q is not %q", w.Issuer, issuer)
	}
	// RFC 9068 §4: "The resource server MUST validate that the aud claim
	// contains a resource indicator value corresponding to an identifier the
	// resource server expects for itself."
	if len(aud) > 0 && !slices.ContainsFunc(aud, w.Audience.Contains) {
		return nil, invalid("aud does not name this resource")
	}
	// RFC 9068 §4: "The current time MUST be before the time represented by
	// the exp claim." — the current time by our clock, which may be behind
	// the minting instance's by up to ClockLeeway (RFC 7519 §4.1.4). The
	// same leeway, and no other, applies to nbf and iat.
	if exp := w.Expiry.Time(); !now.Before(exp.Add(ClockLeeway)) {
		return nil, fmt.Errorf("%w at %s", ErrExpired, exp.UTC().Format(time.RFC3339))
	}
	if iat := w.IssuedAt.Time(); iat.After(now.Add(ClockLeeway)) {
		return nil, invalid("issued in the future")
	}
	if w.NotBefore != nil && now.Add(ClockLeeway).Before(w.NotBefore.Time()) {
		return nil, invalid("not valid yet")
	}
	c := &AccessClaims{
		Issuer:    w.Issuer,
		Subject:   w.Subject,
		ClientID:  w.ClientID,
		Scope:     w.Scope,
		GrantID:   w.GrantID,
		GrantType: w.GrantType,
		JTI:       w.JTI,
		Audience:  slices.Clone([]string(w.Audience)),
		IssuedAt:  w.IssuedAt.Time(),
		ExpiresAt: w.Expiry.Time(),
	}
	if w.AuthTime != nil {
		c.AuthTime = w.AuthTime.Time()
	}
	return c, nil
}

// verifiedAccess returns the claims of raw after checking its signature and
// that the claims RFC 9068 §2.2 requires are present (iss, exp, aud, sub,
// client_id, iat, jti). Everything that depends on the caller or the clock
// (issuer, audience, expiry) is left to VerifyAccess, which checks it on
// every call.
//
// The signature check is the dominant cost of every bearer request, so a
// verified token's claims are cached under the SHA-256 of the whole token
// until it expires: a cached entry can only be found by presenting exactly
// the bytes that were verified. The signing key must still be published.
func (m *KeyManager) verifiedAccess(ctx context.Context, raw string) (*accessWire, error) {
	if len(raw) > maxTokenLen {
		return nil, invalid("token longer than %d bytes", maxTokenLen)
	}
	sum := sha256.Sum256([]byte(raw))
	if ent, ok := m.verified.get(sum); ok {
		st, err := m.current(ctx)
		if err != nil {
			return nil, err
		}
		if k := st.byKID[ent.kid]; k != nil && k.published(m.cfg.Now()) {
			return ent.w, nil
		}
		m.verified.remove(sum)
	}
	payload, k, err := m.verifySignature(ctx, raw, UseAccess, accessTyp)
	if err != nil {
		return nil, err
	}
	var w accessWire
	if err := json.Unmarshal(payload, &w); err != nil {
		return nil, invalid("claims: %v", err)
	}
	// RFC 9068 §2.2: iss, exp, aud, sub, client_id, iat and jti are REQUIRED.
	switch {
	case w.Issuer == "":
		return nil, invalid("no iss")
	case w.Expiry == nil:
		return nil, invalid("no exp")
	case w.IssuedAt == nil:
		return nil, invalid("no iat")
	case len(w.Audience) == 0:
		return nil, invalid("no aud")
	case w.Subject == "":
		return nil, invalid("no sub")
	case w.ClientID == "":
		return nil, invalid("no client_id")
	case w.JTI == "":
		return nil, invalid("no jti")
	}
	m.verified.put(sum, verifiedEntry{w: &w, kid: k.id, exp: w.Expiry.Time()}, m.cfg.Now())
	return &w, nil
}

// verifiedCache holds the claims of verified access tokens by the SHA-256 of
// the token. Entries are immutable; a full cache first drops expired entries,
// then everything.
type verifiedCache struct {
	mu sync.RWMutex
	m  map[[32]byte]verifiedEntry
}

type verifiedEntry struct {
	w   *accessWire // read only
	kid string
	exp time.Time
}

// maxVerified bounds the cache (an entry is about half a kilobyte).
const maxVerified = 32 << 10

func (c *verifiedCache) get(sum [32]byte) (verifiedEntry, bool) {
	c.mu.RLock()
	e, ok := c.m[sum]
	c.mu.RUnlock()
	return e, ok
}

func (c *verifiedCache) put(sum [32]byte, e verifiedEntry, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[[32]byte]verifiedEntry)
	}
	if len(c.m) >= maxVerified {
		for k, v := range c.m {
			if !now.Before(v.exp) {
				delete(c.m, k)
			}
		}
		if len(c.m) >= maxVerified*3/4 {
			clear(c.m)
		}
	}
	c.m[sum] = e
}

func (c *verifiedCache) remove(sum [32]byte) {
	c.mu.Lock()
	delete(c.m, sum)
	c.mu.Unlock()
}
