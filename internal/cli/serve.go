package cli

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/pprof"
	"os/signal"
	"syscall"
	"time"

	"github.com/multinexo/auth/internal/config"
	"github.com/multinexo/auth/internal/httpx"
	"github.com/multinexo/auth/internal/server"
)

// knownEnv lists the variables the flags read; anything else MULTINEXO_* is
// reported so a typo does not pass silently.
var knownEnv = []string{
	"MULTINEXO_DB", "MULTINEXO_SECRET", "MULTINEXO_LOG_LEVEL", "MULTINEXO_ADDR", "MULTINEXO_ISSUER",
	"MULTINEXO_ACCESS_TTL", "MULTINEXO_REFRESH_GRACE", "MULTINEXO_ACCESS_ALG", "MULTINEXO_ID_ALG",
	"MULTINEXO_SHUTDOWN_WAIT", "MULTINEXO_DEBUG_ADDR", "MULTINEXO_SMTP_URL", "MULTINEXO_MAIL_FROM",
	"MULTINEXO_REQUIRE_VERIFIED_EMAIL",
}

// ServeCmd runs the server.
type ServeCmd struct {
	config.Serve
}

// Run migrates, builds the server, listens, and on SIGTERM or SIGINT stops
// accepting, lets in-flight requests finish, then closes the store.
func (c *ServeCmd) Run(g *config.Global, env *Env) error {
	if err := c.Serve.Validate(); err != nil {
		return usage(err)
	}
	if _, err := config.ParseDB(g.DB); err != nil {
		return usage(err)
	}
	log := newLogger(g, env.Stderr)
	for _, name := range config.UnknownEnv(env.Environ, knownEnv) {
		log.Warn("unknown environment variable ignored; check its spelling", "name", name)
	}
	ctx, stop := signal.NotifyContext(env.Ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	// Listen first: the issuer is derived from the address actually served
	// (with --addr 127.0.0.1:0 the kernel chooses the port). Connections wait
	// in the backlog until the server is built.
	addr := c.Addr
	if addr == "" {
		addr = config.DefaultAddr
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	cfg := c.Serve
	issuerFrom := ""
	cfg.Issuer, issuerFrom = config.ResolveIssuer(c.Issuer, c.Addr, ln.Addr().String())

	srv, err := server.New(ctx, server.Config{Global: *g, Serve: cfg, Log: log})
	if err != nil {
		return err
	}
	defer srv.Close()
	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	if c.DebugAddr != "" {
		dln, err := net.Listen("tcp", c.DebugAddr)
		if err != nil {
			return err
		}
		ds := &http.Server{Handler: debugHandler(), ReadHeaderTimeout: 10 * time.Second}
		defer ds.Close()
		log.Info("profiles served (pprof)", "addr", dln.Addr().String())
		go func() {
			if err := ds.Serve(dln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("debug listener stopped", "err", err)
			}
		}()
	}
	if w := config.IssuerWarning(cfg.Issuer, ln.Addr().String()); w != "" {
		log.Warn("issuer unreachable at the address served", "issuer", cfg.Issuer, "addr", ln.Addr().String(), "reason", w)
	}
	log.Info("multinexo listening", "addr", ln.Addr().String(), "issuer", cfg.Issuer, "issuer_from", issuerFrom, "database", srv.Backend.Kind, "db", config.Redact(g.DB))
	srv.FirstRunHint(ctx)
	if cfg.SMTPURL == "" {
		log.Warn("no --smtp-url: every message (with its link) is written to this log instead of mailed; fine for development, set a relay in production")
	}

	janitorCtx, stopJanitor := context.WithCancel(ctx)
	defer stopJanitor()
	go srv.RunJanitor(janitorCtx, time.Minute)
	// Every instance delivers the outbox; claims keep them apart.
	go srv.Mail.Run(janitorCtx)

	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests", "wait", c.ShutdownWait.String())
	sctx, cancel := context.WithTimeout(context.Background(), c.ShutdownWait)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}

// debugHandler serves the Go runtime profiles under /debug/pprof/ on the
// operator's loopback debug listener, never on the public one.
func debugHandler() http.Handler {
	rs := httpx.NewRoutes(httpx.RoutesConfig{})
	rs.Ops("/debug/pprof/", http.HandlerFunc(pprof.Index))
	rs.Ops("/debug/pprof/cmdline", http.HandlerFunc(pprof.Cmdline))
	rs.Ops("/debug/pprof/profile", http.HandlerFunc(pprof.Profile))
	rs.Ops("/debug/pprof/symbol", http.HandlerFunc(pprof.Symbol))
	rs.Ops("/debug/pprof/trace", http.HandlerFunc(pprof.Trace))
	return rs
}

// MigrateCmd runs migrations only.
type MigrateCmd struct{}

func (MigrateCmd) Run(g *config.Global, env *Env) error {
	db, _, err := server.OpenStore(env.Ctx, *g)
	if err != nil {
		return usageIfConfig(err, g)
	}
	defer db.Close()
	if err := db.Migrate(env.Ctx); err != nil {
		return err
	}
	_, err = env.Stdout.Write([]byte("migraciones aplicadas / migrations applied\n"))
	return err
}

// usageIfConfig turns a bad --db value into a usage error (exit 2).
func usageIfConfig(err error, g *config.Global) error {
	if _, perr := config.ParseDB(g.DB); perr != nil {
		return usage(perr)
	}
	return err
}
