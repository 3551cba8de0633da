package mail

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/multinexo/auth/internal/store"
)

// Outbox is what a Deliverer needs from the store.
type Outbox interface {
	ClaimMail(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*store.OutboxMessage, error)
	MarkMailSent(ctx context.Context, id, claim string, now time.Time) error
	MarkMailRetry(ctx context.Context, id, claim string, next time.Time, reason string) error
	MarkMailFailed(ctx context.Context, id, claim string, now time.Time, reason string) error
}

// DelivererConfig configures a Deliverer. Zero values take the defaults.
type DelivererConfig struct {
	Outbox   Outbox
	Composer *Composer
	Sender   Sender
	From     string
	Now      func() time.Time
	Log      *slog.Logger
	// Every: how often the outbox is polled (default 5 s); Notify wakes
	// the deliverer sooner.
	Every time.Duration
	// Lease: how long a claimed message is this deliverer's before another
	// may take it (default 2 min, and at least twice SendTimeout).
	Lease time.Duration
	// Batch: messages claimed at once (default 10).
	Batch int
	// FirstRetry, MaxRetry: the backoff after a passing failure starts at
	// FirstRetry and doubles up to MaxRetry (defaults 1 min, 2 h).
	FirstRetry, MaxRetry time.Duration
	// GiveUpAfter: a message still undelivered this long after it was
	// queued fails at its next passing failure (default 25 h: retries
	// last at least 24 h).
	GiveUpAfter time.Duration
	// SendTimeout bounds one send (default 60 s).
	SendTimeout time.Duration
	// Observe, if set, is told the result of every attempt: "sent",
	// "retry" or "failed" (metrics).
	Observe func(result string)
}

// Deliverer sends what the outbox holds. Every instance runs one; the
// store's claims keep two from sending one message.
type Deliverer struct {
	cfg  DelivererConfig
	wake chan struct{}
}

// NewDeliverer builds a Deliverer.
func NewDeliverer(cfg DelivererConfig) *Deliverer {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Every <= 0 {
		cfg.Every = 5 * time.Second
	}
	if cfg.SendTimeout <= 0 {
		cfg.SendTimeout = 60 * time.Second
	}
	if cfg.Lease < 2*cfg.SendTimeout {
		// Room for at least one send, whatever was configured.
		cfg.Lease = max(2*time.Minute, 2*cfg.SendTimeout)
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 10
	}
	if cfg.FirstRetry <= 0 {
		cfg.FirstRetry = time.Minute
	}
	if cfg.MaxRetry <= 0 {
		cfg.MaxRetry = 2 * time.Hour
	}
	if cfg.GiveUpAfter <= 0 {
		cfg.GiveUpAfter = 25 * time.Hour
	}
	return &Deliverer{cfg: cfg, wake: make(chan struct{}, 1)}
}

// Notify asks the deliverer to look at the outbox now (something was
// queued by this instance). It never blocks.
func (d *Deliverer) Notify() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends.
func (d *Deliverer) Run(ctx context.Context) {
	t := time.NewTicker(d.cfg.Every)
	defer t.Stop()
	for {
		for {
			n, err := d.RunOnce(ctx)
			if err != nil && ctx.Err() == nil {
				d.cfg.Log.Error("mail outbox", "error", err.Error())
			}
			if err != nil || n < d.cfg.Batch {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-d.wake:
		}
	}
}

// RunOnce claims one batch of due messages and tries each once; it returns
// how many it claimed.
func (d *Deliverer) RunOnce(ctx context.Context) (int, error) {
	msgs, err := d.cfg.Outbox.ClaimMail(ctx, d.cfg.Now(), d.cfg.Lease, d.cfg.Batch)
	if err != nil {
		return 0, err
	}
	var errs []error
	for _, m := range msgs {
		if d.cfg.Now().Add(d.cfg.SendTimeout).After(m.LeaseUntil) {
			// Earlier sends of the batch took so long that this one might
			// outlive its lease and be taken by another deliverer too:
			// leave it; it is claimed again when the lease ends.
			continue
		}
		errs = append(errs, d.deliver(ctx, m))
	}
	return len(msgs), errors.Join(errs...)
}

// Backoff is the wait after the attempts-th failed attempt.
func (d *Deliverer) Backoff(attempts int) time.Duration {
	w := d.cfg.FirstRetry
	for i := 1; i < attempts && w < d.cfg.MaxRetry; i++ {
		w *= 2
	}
	return min(w, d.cfg.MaxRetry)
}

func (d *Deliverer) deliver(ctx context.Context, m *store.OutboxMessage) error {
	ct, err := d.cfg.Composer.Open(m)
	if err != nil {
		// Sealed with another secret, or emptied: no retry can send it.
		return d.cfg.Outbox.MarkMailFailed(ctx, m.ID, m.Claim, d.cfg.Now(), "cannot open the message: "+err.Error())
	}
	out := &Outgoing{From: d.cfg.From, To: m.Recipient, Subject: m.Subject, MessageID: m.MessageID,
		Lang: m.Lang, Date: m.CreatedAt, Content: *ct}
	sctx, cancel := context.WithTimeout(ctx, d.cfg.SendTimeout)
	err = d.cfg.Sender.Send(sctx, out)
	cancel()
	now := d.cfg.Now()
	var perm *PermanentError
	result := "failed"
	defer func() {
		if d.cfg.Observe != nil {
			d.cfg.Observe(result)
		}
	}()
	switch {
	case err == nil:
		result = "sent"
		d.cfg.Log.InfoContext(ctx, "mail sent", "id", m.ID, "kind", m.Kind, "attempts", m.Attempts)
		return d.cfg.Outbox.MarkMailSent(ctx, m.ID, m.Claim, now)
	case errors.As(err, &perm):
		d.cfg.Log.WarnContext(ctx, "mail refused for good", "id", m.ID, "kind", m.Kind, "error", err.Error())
		return d.cfg.Outbox.MarkMailFailed(ctx, m.ID, m.Claim, now, err.Error())
	case now.Sub(m.CreatedAt) >= d.cfg.GiveUpAfter:
		d.cfg.Log.WarnContext(ctx, "mail given up", "id", m.ID, "kind", m.Kind, "error", err.Error())
		return d.cfg.Outbox.MarkMailFailed(ctx, m.ID, m.Claim, now,
			"not delivered after "+d.cfg.GiveUpAfter.String()+": "+err.Error())
	}
	result = "retry"
	next := now.Add(d.Backoff(m.Attempts))
	d.cfg.Log.WarnContext(ctx, "mail will be retried", "id", m.ID, "kind", m.Kind, "attempts", m.Attempts,
		"next_attempt_at", next, "error", err.Error())
	return d.cfg.Outbox.MarkMailRetry(ctx, m.ID, m.Claim, next, err.Error())
}
