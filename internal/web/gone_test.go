package web_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/multinexo/auth/internal/httpx"
	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/web"
)

// hangUpStore ends the request's context just before the session row is
// deleted: the browser going away in the middle of a logout.
type hangUpStore struct {
	*recStore
	cancel context.CancelFunc
}

func (h *hangUpStore) DeleteSession(ctx context.Context, id string) error {
	h.cancel()
	return h.recStore.DeleteSession(ctx, id)
}

// A logout whose browser goes away mid-request still ends the session and
// records the event: a person who clicked "log out" on a shared computer
// and closed the window must be logged out.
func TestLogoutCompletesWhenClientGone(t *testing.T) {
	e := newEnv(t, nil)
	b := e.browser()
	b.login()
	cookie := b.sessionCookie()
	id, _, _ := strings.Cut(cookie.Value, ".")

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	hs := &hangUpStore{recStore: e.st, cancel: cancel}
	w, err := web.New(web.Config{Issuer: e.issuer, Store: hs, Keys: e.keys, Tokens: e.tokens(e.issuer), Accounts: e.accts, Now: e.clock.Now,
		Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	mux := httpx.NewRoutes(httpx.RoutesConfig{})
	mountPages(t, mux, w, e.st, e.accts)
	req := httptest.NewRequestWithContext(ctx, "POST", e.issuer+web.PathLogout, strings.NewReader(""))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(cookie)
	mux.ServeHTTP(httptest.NewRecorder(), req)

	if _, err := e.st.GetSession(t.Context(), id); err == nil {
		t.Error("the session survived a logout whose browser went away")
	}
	evs, _, err := e.st.ListEvents(t.Context(), store.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(evs, func(ev *store.Event) bool { return ev.Type == "logout" }) {
		t.Error("the logout was not recorded")
	}
}
