// Package server is the composition root: New builds the store, the signing
// keys, the account service, the protocol endpoints, the JSON:API and the
// pages from one Config, and returns an http.Handler. Nothing is global, so
// several servers can live in one test process.
package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/multinexo/auth/internal/account"
	"github.com/multinexo/auth/internal/api"
	"github.com/multinexo/auth/internal/cimd"
	"github.com/multinexo/auth/internal/config"
	"github.com/multinexo/auth/internal/httpx"
	"github.com/multinexo/auth/internal/mail"
	"github.com/multinexo/auth/internal/passkey"
	"github.com/multinexo/auth/internal/provider"
	"github.com/multinexo/auth/internal/registration"
	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/store/postgres"
	"github.com/multinexo/auth/internal/store/sqlite"
	"github.com/multinexo/auth/internal/store/sqlstore"
	"github.com/multinexo/auth/internal/token"
	"github.com/multinexo/auth/internal/web"
	"github.com/multinexo/auth/internal/web/console"
)

// Config is everything New needs.
type Config struct {
	Global config.Global
	Serve  config.Serve
	Log    *slog.Logger
	Now    func() time.Time // nil: time.Now
	// MailTLS, when set, is the TLS configuration used with the SMTP
	// relay (tests trust their relay's certificate with it).
	MailTLS *tls.Config
	// Resolver resolves the hosts of client ID metadata documents; nil:
	// the system's (tests point names where they like).
	Resolver cimd.IPResolver
	// CIMDRootCAs, if set, are the only roots trusted when fetching
	// metadata documents (tests).
	CIMDRootCAs *x509.CertPool
}

// buildProvider is the protocol endpoints, and dynamic client registration
// when serve --registration turns it on (nil when off), which discovery
// then advertises.
func buildProvider(cfg Config, db *sqlstore.DB, keys *token.KeyManager, accounts *account.Service) (*provider.Provider, *registration.Registrar, error) {
	pcfg := provider.Config{
		Issuer:            cfg.Serve.Issuer,
		Store:             db,
		Keys:              keys,
		Accounts:          accounts,
		Now:               cfg.Now,
		AccessTTL:         cfg.Serve.AccessTTL,
		RefreshGrace:      cfg.Serve.RefreshGrace,
		Log:               cfg.Log,
		MetadataDocuments: cfg.Serve.CIMD != "off",
	}
	var reg *registration.Registrar
	if cfg.Serve.Registration != "" && cfg.Serve.Registration != registration.ModeOff {
		var err error
		reg, err = registration.New(registration.Config{Issuer: cfg.Serve.Issuer, Mode: cfg.Serve.Registration,
			Store: db, Now: cfg.Now, Log: cfg.Log, IDTokenAlgs: keys.IDAlgorithms()})
		if err != nil {
			return nil, nil, err
		}
		pcfg.RegistrationEndpoint = cfg.Serve.Issuer + registration.PathRegister
	}
	prov, err := provider.New(pcfg)
	return prov, reg, err
}

// metadataClients resolves client ID metadata documents unless serve
// --cimd off (nil then).
func metadataClients(cfg Config, db *sqlstore.DB) web.MetadataClients {
	if cfg.Serve.CIMD == "off" {
		return nil
	}
	return &cimd.Resolver{
		F: cimd.NewFetcher(cimd.FetchConfig{AllowLoopback: cfg.Serve.CIMDLoopback, Resolver: cfg.Resolver, Now: cfg.Now,
			RootCAs: cfg.CIMDRootCAs}),
		St:  db,
		Now: now(cfg.Now),
	}
}

func now(f func() time.Time) func() time.Time {
	if f == nil {
		return time.Now
	}
	return f
}

// Server is a built server. Store, Keys and Accounts are exposed for the
// command line and for tests.
type Server struct {
	Store    store.Store
	Keys     *token.KeyManager
	Accounts *account.Service
	Provider *provider.Provider
	Backend  config.Backend
	// Mail delivers the outbox; serve runs it (Run), tests step it
	// (RunOnce).
	Mail *mail.Deliverer

	cfg     Config
	db      *sqlstore.DB // readiness (Ready) beyond the store contract
	routes  *httpx.Routes
	handler http.Handler
}

// OpenStore opens the database named by --db without migrating it.
func OpenStore(ctx context.Context, g config.Global) (*sqlstore.DB, config.Backend, error) {
	b, err := config.ParseDB(g.DB)
	if err != nil {
		return nil, b, err
	}
	var db *sqlstore.DB
	switch b.Kind {
	case "sqlite":
		db, err = sqlite.Open(ctx, b.Path)
	default:
		db, err = postgres.Open(ctx, b.URL)
	}
	if err != nil {
		return nil, b, fmt.Errorf("abrir la base de datos %s: %w", config.Redact(g.DB), err)
	}
	return db, b, nil
}

