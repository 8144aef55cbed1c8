package bridge

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/gobridge/gobridge/bridge/bridgetest"
	gobridgev1 "github.com/gobridge/gobridge/proto/gobridge/v1"
	"github.com/gobridge/gobridge/tests/gate"
)

// TestMain makes the test binary double as the fake plugin: gobridged's
// supervisor re-executes it with GO_WANT_HELPER_PROCESS=1.
func TestMain(m *testing.M) {
	if os.Getenv(bridgetest.EnvHelper) == "1" {
		bridgetest.Main(os.Args[1:])
	}
	_ = os.Setenv(bridgetest.EnvHelper, "1")
	// Race-enabled plugins would otherwise sleep 1 s at exit.
	_ = os.Setenv("GORACE", "atexit_sleep_ms=0")
	os.Exit(m.Run())
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// fixture is a runtime directory with a supervisor logging to a buffer.
type fixture struct {
	t    *testing.T
	dir  string
	logs *syncBuffer
	sup  *Supervisor
}

// newFixture creates a short runtime directory (unix socket paths are
// limited to 107 bytes) and a supervisor with test-friendly timings.
func newFixture(t *testing.T, opts Options, plugins ...PluginSpec) *fixture {
	t.Helper()
	dir, err := os.MkdirTemp("", "gb")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	f := &fixture{t: t, dir: dir, logs: &syncBuffer{}}
	f.writeSpec(plugins...)
	opts.Dir = dir
	opts.Logger = slog.New(NewHandler(f.logs, LevelDebug))
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 5 * time.Second
	}
	if opts.Grace == 0 {
		opts.Grace = 3 * time.Second
	}
	if opts.HealthInterval == 0 {
		opts.HealthInterval = 200 * time.Millisecond
	}
	if opts.MinBackoff == 0 {
		opts.MinBackoff = 50 * time.Millisecond
	}
	f.sup, err = New(opts)
	if err != nil {
		t.Fatalf("New(%+v) = %v", opts, err)
	}
	t.Cleanup(func() {
		_ = f.sup.Stop(context.Background())
		if t.Failed() || testing.Verbose() {
			t.Logf("gobridged log:\n%s", f.logs)
		}
	})
	return f
}

// fake declares the fake plugin (this test binary) under name.
func fake(name string, args ...string) PluginSpec {
	exe, err := os.Executable()
	if err != nil {
		panic(err)
	}
	return PluginSpec{Name: name, Path: exe, Args: args}
}

func (f *fixture) writeSpec(plugins ...PluginSpec) {
	f.t.Helper()
	var b strings.Builder
	b.WriteString("# written by the test\n")
	for _, p := range plugins {
		b.WriteString(strings.Join(append([]string{"plugin", p.Name, p.Path}, p.Args...), "\t") + "\n")
		if p.Build != "" {
			fmt.Fprintf(&b, "build\t%s\t%s\n", p.Name, p.Build)
		}
		if p.Processes > 1 {
			fmt.Fprintf(&b, "processes\t%s\t%d\n", p.Name, p.Processes)
		}
		for _, u := range p.Uses {
			fmt.Fprintf(&b, "use\t%s\t%s\t%s\t%d\n", p.Name, u.Directive, u.File, u.Line)
		}
	}
	if err := os.WriteFile(filepath.Join(f.dir, SpecFile), []byte(b.String()), 0o600); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) status(name string) PluginStatus {
	for _, st := range f.sup.Plugins() {
		if st.Name == name {
			return st
		}
	}
	return PluginStatus{Name: name}
}

