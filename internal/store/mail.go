package store

import (
	"context"
	"time"
)

// Outbox states.
const (
	MailQueued   = "queued"   // waiting for its first attempt
	MailSending  = "sending"  // claimed by a deliverer until LeaseUntil
	MailSent     = "sent"     // accepted by the relay (or logged)
	MailRetrying = "retrying" // an attempt failed for a passing reason; next at NextAttemptAt
	MailFailed   = "failed"   // given up; LastError says why
)

// OutboxMessage is one message of the durable outbox. Body is the message
// (text, HTML and link) sealed by the mail package with the server secret:
// its links are bearer secrets, so it is never stored in clear, never
// listed, and erased once the message is sent or has failed.
type OutboxMessage struct {
	ID        string
	UserID    string // the account it is about; "" for none
	Kind      string // verify, reset, password_changed, email_change, email_change_notice, email_changed
	Recipient string
	Subject   string
	Lang      string
	MessageID string // the Message-ID header, fixed when queued so every attempt sends the same
	Body      []byte

	State         string
	Attempts      int
	NextAttemptAt time.Time
	LeaseUntil    time.Time
	// Claim identifies one claim of the message: marking it sent, retrying
	// or failed needs the claim it was given, so a deliverer whose lease
	// ran out (and whose message another one took) changes nothing.
	Claim     string
	LastError string
	CreatedAt time.Time
	SentAt    time.Time
}

// MailStore is the outbox. Messages are added only together with the
// change that causes them (AccountTokenStore) or by EnqueueMail; any
// instance delivers them.
type MailStore interface {
	// EnqueueMail adds messages (State queued, due at once when
	// NextAttemptAt is zero) in one transaction.
	EnqueueMail(ctx context.Context, msgs ...*OutboxMessage) error
	// ClaimMail claims up to limit messages due at now — queued or
	// retrying with NextAttemptAt ≤ now, or sending with an expired lease
	// (their deliverer died) — oldest first: each becomes sending until
	// now+lease, under a new Claim, with Attempts counted. Two concurrent
	// claims never return the same message (FOR UPDATE SKIP LOCKED on
	// PostgreSQL; SQLite's single writer).
	ClaimMail(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*OutboxMessage, error)
	// MarkMailSent records that the claimed message was delivered (and
	// erases its body). ErrNotFound when the claim is not current.
	MarkMailSent(ctx context.Context, id, claim string, now time.Time) error
	// MarkMailRetry schedules another attempt at next with reason.
	// ErrNotFound when the claim is not current.
	MarkMailRetry(ctx context.Context, id, claim string, next time.Time, reason string) error
	// MarkMailFailed gives up on the message with reason (and erases its
	// body). ErrNotFound when the claim is not current.
	MarkMailFailed(ctx context.Context, id, claim string, now time.Time, reason string) error
	// ListMail lists messages newest first, without their bodies.
	ListMail(ctx context.Context, opt ListOptions) ([]*OutboxMessage, int, error)
	// UpdateUserNotify is UserStore.UpdateUser that also queues the
	// messages notify builds for the account as changed (a notice of a
	// new password), in the same transaction. notify may run more than
	// once (a retried transaction), so it must only build.
	UpdateUserNotify(ctx context.Context, id string, upd UserUpdate, now time.Time, notify func(u *User) []*OutboxMessage) (*User, error)
}

// Account token purposes.
const (
	TokenVerify      = "verify"       // proves the address (24 h)
	TokenReset       = "reset"        // sets a new password (30 min)
	TokenEmailChange = "email_change" // confirms a new address
)

// AccountToken is a single-use link mailed to a person. Only the SHA-256
// hash of its ≥ 128 random bits is stored.
type AccountToken struct {
	Hash    []byte
	UserID  string
	Purpose string
	// EmailKey is the key of the address the link was sent to
	// (verification, reset; ""): the link is void once the account's
	// address is another one.
	EmailKey string
	// NewEmail, NewEmailKey: the address an email change confirms.
	NewEmail    string
	NewEmailKey string
	CreatedAt   time.Time
	ExpiresAt   time.Time
	UsedAt      time.Time
}

// Redemption is what following a link does, in one transaction with
// consuming it (AccountTokenStore.RedeemAccountToken).
type Redemption struct {
	Hash    []byte
	Purpose string
	Now     time.Time
	// PasswordHash (reset only): the new password. The reset also
	// revokes every grant of the account and ends every session.
	PasswordHash string
	// Notify builds the messages to queue with the change (nil: none),
	// given the account as changed. It may run more than once (a retried
	// transaction), so it must only build.
	Notify func(u *User) []*OutboxMessage
}

// AccountTokenStore keeps the mailed links and applies them. Every method
// that sends a link writes the link and its message in one transaction.
type AccountTokenStore interface {
	// CreateUserWithToken creates u (as CreateUser: ErrConflict on a taken
	// EmailKey) and stores t (UserID set from u) and queues m, in one
	// transaction.
	CreateUserWithToken(ctx context.Context, u *User, t *AccountToken, m *OutboxMessage) error
	// IssueAccountToken stores t and queues the messages build makes for
	// the account, in one transaction. The account is t.UserID's or, when
	// that is empty, the one whose EmailKey is t.EmailKey (t.UserID is then
	// filled in); it must not be disabled. ErrNotFound when there is no such
	// account: nothing is written.
	IssueAccountToken(ctx context.Context, t *AccountToken, build func(u *User) []*OutboxMessage) error
	// GetAccountToken returns the unused, unexpired token with hash for
	// purpose (ErrNotFound, ErrExpired, ErrAlreadyUsed otherwise) and its
	// account.
	GetAccountToken(ctx context.Context, hash []byte, purpose string, now time.Time) (*AccountToken, *User, error)
	// RedeemAccountToken consumes the token and applies it in one
	// transaction: verify sets EmailVerified; reset sets the password,
	// marks the address verified, revokes every grant and ends every
	// session; email_change sets the new address, verified (ErrConflict
	// when it is taken by then). Every other link of the same purpose of
	// the account dies with it, and an address change voids the links sent
	// to the old one. ErrNotFound (unknown, other purpose, disabled
	// account, or the address it was sent to is not the account's any
	// more), ErrExpired, ErrAlreadyUsed: nothing changes.
	RedeemAccountToken(ctx context.Context, r Redemption) (*AccountToken, *User, error)
}
