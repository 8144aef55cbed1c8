package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// Options configures a Supervisor. Zero values mean the documented default.
type Options struct {
	// Dir is the runtime directory (GoBridgeSocketDir). It must exist, be
	// owned by the effective user and have mode 0700. Required.
	Dir string

	// Logger receives gobridged's and the plugins' log records. Use
	// slog.New(NewHandler(os.Stderr, level)) for httpd's line format.
	// Default: slog.Default().
	Logger *slog.Logger

	// StartTimeout bounds a plugin's start: from exec to go-plugin's
	// handshake line. Default: 10 s.
	StartTimeout time.Duration

	// Grace is how long a plugin may take to stop after SIGTERM (in-flight
	// calls finishing, streamed responses included) before it is killed.
	// Default: 10 s.
	Grace time.Duration

	// HealthInterval is the period of health checks through go-plugin's
	// gRPC health service. Negative disables them. Default: 10 s.
	HealthInterval time.Duration

	// HealthTimeout bounds one health check. Default: 2 s.
	HealthTimeout time.Duration

	// HealthFailures is how many consecutive failed checks make gobridged
	// restart a plugin that is still running. Default: 3.
	HealthFailures int

	// MinBackoff, MaxBackoff and ResetAfter shape the restart delay: MinBackoff
	// doubling to MaxBackoff, back to MinBackoff after a process stayed up
	// for ResetAfter. Defaults: 100 ms, 30 s, 60 s.
	MinBackoff, MaxBackoff, ResetAfter time.Duration
}

func (o *Options) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	def(&o.StartTimeout, 10*time.Second)
	def(&o.Grace, 10*time.Second)
	def(&o.HealthInterval, 10*time.Second)
	def(&o.HealthTimeout, 2*time.Second)
	if o.HealthFailures <= 0 {
		o.HealthFailures = 3
	}
	def(&o.MinBackoff, 100*time.Millisecond)
	def(&o.MaxBackoff, 30*time.Second)
	def(&o.ResetAfter, 60*time.Second)
}

// Supervisor runs the plugins declared in a runtime directory's spec. Its
// methods are safe for concurrent use; Start, Reload and Stop run one at a
// time.
type Supervisor struct {
	opts    Options
	log     *slog.Logger
	reg     *registry
	sockDir string

	op      sync.Mutex // serializes Start, Reload and Stop
	mu      sync.Mutex // guards the fields below
	plugins map[string]*managed
	started bool
	stopped bool
}

// PluginStatus is a snapshot of one supervised plugin.
type PluginStatus struct {
	Name     string
	PID      int    // 0 while the plugin is down
	Socket   string // the real socket, "" while down
	Restarts int    // starts after the first one
}

// New checks the runtime directory, creates its s/ subdirectory and
// removes what an earlier gobridged may have left behind. It starts nothing.
func New(opts Options) (*Supervisor, error) {
	opts.setDefaults()
	if opts.Dir == "" {
		return nil, fmt.Errorf("%w: no runtime directory given", ErrRuntimeDir)
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRuntimeDir, err)
	}
	opts.Dir = dir
	if err := checkPrivateDir(dir); err != nil {
		return nil, err
	}
	sockDir, err := ensureSocketDir(dir)
	if err != nil {
		return nil, err
	}
	s := &Supervisor{
		opts:    opts,
		log:     opts.Logger,
		reg:     newRegistry(dir),
		sockDir: sockDir,
		plugins: make(map[string]*managed),
	}
	if err := s.reg.cleanStale(); err != nil {
		return nil, fmt.Errorf("%w: cleaning stale sockets: %v", ErrRuntimeDir, err)
	}
	return s, nil
}

// SocketPath returns the published path of plugin name: DIR/NAME.sock.
func (s *Supervisor) SocketPath(name string) string { return s.reg.Path(name) }

