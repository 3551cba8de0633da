// Package store defines the persistence contract of Multinexo Auth: the domain
// records (users, clients, grants, tokens, sessions, keys, counters, events)
// and the Store interface that every backend implements.
//
// Every state change that must be atomic — redeeming a code, rotating a refresh
// token, revoking a grant, registering a user — is a single Store method,
// implemented as one transaction inside the backend. No transaction ever leaves
// the backend. Both backends (store/sqlite, store/postgres) pass the shared
// conformance suite in store/storetest.
//
// Secrets never reach the store in clear: client secrets, refresh tokens,
// authorization codes and session secrets are stored as SHA-256 hashes
// (HashToken), passwords as argon2id PHC strings.
package store

import (
	"context"
	"crypto/sha256"
	"errors"
	"slices"
	"time"
)

// Errors returned by every backend. Compare with errors.Is.
var (
	// ErrNotFound: no such record (or it is not visible to the caller).
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: a unique value (email, client id, ...) is taken.
	ErrConflict = errors.New("store: conflict")
	// ErrAlreadyUsed: a single-use value (authorization code, device code) was
	// redeemed before.
	ErrAlreadyUsed = errors.New("store: already used")
	// ErrReused: a refresh token that was already rotated was presented again
	// outside the grace window; its grant has been revoked.
	ErrReused = errors.New("store: refresh token reused")
	// ErrRevoked: the record exists but its grant was revoked.
	ErrRevoked = errors.New("store: revoked")
	// ErrExpired: the record exists but has expired.
	ErrExpired = errors.New("store: expired")
)

