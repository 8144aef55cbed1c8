// Package gate lets an end-to-end test hold a plugin at a point of its
// choosing and know when the plugin got there, so that tests wait for
// events instead of sleeping for "long enough".
//
// The test runs a Server on a loopback port (tests/harness starts one per
// httpd instance: Env.Gates). A test plugin that reaches a point the test
// cares about calls Wait with the URL of a named gate (the test passes it
// in the query string, a request header or a GoBridgeOption): the Server
// records the arrival, which the test sees on Arrived, and holds the
// plugin's request until the test calls Release, the plugin's context ends
// (the module gave up on the call: a timeout, a client that went away) or
// the Server closes. Notify records an arrival without waiting.
//
// HTTP on loopback rather than a file or a fifo: the plugins run as
// Apache's User, so anything in the file system would need its modes
// right, and a blocked HTTP request ends with the plugin's context.
package gate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
)

// Server holds the gates of one test run.
type Server struct {
	ln   net.Listener
	srv  *http.Server
	mu   sync.Mutex
	by   map[string]*gate
	done chan struct{}
	once sync.Once
}

type gate struct {
	arrived  chan struct{} // closed at the first arrival
	released chan struct{} // closed by Release
	count    int           // arrivals so far
	left     int           // requests that stopped waiting because their context ended
}

// NewServer starts a Server on a free port of 127.0.0.1.
func NewServer() (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("gate: listen: %w", err)
	}
	s := &Server{ln: ln, by: map[string]*gate{}, done: make(chan struct{})}
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serve)}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// URL returns the address a plugin passes to Wait or Notify for the gate
// called name (a path segment: letters, digits, '-', '_', '.').
func (s *Server) URL(name string) string {
	return fmt.Sprintf("http://%s/%s", s.ln.Addr(), name)
}

func (s *Server) get(name string) *gate {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.by[name]
	if g == nil {
		g = &gate{arrived: make(chan struct{}), released: make(chan struct{})}
		s.by[name] = g
	}
	return g
}

// Arrived returns a channel closed when the first caller reached the gate.
func (s *Server) Arrived(name string) <-chan struct{} { return s.get(name).arrived }

// Count returns how many callers have reached the gate.
func (s *Server) Count(name string) int {
	g := s.get(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	return g.count
}

// Abandoned returns how many callers stopped waiting at the gate because
// their request ended before Release: the plugin's context was cancelled.
func (s *Server) Abandoned(name string) int {
	g := s.get(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	return g.left
}

// Release lets every caller of the gate go on, now and later. Releasing
// twice is harmless.
func (s *Server) Release(name string) {
	g := s.get(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-g.released:
	default:
		close(g.released)
	}
}

// Close releases every gate and stops the Server.
func (s *Server) Close() {
	s.once.Do(func() {
		close(s.done)
		_ = s.srv.Close()
	})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/")
	g := s.get(name)
	s.mu.Lock()
	g.count++
	if g.count == 1 {
		close(g.arrived)
	}
	s.mu.Unlock()
	if r.URL.Query().Get("notify") == "1" {
		_, _ = io.WriteString(w, "noted\n")
		return
	}
	select {
	case <-g.released:
		_, _ = io.WriteString(w, "released\n")
	case <-s.done:
		http.Error(w, "gate server closed", http.StatusServiceUnavailable)
	case <-r.Context().Done():
		s.mu.Lock()
		g.left++
		s.mu.Unlock()
	}
}

// ErrNotReleased is returned by Wait when the Server closed without
// releasing the gate.
var ErrNotReleased = errors.New("gate: closed without release")

// Wait reports its arrival at the gate at url and returns when the test
// releases it (nil), when ctx ends (ctx's error) or when the Server closes
// (ErrNotReleased).
func Wait(ctx context.Context, url string) error { return call(ctx, url) }

// Notify reports an arrival at the gate at url without waiting for its
// release.
func Notify(ctx context.Context, url string) error {
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	return call(ctx, url+sep+"notify=1")
}

// client never goes through a proxy named in the environment: the gate is
// on loopback.
var client = &http.Client{Transport: &http.Transport{Proxy: nil}}

func call(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("gate %s: %w", url, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("gate %s: %w", url, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("gate %s: %w (%s)", url, ErrNotReleased, resp.Status)
	}
	return nil
}
