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
	"runtime/debug"
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

	Serve              ServeCmd              `cmd:"" help:"Ejecuta el servidor (migra primero) / Runs the server (migrates first)."`
	Migrate            MigrateCmd            `cmd:"" help:"Solo aplica las migraciones / Runs migrations only."`
	Clients            ClientsCmd            `cmd:"" help:"Aplicaciones OAuth / OAuth applications."`
	Users              UsersCmd              `cmd:"" help:"Usuarios / Users."`
	Mail               MailCmd               `cmd:"" help:"Correo saliente / Outgoing mail."`
	Keys               KeysCmd               `cmd:"" help:"Claves de firma / Signing keys."`
	Resources          ResourcesCmd          `cmd:"" help:"Recursos protegidos (APIs, servidores MCP) / Protected resources (APIs, MCP servers)."`
	RegistrationTokens RegistrationTokensCmd `cmd:"" name:"registration-tokens" help:"Tokens de acceso inicial para el registro dinámico / initial access tokens for dynamic registration."`
	Bench              BenchCmd              `cmd:"" help:"Prueba de carga contra un servidor en marcha / Load-tests a running server."`
	Version            VersionCmd            `cmd:"" help:"Muestra la versión / Prints the version."`
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
	parser, err := newParser(&c, &env)
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

// newParser builds the kong parser of the command tree c.
func newParser(c *CLI, env *Env) (*kong.Kong, error) {
	parser, err := kong.New(c,
		kong.Name("multinexo"),
		kong.Description("Multinexo Auth: servidor de autorización OAuth 2.0 y OpenID Connect / OAuth 2.0 and OpenID Connect authorization server."),
		kong.Writers(env.Stdout, env.Stderr),
		kong.Exit(func(code int) { panic(exitError{code}) }),
		kong.UsageOnError(),
		kong.Help(helpPrinter),
		kong.Bind(env),
	)
	if err != nil {
		return nil, err
	}
	parser.Model.HelpFlag.Help = "Muestra esta ayuda / Shows this help."
	return parser, nil
}

// helpPrinter is kong's, except that a command's help leaves out the global
// flags (--db, --secret, --log-level), which `multinexo --help` lists, and
// says so in one line instead of repeating them under every command.
func helpPrinter(options kong.HelpOptions, ctx *kong.Context) error {
	if ctx.Selected() == nil {
		return kong.DefaultHelpPrinter(options, ctx)
	}
	var hidden []*kong.Flag
	for _, f := range ctx.Model.Node.Flags {
		if !f.Hidden && f.Name != "help" {
			f.Hidden = true
			hidden = append(hidden, f)
		}
	}
	err := kong.DefaultHelpPrinter(options, ctx)
	for _, f := range hidden {
		f.Hidden = false
	}
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(ctx.Stdout, "\nOpciones globales (--db, --secret, --log-level): multinexo --help / Global flags: multinexo --help")
	return err
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

// Run prints the module version and the VCS revision the binary was built
// from, as the Go toolchain recorded them (runtime/debug build info).
func (VersionCmd) Run(env *Env) error {
	bi, _ := debug.ReadBuildInfo()
	_, err := fmt.Fprintln(env.Stdout, versionLine(Version, bi))
	return err
}

// versionLine is "multinexo VERSION (revision REV, TIME[, modified]) GOVERSION".
// A version set at link time wins over the module's; "(devel)" is what the
// toolchain records for a build from a work tree without a version tag.
func versionLine(linked string, bi *debug.BuildInfo) string {
	v := linked
	var rev, at, goVersion string
	modified := false
	if bi != nil {
		if v == "dev" && bi.Main.Version != "" {
			v = bi.Main.Version
		}
		goVersion = bi.GoVersion
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				at = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	var b strings.Builder
	b.WriteString("multinexo " + v)
	if rev != "" {
		b.WriteString(" (revisión / revision " + rev)
		if at != "" {
			b.WriteString(", " + at)
		}
		if modified {
			b.WriteString(", con cambios sin confirmar / modified")
		}
		b.WriteString(")")
	}
	if goVersion != "" {
		b.WriteString(" " + goVersion)
	}
	return b.String()
}