// Start writes the pid file, reads the spec and starts every plugin. It
// returns once each plugin's first start attempt ended; a plugin that failed
// to start is retried in the background. Start fails only when the spec is
// invalid or the pid file cannot be written.
func (s *Supervisor) Start() error {
	s.op.Lock()
	defer s.op.Unlock()
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return ErrStopped
	}
	if s.started {
		s.mu.Unlock()
		return errors.New("bridge: Supervisor.Start called twice")
	}
	s.mu.Unlock()

	spec, err := ReadSpec(filepath.Join(s.opts.Dir, SpecFile))
	if err != nil {
		return err
	}
	if err := writePIDFile(s.opts.Dir, os.Getpid()); err != nil {
		return fmt.Errorf("%w: writing pid file: %v", ErrRuntimeDir, err)
	}
	s.mu.Lock()
	s.started = true
	s.mu.Unlock()
	added := make([]*managed, 0, len(spec.Plugins))
	for _, p := range spec.Plugins {
		added = append(added, s.spawn(p))
	}
	for _, m := range added {
		<-m.first
	}
	s.log.Info("gobridged started", "plugins", len(spec.Plugins), "dir", s.opts.Dir)
	return nil
}

// spawn starts supervising p and records it as the current plugin p.Name.
func (s *Supervisor) spawn(p PluginSpec) *managed {
	m := newManaged(s, p)
	s.mu.Lock()
	s.plugins[p.Name] = m
	s.mu.Unlock()
	go m.run()
	return m
}

// Reload re-reads the spec and reconciles: plugins whose name, path and
// arguments are unchanged keep running untouched; changed ones are started
// anew, and once the new process's start attempt ended (published, or
// failed and being retried) the old one is stopped gracefully; removed ones
// are stopped. An invalid spec changes nothing and is returned.
func (s *Supervisor) Reload() error {
	s.op.Lock()
	defer s.op.Unlock()
	s.mu.Lock()
	if s.stopped || !s.started {
		s.mu.Unlock()
		return ErrStopped
	}
	s.mu.Unlock()

	spec, err := ReadSpec(filepath.Join(s.opts.Dir, SpecFile))
	if err != nil {
		return err
	}
	s.mu.Lock()
	old := s.plugins
	s.mu.Unlock()

	var started, retire []*managed
	keep := make(map[string]bool, len(spec.Plugins))
	unchanged := 0
	for _, p := range spec.Plugins {
		keep[p.Name] = true
		if m := old[p.Name]; m != nil && m.spec.Equal(p) {
			unchanged++
			continue
		} else if m != nil {
			retire = append(retire, m)
		}
		started = append(started, s.spawn(p))
	}
	replaced := len(retire)
	for name, m := range old {
		if !keep[name] {
			retire = append(retire, m)
			s.mu.Lock()
			delete(s.plugins, name)
			s.mu.Unlock()
		}
	}
	for _, m := range started {
		<-m.first
	}
	stopAll(retire)
	s.log.Info("spec reloaded", "unchanged", unchanged, "started", len(started)-replaced,
		"replaced", replaced, "removed", len(retire)-replaced)
	return nil
}

// Stop stops every plugin (in reverse spec order, concurrently: SIGTERM,
// Options.Grace, SIGKILL), never restarting one, and removes the pid file.
// It returns ctx.Err() if ctx ends first; the plugins are still being
// stopped then.
func (s *Supervisor) Stop(ctx context.Context) error {
	s.op.Lock()
	defer s.op.Unlock()
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return nil
	}
	s.stopped = true
	ms := make([]*managed, 0, len(s.plugins))
	for _, m := range s.plugins {
		ms = append(ms, m)
	}
	s.mu.Unlock()
	slices.SortFunc(ms, func(a, b *managed) int { return b.spec.Line - a.spec.Line })

	done := make(chan struct{})
	go func() {
		stopAll(ms)
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	removePIDFile(s.opts.Dir, os.Getpid())
	s.log.Info("gobridged stopped", "plugins", len(ms))
	return nil
}

// stopAll asks every plugin to stop, in order, and waits for all of them.
func stopAll(ms []*managed) {
	for _, m := range ms {
		m.requestStop()
	}
	for _, m := range ms {
		<-m.done
	}
}

// Plugins returns a snapshot of the supervised plugins in spec order.
func (s *Supervisor) Plugins() []PluginStatus {
	s.mu.Lock()
	ms := make([]*managed, 0, len(s.plugins))
	for _, m := range s.plugins {
		ms = append(ms, m)
	}
	s.mu.Unlock()
	slices.SortFunc(ms, func(a, b *managed) int { return a.spec.Line - b.spec.Line })
	out := make([]PluginStatus, 0, len(ms))
	for _, m := range ms {
		out = append(out, m.status())
	}
	return out
}
