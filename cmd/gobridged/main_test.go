package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/gobridge/gobridge/bridge/bridgetest"
	gobridgev1 "github.com/gobridge/gobridge/proto/gobridge/v1"
)

// TestMain makes the test binary double as the fake plugin.
func TestMain(m *testing.M) {
	if os.Getenv(bridgetest.EnvHelper) == "1" {
		bridgetest.Main(os.Args[1:])
	}
	_ = os.Setenv(bridgetest.EnvHelper, "1")
	// Race-enabled plugins would otherwise sleep 1 s at exit.
	_ = os.Setenv("GORACE", "atexit_sleep_ms=0")
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// The built gobridged and a copy of the fake plugin, shared by the tests
// in a world-readable directory (gobridged may run as nobody).
var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

func buildBinaries() (string, error) {
	buildOnce.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			buildErr = err
			return
		}
		if binDir, buildErr = os.MkdirTemp("", "gbbin"); buildErr != nil {
			return
		}
		_ = os.Chmod(binDir, 0o755)
		out, err := exec.Command(goTool, "build", "-o", filepath.Join(binDir, "gobridged"), ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build gobridged: %v\n%s", err, out)
			return
		}
		self, _ := os.Executable()
		buildErr = copyFile(self, filepath.Join(binDir, "fakeplugin"))
	})
	return binDir, buildErr
}

// nobody is the user the end-to-end test runs gobridged as when the test
// itself runs as root (gobridged refuses root).
const nobody = 65534

// e2eEnv is a world-readable bin directory holding the built gobridged and
// the fake plugin, and a private runtime directory.
type e2eEnv struct {
	bin, dir          string
	gobridged, plugin string
	asRoot            bool
}

func newE2E(t *testing.T) *e2eEnv {
	t.Helper()
	if testing.Short() {
		t.Skip("builds gobridged")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go tool to build gobridged")
	}
	bin, err := buildBinaries()
	if err != nil {
		t.Fatal(err)
	}
	base, err := os.MkdirTemp("", "gbe2e")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(base) })
	_ = os.Chmod(base, 0o755)
	e := &e2eEnv{bin: bin, dir: filepath.Join(base, "run"), asRoot: os.Geteuid() == 0}
	if err := os.Mkdir(e.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if e.asRoot {
		if err := os.Chown(e.dir, nobody, nobody); err != nil {
			t.Fatal(err)
		}
	}
	e.gobridged = filepath.Join(bin, "gobridged")
	e.plugin = filepath.Join(bin, "fakeplugin")
	return e
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o755)
}

func (e *e2eEnv) writeSpec(t *testing.T, names ...string) {
	t.Helper()
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "plugin\t%s\t%s\t%s\n", n, e.plugin, bridgetest.ModeServe)
	}
	path := filepath.Join(e.dir, "gobridged.spec")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if e.asRoot {
		_ = os.Chown(path, nobody, nobody)
	}
}

// describePID calls Describe over DIR/NAME.sock and returns the plugin's pid.
func describePID(sock string) (int, error) {
	cc, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return 0, err
	}
	defer func() { _ = cc.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	resp, err := gobridgev1.NewGoBridgeClient(cc).Describe(ctx, &gobridgev1.DescribeRequest{})
	if err != nil {
		return 0, err
	}
	return bridgetest.ParsePID(resp.GetSdkVersion())
}

// gone reports whether pid no longer runs (missing, or a zombie).
func gone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// pid (comm) STATE ...
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] == 'Z'
}

