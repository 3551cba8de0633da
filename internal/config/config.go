// Package config is the one configuration of Multinexo Auth: every flag of
// every command, each also read from a MULTINEXO_* environment variable, with
// validation that turns a bad value into a one-line error.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"path/filepath"
	"strings"
	"time"
)

// Global holds the flags every command shares.
type Global struct {
	DB       string `help:"Base de datos: sqlite:RUTA o postgres://… / Database: sqlite:PATH or postgres://…" default:"sqlite:multinexo.db" env:"MULTINEXO_DB"`
	Secret   string `help:"Secreto que cifra las claves de firma (obligatorio con PostgreSQL; con SQLite se genera uno junto a la base) / secret that encrypts the signing keys (required with PostgreSQL; with SQLite one is generated beside the database)." env:"MULTINEXO_SECRET"`
	LogLevel string `help:"Nivel de log: debug, info, warn, error / log level." default:"info" enum:"debug,info,warn,error" env:"MULTINEXO_LOG_LEVEL"`
}

// Serve holds the flags of `multinexo serve`.
type Serve struct {
	Addr                 string        `help:"Dirección HTTP (por defecto 127.0.0.1:8080) / listen address (default 127.0.0.1:8080)." env:"MULTINEXO_ADDR"`
	Issuer               string        `help:"Emisor: la URL pública, sin barra final; por defecto http:// + --addr (http://localhost:8080 sin --addr) / issuer: the public URL, no trailing slash; default http:// + --addr (http://localhost:8080 without --addr)." env:"MULTINEXO_ISSUER"`
	AccessTTL            time.Duration `help:"Vida del access token / access-token lifetime." default:"900s" env:"MULTINEXO_ACCESS_TTL"`
	RefreshGrace         time.Duration `help:"Ventana de gracia para reintentar un refresh ya rotado (0 = desactivada) / refresh-token reuse grace window." default:"0s" env:"MULTINEXO_REFRESH_GRACE"`
	AccessAlg            string        `help:"Algoritmo de firma de los access tokens / access-token signing algorithm." default:"ES256" enum:"ES256,RS256,EdDSA" env:"MULTINEXO_ACCESS_ALG"`
	IDAlg                string        `help:"Algoritmo de firma de los ID tokens / ID-token signing algorithm." default:"RS256" enum:"ES256,RS256,EdDSA" env:"MULTINEXO_ID_ALG"`
	ShutdownWait         time.Duration `help:"Espera máxima para terminar peticiones en curso al apagar / longest wait for in-flight requests at shutdown." default:"20s" env:"MULTINEXO_SHUTDOWN_WAIT"`
	SMTPURL              string        `name:"smtp-url" help:"Relé SMTP: smtp://[usuario:clave@]host:puerto (STARTTLS si lo ofrece) o smtps://… (TLS desde el inicio); vacío = los mensajes van al log / SMTP relay: smtp://[user:pass@]host:port (STARTTLS when offered) or smtps://… (implicit TLS); empty: messages are written to the log." env:"MULTINEXO_SMTP_URL"`
	MailFrom             string        `help:"Remitente de los mensajes; por defecto Multinexo <no-reply@HOST del emisor> / sender of the messages; default Multinexo <no-reply@the issuer's host>." env:"MULTINEXO_MAIL_FROM"`
	RequireVerifiedEmail bool          `help:"Solo inician sesión las cuentas con el correo verificado / only accounts with a verified email may sign in." env:"MULTINEXO_REQUIRE_VERIFIED_EMAIL"`
	DebugAddr            string        `help:"Dirección de loopback para los perfiles de Go (net/http/pprof); vacía = desactivado / loopback address serving Go profiles (pprof); empty: off." env:"MULTINEXO_DEBUG_ADDR"`
	Passkeys             string        `help:"Llaves de acceso (WebAuthn): auto (activas si el emisor puede ser la parte que confía; si no, desactivadas con un aviso que dice por qué), on (no arranca si el emisor no puede serlo, y dice por qué) u off / passkeys: auto (on when the issuer can be the WebAuthn relying party, else off with a warning saying why), on (refuse to start when it cannot, saying why) or off." default:"auto" enum:"auto,on,off" env:"MULTINEXO_PASSKEYS"`
	CIMD                 string        `name:"cimd" help:"Documentos de metadatos de cliente: un client_id que es una URL https se descarga de ella (on) o no (off) / client ID metadata documents: a client_id that is an https URL is fetched from it (on) or not (off)." default:"on" enum:"on,off" env:"MULTINEXO_CIMD"`
	Registration         string        `help:"Registro dinámico de clientes (RFC 7591) en /auth/v1/register: off, open (cualquiera, con límite por dirección) o token (con un token de multinexo registration-tokens create) / dynamic client registration: off, open (anyone, rate limited per address) or token (with a token from multinexo registration-tokens create)." default:"off" enum:"off,open,token" env:"MULTINEXO_REGISTRATION"`
	CIMDLoopback         bool          `name:"cimd-allow-loopback" help:"Solo desarrollo y pruebas: acepta también client_id http(s)://127.0.0.1 y [::1] / development and tests only: also accept http(s)://127.0.0.1 and [::1] client_ids." env:"MULTINEXO_CIMD_ALLOW_LOOPBACK"`
}

