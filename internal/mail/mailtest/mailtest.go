// Package mailtest runs a real SMTP server in the test process
// (github.com/emersion/go-smtp) that records what it accepts and can be
// told to answer 4xx or 5xx, to require AUTH, to offer STARTTLS or to
// speak TLS from the first byte, and can be stopped and started again on
// the same address — a relay that goes away.
package mailtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"net/mail"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Mode is how the server answers a message.
type Mode int

const (
	Accept    Mode = iota
	Temporary      // 451 at DATA
	Permanent      // 550 at RCPT
)

// Message is one accepted message.
type Message struct {
	From, To string
	Raw      string
	Header   mail.Header
	// TLS: the connection was encrypted; User: who authenticated ("" none).
	TLS  bool
	User string
}

// Options configure Start.
type Options struct {
	// TLS: "" plain, "starttls" offer STARTTLS, "implicit" TLS from the
	// first byte.
	TLS string
	// User, Password: require AUTH (PLAIN or LOGIN) with these.
	User, Password string
	// Mechanisms offered for AUTH (default PLAIN and LOGIN).
	Mechanisms []string
}

// Server is a running test relay.
type Server struct {
	t    testing.TB
	opts Options
	cert tls.Certificate
	// ClientTLS trusts the server's certificate.
	ClientTLS *tls.Config
	Addr      string

	mu       sync.Mutex
	mode     Mode
	messages []Message
	srv      *smtp.Server
	ln       net.Listener
	attempts int
}

// Start runs a server on 127.0.0.1 and stops it when the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	s := &Server{t: t, opts: opts}
	s.cert, s.ClientTLS = selfSigned(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = ln.Addr().String()
	s.serve(ln)
	t.Cleanup(s.Stop)
	return s
}

// URL is the --smtp-url of the server, with credentials when it needs them.
func (s *Server) URL() string {
	scheme := "smtp"
	if s.opts.TLS == "implicit" {
		scheme = "smtps"
	}
	u := &url.URL{Scheme: scheme, Host: s.Addr}
	if s.opts.User != "" {
		u.User = url.UserPassword(s.opts.User, s.opts.Password)
	}
	return u.String()
}

func (s *Server) serve(ln net.Listener) {
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		_, isTLS := c.TLSConnectionState()
		return &session{s: s, tls: isTLS}, nil
	}))
	srv.Domain = "mailtest.localhost"
	srv.ReadTimeout, srv.WriteTimeout = 30*time.Second, 30*time.Second
	srv.AllowInsecureAuth = s.opts.TLS == ""
	if s.opts.TLS != "" {
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{s.cert}}
	}
	if s.opts.TLS == "implicit" {
		ln = tls.NewListener(ln, srv.TLSConfig)
	}
	s.mu.Lock()
	s.srv, s.ln = srv, ln
	s.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

// SetMode changes how the next messages are answered.
func (s *Server) SetMode(m Mode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mode = m
}

// Stop closes the listener and every connection: the relay is gone.
func (s *Server) Stop() {
	s.mu.Lock()
	srv, ln := s.srv, s.ln
	s.srv, s.ln = nil, nil
	s.mu.Unlock()
	if ln != nil {
		// Closed here too: Serve may not have registered it yet.
		_ = ln.Close()
	}
	if srv != nil {
		_ = srv.Close()
	}
}

// Restart listens again on the same address.
func (s *Server) Restart() {
	s.t.Helper()
	var ln net.Listener
	var err error
	for range 50 { // the port was just released; a bounded retry
		if ln, err = net.Listen("tcp", s.Addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		s.t.Fatalf("mailtest: listen again on %s: %v", s.Addr, err)
	}
	s.serve(ln)
}

// Messages returns what was accepted so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Attempts counts the DATA commands seen (accepted or refused).
func (s *Server) Attempts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts
}

// WaitFor polls until n messages arrived (bounded) and returns them.
func (s *Server) WaitFor(n int) []Message {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m := s.Messages(); len(m) >= n || time.Now().After(deadline) {
			if len(m) < n {
				s.t.Fatalf("mailtest: %d messages arrived, want %d", len(m), n)
			}
			return m
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type session struct {
	s        *Server
	tls      bool
	user     string
	from, to string
}

func (ss *session) AuthMechanisms() []string {
	if ss.s.opts.User == "" {
		return nil
	}
	if len(ss.s.opts.Mechanisms) > 0 {
		return ss.s.opts.Mechanisms
	}
	return []string{sasl.Plain, sasl.Login}
}

func (ss *session) check(user, pass string) error {
	if user != ss.s.opts.User || pass != ss.s.opts.Password {
		return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "bad credentials"}
	}
	ss.user = user
	return nil
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(_, user, pass string) error { return ss.check(user, pass) }), nil
	case sasl.Login:
		return &loginServer{check: ss.check}, nil
	}
	return nil, errors.New("mechanism not offered")
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.s.opts.User != "" && ss.user == "" {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.s.mu.Lock()
	mode := ss.s.mode
	ss.s.mu.Unlock()
	if mode == Permanent {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such mailbox here"}
	}
	ss.to = to
	return nil
}

func (ss *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	ss.s.attempts++
	if ss.s.mode == Temporary {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	m := Message{From: ss.from, To: ss.to, Raw: string(b), TLS: ss.tls, User: ss.user}
	if pm, err := mail.ReadMessage(strings.NewReader(m.Raw)); err == nil {
		m.Header = pm.Header
	}
	ss.s.messages = append(ss.s.messages, m)
	return nil
}

func (ss *session) Reset()        { ss.from, ss.to = "", "" }
func (ss *session) Logout() error { return nil }

// loginServer is the LOGIN mechanism (draft-murchison-sasl-login): the
// user name, then the password, each after a prompt.
type loginServer struct {
	check func(user, pass string) error
	user  string
	step  int
}

func (l *loginServer) Next(resp []byte) ([]byte, bool, error) {
	switch {
	case l.step == 0 && resp == nil:
		l.step = 1
		return []byte("Username:"), false, nil
	case l.step <= 1:
		l.user, l.step = string(resp), 2
		return []byte("Password:"), false, nil
	}
	return nil, true, l.check(l.user, string(resp))
}

// selfSigned makes a certificate for 127.0.0.1 and a client configuration
// that trusts it.
func selfSigned(t testing.TB) (tls.Certificate, *tls.Config) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf},
		&tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
}
