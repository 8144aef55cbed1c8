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

// FilterHooks is Hooks for filter streams (the end-to-end test plugins
// only). Package sdk sets it in init.
var FilterHooks struct {
	// SendRaw sends m on the stream behind f (an *sdk.Filter), bypassing
	// every check the SDK makes, so tests can make sure the module refuses
	// what the SDK would never send.
	SendRaw func(f any, m *pb.FilterResponse) error
}
