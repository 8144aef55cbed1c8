// Package throttle slows down password guessing: it counts failed logins
// per key (a user name, a client address) and locks a key out for a while
// once it failed too often within a window. While a key is locked out,
// logins are refused without looking at the password, so guessing gains
// nothing, and each further failure during the lockout extends it
// (doubling, up to MaxLockout).
//
// Memory is bounded: at most MaxKeys keys are tracked; beyond that the
// least recently touched ones are forgotten.
package throttle

import (
	"container/list"
	"sync"
	"sync/atomic"
	"time"
)

// Config tunes a Limiter. Zero fields take the defaults shown.
type Config struct {
	MaxFailures int           // failures within Window before a lockout (5)
	Window      time.Duration // counting window (1m)
	Lockout     time.Duration // first lockout (1m), doubling on each renewal
	MaxLockout  time.Duration // longest lockout (1h)
	MaxKeys     int           // keys tracked at most (100000)
	Now         func() time.Time
}

func (c Config) withDefaults() Config {
	if c.MaxFailures <= 0 {
		c.MaxFailures = 5
	}
	if c.Window <= 0 {
		c.Window = time.Minute
	}
	if c.Lockout <= 0 {
		c.Lockout = time.Minute
	}
	if c.MaxLockout < c.Lockout {
		c.MaxLockout = max(time.Hour, c.Lockout)
	}
	if c.MaxKeys <= 0 {
		c.MaxKeys = 100000
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

type entry struct {
	key      string
	failures int
	since    time.Time // start of the counting window
	until    time.Time // locked out until
	lockout  time.Duration
	elem     *list.Element
}

// Limiter counts failures per key; safe for concurrent use.
type Limiter struct {
	cfg Config
	mu  sync.Mutex
	m   map[string]*entry
	lru *list.List // front: most recently touched
	// keys is len(m), kept under mu and read without it: while no login
	// has failed, Locked and Succeed answer without taking mu, so that
	// concurrent logins do not queue behind each other.
	keys atomic.Int64
}

// New returns a Limiter.
func New(cfg Config) *Limiter {
	return &Limiter{cfg: cfg.withDefaults(), m: make(map[string]*entry), lru: list.New()}
}

// Config returns the effective configuration.
func (l *Limiter) Config() Config { return l.cfg }

// Locked reports whether key is locked out now, and until when.
func (l *Limiter) Locked(key string) (bool, time.Time) {
	if l.keys.Load() == 0 {
		return false, time.Time{}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.m[key]
	if e == nil {
		return false, time.Time{}
	}
	now := l.cfg.Now()
	if now.Before(e.until) {
		return true, e.until
	}
	return false, time.Time{}
}

// Fail records a failed login for key. It reports whether key is now
// locked out.
func (l *Limiter) Fail(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.cfg.Now()
	e := l.get(key, now)
	if now.Before(e.until) {
		// Failing while locked out: extend, doubling.
		e.lockout = min(2*e.lockout, l.cfg.MaxLockout)
		e.until = now.Add(e.lockout)
		return true
	}
	if now.Sub(e.since) > l.cfg.Window {
		e.failures, e.since = 0, now
	}
	e.failures++
	if e.failures >= l.cfg.MaxFailures {
		if e.lockout == 0 {
			e.lockout = l.cfg.Lockout
		} else {
			e.lockout = min(2*e.lockout, l.cfg.MaxLockout)
		}
		e.until = now.Add(e.lockout)
		e.failures, e.since = 0, now
		return true
	}
	return false
}

// Succeed forgets key's failures (call after a successful login that was
// not locked out).
func (l *Limiter) Succeed(key string) {
	if l.keys.Load() == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if e := l.m[key]; e != nil && !l.cfg.Now().Before(e.until) {
		l.lru.Remove(e.elem)
		delete(l.m, key)
		l.keys.Add(-1)
	}
}

// Len returns the number of keys tracked.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.m)
}

func (l *Limiter) get(key string, now time.Time) *entry {
	if e := l.m[key]; e != nil {
		l.lru.MoveToFront(e.elem)
		return e
	}
	for len(l.m) >= l.cfg.MaxKeys {
		old := l.lru.Back()
		oe := old.Value.(*entry)
		l.lru.Remove(old)
		delete(l.m, oe.key)
		l.keys.Add(-1)
	}
	e := &entry{key: key, since: now}
	e.elem = l.lru.PushFront(e)
	l.m[key] = e
	l.keys.Add(1)
	return e
}

// Guard combines a per-user and a per-client-address Limiter, the usual
// brute-force defence for a login: guessing many passwords for one user
// and trying one password on many users are both slowed down.
type Guard struct {
	User   *Limiter
	Client *Limiter
}

// NewGuard returns a Guard with one Config for both limiters.
func NewGuard(cfg Config) *Guard {
	return &Guard{User: New(cfg), Client: New(cfg)}
}

// Allowed reports whether a login of user from client may be checked now.
func (g *Guard) Allowed(user, client string) bool {
	if locked, _ := g.User.Locked(user); locked {
		return false
	}
	locked, _ := g.Client.Locked(client)
	return !locked
}

// Record records the outcome of a checked login.
func (g *Guard) Record(user, client string, ok bool) {
	if ok {
		g.User.Succeed(user)
		g.Client.Succeed(client)
		return
	}
	g.User.Fail(user)
	g.Client.Fail(client)
}
