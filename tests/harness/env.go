// Package harness runs a real Apache httpd with mod_gobridge for end-to-end
// tests: it stages the built module, gobridged and plugins into a private
// server root, writes a configuration, starts httpd on a free loopback port
// under a chosen MPM, and stops every process it started, by pid.
//
// It is modelled on mod_h2's pyhttpd: each test owns its configuration, the
// error log is scanned after every test, and any unexpected [error] or [warn]
// line fails the test.
package harness

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gobridge/gobridge/tests/gate"
)

// Build says where the artifacts under test are. TestMain fills it once.
type Build struct {
	Module  string            // path to mod_gobridge.so
	Daemon  string            // path to gobridged
	Plugins map[string]string // plugin name → binary
	HTTPD   string            // the httpd binary (Debian: /usr/sbin/apache2)
	Modules string            // directory of httpd's shared modules
}

// Env is one httpd instance: a server root, a port and an MPM.
type Env struct {
	t     testing.TB
	b     *Build
	Root  string // server root; everything the instance writes lives here
	Port  int
	MPM   string // "event", "prefork" or "worker"
	User  string // the User httpd drops to when started as root
	log   *ErrorLog
	conf  string
	extra string
	gates *gate.Server
	h2    bool         // EnableH2C: mod_http2 with Protocols h2c http/1.1
	h2c   *http.Client // H2Client
	// h2dials counts the connections H2Client opened.
	h2dials atomic.Int64
}

