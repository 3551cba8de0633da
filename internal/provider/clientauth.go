package provider

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/multinexo/auth/internal/httpx"
	"github.com/multinexo/auth/internal/oauth"
	"github.com/multinexo/auth/internal/store"
)

// readParams reads the body of a protocol request: a form (RFC 6749) or a
// JSON object (seed 004), at most httpx.MaxProtocolBody bytes (the Protocol route class). Parameters in the query
// string are ignored: RFC 6749 §3.2 has the client send them in the body,
// and a secret in a URL ends up in logs.
func readParams(r *http.Request) (oauth.Params, *oauth.Error) {
	mt := httpx.MediaType(r)
	if mt != "application/x-www-form-urlencoded" && mt != "application/json" {
		return nil, oauth.InvalidRequest("Content-Type debe ser application/x-www-form-urlencoded o application/json")
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			e := oauth.InvalidRequest("el cuerpo de la solicitud es demasiado grande")
			e.Status = http.StatusRequestEntityTooLarge
			return nil, e
		}
		return nil, oauth.InvalidRequest("no se pudo leer el cuerpo de la solicitud").WithCause(err)
	}
	if mt == "application/json" {
		return oauth.ParseJSON(body)
	}
	return oauth.ParseForm(string(body))
}

// clientCredentials are the credentials a request presented.
type clientCredentials struct {
	id     string
	secret string
	// basic: they came in the Authorization header (an invalid_client answer
	// is then a 401 with a Basic challenge, RFC 6749 §5.2).
	basic bool
}

// maxClientIDLen bounds client ids before any store look-up (ours are 32
// hex characters).
const maxClientIDLen = 255

// clientCredentialsOf extracts the client's credentials from the request:
// HTTP Basic (RFC 6749 §2.3.1) or client_id/client_secret in the body.
//
// RFC 6749 §2.3: "The client MUST NOT use more than one authentication method
// in each request." A secret in both places is invalid_request; a client_id
// in the body beside Basic is tolerated (several libraries send it) when it
// names the same client.
func clientCredentialsOf(r *http.Request, params oauth.Params) (clientCredentials, *oauth.Error) {
	h := r.Header.Values("Authorization")
	if len(h) == 0 {
		return clientCredentials{id: params.Get("client_id"), secret: params.Get("client_secret")}, nil
	}
	cc := clientCredentials{basic: true}
	if len(h) > 1 {
		return cc, oauth.InvalidRequest("cabecera Authorization repetida")
	}
	scheme, rest, _ := strings.Cut(strings.TrimSpace(h[0]), " ")
	if !strings.EqualFold(scheme, "Basic") {
		return cc, oauth.InvalidClient("metodo de autenticacion del cliente no admitido; use Basic")
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
	if err != nil {
		return cc, oauth.InvalidClient("cabecera Authorization Basic mal formada")
	}
	id, secret, ok := strings.Cut(string(raw), ":")
	if !ok {
		return cc, oauth.InvalidClient("cabecera Authorization Basic mal formada")
	}
	// RFC 6749 §2.3.1: "The client identifier is encoded using the
	// "application/x-www-form-urlencoded" encoding algorithm per Appendix B,
	// and the encoded value is used as the username; the client password is
	// encoded using the same algorithm and used as the password."
	if cc.id, err = url.QueryUnescape(id); err != nil {
		return cc, oauth.InvalidClient("cabecera Authorization Basic mal formada")
	}
	if cc.secret, err = url.QueryUnescape(secret); err != nil {
		return cc, oauth.InvalidClient("cabecera Authorization Basic mal formada")
	}
	// The header is outside CheckInput's reach: its decoded parts are
	// checked here, before the client id reaches a query.
	if !httpx.ValidText(cc.id) || !httpx.ValidText(cc.secret) {
		return cc, oauth.InvalidRequest("la solicitud contiene texto que no es UTF-8 valido o un byte NUL")
	}
	if params.Has("client_secret") {
		return cc, oauth.InvalidRequest("el cliente uso mas de un metodo de autenticacion (Basic y client_secret)")
	}
	if bid := params.Get("client_id"); bid != "" && bid != cc.id {
		return cc, oauth.InvalidRequest("client_id del cuerpo distinto del de la cabecera Authorization")
	}
	return cc, nil
}

// dummyHash is compared against when the client does not exist, so an
// unknown client costs the same as a known one with a wrong secret.
var dummyHash = store.HashToken("multinexo: no such client")

// Why a client authentication failed: logged with the request id and
// recorded as the detail of a client.auth_failed event, never shown to the
// client (whose answer is the same for all).
const (
	clientUnknown     = "unknown client"
	clientWrongSecret = "wrong client secret"
	clientNoSecret    = "wrong method: confidential client sent no secret (HTTP Basic or client_secret needed)"
	clientSentSecret  = "wrong method: public client sent a secret (a public client authenticates with client_id only)"
	clientDisabled    = "client disabled"
	clientTooLong     = "client_id or client_secret too long"
	clientBadType     = "client of unknown type"
)

// authenticateClient checks the credentials against the stored client.
// Unknown client, disabled client, missing or wrong secret for a confidential
// client, and a secret sent by a public client are all invalid_client, with
// the same description, so the answer tells nothing about which; the log
// line of the refusal and a client.auth_failed security event say which.
//
// Failures are counted per client and address (clientthrottle.go); a pair
// over the limit is refused with 429 before its secret is hashed.
func (p *Provider) authenticateClient(ctx context.Context, cc clientCredentials, ip string) (*store.Client, *oauth.Error) {
	noteClient(ctx, cc.id)
	fail := func(reason string) *oauth.Error {
		clientID := cc.id
		if len(clientID) > maxClientIDLen {
			clientID = ""
		}
		// Recorded even if the client hangs up at once, as the count is.
		ectx, cancel := httpx.Detach(ctx)
		p.event(ectx, "client.auth_failed", "", clientID, ip, reason)
		cancel()
		return p.clientFailed(ctx, cc, ip, oauth.InvalidClient("autenticacion del cliente fallida").WithCause(errors.New(reason)))
	}
	if cc.id == "" {
		return nil, oauth.InvalidClient("falta la autenticacion del cliente (Basic o client_id)")
	}
	if e := p.clientLocked(cc, ip); e != nil {
		return nil, e
	}
	if len(cc.id) > maxClientIDLen || len(cc.secret) > 1024 {
		return nil, fail(clientTooLong)
	}
	c, err := p.getClient(ctx, cc.id)
	if errors.Is(err, store.ErrNotFound) {
		subtle.ConstantTimeCompare(store.HashToken(cc.secret), dummyHash)
		return nil, fail(clientUnknown)
	}
	if err != nil {
		return nil, oauth.ServerError(err)
	}
	switch c.Type {
	case store.ClientConfidential:
		// A confidential client with no stored hash can never authenticate:
		// ConstantTimeCompare of different lengths is 0.
		ok := subtle.ConstantTimeCompare(store.HashToken(cc.secret), c.SecretHash) == 1
		switch {
		case cc.secret == "":
			return nil, fail(clientNoSecret)
		case !ok:
			return nil, fail(clientWrongSecret)
		case c.Disabled:
			return nil, fail(clientDisabled)
		}
	case store.ClientPublic:
		// A public client has no secret; one that sends a secret is confused
		// or is not who it says (RFC 6749 §2.3: the server must not rely on
		// public client authentication, and we do not pretend to).
		switch {
		case cc.secret != "":
			return nil, fail(clientSentSecret)
		case c.Disabled:
			return nil, fail(clientDisabled)
		}
	default:
		return nil, fail(clientBadType)
	}
	return c, nil
}
