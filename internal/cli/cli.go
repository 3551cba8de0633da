// Package cli is the `multinexo` command line: kong parses flags and
// MULTINEXO_* variables into config, and each command is a small Run method.
// Main returns the exit status so the whole CLI can be tested in process.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/alecthomas/kong"

	"github.com/multinexo/auth/internal/config"
)

// Version is set at build time with -ldflags "-X github.com/multinexo/auth/internal/cli.Version=…".
var Version = "dev"

// Env is what a command sees of the outside world.
type Env struct {
	Ctx    context.Context
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Environ is checked for MULTINEXO_* variables that no flag reads (kong
	// itself reads flags' variables from the process environment).
	Environ []string
}

// CLI is the whole command tree.
type CLI struct {
	config.Global

	Serve   ServeCmd   `cmd:"" help:"Ejecuta el servidor (migra primero) / Runs the server (migrates first)."`
	Migrate MigrateCmd `cmd:"" help:"Solo aplica las migraciones / Runs migrations only."`
	Clients ClientsCmd `cmd:"" help:"Aplicaciones OAuth / OAuth applications."`
	Users   UsersCmd   `cmd:"" help:"Usuarios / Users."`
	Keys    KeysCmd    `cmd:"" help:"Claves de firma / Signing keys."`
	Bench   BenchCmd   `cmd:"" help:"Prueba de carga contra un servidor en marcha / Load-tests a running server."`
	Version VersionCmd `cmd:"" help:"Muestra la versión / Prints the version."`
}

// exitError carries an exit status through kong.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// Main runs the command line with args (without the program name) and
// returns the exit status: 0 on success, 2 for usage errors (unknown flags,
// bad values), 1 when the command fails.
func Main(args []string, env Env) (status int) {
	if env.Ctx == nil {
		env.Ctx = context.Background()
	}
	var c CLI
	parser, err := kong.New(&c,
		kong.Name("multinexo"),
		kong.Description("Multinexo Auth: servidor de autorización OAuth 2.0 y OpenID Connect / OAuth 2.0 and OpenID Connect authorization server."),
		kong.Writers(env.Stdout, env.Stderr),
		kong.Exit(func(code int) { panic(exitError{code}) }),
		kong.UsageOnError(),
		kong.Bind(&env),
	)
	if err != nil {
		fmt.Fprintf(env.Stderr, "multinexo: %v\n", err)
		return 1
	}
	defer func() {
		if p := recover(); p != nil {
			if e, ok := p.(exitError); ok {
				status = e.code
				return
			}
			panic(p)
		}
	}()
	kctx, err := parser.Parse(args)
	if err != nil {
		fmt.Fprintf(env.Stderr, "multinexo: %s\n", oneLine(err.Error()))
		return 2
	}
	if err := kctx.Run(&c.Global, &env); err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(env.Stderr, "multinexo: %s\n", oneLine(err.Error()))
			return 2
		}
		fmt.Fprintf(env.Stderr, "multinexo: %s\n", oneLine(err.Error()))
		return 1
	}
	return 0
}

// usageError marks a bad flag value found after parsing: exit status 2.
type usageError struct{ error }

func usage(err error) error { return usageError{err} }

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func newLogger(g *config.Global, w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(g.LogLevel))
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: lvl}))
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// VersionCmd prints the version.
type VersionCmd struct{}

func (VersionCmd) Run(env *Env) error {
	fmt.Fprintf(env.Stdout, "multinexo %s\n", Version)
	return nil
}
