package wire

import (
	"context"

	pb "github.com/gobridge/gobridge/proto/gobridge/v1"
)

// FilterStream is the plugin's end of a Filter stream. The generated
// grpc.BidiStreamingServer satisfies it; sdktest supplies an in-memory one.
type FilterStream interface {
	Context() context.Context
	Send(*pb.FilterResponse) error
	Recv() (*pb.FilterRequest, error)
}

// FilterHooks lets sdktest run package sdk's filter streams in process,
// like Hooks does for the other calls. Package sdk sets it in init.
var FilterHooks struct {
	// ServeFilter runs one Filter stream for impl (an sdk.BodyFilter).
	ServeFilter func(impl any, st FilterStream) error

	// SendRaw sends m on the stream behind f (an *sdk.Filter), bypassing
	// every check the SDK makes, so tests can make sure the module refuses
	// what the SDK would never send.
	SendRaw func(f any, m *pb.FilterResponse) error
}
