package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/multinexo/auth/internal/account"
	"github.com/multinexo/auth/internal/bench"
	"github.com/multinexo/auth/internal/clients"
	"github.com/multinexo/auth/internal/config"
	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/store/sqlstore"
)

// benchRedirectURI is registered on the client the bench creates: a loopback
// URI, which matches on any port (RFC 8252), never fetched by the bench.
const benchRedirectURI = "http://127.0.0.1/bench-callback"

// benchResource is the protected resource the bench registers for
// client-credentials-resource when it creates its own client.
const benchResource = "https://bench.multinexo.invalid/api"

// BenchCmd load-tests a running server.
type BenchCmd struct {
	Target           string        `default:"http://127.0.0.1:8080" help:"URL del servidor / server URL (loopback by default)."`
	Scenario         []string      `help:"Escenario, repetible / scenario, repeatable: client-credentials, client-credentials-resource, password, refresh, introspect, userinfo, users-me, authorization-code, password-flood (default: all but password-flood)."`
	Duration         time.Duration `default:"10s" help:"Duración de cada escenario / per scenario."`
	Warmup           time.Duration `default:"1s" help:"Carga previa no medida / unmeasured warm-up per scenario."`
	Concurrency      int           `default:"64" help:"Conexiones concurrentes (bucle cerrado) / concurrent connections (closed loop)."`
	Rate             float64       `help:"Peticiones por segundo (bucle abierto; --concurrency acota las que están en curso) / requests per second (open loop)."`
	MaxRequests      int64         `name:"max-requests" default:"5000000" help:"Tope de peticiones por escenario / hard cap per scenario."`
	FloodConcurrency int           `name:"flood-concurrency" default:"500" help:"Conexiones del escenario password-flood / connections of the password-flood scenario."`
	JSON             bool          `name:"json" help:"Resultados en JSON / machine-readable results."`
	ClientID         string        `name:"client-id" help:"Cliente confidencial existente (con client_credentials, password, refresh_token y, para authorization-code, --redirect-uri). Sin él se crea uno en --db y se borra al final / an existing confidential client; without it one is created in --db and deleted at the end."`
	ClientSecret     string        `name:"client-secret" env:"MULTINEXO_BENCH_CLIENT_SECRET" help:"El secreto de cliente de --client-id / the client secret of --client-id."`
	RedirectURI      string        `name:"redirect-uri" help:"URI de redirección registrada del cliente (authorization-code) / the client's registered redirect URI."`
	Resource         string        `name:"resource" help:"Recurso protegido registrado para client-credentials-resource; sin él, con --db, se registra uno y se borra al final / a registered protected resource for client-credentials-resource; without it, with --db, one is registered and deleted at the end."`
	Username         string        `help:"Usuario existente; sin él se registra uno (POST /v1/users) / an existing user; without it one is registered."`
	Password         string        `env:"MULTINEXO_BENCH_PASSWORD" help:"Su contraseña / its password."`
	Scope            string        `default:"openid profile email" help:"Alcance de los tokens de usuario / scope of the user tokens (with openid each token response carries an ID token)."`
	IDTokenAlg       string        `name:"id-token-alg" help:"Algoritmo de los ID tokens del cliente que crea el bench (id_token_signed_response_alg): RS256 o ES256; vacío = el del servidor (RS256 salvo --id-alg) / ID-token algorithm of the bench's client; an RS256 signature costs 570 µs of CPU, ES256 21 µs (BenchmarkMintID)."`
	ServerPID        int           `name:"server-pid" help:"PID del servidor, para medir su memoria residente (Linux) / the server's PID, to measure its resident memory."`
}

