package bridge

import (
	"context"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// backoff is the restart delay policy: Min doubling up to Max, back to Min
// once a plugin has stayed up for ResetAfter.
type backoff struct {
	Min, Max   time.Duration
	ResetAfter time.Duration
	next       time.Duration
}

// Next returns the delay before the next restart and doubles the one after.
func (b *backoff) Next() time.Duration {
	if b.next < b.Min {
		b.next = b.Min
	}
	d := b.next
	b.next = min(b.next*2, b.Max)
	return d
}

// Ran records that the last process ran for up: a healthy run of at least
// ResetAfter resets the delay to Min.
func (b *backoff) Ran(up time.Duration) {
	if up >= b.ResetAfter {
		b.next = b.Min
	}
}

// checkHealth asks go-plugin's health service (served by every plugin
// under the name "plugin") whether the plugin is serving. Unlike
// plugin.GRPCClient.Ping it is bounded by timeout.
func checkHealth(ctx context.Context, cc *grpc.ClientConn, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{Service: plugin.GRPCServiceName})
	if err != nil {
		return err
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return &notServingError{resp.GetStatus()}
	}
	return nil
}

type notServingError struct {
	status healthpb.HealthCheckResponse_ServingStatus
}

func (e *notServingError) Error() string { return "health status " + e.status.String() }
