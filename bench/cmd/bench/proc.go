package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gobridge/gobridge/bench/internal/procfs"
)

// allProcs reads every process on the machine.
func allProcs() map[int]procfs.Stat {
	ents, _ := os.ReadDir("/proc")
	m := make(map[int]procfs.Stat, len(ents))
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, ok := procfs.ReadStat(pid); ok {
			m[pid] = p
		}
	}
	return m
}

// tree returns the processes descending from roots (roots included).
func tree(all map[int]procfs.Stat, roots ...int) []procfs.Stat {
	kids := map[int][]int{}
	for pid, p := range all {
		kids[p.PPid] = append(kids[p.PPid], pid)
	}
	var out []procfs.Stat
	seen := map[int]bool{}
	var walk func(int)
	walk = func(pid int) {
		if seen[pid] {
			return
		}
		seen[pid] = true
		if p, ok := all[pid]; ok {
			out = append(out, p)
		}
		for _, k := range kids[pid] {
			walk(k)
		}
	}
	for _, r := range roots {
		if r > 0 {
			walk(r)
		}
	}
	return out
}

// Sample is one reading of the processes a configuration runs.
type Sample struct {
	Ticks int64 // CPU of every process in the trees, incl. reaped children
	// BackendTicks is the part of Ticks spent by processes that are not
	// httpd (and the children they reaped): plugins, gobridged, Go servers.
	BackendTicks int64
	// Switches counts context switches of every live thread in the trees;
	// BackendSwitches the part outside httpd.
	Switches, BackendSwitches int64
	HTTPDRSS                  int64 // bytes, summed over httpd's processes
	BackendRSS                int64 // bytes, summed over everything else (plugins, servers, gobridged)
	HTTPDPSS                  int64 // proportional set size: shared pages split between sharers
	BackendPSS                int64
	NHTTPD                    int
	NBackend                  int
}

// pss reads a process's proportional set size in bytes (0 if unknown).
func pss(pid int) int64 { return procKB(pid, "smaps_rollup", "Pss:") }

// procKB reads a "Field:   N kB" line of /proc/<pid>/<file>, in bytes (0 if
// unknown).
func procKB(pid int, file, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", pid, file))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, field); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

// sample reads the process trees rooted at roots. Processes whose command
// is httpd's are httpd's; everything else (gobridged, plugins, Go servers,
// CGI programs) is the backend. A process that dies between two samples is
// still counted: its CPU moves into its parent's reaped-children times,
// and its parent is in the tree.
func sample(httpdComm string, roots ...int) Sample { return sampleMem(httpdComm, false, roots...) }

func sampleMem(httpdComm string, withPSS bool, roots ...int) Sample {
	var s Sample
	for _, p := range tree(allProcs(), roots...) {
		s.Ticks += p.Self + p.Reaped
		if p.Comm != httpdComm {
			s.BackendTicks += p.Self + p.Reaped
		}
		if p.Zombie {
			continue
		}
		sw := procfs.Switches(p.Pid)
		s.Switches += sw
		if p.Comm != httpdComm {
			s.BackendSwitches += sw
		}
		var ps int64
		if withPSS {
			ps = pss(p.Pid)
		}
		if p.Comm == httpdComm {
			s.HTTPDRSS += p.RSS
			s.HTTPDPSS += ps
			s.NHTTPD++
		} else {
			s.BackendRSS += p.RSS
			s.BackendPSS += ps
			s.NBackend++
		}
	}
	return s
}

func ticksToMicros(t int64) float64 { return float64(t) * 1e6 / float64(procfs.ClkTck) }

// processesUnder lists live, non-zombie processes whose command line
// mentions dir: everything started from a server root or the stage.
func processesUnder(dir string) []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	self := os.Getpid()
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		cmd, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(cmd, []byte(dir)) {
			continue
		}
		if p, ok := procfs.ReadStat(pid); ok && !p.Zombie {
			pids = append(pids, pid)
		}
	}
	return pids
}

// Proc is a process the benchmark started and must stop.
type Proc struct {
	Name string
	Cmd  *exec.Cmd
	done chan struct{}
	cl   int
}

// start runs cmd in its own process group and registers its stop.
func start(name string, cmd *exec.Cmd) (*Proc, error) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	// Should the benchmark itself be killed, its httpd and backends get
	// SIGTERM (httpd then stops its children, gobridged and the plugins).
	cmd.SysProcAttr.Pdeathsig = syscall.SIGTERM
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	p := &Proc{Name: name, Cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	p.cl = onCleanup(func() { p.stop(15 * time.Second) })
	return p, nil
}

func (p *Proc) Pid() int { return p.Cmd.Process.Pid }

func (p *Proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM and waits; after grace it kills the process (by pid)
// and what is left of its process group (by the group's id).
func (p *Proc) Stop(grace time.Duration) { runCleanup(p.cl) }

func (p *Proc) stop(grace time.Duration) {
	if p.exited() {
		return
	}
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return
	case <-time.After(grace):
	}
	logf("%s (pid %d) did not stop within %v after SIGTERM; killing it", p.Name, p.Pid(), grace)
	_ = syscall.Kill(-p.Pid(), syscall.SIGKILL)
	_ = p.Cmd.Process.Kill()
	<-p.done
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitDial waits until something accepts connections at network/addr, or
// the process p exits.
func waitDial(p *Proc, network, addr string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		c, err := net.DialTimeout(network, addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if p != nil && p.exited() {
			return fmt.Errorf("%s exited before it listened on %s", p.Name, addr)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing listens on %s after %v: %v", addr, d, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
