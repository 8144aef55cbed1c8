package bridge

import (
	"context"
	"fmt"
	"sync"
	"time"

	gobridgev1 "github.com/gobridge/gobridge/proto/gobridge/v1"
)

// managed supervises one plugin spec for its whole life: it starts the
// process, publishes its socket, watches it, restarts it with backoff and
// finally stops it. Each managed runs in its own goroutine (run).
type managed struct {
	s    *Supervisor
	spec PluginSpec

	stop     chan struct{} // closed by requestStop
	stopOnce sync.Once
	first    chan struct{} // closed when the first start attempt ended
	done     chan struct{} // closed when run returned: no process left

	mu       sync.Mutex
	cur      *instance
	restarts int
	started  bool                         // the first start attempt ended
	lastExit string                       // ExitExited, ExitUnhealthy, ExitStartFailed or ""
	lastAt   time.Time                    // when it ended
	lastWhy  string                       // exit status or signal
	uses     []Use                        // the directives naming it, as last read
	desc     *gobridgev1.DescribeResponse // the running instance's Describe answer
	failed   string                       // a build that did not start (binaryID)
}

func newManaged(s *Supervisor, p PluginSpec) *managed {
	return &managed{
		s:     s,
		spec:  p,
		uses:  p.Uses,
		stop:  make(chan struct{}),
		first: make(chan struct{}),
		done:  make(chan struct{}),
	}
}

// setUses records the directives naming the plugin after a reload that
// kept it running, and checks them against its last Describe answer.
func (m *managed) setUses(uses []Use) {
	m.mu.Lock()
	m.uses = uses
	d, inst := m.desc, m.cur
	m.mu.Unlock()
	if d != nil && inst != nil {
		m.logProblems(d, uses, inst.pid)
	}
}

// currentUses returns the directives naming the plugin, as last read.
func (m *managed) currentUses() []Use {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.uses
}

// binaryChanged reports whether the binary at the plugin's path is another
// build than the running process's, and not one that already failed to
// start.
func (m *managed) binaryChanged() bool {
	m.mu.Lock()
	inst, failed := m.cur, m.failed
	m.mu.Unlock()
	id := binaryID(m.spec.Path)
	return inst != nil && inst.build != "" && id != "" && id != inst.build && id != failed
}

// setFailedBuild remembers a build whose process did not start.
func (m *managed) setFailedBuild(id string) {
	m.mu.Lock()
	m.failed = id
	m.mu.Unlock()
}

// requestStop makes run stop the process and return. It does not wait.
func (m *managed) requestStop() { m.stopOnce.Do(func() { close(m.stop) }) }

func (m *managed) status() PluginStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := PluginStatus{
		Name:           m.spec.Name,
		State:          StateDown,
		Restarts:       m.restarts,
		LastExit:       m.lastExit,
		LastExitAt:     m.lastAt,
		LastExitDetail: m.lastWhy,
	}
	switch {
	case m.cur != nil:
		st.State = StateRunning
		st.PID, st.Socket, st.Started = m.cur.pid, m.cur.socket, m.cur.started
	case !m.started:
		st.State = StateStarting
	}
	return st
}

func (m *managed) setCurrent(inst *instance) {
	m.mu.Lock()
	m.cur = inst
	m.started = true
	m.mu.Unlock()
	m.s.writeStatus()
}

// ended records how the plugin's last process ended (or failed to start)
// and publishes it.
func (m *managed) ended(reason, detail string) {
	m.mu.Lock()
	m.cur = nil
	m.started = true
	m.lastExit, m.lastAt, m.lastWhy = reason, time.Now(), detail
	m.mu.Unlock()
	m.s.writeStatus()
}

// exitReason says why watch returned.
type exitReason int

const (
	reasonStop      exitReason = iota // stop requested
	reasonExited                      // the process exited on its own
	reasonUnhealthy                   // too many failed health checks
)

