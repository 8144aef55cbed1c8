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

// Hooks lets package sdk's own tests and the end-to-end test plugins
// (tests/plugins) reach sdk internals: to serve through the lean server,
// and to misbehave on purpose, sending what the SDK never would, so the
// module's refusals can be tested. sdktest, the plugin authors' harness,
// does not use it: it reaches the sdk through sdk.Register only. Package
// sdk sets every field in its init function; the any-typed arguments are
// sdk types.
var Hooks struct {
	// NewServer returns a gRPC server with sdk's options and the GoBridge
	// service for handler (an sdk.Handler) registered.
	NewServer func(handler any, opts ...grpc.ServerOption) *grpc.Server

	// ServeStream runs one Handle stream for handler (an sdk.Handler).
	ServeStream func(handler any, st Stream) error

	// SendRaw sends m on the stream behind w (an *sdk.ResponseWriter),
	// bypassing every check the SDK makes. It exists so tests can make sure
	// the module refuses what the SDK would never send.
	SendRaw func(w any, m *pb.HandleResponse) error

	// RoundTripRaw is SendRaw for a message that httpd answers (a
	// sub_request): it returns the module's answer.
	RoundTripRaw func(w any, m *pb.HandleResponse) (*pb.HandleRequest, error)
}
