package sqlite_test

import (
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/store/sqlite"
)

func walSize(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path + "-wal")
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// TestWALBounded: a long read holds back checkpoints, so the write-ahead log
// grows past its usual size; once the read ends the log must shrink back to
// the limit (journal_size_limit) instead of keeping its largest size on
// disk (issue 12: it did, and a full volume stayed full), and Close leaves
// no log at all.
func TestWALBounded(t *testing.T) {
	const limit = 4 << 20 // walLimit
	path := filepath.Join(t.TempDir(), "auth.db")
	db, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := db.CreateUser(ctx, &store.User{ID: "u1", Email: "a@example.com", EmailKey: "a@example.com", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateClient(ctx, &store.Client{ID: "c1", Name: "App", Type: store.ClientPublic, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	n := 0
	issue := func() {
		t.Helper()
		n++
		g := &store.Grant{ID: fmt.Sprint("g", n), UserID: "u1", ClientID: "c1", GrantType: store.GrantPassword,
			Scopes: []string{"openid"}, CreatedAt: time.Now(), Claims: fmt.Sprintf("%01000d", n)}
		if err := db.IssueGrant(ctx, g, &store.RefreshToken{Hash: store.HashToken(fmt.Sprint("rt", n)), CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}

	// A reader (another process's, say) holding one snapshot open.
	reader, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	rtx, err := reader.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var users int
	if err := rtx.QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&users); err != nil {
		t.Fatal(err)
	}
	for i := 0; walSize(t, path) < 2*limit; i++ {
		if i == 50000 {
			t.Fatalf("the log did not grow past %d bytes in %d writes", 2*limit, i)
		}
		issue()
	}
	grown := walSize(t, path)
	if err := rtx.Rollback(); err != nil {
		t.Fatal(err)
	}

	// With the read over, checkpoints complete; the next reset of the log
	// truncates it to the limit.
	for i := 0; walSize(t, path) > limit; i++ {
		if i == 5000 {
			t.Fatalf("the log stayed at %d bytes (grew to %d; limit %d)", walSize(t, path), grown, limit)
		}
		issue()
	}
	t.Logf("log grew to %d bytes behind the reader, then shrank to %d", grown, walSize(t, path))

	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if s := walSize(t, path); s != 0 {
		t.Fatalf("log left behind after Close: %d bytes", s)
	}
}
