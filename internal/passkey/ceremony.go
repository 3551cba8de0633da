package passkey

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/multinexo/auth/internal/store"
)

// BeginRegistration starts adding a passkey to u's account: a resident
// key with user verification, none of u's existing passkeys again.
func (s *Service) BeginRegistration(ctx context.Context, u *store.User, binding []byte) (*Begun, error) {
	if s == nil {
		return nil, ErrUnavailable
	}
	have, err := s.cfg.Store.ListPasskeys(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	wu := &user{u: u}
	for _, p := range have {
		wu.creds = append(wu.creds, credential(p))
	}
	creation, sd, err := s.wa.BeginRegistration(wu,
		webauthn.WithExclusions(webauthn.Credentials(wu.creds).CredentialDescriptors()),
		webauthn.WithExtensions(webauthn.WithExtensionCredProps()))
	if err != nil {
		return nil, fmt.Errorf("passkey: begin registration: %w", err)
	}
	return s.begin(ctx, store.CeremonyRegister, u.ID, binding, sd, creation)
}

// FinishRegistration verifies the browser's answer (body: the
// PublicKeyCredential as JSON) to the ceremony handle and stores the new
// passkey under name.
// An empty name becomes the authenticator's description (Describe, in
// lang) or DefaultName(lang).
func (s *Service) FinishRegistration(ctx context.Context, u *store.User, handle string, binding []byte, name, lang string, body []byte, ip string) (*store.Passkey, error) {
	if s == nil {
		return nil, ErrUnavailable
	}
	sd, err := s.consume(ctx, handle, store.CeremonyRegister, u.ID, binding)
	if err != nil {
		return nil, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(body)
	if err != nil {
		s.event(ctx, "passkey.failed", u.ID, ip, "registration: "+detail(err))
		return nil, fmt.Errorf("%w: %w", ErrRefused, err)
	}
	c, err := s.wa.CreateCredential(&user{u: u}, *sd, parsed)
	if err != nil {
		s.event(ctx, "passkey.failed", u.ID, ip, "registration: "+detail(err))
		return nil, fmt.Errorf("%w: %w", ErrRefused, err)
	}
	if !c.Flags.UserVerified {
		return nil, fmt.Errorf("%w: the user was not verified", ErrRefused)
	}
	p := &store.Passkey{
		CredentialID: c.ID, UserID: u.ID, PublicKey: c.PublicKey,
		AttestationType: c.AttestationType, AttestationFormat: c.AttestationFormat,
		AAGUID: c.Authenticator.AAGUID, SignCount: c.Authenticator.SignCount,
		Flags: byte(c.Flags.ProtocolValue()), CreatedAt: s.cfg.Now().UTC(),
	}
	for _, t := range c.Transport {
		p.Transports = append(p.Transports, string(t))
	}
	def := Describe(p.AAGUID, lang)
	if def == "" {
		def = DefaultName(lang)
	}
	p.Name = cleanName(name, def)
	if err := s.cfg.Store.CreatePasskey(ctx, p); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, ErrTaken
		}
		return nil, err
	}
	s.event(ctx, "passkey.added", u.ID, ip, p.Name)
	return p, nil
}

// BeginLogin starts a sign-in with a discoverable passkey (no account
// named); conditional asks for the browser's autofill (mediation
// "conditional") instead of a dialog.
func (s *Service) BeginLogin(ctx context.Context, binding []byte, conditional bool) (*Begun, error) {
	if s == nil {
		return nil, ErrUnavailable
	}
	mediation := protocol.MediationDefault
	if conditional {
		mediation = protocol.MediationConditional
	}
	assertion, sd, err := s.wa.BeginDiscoverableMediatedLogin(mediation)
	if err != nil {
		return nil, fmt.Errorf("passkey: begin login: %w", err)
	}
	return s.begin(ctx, store.CeremonyLogin, "", binding, sd, assertion)
}

// FinishLogin verifies the browser's answer to a BeginLogin ceremony and
// returns who signed in.
func (s *Service) FinishLogin(ctx context.Context, handle string, binding []byte, body []byte, ip string) (*Result, error) {
	if s == nil {
		return nil, ErrUnavailable
	}
	sd, err := s.consume(ctx, handle, store.CeremonyLogin, "", binding)
	if err != nil {
		return nil, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRefused, err)
	}
	var found *store.Passkey
	var owner *store.User
	var lookupErr error
	lookup := func(rawID, userHandle []byte) (webauthn.User, error) {
		p, err := s.cfg.Store.GetPasskey(ctx, rawID)
		if err == nil {
			owner, err = s.cfg.Store.GetUser(ctx, p.UserID)
		}
		if err == nil && !sameUser(userHandle, owner) {
			err = store.ErrNotFound
		}
		if err != nil {
			lookupErr = err
			return nil, err
		}
		found = p
		return &user{u: owner, creds: []webauthn.Credential{credential(p)}}, nil
	}
	_, c, err := s.wa.ValidatePasskeyLogin(lookup, *sd, parsed)
	switch {
	case lookupErr != nil && !errors.Is(lookupErr, store.ErrNotFound):
		return nil, lookupErr // the store failed: not the person's doing
	case lookupErr != nil:
		s.event(ctx, "passkey.failed", "", ip, "sign-in with a passkey registered to no account")
		return nil, ErrUnknownPasskey
	case found == nil:
		return nil, fmt.Errorf("%w: %w", ErrRefused, err)
	}
	return s.finishUse(ctx, owner, found, c, parsed, err, ip)
}

