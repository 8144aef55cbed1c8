package tests

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/gobridge/gobridge/internal/handshake"
	gobridgev1 "github.com/gobridge/gobridge/proto/gobridge/v1"
	"github.com/gobridge/gobridge/tests/harness"
)

// pythonCmd returns the example plugin's command line, run from the
// repository with freshly generated modules, and the environment gobridged
// would give it (cookie, protocol versions, socket directory).
func pythonCmd(t *testing.T, sockDir string, extraEnv ...string) *exec.Cmd {
	t.Helper()
	gen := pythonGenerated(t)
	cmd := exec.Command(python, "-B", filepath.Join(harness.RepoRoot(), "examples", "python", "plugin.py"), "--generated", gen)
	cmd.Env = append(os.Environ(),
		handshake.Config.MagicCookieKey+"="+handshake.Config.MagicCookieValue,
		"PLUGIN_PROTOCOL_VERSIONS=1",
		"PLUGIN_UNIX_SOCKET_DIR="+sockDir)
	cmd.Env = append(cmd.Env, extraEnv...)
	return cmd
}

// pyHost is the host side of the plugin map for go-plugin's client; the
// test talks to the plugin's connection itself.
type pyHost struct{ plugin.NetRPCUnsupportedPlugin }

func (pyHost) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error {
	return fmt.Errorf("pyHost is a host")
}

func (pyHost) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, nil
}

// startPython starts the plugin with go-plugin's client, as gobridged does,
// and returns once it printed its handshake line. The process is killed at
// the end of the test if it is still there.
func startPython(t *testing.T) (*plugin.Client, *exec.Cmd, net.Addr) {
	t.Helper()
	sockDir := t.TempDir()
	cmd := pythonCmd(t, sockDir, "GOBRIDGE_PARENT_PID="+strconv.Itoa(os.Getpid()))
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  handshake.Config,
		Plugins:          plugin.PluginSet{handshake.PluginName: pyHost{}},
		Cmd:              cmd,
		SkipHostEnv:      true,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		UnixSocketConfig: &plugin.UnixSocketConfig{TempDir: sockDir},
		Logger:           hclog.NewNullLogger(),
	})
	t.Cleanup(client.Kill)
	addr, err := client.Start()
	if err != nil {
		t.Fatalf("go-plugin handshake: %v", err)
	}
	return client, cmd, addr
}

