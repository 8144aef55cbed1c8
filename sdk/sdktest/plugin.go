package sdktest

import (
	"context"
	"io"
	"testing"

	pb "github.com/gobridge/gobridge/proto/gobridge/v1"
	"github.com/gobridge/gobridge/sdk"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// plugin holds a plugin's gRPC services as sdk.Register registers them, and
// calls them in process the way grpc-go's server would: every message
// crosses as its encoding, so the plugin and the test never share one.
// sdktest reaches the sdk through its public API only, as any other
// gRPC server of the plugin's would.
type plugin struct {
	services map[string]registered
}

type registered struct {
	desc *grpc.ServiceDesc
	impl any
}

// RegisterService implements grpc.ServiceRegistrar.
func (p *plugin) RegisterService(sd *grpc.ServiceDesc, impl any) {
	p.services[sd.ServiceName] = registered{sd, impl}
}

// newPlugin registers cfg's services; a cfg sdk.Serve would refuse (a nil
// handler, provider or filter) fails the test.
func newPlugin(t testing.TB, cfg *sdk.ServeConfig) *plugin {
	helper(t)
	p := &plugin{services: map[string]registered{}}
	if err := sdk.Register(p, cfg); err != nil {
		fatalf(t, "sdktest: %v", err)
	}
	return p
}

// unary calls service/method with req and returns the plugin's answer
// decoded into resp.
func (p *plugin) unary(ctx context.Context, service, method string, req, resp proto.Message) error {
	s, ok := p.services[service]
	if !ok {
		return status.Errorf(codes.Unimplemented, "sdktest: the plugin serves no %s", service)
	}
	for _, m := range s.desc.Methods {
		if m.MethodName != method {
			continue
		}
		in, err := proto.Marshal(req)
		if err != nil {
			return err
		}
		out, err := m.Handler(s.impl, ctx, func(v any) error { return proto.Unmarshal(in, v.(proto.Message)) }, nil)
		if err != nil {
			return err
		}
		b, err := proto.Marshal(out.(proto.Message))
		if err != nil {
			return err
		}
		return proto.Unmarshal(b, resp)
	}
	return status.Errorf(codes.Unimplemented, "sdktest: %s has no method %s", service, method)
}

// stream runs service/method on st until the plugin returns.
func (p *plugin) stream(service, method string, st grpc.ServerStream) error {
	s, ok := p.services[service]
	if !ok {
		return status.Errorf(codes.Unimplemented, "sdktest: the plugin serves no %s", service)
	}
	for _, d := range s.desc.Streams {
		if d.StreamName == method {
			return d.Handler(s.impl, st)
		}
	}
	return status.Errorf(codes.Unimplemented, "sdktest: %s has no stream %s", service, method)
}

// memStream is the plugin's end of an in-memory stream: what the plugin
// sends goes to out, what it receives comes from in, each as a copy.
type memStream[Req, Resp proto.Message] struct {
	ctx  context.Context
	in   <-chan Req
	out  chan<- Resp
	done <-chan struct{} // closed when the module's end gave up
}

func (s *memStream[Req, Resp]) Context() context.Context     { return s.ctx }
func (s *memStream[Req, Resp]) SetHeader(metadata.MD) error  { return nil }
func (s *memStream[Req, Resp]) SendHeader(metadata.MD) error { return nil }
func (s *memStream[Req, Resp]) SetTrailer(metadata.MD)       {}

func (s *memStream[Req, Resp]) SendMsg(m any) error {
	c := proto.Clone(m.(proto.Message)).(Resp) // the sdk reuses its buffers
	select {
	case s.out <- c:
		return nil
	case <-s.ctx.Done():
		return s.ctx.Err()
	}
}

func (s *memStream[Req, Resp]) RecvMsg(m any) error {
	select {
	case r, ok := <-s.in:
		if !ok {
			return io.EOF
		}
		proto.Merge(m.(proto.Message), r)
		return nil
	case <-s.ctx.Done():
		return s.ctx.Err()
	}
}

// The service and method names sdktest calls.
var (
	serviceGoBridge = pb.GoBridge_ServiceDesc.ServiceName
	serviceAuth     = pb.GoBridgeAuth_ServiceDesc.ServiceName
	serviceFilter   = pb.GoBridgeFilter_ServiceDesc.ServiceName
)