// HashToken is how every bearer secret (client secret, refresh token,
// authorization code, session secret, device code) is stored: SHA-256. The
// secrets are ≥ 256 random bits, so no slow hash is needed.
func HashToken(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// User is an account. Email is the login name as the user typed it (trimmed,
// NFKC); EmailKey is its comparison form (NFKC + case folded), unique.
type User struct {
	ID           string
	Email        string
	EmailKey     string
	FirstName    string
	LastName     string
	PasswordHash string
	AvatarURL    string
	Admin        bool
	Disabled     bool
	// Activated: the account completed registration (every account created
	// through registration, the pages or the command line is). It says
	// nothing about the address: that is EmailVerified.
	Activated bool
	// EmailVerified: the owner proved Email is theirs (followed a mailed
	// link) or an operator vouched for it (users create --email-verified).
	// Changing Email makes it false in the same statement.
	EmailVerified bool
	CreatedAt     time.Time
	UpdatedAt     time.Time

	// The second factor (TOTP, RFC 6238), changed only through MFAStore.
	// TOTPSecret is the shared secret sealed with the server secret (nil:
	// none); while TOTPEnabledAt is zero it is an enrolment not yet
	// confirmed. TOTPLastStep is the last time step accepted, so a code is
	// never accepted twice. (GetRefreshTokenGrant leaves these zero.)
	TOTPSecret    []byte
	TOTPEnabledAt time.Time
	TOTPLastStep  int64

	// Lang is the language the account was created in ("es", "en"; ""
	// for Spanish): the language of the messages mailed to it.
	Lang string
}

// HasTOTP reports whether logging in as u needs a TOTP code (or a
// recovery code) after the password.
func (u *User) HasTOTP() bool { return !u.TOTPEnabledAt.IsZero() && len(u.TOTPSecret) > 0 }

// UserUpdate changes some fields of a user; nil fields are left alone.
type UserUpdate struct {
	Email        *string
	EmailKey     *string
	FirstName    *string
	LastName     *string
	PasswordHash *string
	Admin        *bool
	Disabled     *bool
	// EmailVerified sets the flag. A new Email without it resets the flag
	// to false: an address nobody proved is never verified.
	EmailVerified *bool
}

// Client types.
const (
	ClientConfidential = "confidential"
	ClientPublic       = "public"
)

// Grant type names, as sent in grant_type.
const (
	GrantAuthorizationCode = "authorization_code"
	GrantPassword          = "password"
	GrantRefreshToken      = "refresh_token"
	GrantClientCredentials = "client_credentials"
	GrantDeviceCode        = "urn:ietf:params:oauth:grant-type:device_code"
	GrantImplicit          = "implicit"
)

// Client is an OAuth application. SecretHash is HashToken(secret) and is empty
// for public clients.
type Client struct {
	ID                     string
	Name                   string
	Type                   string // ClientConfidential or ClientPublic
	SecretHash             []byte
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	Grants                 []string
	Scopes                 []string
	OwnerID                string // user id of the developer; "" for operator-created
	Legacy                 bool   // allows response_type=token (implicit)
	// FirstParty: the operator marked the client as its own (clients create
	// --first-party, the admin panel). See IsFirstParty.
	FirstParty bool
	// OfflineAccessRequired: refresh tokens from the authorization-code and
	// device flows only when offline_access was granted (OpenID Connect
	// Core §11). False: with every such grant (the Multinexo behaviour).
	OfflineAccessRequired bool
	Disabled              bool
	AccessTokenTTL        time.Duration // 0: server default
	// IDTokenAlg signs this client's ID tokens (OIDC Dynamic Client
	// Registration id_token_signed_response_alg); "": the server default.
	IDTokenAlg string
	// Origin is how the client came to be: one of the Origin constants;
	// "" for clients made before it was recorded.
	Origin string
	// RegistrationHash is HashToken of the RFC 7592 registration access
	// token of a dynamically registered client; nil for the others.
	RegistrationHash []byte
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// Client origins (Client.Origin).
const (
	OriginCLI       = "cli"       // multinexo clients create
	OriginAdmin     = "admin"     // the admin panel
	OriginDeveloper = "developer" // a developer's "Mis Aplicaciones" or the JSON:API
	OriginDynamic   = "dynamic"   // RFC 7591 dynamic registration
	// OriginMetadata: a client ID metadata document fetched from the URL
	// that is its client_id (draft-ietf-oauth-client-id-metadata-document);
	// the row is a cache of that document, refreshed when it expires.
	OriginMetadata = "metadata"
)

// IsFirstParty reports whether c may be granted what only the operator's own
// applications may have (the scope "account"): it was marked first-party,
// or it was given the password grant, which only an operator can give and
// which hands the client the person's password anyway.
func (c *Client) IsFirstParty() bool {
	return c.FirstParty || slices.Contains(c.Grants, GrantPassword)
}

// ClientUpdate changes some fields of a client; nil fields are left alone.
type ClientUpdate struct {
	Name                   *string
	SecretHash             []byte // non-nil: replace the secret hash
	RedirectURIs           *[]string
	PostLogoutRedirectURIs *[]string
	Grants                 *[]string
	Scopes                 *[]string
	Disabled               *bool
	IDTokenAlg             *string
	FirstParty             *bool
	OfflineAccessRequired  *bool
	RegistrationHash       []byte // non-nil: replace the registration access token's hash
}

// Grant is one authorization of a client: by a user (password, authorization
// code, device code) or by the client itself (client credentials, UserID "").
// It is the unit of revocation: every refresh token hangs from one grant, and
// every access token names its grant, so revoking the grant ends them all.
type Grant struct {
	ID         string
	UserID     string
	ClientID   string
	GrantType  string
	Scopes     []string
	AuthTime   time.Time
	CreatedAt  time.Time
	LastUsedAt time.Time
	ExpiresAt  time.Time // zero: until revoked
	RevokedAt  time.Time // zero: live
	ClientName string    // read-only: filled from the client by Get/List
	// Claims is the OIDC claims request (Core §5.5) the grant was
	// authorized with, normalised JSON (oauth.ClaimsRequest); "" for none.
	Claims string
	// AMR is how the person authenticated for this grant (RFC 8176),
	// asserted as amr in its ID tokens; nil for none known.
	AMR []string
	// Resources are the RFC 8707 resource indicators granted (registered
	// Resource URIs); nil: the server's own API. Each access token's aud is
	// these, or the subset its token request named.
	Resources []string
}

// Live reports whether the grant may still be used at now.
func (g *Grant) Live(now time.Time) bool {
	return g.RevokedAt.IsZero() && (g.ExpiresAt.IsZero() || now.Before(g.ExpiresAt))
}

// RefreshToken is one link of a grant's rotation chain. Only its hash is kept.
type RefreshToken struct {
	Hash       []byte
	GrantID    string
	ParentHash []byte // the token it replaced; nil for the first
	Scopes     []string
	CreatedAt  time.Time
	RotatedAt  time.Time // zero: current
	// IfScope, for RedeemAuthCode and PollDeviceCode only (never stored):
	// store this first refresh token only if the grant gets this scope
	// (OpenID Connect Core §11: offline_access). When it is not stored the
	// token is left zero (nil Hash), so the caller knows not to send it.
	IfScope string
}

// Rotation asks the store to replace a refresh token by a new one atomically.
type Rotation struct {
	OldHash []byte
	New     RefreshToken // Hash, Scopes and CreatedAt set by the caller
	Now     time.Time
	// Grace: a token rotated less than Grace ago may be presented once more;
	// the successor it produced is retired and New replaces it. 0: off.
	Grace time.Duration
}

// AuthCode is an authorization code, stored by hash, single use.
type AuthCode struct {
	Hash                []byte
	ClientID            string
	UserID              string
	RedirectURI         string
	Scopes              []string
	Nonce               string
	CodeChallenge       string
	CodeChallengeMethod string
	AuthTime            time.Time
	SessionID           string
	CreatedAt           time.Time
	ExpiresAt           time.Time
	Claims              string   // normalised OIDC claims request; "" for none; copied to the grant
	AMR                 []string // the session's authentication methods; copied to the grant
	Resources           []string // RFC 8707 resource indicators authorized; copied to the grant
	// Set when redeemed: the grant the redemption created, so a replay can
	// revoke it (RFC 6749 §4.1.2).
	UsedAt  time.Time
	GrantID string
}

// Device authorization states (RFC 8628).
const (
	DevicePending  = "pending"
	DeviceApproved = "approved"
	DeviceDenied   = "denied"
)

// DeviceCode is a pending RFC 8628 device authorization. The device code
// (≥ 256 bits, polled by the device) and the user code (short, typed by the
// person on /activate) are both stored only as hashes; the user code is
// normalised (upper case, no separators) before hashing.
type DeviceCode struct {
	DeviceHash   []byte
	UserCodeHash []byte
	ClientID     string
	Scopes       []string
	Status       string // DevicePending, DeviceApproved or DeviceDenied
	UserID       string // set on approval
	AuthTime     time.Time
	AMR          []string // set on approval: the approving session's methods
	CreatedAt    time.Time
	ExpiresAt    time.Time
	Interval     time.Duration // minimum polling interval
	LastPolledAt time.Time
	Resources    []string // RFC 8707 resource indicators asked for; copied to the grant
	// Set when the approved authorization was redeemed by the device.
	UsedAt  time.Time
	GrantID string
}

// DeviceSlowDown is how much a device's polling interval grows each time it
// polls too soon (RFC 8628 §3.5: "the interval MUST be increased by 5
// seconds for this and all subsequent requests").
const DeviceSlowDown = 5 * time.Second

// PolledTooSoon reports whether a poll at now comes sooner than Interval
// after the previous one (the first poll never does). A tenth of the
// interval is tolerated: clients that poll on a ticker (golang.org/x/oauth2)
// arrive a hair early as often as late.
func (d *DeviceCode) PolledTooSoon(now time.Time) bool {
	return !d.LastPolledAt.IsZero() && now.Sub(d.LastPolledAt) < d.Interval-d.Interval/10
}

// DeviceStore keeps RFC 8628 device authorizations.
type DeviceStore interface {
	CreateDeviceCode(ctx context.Context, d *DeviceCode) error
	// GetDeviceCodeByUserCode finds a pending, unexpired authorization by
	// the hash of its normalised user code (ErrNotFound otherwise).
	GetDeviceCodeByUserCode(ctx context.Context, userCodeHash []byte, now time.Time) (*DeviceCode, error)
	// DecideDeviceCode approves (userID set) or denies a pending, unexpired
	// authorization; ErrNotFound when it is not pending any more.
	// amr is the approving session's authentication methods.
	DecideDeviceCode(ctx context.Context, userCodeHash []byte, approve bool, userID string, authTime time.Time, amr []string, now time.Time) error
	// PollDeviceCode is the device's poll, one transaction: ErrNotFound for an
	// unknown code (or another client's, when g.ClientID is set; the code is
	// left untouched); ErrExpired past ExpiresAt; ErrAlreadyUsed when redeemed
	// before. Otherwise it records the poll and returns the code as it was
	// before this poll (so the caller can apply slow_down from LastPolledAt;
	// a pending code PolledTooSoon has its stored Interval raised by
	// DeviceSlowDown); when it is approved it is marked used and g (with rt,
	// if not nil) is issued in the same transaction, its ClientID, UserID,
	// Scopes and AuthTime filled from the code when empty.
	PollDeviceCode(ctx context.Context, deviceHash []byte, now time.Time, g *Grant, rt *RefreshToken) (*DeviceCode, error)
}

// MFAStore keeps users' second factors: a TOTP secret (sealed by the
// caller) and hashed single-use recovery codes. Every change that decides
// whether a code is accepted is one conditional statement or transaction,
// so of two concurrent uses of one code exactly one wins.
type MFAStore interface {
	// SetPendingTOTP stores sealed as the user's TOTP secret for an
	// enrolment not yet confirmed, replacing any earlier pending one.
	// ErrConflict when TOTP is already enabled; ErrNotFound for an unknown
	// user.
	SetPendingTOTP(ctx context.Context, userID string, sealed []byte, now time.Time) error
	// EnableTOTP confirms the pending secret sealed — which must still be
	// the stored one, not yet enabled — records step as the last accepted
	// one and replaces the user's recovery codes by recovery (hashes), in
	// one transaction. ErrNotFound when there is no such pending secret
	// (enabled meanwhile, replaced by another enrolment, or unknown user).
	EnableTOTP(ctx context.Context, userID string, sealed []byte, step int64, recovery [][]byte, now time.Time) error
	// DisableTOTP removes the secret and every recovery code of the user.
	// ErrNotFound for an unknown user.
	DisableTOTP(ctx context.Context, userID string, now time.Time) error
	// UseTOTPStep accepts time step step of the enabled secret sealed:
	// only if step is later than the last accepted one (one conditional
	// UPDATE). ErrAlreadyUsed otherwise (a replay, an older code, or the
	// secret changed or was disabled meanwhile).
	UseTOTPStep(ctx context.Context, userID string, sealed []byte, step int64) error
	// UseRecoveryCode consumes the user's recovery code with hash hash
	// (deletes it). ErrNotFound when the user has no such code (never had
	// it, or it was used).
	UseRecoveryCode(ctx context.Context, userID string, hash []byte) error
	// ReplaceRecoveryCodes replaces every recovery code of a user with
	// TOTP enabled; ErrNotFound when TOTP is not enabled.
	ReplaceRecoveryCodes(ctx context.Context, userID string, recovery [][]byte, now time.Time) error
	// CountRecoveryCodes returns how many unused recovery codes the user has.
	CountRecoveryCodes(ctx context.Context, userID string) (int, error)
}

// Session is a browser session: the cookie carries ID and a secret whose hash
// is SecretHash.
type Session struct {
	ID         string
	SecretHash []byte
	UserID     string
	AuthTime   time.Time
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time
	// AMR is how the person signed in (RFC 8176 method names: pwd, otp,
	// mfa, hwk, swk, user), carried to the codes, grants and ID tokens
	// this session leads to. Empty for sessions from before it was kept.
	AMR []string
}

// Consent records that a user allowed a client a set of scopes.
type Consent struct {
	UserID   string
	ClientID string
	Scopes   []string
	// Resources are the resource indicators (RFC 8707) the user allowed the
	// client tokens for; SaveConsent adds to them as to Scopes.
	Resources []string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Resource is a protected resource (an API) a client may ask tokens for
// with the RFC 8707 resource parameter. URI is the resource indicator (an
// absolute URI without fragment), the access tokens' aud; Name is what the
// consent page shows; Scopes are the scopes it defines.
type Resource struct {
	URI       string
	Name      string
	Scopes    []string
	CreatedAt time.Time
}

// ResourceStore keeps the protected resources.
type ResourceStore interface {
	// CreateResource stores r; ErrConflict when its URI is taken.
	CreateResource(ctx context.Context, r *Resource) error
	// GetResource returns the resource with that URI, or ErrNotFound.
	GetResource(ctx context.Context, uri string) (*Resource, error)
	// ListResources lists every resource by URI.
	ListResources(ctx context.Context) ([]*Resource, error)
	// DeleteResource deletes it (grants naming it keep their tokens until
	// they expire; no new token names it); ErrNotFound when absent.
	DeleteResource(ctx context.Context, uri string) error
}

// RegistrationStore keeps RFC 7591 initial access tokens, by hash.
type RegistrationStore interface {
	CreateRegistrationToken(ctx context.Context, hash []byte, created, expires time.Time) error
	// UseRegistrationToken spends the token (single use, one conditional
	// UPDATE): ErrNotFound when unknown, ErrExpired past its expiry,
	// ErrAlreadyUsed when spent before.
	UseRegistrationToken(ctx context.Context, hash []byte, now time.Time) error
}

// SigningKey is a JOSE signing key. Private is the private JWK encrypted with
// the configured secret; Public is the public JWK as JSON.
type SigningKey struct {
	ID        string // kid
	Algorithm string // ES256, RS256, EdDSA
	Use       string // "access" (access tokens) or "id" (ID tokens)
	Private   []byte
	Public    []byte
	CreatedAt time.Time
	RetiredAt time.Time // zero: active. Retired keys stay published until ExpiresAt.
	ExpiresAt time.Time // zero: no end; set at retirement to RetiredAt + max token lifetime
}

// Event is a security event recorded for the operators' panel.
type Event struct {
	ID       int64
	Time     time.Time
	Type     string // e.g. login.failed, login.succeeded, refresh.reused, consent.given
	UserID   string
	ClientID string
	IP       string
	Detail   string
}

// Page selects a slice of a list: 1-based Number, Size per page.
type Page struct {
	Number int
	Size   int
}

// Filter is one string filter on a list (Multinexo string-filter modifiers).
type Filter struct {
	Field string // column name, validated by the caller against an allow-list
	Op    string // eq, ne, contains, nc, like
	Value string
}

// ListOptions control list queries. Sort is a field name, "-" prefixed for
// descending; the caller validates it against an allow-list.
type ListOptions struct {
	Page    Page
	Sort    string
	Filters []Filter
	// IncludeRevoked lists revoked grants too (ListGrants only); by default
	// only live ones are listed.
	IncludeRevoked bool
}

// Store is everything the server keeps. Implementations: store/sqlite,
// store/postgres (both *sqlstore.DB), which pass one conformance suite
// (storetest). Times passed in are stored with microsecond precision.
//
// It is composed of role interfaces; a consumer names the roles (or the
// methods) it uses, and nothing is found by type assertion: every method
// here is part of the contract and tested as such.
type Store interface {
	// Ping checks that the database answers (readiness).
	Ping(ctx context.Context) error
	Close() error

	UserStore
	ClientStore
	GrantStore
	CodeStore
	SessionStore
	ConsentStore
	KeyStore
	CounterStore
	EventStore
	MetaStore
	EpochStore
	DeviceStore
	MFAStore
	PasskeyStore
	MailStore
	AccountTokenStore
	ResourceStore
	RegistrationStore

	// Janitor: delete expired codes, sessions, counters, revoked-grant
	// tokens, mailed links (a day after they end) and sent or failed
	// messages (after 30 days), at most limit rows each call.
	DeleteExpired(ctx context.Context, now time.Time, limit int) (int, error)
}

// UserStore keeps accounts.
type UserStore interface {
	CreateUser(ctx context.Context, u *User) error // ErrConflict on a taken EmailKey
	GetUser(ctx context.Context, id string) (*User, error)
	GetUserByEmailKey(ctx context.Context, emailKey string) (*User, error)
	UpdateUser(ctx context.Context, id string, upd UserUpdate, now time.Time) (*User, error)
	// DisableUser disables the account and revokes every grant and session it has.
	DisableUser(ctx context.Context, id string, now time.Time) error
	// DeleteUser deletes the account, its grants, tokens, sessions and consents.
	DeleteUser(ctx context.Context, id string) error
	ListUsers(ctx context.Context, opt ListOptions) ([]*User, int, error)
	CountUsers(ctx context.Context) (int, error)
}

// ClientStore keeps OAuth applications.
type ClientStore interface {
	CreateClient(ctx context.Context, c *Client) error // ErrConflict on a taken ID
	GetClient(ctx context.Context, id string) (*Client, error)
	UpdateClient(ctx context.Context, id string, upd ClientUpdate, now time.Time) (*Client, error)
	// DeleteClient deletes the client and everything issued to it.
	DeleteClient(ctx context.Context, id string) error
	// ListClients lists clients; ownerID "" lists all.
	ListClients(ctx context.Context, ownerID string, opt ListOptions) ([]*Client, int, error)
}

// GrantStore keeps grants and the refresh-token chains hanging from them.
type GrantStore interface {
	CreateGrant(ctx context.Context, g *Grant) error
	GetGrant(ctx context.Context, id string) (*Grant, error)
	// TouchGrant records a use of the grant (LastUsedAt).
	TouchGrant(ctx context.Context, id string, now time.Time) error
	RevokeGrant(ctx context.Context, id string, now time.Time) error
	// RevokeGrants revokes every live grant of userID for clientID ("" for all clients).
	RevokeGrants(ctx context.Context, userID, clientID string, now time.Time) (int, error)
	// ListGrants lists a user's grants, newest first unless opt.Sort says otherwise.
	ListGrants(ctx context.Context, userID string, opt ListOptions) ([]*Grant, int, error)

	// IssueGrant creates a grant and its first refresh token in one
	// transaction (rt may be nil for grants without refresh tokens).
	IssueGrant(ctx context.Context, g *Grant, rt *RefreshToken) error
	GetRefreshToken(ctx context.Context, hash []byte) (*RefreshToken, error)
	// GetRefreshTokenGrant returns, in one read, the token stored under
	// hash (rotated or not), its grant (with ClientName) and the grant's
	// user (nil for grants without one, or when the user is gone; its
	// second-factor fields are left zero): the three look-ups of a refresh
	// request. ErrNotFound when the token is unknown.
	GetRefreshTokenGrant(ctx context.Context, hash []byte) (*RefreshToken, *Grant, *User, error)
	// RotateRefreshToken atomically retires r.OldHash and stores r.New, returning
	// the grant. ErrNotFound for an unknown token, ErrRevoked when its grant was
	// revoked, ErrReused (after revoking the grant) when the token had already been
	// rotated outside the grace window. Of N concurrent rotations of one token
	// exactly one succeeds when Grace is 0.
	RotateRefreshToken(ctx context.Context, r Rotation) (*Grant, error)
}

// CodeStore keeps authorization codes.
type CodeStore interface {
	CreateAuthCode(ctx context.Context, c *AuthCode) error
	// RedeemAuthCode marks the code used and issues the grant (with its first
	// refresh token, if rt is not nil) in one transaction. On a second
	// redemption it revokes the grant the first one created and returns
	// ErrAlreadyUsed; on an expired code ErrExpired.
	RedeemAuthCode(ctx context.Context, hash []byte, now time.Time, g *Grant, rt *RefreshToken) (*AuthCode, error)
}

// SessionStore keeps browser sessions.
type SessionStore interface {
	CreateSession(ctx context.Context, s *Session) error
	GetSession(ctx context.Context, id string) (*Session, error)
	TouchSession(ctx context.Context, id string, now, expires time.Time) error
	DeleteSession(ctx context.Context, id string) error
	// DeleteUserSessions ends every browser session of a user (after a
	// password change); it returns how many there were.
	DeleteUserSessions(ctx context.Context, userID string) (int, error)
}

// ConsentStore keeps what each person allowed each application.
type ConsentStore interface {
	GetConsent(ctx context.Context, userID, clientID string) (*Consent, error)
	// SaveConsent adds scopes to the user's consent for the client.
	SaveConsent(ctx context.Context, c *Consent) error
	DeleteConsent(ctx context.Context, userID, clientID string) error
}

// KeyStore keeps the signing keys.
type KeyStore interface {
	CreateSigningKey(ctx context.Context, k *SigningKey) error
	// ListSigningKeys returns keys not yet past ExpiresAt at now, newest first.
	ListSigningKeys(ctx context.Context, now time.Time) ([]*SigningKey, error)
	// RetireSigningKeys retires every active key of use, keeping each published
	// until now+keep.
	RetireSigningKeys(ctx context.Context, use string, now time.Time, keep time.Duration) error
}

// CounterStore keeps rate counters: fixed windows, exact across instances.
type CounterStore interface {
	// Hit adds one to key's counter for the window starting at windowStart and
	// returns the new count.
	Hit(ctx context.Context, key string, windowStart time.Time, expires time.Time) (int, error)
	// Count returns key's count for the window without adding to it.
	Count(ctx context.Context, key string, windowStart time.Time) (int, error)
	ResetCounter(ctx context.Context, key string) error
}

// EventStore keeps security events.
type EventStore interface {
	RecordEvent(ctx context.Context, e *Event) error
	ListEvents(ctx context.Context, opt ListOptions) ([]*Event, int, error)
}

// MetaStore keeps small key/value settings shared by every instance.
type MetaStore interface {
	GetMeta(ctx context.Context, key string) (string, error)
	// SetMetaIfAbsent stores value unless key exists, and returns the value
	// now stored (so concurrent first starts agree).
	SetMetaIfAbsent(ctx context.Context, key, value string) (string, error)
}

// EpochStore tells caches when to trust what they hold.
type EpochStore interface {
	// RevocationEpoch is a number the database itself bumps in the same
	// transaction as every grant revocation or deletion, every user
	// disabled, enabled, deleted or given another email, and every client
	// change or deletion — whoever makes the change (any instance, the
	// command line). A cache entry tagged with the epoch read before it was
	// loaded is trusted only while the epoch has not moved.
	RevocationEpoch(ctx context.Context) (int64, error)
	// LocalChanges counts the epoch-moving changes made through this
	// handle, counted after they committed, so this process sees its own
	// changes at once even when it shares epoch reads for a short window.
	LocalChanges() int64
}

// List fields each list accepts in ListOptions.Filters and Sort. Backends map
// them to columns and refuse anything else with ErrBadField; the API layer
// validates first so users see a JSON:API error.
var (
	UserFields   = []string{"email", "first_name", "last_name", "created_at"}
	ClientFields = []string{"name", "id", "created_at"}
	GrantFields  = []string{"name", "client_id", "created_at", "last_used_at"}
	EventFields  = []string{"type", "user_id", "client_id", "time"}
	MailFields   = []string{"state", "kind", "recipient", "created_at"}
	FilterOps    = []string{"eq", "ne", "contains", "nc", "like"}
)

// ErrBadField: a filter or sort names a field or operator the list does not have.
var ErrBadField = errors.New("store: unknown field or operator")
