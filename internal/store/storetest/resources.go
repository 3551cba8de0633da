package storetest

import (
	"time"

	"github.com/multinexo/auth/internal/store"
)

// Protected resources (RFC 8707): ResourceStore, and the resource
// indicators that grants, codes, device codes and consents remember.

// resourceTests are the conformance tests of ResourceStore, run by Run.
var resourceTests = []struct {
	name string
	fn   func(f *fixture)
}{
	{"ResourceCRUD", testResourceCRUD},
	{"ResourceGrantAndRefresh", testResourceGrant},
	{"ResourceCodeToGrant", testResourceCode},
	{"ResourceDeviceToGrant", testResourceDevice},
	{"ResourceConsentUnion", testResourceConsent},
	{"ClientOrigin", testClientOrigin},
	{"RegistrationTokens", testRegistrationTokens},
	{"ClientRegistrationHash", testRegistrationHash},
	{"MetadataClientsPruned", testMetadataClientsPruned},
}

// testMetadataClientsPruned: the janitor deletes metadata-document client
// rows nobody authorized, a day after their last refresh, and nothing else.
func testMetadataClientsPruned(f *fixture) {
	f.user("u1", "a@example.com")
	mk := func(id, origin string) {
		c := &store.Client{ID: id, Name: id, Type: store.ClientPublic, RedirectURIs: []string{"http://127.0.0.1/cb"},
			Grants: []string{store.GrantAuthorizationCode}, Origin: origin, CreatedAt: t0, UpdatedAt: t0}
		wantErr(f.t, "CreateClient "+id, f.s.CreateClient(f.ctx, c), nil)
	}
	mk("https://unused.example/c.json", store.OriginMetadata)
	mk("https://granted.example/c.json", store.OriginMetadata)
	mk("https://consented.example/c.json", store.OriginMetadata)
	mk("dyn", store.OriginDynamic)
	f.grant("g1", "u1", "https://granted.example/c.json", "")
	wantErr(f.t, "SaveConsent", f.s.SaveConsent(f.ctx, &store.Consent{UserID: "u1", ClientID: "https://consented.example/c.json",
		Scopes: []string{"openid"}, CreatedAt: t0}), nil)
	// Not yet a day: kept.
	if _, err := f.s.DeleteExpired(f.ctx, t0.Add(23*time.Hour), 100); err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.s.GetClient(f.ctx, "https://unused.example/c.json"); err != nil {
		f.t.Fatalf("pruned too early: %v", err)
	}
	if _, err := f.s.DeleteExpired(f.ctx, t0.Add(25*time.Hour), 100); err != nil {
		f.t.Fatal(err)
	}
	_, err := f.s.GetClient(f.ctx, "https://unused.example/c.json")
	wantErr(f.t, "unused metadata client", err, store.ErrNotFound)
	for _, id := range []string{"https://granted.example/c.json", "https://consented.example/c.json", "dyn"} {
		if _, err := f.s.GetClient(f.ctx, id); err != nil {
			f.t.Errorf("%s was pruned: %v", id, err)
		}
	}
}

// testRegistrationTokens: initial access tokens are single use and expire.
func testRegistrationTokens(f *fixture) {
	h := store.HashToken("iat-1")
	wantErr(f.t, "create", f.s.CreateRegistrationToken(f.ctx, h, t0, t0.Add(time.Hour)), nil)
	wantErr(f.t, "create twice", f.s.CreateRegistrationToken(f.ctx, h, t0, t0.Add(time.Hour)), store.ErrConflict)
	wantErr(f.t, "unknown", f.s.UseRegistrationToken(f.ctx, store.HashToken("nope"), t0), store.ErrNotFound)
	wantErr(f.t, "use", f.s.UseRegistrationToken(f.ctx, h, t0.Add(time.Minute)), nil)
	wantErr(f.t, "use again", f.s.UseRegistrationToken(f.ctx, h, t0.Add(2*time.Minute)), store.ErrAlreadyUsed)
	h2 := store.HashToken("iat-2")
	wantErr(f.t, "create 2", f.s.CreateRegistrationToken(f.ctx, h2, t0, t0.Add(time.Hour)), nil)
	wantErr(f.t, "expired", f.s.UseRegistrationToken(f.ctx, h2, t0.Add(time.Hour)), store.ErrExpired)
	// The janitor deletes expired ones.
	if _, err := f.s.DeleteExpired(f.ctx, t0.Add(time.Hour), 100); err != nil {
		f.t.Fatal(err)
	}
	wantErr(f.t, "after the janitor", f.s.UseRegistrationToken(f.ctx, h2, t0), store.ErrNotFound)
}

