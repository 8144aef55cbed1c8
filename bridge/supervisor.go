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
	lock    *dirLock

	op      sync.Mutex    // serializes Start, Reload and Stop
	quit    chan struct{} // closed by Stop: ends watchBuilds
	mu      sync.Mutex    // guards the fields below
	plugins map[string]*managed
	started bool
	stopped bool
	// autoReload is the spec's AutoReload, as last read.
	autoReload time.Duration

	startedAt  time.Time  // when New returned (the status file)
	statusMu   sync.Mutex // serializes status file writes
	statusGone bool       // removeStatus ran: write no more
}

// PluginStatus is a snapshot of one supervised plugin.
type PluginStatus struct {
	Name     string
	State    string    // StateStarting, StateRunning or StateDown
	PID      int       // 0 while the plugin is down
	Socket   string    // the real socket, "" while down
	Started  time.Time // when the current process started; zero while down
	Restarts int       // starts after the first one (of this build and line)

	// How the last process ended: LastExit is "" if none ended yet, else
	// ExitExited, ExitUnhealthy or ExitStartFailed; LastExitDetail is the
	// exit status or signal ("exit status 2", "signal: killed").
	LastExit       string
	LastExitAt     time.Time
	LastExitDetail string
}

// maxSocketPath is the longest unix socket path Linux accepts
// (sizeof(sun_path) - 1).
const maxSocketPath = 107

// New checks the runtime directory, takes its lock (one gobridged per
// directory: the pid file is flock(2)ed), creates its s/ subdirectory and
// removes what an earlier gobridged may have left behind. It starts
// nothing; call Stop to release the directory.
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
	if n := len(sockDir) + len("/plugin") + 10; n > maxSocketPath {
		return nil, fmt.Errorf("%w: %s is too long for unix socket paths (%d of %d bytes); choose a shorter GoBridgeSocketDir", ErrRuntimeDir, dir, n, maxSocketPath)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	s := &Supervisor{
		lock:    lock,
		opts:    opts,
		log:     opts.Logger,
		reg:     newRegistry(dir),
		sockDir: sockDir,
		plugins: make(map[string]*managed),
		quit:    make(chan struct{}),

		startedAt: time.Now(),
	}
	if err := s.reg.cleanStale(); err != nil {
		lock.release()
		return nil, fmt.Errorf("%w: cleaning stale sockets: %v", ErrRuntimeDir, err)
	}
	return s, nil
}

// SocketPath returns the published path of plugin name: DIR/NAME.sock.
func (s *Supervisor) SocketPath(name string) string { return s.reg.Path(name) }

// Start writes the pid file, reads the spec and starts every plugin. It
// returns once each plugin's first start attempt ended; a plugin that failed
// to start is retried in the background. Start fails only when the spec is
// invalid or the pid file cannot be written. A concurrent Stop aborts it.
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
	insts, err := spec.Instances()
	if err != nil {
		return err
	}
	if err := s.lock.writePID(os.Getpid()); err != nil {
		return fmt.Errorf("%w: writing pid file: %v", ErrRuntimeDir, err)
	}
	s.mu.Lock()
	s.started = true
	s.autoReload = spec.AutoReload
	added, err := s.spawnLocked(insts)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	// At once, so that a file left by a gobridged that was killed shows
	// no stale pids while the plugins start.
	s.writeStatus()
	go s.watchBuilds()
	for _, m := range added {
		<-m.first
	}
	s.writeStatus()
	s.log.Info("gobridged started", "plugins", len(insts), "dir", s.opts.Dir)
	return nil
}

// spawnLocked starts supervising ps and records them as the current
// plugins of their names. s.mu must be held: no spawn happens once Stop has
// begun.
func (s *Supervisor) spawnLocked(ps []PluginSpec) ([]*managed, error) {
	if s.stopped {
		return nil, ErrStopped
	}
	ms := make([]*managed, 0, len(ps))
	for _, p := range ps {
		m := newManaged(s, p)
		s.plugins[p.Name] = m
		go m.run()
		ms = append(ms, m)
	}
	return ms, nil
}