// run is the supervision loop. It never restarts after a stop request.
func (m *managed) run() {
	defer close(m.done)
	firstDone := sync.OnceFunc(func() { close(m.first) })
	defer firstDone()
	log := m.s.log.With("plugin", m.spec.Name)
	bo := backoff{Min: m.s.opts.MinBackoff, Max: m.s.opts.MaxBackoff, ResetAfter: m.s.opts.ResetAfter}
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			m.mu.Lock()
			m.restarts++
			m.mu.Unlock()
		}
		inst, err := m.s.launch(m.spec, m.stop)
		var d *gobridgev1.DescribeResponse
		if err == nil {
			// Health-checked before it is published: a process that
			// does not answer Describe gets no traffic.
			d, err = m.s.vet(inst)
			if err == nil {
				err = m.s.reg.Publish(m.spec.Name, inst.socket)
			}
			if err != nil {
				m.s.terminate(inst)
			}
		}
		if err != nil {
			// The error may quote what the plugin printed: the log
			// has it, the status file only says that it happened.
			m.ended(ExitStartFailed, "did not start, see the error log")
			if m.stopping() { // a stop aborted the start: nothing to say
				firstDone()
				return
			}
			// Logged before the first attempt is reported over: a reload
			// that puts the old process back stops this one right after.
			delay := bo.Next()
			log.Error(fmt.Sprintf("plugin %q failed to start: %v", m.spec.Name, err),
				"pid", inst.pidOrZero(), "path", m.spec.Path, "retry_in", delay)
			firstDone()
			if !m.sleep(delay) {
				return
			}
			continue
		}
		m.setCurrent(inst)
		log.Info(fmt.Sprintf("plugin %q started", m.spec.Name), "pid", inst.pid, "socket", m.s.reg.Path(m.spec.Name))
		if d != nil {
			m.logProblems(d, m.currentUses(), inst.pid)
		}
		m.mu.Lock()
		m.desc = d
		m.mu.Unlock()
		firstDone()

		reason := m.watch(inst)
		switch reason {
		case reasonStop:
			m.s.terminate(inst)
			m.setCurrent(nil)
			log.Info(fmt.Sprintf("plugin %q stopped: %s", m.spec.Name, inst.exitStatus()), "pid", inst.pid)
			return
		case reasonUnhealthy:
			log.Error(fmt.Sprintf("plugin %q failed %d health checks, restarting it", m.spec.Name, m.s.opts.HealthFailures), "pid", inst.pid)
			m.s.terminate(inst)
			m.ended(ExitUnhealthy, fmt.Sprintf("failed %d health checks; %s", m.s.opts.HealthFailures, inst.exitStatus()))
		case reasonExited:
			m.s.reap(inst)
			m.ended(ExitExited, inst.exitStatus())
		}
		up := time.Since(inst.started)
		bo.Ran(up)
		if m.stopping() {
			log.Info(fmt.Sprintf("plugin %q exited: %s", m.spec.Name, inst.exitStatus()), "pid", inst.pid)
			return
		}
		delay := bo.Next()
		log.Error(fmt.Sprintf("plugin %q exited: %s", m.spec.Name, inst.exitStatus()),
			"pid", inst.pid, "uptime", up.Round(time.Millisecond), "restart_in", delay)
		if !m.sleep(delay) {
			return
		}
	}
}

// watch waits until the instance exits, fails its health checks, or a stop
// is requested.
func (m *managed) watch(inst *instance) exitReason {
	poll := time.NewTicker(exitPoll)
	defer poll.Stop()
	var health <-chan time.Time
	if m.s.opts.HealthInterval > 0 {
		t := time.NewTicker(m.s.opts.HealthInterval)
		defer t.Stop()
		health = t.C
	}
	failures := 0
	for {
		select {
		case <-m.stop:
			return reasonStop
		case <-poll.C:
			if inst.client.Exited() {
				return reasonExited
			}
		case <-health:
			err := checkHealth(context.Background(), inst.rpc.Conn, m.s.opts.HealthTimeout)
			if err == nil {
				failures = 0
				continue
			}
			if inst.client.Exited() {
				return reasonExited
			}
			failures++
			inst.log.Warn("plugin health check failed", "pid", inst.pid, "failures", failures, "err", err)
			if failures >= m.s.opts.HealthFailures {
				return reasonUnhealthy
			}
		}
	}
}

// sleep waits d, and reports false if a stop was requested meanwhile.
func (m *managed) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-m.stop:
		return false
	}
}

func (m *managed) stopping() bool {
	select {
	case <-m.stop:
		return true
	default:
		return false
	}
}

// pidOrZero is the instance's pid, 0 for a nil instance or one never started.
func (inst *instance) pidOrZero() int {
	if inst == nil {
		return 0
	}
	return inst.pid
}
