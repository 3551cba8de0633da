package provider

import (
	"net/http"

	"github.com/multinexo/auth/internal/httpx"
	"github.com/multinexo/auth/internal/oauth"
	"github.com/multinexo/auth/internal/store"
)

// clientRequest is a protocol request whose client authenticated.
type clientRequest struct {
	params oauth.Params
	client *store.Client
	// basic: the client authenticated with HTTP Basic, so an error answer
	// carries the challenge (RFC 6749 §5.2).
	basic bool
	ip    string
}

// authenticate is the one client-authentication step of every endpoint a
// client calls with its credentials — token, device authorization,
// revocation and introspection — so none can skip or reorder a part of it:
//
//	record the arrival (the caches' epoch reads) → parse the body → take
//	the credentials (Basic or body, never both) → check, the endpoint's
//	own checks of parameters that need no client (none for revocation and
//	introspection) → authenticate the client (with the secret-guessing
//	throttle).
//
// On failure it has written the error and returns false. r is replaced by
// one whose context carries the arrival time.
func (p *Provider) authenticate(w http.ResponseWriter, r **http.Request, check func(oauth.Params) *oauth.Error) (*clientRequest, bool) {
	req := (*r).WithContext(withArrival((*r).Context()))
	*r = req
	params, oerr := readParams(req)
	if oerr != nil {
		p.fail(w, req, oerr, false)
		return nil, false
	}
	cc, oerr := clientCredentialsOf(req, params)
	if oerr == nil && check != nil {
		oerr = check(params)
	}
	if oerr != nil {
		p.fail(w, req, oerr, cc.basic)
		return nil, false
	}
	ip := httpx.ClientIP(req)
	client, oerr := p.authenticateClient(req.Context(), cc, ip)
	if oerr != nil {
		p.fail(w, req, oerr, cc.basic)
		return nil, false
	}
	return &clientRequest{params: params, client: client, basic: cc.basic, ip: ip}, true
}
