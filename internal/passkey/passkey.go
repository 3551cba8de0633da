package passkey

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/token"
)

// Store is what the service keeps and reads.
type Store interface {
	store.PasskeyStore
	GetUser(ctx context.Context, id string) (*store.User, error)
	RecordEvent(ctx context.Context, e *store.Event) error
}

// Config configures the service.
type Config struct {
	// Issuer is the issuer URL; the relying party derives from it.
	Issuer string
	Store  Store
	// RPName is the name authenticators show ("Multinexo" when empty).
	RPName string
	// CeremonyTTL is how long a begun ceremony may be finished (5 min).
	CeremonyTTL time.Duration
	Now         func() time.Time // nil: time.Now
	Log         *slog.Logger
}

// Errors of the ceremonies. The pages turn each into a message that says
// what to do.
var (
	// ErrCeremony: the ceremony is unknown to this browser, used, or
	// expired: start again.
	ErrCeremony = errors.New("passkey: the ceremony is over or belongs to another browser")
	// ErrUnknownPasskey: the browser presented a passkey that is not
	// registered here (deleted, or made for another server).
	ErrUnknownPasskey = errors.New("passkey: no account has this passkey")
	// ErrRefused: the authenticator's answer did not verify (wrong origin,
	// no user verification, bad signature...).
	ErrRefused = errors.New("passkey: the authenticator's answer was refused")
	// ErrCloned: the signature counter went backwards: the sign-in is
	// refused and the operators are told (passkey.clone_warning).
	ErrCloned = errors.New("passkey: the signature counter did not advance (cloned authenticator?)")
	// ErrTaken: the passkey is registered already.
	ErrTaken = errors.New("passkey: this passkey is registered already")
	// ErrNotFound: no such passkey on this account.
	ErrNotFound = errors.New("passkey: no such passkey on this account")
	// ErrUnavailable: the issuer cannot be a relying party; passkeys are off.
	ErrUnavailable = errors.New("passkey: passkeys are not available on this server")
)

// Service runs the ceremonies. A nil *Service is valid and reports
// Available false (passkeys off).
type Service struct {
	cfg    Config
	wa     *webauthn.WebAuthn
	rpID   string
	origin string
	log    *slog.Logger
}

// RelyingParty returns the WebAuthn relying-party ID and origin an issuer
// gives, or why the issuer cannot be a relying party (browsers refuse IP
// addresses as RP IDs, and WebAuthn outside a secure context: plain http
// is allowed only on localhost).
func RelyingParty(issuer string) (rpID, origin string, err error) {
	u, err := url.Parse(issuer)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", "", fmt.Errorf("the issuer %q is not an http(s) URL", issuer)
	}
	host := strings.ToLower(u.Hostname())
	if net.ParseIP(host) != nil {
		return "", "", fmt.Errorf("the issuer's host %s is an IP address; browsers accept only a domain name as a passkey's relying party (use --issuer with a host name, for example http://localhost:8080 in development)", host)
	}
	if u.Scheme == "http" && host != "localhost" && !strings.HasSuffix(host, ".localhost") {
		return "", "", fmt.Errorf("the issuer %s is plain http; browsers offer passkeys only over https (or on localhost)", issuer)
	}
	if err := protocol.ValidateRPID(host); err != nil {
		return "", "", fmt.Errorf("the issuer's host %q is not a valid relying-party ID: %v", host, err)
	}
	return host, u.Scheme + "://" + strings.ToLower(u.Host), nil
}

// New builds the service, or returns why the issuer cannot be a relying
// party (see RelyingParty).
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, errors.New("passkey: Store is required")
	}
	rpID, origin, err := RelyingParty(cfg.Issuer)
	if err != nil {
		return nil, err
	}
	if cfg.RPName == "" {
		cfg.RPName = "Multinexo"
	}
	if cfg.CeremonyTTL <= 0 {
		cfg.CeremonyTTL = 5 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	wa, err := webauthn.New(&webauthn.Config{
		RPID:                  rpID,
		RPDisplayName:         cfg.RPName,
		RPOrigins:             []string{origin},
		AttestationPreference: protocol.PreferNoAttestation,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey:        protocol.ResidentKeyRequirementRequired,
			RequireResidentKey: protocol.ResidentKeyRequired(),
			UserVerification:   protocol.VerificationRequired,
		},
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Timeout: cfg.CeremonyTTL, TimeoutUVD: cfg.CeremonyTTL},
			Registration: webauthn.TimeoutConfig{Timeout: cfg.CeremonyTTL, TimeoutUVD: cfg.CeremonyTTL},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("passkey: %w", err)
	}
	return &Service{cfg: cfg, wa: wa, rpID: rpID, origin: origin, log: cfg.Log}, nil
}

// Available reports whether passkeys are on.
func (s *Service) Available() bool { return s != nil }

// RPID is the relying-party ID ("" when off).
func (s *Service) RPID() string {
	if s == nil {
		return ""
	}
	return s.rpID
}

// Begun is a ceremony begun: Handle goes back to the browser with Options
// (the JSON navigator.credentials needs: publicKey, mediation).
type Begun struct {
	Handle  string
	Options any
}

