// Package lockcache remembers, in one process, the keys a throttle found
// locked (an account, a client address, a client and address pair) until
// their window ends, so later attempts are refused before any store access
// or hashing. The store keeps the counters every instance shares; this is
// only the shortcut, so a cache that fills up starts over and loses nothing
// but time.
package lockcache

import (
	"sync"
	"time"
)

// Cache is safe for concurrent use; the zero value is ready.
type Cache struct {
	// Max bounds the keys remembered; 0: 100,000. When full, the cache
	// starts over.
	Max int

	mu sync.Mutex
	m  map[string]time.Time // key → end of the locked window
}

// Lock records key as locked until end. It reports whether this is news
// here (the key was not already locked until end or later): one event per
// lock and instance, not one per attempt.
func (c *Cache) Lock(key string, end time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	limit := c.Max
	if limit <= 0 {
		limit = 100_000
	}
	if c.m == nil || len(c.m) >= limit {
		c.m = make(map[string]time.Time)
	}
	if e, ok := c.m[key]; ok && !e.Before(end) {
		return false
	}
	c.m[key] = end
	return true
}

// Until returns the end of the lock of the first of keys locked at now
// ("" keys are skipped); false when none is. Locks that have ended are
// forgotten.
func (c *Cache) Until(now time.Time, keys ...string) (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range keys {
		if k == "" {
			continue
		}
		if e, ok := c.m[k]; ok {
			if now.Before(e) {
				return e, true
			}
			delete(c.m, k)
		}
	}
	return time.Time{}, false
}