// describe calls Describe through the published symlink and returns the
// pid and arguments the fake plugin reports.
func (f *fixture) describe(name string) (pid int, args string, err error) {
	cc, err := grpc.NewClient("unix://"+f.sup.SocketPath(name), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return 0, "", err
	}
	defer func() { _ = cc.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := gobridgev1.NewGoBridgeClient(cc).Describe(ctx, &gobridgev1.DescribeRequest{})
	if err != nil {
		return 0, "", err
	}
	pid, err = bridgetest.ParsePID(resp.GetSdkVersion())
	_, args, _ = strings.Cut(string(resp.GetSdkVersion()), "args=")
	return pid, args, err
}

// mustDescribe is describe that fails the test on error.
func (f *fixture) mustDescribe(name string) (int, string) {
	f.t.Helper()
	pid, args, err := f.describe(name)
	if err != nil {
		f.t.Fatalf("Describe via %s = %v; want a reply", f.sup.SocketPath(name), err)
	}
	return pid, args
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// alive reports whether process pid exists (zombies included).
func alive(pid int) bool {
	return pid > 0 && syscall.Kill(pid, 0) == nil
}

// children returns the pids of this process's children, from /proc.
func children(t *testing.T) []int {
	t.Helper()
	files, _ := filepath.Glob("/proc/self/task/*/children")
	var pids []int
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, s := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(s); err == nil {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// checkNoLeaks fails if goroutines of the supervisor, go-plugin or grpc
// are still running shortly after a Stop.
func checkNoLeaks(t *testing.T) {
	t.Helper()
	var leaked string
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		leaked = ""
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "hashicorp/go-plugin") || strings.Contains(g, "gobridge/bridge.(*") ||
				(strings.Contains(g, "google.golang.org/grpc") && !strings.Contains(g, "grpc/internal/grpcsync.(*CallbackSerializer)")) {
				leaked += g + "\n\n"
			}
		}
		if leaked == "" {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Errorf("goroutines left after Stop:\n%s", leaked)
}

func TestSupervisorStartPublishStop(t *testing.T) {
	f := newFixture(t, Options{}, fake("a", bridgetest.ModeServe), fake("b", bridgetest.ModeServe, "x y"))
	if err := f.sup.Start(); err != nil {
		t.Fatalf("Start() = %v; want nil", err)
	}
	pids := map[string]int{}
	for _, name := range []string{"a", "b"} {
		st := f.status(name)
		if st.PID == 0 {
			t.Fatalf("status(%q).PID = 0 after Start; want the plugin running", name)
		}
		fi, err := os.Lstat(f.sup.SocketPath(name))
		if err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Fatalf("Lstat(%s) = %v, %v; want a symlink", f.sup.SocketPath(name), fi, err)
		}
		target, _ := os.Readlink(f.sup.SocketPath(name))
		if want := filepath.Join(SocketDir, filepath.Base(st.Socket)); target != want {
			t.Errorf("Readlink(%s.sock) = %q; want %q (relative, inside s/)", name, target, want)
		}
		pid, _ := f.mustDescribe(name)
		if pid != st.PID {
			t.Errorf("Describe(%s) pid = %d; want %d", name, pid, st.PID)
		}
		pids[name] = pid
	}
	if _, args := f.mustDescribe("b"); args != "serve,x y" {
		t.Errorf("Describe(b) args = %q; want %q", args, "serve,x y")
	}
	b, err := os.ReadFile(filepath.Join(f.dir, PIDFile))
	if got, want := strings.TrimSpace(string(b)), strconv.Itoa(os.Getpid()); err != nil || got != want {
		t.Errorf("gobridged.pid = %q, %v; want %q", got, err, want)
	}
	// A plugin's own log lines, in httpd's format with the plugin's pid:
	// hclog JSON on its stderr, and what it prints after plugin.Serve.
	for _, want := range []string{
		fmt.Sprintf("[gobridge:info] [pid %d] plugin a: fake plugin starting @module=fake mode=serve", pids["a"]),
		fmt.Sprintf("[gobridge:info] [pid %d] plugin a: describe called stream=stdout", pids["a"]),
	} {
		waitFor(t, 2*time.Second, fmt.Sprintf("log line %q", want), func() bool {
			return strings.Contains(f.logs.String(), want)
		})
	}

	if err := f.sup.Stop(context.Background()); err != nil {
		t.Fatalf("Stop() = %v; want nil", err)
	}
	for name, pid := range pids {
		if alive(pid) {
			t.Errorf("plugin %s (pid %d) alive after Stop; want gone", name, pid)
		}
		if _, err := os.Lstat(f.sup.SocketPath(name)); !os.IsNotExist(err) {
			t.Errorf("Lstat(%s.sock) after Stop = %v; want not exist", name, err)
		}
	}
	if c := children(t); len(c) != 0 {
		t.Errorf("children after Stop = %v; want none", c)
	}
	if _, err := os.Stat(filepath.Join(f.dir, PIDFile)); !os.IsNotExist(err) {
		t.Errorf("Stat(gobridged.pid) after Stop = %v; want not exist", err)
	}
	if ents, _ := os.ReadDir(filepath.Join(f.dir, SocketDir)); len(ents) != 0 {
		t.Errorf("s/ after Stop holds %d entries; want none", len(ents))
	}
	for name, pid := range pids {
		if want := fmt.Sprintf("gobridged: plugin %q stopped: exit status 0 plugin=%s pid=%d", name, name, pid); !strings.Contains(f.logs.String(), want) {
			t.Errorf("log lacks %q", want)
		}
	}
	checkNoLeaks(t)
}

func TestSupervisorRestartsCrashedPlugin(t *testing.T) {
	f := newFixture(t, Options{}, fake("a", bridgetest.ModeServe))
	if err := f.sup.Start(); err != nil {
		t.Fatalf("Start() = %v; want nil", err)
	}
	old, _ := f.mustDescribe("a")
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "a restarted plugin", func() bool {
		st := f.status("a")
		return st.PID != 0 && st.PID != old
	})
	pid, _ := f.mustDescribe("a")
	if pid == old || pid != f.status("a").PID {
		t.Errorf("Describe(a) after crash pid = %d; want the new pid %d (old %d)", pid, f.status("a").PID, old)
	}
	if got := f.status("a").Restarts; got != 1 {
		t.Errorf("Restarts = %d; want 1", got)
	}
	if want := fmt.Sprintf(`[gobridge:error] [pid %d] gobridged: plugin "a" exited: signal: killed plugin=a pid=%d`, os.Getpid(), old); !strings.Contains(f.logs.String(), want) {
		t.Errorf("log lacks %q", want)
	}
	if err := f.sup.Stop(context.Background()); err != nil {
		t.Fatalf("Stop() = %v", err)
	}
	checkNoLeaks(t)
}

func TestSupervisorStartTimeoutRetried(t *testing.T) {
	f := newFixture(t, Options{StartTimeout: 300 * time.Millisecond}, fake("h", bridgetest.ModeHang))
	start := time.Now()
	if err := f.sup.Start(); err != nil {
		t.Fatalf("Start() = %v; want nil (the plugin is retried)", err)
	}
	// The plugin hangs for ever: a Start that waited for it would never
	// return. The bound (100 start timeouts) only turns such a hang into
	// a failure rather than the go test timeout; load cannot reach it.
	if d := time.Since(start); d > 100*300*time.Millisecond {
		t.Errorf("Start() took %s; want it to give up after the 300ms start timeout", d)
	}
	waitFor(t, 5*time.Second, "two start attempts", func() bool {
		return strings.Count(f.logs.String(), `gobridged: plugin "h" failed to start: plugin start timed out`) >= 2
	})
	if _, err := os.Lstat(f.sup.SocketPath("h")); !os.IsNotExist(err) {
		t.Errorf("Lstat(h.sock) = %v; want not exist while the plugin is down", err)
	}
	if err := f.sup.Stop(context.Background()); err != nil {
		t.Fatalf("Stop() = %v", err)
	}
	waitFor(t, 2*time.Second, "no child processes", func() bool { return len(children(t)) == 0 })
	checkNoLeaks(t)
}

func TestSupervisorStartFailures(t *testing.T) {
	tests := []struct {
		name string
		spec PluginSpec
		want string
	}{
		{"exit before handshake", fake("e", bridgetest.ModeExit),
			`[gobridge:error] [pid %d] gobridged: plugin "e" failed to start: plugin exited before its handshake (its own log lines above may say why) (exit status 3) plugin=e`},
		{"missing binary", PluginSpec{Name: "m", Path: "/nonexistent/plugin"},
			`[gobridge:error] [pid %d] gobridged: plugin "m" failed to start: fork/exec /nonexistent/plugin: no such file or directory plugin=m pid=0 path=/nonexistent/plugin retry_in=50ms`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, Options{}, tt.spec)
			if err := f.sup.Start(); err != nil {
				t.Fatalf("Start() = %v; want nil (retried in the background)", err)
			}
			want := fmt.Sprintf(tt.want, os.Getpid())
			waitFor(t, 5*time.Second, fmt.Sprintf("log line %q", want), func() bool {
				return strings.Contains(f.logs.String(), want)
			})
			if err := f.sup.Stop(context.Background()); err != nil {
				t.Fatal(err)
			}
			checkNoLeaks(t)
		})
	}
}