// BeginSecondFactor starts the passkey step after u's password: one of
// u's passkeys, with user verification.
func (s *Service) BeginSecondFactor(ctx context.Context, u *store.User, binding []byte) (*Begun, error) {
	if s == nil {
		return nil, ErrUnavailable
	}
	have, err := s.cfg.Store.ListPasskeys(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	if len(have) == 0 {
		return nil, ErrNotFound
	}
	wu := &user{u: u}
	for _, p := range have {
		wu.creds = append(wu.creds, credential(p))
	}
	assertion, sd, err := s.wa.BeginLogin(wu)
	if err != nil {
		return nil, fmt.Errorf("passkey: begin second factor: %w", err)
	}
	return s.begin(ctx, store.CeremonySecondFactor, u.ID, binding, sd, assertion)
}

// FinishSecondFactor verifies the answer to a BeginSecondFactor ceremony
// for u.
func (s *Service) FinishSecondFactor(ctx context.Context, u *store.User, handle string, binding []byte, body []byte, ip string) (*Result, error) {
	if s == nil {
		return nil, ErrUnavailable
	}
	sd, err := s.consume(ctx, handle, store.CeremonySecondFactor, u.ID, binding)
	if err != nil {
		return nil, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRefused, err)
	}
	p, err := s.cfg.Store.GetPasskey(ctx, parsed.RawID)
	if err != nil || p.UserID != u.ID {
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		s.event(ctx, "passkey.failed", u.ID, ip, "second factor with a passkey not of this account")
		return nil, ErrUnknownPasskey
	}
	c, err := s.wa.ValidateLogin(&user{u: u, creds: []webauthn.Credential{credential(p)}}, *sd, parsed)
	return s.finishUse(ctx, u, p, c, parsed, err, ip)
}

// finishUse ends a verified (or refused, verr) assertion with passkey p of
// u: the clone check, the counter and flags recorded, the events.
func (s *Service) finishUse(ctx context.Context, u *store.User, p *store.Passkey, c *webauthn.Credential, parsed *protocol.ParsedCredentialAssertionData, verr error, ip string) (*Result, error) {
	if verr != nil {
		s.event(ctx, "passkey.failed", u.ID, ip, detail(verr))
		return nil, fmt.Errorf("%w: %w", ErrRefused, verr)
	}
	flags := parsed.Response.AuthenticatorData.Flags
	if !flags.HasUserVerified() {
		s.event(ctx, "passkey.failed", u.ID, ip, "the user was not verified")
		return nil, fmt.Errorf("%w: the user was not verified", ErrRefused)
	}
	count := parsed.Response.AuthenticatorData.Counter
	if c.Authenticator.CloneWarning {
		s.event(ctx, "passkey.clone_warning", u.ID, ip, fmt.Sprintf("%s: counter %d after %d", p.Name, count, p.SignCount))
		return nil, ErrCloned
	}
	if u.Disabled {
		return nil, ErrUnknownPasskey
	}
	err := s.cfg.Store.UsePasskey(ctx, p.CredentialID, count, byte(flags), s.cfg.Now().UTC())
	switch {
	case errors.Is(err, store.ErrAlreadyUsed):
		// Another sign-in took this counter value first.
		s.event(ctx, "passkey.clone_warning", u.ID, ip, fmt.Sprintf("%s: counter %d presented twice", p.Name, count))
		return nil, ErrCloned
	case errors.Is(err, store.ErrNotFound):
		return nil, ErrUnknownPasskey // deleted meanwhile
	case err != nil:
		return nil, err
	}
	p.SignCount, p.Flags = count, byte(flags)
	p.BackupState = flags.HasBackupState()
	s.event(ctx, "passkey.used", u.ID, ip, p.Name)
	return &Result{User: u, Passkey: p, AMR: methods(p, true)}, nil
}

// detail is an error for an event: the library's details, bounded.
func detail(err error) string {
	var pe *protocol.Error
	msg := err.Error()
	if errors.As(err, &pe) && pe.Details != "" {
		msg = pe.Details
	}
	return cleanName(msg, "refused")
}
