package token

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"
)

// IDClaims are the claims of an ID token (OIDC Core §2).
type IDClaims struct {
	Issuer   string
	Subject  string
	Audience string // the client id
	Nonce    string // omitted when empty
	IssuedAt time.Time
	// ExpiresAt is required when minting; VerifyID returns it without
	// checking it.
	ExpiresAt time.Time
	AuthTime  time.Time // zero: omitted
	// AMR is the amr claim (RFC 8176 method names); omitted when empty.
	AMR []string
	// AccessToken, if set when minting, adds at_hash; Code adds c_hash. Both
	// are empty in claims returned by VerifyID.
	AccessToken string
	Code        string
	// Extra holds every other claim (email, given_name, sid, ...). It may not
	// repeat a claim this type sets.
	Extra map[string]any
	// Alg, when minting, is the algorithm to sign with (the client's
	// id_token_signed_response_alg): one of KeyManager.IDAlgorithms, or ""
	// for the configured KeyConfig.IDAlg. Empty in claims returned by
	// VerifyID.
	Alg string
}

// registeredIDClaims are set from IDClaims fields, never from Extra.
var registeredIDClaims = map[string]bool{
	"iss": true, "sub": true, "aud": true, "exp": true, "iat": true, "nbf": true,
	"jti": true, "auth_time": true, "nonce": true, "at_hash": true, "c_hash": true, "amr": true,
}

// HalfHash computes at_hash and c_hash. OIDC Core §3.1.3.6: "Its value is the
// base64url encoding of the left-most half of the hash of the octets of the
// ASCII representation of the access_token value, where the hash algorithm
// used is the hash algorithm used in the alg Header Parameter of the ID
// Token's JOSE Header." EdDSA names no hash; for Ed25519 keys (the only
// EdDSA keys here) the OpenID Connect working group settled on SHA-512, the
// hash of Ed25519 itself (openid/connect issue 1125).
func HalfHash(alg, value string) (string, error) {
	var h hash.Hash
	switch alg {
	case "RS256", "ES256", "PS256", "HS256":
		h = sha256.New()
	case "RS384", "ES384", "PS384", "HS384":
		h = sha512.New384()
	case "RS512", "ES512", "PS512", "HS512", EdDSA:
		h = sha512.New()
	default:
		return "", fmt.Errorf("token: no hash defined for alg %q", alg)
	}
	h.Write([]byte(value))
	sum := h.Sum(nil)
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2]), nil
}

// MintID signs an ID token with the current ID key of c.Alg (KeyConfig.IDAlg
// when empty): header typ "JWT", kid and alg; claims iss, sub, aud, exp, iat,
// auth_time and nonce (when set), at_hash and c_hash (when AccessToken or
// Code is set), then Extra. IssuedAt zero means now. Issuer, Subject,
// Audience and ExpiresAt are required (OIDC Core §2); the lifetime may not
// exceed KeyConfig.MaxTokenTTL.
//
// A c.Alg that is not one of IDAlgorithms is an error, and so is the lack of
// a key of that algorithm: a token is never signed with another algorithm
// than the one asked for. With c.Alg empty, the newest key of IDAlg is used
// (an active one, else one still published), or failing any (instances
// configured differently) another ID key, as before c.Alg existed.
func (m *KeyManager) MintID(ctx context.Context, c IDClaims) (string, error) {
	if c.IssuedAt.IsZero() {
		c.IssuedAt = m.cfg.Now()
	}
	switch {
	case c.Issuer == "":
		return "", errors.New("token: ID token needs an issuer")
	case c.Subject == "":
		return "", errors.New("token: ID token needs a subject")
	case c.Audience == "":
		return "", errors.New("token: ID token needs an audience")
	case !c.ExpiresAt.After(c.IssuedAt):
		return "", errors.New("token: ID token expires before it is issued")
	case c.ExpiresAt.Sub(c.IssuedAt) > m.cfg.MaxTokenTTL:
		return "", fmt.Errorf("token: ID token lifetime %s exceeds KeyConfig.MaxTokenTTL %s", c.ExpiresAt.Sub(c.IssuedAt), m.cfg.MaxTokenTTL)
	case c.Alg != "" && !slices.Contains(m.idAlgs, c.Alg):
		return "", fmt.Errorf("token: ID tokens are not signed with %q (offered: %s)", c.Alg, strings.Join(m.idAlgs, ", "))
	}
	st, err := m.current(ctx)
	if err != nil {
		return "", err
	}
	k := st.signing[UseID]
	if c.Alg != "" {
		k = st.idSigning[c.Alg]
	}
	if k == nil && c.Alg != "" {
		return "", fmt.Errorf("token: no %s ID-token signing key (call KeyManager.Ensure at start-up)", c.Alg)
	}
	if k == nil {
		return "", errors.New("token: no ID-token signing key (call KeyManager.Ensure at start-up)")
	}
	claims := make(map[string]any, len(c.Extra)+10)
	for name, v := range c.Extra {
		if registeredIDClaims[name] {
			return "", fmt.Errorf("token: claim %q cannot be set through Extra", name)
		}
		claims[name] = v
	}
	claims["iss"] = c.Issuer
	claims["sub"] = c.Subject
	claims["aud"] = c.Audience
	claims["exp"] = c.ExpiresAt.Unix()
	claims["iat"] = c.IssuedAt.Unix()
	if !c.AuthTime.IsZero() {
		claims["auth_time"] = c.AuthTime.Unix()
	}
	if c.Nonce != "" {
		claims["nonce"] = c.Nonce
	}
	if len(c.AMR) > 0 {
		claims["amr"] = c.AMR
	}
	// The hash follows the alg of the key actually signing, chosen above.
	if c.AccessToken != "" {
		if claims["at_hash"], err = HalfHash(k.alg, c.AccessToken); err != nil {
			return "", err
		}
	}
	if c.Code != "" {
		if claims["c_hash"], err = HalfHash(k.alg, c.Code); err != nil {
			return "", err
		}
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("token: encode claims: %w", err)
	}
	if k.fast != nil {
		return k.fast.sign(payload)
	}
	jws, err := k.signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("token: sign: %w", err)
	}
	return jws.CompactSerialize()
}