// testRegistrationHash: the registration access token's hash is stored and
// replaced.
func testRegistrationHash(f *fixture) {
	c := &store.Client{ID: "dyn1", Name: "Dinámica", Type: store.ClientPublic, RedirectURIs: []string{"http://127.0.0.1/cb"},
		Grants: []string{store.GrantAuthorizationCode}, Origin: store.OriginDynamic,
		RegistrationHash: store.HashToken("rat-1"), CreatedAt: t0, UpdatedAt: t0}
	wantErr(f.t, "CreateClient", f.s.CreateClient(f.ctx, c), nil)
	got, err := f.s.GetClient(f.ctx, "dyn1")
	wantErr(f.t, "GetClient", err, nil)
	diff(f.t, "client", got, c)
	u, err := f.s.UpdateClient(f.ctx, "dyn1", store.ClientUpdate{RegistrationHash: store.HashToken("rat-2")}, t0)
	wantErr(f.t, "UpdateClient", err, nil)
	diff(f.t, "hash", u.RegistrationHash, store.HashToken("rat-2"))
}

// testClientOrigin: a client's origin is stored and listed.
func testClientOrigin(f *fixture) {
	c := &store.Client{ID: "https://agent.example/client.json", Name: "Agente", Type: store.ClientPublic,
		RedirectURIs: []string{"http://127.0.0.1/cb"}, Grants: []string{store.GrantAuthorizationCode},
		Origin: store.OriginMetadata, CreatedAt: t0, UpdatedAt: t0}
	wantErr(f.t, "CreateClient", f.s.CreateClient(f.ctx, c), nil)
	got, err := f.s.GetClient(f.ctx, c.ID)
	wantErr(f.t, "GetClient", err, nil)
	diff(f.t, "client", got, c)
	l, _, err := f.s.ListClients(f.ctx, "", store.ListOptions{Page: store.Page{Number: 1, Size: 10}})
	wantErr(f.t, "ListClients", err, nil)
	if len(l) != 1 || l[0].Origin != store.OriginMetadata {
		f.t.Errorf("listed %+v", l)
	}
	name := "Otro"
	u, err := f.s.UpdateClient(f.ctx, c.ID, store.ClientUpdate{Name: &name}, t0)
	wantErr(f.t, "UpdateClient", err, nil)
	if u.Origin != store.OriginMetadata {
		f.t.Errorf("origin after update %q", u.Origin)
	}
}

func testResourceCRUD(f *fixture) {
	r := &store.Resource{URI: "https://api.example/mcp", Name: "Notas", Scopes: []string{"notes:read", "notes:write"}, CreatedAt: t0}
	wantErr(f.t, "CreateResource", f.s.CreateResource(f.ctx, r), nil)
	wantErr(f.t, "CreateResource again", f.s.CreateResource(f.ctx, &store.Resource{URI: r.URI, Name: "Otro"}), store.ErrConflict)
	got, err := f.s.GetResource(f.ctx, r.URI)
	wantErr(f.t, "GetResource", err, nil)
	diff(f.t, "resource", got, r)
	_, err = f.s.GetResource(f.ctx, "https://api.example/other")
	wantErr(f.t, "GetResource unknown", err, store.ErrNotFound)
	// A URI differing only in case or a trailing slash is another resource:
	// indicators compare as exact strings.
	_, err = f.s.GetResource(f.ctx, "https://api.example/mcp/")
	wantErr(f.t, "GetResource with slash", err, store.ErrNotFound)

	b := &store.Resource{URI: "https://a.example/", Name: "A", CreatedAt: t0.Add(time.Second)}
	wantErr(f.t, "CreateResource b", f.s.CreateResource(f.ctx, b), nil)
	l, err := f.s.ListResources(f.ctx)
	wantErr(f.t, "ListResources", err, nil)
	diff(f.t, "list", l, []*store.Resource{b, r})

	wantErr(f.t, "DeleteResource", f.s.DeleteResource(f.ctx, r.URI), nil)
	wantErr(f.t, "DeleteResource again", f.s.DeleteResource(f.ctx, r.URI), store.ErrNotFound)
	_, err = f.s.GetResource(f.ctx, r.URI)
	wantErr(f.t, "GetResource deleted", err, store.ErrNotFound)
}