// Reload re-reads the spec and reconciles: plugins whose name, path,
// arguments and build are unchanged keep running untouched; changed ones
// are started anew (blue/green): once the new process is up and published,
// the old one is stopped gracefully. If the new process does not start,
// the old one keeps serving and the error is logged; the next Reload tries
// again. Removed plugins are stopped. An invalid spec changes nothing and
// is returned.
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
	insts, err := spec.Instances()
	if err != nil {
		return err
	}

	s.mu.Lock()
	s.autoReload = spec.AutoReload
	var changed, retire []*managed
	replacing := make(map[string]*managed)
	keep := make(map[string]bool, len(insts))
	var fresh []PluginSpec
	for _, p := range insts {
		keep[p.Name] = true
		m := s.plugins[p.Name]
		switch {
		case m != nil && m.spec.Equal(p):
			m.setUses(p.Uses)
			continue
		case m != nil:
			replacing[p.Name] = m
		}
		fresh = append(fresh, p)
	}
	var removed []*managed
	for name, m := range s.plugins {
		if !keep[name] {
			removed = append(removed, m)
		}
	}
	started, err := s.spawnLocked(fresh)
	if err == nil {
		for _, m := range removed {
			delete(s.plugins, m.spec.Name)
		}
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	changed, failed := s.settle(started, replacing)
	retire = append(changed, removed...)
	stopAll(retire)
	s.writeStatus()
	s.log.Info("spec reloaded", "unchanged", len(insts)-len(started),
		"started", len(started)-len(replacing), "replaced", len(changed), "kept", failed, "removed", len(removed))
	return nil
}

// settle waits for the first start of each process in started and sorts
// the ones they replace (replacing, by name): retire holds those whose
// replacement is up, to be stopped; the others were put back (keepOld).
func (s *Supervisor) settle(started []*managed, replacing map[string]*managed) (retire []*managed, kept int) {
	for _, m := range started {
		<-m.first
		old := replacing[m.spec.Name]
		switch {
		case old == nil:
		case m.status().PID != 0:
			retire = append(retire, old)
		default:
			s.keepOld(old, m)
			kept++
		}
	}
	return retire, kept
}

// Replacement says what Replace did with one plugin.
type Replacement struct {
	Name    string
	Outcome string // "replaced", "kept" (the new process did not start), "unchanged", "down", "unknown"
	OldPID  int
	NewPID  int
}

// Replace starts a new process for each plugin in names (a pool's name:
// for each of its processes) — or, when names is empty, for each
// running plugin whose binary changed since its process started — and
// retires the old process once the new one is up, as Reload
// does for a changed spec: a deploy script can roll out a new build
// without httpd. A new process that does not start leaves the old one
// serving. The results are in the order of names (or of plugin names).
func (s *Supervisor) Replace(names []string) ([]Replacement, error) {
	s.op.Lock()
	defer s.op.Unlock()
	s.mu.Lock()
	if s.stopped || !s.started {
		s.mu.Unlock()
		return nil, ErrStopped
	}
	all := len(names) == 0
	names = s.instanceNamesLocked(names)
	results := make([]Replacement, 0, len(names))
	replacing := make(map[string]*managed)
	var specs []PluginSpec
	for _, name := range names {
		r := Replacement{Name: name}
		m := s.plugins[name]
		switch {
		case m == nil:
			r.Outcome = "unknown"
		case m.status().PID == 0:
			r.Outcome = "down" // its restarts already use the binary at the path
		case all && !m.binaryChanged():
			r.Outcome, r.OldPID = "unchanged", m.status().PID
		case replacing[name] != nil:
			continue // named twice
		default:
			r.OldPID = m.status().PID
			replacing[name] = m
			spec := m.spec
			spec.Uses = m.currentUses()
			// The build it is, as httpd's module will write it into the
			// spec: the next graceful restart then finds it unchanged.
			spec.Build = binaryID(spec.Path)
			specs = append(specs, spec)
		}
		results = append(results, r)
	}
	started, err := s.spawnLocked(specs)
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	retire, kept := s.settle(started, replacing)
	stopAll(retire)
	for i := range results {
		r := &results[i]
		if replacing[r.Name] == nil || r.Outcome != "" {
			continue
		}
		for _, m := range started {
			if m.spec.Name == r.Name && m.status().PID != 0 {
				r.Outcome, r.NewPID = "replaced", m.status().PID
			}
		}
		if r.Outcome == "" {
			r.Outcome = "kept"
			replacing[r.Name].setFailedBuild(binaryID(replacing[r.Name].spec.Path))
		}
	}
	s.writeStatus()
	s.log.Info("plugins replaced on request", "replaced", len(retire), "kept", kept, "asked", len(results))
	return results, nil
}

