package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"net/url"
	"strconv"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Outgoing is one message as handed to a Sender.
type Outgoing struct {
	From, To, Subject string
	MessageID         string // without angle brackets
	Lang              string
	Date              time.Time
	Content
}

// Sender delivers one message. An error wrapped in *PermanentError means
// the relay refused the message for good (5xx); any other error is
// passing (the relay is down, answered 4xx, or the connection broke).
type Sender interface {
	Send(ctx context.Context, m *Outgoing) error
}

// PermanentError is a refusal that no retry will change.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Build makes the MIME message: multipart/alternative text and HTML,
// Message-ID, Date, Auto-Submitted: auto-generated (RFC 3834, so
// responders do not answer it) and no tracking of any kind.
func Build(m *Outgoing) (*gomail.Msg, error) {
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	if err := msg.From(m.From); err != nil {
		return nil, fmt.Errorf("mail: sender %q: %w", m.From, err)
	}
	if err := msg.To(m.To); err != nil {
		return nil, &PermanentError{fmt.Errorf("mail: recipient %q: %w", m.To, err)}
	}
	msg.Subject(m.Subject)
	msg.SetMessageIDWithValue(m.MessageID)
	msg.SetDateWithValue(m.Date)
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	msg.SetGenHeader(gomail.HeaderContentLang, m.Lang)
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	return msg, nil
}

// SMTPSender sends through a relay named by a URL: smtp://[user:pass@]host:port
// (STARTTLS when the relay offers it) or smtps://… (TLS from the first
// byte); with a user, AUTH PLAIN or LOGIN as the relay offers.
type SMTPSender struct {
	client *gomail.Client
}

// SMTPConfig configures NewSMTPSender.
type SMTPConfig struct {
	URL string
	// TLS, when set, replaces the default TLS configuration (tests trust
	// their own certificate with it).
	TLS     *tls.Config
	Timeout time.Duration // per connection; default 30 s
	// HELO is the name given to the relay (default the issuer's host).
	HELO string
}

// NewSMTPSender parses the relay URL.
func NewSMTPSender(cfg SMTPConfig) (*SMTPSender, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Hostname() == "" || (u.Scheme != "smtp" && u.Scheme != "smtps") {
		return nil, errors.New("--smtp-url: usa smtp://[usuario:clave@]host:puerto o smtps://… / use smtp://[user:pass@]host:port or smtps://…")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	opts := []gomail.Option{gomail.WithTimeout(cfg.Timeout)}
	port := 587
	if u.Scheme == "smtps" {
		port = 465
		opts = append(opts, gomail.WithSSL())
	} else {
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	}
	if p := u.Port(); p != "" {
		if port, err = strconv.Atoi(p); err != nil {
			return nil, fmt.Errorf("--smtp-url: puerto %q no válido / invalid port", p)
		}
	}
	opts = append(opts, gomail.WithPort(port))
	tc := cfg.TLS
	if tc == nil {
		tc = &tls.Config{ServerName: u.Hostname(), MinVersion: tls.VersionTLS12}
	}
	opts = append(opts, gomail.WithTLSConfig(tc))
	if cfg.HELO != "" {
		opts = append(opts, gomail.WithHELO(cfg.HELO))
	}
	if u.User != nil {
		pass, _ := u.User.Password()
		// PLAIN or LOGIN, whichever the relay offers (only over TLS:
		// go-mail refuses either in clear unless the relay is local).
		opts = append(opts, gomail.WithOpportunisticSMTPAuth(gomail.SMTPAuthPlain, gomail.SMTPAuthLogin),
			gomail.WithUsername(u.User.Username()), gomail.WithPassword(pass))
	}
	c, err := gomail.NewClient(u.Hostname(), opts...)
	if err != nil {
		return nil, fmt.Errorf("--smtp-url: %w", err)
	}
	return &SMTPSender{client: c}, nil
}

// Send sends m in its own connection.
func (s *SMTPSender) Send(ctx context.Context, m *Outgoing) error {
	msg, err := Build(m)
	if err != nil {
		return err
	}
	err = s.client.DialAndSendWithContext(ctx, msg)
	var se *gomail.SendError
	if errors.As(err, &se) && !se.IsTemp() && se.ErrorCode() >= 500 {
		return &PermanentError{err}
	}
	return err
}

// LogSender writes each message to the log instead of sending it: the
// development default, so a developer can follow the link. It is the one
// place a link (a bearer secret) is logged.
type LogSender struct{ Log *slog.Logger }

// Send logs m: msg "mail" with to, subject and link.
func (s LogSender) Send(ctx context.Context, m *Outgoing) error {
	s.Log.InfoContext(ctx, "mail", "to", m.To, "subject", m.Subject, "link", m.Link, "message_id", m.MessageID)
	return nil
}

// DefaultFrom is the sender used without --mail-from.
func DefaultFrom(host string) string {
	return (&mail.Address{Name: "Multinexo", Address: "no-reply@" + host}).String()
}