// testResourceGrant: a grant keeps its resources through IssueGrant,
// GetGrant, GetRefreshTokenGrant and rotation.
func testResourceGrant(f *fixture) {
	f.user("u1", "a@example.com")
	f.client("c1", "App")
	res := []string{"https://api.example/mcp", "https://b.example/"}
	g := &store.Grant{ID: "g1", UserID: "u1", ClientID: "c1", GrantType: store.GrantAuthorizationCode,
		Scopes: []string{"openid"}, Resources: res, CreatedAt: t0, LastUsedAt: t0}
	rt := &store.RefreshToken{Hash: store.HashToken("rt1"), Scopes: g.Scopes, CreatedAt: t0}
	wantErr(f.t, "IssueGrant", f.s.IssueGrant(f.ctx, g, rt), nil)
	diff(f.t, "grant resources", f.getGrant("g1").Resources, res)
	_, g2, _, err := f.s.GetRefreshTokenGrant(f.ctx, store.HashToken("rt1"))
	wantErr(f.t, "GetRefreshTokenGrant", err, nil)
	diff(f.t, "refresh grant resources", g2.Resources, res)
	g3, err := f.s.RotateRefreshToken(f.ctx, rotation("rt1", "rt2", t0.Add(time.Minute), 0))
	wantErr(f.t, "rotate", err, nil)
	diff(f.t, "rotated grant resources", g3.Resources, res)
	// A resource with white space cannot be stored faithfully: refused.
	bad := &store.Grant{ID: "g2", ClientID: "c1", GrantType: store.GrantClientCredentials, Resources: []string{"a b"}, CreatedAt: t0}
	if err := f.s.IssueGrant(f.ctx, bad, nil); err == nil {
		f.t.Errorf("IssueGrant with a resource containing a space: no error")
	}
	f.noGrant("g2")
}

// testResourceCode: a code's resources become its grant's.
func testResourceCode(f *fixture) {
	f.user("u1", "a@example.com")
	f.client("c1", "App")
	c := &store.AuthCode{
		Hash: store.HashToken("code1"), ClientID: "c1", UserID: "u1", RedirectURI: "https://app.example/cb",
		Scopes: []string{"openid"}, Resources: []string{"https://api.example/mcp"},
		CreatedAt: t0, ExpiresAt: t0.Add(time.Minute),
	}
	wantErr(f.t, "CreateAuthCode", f.s.CreateAuthCode(f.ctx, c), nil)
	g := &store.Grant{ID: "g1", GrantType: store.GrantAuthorizationCode, CreatedAt: t0, LastUsedAt: t0}
	got, err := f.s.RedeemAuthCode(f.ctx, store.HashToken("code1"), t0.Add(time.Second), g, nil)
	wantErr(f.t, "RedeemAuthCode", err, nil)
	diff(f.t, "code resources", got.Resources, c.Resources)
	diff(f.t, "caller's grant resources", g.Resources, c.Resources)
	diff(f.t, "stored grant resources", f.getGrant("g1").Resources, c.Resources)
}

// testResourceDevice: a device code's resources become its grant's.
func testResourceDevice(f *fixture) {
	f.user("u1", "a@example.com")
	f.client("c1", "TV")
	d := &store.DeviceCode{
		DeviceHash: store.HashToken("dc1"), UserCodeHash: store.HashToken("AAAA"), ClientID: "c1",
		Scopes: []string{"openid"}, Resources: []string{"https://api.example/mcp"},
		CreatedAt: t0, ExpiresAt: t0.Add(10 * time.Minute), Interval: 5 * time.Second,
	}
	wantErr(f.t, "CreateDeviceCode", f.s.CreateDeviceCode(f.ctx, d), nil)
	got, err := f.s.GetDeviceCodeByUserCode(f.ctx, store.HashToken("AAAA"), t0)
	wantErr(f.t, "GetDeviceCodeByUserCode", err, nil)
	diff(f.t, "device resources", got.Resources, d.Resources)
	wantErr(f.t, "approve", f.s.DecideDeviceCode(f.ctx, store.HashToken("AAAA"), true, "u1", t0, nil, t0.Add(time.Second)), nil)
	_, g, _, err := f.poll("dc1", t0.Add(time.Minute), "g1", "")
	wantErr(f.t, "poll", err, nil)
	diff(f.t, "caller's grant resources", g.Resources, d.Resources)
	diff(f.t, "stored grant resources", f.getGrant("g1").Resources, d.Resources)
}

// testResourceConsent: SaveConsent keeps the union of resources, as of scopes.
func testResourceConsent(f *fixture) {
	f.user("u1", "a@example.com")
	f.client("c1", "App")
	save := func(scopes, res []string) {
		wantErr(f.t, "SaveConsent", f.s.SaveConsent(f.ctx, &store.Consent{UserID: "u1", ClientID: "c1",
			Scopes: scopes, Resources: res, CreatedAt: t0}), nil)
	}
	save([]string{"openid"}, []string{"https://a.example/"})
	save([]string{"openid", "profile"}, nil)
	save(nil, []string{"https://b.example/", "https://a.example/"})
	c, err := f.s.GetConsent(f.ctx, "u1", "c1")
	wantErr(f.t, "GetConsent", err, nil)
	diff(f.t, "consent scopes", c.Scopes, []string{"openid", "profile"})
	diff(f.t, "consent resources", c.Resources, []string{"https://a.example/", "https://b.example/"})
}
