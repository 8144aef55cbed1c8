package leangrpc_test

import (
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Calls that add metadata and error messages to the hpack table, enough
// to evict, mixed with plain ones: every answer must still decode to what
// was sent (a check for any shortcut in encoding the fixed fields of an
// answer, such as copying their last encoding).
func TestHeadersAcrossTableChanges(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		c := f.dial(t)
		for i := 0; i < 300; i++ {
			switch i % 4 {
			case 0:
				v := fmt.Sprintf("v%d-%s", i, strings.Repeat("x", i%50))
				ctx := metadata.AppendToOutgoingContext(ctxT(t), "x-grpc-test-echo-initial", v)
				var hdr metadata.MD
				if _, err := c.UnaryCall(ctx, &testgrpc.SimpleRequest{ResponseSize: 1}, grpc.Header(&hdr)); err != nil {
					t.Fatalf("call %d: %v", i, err)
				}
				if got := hdr.Get("x-grpc-test-echo-initial"); len(got) != 1 || got[0] != v {
					t.Fatalf("call %d: header metadata %v", i, hdr)
				}
				if got := hdr.Get("content-type"); len(got) != 1 || got[0] != "application/grpc" {
					t.Fatalf("call %d: content-type %v", i, got)
				}
			case 1:
				msg := fmt.Sprintf("no %d", i)
				_, err := c.UnaryCall(ctxT(t), &testgrpc.SimpleRequest{ResponseStatus: &testgrpc.EchoStatus{Code: int32(codes.NotFound), Message: msg}})
				if s := status.Convert(err); s.Code() != codes.NotFound || s.Message() != msg {
					t.Fatalf("call %d: %v", i, err)
				}
			default:
				var hdr metadata.MD
				if _, err := c.UnaryCall(ctxT(t), &testgrpc.SimpleRequest{ResponseSize: 2}, grpc.Header(&hdr)); err != nil {
					t.Fatalf("call %d: %v", i, err)
				}
				if got := hdr.Get("content-type"); len(got) != 1 || got[0] != "application/grpc" {
					t.Fatalf("call %d: content-type %v", i, got)
				}
			}
		}
	})
}