// New prepares a server root for one httpd under mpm. Binaries are copied
// into it so that Apache's User can execute them even when the checkout lives
// in a directory only root can enter. Everything is removed at test end,
// after httpd and everything it started have been stopped.
func New(t testing.TB, b *Build, mpm string) *Env {
	t.Helper()
	root, err := os.MkdirTemp("", "gb-") // short: socket paths are limited to 107 bytes
	if err != nil {
		t.Fatal(err)
	}
	e := &Env{t: t, b: b, Root: root, MPM: mpm, Port: FreePort(t)}
	if os.Geteuid() == 0 {
		e.User = "www-data"
	}
	for _, d := range []string{"bin", "htdocs", "logs", "run"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// MkdirTemp makes 0700; Apache's User must be able to enter the root.
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := e.makeCoreDir(); err != nil {
		t.Fatal(err)
	}
	if err := copyExec(b.Daemon, filepath.Join(root, "bin", "gobridged")); err != nil {
		t.Fatal(err)
	}
	for name, path := range b.Plugins {
		if err := copyExec(path, filepath.Join(root, "bin", name)); err != nil {
			t.Fatal(err)
		}
	}
	e.log = &ErrorLog{Path: filepath.Join(root, "logs", "error_log")}
	t.Cleanup(func() {
		// A test that forgot its last ErrorLog().Check still has its
		// lines judged: anything at [warn] or worse since the last check
		// fails it, as pyhttpd does after every test. Judged before the
		// stop, whose own lines are checked apart below.
		e.log.check(t, "at cleanup (since the test's last ErrorLog().Check)")
		e.stopQuietly()
		e.log.checkShutdown(t)
		if left := e.Processes(); len(left) > 0 {
			t.Errorf("processes left behind after stop: %v", left)
			for _, pid := range left {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		if t.Failed() {
			t.Logf("error log of %s:\n%s", e.Root, e.log.All())
			e.reportCores(t)
			_ = os.Rename(root, root+".failed")
			return
		}
		_ = os.RemoveAll(root)
	})
	return e
}

// Gates returns the instance's gate server (tests/gate), started on first
// use and closed, releasing every gate, before httpd stops: a test holds a
// plugin at a gate to wait for an event instead of sleeping.
func (e *Env) Gates() *gate.Server {
	e.t.Helper()
	if e.gates == nil {
		g, err := gate.NewServer()
		if err != nil {
			e.t.Fatal(err)
		}
		e.gates = g
		e.t.Cleanup(g.Close)
	}
	return e.gates
}

// Await waits for ch to be closed (or to deliver) and fails t if it has
// not within d. d bounds a wait for an event that must come (a plugin
// reaching a gate, a process exiting), so it is generous: it only decides
// how long a broken build takes to fail, never whether a working one
// passes.
func Await[T any](t testing.TB, ch <-chan T, d time.Duration, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(d):
		t.Fatalf("%s did not happen within %v", what, d)
	}
}

// Bin returns the staged path of a binary ("gobridged" or a plugin name).
func (e *Env) Bin(name string) string { return filepath.Join(e.Root, "bin", name) }

// URL returns the http URL of path on this instance.
func (e *Env) URL(path string) string {
	return fmt.Sprintf("http://127.0.0.1:%d%s", e.Port, path)
}

// ErrorLog returns the instance's error log scanner.
func (e *Env) ErrorLog() *ErrorLog { return e.log }

// SetConf sets the test-specific part of the configuration (plugins,
// locations). It is appended to the base configuration on the next start,
// graceful restart or configtest.
func (e *Env) SetConf(body string) { e.extra = body }

// Conf returns the full configuration text that would be written.
func (e *Env) Conf() string {
	mod := func(name string) string {
		return fmt.Sprintf("LoadModule %s_module %s/mod_%s.so\n", name, e.b.Modules, name)
	}
	var c strings.Builder
	fmt.Fprintf(&c, "# generated by tests/harness\nServerRoot %q\n", e.Root)
	fmt.Fprintf(&c, "LoadModule mpm_%s_module %s/mod_mpm_%s.so\n", e.MPM, e.b.Modules, e.MPM)
	for _, m := range []string{"authz_core", "mime", "dir", "alias", "headers", "env", "setenvif"} {
		c.WriteString(mod(m))
	}
	c.WriteString(e.h2Conf())
	fmt.Fprintf(&c, "LoadModule gobridge_module %q\n", e.b.Module)
	if e.User != "" {
		fmt.Fprintf(&c, "User %s\nGroup %s\n", e.User, e.User)
	}
	fmt.Fprintf(&c, `ServerName 127.0.0.1
Listen 127.0.0.1:%d
PidFile %q
DefaultRuntimeDir %q
ErrorLog %q
LogLevel warn gobridge:info
CoreDumpDirectory %q
DocumentRoot %q
TypesConfig /etc/mime.types
Timeout 30
KeepAlive On
MaxKeepAliveRequests 0
GracefulShutdownTimeout 10
GoBridgeDaemon %q
`, e.Port, filepath.Join(e.Root, "run", "httpd.pid"), filepath.Join(e.Root, "run"),
		e.log.Path, e.coreDir(), filepath.Join(e.Root, "htdocs"), e.Bin("gobridged"))
	switch e.MPM {
	case "prefork":
		c.WriteString("StartServers 2\nMinSpareServers 2\nMaxSpareServers 4\nMaxRequestWorkers 16\n")
	default:
		// ServerLimit above MaxRequestWorkers/ThreadsPerChild (4): after a
		// graceful restart the old generation's children keep their
		// scoreboard slots while they finish, and tests restart several
		// times in a row; without spare slots the new generation cannot
		// start its children ("scoreboard is full" in the error log).
		c.WriteString("StartServers 2\nThreadsPerChild 8\nMinSpareThreads 8\nMaxSpareThreads 32\nMaxRequestWorkers 32\nServerLimit 8\n")
	}
	c.WriteString(e.extra)
	return c.String()
}

func (e *Env) writeConf() string {
	path := filepath.Join(e.Root, "httpd.conf")
	if err := os.WriteFile(path, []byte(e.Conf()), 0o644); err != nil {
		e.t.Fatal(err)
	}
	return path
}

func (e *Env) httpd(args ...string) *exec.Cmd {
	all := append([]string{"-d", e.Root, "-f", e.writeConf()}, args...)
	cmd := exec.Command(e.b.HTTPD, all...)
	// Debian's apache2 reads these from envvars when run via apachectl.
	cmd.Env = append(os.Environ(), "APACHE_RUN_DIR="+filepath.Join(e.Root, "run"),
		"APACHE_LOG_DIR="+filepath.Join(e.Root, "logs"), "APACHE_LOCK_DIR="+filepath.Join(e.Root, "run"))
	return cmd
}

// ConfigTest runs `httpd -t` on the current configuration and returns its
// output and whether the configuration was accepted.
func (e *Env) ConfigTest() (string, bool) {
	out, err := e.httpd("-t").CombinedOutput()
	return string(out), err == nil
}

// Start starts httpd and waits until it answers on its port.
func (e *Env) Start() {
	e.t.Helper()
	e.log.Mark()
	out, err := e.httpd("-k", "start").CombinedOutput()
	if err != nil {
		e.t.Fatalf("httpd -k start: %v\n%s\nerror log:\n%s", err, out, e.log.All())
	}
	if err := e.waitUp(15 * time.Second); err != nil {
		e.t.Fatalf("httpd did not come up: %v\nerror log:\n%s", err, e.log.All())
	}
}

// StartExpectFailure starts httpd expecting it to refuse the configuration;
// it returns httpd's output.
func (e *Env) StartExpectFailure() string {
	e.t.Helper()
	out, err := e.httpd("-k", "start").CombinedOutput()
	if err == nil {
		if pid := e.PID(); pid > 0 {
			e.Stop()
		}
		e.t.Fatalf("httpd started with a configuration it should refuse:\n%s", e.Conf())
	}
	return string(out)
}

// PID returns the pid of httpd's parent process, or 0.
func (e *Env) PID() int {
	b, err := os.ReadFile(filepath.Join(e.Root, "run", "httpd.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// Graceful asks httpd for a graceful restart (SIGUSR1 to the parent, what
// `apachectl -k graceful` does) after rewriting the configuration, and waits
// until the new generation answers.
func (e *Env) Graceful() {
	e.t.Helper()
	e.writeConf()
	pid := e.PID()
	if pid == 0 {
		e.t.Fatal("graceful: httpd is not running")
	}
	gen := e.log.Count("resuming normal operations")
	if err := syscall.Kill(pid, syscall.SIGUSR1); err != nil {
		e.t.Fatalf("graceful: %v", err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for e.log.Count("resuming normal operations") <= gen {
		if time.Now().After(deadline) {
			e.t.Fatalf("graceful restart did not complete\n%s", e.log.All())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop stops httpd by the pid in its pid file (SIGTERM, what `apachectl -k
// stop` does) and waits until the parent has exited. Safe to call twice.
func (e *Env) Stop() { e.stopWith(syscall.SIGTERM, 20*time.Second) }

// stopQuietly is how the cleanup stops httpd: `apachectl -k graceful-stop`
// (SIGWINCH), after closing the harness client's idle connections, so that
// every worker finishes what it is doing first. A stop (SIGTERM) that
// lands while an event-MPM worker is finishing a connection — a log phase
// runs after the client has its answer — can crash the child inside httpd
// itself: the main thread closes the workers' sockets while a worker frees
// its connection's pool (apr_os_sock_get on freed memory, seen in this
// suite's cores). Tests that mean to stop httpd hard call Stop.
func (e *Env) stopQuietly() {
	Client.CloseIdleConnections()
	// GracefulShutdownTimeout (10 s) bounds the wait on httpd's side.
	e.stopWith(syscall.SIGWINCH, 30*time.Second)
}

func (e *Env) stopWith(sig syscall.Signal, limit time.Duration) {
	pid := e.PID()
	if pid == 0 || syscall.Kill(pid, 0) != nil {
		return
	}
	_ = syscall.Kill(pid, sig)
	deadline := time.Now().Add(limit)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			e.t.Errorf("httpd %d did not stop within %v; killing", pid, limit)
			_ = syscall.Kill(pid, syscall.SIGKILL)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	// gobridged and its plugins watch their parents; give them a moment.
	deadline = time.Now().Add(10 * time.Second)
	for len(e.Processes()) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
}

// Processes returns the pids of every live process started from this
// server root: httpd's children, gobridged and the plugins (all of them
// carry the root in their command line).
func (e *Env) Processes() []int {
	return ProcessesMatching(e.Root + "/")
}

// ProcessesMatching lists live processes whose command line contains s.
func ProcessesMatching(s string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	self := os.Getpid()
	for _, d := range entries {
		pid, err := strconv.Atoi(d.Name())
		if err != nil || pid == self {
			continue
		}
		cmd, err := os.ReadFile(filepath.Join("/proc", d.Name(), "cmdline"))
		if err != nil || !bytes.Contains(cmd, []byte(s)) {
			continue
		}
		// A zombie waiting for its parent is gone for our purposes.
		stat, _ := os.ReadFile(filepath.Join("/proc", d.Name(), "stat"))
		if i := bytes.LastIndexByte(stat, ')'); i > 0 && len(stat) > i+2 && stat[i+2] == 'Z' {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}

// ProcessesOf returns the pids of live processes started from the staged
// binary name (e.g. "gobridged" or a plugin name).
func (e *Env) ProcessesOf(name string) []int {
	return ProcessesMatching(e.Bin(name))
}

func (e *Env) waitUp(d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", e.Port), time.Second)
		if err == nil {
			c.Close()
			if e.PID() != 0 {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("port %d: %v", e.Port, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// WaitFor polls cond every 50ms until it is true or d has passed.
func WaitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func copyExec(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("stage %s: %w", src, err)
	}
	return os.WriteFile(dst, b, 0o755)
}

// Client is an HTTP client that never reuses a connection across tests and
// fails rather than hangs.
var Client = &http.Client{Timeout: 60 * time.Second}

// ErrNotRunning is returned when an operation needs a running httpd.
var ErrNotRunning = errors.New("httpd is not running")

// PeakRSS returns the peak resident set size (VmHWM) of pid, in bytes.
func PeakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
}

// HTTPDChildren returns the pids of httpd's child processes.
func (e *Env) HTTPDChildren() []int {
	parent := e.PID()
	var kids []int
	for _, pid := range ProcessesMatching(e.Root + "/httpd.conf") {
		if pid != parent {
			kids = append(kids, pid)
		}
	}
	return kids
}