// instanceNamesLocked returns the supervised instances names stand for: a
// pool's name stands for its processes, in order; no names, for every
// instance, sorted. Unknown names are kept, for Replace to report. s.mu
// must be held.
func (s *Supervisor) instanceNamesLocked(names []string) []string {
	var out []string
	if len(names) == 0 {
		for name := range s.plugins {
			out = append(out, name)
		}
		slices.Sort(out)
		return out
	}
	for _, name := range names {
		n := len(out)
		for inst, m := range s.plugins {
			if m.spec.Pool == name {
				out = append(out, inst)
			}
		}
		slices.Sort(out[n:])
		if len(out) == n {
			out = append(out, name)
		}
	}
	return out
}

// watchBuilds starts new builds of the plugins' binaries as they appear,
// every AutoReload interval (GoBridgeAutoReload), until Stop. A build that
// did not start is not tried again until the binary changes once more.
func (s *Supervisor) watchBuilds() {
	for {
		s.mu.Lock()
		every := s.autoReload
		changed := false
		for _, m := range s.plugins {
			changed = changed || (every > 0 && m.binaryChanged())
		}
		s.mu.Unlock()
		if changed {
			if _, err := s.Replace(nil); err != nil && !errors.Is(err, ErrStopped) {
				s.log.Error("looking for new builds: " + err.Error())
			}
		}
		if every <= 0 {
			every = time.Second // off: look at the setting again later
		}
		select {
		case <-s.quit:
			return
		case <-time.After(every):
		}
	}
}

// keepOld puts old back in place of its replacement, whose first start
// failed: the new process is given up, the old one stays published.
func (s *Supervisor) keepOld(old, m *managed) {
	m.requestStop()
	<-m.done
	s.mu.Lock()
	if s.plugins[m.spec.Name] == m {
		s.plugins[m.spec.Name] = old
	}
	s.mu.Unlock()
	s.writeStatus()
	st := old.status()
	if st.Socket != "" {
		// The new process may have been up for a moment and published.
		if err := s.reg.Publish(old.spec.Name, st.Socket); err != nil {
			s.log.Error(fmt.Sprintf("plugin %q: re-publishing the running process: %v", old.spec.Name, err), "pid", st.PID)
		}
	}
	s.log.Error(fmt.Sprintf("plugin %q: the new build or configuration did not start (see the line before); the running process keeps serving until the next reload", old.spec.Name),
		"pid", st.PID, "path", m.spec.Path)
}

// Stop stops every plugin (in reverse spec order, concurrently: SIGTERM,
// Options.Grace, SIGKILL), never restarting one, aborts a Start or Reload
// in progress, removes the pid file and releases the runtime directory.
// It returns ctx.Err() if ctx ends first; the plugins are still being
// stopped then. Calling Stop again is a no-op.
func (s *Supervisor) Stop(ctx context.Context) error {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return nil
	}
	s.stopped = true // from now on nothing is spawned
	first := s.current()
	s.mu.Unlock()
	close(s.quit)
	for _, m := range first {
		m.requestStop() // aborts starts that Start or Reload wait for
	}

	done := make(chan struct{})
	go func() {
		defer close(done)
		s.op.Lock() // Start and Reload return promptly now
		defer s.op.Unlock()
		s.mu.Lock()
		ms := s.current()
		s.mu.Unlock()
		slices.SortFunc(ms, func(a, b *managed) int { return b.spec.Line - a.spec.Line })
		stopAll(ms)
		s.removeStatus()
		s.lock.release()
		s.log.Info("gobridged stopped", "plugins", len(ms))
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// current returns the supervised plugins. s.mu must be held.
func (s *Supervisor) current() []*managed {
	ms := make([]*managed, 0, len(s.plugins))
	for _, m := range s.plugins {
		ms = append(ms, m)
	}
	return ms
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
	ms := s.current()
	s.mu.Unlock()
	slices.SortFunc(ms, func(a, b *managed) int { return a.spec.Line - b.spec.Line })
	out := make([]PluginStatus, 0, len(ms))
	for _, m := range ms {
		out = append(out, m.status())
	}
	return out
}