// Result is a finished sign-in.
type Result struct {
	User    *store.User
	Passkey *store.Passkey
	// AMR is how the person authenticated (RFC 8176): hwk (a device-bound
	// key) or swk (a synced one, backup eligible), user (verified), mfa.
	AMR []string
}

// user adapts a store user (and some of its passkeys) to the library.
type user struct {
	u     *store.User
	creds []webauthn.Credential
}

func (w *user) WebAuthnID() []byte                         { return []byte(w.u.ID) }
func (w *user) WebAuthnName() string                       { return w.u.Email }
func (w *user) WebAuthnCredentials() []webauthn.Credential { return w.creds }
func (w *user) WebAuthnDisplayName() string {
	if n := strings.TrimSpace(w.u.FirstName + " " + w.u.LastName); n != "" {
		return n
	}
	return w.u.Email
}

// credential is a stored passkey as the library's credential record.
func credential(p *store.Passkey) webauthn.Credential {
	c := webauthn.Credential{
		ID:                p.CredentialID,
		PublicKey:         p.PublicKey,
		AttestationType:   p.AttestationType,
		AttestationFormat: p.AttestationFormat,
		Flags:             webauthn.NewCredentialFlags(protocol.AuthenticatorFlags(p.Flags)),
		Authenticator:     webauthn.Authenticator{AAGUID: p.AAGUID, SignCount: p.SignCount},
	}
	for _, t := range p.Transports {
		c.Transport = append(c.Transport, protocol.AuthenticatorTransport(t))
	}
	return c
}

// begin stores the ceremony and returns its handle.
func (s *Service) begin(ctx context.Context, kind, userID string, binding []byte, sd *webauthn.SessionData, options any) (*Begun, error) {
	if len(binding) == 0 {
		return nil, errors.New("passkey: a ceremony needs a binding")
	}
	data, err := json.Marshal(sd)
	if err != nil {
		return nil, err
	}
	handle := token.NewOpaque("mnxwa")
	now := s.cfg.Now().UTC()
	c := &store.WebAuthnCeremony{IDHash: store.HashToken(handle), Kind: kind, UserID: userID, Binding: binding,
		Data: string(data), CreatedAt: now, ExpiresAt: now.Add(s.cfg.CeremonyTTL)}
	if err := s.cfg.Store.CreateCeremony(ctx, c); err != nil {
		return nil, err
	}
	return &Begun{Handle: handle, Options: options}, nil
}

// consume finishes the ceremony handle of kind for binding (and for
// userID, unless kind is a discoverable login) and returns its session data.
func (s *Service) consume(ctx context.Context, handle, kind, userID string, binding []byte) (*webauthn.SessionData, error) {
	if handle == "" || len(handle) > 256 || len(binding) == 0 {
		return nil, ErrCeremony
	}
	c, err := s.cfg.Store.ConsumeCeremony(ctx, store.HashToken(handle), binding, s.cfg.Now().UTC())
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrAlreadyUsed), errors.Is(err, store.ErrExpired):
		return nil, ErrCeremony
	case err != nil:
		return nil, err
	}
	if c.Kind != kind || c.UserID != userID {
		return nil, ErrCeremony
	}
	var sd webauthn.SessionData
	if err := json.Unmarshal([]byte(c.Data), &sd); err != nil {
		return nil, fmt.Errorf("passkey: stored ceremony: %w", err)
	}
	// The store enforced the expiry with the service's clock.
	sd.Expires = time.Time{}
	return &sd, nil
}

func (s *Service) event(ctx context.Context, typ, userID, ip, detail string) {
	e := &store.Event{Time: s.cfg.Now().UTC(), Type: typ, UserID: userID, IP: ip, Detail: detail}
	if err := s.cfg.Store.RecordEvent(ctx, e); err != nil {
		s.log.ErrorContext(ctx, "recording a security event", "type", typ, "error", err.Error())
	}
}

// ID is how pages name a passkey: its credential id, base64url.
func ID(p *store.Passkey) string { return base64.RawURLEncoding.EncodeToString(p.CredentialID) }

// ParseID reads an ID; nil when it is not one.
func ParseID(s string) []byte {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) == 0 || len(b) > 1023 {
		return nil
	}
	return b
}

// MaxName bounds a passkey's name.
const MaxName = 64

// cleanName is a name as stored: trimmed, valid UTF-8, no control
// characters, at most MaxName characters; def when empty.
func cleanName(name, def string) string {
	name = strings.ToValidUTF8(strings.TrimSpace(name), "")
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, name)
	for utf8.RuneCountInString(name) > MaxName {
		_, n := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-n]
	}
	if name == "" {
		return def
	}
	return name
}

// methods is the amr of a verified sign-in with p.
func methods(p *store.Passkey, verified bool) []string {
	key := "hwk"
	if p.BackupEligible {
		key = "swk" // a synced passkey: the key exists outside one device
	}
	if verified {
		return []string{key, "user", "mfa"}
	}
	return []string{key}
}

// sameUser reports whether a user handle names u.
func sameUser(handle []byte, u *store.User) bool { return bytes.Equal(handle, []byte(u.ID)) }
