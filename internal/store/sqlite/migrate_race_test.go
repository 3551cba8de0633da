package sqlite_test

import (
	"path/filepath"
	"sync"
	"testing"

	"github.com/multinexo/auth/internal/store/sqlite"
)

// TestConcurrentMigrateAcrossPools starts several independently opened
// stores (as separate processes would be) migrating one new file at once.
func TestConcurrentMigrateAcrossPools(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, err := sqlite.Open(t.Context(), path)
			if err != nil {
				errs <- err
				return
			}
			defer db.Close()
			errs <- db.Migrate(t.Context())
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}