// Backend is a parsed --db value.
type Backend struct {
	Kind string // "sqlite" or "postgres"
	Path string // sqlite file path
	URL  string // postgres URL
}

// ParseDB parses a --db value: sqlite:PATH or postgres://… (postgresql://).
func ParseDB(v string) (Backend, error) {
	switch {
	case strings.HasPrefix(v, "postgres://"), strings.HasPrefix(v, "postgresql://"):
		if _, err := url.Parse(v); err != nil {
			return Backend{}, fmt.Errorf("--db: URL de PostgreSQL inválida / invalid PostgreSQL URL")
		}
		return Backend{Kind: "postgres", URL: v}, nil
	case strings.HasPrefix(v, "sqlite:"):
		p := strings.TrimPrefix(strings.TrimPrefix(v, "sqlite:"), "//")
		if p == "" {
			return Backend{}, errors.New("--db: falta la ruta del archivo SQLite, por ejemplo sqlite:multinexo.db / missing SQLite path")
		}
		return Backend{Kind: "sqlite", Path: p}, nil
	default:
		return Backend{}, fmt.Errorf("--db %q: usa sqlite:RUTA o postgres://usuario@host/base / use sqlite:PATH or postgres://user@host/db", Redact(v))
	}
}

// Redact hides the password of a database URL for logs and errors.
func Redact(v string) string {
	u, err := url.Parse(v)
	if err != nil || u.User == nil {
		return v
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// SecretFile is where a SQLite deployment keeps its generated secret.
func (b Backend) SecretFile() string {
	return filepath.Join(filepath.Dir(b.Path), filepath.Base(b.Path)+".secret")
}

// ValidateIssuer checks the issuer URL (OIDC Discovery §3: https URL with no
// query or fragment; http is accepted for local development).
func ValidateIssuer(v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("--issuer %q: debe ser una URL http(s) absoluta / must be an absolute http(s) URL", v)
	}
	if u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(v, "/") {
		return fmt.Errorf("--issuer %q: sin consulta, fragmento ni barra final / no query, fragment or trailing slash", v)
	}
	return nil
}

// Validate checks serve flags that kong cannot. An empty Issuer is left to
// ResolveIssuer.
func (s *Serve) Validate() error {
	if s.Issuer != "" {
		if err := ValidateIssuer(s.Issuer); err != nil {
			return err
		}
	}
	if s.AccessTTL < 10*time.Second || s.AccessTTL > 24*time.Hour {
		return errors.New("--access-ttl: entre 10s y 24h / between 10s and 24h")
	}
	if s.RefreshGrace < 0 || s.RefreshGrace > 5*time.Minute {
		return errors.New("--refresh-grace: entre 0 y 5m / between 0 and 5m")
	}
	if s.SMTPURL != "" {
		u, err := url.Parse(s.SMTPURL)
		if err != nil || u.Hostname() == "" || (u.Scheme != "smtp" && u.Scheme != "smtps") {
			return errors.New("--smtp-url: usa smtp://[usuario:clave@]host:puerto o smtps://host:puerto / use smtp://[user:pass@]host:port or smtps://host:port")
		}
	}
	if s.MailFrom != "" {
		if _, err := mail.ParseAddress(s.MailFrom); err != nil {
			return errors.New("--mail-from: una dirección, por ejemplo \"Multinexo <no-reply@example.com>\" / an address, e.g. \"Multinexo <no-reply@example.com>\"")
		}
	}
	if s.DebugAddr != "" {
		host, _, err := net.SplitHostPort(s.DebugAddr)
		ip := net.ParseIP(host)
		if err != nil || ip == nil || !ip.IsLoopback() {
			return errors.New("--debug-addr: solo una dirección de loopback, por ejemplo 127.0.0.1:6060 (los perfiles revelan memoria del proceso) / loopback address only, e.g. 127.0.0.1:6060")
		}
	}
	return nil
}

// UnknownEnv lists MULTINEXO_* variables in env that no flag reads, so a
// typo does not pass silently. MULTINEXO_TEST_* belong to the test suite.
func UnknownEnv(env []string, known []string) []string {
	var out []string
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "MULTINEXO_") || strings.HasPrefix(name, "MULTINEXO_TEST_") {
			continue
		}
		found := false
		for _, k := range known {
			if k == name {
				found = true
				break
			}
		}
		if !found {
			out = append(out, name)
		}
	}
	return out
}
