package provider

import (
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/multinexo/auth/internal/clients"
	"github.com/multinexo/auth/internal/oauth"
	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/token"
)

// handleJWKS serves the public signing keys (RFC 7517 §5). They change on
// rotation, and a new key signs only after it is published, so a short cache
// lifetime is safe and relieves clients that fetch on every start.
func (p *Provider) handleJWKS(w http.ResponseWriter, r *http.Request) {
	b, err := p.cfg.Keys.JWKS(r.Context())
	if err != nil {
		p.fail(w, r, oauth.ServerError(err), false)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/jwk-set+json")
	// The lifetime Rotate's publish-before-use delay counts on.
	h.Set("Cache-Control", "public, max-age="+strconv.Itoa(int(token.JWKSMaxAge/time.Second)))
	h.Del("Pragma")
	_, _ = w.Write(b)
}

// metadata is the discovery document: RFC 8414 §2 and OpenID Connect
// Discovery 1.0 §3 (one document answers both; every field of one is valid
// in the other).
type metadata struct {
	Issuer                                     string   `json:"issuer"`
	AuthorizationEndpoint                      string   `json:"authorization_endpoint"`
	TokenEndpoint                              string   `json:"token_endpoint"`
	UserinfoEndpoint                           string   `json:"userinfo_endpoint"`
	JWKSURI                                    string   `json:"jwks_uri"`
	RevocationEndpoint                         string   `json:"revocation_endpoint"`
	IntrospectionEndpoint                      string   `json:"introspection_endpoint"`
	EndSessionEndpoint                         string   `json:"end_session_endpoint"`
	DeviceAuthorizationEndpoint                string   `json:"device_authorization_endpoint,omitempty"`
	RegistrationEndpoint                       string   `json:"registration_endpoint,omitempty"`
	ScopesSupported                            []string `json:"scopes_supported"`
	ResponseTypesSupported                     []string `json:"response_types_supported"`
	ResponseModesSupported                     []string `json:"response_modes_supported"`
	GrantTypesSupported                        []string `json:"grant_types_supported"`
	TokenEndpointAuthMethodsSupported          []string `json:"token_endpoint_auth_methods_supported"`
	RevocationEndpointAuthMethodsSupported     []string `json:"revocation_endpoint_auth_methods_supported"`
	IntrospectionEndpointAuthMethodsSupported  []string `json:"introspection_endpoint_auth_methods_supported"`
	CodeChallengeMethodsSupported              []string `json:"code_challenge_methods_supported"`
	IDTokenSigningAlgValuesSupported           []string `json:"id_token_signing_alg_values_supported"`
	SubjectTypesSupported                      []string `json:"subject_types_supported"`
	ClaimsSupported                            []string `json:"claims_supported"`
	ClaimsParameterSupported                   bool     `json:"claims_parameter_supported"`
	AuthorizationResponseIssParameterSupported bool     `json:"authorization_response_iss_parameter_supported"`
	RequestParameterSupported                  bool     `json:"request_parameter_supported"`
	RequestURIParameterSupported               bool     `json:"request_uri_parameter_supported"`
	UILocalesSupported                         []string `json:"ui_locales_supported"`
	ClientIDMetadataDocumentSupported          bool     `json:"client_id_metadata_document_supported,omitempty"`
}

// handleDiscovery serves both discovery documents. Every URL is built from
// the configured issuer, never from Host or X-Forwarded-* (a forged header
// must not redirect clients' tokens elsewhere).
func (p *Provider) handleDiscovery(w http.ResponseWriter, r *http.Request) {
	m := metadata{
		Issuer:                                 p.issuer,
		AuthorizationEndpoint:                  p.url(PathAuthorize),
		TokenEndpoint:                          p.url(PathToken),
		UserinfoEndpoint:                       p.url(PathUserinfo),
		JWKSURI:                                p.url(PathJWKS),
		RevocationEndpoint:                     p.url(PathRevoke),
		IntrospectionEndpoint:                  p.url(PathIntrospect),
		EndSessionEndpoint:                     p.url(PathLogout),
		ScopesSupported:                        slices.Clone(clients.BuiltinScopes),
		ResponseTypesSupported:                 []string{"code"},
		ResponseModesSupported:                 []string{"query"},
		GrantTypesSupported:                    slices.Clone(p.grantOrder),
		TokenEndpointAuthMethodsSupported:      []string{"client_secret_basic", "client_secret_post", "none"},
		RevocationEndpointAuthMethodsSupported: []string{"client_secret_basic", "client_secret_post", "none"},
		// Introspection needs a confidential client.
		IntrospectionEndpointAuthMethodsSupported: []string{"client_secret_basic", "client_secret_post"},
		CodeChallengeMethodsSupported:             []string{oauth.PKCEMethodS256},
		// The default first (RS256 unless --id-alg says otherwise); a
		// client registered with id_token_signed_response_alg gets its own.
		IDTokenSigningAlgValuesSupported: p.cfg.Keys.IDAlgorithms(),
		SubjectTypesSupported:            []string{"public"},
		ClaimsSupported: []string{"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "amr",
			"name", "given_name", "family_name", "updated_at", "email", "email_verified"},
		// OIDC Core §5.5, for the standard claims above (and uid,
		// first_name, last_name).
		ClaimsParameterSupported:                   true,
		AuthorizationResponseIssParameterSupported: true,
		UILocalesSupported:                         []string{"es", "en"},
		ClientIDMetadataDocumentSupported:          p.cfg.MetadataDocuments,
		RegistrationEndpoint:                       p.cfg.RegistrationEndpoint,
	}
	// The device flow is advertised once its grant is served, so that every
	// advertised value is true.
	if _, ok := p.grants[store.GrantDeviceCode]; ok {
		m.DeviceAuthorizationEndpoint = p.url(PathDevice)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "public, max-age=300")
	h.Del("Pragma")
	writeBody(w, m)
}
