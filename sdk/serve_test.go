package sdk_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gobridge/gobridge/internal/handshake"
	pb "github.com/gobridge/gobridge/proto/gobridge/v1"
	"github.com/gobridge/gobridge/sdk"
	"github.com/gobridge/gobridge/sdk/sdktest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// TestHelperProcess is not a test: it is the plugin that the tests below
// start by re-executing the test binary.
func TestHelperProcess(t *testing.T) {
	if os.Getenv("GO_WANT_HELPER_PROCESS") != "1" {
		return
	}
	sdk.ServeHandler(sdk.HandlerFunc(func(w *sdk.ResponseWriter, r *sdk.Request) error {
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

// startPlugin runs the helper plugin as gobridged would and returns it
// with the socket address from its handshake line.
func startPlugin(t *testing.T) (*exec.Cmd, string) {
	dir, err := os.MkdirTemp("", "gbs")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	cmd := helper(t,
		handshake.Config.MagicCookieKey+"="+handshake.Config.MagicCookieValue,
		"PLUGIN_PROTOCOL_VERSIONS=1",
		"PLUGIN_UNIX_SOCKET_DIR="+dir)
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
	go func() { _, _ = bufio.NewReader(stderr).WriteTo(devNull{}) }()
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
	return cmd, f[3]
}

func dial(t *testing.T, addr string) pb.GoBridgeClient {
	cc, err := grpc.NewClient("unix://"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return pb.NewGoBridgeClient(cc)
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
// gobridged: on SIGTERM a call in progress completes, then the plugin exits 0.
func TestServeSIGTERMFinishesInFlightCall(t *testing.T) {
	cmd, addr := startPlugin(t)
	c := dial(t, addr)
	got := make(chan *sdktest.Recorder, 1)
	go func() { got <- sdktest.Do(t, c, sdktest.NewRequest("GET", "/slow", nil)) }()
	time.Sleep(200 * time.Millisecond) // the call is in the handler's sleep
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case rec := <-got:
		if rec.Code != 200 || rec.Body.String() != "hello /slow\n" {
			t.Errorf("in-flight call across SIGTERM = %d %q; want 200 \"hello /slow\\n\"", rec.Code, rec.Body.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("in-flight call did not complete after SIGTERM")
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("plugin exit after SIGTERM = %v; want status 0", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("plugin still running 10s after SIGTERM")
	}
}

type devNull struct{}

func (devNull) Write(p []byte) (int, error) { return len(p), nil }

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
