package sdk

import (
	"context"
	"os"

	"github.com/gobridge/gobridge/internal/leangrpc"
	"github.com/gobridge/gobridge/internal/wire"
	pb "github.com/gobridge/gobridge/proto/gobridge/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
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
	return newGRPCServerCreds(func(lean *leangrpc.Server) credentials.TransportCredentials {
		return leangrpc.Dispatch(insecure.NewCredentials(), lean)
	}, opts...)
}

// newGRPCServerCreds is newGRPCServer with the transport credentials that
// creds makes for the lean server (a Dispatch over them).
func newGRPCServerCreds(creds func(*leangrpc.Server) credentials.TransportCredentials, opts ...grpc.ServerOption) (*grpc.Server, *leangrpc.Server) {
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
	all = append(all, grpc.Creds(creds(lean)))
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
		if s, ok := impl.(*server); ok && sd.ServiceName == pb.GoBridge_ServiceDesc.ServiceName {
			sd = s.leanDesc(sd)
		}
		if a, ok := impl.(*authServer); ok && sd.ServiceName == pb.GoBridgeAuth_ServiceDesc.ServiceName {
			sd = a.leanDesc(sd)
		}
		b.lean.RegisterService(sd, impl)
	}
}

// leanDesc is sd with the module's hot calls, Handle and Phase, handled by
// code that decodes their messages from the raw bytes (wire.DecodeHandleFirst,
// wire.DecodePhaseRequest): protobuf's generated decoding allocates every
// field of the request snapshot, and it was most of a call's garbage.
// grpc-go's server keeps the generated handlers, for every other client.
func (s *server) leanDesc(sd *grpc.ServiceDesc) *grpc.ServiceDesc {
	d := *sd
	d.Methods = append([]grpc.MethodDesc(nil), sd.Methods...)
	d.Streams = append([]grpc.StreamDesc(nil), sd.Streams...)
	for i := range d.Methods {
		if d.Methods[i].MethodName == "Phase" {
			d.Methods[i].Handler = s.phaseRaw
		}
	}
	for i := range d.Streams {
		if d.Streams[i].StreamName == "Handle" {
			d.Streams[i].Handler = s.handleRaw
		}
	}
	return &d
}

// phaseRaw is the Phase method's handler on the lean server.
func (s *server) phaseRaw(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
	var raw leangrpc.Raw
	if err := dec(&raw); err != nil {
		return nil, err
	}
	phase, req, err := wire.DecodePhaseRequest(raw.Data)
	if err != nil {
		return nil, leangrpc.UnmarshalError(err)
	}
	return runPhaseDecoded(ctx, s.phases, phase, req)
}

// handleRaw is the Handle stream's handler on the lean server.
func (s *server) handleRaw(_ any, ss grpc.ServerStream) error {
	if s.h == nil {
		return status.Error(codes.Unimplemented, "sdk: this plugin has no content handler")
	}
	// One allocation for the message and the stream wrapper.
	l := &leanHandle{}
	if err := ss.RecvMsg(&l.raw); err != nil {
		return err
	}
	first, err := wire.DecodeHandleFirst(l.raw.Data)
	if err != nil {
		return leangrpc.UnmarshalError(err)
	}
	// The wrapper the generated handler would pass: later messages (body
	// chunks, sub-request answers) go through it, and sendLast knows it.
	l.gs.ServerStream = ss
	return serveFirst(s.h, &l.gs, &first)
}

type leanHandle struct {
	raw leangrpc.Raw
	gs  grpc.GenericServerStream[pb.HandleRequest, pb.HandleResponse]
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

// leanDesc is the auth service's sd with handlers that decode the snapshot
// of each call from the raw bytes (wire.DecodeSplit), as server.leanDesc.
func (a *authServer) leanDesc(sd *grpc.ServiceDesc) *grpc.ServiceDesc {
	d := *sd
	d.Methods = append([]grpc.MethodDesc(nil), sd.Methods...)
	for i := range d.Methods {
		switch d.Methods[i].MethodName {
		case "CheckPassword":
			d.Methods[i].Handler = leanAuth(a.checkPassword)
		case "GetRealmHash":
			d.Methods[i].Handler = leanAuth(a.getRealmHash)
		case "CheckAuthorization":
			d.Methods[i].Handler = leanAuth(a.checkAuthorization)
		}
	}
	return &d
}

// leanAuth makes a method handler of an auth call's answer function: the
// snapshot (field 1 of every auth request) by the raw decoder, the other
// fields by protobuf into a Req.
func leanAuth[Req any, PReq interface {
	*Req
	proto.Message
}, Resp any](answer func(context.Context, *authCall, PReq) (Resp, error)) grpc.MethodHandler {
	return func(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
		var raw leangrpc.Raw
		if err := dec(&raw); err != nil {
			return nil, err
		}
		req := PReq(new(Req))
		wr, _, err := wire.DecodeSplit(raw.Data, 1, req)
		if err != nil {
			return nil, leangrpc.UnmarshalError(err)
		}
		return answer(ctx, newAuthCall(ctx, wr), req)
	}
}
