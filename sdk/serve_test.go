package sdk_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gobridge/gobridge/internal/handshake"
	pb "github.com/gobridge/gobridge/proto/gobridge/v1"
	"github.com/gobridge/gobridge/sdk"
	"github.com/gobridge/gobridge/sdk/sdktest"
	"github.com/gobridge/gobridge/tests/gate"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// TestHelperProcess is not a test: it is the plugin that the tests below
// start by re-executing the test binary.
func TestHelperProcess(t *testing.T) {
	switch os.Getenv("GO_WANT_HELPER_PROCESS") {
	case "1":
	case "nophase":
		// A Phases value with no phase method: Serve must refuse it.
		sdk.Serve(&sdk.ServeConfig{Phases: struct{ Name string }{"x"}})
		os.Exit(0)
	default:
		return
	}
	sdk.ServeHandler(sdk.HandlerFunc(func(w *sdk.ResponseWriter, r *sdk.Request) error {
		if r.URI == "/held" {
			// Held until the test releases the gate it names.
			if err := gate.Wait(r.Context(), os.Getenv("GB_TEST_GATE")); err != nil {
				return err
			}
		}
		if r.URI == "/slow" {
			// Tells a test that waits for it that the call is in here.
			fmt.Println("handling /slow")
			time.Sleep(time.Second)
		}
		return hello(w, r)
	}))
	os.Exit(0)
}

func helper(t *testing.T, env ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), "GO_WANT_HELPER_PROCESS=1")
	cmd.Env = append(cmd.Env, env...)
	return cmd
}

func TestServeByHand(t *testing.T) {
	out, err := helper(t).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Errorf("plugin run by hand: err = %v; want exit status 1", err)
	}
	if !strings.Contains(string(out), "is a gobridge plugin") || !strings.Contains(string(out), "GoBridgeHandler") {
		t.Errorf("plugin run by hand printed %q; want an explanation with a config example", out)
	}
}

// Serve refuses, before anything else, a Phases value that implements no
// phase: exit status 2 and a message saying what to implement.
func TestServeRefusesPhasesWithoutPhase(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), "GO_WANT_HELPER_PROCESS=nophase")
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Errorf("Serve(Phases: a struct with no phase method): err = %v; want exit status 2", err)
	}
	for _, want := range []string{"ServeConfig.Phases", "implements no phase interface", "Fixup", "CheckAccess"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("Serve's message %q does not say %q", out, want)
		}
	}
}

func TestRegisterRefuses(t *testing.T) {
	type nothing struct{}
	for _, tc := range []struct {
		name string
		cfg  *sdk.ServeConfig
		want string // in the error; "" for none
	}{
		{"nil", nil, "needs a Handler"},
		{"empty", &sdk.ServeConfig{}, "needs a Handler"},
		{"Phases with no phase", &sdk.ServeConfig{Phases: nothing{}}, "sdk_test.nothing, which implements no phase interface"},
		{"Phases an int", &sdk.ServeConfig{Handler: sdk.HandlerFunc(hello), Phases: 7}, "implements no phase interface"},
		{"Phases with a phase", &sdk.ServeConfig{Phases: fixupFunc(func(*sdk.PhaseRequest) error { return nil })}, ""},
		{"a Handler only", &sdk.ServeConfig{Handler: sdk.HandlerFunc(hello)}, ""},
	} {
		s := grpc.NewServer()
		err := sdk.Register(s, tc.cfg)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("Register(%s) = %v; want nil", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("Register(%s) = %v; want an error saying %q", tc.name, err, tc.want)
		case tc.want != "" && len(s.GetServiceInfo()) != 0:
			t.Errorf("Register(%s) registered %d services; want none", tc.name, len(s.GetServiceInfo()))
		}
		s.Stop()
	}
}

// fixupFunc is a Fixupper.
type fixupFunc func(*sdk.PhaseRequest) error

func (f fixupFunc) Fixup(r *sdk.PhaseRequest) error { return f(r) }

