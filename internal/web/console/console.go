// Package console is the part of the site a signed-in person manages
// things on: /account (profile, password, second factor), "Mis
// Aplicaciones" (/account/applications), the applications they have
// connected (/account/connections) and, for operators, /admin. It is built
// on the page kit of package web (templates and their defences, session,
// errors, translations), and server mounts it beside the sign-in pages;
// every route is an httpx.Browser route (CSP, no framing, forms only from
// our own pages).
//
// /account/applications ("Mis Aplicaciones") lets a person register their
// own applications through package clients (authorization_code and
// refresh_token only), see the client ID and — in the POST response alone,
// never stored in clear — the secret, rotate it, edit the name and redirect
// URIs, and delete the application with every token it holds; anyone but
// the owner gets the 404 page. /account/connections groups the person's live
// grants by application; revoking ends them all (and so every refresh and
// access token naming them) and forgets the consent. /admin, for users with
// Admin set and a 404 page for everyone else, lists and searches users
// (disabling one revokes everything it has), lists and creates applications
// with any grant and disables them, and pages through the security events.
// Every change is a POST, destructive ones confirmed on a page of their own,
// and recorded as an event (client.created, client.secret_rotated,
// client.deleted, consent.revoked, user.disabled, client.disabled...).
// Two pages run a script (CSP script-src 'self'): the credentials page,
// /static/copy.js, for its copy buttons (without it the fields are
// read-only inputs to select); and /account, /static/passkey.js, which
// adds passkeys (passkeys.go).
package console

import (
	"context"
	"embed"
	"errors"
	"log/slog"
	"time"

	"github.com/multinexo/auth/internal/account"
	"github.com/multinexo/auth/internal/httpx"
	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/web"
)

//go:embed templates/*.html
var templateFS embed.FS

var pageNames = []string{"account", "applications", "application", "secret", "confirm", "connections",
	"admin_users", "admin_user", "admin_clients", "admin_events", "mfa", "mfa_codes", "admin_mail", "admin_resources"}

// Store is what the consoles read and change.
type Store interface {
	store.UserStore
	store.ClientStore
	ListGrants(ctx context.Context, userID string, opt store.ListOptions) ([]*store.Grant, int, error)
	RevokeGrants(ctx context.Context, userID, clientID string, now time.Time) (int, error)
	store.ConsentStore
	store.EventStore
	ListMail(ctx context.Context, opt store.ListOptions) ([]*store.OutboxMessage, int, error)
	store.ResourceStore
}

// Accounts changes accounts; *account.Service implements it.
type Accounts interface {
	UpdateProfile(ctx context.Context, userID string, upd account.ProfileUpdate) (*store.User, error)
	// UpdateProfileMail: a new address is confirmed by a mailed link
	// first (pending is that address).
	UpdateProfileMail(ctx context.Context, userID string, upd account.ProfileUpdate) (u *store.User, pending string, err error)
	// SendVerification mails a new verification link (/account).
	SendVerification(ctx context.Context, userID, ip string) error
	// SendReset mails a password-reset link (/admin, for support).
	SendReset(ctx context.Context, email string) error
	MFAAvailable() bool
	BeginTOTP(ctx context.Context, userID string) (*account.TOTPEnrolment, error)
	PendingTOTP(ctx context.Context, userID string) (*account.TOTPEnrolment, error)
	ConfirmTOTP(ctx context.Context, userID, code string) ([]string, error)
	DisableTOTP(ctx context.Context, userID, password, code, ip string) error
	RegenerateRecoveryCodes(ctx context.Context, userID, code, ip string) ([]string, error)
	RecoveryCodesLeft(ctx context.Context, userID string) (int, error)
}

// Config configures the consoles.
type Config struct {
	Pages    *web.Web // the page kit
	Store    Store
	Accounts Accounts
	// Passkeys manages passkeys on /account; nil (or a service that is not
	// Available): no passkey section.
	Passkeys Passkeys
	Log      *slog.Logger
}

// Console serves the account, applications, connections and admin pages.
type Console struct {
	*web.Web
	cfg Config
	log *slog.Logger
}

// New builds the consoles and adds their templates to the page kit.
func New(cfg Config) (*Console, error) {
	if cfg.Pages == nil || cfg.Store == nil || cfg.Accounts == nil {
		return nil, errors.New("console: Pages, Store and Accounts are required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if err := cfg.Pages.AddPages(templateFS, pageNames...); err != nil {
		return nil, err
	}
	return &Console{Web: cfg.Pages, cfg: cfg, log: cfg.Log}, nil
}

// Mount registers the console pages, each an httpx.Browser route.
func (w *Console) Mount(rs *httpx.Routes) {
	page := func(pattern string, h web.HandlerFunc) { rs.Browser(pattern, w.Handle(h)) }
	page("GET "+web.PathAccount, w.accountPage)
	page("POST "+web.PathAccount+"/profile", w.profileSubmit)
	page("POST "+web.PathAccount+"/password", w.passwordSubmit)
	page("POST "+web.PathAccount+"/verification", w.verificationSubmit)
	page("GET "+web.PathMFA, w.mfaPage)
	page("POST "+web.PathMFA+"/setup", w.mfaSetup)
	page("POST "+web.PathMFA+"/confirm", w.mfaConfirm)
	page("POST "+web.PathMFA+"/disable", w.mfaDisable)
	page("POST "+web.PathMFA+"/recovery", w.mfaRecovery)
	w.mountApplications(page)
	w.mountConnections(page)
	w.mountAdmin(page)
	w.mountPasskeys(page)
	w.mountResources(page)
}

// isNotFound reports a missing record.
func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

// scopeView is one scope and its description.
type scopeView struct{ Name, Text string }
