package sdk

import (
	"os"

	"github.com/gobridge/gobridge/internal/leangrpc"
	"github.com/gobridge/gobridge/internal/wire"
	pb "github.com/gobridge/gobridge/proto/gobridge/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// A plugin serves gRPC with two servers on go-plugin's one socket:
// grpc-go's, for go-plugin (handshake, health, stdio, controller) and any
// ordinary gRPC client, and internal/leangrpc's for the connections
// mod_gobridge opens, which announce themselves in their first HTTP/2
// SETTINGS frame. The lean server reads a call, runs it and writes the
// answer on one goroutine, where grpc-go crosses three (bench/README.md).

// LeanServerEnv names the environment variable that, set to "off", keeps
// every connection on grpc-go's server (to compare the two, or to rule
// the lean server out when chasing a problem).
const LeanServerEnv = "GOBRIDGE_LEAN_SERVER"

// newGRPCServer returns grpc-go's server with the SDK's options and opts,
// and the lean server it hands the module's connections to (nil when
// LeanServerEnv is "off"). Register services on both (see both).
func newGRPCServer(opts ...grpc.ServerOption) (*grpc.Server, *leangrpc.Server) {
	var lean *leangrpc.Server
	if os.Getenv(LeanServerEnv) != "off" {
		lean = leangrpc.NewServer(leangrpc.Options{
			MaxRecvMsgSize:    wire.MaxMessage,
			MaxSendMsgSize:    wire.MaxMessage,
			InitialWindowSize: 1 << 20,
			ConnWindowSize:    8 << 20,
		})
	}
	all := append(append([]grpc.ServerOption(nil), serverOptions...), opts...)
	// Last, so it wins over any Creds in opts (go-plugin adds none: no
	// AutoMTLS on a private unix socket).
	all = append(all, grpc.Creds(leangrpc.Dispatch(insecure.NewCredentials(), lean)))
	return grpc.NewServer(all...), lean
}

// both registers a service on grpc-go's server and the lean one.
type both struct {
	gs   *grpc.Server
	lean *leangrpc.Server
}

func (b both) RegisterService(sd *grpc.ServiceDesc, impl any) {
	b.gs.RegisterService(sd, impl)
	if b.lean != nil {
		b.lean.RegisterService(sd, impl)
	}
}

// sendLast sends a Handle call's last message. On the lean server it waits
// in the connection's buffer for the trailers that follow at once, so the
// whole answer takes one write.
func sendLast(st wire.Stream, m *pb.HandleResponse) error {
	if g, ok := st.(*grpc.GenericServerStream[pb.HandleRequest, pb.HandleResponse]); ok {
		if b, ok := g.ServerStream.(leangrpc.Buffered); ok {
			return b.SendMsgBuffered(m)
		}
	}
	return st.Send(m)
}