// output collects what the helper plugin writes to stderr (its log), so a
// test can wait for a line.
type output struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// waitFor polls for s in the output until it appears or d has passed: a
// bound on a line that must come, generous so that only a broken plugin
// reaches it.
func (o *output) waitFor(s string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for !strings.Contains(o.String(), s) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// startPlugin runs the helper plugin as gobridged would and returns it
// with the socket address from its handshake line.
func startPlugin(t *testing.T, env ...string) (*exec.Cmd, string) {
	cmd, addr, _ := startPluginOutput(t, env...)
	return cmd, addr
}

// startPluginOutput is startPlugin that also returns the plugin's stderr.
func startPluginOutput(t *testing.T, env ...string) (*exec.Cmd, string, *output) {
	dir, err := os.MkdirTemp("", "gbs")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	cmd := helper(t, append([]string{
		handshake.Config.MagicCookieKey + "=" + handshake.Config.MagicCookieValue,
		"PLUGIN_PROTOCOL_VERSIONS=1",
		"PLUGIN_UNIX_SOCKET_DIR=" + dir}, env...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	out := &output{}
	go func() { _, _ = bufio.NewReader(stderr).WriteTo(out) }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the handshake line: %v", err)
	}
	f := strings.Split(strings.TrimSpace(line), "|")
	if len(f) != 6 || f[0] != "1" || f[1] != "1" || f[2] != "unix" || f[4] != "grpc" || f[5] != "" {
		t.Fatalf("handshake line = %q; want 1|1|unix|ADDR|grpc|", line)
	}
	if !strings.HasPrefix(f[3], dir) {
		t.Errorf("socket = %q; want it under PLUGIN_UNIX_SOCKET_DIR %q", f[3], dir)
	}
	return cmd, f[3], out
}

func dial(t *testing.T, addr string) pb.GoBridgeClient {
	return pb.NewGoBridgeClient(dialConn(t, addr))
}

func dialConn(t *testing.T, addr string) *grpc.ClientConn {
	cc, err := grpc.NewClient("unix://"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

// TestServeHandshake runs the plugin as gobridged would and calls it over
// the address it announces.
func TestServeHandshake(t *testing.T) {
	_, addr := startPlugin(t)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	d, err := dial(t, addr).Describe(ctx, &pb.DescribeRequest{})
	if err != nil {
		t.Fatalf("Describe() = %v", err)
	}
	if string(d.GetSdkVersion()) != sdk.Version {
		t.Errorf("Describe().SdkVersion = %q; want %q", d.GetSdkVersion(), sdk.Version)
	}
}

// TestServeSIGTERMFinishesInFlightCall checks the stop contract with
// gobridged: on SIGTERM a call in progress completes, then the plugin exits
// 0. The call is held at a gate until the plugin has logged that it took
// the SIGTERM, so the signal is known to have come mid-call.
func TestServeSIGTERMFinishesInFlightCall(t *testing.T) {
	g, err := gate.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	cmd, addr, out := startPluginOutput(t, "GB_TEST_GATE="+g.URL("held"))
	c := dialConn(t, addr)
	got := make(chan *sdktest.Recorder, 1)
	go func() { got <- sdktest.Do(t, c, sdktest.NewRequest("GET", "/held", nil)) }()
	select {
	case <-g.Arrived("held"):
	case <-time.After(30 * time.Second):
		t.Fatal("the call never reached the handler")
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if !out.waitFor("received SIGTERM", 30*time.Second) {
		t.Fatalf("the plugin never logged taking the SIGTERM:\n%s", out)
	}
	select {
	case rec := <-got:
		t.Fatalf("the call ended (%d %q) before the handler was released", rec.Code, rec.Body.String())
	default:
	}
	g.Release("held")
	select {
	case rec := <-got:
		if rec.Code != 200 || rec.Body.String() != "hello /held\n" {
			t.Errorf("in-flight call across SIGTERM = %d %q; want 200 \"hello /held\\n\"", rec.Code, rec.Body.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("in-flight call did not complete after SIGTERM")
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("plugin exit after SIGTERM = %v; want status 0", err)
		}
	case <-time.After(30 * time.Second):
		t.Error("plugin still running 30s after SIGTERM and its last call")
	}
}

// TestServeExitsWithParent starts the plugin from a shell that then exits,
// and checks that the orphaned plugin exits by itself.
func TestServeExitsWithParent(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	dir, err := os.MkdirTemp("", "gbp")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	// The shell announces itself as the parent, as gobridged does, and
	// exits at once: often before the plugin has even started watching.
	sh := exec.Command("/bin/sh", "-c", `GOBRIDGE_PARENT_PID=$$ "$0" -test.run='^TestHelperProcess$' >/dev/null 2>&1 & echo $!`, os.Args[0])
	sh.Env = append(os.Environ(), "GO_WANT_HELPER_PROCESS=1",
		handshake.Config.MagicCookieKey+"="+handshake.Config.MagicCookieValue,
		"PLUGIN_PROTOCOL_VERSIONS=1", "PLUGIN_UNIX_SOCKET_DIR="+dir)
	out, err := sh.Output()
	if err != nil {
		t.Fatal(err)
	}
	pid := 0
	for _, c := range strings.TrimSpace(string(out)) {
		pid = pid*10 + int(c-'0')
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if err := syscall.Kill(pid, 0); err != nil {
			return // gone
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	t.Errorf("plugin pid %d still running 20s after its parent exited", pid)
}
