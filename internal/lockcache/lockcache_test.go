package lockcache

import (
	"testing"
	"time"
)

func TestCache(t *testing.T) {
	var c Cache
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, ok := c.Until(t0, "a"); ok {
		t.Fatal("empty cache reports a lock")
	}
	if !c.Lock("a", t0.Add(time.Minute)) || c.Lock("a", t0.Add(30*time.Second)) {
		t.Fatal("Lock news: first true, an earlier end false")
	}
	if !c.Lock("a", t0.Add(2*time.Minute)) {
		t.Fatal("a later end is news")
	}
	if end, ok := c.Until(t0, "", "b", "a"); !ok || !end.Equal(t0.Add(2*time.Minute)) {
		t.Fatalf("Until = %v %v", end, ok)
	}
	if _, ok := c.Until(t0.Add(2*time.Minute), "a"); ok {
		t.Fatal("a lock past its end")
	}
	if !c.Lock("a", t0.Add(3*time.Minute)) {
		t.Fatal("an ended lock was not forgotten")
	}
	small := Cache{Max: 2}
	small.Lock("x", t0.Add(time.Hour))
	small.Lock("y", t0.Add(time.Hour))
	small.Lock("z", t0.Add(time.Hour)) // full: starts over
	if _, ok := small.Until(t0, "x"); ok {
		t.Error("a full cache did not start over")
	}
	if _, ok := small.Until(t0, "z"); !ok {
		t.Error("the key that started the new cache is lost")
	}
}
