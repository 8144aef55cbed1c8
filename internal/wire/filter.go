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
}
