package web

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"strings"
	"time"

	"github.com/multinexo/auth/internal/httpx"
	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/token"
)

// Browser sessions are rows in the store, so any instance serves any
// request. The cookie carries "<id>.<secret>"; the store keeps only
// HashToken(secret), so a read of the database does not yield cookies.

// CookieName is the session cookie.
const CookieName = "mnx_session"

// touchEvery: a session's sliding expiry is written at most this often.
const touchEvery = time.Minute

// session returns the browser's live session and its user, or nils when
// there is none (no cookie, unknown id, wrong secret, expired, disabled
// user). Only store failures are errors.
func (w *Web) session(r *http.Request) (*store.Session, *store.User, error) {
	c, err := r.Cookie(CookieName)
	if err != nil {
		return nil, nil, nil
	}
	id, secret, ok := strings.Cut(c.Value, ".")
	if !ok || len(id) != 32 || !token.HasOpaqueForm(secret, token.PrefixSession) {
		return nil, nil, nil
	}
	ctx := r.Context()
	s, err := w.cfg.Store.GetSession(ctx, id)
	if err != nil {
		if isNotFound(err) {
			return nil, nil, nil
		}
		return nil, nil, err
	}
	if subtle.ConstantTimeCompare(store.HashToken(secret), s.SecretHash) != 1 {
		return nil, nil, nil
	}
	now := w.now()
	limit := s.CreatedAt.Add(w.cfg.SessionMaxAge)
	if !now.Before(s.ExpiresAt) || !now.Before(limit) {
		return nil, nil, nil
	}
	u, err := w.cfg.Store.GetUser(ctx, s.UserID)
	if err != nil {
		if isNotFound(err) {
			return nil, nil, nil
		}
		return nil, nil, err
	}
	if u.Disabled {
		return nil, nil, nil
	}
	if now.Sub(s.LastSeenAt) >= touchEvery {
		exp := now.Add(w.cfg.SessionTTL)
		if exp.After(limit) {
			exp = limit
		}
		if err := w.cfg.Store.TouchSession(ctx, s.ID, now, exp); err != nil && !isNotFound(err) {
			return nil, nil, err
		}
		s.LastSeenAt, s.ExpiresAt = now, exp
	}
	return s, u, nil
}

// startSession logs u in: a new session with a new id and secret every
// time, and the browser's previous session (if any) deleted, so a session
// id planted before login is worthless afterwards (no fixation).
//
// amr is how the person just authenticated (RFC 8176 names), carried to
// the codes and ID tokens this session leads to.
func (w *Web) startSession(rw http.ResponseWriter, r *http.Request, u *store.User, amr []string) (*store.Session, error) {
	w.dropSession(r)
	now := w.now().UTC()
	secret := token.NewOpaque(token.PrefixSession)
	s := &store.Session{
		ID:         token.NewID(),
		SecretHash: store.HashToken(secret),
		UserID:     u.ID,
		AuthTime:   now,
		CreatedAt:  now,
		LastSeenAt: now,
		ExpiresAt:  now.Add(w.cfg.SessionTTL),
		AMR:        amr,
	}
	if err := w.cfg.Store.CreateSession(r.Context(), s); err != nil {
		return nil, err
	}
	http.SetCookie(rw, w.cookie(s.ID+"."+secret, now.Add(w.cfg.SessionMaxAge)))
	return s, nil
}

// endSession deletes the browser's session row and clears the cookie.
func (w *Web) endSession(rw http.ResponseWriter, r *http.Request) {
	w.dropSession(r)
	c := w.cookie("", time.Unix(0, 0))
	c.MaxAge = -1
	http.SetCookie(rw, c)
}

// dropSession deletes the session named by the request's cookie, if the
// cookie's secret is right (a forged cookie cannot log anyone out).
func (w *Web) dropSession(r *http.Request) {
	c, err := r.Cookie(CookieName)
	if err != nil {
		return
	}
	id, secret, ok := strings.Cut(c.Value, ".")
	if !ok || len(id) != 32 || !token.HasOpaqueForm(secret, token.PrefixSession) {
		return
	}
	// A logout asked for is done even if the browser goes away meanwhile.
	ctx, cancel := httpx.Detach(r.Context())
	defer cancel()
	s, err := w.cfg.Store.GetSession(ctx, id)
	if err != nil {
		if !isNotFound(err) {
			w.log.ErrorContext(ctx, "reading a session", "error", err.Error())
		}
		return
	}
	if subtle.ConstantTimeCompare(store.HashToken(secret), s.SecretHash) != 1 {
		return
	}
	if err := w.cfg.Store.DeleteSession(ctx, id); err != nil && !isNotFound(err) {
		w.log.ErrorContext(ctx, "deleting a session", "error", err.Error())
	}
}

func (w *Web) cookie(value string, expires time.Time) *http.Cookie {
	return &http.Cookie{
		Name:     CookieName,
		Value:    value,
		Path:     "/",
		Expires:  expires,
		HttpOnly: true,
		Secure:   w.https,
		SameSite: http.SameSiteLaxMode,
	}
}

// binding ties a consent form to the session that was shown it: a form
// posted after the browser's session changed (another account logged in in
// another tab) is refused instead of consenting for the wrong person.
func binding(s *store.Session) string {
	h := sha256.Sum256([]byte("mnx consent binding\x00" + s.ID))
	return base64.RawURLEncoding.EncodeToString(h[:16])
}