func (c *BenchCmd) Run(g *config.Global, env *Env) error {
	if c.Concurrency <= 0 || c.Duration <= 0 || c.Rate < 0 || c.MaxRequests <= 0 {
		return usage(errors.New("--concurrency, --duration and --max-requests must be positive, --rate not negative"))
	}
	if (c.ClientID == "") != (c.ClientSecret == "") {
		return usage(errors.New("--client-id and --client-secret go together"))
	}
	if (c.Username == "") != (c.Password == "") {
		return usage(errors.New("--username and --password go together"))
	}
	if c.IDTokenAlg != "" && c.ClientID != "" {
		return usage(errors.New("--id-token-alg applies to the client the bench creates; an existing client (--client-id) keeps its own"))
	}
	ctx, stop := signal.NotifyContext(env.Ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	cfg := bench.Config{
		Target: c.Target, Scenarios: c.Scenario, Duration: c.Duration, Warmup: c.Warmup,
		Concurrency: c.Concurrency, Rate: c.Rate, MaxRequests: c.MaxRequests, FloodConcurrency: c.FloodConcurrency,
		ClientID: c.ClientID, ClientSecret: c.ClientSecret, RedirectURI: c.RedirectURI, Resource: c.Resource,
		Username: c.Username, Password: c.Password, Scope: c.Scope, ServerPID: c.ServerPID,
		Progress: env.Stderr, ProgressTTY: isTerminal(env.Stderr),
	}
	var db *sqlstore.DB
	var created string // email of the user the bench registered
	cfg.OnUser = func(email string) { created = email }
	if c.ClientID == "" {
		// Create the client the way `multinexo clients create` does, in the
		// server's database, and delete it (with all it was issued) at the end.
		if err := requireDatabase(g, "o se pasan --client-id y --client-secret", "or pass --client-id/--client-secret"); err != nil {
			return err
		}
		var err error
		if db, _, err = open(g, env); err != nil {
			return err
		}
		defer db.Close()
		cl, secret, err := clients.Create(ctx, db, clients.CreateInput{
			Name: "multinexo bench", Type: store.ClientConfidential,
			Grants:       []string{store.GrantClientCredentials, store.GrantPassword, store.GrantRefreshToken, store.GrantAuthorizationCode},
			RedirectURIs: []string{benchRedirectURI}, IDTokenAlg: c.IDTokenAlg,
		}, time.Now())
		var ie *clients.InputError
		if errors.As(err, &ie) {
			return usage(fmt.Errorf("--id-token-alg: %s", ie.Message))
		}
		if err != nil {
			return err
		}
		defer func() {
			if err := db.DeleteClient(context.WithoutCancel(ctx), cl.ID); err != nil {
				fmt.Fprintf(env.Stderr, "multinexo: deleting the bench client %s: %v\n", cl.ID, err)
			}
		}()
		cfg.ClientID, cfg.ClientSecret, cfg.RedirectURI = cl.ID, secret, benchRedirectURI
		if cfg.Resource == "" {
			if err := db.CreateResource(ctx, &store.Resource{URI: benchResource, Name: "multinexo bench", CreatedAt: time.Now()}); err != nil && !errors.Is(err, store.ErrConflict) {
				return err
			}
			defer func() { _ = db.DeleteResource(context.WithoutCancel(ctx), benchResource) }()
			cfg.Resource = benchResource
		}
		svc := account.NewService(db, account.Config{})
		cfg.CreateUser = func(ctx context.Context, email, password string) error {
			_, err := svc.Register(ctx, account.RegisterInput{Email: email, Password: password, FirstName: "Bench", LastName: "Multinexo"})
			return err
		}
	}
	results, err := bench.Run(ctx, cfg)
	if db != nil && created != "" {
		// The registered user goes too (its grants went with the client).
		_, key, _ := account.NormalizeEmail(created)
		if u, err := db.GetUserByEmailKey(context.WithoutCancel(ctx), key); err == nil {
			if err := db.DeleteUser(context.WithoutCancel(ctx), u.ID); err != nil {
				fmt.Fprintf(env.Stderr, "multinexo: deleting the bench user %s: %v\n", created, err)
			}
		}
	}
	var werr error
	if c.JSON {
		werr = bench.WriteJSON(env.Stdout, results)
	} else {
		werr = bench.WriteTable(env.Stdout, results)
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return werr
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