// LoadSecret returns the secret that encrypts signing keys: --secret, or on
// SQLite a generated file beside the database. PostgreSQL deployments must
// configure it, since every instance has to share it.
func LoadSecret(g config.Global, b config.Backend, log *slog.Logger) (string, error) {
	if g.Secret != "" {
		if len(g.Secret) < 32 {
			return "", errors.New("--secret / MULTINEXO_SECRET: al menos 32 caracteres / at least 32 characters")
		}
		return g.Secret, nil
	}
	if b.Kind != "sqlite" {
		return "", errors.New("MULTINEXO_SECRET es obligatorio con PostgreSQL: todas las instancias deben compartirlo (genera uno con: openssl rand -base64 32) / MULTINEXO_SECRET is required with PostgreSQL")
	}
	path := b.SecretFile()
	secret, created, err := token.LoadOrCreateSecretFile(path)
	if err != nil {
		return "", fmt.Errorf("secreto en %s: %w", path, err)
	}
	if created {
		log.Warn("generated a new secret for the signing keys; keep this file with the database and back it up", "file", path)
	}
	return secret, nil
}

// New opens and migrates the store, loads the signing keys and builds every
// handler.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if err := cfg.Serve.Validate(); err != nil {
		return nil, err
	}
	db, b, err := OpenStore(ctx, cfg.Global)
	if err != nil {
		return nil, err
	}
	s, err := build(ctx, cfg, db, b)
	if err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func build(ctx context.Context, cfg Config, db *sqlstore.DB, b config.Backend) (*Server, error) {
	if err := db.Migrate(ctx); err != nil {
		return nil, fmt.Errorf("migraciones: %w", err)
	}
	secret, err := LoadSecret(cfg.Global, b, cfg.Log)
	if err != nil {
		return nil, err
	}
	keys, err := token.NewKeyManager(db, token.KeyConfig{
		Secret:      secret,
		AccessAlg:   cfg.Serve.AccessAlg,
		IDAlg:       cfg.Serve.IDAlg,
		MaxTokenTTL: MaxTokenTTL,
		Now:         cfg.Now,
	})
	if err != nil {
		return nil, err
	}
	if err := keys.Ensure(ctx); err != nil {
		return nil, err
	}
	m := newMetrics()
	composer, deliverer, err := buildMail(cfg, db, secret, m.mailAttempt)
	if err != nil {
		return nil, err
	}
	accounts := account.NewService(db, account.Config{Now: cfg.Now, Log: cfg.Log, Secret: secret,
		Mail: composer, Notify: deliverer.Notify, RequireVerifiedEmail: cfg.Serve.RequireVerifiedEmail})
	// Stored email keys follow the current look-alike rule (account.EmailKey);
	// a collision among existing accounts is reported, never fatal.
	collisions, err := accounts.RekeyEmails(ctx)
	if err != nil {
		return nil, fmt.Errorf("claves de correo: %w", err)
	}
	if len(collisions) > 0 {
		cfg.Log.Warn("accounts with look-alike email addresses need an operator: see the email.collision events", "count", len(collisions))
	}
	prov, reg, err := buildProvider(cfg, db, keys, accounts)
	if err != nil {
		return nil, err
	}
	users := api.NewUsers(accounts, db, prov, api.UsersConfig{Now: cfg.Now, Log: cfg.Log})
	apiCfg := api.Config{Now: cfg.Now, Log: cfg.Log, IDTokenAlgs: keys.IDAlgorithms()}
	authClients := api.NewAuthClients(db, prov, apiCfg)
	tokens := api.NewTokens(db, prov, apiCfg)
	passkeys, err := newPasskeys(cfg, db)
	if err != nil {
		return nil, err
	}
	wcfg := web.Config{
		Issuer:   cfg.Serve.Issuer,
		Passkeys: passkeys,
		Store:    db,
		Keys:     keys,
		Tokens:   prov,
		Accounts: accounts,
		Recovery: accounts,
		Now:      cfg.Now,
		Log:      cfg.Log,

		MetadataClients: metadataClients(cfg, db),
	}
	pages, err := web.New(wcfg)
	if err != nil {
		return nil, err
	}
	consoles, err := console.New(console.Config{Pages: pages, Store: db, Accounts: accounts, Passkeys: passkeys, Log: cfg.Log})
	if err != nil {
		return nil, err
	}

	s := &Server{Store: db, db: db, Keys: keys, Accounts: accounts, Provider: prov, Backend: b, Mail: deliverer, cfg: cfg}
	// Every route is mounted under its class (httpx.Class), which installs
	// that kind of route's defences.
	rs := httpx.NewRoutes(httpx.RoutesConfig{Issuer: cfg.Serve.Issuer})
	rs.Ops("GET /healthz", http.HandlerFunc(s.healthz))
	rs.Ops("GET /readyz", http.HandlerFunc(s.readyz))
	m.watchStore(db.WriteFailing)
	rs.Ops("GET /metrics", m.handler())
	prov.Mount(rs)
	users.Mount(rs)
	authClients.Mount(rs)
	tokens.Mount(rs)
	pages.Mount(rs)
	consoles.Mount(rs)
	if reg != nil {
		reg.Mount(rs)
	}
	s.routes = rs
	s.handler = httpx.Logging(cfg.Log, m.wrap(rs))
	return s, nil
}

