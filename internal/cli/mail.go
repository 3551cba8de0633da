package cli

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/multinexo/auth/internal/account"
	"github.com/multinexo/auth/internal/config"
	"github.com/multinexo/auth/internal/mail"
	"github.com/multinexo/auth/internal/server"
	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/store/sqlstore"
)

// MailCmd groups the outbox commands.
type MailCmd struct {
	List MailListCmd `cmd:"" help:"Lista los mensajes salientes y su estado (nunca su contenido ni sus enlaces) / Lists outgoing messages and their state (never their content or links)."`
}

// MailListCmd prints the outbox as JSON, newest first.
type MailListCmd struct {
	State string `help:"Solo los mensajes en este estado / only messages in this state." enum:",queued,sending,retrying,sent,failed" default:""`
	Limit int    `help:"Cuántos mensajes como máximo / at most this many messages." default:"100"`
}

type mailJSON struct {
	ID            string     `json:"id"`
	Kind          string     `json:"kind"`
	To            string     `json:"to"`
	Subject       string     `json:"subject"`
	State         string     `json:"state"`
	Attempts      int        `json:"attempts"`
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty"`
	LastError     string     `json:"last_error,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	SentAt        *time.Time `json:"sent_at,omitempty"`
}

func toMailJSON(m *store.OutboxMessage) mailJSON {
	j := mailJSON{ID: m.ID, Kind: m.Kind, To: m.Recipient, Subject: m.Subject, State: m.State, Attempts: m.Attempts,
		LastError: m.LastError, CreatedAt: m.CreatedAt}
	if m.State == store.MailQueued || m.State == store.MailRetrying {
		j.NextAttemptAt = &m.NextAttemptAt
	}
	if !m.SentAt.IsZero() {
		j.SentAt = &m.SentAt
	}
	return j
}

func (c *MailListCmd) Run(g *config.Global, env *Env) error {
	db, _, err := open(g, env)
	if err != nil {
		return err
	}
	defer db.Close()
	opt := store.ListOptions{Sort: "-created_at"}
	if c.State != "" {
		opt.Filters = []store.Filter{{Field: "state", Op: "eq", Value: c.State}}
	}
	out := []mailJSON{}
	for page := 1; len(out) < c.Limit; page++ {
		opt.Page = store.Page{Number: page, Size: 100}
		ms, _, err := db.ListMail(env.Ctx, opt)
		if err != nil {
			return err
		}
		for _, m := range ms {
			if len(out) < c.Limit {
				out = append(out, toMailJSON(m))
			}
		}
		if len(ms) < 100 {
			break
		}
	}
	return printJSON(env.Stdout, out)
}

// UsersSendResetCmd mails a password-reset link to a user, for support:
// the message goes into the outbox, and the running server delivers it.
type UsersSendResetCmd struct {
	Email  string `arg:"" help:"Email del usuario / the user's email."`
	Issuer string `help:"URL pública del servidor, a la que apunta el enlace / the server's public URL, which the link points to." default:"http://localhost:8080" env:"MULTINEXO_ISSUER"`
}

func (c *UsersSendResetCmd) Run(g *config.Global, env *Env) error {
	if err := config.ValidateIssuer(c.Issuer); err != nil {
		return usage(err)
	}
	db, b, err := open(g, env)
	if err != nil {
		return err
	}
	defer db.Close()
	svc, err := mailingService(g, b, db, c.Issuer)
	if err != nil {
		return err
	}
	err = svc.SendReset(env.Ctx, c.Email)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("no hay una cuenta activa con el email %q / no enabled account has that email", c.Email)
	case err != nil:
		var ve *account.ValidationError
		if errors.As(err, &ve) {
			return usage(fmt.Errorf("%s: %s", ve.Field, ve.Detail))
		}
		return err
	}
	fmt.Fprintf(env.Stdout, "enlace para elegir contraseña puesto en la cola para %s; vale 30 minutos (multinexo mail list muestra su estado) / reset link queued; valid 30 minutes\n", c.Email)
	return nil
}

// mailingService is the account service of an operator command that
// queues mail: the server's secret seals the messages, which the running
// server delivers; issuer is where links point.
func mailingService(g *config.Global, b config.Backend, db *sqlstore.DB, issuer string) (*account.Service, error) {
	secret, err := server.LoadSecret(*g, b, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}
	composer, err := mail.NewComposer(secret, issuer)
	if err != nil {
		return nil, usage(err)
	}
	return account.NewService(db, account.Config{Secret: secret, Mail: composer}), nil
}
