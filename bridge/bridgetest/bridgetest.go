// Package bridgetest provides a fake gobridge plugin for tests of gobridged
// and of anything that talks to a supervised plugin. It serves the GoBridge
// service through go-plugin with gobridge's handshake, like sdk.Serve, and
// behaves as its mode says, so tests can make a plugin hang, crash or be
// slow.
//
// Use it from a test binary that re-executes itself:
//
//	func TestMain(m *testing.M) {
//		if os.Getenv(bridgetest.EnvHelper) == "1" {
//			bridgetest.Main(os.Args[1:])
//		}
//		os.Setenv(bridgetest.EnvHelper, "1") // inherited by the plugins gobridged starts
//		os.Exit(m.Run())
//	}
//
// and declare os.Args[0] as the plugin binary with the mode as argument.
package bridgetest

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/gobridge/gobridge/internal/handshake"
	gobridgev1 "github.com/gobridge/gobridge/proto/gobridge/v1"
	"github.com/gobridge/gobridge/tests/gate"
)

// EnvHelper is the environment variable that makes a test binary act as
// the fake plugin (the GO_WANT_HELPER_PROCESS pattern).
const EnvHelper = "GO_WANT_HELPER_PROCESS"

// Modes understood by Main (the first argument):
const (
	// ModeServe serves normally.
	ModeServe = "serve"
	// ModeHang never completes the handshake.
	ModeHang = "hang"
	// ModeExit exits with status 3 before the handshake.
	ModeExit = "exit"
	// ModeNoTerm serves but ignores SIGTERM, so only SIGKILL stops it.
	ModeNoTerm = "noterm"
	// ModeSick completes the handshake but never answers Describe.
	ModeSick = "sick"
)

// PIDPrefix starts DescribeResponse.sdk_version: "fake pid=1234 args=a,b".
const PIDPrefix = "fake pid="

// Main runs the fake plugin with args (mode first, then anything, echoed by
// Describe) and exits. Describe also prints "describe called" to os.Stdout,
// which go-plugin forwards to the host over its stdio stream. Phase calls answer DECLINED, after
// waiting at the gate (tests/gate) whose URL is the request's "gate" option
// until the test releases it, so tests can hold a call in flight.
func Main(args []string) {
	mode := ModeServe
	if len(args) > 0 {
		mode = args[0]
	}
	switch mode {
	case ModeHang:
		time.Sleep(time.Hour)
		os.Exit(1)
	case ModeExit:
		fmt.Fprintln(os.Stderr, "fake plugin exiting as asked")
		os.Exit(3)
	}
	logger := hclog.New(&hclog.LoggerOptions{
		Name:       "fake",
		Level:      hclog.Trace,
		Output:     os.Stderr,
		JSONFormat: true,
	})
	srvCh := make(chan *grpc.Server, 1)
	if mode == ModeNoTerm {
		signal.Ignore(syscall.SIGTERM)
	} else {
		// What sdk.Serve does: SIGTERM stops the gRPC server gracefully
		// (in-flight calls finish), then the process exits.
		term := make(chan os.Signal, 1)
		signal.Notify(term, syscall.SIGTERM)
		go func() {
			<-term
			logger.Info("SIGTERM: stopping gracefully")
			(<-srvCh).GracefulStop()
			logger.Info("stopped")
			os.Exit(0)
		}()
	}
	logger.Info("fake plugin starting", "mode", mode)
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: handshake.Config,
		Plugins:         plugin.PluginSet{handshake.PluginName: &servePlugin{srv: &server{args: args, log: logger}}},
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			s := grpc.NewServer(opts...)
			srvCh <- s
			return s
		},
		Logger: logger,
	})
	os.Exit(0)
}

// ParsePID extracts the pid from a DescribeResponse.sdk_version written by
// the fake plugin.
func ParsePID(sdkVersion []byte) (int, error) {
	s, ok := strings.CutPrefix(string(sdkVersion), PIDPrefix)
	if !ok {
		return 0, fmt.Errorf("sdk_version %q is not from bridgetest", sdkVersion)
	}
	s, _, _ = strings.Cut(s, " ")
	return strconv.Atoi(s)
}

type servePlugin struct {
	plugin.NetRPCUnsupportedPlugin
	srv *server
}

func (p *servePlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	gobridgev1.RegisterGoBridgeServer(s, p.srv)
	return nil
}

func (p *servePlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, fmt.Errorf("bridgetest: server side only")
}

type server struct {
	gobridgev1.UnimplementedGoBridgeServer
	args []string
	log  hclog.Logger
}

func (s *server) Describe(ctx context.Context, _ *gobridgev1.DescribeRequest) (*gobridgev1.DescribeResponse, error) {
	if len(s.args) > 0 && s.args[0] == ModeSick {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	// Reaches gobridged through go-plugin's stdio stream.
	fmt.Println("describe called")
	return &gobridgev1.DescribeResponse{
		Phases:     []gobridgev1.Phase{gobridgev1.Phase_PHASE_FIXUPS},
		SdkVersion: fmt.Appendf(nil, "%s%d args=%s", PIDPrefix, os.Getpid(), strings.Join(s.args, ",")),
	}, nil
}

func (s *server) Phase(ctx context.Context, req *gobridgev1.PhaseRequest) (*gobridgev1.PhaseResponse, error) {
	for _, o := range req.GetRequest().GetOptions() {
		if string(o.GetKey()) == "gate" {
			s.log.Info("phase call waiting at its gate")
			if err := gate.Wait(ctx, string(o.GetValue())); err != nil {
				return nil, err
			}
		}
	}
	return &gobridgev1.PhaseResponse{Result: gobridgev1.Result_RESULT_DECLINED}, nil
}