// idWire is the registered part of an ID token payload.
type idWire struct {
	Issuer   string           `json:"iss"`
	Subject  string           `json:"sub"`
	Audience jwt.Audience     `json:"aud"`
	Expiry   *jwt.NumericDate `json:"exp"`
	IssuedAt *jwt.NumericDate `json:"iat"`
	AuthTime *jwt.NumericDate `json:"auth_time"`
	Nonce    string           `json:"nonce"`
	AMR      []string         `json:"amr"`
}

// VerifyID verifies an ID token this server issued, as needed for
// id_token_hint: allowed algorithm, typ "JWT", a published key of use "id",
// the signature, and iss. Expiry is NOT checked — OIDC Core §3.1.2.1 says of
// id_token_hint: "the ID Token MAY be expired" — but returned in ExpiresAt
// for the caller to judge. A token whose key was retired more than
// MaxTokenTTL+Refresh ago no longer verifies. Every failure wraps
// ErrInvalidToken.
func (m *KeyManager) VerifyID(ctx context.Context, raw, issuer string) (*IDClaims, error) {
	payload, _, err := m.verifySignature(ctx, raw, UseID, idTyp)
	if err != nil {
		return nil, err
	}
	var w idWire
	if err := json.Unmarshal(payload, &w); err != nil {
		return nil, invalid("claims: %v", err)
	}
	var all map[string]any
	if err := json.Unmarshal(payload, &all); err != nil {
		return nil, invalid("claims: %v", err)
	}
	if w.Issuer == "" || w.Issuer != issuer {
		return nil, invalid("iss %q is not %q", w.Issuer, issuer)
	}
	switch {
	case w.Subject == "":
		return nil, invalid("no sub")
	case len(w.Audience) != 1:
		return nil, invalid("want exactly one aud")
	case w.Expiry == nil:
		return nil, invalid("no exp")
	case w.IssuedAt == nil:
		return nil, invalid("no iat")
	}
	c := &IDClaims{
		Issuer:    w.Issuer,
		Subject:   w.Subject,
		Audience:  w.Audience[0],
		Nonce:     w.Nonce,
		IssuedAt:  w.IssuedAt.Time(),
		ExpiresAt: w.Expiry.Time(),
		AuthTime:  w.AuthTime.Time(), // zero when absent
		AMR:       w.AMR,
	}
	for name, v := range all {
		if !registeredIDClaims[name] {
			if c.Extra == nil {
				c.Extra = map[string]any{}
			}
			c.Extra[name] = v
		}
	}
	return c, nil
}