// buildMail makes the composer of mailed links and the deliverer of the
// outbox: through --smtp-url, or to the log without it.
func buildMail(cfg Config, db *sqlstore.DB, secret string, observe func(string)) (*mail.Composer, *mail.Deliverer, error) {
	composer, err := mail.NewComposer(secret, cfg.Serve.Issuer)
	if err != nil {
		return nil, nil, err
	}
	var sender mail.Sender = mail.LogSender{Log: cfg.Log}
	if cfg.Serve.SMTPURL != "" {
		if sender, err = mail.NewSMTPSender(mail.SMTPConfig{URL: cfg.Serve.SMTPURL, TLS: cfg.MailTLS, HELO: composer.Host()}); err != nil {
			return nil, nil, err
		}
	}
	from := cfg.Serve.MailFrom
	if from == "" {
		from = mail.DefaultFrom(composer.Host())
	}
	d := mail.NewDeliverer(mail.DelivererConfig{Outbox: db, Composer: composer, Sender: sender, From: from, Now: cfg.Now, Log: cfg.Log,
		Observe: observe})
	return composer, d, nil
}

// MaxTokenTTL bounds every access and ID token's lifetime (the server
// default and any per-client lifetime are capped at 24h by validation), and
// so how long a retired signing key stays published. The server and
// `multinexo keys rotate` must agree on it.
const MaxTokenTTL = 24*time.Hour + 5*time.Minute

// Handler is the root HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// SQL is the SQL database under Store, for what lies beyond the store
// contract: readiness and the fault-injection tests' write connection.
func (s *Server) SQL() *sqlstore.DB { return s.db }

// Routes lists every mounted route and its class.
func (s *Server) Routes() []httpx.Route { return s.routes.List() }

// Close closes the store.
func (s *Server) Close() error { return s.Store.Close() }

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	// A database that does not answer is "unreachable". One that answers
	// but whose writes fail (disk full: a write failed since the last that
	// succeeded, and a probe write fails now) is "not_writable": a server
	// whose every write fails is not ready even if reads work.
	state := ""
	if err := s.Store.Ping(ctx); err != nil {
		state = "unreachable"
		s.cfg.Log.Error("readiness check failed", "database", state, "error", err.Error())
	} else if err := s.db.Ready(ctx); err != nil {
		state = "not_writable"
		s.cfg.Log.Error("readiness check failed", "database", state, "error", err.Error())
	}
	if state != "" {
		w.Header().Set("Retry-After", strconv.Itoa(int(store.UnavailableRetry/time.Second)))
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"status":"unavailable","database":"` + state + `"}` + "\n"))
		return
	}
	_, _ = w.Write([]byte(`{"status":"ok","database":"ok"}` + "\n"))
}

// RunJanitor deletes expired codes, sessions, counters and dead refresh
// tokens in bounded batches until ctx ends, so tables do not grow forever.
func (s *Server) RunJanitor(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			for range 20 { // at most 20 batches per tick
				n, err := s.Store.DeleteExpired(ctx, s.cfg.Now(), 500)
				if err != nil {
					if ctx.Err() == nil {
						s.cfg.Log.Error("janitor", "error", err.Error())
					}
					break
				}
				if n < 500 {
					break
				}
			}
		}
	}
}

// FirstRunHint logs how to create the first administrator when the database
// has no users yet.
func (s *Server) FirstRunHint(ctx context.Context) {
	n, err := s.Store.CountUsers(ctx)
	if err != nil || n > 0 {
		return
	}
	s.cfg.Log.Info("no users yet: create the first administrator with `multinexo users create --admin --email you@example.com --first-name Ana --last-name Pérez` (the password is read from standard input)")
}

var _ store.Store = (*sqlstore.DB)(nil)

// newPasskeys builds the passkey service for --passkeys: nil when off, or
// when auto and the issuer cannot be a WebAuthn relying party (logged
// with the reason); with on, such an issuer is an error that says why.
func newPasskeys(cfg Config, db *sqlstore.DB) (*passkey.Service, error) {
	mode := cfg.Serve.Passkeys
	if mode == "off" {
		return nil, nil
	}
	svc, err := passkey.New(passkey.Config{Issuer: cfg.Serve.Issuer, Store: db, Now: cfg.Now, Log: cfg.Log})
	if err == nil {
		return svc, nil
	}
	if mode == "on" {
		return nil, fmt.Errorf("llaves de acceso / passkeys: %w (o --passkeys off / or --passkeys off)", err)
	}
	cfg.Log.Warn("passkeys off: the issuer cannot be a WebAuthn relying party; set --issuer to the public https URL (or http://localhost:PORT) to offer them", "issuer", cfg.Serve.Issuer, "reason", err.Error())
	return nil, nil
}