// TestPythonPluginLifecycle checks the Python plugin against go-plugin's own
// client, as gobridged starts it, and the ways it must refuse to start or
// stop (docs/protocol.md).
func TestPythonPluginLifecycle(t *testing.T) {
	t.Run("refuses to start", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			env  []string
			want string
		}{
			{"by hand", []string{handshake.Config.MagicCookieKey + "=wrong"}, "is a gobridge plugin"},
			{"unknown protocol version", []string{"PLUGIN_PROTOCOL_VERSIONS=2,3"}, "this plugin speaks 1"},
			{"TLS asked for", []string{"PLUGIN_CLIENT_CERT=x"}, "plain h2c"},
		} {
			cmd := pythonCmd(t, t.TempDir(), tc.env...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			if code := cmd.ProcessState.ExitCode(); code != 1 {
				t.Errorf("%s: exit code %d (%v); want 1", tc.name, code, err)
			}
			if stdout.Len() != 0 {
				t.Errorf("%s: printed %q on stdout; want no handshake line", tc.name, stdout.String())
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("%s: stderr %q lacks %q", tc.name, stderr.String(), tc.want)
			}
		}
	})

	t.Run("go-plugin client", func(t *testing.T) {
		client, _, addr := startPython(t)
		if addr.Network() != "unix" {
			t.Errorf("plugin listens on %s %s; want a unix socket", addr.Network(), addr)
		}
		raw, err := client.Client()
		if err != nil {
			t.Fatal(err)
		}
		rpc := raw.(*plugin.GRPCClient)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		health, err := healthpb.NewHealthClient(rpc.Conn).Check(ctx, &healthpb.HealthCheckRequest{Service: plugin.GRPCServiceName})
		if err != nil || health.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("health check of %q = %v, %v; want SERVING", plugin.GRPCServiceName, health, err)
		}
		d, err := gobridgev1.NewGoBridgeClient(rpc.Conn).Describe(ctx, &gobridgev1.DescribeRequest{})
		if err != nil {
			t.Fatalf("Describe: %v", err)
		}
		// Started without --users it checks no passwords.
		wantPhases := []gobridgev1.Phase{gobridgev1.Phase_PHASE_HANDLER, gobridgev1.Phase_PHASE_FIXUPS}
		if !d.GetReportsServices() || d.GetPasswordChecker() || !d.GetRequireChecker() || fmt.Sprint(d.GetPhases()) != fmt.Sprint(wantPhases) {
			t.Errorf("Describe = %v; want phases %v, services reported, a require checker, no password checker", d, wantPhases)
		}
		bridge := gobridgev1.NewGoBridgeClient(rpc.Conn)
		fix, err := bridge.Phase(ctx, &gobridgev1.PhaseRequest{Phase: gobridgev1.Phase_PHASE_FIXUPS, Request: &gobridgev1.Request{Uri: []byte("/x")}})
		if err != nil || fix.GetResult() != gobridgev1.Result_RESULT_OK || len(fix.GetMutations()) != 1 {
			t.Errorf("Phase(fixups) = %v, %v; want OK with one header", fix, err)
		}
		_, err = bridge.Phase(ctx, &gobridgev1.PhaseRequest{Phase: gobridgev1.Phase_PHASE_ACCESS})
		if status.Code(err) != codes.Unimplemented {
			t.Errorf("Phase(access): %v; want Unimplemented", err)
		}
		// go-plugin's Close asks the controller to shut the plugin down.
		_ = rpc.Close()
		if !harness.WaitFor(10*time.Second, client.Exited) {
			t.Errorf("the plugin did not exit after the controller's Shutdown")
		}
	})

	t.Run("SIGTERM lets a call finish", func(t *testing.T) {
		client, cmd, addr := startPython(t)
		// A connection of its own, as the module has.
		cc, err := grpc.NewClient("unix://"+addr.String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer cc.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		stream, err := gobridgev1.NewGoBridgeClient(cc).Handle(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// A POST whose body is not all there: the handler waits for it.
		first := &gobridgev1.HandleRequest{
			Request: &gobridgev1.Request{Method: []byte("POST"), Uri: []byte("/py/echo"), HasBody: true, ContentLength: -1},
			Body:    []byte("first half, "),
		}
		if err := stream.Send(first); err != nil {
			t.Fatal(err)
		}
		ask, err := stream.Recv()
		if err != nil || ask.GetReadBody() == 0 {
			t.Fatalf("first answer %v, %v; want a read_body question", ask, err)
		}
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		// Stopping: the plugin takes no new connections...
		if !harness.WaitFor(10*time.Second, func() bool {
			c, err := net.Dial("unix", addr.String())
			if err == nil {
				c.Close()
			}
			return err != nil
		}) {
			t.Fatal("the plugin still accepts connections after SIGTERM")
		}
		// ...but the call in flight gets its body and answers in full.
		if err := stream.Send(&gobridgev1.HandleRequest{Body: []byte("second half"), BodyEof: true}); err != nil {
			t.Fatalf("sending the rest of the body after SIGTERM: %v", err)
		}
		var body []byte
		var finish *gobridgev1.Finish
		for {
			m, err := stream.Recv()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("the call in flight failed after SIGTERM: %v", err)
			}
			body = append(body, m.GetBody()...)
			if m.GetFinish() != nil {
				finish = m.GetFinish()
			}
		}
		if string(body) != "first half, second half" || finish.GetResult() != gobridgev1.Result_RESULT_OK {
			t.Errorf("answer %q, finish %v; want the whole body echoed and RESULT_OK", body, finish)
		}
		if !harness.WaitFor(10*time.Second, client.Exited) {
			t.Errorf("the plugin did not exit after its last call")
		}
	})

	t.Run("parent gone", func(t *testing.T) {
		// GOBRIDGE_PARENT_PID names a process that is not the parent: the
		// plugin takes it that gobridged died before it started watching.
		cmd := pythonCmd(t, t.TempDir(), "GOBRIDGE_PARENT_PID=1")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, _ := io.ReadAll(out) // the handshake line, then EOF: stdout becomes stderr
		if !regexp.MustCompile(`^1\|1\|unix\|/.+\|grpc\|\n$`).Match(line) {
			t.Errorf("handshake line %q; want 1|1|unix|PATH|grpc|", line)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("plugin exited with %v; want status 0", err)
			}
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Fatalf("the plugin did not exit when its parent was gone")
		}
		if !strings.Contains(stderr.String(), "parent process 1 went away") {
			t.Errorf("stderr %q does not say why the plugin stopped", stderr.String())
		}
	})
}

// TestPythonUnit runs the Python example's own unit tests
// (examples/python/tests) with Debian's interpreter and the modules
// generated from proto/: the CI runs them through go test.
func TestPythonUnit(t *testing.T) {
	dir := filepath.Join(harness.RepoRoot(), "examples", "python")
	cmd := exec.Command(python, "-B", "-m", "unittest", "discover", "-v", "-s", "tests")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PYTHONPATH="+pythonGenerated(t)+":"+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python unittest: %v\n%s", err, out)
	}
	// unittest exits 0 also when it found nothing to run.
	ran := regexp.MustCompile(`(?m)^Ran [1-9][0-9]* tests? in`).Find(out)
	if ran == nil {
		t.Fatalf("python unittest ran no test:\n%s", out)
	}
	t.Logf("python unittest: %s", ran)
}
