package wire

import (
	"context"

	pb "github.com/gobridge/gobridge/proto/gobridge/v1"
	"google.golang.org/grpc"
)

// Stream is the plugin's end of a Handle stream. The generated
// grpc.BidiStreamingServer satisfies it; sdktest supplies an in-memory one.
type Stream interface {
	Context() context.Context
	Send(*pb.HandleResponse) error
	Recv() (*pb.HandleRequest, error)
}

// Hooks lets sdktest and the end-to-end test plugins reach package sdk's
// internals without widening sdk's public API. Package sdk sets every field
// in its init function; the any-typed arguments are sdk types.
var Hooks struct {
	// NewServer returns a gRPC server with sdk's options and the GoBridge
	// service for handler (an sdk.Handler) registered.
	NewServer func(handler any, opts ...grpc.ServerOption) *grpc.Server

	// ServeStream runs one Handle stream for handler (an sdk.Handler).
	ServeStream func(handler any, st Stream) error

	// RequestToWire converts an *sdk.Request to the snapshot the module
	// would send.
	RequestToWire func(r any) Request

	// SendRaw sends m on the stream behind w (an *sdk.ResponseWriter),
	// bypassing every check the SDK makes. It exists so tests can make sure
	// the module refuses what the SDK would never send.
	SendRaw func(w any, m *pb.HandleResponse) error

	// RoundTripRaw is SendRaw for a message that httpd answers (a
	// sub_request): it returns the module's answer.
	RoundTripRaw func(w any, m *pb.HandleResponse) (*pb.HandleRequest, error)

	// AuthServer returns the GoBridgeAuth service the sdk serves for the
	// given sdk.PasswordChecker, sdk.RealmHasher and sdk.RequireChecker
	// (each may be nil or not implement its interface).
	AuthServer func(pc, rh, rc any) pb.GoBridgeAuthServer

	// Phase runs one non-body phase call for impl (a value implementing
	// some of sdk's phase interfaces) in process, as the gRPC Phase method
	// would.
	Phase func(ctx context.Context, impl any, req *pb.PhaseRequest) (*pb.PhaseResponse, error)
}