func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", d, what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// TestEndToEndParentDies runs the built gobridged under a short-lived
// shell, checks that it publishes its plugins and reloads on SIGHUP, kills
// the shell and checks that gobridged and its plugins exit, gobridged with
// status 0.
func TestEndToEndParentDies(t *testing.T) {
	e := newE2E(t)
	e.writeSpec(t, "a")
	// Become a subreaper: the orphaned gobridged is reparented to the test,
	// which can then collect its exit status.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0) }()

	logf, err := os.CreateTemp("", "gobridged-log")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = os.Remove(logf.Name()) }()
	readLog := func() string { b, _ := os.ReadFile(logf.Name()); return string(b) }
	defer func() {
		if t.Failed() {
			t.Logf("gobridged's stderr:\n%s", readLog())
		}
	}()

	// The shell plays httpd's parent: gobridged's parent, passed as -parent-pid.
	sh := exec.Command("/bin/sh", "-c", `"$0" -dir "$1" -log-level info -grace 3s -parent-pid $$ & wait`, e.gobridged, e.dir)
	sh.Stdout, sh.Stderr = logf, logf
	if e.asRoot {
		sh.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	}
	if err := sh.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sh.Process.Kill(); _ = sh.Wait() }()

	var gbPID, aPID int
	waitUntil(t, 10*time.Second, "a.sock to answer Describe", func() bool {
		aPID, err = describePID(filepath.Join(e.dir, "a.sock"))
		return err == nil
	})
	b, err := os.ReadFile(filepath.Join(e.dir, "gobridged.pid"))
	if gbPID, _ = strconv.Atoi(strings.TrimSpace(string(b))); err != nil || gbPID == 0 {
		t.Fatalf("gobridged.pid = %q, %v; want a pid", b, err)
	}

	// SIGHUP: a new plugin appears, the unchanged one keeps its pid.
	e.writeSpec(t, "a", "b")
	if err := syscall.Kill(gbPID, syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	var bPID int
	waitUntil(t, 10*time.Second, "b.sock after SIGHUP", func() bool {
		bPID, err = describePID(filepath.Join(e.dir, "b.sock"))
		return err == nil
	})
	if pid, err := describePID(filepath.Join(e.dir, "a.sock")); err != nil || pid != aPID {
		t.Errorf("Describe(a) after SIGHUP = pid %d, %v; want the unchanged pid %d", pid, err, aPID)
	}

	// httpd's parent goes away.
	start := time.Now()
	if err := sh.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = sh.Wait()
	var ws unix.WaitStatus
	waitUntil(t, 10*time.Second, "gobridged to exit", func() bool {
		pid, err := unix.Wait4(gbPID, &ws, unix.WNOHANG, nil)
		return pid == gbPID || err == unix.ECHILD
	})
	t.Logf("gobridged exited %s after its parent died", time.Since(start).Round(time.Millisecond))
	if !ws.Exited() || ws.ExitStatus() != 0 {
		t.Errorf("gobridged wait status = %v; want exit 0", ws)
	}
	for name, pid := range map[string]int{"a": aPID, "b": bPID} {
		if !gone(pid) {
			t.Errorf("plugin %s (pid %d) still runs after gobridged exited", name, pid)
		}
	}
	log := readLog()
	for _, want := range []string{
		"gobridged: parent process went away",
		`gobridged: plugin "a" stopped: exit status 0`,
		`gobridged: plugin "b" stopped: exit status 0`,
		fmt.Sprintf("[pid %d] plugin a: fake plugin starting", aPID),
	} {
		if !strings.Contains(log, want) {
			t.Errorf("gobridged's log lacks %q", want)
		}
	}
	// Every line is in httpd's error-log format: nothing else reaches
	// httpd's error log.
	lineRE := regexp.MustCompile(`^\[\w{3} \w{3} \d\d \d\d:\d\d:\d\d\.\d{6} \d{4}\] ` +
		`\[gobridge:(emerg|alert|crit|error|warn|notice|info|debug|trace[1-8])\] \[pid \d+\] (gobridged|plugin [A-Za-z0-9_.-]+): \S`)
	for i, line := range strings.Split(strings.TrimSuffix(log, "\n"), "\n") {
		if !lineRE.MatchString(line) {
			t.Errorf("log line %d = %q; want httpd's error-log format", i+1, line)
		}
	}
	for _, n := range []string{"a.sock", "b.sock", "gobridged.pid"} {
		if _, err := os.Lstat(filepath.Join(e.dir, n)); !os.IsNotExist(err) {
			t.Errorf("Lstat(%s) after exit = %v; want not exist", n, err)
		}
	}
}

func TestRunUsageErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{}, "usage: gobridged -dir"},
		{[]string{"-dir", dir, "-log-level", "loud"}, `unknown log level "loud"`},
		{[]string{"-dir", dir, "extra"}, "usage: gobridged -dir"},
		{[]string{"-nope"}, "flag provided but not defined"},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		if got := run(tt.args, &buf); got != exitUsage || !strings.Contains(buf.String(), tt.want) {
			t.Errorf("run(%q) = %d, %q; want %d and a message containing %q", tt.args, got, buf.String(), exitUsage, tt.want)
		}
	}
}

func TestRunRefusesRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("not root")
	}
	var buf bytes.Buffer
	if got := run([]string{"-dir", t.TempDir()}, &buf); got != exitUsage || !strings.Contains(buf.String(), "refusing to run as root") {
		t.Errorf("run as root = %d, %q; want %d and a refusal", got, buf.String(), exitUsage)
	}
}

// TestEndToEndParentPIDPoll covers the polling path: -parent-pid names a
// process that is not gobridged's parent, so only kill(pid, 0) notices it
// going away.
func TestEndToEndParentPIDPoll(t *testing.T) {
	e := newE2E(t)
	e.writeSpec(t, "a")
	watched := exec.Command("/bin/sleep", "60")
	if err := watched.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = watched.Process.Kill(); _ = watched.Wait() }()

	var logs bytes.Buffer
	gb := exec.Command(e.gobridged, "-dir", e.dir, "-log-level", "info", "-parent-pid", strconv.Itoa(watched.Process.Pid))
	gb.Stderr = &logs
	if e.asRoot {
		gb.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	}
	if err := gb.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- gb.Wait() }()
	defer func() {
		if t.Failed() {
			_ = gb.Process.Kill()
			<-exited
			t.Logf("gobridged's stderr:\n%s", logs.String())
		}
	}()
	var aPID int
	var err error
	waitUntil(t, 10*time.Second, "a.sock to answer Describe", func() bool {
		aPID, err = describePID(filepath.Join(e.dir, "a.sock"))
		return err == nil
	})
	_ = watched.Process.Kill()
	_ = watched.Wait() // no zombie: kill(pid, 0) must fail
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("gobridged exited with %v; want status 0", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("gobridged still runs 10 s after the watched process died")
	}
	if !gone(aPID) {
		t.Errorf("plugin a (pid %d) still runs after gobridged exited", aPID)
	}
	if want := "gobridged: parent process went away, stopping"; !strings.Contains(logs.String(), want) {
		t.Errorf("gobridged's log lacks %q", want)
	}
}
