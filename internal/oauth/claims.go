package oauth

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
)

// Members of the claims request parameter (OIDC Core §5.5).
const (
	ClaimsIDToken  = "id_token"
	ClaimsUserinfo = "userinfo"
)

// MaxClaimsLen bounds the claims parameter; the claims this server knows fit
// in far less.
const MaxClaimsLen = 8192

// claimScopes maps each claim the claims parameter may request to the scope
// that would have granted it (OIDC Core §5.4; first_name, last_name and uid
// are seed 000's). Other names are ignored (§5.5: "Any members used that are
// not understood MUST be ignored").
var claimScopes = map[string]string{
	"sub":            ScopeOpenID,
	"uid":            ScopeOpenID,
	"name":           ScopeProfile,
	"given_name":     ScopeProfile,
	"family_name":    ScopeProfile,
	"updated_at":     ScopeProfile,
	"first_name":     ScopeProfile,
	"last_name":      ScopeProfile,
	"email":          ScopeEmail,
	"email_verified": ScopeEmail,
}

// ClaimScope is the scope that covers claim name, "" for claims the claims
// parameter cannot request here.
func ClaimScope(name string) string { return claimScopes[name] }

// ClaimSpec is one individual claim request (OIDC Core §5.5.1): null, or an
// object with essential, value and values.
type ClaimSpec struct {
	Essential bool              `json:"essential,omitempty"`
	Value     json.RawMessage   `json:"value,omitempty"`
	Values    []json.RawMessage `json:"values,omitempty"`
}

// ClaimsRequest is a validated claims parameter: claim name → request (nil
// for null) for the ID token and for the UserInfo response.
type ClaimsRequest struct {
	IDToken  map[string]*ClaimSpec `json:"id_token,omitempty"`
	Userinfo map[string]*ClaimSpec `json:"userinfo,omitempty"`
}

// ParseClaims validates the claims parameter (OIDC Core §5.5): a JSON object
// whose id_token and userinfo members, when present, are objects mapping
// claim names to null or to an object whose essential is a boolean and whose
// values is an array. Anything else is invalid_request. Other top-level
// members, other members of a claim request and claim names this server
// cannot serve are dropped. The result holds only known claims; it is nil
// when nothing is left.
func ParseClaims(s string) (*ClaimsRequest, *Error) {
	if len(s) > MaxClaimsLen {
		return nil, InvalidRequest("el parametro claims es demasiado largo")
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &top); err != nil || top == nil {
		return nil, InvalidRequest("claims no es un objeto JSON")
	}
	var out ClaimsRequest
	for _, member := range []string{ClaimsIDToken, ClaimsUserinfo} {
		raw, ok := top[member]
		if !ok {
			continue
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil || m == nil {
			return nil, InvalidRequest("claims." + member + " debe ser un objeto JSON")
		}
		specs := map[string]*ClaimSpec{}
		for name, v := range m {
			spec, e := parseClaimSpec(v)
			if e != nil {
				return nil, e
			}
			if ClaimScope(name) != "" {
				specs[name] = spec
			}
		}
		if len(specs) == 0 {
			continue
		}
		if member == ClaimsIDToken {
			out.IDToken = specs
		} else {
			out.Userinfo = specs
		}
	}
	if out.IDToken == nil && out.Userinfo == nil {
		return nil, nil
	}
	return &out, nil
}

func parseClaimSpec(v json.RawMessage) (*ClaimSpec, *Error) {
	if bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
		return nil, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(v, &m); err != nil || m == nil {
		return nil, InvalidRequest("cada claim pedido en claims debe ser null o un objeto JSON")
	}
	var spec ClaimSpec
	if raw, ok := m["essential"]; ok {
		if err := json.Unmarshal(raw, &spec.Essential); err != nil || isNull(raw) {
			return nil, InvalidRequest("essential debe ser true o false")
		}
	}
	if raw, ok := m["value"]; ok && !isNull(raw) {
		spec.Value = compact(raw)
	}
	if raw, ok := m["values"]; ok {
		var vs []json.RawMessage
		if err := json.Unmarshal(raw, &vs); err != nil || vs == nil {
			return nil, InvalidRequest("values debe ser un array JSON")
		}
		for _, x := range vs {
			spec.Values = append(spec.Values, compact(x))
		}
	}
	return &spec, nil
}

func isNull(raw json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(raw), []byte("null")) }

func compact(raw json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return raw
	}
	return b.Bytes()
}

// Restrict drops the claims whose covering scope keep rejects (a claim the
// client could not get by scope), and returns nil when nothing is left.
func (c *ClaimsRequest) Restrict(keep func(scope string) bool) *ClaimsRequest {
	if c == nil {
		return nil
	}
	filter := func(m map[string]*ClaimSpec) map[string]*ClaimSpec {
		out := map[string]*ClaimSpec{}
		for name, spec := range m {
			if keep(ClaimScope(name)) {
				out[name] = spec
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	}
	r := &ClaimsRequest{IDToken: filter(c.IDToken), Userinfo: filter(c.Userinfo)}
	if r.IDToken == nil && r.Userinfo == nil {
		return nil
	}
	return r
}

// Scopes are the scopes covering the requested claims, sorted.
func (c *ClaimsRequest) Scopes() []string {
	if c == nil {
		return nil
	}
	set := map[string]bool{}
	for name := range c.IDToken {
		set[ClaimScope(name)] = true
	}
	for name := range c.Userinfo {
		set[ClaimScope(name)] = true
	}
	return slices.Sorted(maps.Keys(set))
}

// Encode is the normalised JSON stored with a code and a grant; "" for nil.
// encoding/json sorts map keys, so equal requests encode equally.
func (c *ClaimsRequest) Encode() string {
	if c == nil {
		return ""
	}
	b, err := json.Marshal(c)
	if err != nil {
		return ""
	}
	return string(b)
}

// DecodeClaims reads what Encode stored; "" or unreadable is nil (a stored
// value was validated when written).
func DecodeClaims(s string) *ClaimsRequest {
	if s == "" {
		return nil
	}
	var c ClaimsRequest
	if err := json.Unmarshal([]byte(s), &c); err != nil {
		return nil
	}
	return &c
}

// Names are the claims requested for member (ClaimsIDToken or
// ClaimsUserinfo), sorted.
func (c *ClaimsRequest) Names(member string) []string {
	if c == nil {
		return nil
	}
	m := c.IDToken
	if member == ClaimsUserinfo {
		m = c.Userinfo
	}
	return slices.Sorted(maps.Keys(m))
}

// SubValue is the sub value the ID token request names (OIDC Core §5.5.1:
// "If the sub (subject) Claim is requested with a specific value for the ID
// Token, the Authorization Server MUST only send a positive response if the
// End-User identified by that sub value has an active session"), "" for none.
func (c *ClaimsRequest) SubValue() (string, bool) {
	if c == nil || c.IDToken["sub"] == nil || c.IDToken["sub"].Value == nil {
		return "", false
	}
	var s string
	if err := json.Unmarshal(c.IDToken["sub"].Value, &s); err != nil {
		return "", true // a non-string sub matches no one
	}
	return s, true
}
