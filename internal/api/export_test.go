package api

// RouteNeed is a route's pattern and what it needs, for the tests that
// prove every route refuses a caller without it.
type RouteNeed struct {
	Pattern      string
	Public       bool // needs nothing
	NeedsAccount bool // needs the scope account from a first-party client
}

// RouteNeeds lists every route of the three resources.
func RouteNeeds(u *Users, a *AuthClients, t *Tokens) []RouteNeed {
	var out []RouteNeed
	for _, rs := range [][]route{u.routes(), a.routes(), t.routes()} {
		for _, r := range rs {
			out = append(out, RouteNeed{Pattern: r.pattern, Public: r.need == needNothing, NeedsAccount: r.need == needAccount})
		}
	}
	return out
}