func TestSupervisorReload(t *testing.T) {
	f := newFixture(t, Options{},
		fake("same", bridgetest.ModeServe), fake("changed", bridgetest.ModeServe), fake("removed", bridgetest.ModeServe))
	if err := f.sup.Start(); err != nil {
		t.Fatalf("Start() = %v", err)
	}
	samePID, _ := f.mustDescribe("same")
	changedPID, _ := f.mustDescribe("changed")
	removedPID, _ := f.mustDescribe("removed")

	// An invalid spec changes nothing.
	if err := os.WriteFile(filepath.Join(f.dir, SpecFile), []byte("plugin\tbad name\t/x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := f.sup.Reload(); !errors.Is(err, ErrSpec) {
		t.Errorf("Reload(invalid spec) = %v; want ErrSpec", err)
	}

	f.writeSpec(fake("added", bridgetest.ModeServe), fake("changed", bridgetest.ModeServe, "v2"), fake("same", bridgetest.ModeServe))
	if err := f.sup.Reload(); err != nil {
		t.Fatalf("Reload() = %v", err)
	}
	tests := []struct {
		name     string
		wantPID  func(int) bool
		wantArgs string
		desc     string
	}{
		{"same", func(p int) bool { return p == samePID }, "serve", fmt.Sprintf("the same pid %d", samePID)},
		{"changed", func(p int) bool { return p != changedPID }, "serve,v2", fmt.Sprintf("a new pid, not %d", changedPID)},
		{"added", func(p int) bool { return p != 0 }, "serve", "running"},
	}
	for _, tt := range tests {
		pid, args := f.mustDescribe(tt.name)
		if !tt.wantPID(pid) || args != tt.wantArgs {
			t.Errorf("Describe(%s) after Reload = pid %d args %q; want %s args %q", tt.name, pid, args, tt.desc, tt.wantArgs)
		}
	}
	waitFor(t, 2*time.Second, "the replaced and removed processes gone", func() bool {
		return !alive(changedPID) && !alive(removedPID)
	})
	if _, err := os.Lstat(f.sup.SocketPath("removed")); !os.IsNotExist(err) {
		t.Errorf("Lstat(removed.sock) = %v; want not exist", err)
	}
	if got := len(f.sup.Plugins()); got != 3 {
		t.Errorf("len(Plugins()) = %d; want 3", got)
	}
	if err := f.sup.Stop(context.Background()); err != nil {
		t.Fatalf("Stop() = %v", err)
	}
	if err := f.sup.Reload(); !errors.Is(err, ErrStopped) {
		t.Errorf("Reload() after Stop = %v; want ErrStopped", err)
	}
	checkNoLeaks(t)
}

// TestSupervisorReloadNewBuild: a new build of a plugin (same name, path
// and arguments) replaces the running process blue/green; a new build or
// configuration that does not start leaves the running process serving and
// published, and a later reload tries again.
func TestSupervisorReloadNewBuild(t *testing.T) {
	p := fake("a", bridgetest.ModeServe)
	p.Build = "1:100:5000:1"
	f := newFixture(t, Options{}, p)
	if err := f.sup.Start(); err != nil {
		t.Fatalf("Start() = %v", err)
	}
	first, _ := f.mustDescribe("a")

	p.Build = "1:101:5000:2"
	f.writeSpec(p)
	if err := f.sup.Reload(); err != nil {
		t.Fatalf("Reload() = %v", err)
	}
	second, _ := f.mustDescribe("a")
	if second == first {
		t.Fatalf("Reload with a new build kept pid %d; want a new process", first)
	}
	waitFor(t, 5*time.Second, "the old build's process gone", func() bool { return !alive(first) })

	// The same binary path now exits before its handshake (a broken build).
	broken := fake("a", bridgetest.ModeExit)
	broken.Build = "1:102:4000:3"
	f.writeSpec(broken)
	if err := f.sup.Reload(); err != nil {
		t.Fatalf("Reload(broken build) = %v", err)
	}
	if pid, _ := f.mustDescribe("a"); pid != second {
		t.Errorf("after a broken build, Describe through a.sock reached pid %d; want the running %d", pid, second)
	}
	if st := f.status("a"); st.PID != second {
		t.Errorf("status(a).PID = %d after a broken build; want %d", st.PID, second)
	}
	want := `plugin "a": the new build or configuration did not start (see the line before); the running process keeps serving`
	if !strings.Contains(f.logs.String(), want) {
		t.Errorf("log has no line %q", want)
	}

	// Fixed: the next reload replaces it.
	p.Build = "1:103:5000:4"
	f.writeSpec(p)
	if err := f.sup.Reload(); err != nil {
		t.Fatalf("Reload(fixed build) = %v", err)
	}
	if pid, _ := f.mustDescribe("a"); pid == second {
		t.Errorf("the fixed build did not replace pid %d", second)
	}
	if err := f.sup.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkNoLeaks(t)
}

// TestSupervisorReplace: on request (gobridged's reload command), a plugin
// whose binary is another build is replaced blue/green, an unchanged one is
// left alone unless named, and an unknown name is reported.
func TestSupervisorReplace(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "plugin")
	deploy := func() {
		t.Helper()
		b, err := os.ReadFile(exe)
		if err == nil {
			err = os.WriteFile(bin+".new", b, 0o755)
		}
		if err == nil {
			err = os.Rename(bin+".new", bin)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	deploy()
	f := newFixture(t, Options{}, PluginSpec{Name: "a", Path: bin, Args: []string{bridgetest.ModeServe}},
		PluginSpec{Name: "b", Path: exe, Args: []string{bridgetest.ModeServe}})
	if err := f.sup.Start(); err != nil {
		t.Fatalf("Start() = %v", err)
	}
	pidA, _ := f.mustDescribe("a")
	pidB, _ := f.mustDescribe("b")
	outcomes := func(rs []Replacement) string {
		var parts []string
		for _, r := range rs {
			parts = append(parts, r.Name+"="+r.Outcome)
		}
		return strings.Join(parts, " ")
	}

	rs, err := f.sup.Replace(nil)
	if got := outcomes(rs); err != nil || got != "a=unchanged b=unchanged" {
		t.Errorf("Replace(nil) with the same binaries = %q, %v; want both unchanged", got, err)
	}
	deploy() // a new inode at a's path
	rs, err = f.sup.Replace(nil)
	if got := outcomes(rs); err != nil || got != "a=replaced b=unchanged" {
		t.Fatalf("Replace(nil) after a new build of a = %q, %v; want a replaced", got, err)
	}
	if newA, _ := f.mustDescribe("a"); newA == pidA || newA != rs[0].NewPID || rs[0].OldPID != pidA {
		t.Errorf("a after Replace: pid %d, result %+v; want a new pid, old %d", newA, rs[0], pidA)
	}
	waitFor(t, 5*time.Second, "a's old process gone", func() bool { return !alive(pidA) })

	rs, err = f.sup.Replace([]string{"b", "nosuch"})
	if got := outcomes(rs); err != nil || got != "b=replaced nosuch=unknown" {
		t.Errorf("Replace(b, nosuch) = %q, %v; want b replaced though unchanged, nosuch unknown", got, err)
	}
	if newB, _ := f.mustDescribe("b"); newB == pidB {
		t.Errorf("b kept pid %d after a forced Replace", pidB)
	}
	if err := f.sup.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.sup.Replace(nil); !errors.Is(err, ErrStopped) {
		t.Errorf("Replace after Stop = %v; want ErrStopped", err)
	}
	checkNoLeaks(t)
}

// TestSupervisorAutoReload: with the spec's autoreload interval set
// (GoBridgeAutoReload), a new build renamed over a plugin's binary is
// started without any reload, and a build that does not start leaves the
// running process serving.
func TestSupervisorAutoReload(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "plugin")
	install := func(b []byte) {
		t.Helper()
		if err := os.WriteFile(bin+".new", b, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(bin+".new", bin); err != nil {
			t.Fatal(err)
		}
	}
	good, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	install(good)
	f := newFixture(t, Options{})
	spec := fmt.Sprintf("plugin\ta\t%s\t%s\nautoreload\t100\n", bin, bridgetest.ModeServe)
	if err := os.WriteFile(filepath.Join(f.dir, SpecFile), []byte(spec), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := f.sup.Start(); err != nil {
		t.Fatalf("Start() = %v", err)
	}
	first, _ := f.mustDescribe("a")

	install(good)
	var second int
	waitFor(t, 10*time.Second, "the new build started by autoreload", func() bool {
		second, _ = f.mustDescribe("a")
		return second != first
	})

	install([]byte("#!/bin/sh\necho broken build >&2\nexit 3\n"))
	waitFor(t, 10*time.Second, "the broken build tried and given up", func() bool {
		return strings.Contains(f.logs.String(), `plugin "a": the new build or configuration did not start`)
	})
	if pid, _ := f.mustDescribe("a"); pid != second {
		t.Errorf("after a broken build, a.sock reached pid %d; want the running %d", pid, second)
	}
	install(good)
	waitFor(t, 10*time.Second, "the fixed build started by autoreload", func() bool {
		pid, _ := f.mustDescribe("a")
		return pid != second
	})
	if err := f.sup.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkNoLeaks(t)
}

// TestSupervisorSickBuildKeepsOld: a new build that completes go-plugin's
// handshake but does not answer Describe is not healthy: it is never
// published, and the running process keeps serving.
func TestSupervisorSickBuildKeepsOld(t *testing.T) {
	f := newFixture(t, Options{}, fake("a", bridgetest.ModeServe))
	if err := f.sup.Start(); err != nil {
		t.Fatalf("Start() = %v", err)
	}
	pid, _ := f.mustDescribe("a")
	f.writeSpec(fake("a", bridgetest.ModeSick))
	if err := f.sup.Reload(); err != nil {
		t.Fatalf("Reload() = %v", err)
	}
	if now, _ := f.mustDescribe("a"); now != pid {
		t.Errorf("after a sick build, a.sock reached pid %d; want the running %d", now, pid)
	}
	for _, want := range []string{
		`plugin "a" failed to start: not healthy after its handshake: Describe:`,
		`plugin "a": the new build or configuration did not start`,
	} {
		if !strings.Contains(f.logs.String(), want) {
			t.Errorf("log has no line %q", want)
		}
	}
	if err := f.sup.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkNoLeaks(t)
}

// TestSupervisorPool: a plugin with processes=2 runs as two instances, each
// published, and Replace with the pool's name replaces both.
func TestSupervisorPool(t *testing.T) {
	p := fake("p", bridgetest.ModeServe)
	p.Processes = 2
	f := newFixture(t, Options{}, p)
	if err := f.sup.Start(); err != nil {
		t.Fatalf("Start() = %v", err)
	}
	p0, _ := f.mustDescribe("p.0")
	p1, _ := f.mustDescribe("p.1")
	if p0 == p1 {
		t.Fatalf("p.0 and p.1 are the same process %d", p0)
	}
	rs, err := f.sup.Replace([]string{"p"})
	if err != nil || len(rs) != 2 || rs[0].Name != "p.0" || rs[1].Name != "p.1" ||
		rs[0].Outcome != "replaced" || rs[1].Outcome != "replaced" {
		t.Fatalf("Replace(p) = %+v, %v; want p.0 and p.1 replaced", rs, err)
	}
	if n0, _ := f.mustDescribe("p.0"); n0 == p0 {
		t.Errorf("p.0 kept pid %d", p0)
	}
	if err := f.sup.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkNoLeaks(t)
}

// TestSupervisorChecksUses: after a start, and after a reload that keeps a
// plugin running, gobridged names every directive that sends the plugin
// something its Describe answer does not list (the fake plugin implements
// the fixups phase only, and reports no services).
func TestSupervisorChecksUses(t *testing.T) {
	p := fake("a", bridgetest.ModeServe)
	p.Uses = []Use{
		{Directive: "GoBridgeFixupHandler", File: "/etc/h.conf", Line: 3},
		{Directive: "GoBridgeAccessHandler", File: "/etc/h.conf", Line: 7},
		{Directive: "Require", File: "/etc/h.conf", Line: 8},
	}
	f := newFixture(t, Options{}, p)
	if err := f.sup.Start(); err != nil {
		t.Fatalf("Start() = %v", err)
	}
	access := `gobridged: plugin "a" does not implement the access phase (sdk.AccessChecker), which GoBridgeAccessHandler at /etc/h.conf line 7 sends it`
	if got := f.logs.String(); !strings.Contains(got, "[gobridge:error] [pid "+strconv.Itoa(os.Getpid())+"] "+access) || strings.Count(got, "does not implement") != 1 {
		t.Errorf("log after Start has no error line %q, or more than one such line", access)
	}

	p.Uses = append(p.Uses, Use{Directive: "GoBridgeLogHandler", File: "/etc/h2.conf", Line: 1})
	pid, _ := f.mustDescribe("a")
	f.writeSpec(p)
	if err := f.sup.Reload(); err != nil {
		t.Fatalf("Reload() = %v", err)
	}
	if again, _ := f.mustDescribe("a"); again != pid {
		t.Fatalf("Reload with only new uses restarted the plugin (pid %d, then %d)", pid, again)
	}
	logPhase := `plugin "a" does not implement the log phase (sdk.TransactionLogger), which GoBridgeLogHandler at /etc/h2.conf line 1 sends it`
	if got := f.logs.String(); !strings.Contains(got, logPhase) || strings.Count(got, access) != 2 {
		t.Errorf("log after Reload: want %q and the access line again", logPhase)
	}
}

func TestSupervisorGracefulStopFinishesInFlightCall(t *testing.T) {
	// A grace far longer than the test takes: the call is held at a gate
	// until the plugin has taken its SIGTERM, then released.
	f := newFixture(t, Options{Grace: time.Minute}, fake("slow", bridgetest.ModeServe))
	if err := f.sup.Start(); err != nil {
		t.Fatalf("Start() = %v", err)
	}
	g, err := gate.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	cc, err := grpc.NewClient("unix://"+f.sup.SocketPath("slow"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cc.Close() }()
	type result struct {
		resp *gobridgev1.PhaseResponse
		err  error
	}
	res := make(chan result, 1)
	go func() {
		resp, err := gobridgev1.NewGoBridgeClient(cc).Phase(context.Background(), &gobridgev1.PhaseRequest{
			Phase:   gobridgev1.Phase_PHASE_FIXUPS,
			Request: &gobridgev1.Request{Options: []*gobridgev1.Pair{{Key: []byte("gate"), Value: []byte(g.URL("held"))}}},
		})
		res <- result{resp, err}
	}()
	select {
	case <-g.Arrived("held"):
	case <-time.After(30 * time.Second):
		t.Fatal("the call never reached the plugin")
	}
	stopped := make(chan error, 1)
	go func() { stopped <- f.sup.Stop(context.Background()) }()
	waitFor(t, 30*time.Second, "the plugin to take its SIGTERM", func() bool {
		return strings.Contains(f.logs.String(), "SIGTERM: stopping gracefully")
	})
	select {
	case err := <-stopped:
		t.Fatalf("Stop() = %v while a call was held in the plugin; want it to wait for the call", err)
	case r := <-res:
		t.Fatalf("the held call ended (%v, %v) before its release", r.resp, r.err)
	default:
	}
	g.Release("held")
	select {
	case r := <-res:
		if r.err != nil || r.resp.GetResult() != gobridgev1.Result_RESULT_DECLINED {
			t.Errorf("in-flight Phase during Stop = %v, %v; want RESULT_DECLINED, nil", r.resp, r.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the released call was not answered")
	}
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatalf("Stop() = %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Stop() did not return after the last call ended")
	}
	if strings.Contains(f.logs.String(), "killing it") {
		t.Errorf("log says the plugin was killed; want a graceful stop")
	}
	_ = cc.Close()
	checkNoLeaks(t)
}

func TestSupervisorKillsAfterGrace(t *testing.T) {
	f := newFixture(t, Options{Grace: 300 * time.Millisecond}, fake("stubborn", bridgetest.ModeNoTerm))
	if err := f.sup.Start(); err != nil {
		t.Fatalf("Start() = %v", err)
	}
	pid, _ := f.mustDescribe("stubborn")
	start := time.Now()
	if err := f.sup.Stop(context.Background()); err != nil {
		t.Fatalf("Stop() = %v", err)
	}
	// The plugin ignores SIGTERM: a Stop that did not kill it would never
	// return. The bound (100 graces) only turns that into a failure; that
	// it was killed, not waited for, the log line below says.
	if took := time.Since(start); took > 100*300*time.Millisecond {
		t.Errorf("Stop() took %s; want it to kill after the 300ms grace", took)
	}
	if alive(pid) {
		t.Errorf("pid %d alive after Stop; want killed", pid)
	}
	for _, want := range []string{
		`[gobridge:warn]`, `gobridged: plugin "stubborn" did not stop within 300ms, killing it`,
		fmt.Sprintf(`gobridged: plugin "stubborn" stopped: signal: killed plugin=stubborn pid=%d`, pid),
	} {
		if !strings.Contains(f.logs.String(), want) {
			t.Errorf("log lacks %q", want)
		}
	}
	checkNoLeaks(t)
}

func TestNewRefusesUnsafeDir(t *testing.T) {
	base := t.TempDir()
	open := filepath.Join(base, "open")
	_ = os.Mkdir(open, 0o755)
	_ = os.Chmod(open, 0o755)
	priv := filepath.Join(base, "priv")
	_ = os.Mkdir(priv, 0o700)
	link := filepath.Join(base, "link")
	_ = os.Symlink(priv, link)
	file := filepath.Join(base, "file")
	_ = os.WriteFile(file, nil, 0o600)
	tests := []struct {
		dir     string
		wantErr string // "" for success
	}{
		{priv, ""},
		{open, "must be 0700"},
		{link, "is a symlink"},
		{file, "is not a directory"},
		{filepath.Join(base, "missing"), "no such file"},
		{"", "no runtime directory"},
	}
	if os.Geteuid() == 0 {
		foreign := filepath.Join(base, "foreign")
		_ = os.Mkdir(foreign, 0o700)
		_ = os.Chown(foreign, 65534, 65534)
		tests = append(tests, struct {
			dir     string
			wantErr string
		}{foreign, "is owned by uid 65534, not by gobridged's uid 0"})
	}
	for _, tt := range tests {
		s, err := New(Options{Dir: tt.dir, Logger: slog.New(slog.DiscardHandler)})
		if tt.wantErr == "" {
			if err != nil {
				t.Errorf("New(Dir: %q) = %v; want nil", tt.dir, err)
			} else {
				_ = s.Stop(context.Background())
			}
			continue
		}
		if !errors.Is(err, ErrRuntimeDir) || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("New(Dir: %q) = %v; want ErrRuntimeDir containing %q", tt.dir, err, tt.wantErr)
		}
	}
}

func TestSupervisorRestartsUnhealthyPlugin(t *testing.T) {
	f := newFixture(t, Options{
		HealthInterval: 100 * time.Millisecond, HealthTimeout: 100 * time.Millisecond, HealthFailures: 3,
		Grace: 200 * time.Millisecond,
	}, fake("frozen", bridgetest.ModeServe))
	if err := f.sup.Start(); err != nil {
		t.Fatalf("Start() = %v", err)
	}
	old, _ := f.mustDescribe("frozen")
	// A stopped process keeps its socket but answers nothing: a wedged plugin.
	if err := syscall.Kill(old, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "a replacement for the frozen plugin", func() bool {
		st := f.status("frozen")
		return st.PID != 0 && st.PID != old
	})
	if pid, _ := f.mustDescribe("frozen"); pid == old {
		t.Errorf("Describe(frozen) pid = %d; want a new process", pid)
	}
	if alive(old) {
		t.Errorf("frozen pid %d alive; want killed", old)
	}
	if want := `gobridged: plugin "frozen" failed 3 health checks, restarting it`; !strings.Contains(f.logs.String(), want) {
		t.Errorf("log lacks %q", want)
	}
}

func TestSupervisorStopAbortsHangingStart(t *testing.T) {
	f := newFixture(t, Options{StartTimeout: time.Minute}, fake("h", bridgetest.ModeHang))
	started := make(chan error, 1)
	go func() { started <- f.sup.Start() }()
	waitFor(t, 5*time.Second, "the plugin process", func() bool { return len(children(t)) > 0 })
	begin := time.Now()
	if err := f.sup.Stop(context.Background()); err != nil {
		t.Fatalf("Stop() = %v", err)
	}
	if took := time.Since(begin); took > 5*time.Second {
		t.Errorf("Stop() during a start took %s; want it to abort the start", took)
	}
	if err := <-started; err != nil {
		t.Errorf("Start() aborted by Stop = %v; want nil", err)
	}
	waitFor(t, 2*time.Second, "no child processes", func() bool { return len(children(t)) == 0 })
	checkNoLeaks(t)
}

func TestNewRefusesSecondSupervisor(t *testing.T) {
	f := newFixture(t, Options{})
	_, err := New(Options{Dir: f.dir, Logger: slog.New(slog.DiscardHandler)})
	if !errors.Is(err, ErrRuntimeDir) || !strings.Contains(err.Error(), "another gobridged") {
		t.Fatalf("New(same dir) = %v; want ErrRuntimeDir \"another gobridged …\"", err)
	}
	if err := f.sup.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	s2, err := New(Options{Dir: f.dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("New(same dir) after Stop = %v; want nil", err)
	}
	_ = s2.Stop(context.Background())
}
