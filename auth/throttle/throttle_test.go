package throttle

import (
	"strconv"
	"sync"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time        { return c.t }
func (c *clock) add(d time.Duration)   { c.t = c.t.Add(d) }
func newClock() *clock                 { return &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }
func locked(l *Limiter, k string) bool { b, _ := l.Locked(k); return b }

func TestLockoutAfterMaxFailures(t *testing.T) {
	c := newClock()
	l := New(Config{MaxFailures: 3, Window: time.Minute, Lockout: 10 * time.Second, MaxLockout: 40 * time.Second, Now: c.now})
	for i := 1; i <= 2; i++ {
		if l.Fail("ann") {
			t.Fatalf("Fail #%d locked; want lock only at 3", i)
		}
	}
	if !l.Fail("ann") || !locked(l, "ann") {
		t.Fatal("third failure did not lock ann")
	}
	if locked(l, "bob") {
		t.Error("bob locked by ann's failures")
	}
	c.add(11 * time.Second)
	if locked(l, "ann") {
		t.Error("still locked after the lockout")
	}
	// Next lockout doubles.
	for range 3 {
		l.Fail("ann")
	}
	c.add(15 * time.Second)
	if !locked(l, "ann") {
		t.Error("second lockout did not double to 20s")
	}
	// Failing while locked extends, capped at MaxLockout.
	for range 10 {
		l.Fail("ann")
	}
	c.add(41 * time.Second)
	if locked(l, "ann") {
		t.Error("lockout exceeded MaxLockout")
	}
}

func TestWindowResets(t *testing.T) {
	c := newClock()
	l := New(Config{MaxFailures: 3, Window: time.Minute, Now: c.now})
	l.Fail("k")
	l.Fail("k")
	c.add(2 * time.Minute)
	if l.Fail("k") {
		t.Error("failures outside the window counted")
	}
}

func TestSucceedForgets(t *testing.T) {
	l := New(Config{MaxFailures: 2})
	l.Fail("k")
	l.Succeed("k")
	if l.Fail("k") {
		t.Error("Succeed did not reset the count")
	}
	l.Fail("k")
	l.Succeed("k") // locked: a success must not unlock
	if !locked(l, "k") {
		t.Error("Succeed unlocked a locked key")
	}
}

func TestBoundedMemory(t *testing.T) {
	l := New(Config{MaxKeys: 100})
	for i := range 10000 {
		l.Fail(strconv.Itoa(i))
	}
	if l.Len() > 100 {
		t.Errorf("Len = %d; want <= 100", l.Len())
	}
	if k := l.keys.Load(); k != int64(l.Len()) {
		t.Errorf("keys = %d, Len = %d: the lock-free count drifted", k, l.Len())
	}
}

// The lock-free answers for a Limiter with no keys stop as soon as one
// key is tracked, and come back when it is forgotten.
func TestNoKeysFastPath(t *testing.T) {
	c := newClock()
	l := New(Config{MaxFailures: 1, Lockout: time.Minute, Now: c.now})
	if locked(l, "k") {
		t.Fatal("a fresh limiter locked a key")
	}
	l.Fail("k")
	if !locked(l, "k") || l.keys.Load() != 1 {
		t.Fatalf("after a failure: locked %v, keys %d", locked(l, "k"), l.keys.Load())
	}
	c.add(2 * time.Minute)
	l.Succeed("k")
	if locked(l, "k") || l.keys.Load() != 0 || l.Len() != 0 {
		t.Fatalf("after the lockout and a success: locked %v, keys %d, Len %d", locked(l, "k"), l.keys.Load(), l.Len())
	}
}

func TestGuard(t *testing.T) {
	c := newClock()
	g := NewGuard(Config{MaxFailures: 3, Now: c.now})
	// One client spraying one password over many users is stopped.
	for i := range 3 {
		g.Record("user"+strconv.Itoa(i), "203.0.113.9", false)
	}
	if g.Allowed("fresh-user", "203.0.113.9") {
		t.Error("spraying client still allowed")
	}
	if !g.Allowed("fresh-user", "198.51.100.1") {
		t.Error("other client blocked")
	}
}

func TestConcurrent(t *testing.T) {
	l := New(Config{MaxFailures: 1000000})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 1000 {
				l.Fail(strconv.Itoa(i * j % 50))
				l.Locked("x")
				l.Succeed(strconv.Itoa(j % 7))
			}
		}()
	}
	wg.Wait()
}
