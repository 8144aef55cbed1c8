package leangrpc_test

// The conformance suite: grpc-go's own client against the lean server (as
// plugins serve the module: through Dispatch on grpc-go's listener) and,
// as the control that keeps the expectations honest, against grpc-go's
// server. Every case runs against both.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/gobridge/gobridge/internal/leangrpc"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

const maxRecv = 1 << 20 // the servers' MaxRecvMsgSize in these tests

// testServer implements grpc.testing.TestService. Requests name special
// behaviour in their payload body (see waitFor).
type testServer struct {
	testgrpc.UnimplementedTestServiceServer
	// observed receives what a waiting handler saw: its context's error
	// and whether the context had a deadline; waiting is told when a
	// handler starts waiting.
	observed chan observation
	waiting  chan struct{}
	// leanSeen counts calls whose peer went through the lean server.
	mu    sync.Mutex
	peers map[string]int
	// block, when set, is what a "block" request waits for, ignoring its
	// context; blocked is told when it starts waiting.
	block   chan struct{}
	blocked chan struct{}
}

type observation struct {
	err         error
	hadDeadline bool
}

func newTestServer() *testServer {
	return &testServer{observed: make(chan observation, 16), waiting: make(chan struct{}, 16),
		peers: map[string]int{}, blocked: make(chan struct{}, 1)}
}

func payload(n int) *testgrpc.Payload {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return &testgrpc.Payload{Body: b}
}

// waitFor blocks until ctx ends and reports what it saw.
func (s *testServer) waitFor(ctx context.Context) error {
	select {
	case s.waiting <- struct{}{}:
	default:
	}
	<-ctx.Done()
	_, ok := ctx.Deadline()
	s.observed <- observation{err: ctx.Err(), hadDeadline: ok}
	return ctx.Err()
}

// pollFor is waitFor for a handler that never calls ctx.Done: it works
// until ctx.Err() tells it to stop.
func (s *testServer) pollFor(ctx context.Context) error {
	for ctx.Err() == nil {
		runtime.Gosched()
	}
	_, ok := ctx.Deadline()
	s.observed <- observation{err: ctx.Err(), hadDeadline: ok}
	return ctx.Err()
}

func echoMetadata(ctx context.Context) {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get("x-grpc-test-echo-initial"); len(v) > 0 {
		grpc.SetHeader(ctx, metadata.Pairs("x-grpc-test-echo-initial", v[0]))
	}
	if v := md.Get("x-grpc-test-echo-trailing-bin"); len(v) > 0 {
		grpc.SetTrailer(ctx, metadata.Pairs("x-grpc-test-echo-trailing-bin", v[0]))
	}
}

func (s *testServer) EmptyCall(ctx context.Context, _ *testgrpc.Empty) (*testgrpc.Empty, error) {
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		s.mu.Lock()
		s.peers[p.Addr.Network()]++
		s.mu.Unlock()
	}
	return &testgrpc.Empty{}, nil
}

func (s *testServer) UnaryCall(ctx context.Context, req *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
	echoMetadata(ctx)
	switch string(req.GetPayload().GetBody()) {
	case "wait":
		return nil, s.waitFor(ctx)
	case "poll":
		return nil, s.pollFor(ctx)
	case "block":
		s.blocked <- struct{}{}
		<-s.block
		return &testgrpc.SimpleResponse{}, nil
	}
	if rs := req.GetResponseStatus(); rs != nil {
		st := status.New(codes.Code(rs.Code), rs.Message)
		if rs.Code == int32(codes.FailedPrecondition) {
			st, _ = st.WithDetails(&errdetails.ErrorInfo{Reason: "TEST", Domain: "gobridge"})
		}
		return nil, st.Err()
	}
	return &testgrpc.SimpleResponse{Payload: payload(int(req.GetResponseSize()))}, nil
}

func (s *testServer) StreamingOutputCall(req *testgrpc.StreamingOutputCallRequest, st grpc.ServerStreamingServer[testgrpc.StreamingOutputCallResponse]) error {
	if string(req.GetPayload().GetBody()) == "wait" {
		return s.waitFor(st.Context())
	}
	for _, p := range req.GetResponseParameters() {
		if err := st.Send(&testgrpc.StreamingOutputCallResponse{Payload: payload(int(p.GetSize()))}); err != nil {
			return err
		}
	}
	return nil
}

func (s *testServer) StreamingInputCall(st grpc.ClientStreamingServer[testgrpc.StreamingInputCallRequest, testgrpc.StreamingInputCallResponse]) error {
	sum := 0
	for {
		req, err := st.Recv()
		if err == io.EOF {
			return st.SendAndClose(&testgrpc.StreamingInputCallResponse{AggregatedPayloadSize: int32(sum)})
		}
		if err != nil {
			return err
		}
		if !bytes.Equal(req.GetPayload().GetBody(), payload(len(req.GetPayload().GetBody())).Body) {
			return status.Error(codes.DataLoss, "payload corrupted")
		}
		sum += len(req.GetPayload().GetBody())
	}
}

func (s *testServer) FullDuplexCall(st grpc.BidiStreamingServer[testgrpc.StreamingOutputCallRequest, testgrpc.StreamingOutputCallResponse]) error {
	echoMetadata(st.Context())
	for {
		req, err := st.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if string(req.GetPayload().GetBody()) == "wait" {
			return s.waitFor(st.Context())
		}
		if rs := req.GetResponseStatus(); rs != nil {
			return status.Error(codes.Code(rs.Code), rs.Message)
		}
		for _, p := range req.GetResponseParameters() {
			if err := st.Send(&testgrpc.StreamingOutputCallResponse{Payload: payload(int(p.GetSize()))}); err != nil {
				return err
			}
		}
	}
}

func (s *testServer) HalfDuplexCall(st grpc.BidiStreamingServer[testgrpc.StreamingOutputCallRequest, testgrpc.StreamingOutputCallResponse]) error {
	var reqs []*testgrpc.StreamingOutputCallRequest
	for {
		req, err := st.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		reqs = append(reqs, req)
	}
	for _, req := range reqs {
		for _, p := range req.GetResponseParameters() {
			if err := st.Send(&testgrpc.StreamingOutputCallResponse{Payload: payload(int(p.GetSize()))}); err != nil {
				return err
			}
		}
	}
	return nil
}

// fixture is one server under test on a unix socket.
type fixture struct {
	impl  *testServer
	gs    *grpc.Server
	lean  *leangrpc.Server
	sock  string
	stops sync.Once
}

// kinds are the servers every case runs against.
var kinds = []string{"grpc-go", "lean"}

func start(t *testing.T, kind string) *fixture {
	t.Helper()
	f := &fixture{impl: newTestServer(), sock: filepath.Join(t.TempDir(), "s.sock")}
	if kind == "lean" {
		f.lean = leangrpc.NewServer(leangrpc.Options{MaxRecvMsgSize: maxRecv})
		testgrpc.RegisterTestServiceServer(f.lean, f.impl)
	}
	f.gs = grpc.NewServer(grpc.Creds(leangrpc.Dispatch(insecure.NewCredentials(), f.lean)), grpc.MaxRecvMsgSize(maxRecv))
	testgrpc.RegisterTestServiceServer(f.gs, f.impl)
	l, err := net.Listen("unix", f.sock)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); f.gs.Serve(l) }()
	t.Cleanup(func() { f.stop(); <-done })
	return f
}

func (f *fixture) stop() {
	f.stops.Do(func() {
		f.gs.Stop()
		if f.lean != nil {
			f.lean.Stop()
		}
	})
}

func (f *fixture) gracefulStop() {
	f.stops.Do(func() {
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { defer wg.Done(); f.gs.GracefulStop() }()
		if f.lean != nil {
			f.lean.GracefulStop()
		}
		wg.Wait()
	})
}

// dial returns a grpc-go client that announces itself as the module does.
func (f *fixture) dial(t *testing.T, opts ...grpc.DialOption) testgrpc.TestServiceClient {
	t.Helper()
	all := append([]grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			var d net.Dialer
			c, err := d.DialContext(ctx, "unix", f.sock)
			if err != nil {
				return nil, err
			}
			return leangrpc.Announce(c), nil
		}),
	}, opts...)
	cc, err := grpc.NewClient("passthrough:///gobridge", all...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return testgrpc.NewTestServiceClient(cc)
}

func each(t *testing.T, fn func(t *testing.T, f *fixture)) {
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) { fn(t, start(t, kind)) })
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func TestUnary(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		c := f.dial(t)
		if _, err := c.EmptyCall(ctxT(t), &testgrpc.Empty{}); err != nil {
			t.Fatalf("EmptyCall: %v", err)
		}
		for _, size := range []int{0, 1, 13, 16384, 16385, 100_000} {
			resp, err := c.UnaryCall(ctxT(t), &testgrpc.SimpleRequest{ResponseSize: int32(size), Payload: payload(size)})
			if err != nil {
				t.Fatalf("UnaryCall(%d): %v", size, err)
			}
			if !bytes.Equal(resp.GetPayload().GetBody(), payload(size).Body) {
				t.Fatalf("UnaryCall(%d): wrong payload of %d bytes", size, len(resp.GetPayload().GetBody()))
			}
		}
	})
}

// Messages larger than every flow-control window, both ways, with the
// client's windows at HTTP/2's minimum so WINDOW_UPDATEs must flow.
func TestLargeMessagesAcrossWindows(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		c := f.dial(t, grpc.WithInitialWindowSize(65535), grpc.WithInitialConnWindowSize(65535),
			grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(8<<20)))
		const big = maxRecv - 64
		resp, err := c.UnaryCall(ctxT(t), &testgrpc.SimpleRequest{ResponseSize: 6 << 20, Payload: payload(big)})
		if err != nil {
			t.Fatalf("UnaryCall: %v", err)
		}
		if !bytes.Equal(resp.GetPayload().GetBody(), payload(6<<20).Body) {
			t.Fatal("6 MiB answer corrupted")
		}
		st, err := c.StreamingInputCall(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		want := 0
		for i := range 12 {
			n := 900_000 + i
			want += n
			if err := st.Send(&testgrpc.StreamingInputCallRequest{Payload: payload(n)}); err != nil {
				t.Fatalf("Send %d: %v", i, err)
			}
		}
		sum, err := st.CloseAndRecv()
		if err != nil || int(sum.GetAggregatedPayloadSize()) != want {
			t.Fatalf("StreamingInputCall: %v, %d bytes, want %d", err, sum.GetAggregatedPayloadSize(), want)
		}
	})
}

func TestServerStreaming(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		c := f.dial(t)
		var params []*testgrpc.ResponseParameters
		for i := range 100 {
			params = append(params, &testgrpc.ResponseParameters{Size: int32(i * 997)})
		}
		params = append(params, &testgrpc.ResponseParameters{Size: 3 << 20})
		st, err := c.StreamingOutputCall(ctxT(t), &testgrpc.StreamingOutputCallRequest{ResponseParameters: params})
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range params {
			resp, err := st.Recv()
			if err != nil {
				t.Fatalf("Recv %d: %v", i, err)
			}
			if !bytes.Equal(resp.GetPayload().GetBody(), payload(int(p.Size)).Body) {
				t.Fatalf("response %d corrupted", i)
			}
		}
		if _, err := st.Recv(); err != io.EOF {
			t.Fatalf("after the last response: %v, want io.EOF", err)
		}
	})
}

func TestBidiPingPongAndHalfDuplex(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		c := f.dial(t)
		st, err := c.FullDuplexCall(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		for i := range 50 {
			size := i * 1500
			if err := st.Send(&testgrpc.StreamingOutputCallRequest{ResponseParameters: []*testgrpc.ResponseParameters{{Size: int32(size)}}}); err != nil {
				t.Fatalf("Send %d: %v", i, err)
			}
			resp, err := st.Recv()
			if err != nil || len(resp.GetPayload().GetBody()) != size {
				t.Fatalf("round %d: %v, %d bytes", i, err, len(resp.GetPayload().GetBody()))
			}
		}
		st.CloseSend()
		if _, err := st.Recv(); err != io.EOF {
			t.Fatalf("after CloseSend: %v, want io.EOF", err)
		}

		hd, err := c.HalfDuplexCall(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		for i := range 10 {
			hd.Send(&testgrpc.StreamingOutputCallRequest{ResponseParameters: []*testgrpc.ResponseParameters{{Size: int32(i)}}})
		}
		hd.CloseSend()
		for i := range 10 {
			resp, err := hd.Recv()
			if err != nil || len(resp.GetPayload().GetBody()) != i {
				t.Fatalf("half duplex %d: %v", i, err)
			}
		}
		if _, err := hd.Recv(); err != io.EOF {
			t.Fatalf("half duplex end: %v", err)
		}
	})
}

func TestStatusAndMetadata(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		c := f.dial(t)
		msg := "denied: 100% sure\nnot you, ünïcode \t end"
		_, err := c.UnaryCall(ctxT(t), &testgrpc.SimpleRequest{ResponseStatus: &testgrpc.EchoStatus{Code: int32(codes.PermissionDenied), Message: msg}})
		if s := status.Convert(err); s.Code() != codes.PermissionDenied || s.Message() != msg {
			t.Fatalf("got %v %q, want PermissionDenied %q", s.Code(), s.Message(), msg)
		}
		_, err = c.UnaryCall(ctxT(t), &testgrpc.SimpleRequest{ResponseStatus: &testgrpc.EchoStatus{Code: int32(codes.FailedPrecondition), Message: "x"}})
		s := status.Convert(err)
		if len(s.Details()) != 1 {
			t.Fatalf("status details: %v", s.Details())
		}
		if ei, ok := s.Details()[0].(*errdetails.ErrorInfo); !ok || ei.Reason != "TEST" {
			t.Fatalf("status detail: %v", s.Details()[0])
		}

		bin := string([]byte{0, 1, 0xfe, 0xff, 'a'})
		ctx := metadata.AppendToOutgoingContext(ctxT(t), "x-grpc-test-echo-initial", "hello", "x-grpc-test-echo-trailing-bin", bin)
		var hdr, trl metadata.MD
		if _, err := c.UnaryCall(ctx, &testgrpc.SimpleRequest{ResponseSize: 3}, grpc.Header(&hdr), grpc.Trailer(&trl)); err != nil {
			t.Fatal(err)
		}
		if got := hdr.Get("x-grpc-test-echo-initial"); len(got) != 1 || got[0] != "hello" {
			t.Fatalf("header metadata: %v", hdr)
		}
		if got := trl.Get("x-grpc-test-echo-trailing-bin"); len(got) != 1 || got[0] != bin {
			t.Fatalf("trailer metadata: %v", trl)
		}
		// The same on a stream.
		st, err := c.FullDuplexCall(ctx)
		if err != nil {
			t.Fatal(err)
		}
		st.Send(&testgrpc.StreamingOutputCallRequest{ResponseStatus: &testgrpc.EchoStatus{Code: int32(codes.Aborted), Message: msg}})
		_, err = st.Recv()
		if s := status.Convert(err); s.Code() != codes.Aborted || s.Message() != msg {
			t.Fatalf("stream status %v %q", s.Code(), s.Message())
		}
		if got := st.Trailer().Get("x-grpc-test-echo-trailing-bin"); len(got) != 1 || got[0] != bin {
			t.Fatalf("stream trailer metadata: %v", st.Trailer())
		}

		_, err = c.UnimplementedCall(ctxT(t), &testgrpc.Empty{})
		if status.Code(err) != codes.Unimplemented {
			t.Fatalf("UnimplementedCall: %v", err)
		}
	})
}

// A deadline reaches the handler as its context's deadline, ends it with
// DeadlineExceeded, and the client gets DeadlineExceeded.
func TestDeadline(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		c := f.dial(t)
		ctx, cancel := context.WithTimeout(ctxT(t), 200*time.Millisecond)
		defer cancel()
		_, err := c.UnaryCall(ctx, &testgrpc.SimpleRequest{Payload: &testgrpc.Payload{Body: []byte("wait")}})
		if status.Code(err) != codes.DeadlineExceeded {
			t.Fatalf("client: %v, want DeadlineExceeded", err)
		}
		o := <-f.impl.observed
		if !o.hadDeadline || (o.err != context.DeadlineExceeded && o.err != context.Canceled) {
			t.Fatalf("handler saw %+v", o)
		}
		// The connection still serves.
		if _, err := c.EmptyCall(ctxT(t), &testgrpc.Empty{}); err != nil {
			t.Fatal(err)
		}
	})
}

// Cancelling a call resets its stream (RST_STREAM); a handler waiting on
// its context sees Canceled, on unary and streaming calls.
func TestCancellation(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		c := f.dial(t)
		for _, streaming := range []bool{false, true} {
			ctx, cancel := context.WithCancel(ctxT(t))
			errc := make(chan error, 1)
			wait := &testgrpc.Payload{Body: []byte("wait")}
			go func() {
				if streaming {
					st, err := c.FullDuplexCall(ctx)
					if err == nil {
						st.Send(&testgrpc.StreamingOutputCallRequest{Payload: wait})
						_, err = st.Recv()
					}
					errc <- err
					return
				}
				_, err := c.UnaryCall(ctx, &testgrpc.SimpleRequest{Payload: wait})
				errc <- err
			}()
			// Cancel once the handler waits: a call cancelled before the
			// server has it never reaches a handler at all (another
			// call's round trip is no proof it has: the two are sent by
			// different goroutines).
			select {
			case <-f.impl.waiting:
			case err := <-errc:
				t.Fatalf("streaming=%v: the call ended before its handler waited: %v", streaming, err)
			}
			cancel()
			if err := <-errc; status.Code(err) != codes.Canceled {
				t.Fatalf("streaming=%v client: %v, want Canceled", streaming, err)
			}
			if o := <-f.impl.observed; o.err != context.Canceled {
				t.Fatalf("streaming=%v handler saw %v, want context.Canceled", streaming, o.err)
			}
		}
	})
}

func TestMaxMessageSize(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		c := f.dial(t)
		_, err := c.UnaryCall(ctxT(t), &testgrpc.SimpleRequest{Payload: payload(maxRecv + 1)})
		if status.Code(err) != codes.ResourceExhausted {
			t.Fatalf("oversized request: %v, want ResourceExhausted", err)
		}
		_, err = c.UnaryCall(ctxT(t), &testgrpc.SimpleRequest{ResponseSize: 5 << 20})
		if status.Code(err) != codes.ResourceExhausted {
			t.Fatalf("answer over the client's limit: %v, want ResourceExhausted", err)
		}
		// The connection survives both.
		if _, err := c.UnaryCall(ctxT(t), &testgrpc.SimpleRequest{ResponseSize: 10, Payload: payload(maxRecv - 100)}); err != nil {
			t.Fatalf("after the oversized ones: %v", err)
		}
	})
}

// Many calls at once on one connection: streams run concurrently and
// every answer reaches its own call.
func TestConcurrentStreams(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		c := f.dial(t)
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for g := range 32 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 20 {
					size := g*100 + i
					if g%4 == 0 {
						st, err := c.FullDuplexCall(ctxT(t))
						if err != nil {
							errs <- err
							return
						}
						for range 3 {
							st.Send(&testgrpc.StreamingOutputCallRequest{ResponseParameters: []*testgrpc.ResponseParameters{{Size: int32(size)}}})
							resp, err := st.Recv()
							if err != nil || len(resp.GetPayload().GetBody()) != size {
								errs <- fmt.Errorf("stream %d/%d: %v", g, i, err)
								return
							}
						}
						st.CloseSend()
						if _, err := st.Recv(); err != io.EOF {
							errs <- fmt.Errorf("stream end %d/%d: %v", g, i, err)
							return
						}
						continue
					}
					resp, err := c.UnaryCall(ctxT(t), &testgrpc.SimpleRequest{ResponseSize: int32(size), Payload: payload(size)})
					if err != nil || !bytes.Equal(resp.GetPayload().GetBody(), payload(size).Body) {
						errs <- fmt.Errorf("unary %d/%d: %v", g, i, err)
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
}

// GracefulStop sends GOAWAY: a call in flight finishes, new calls are
// refused, and the stop returns once the call is over.
func TestGoAway(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		c := f.dial(t)
		st, err := c.FullDuplexCall(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		one := &testgrpc.StreamingOutputCallRequest{ResponseParameters: []*testgrpc.ResponseParameters{{Size: 10}}}
		st.Send(one)
		if _, err := st.Recv(); err != nil {
			t.Fatal(err)
		}
		stopped := make(chan struct{})
		go func() { f.gracefulStop(); close(stopped) }()
		// Still serving the open stream after the GOAWAY.
		for range 5 {
			if err := st.Send(one); err != nil {
				t.Fatalf("Send after GOAWAY: %v", err)
			}
			if _, err := st.Recv(); err != nil {
				t.Fatalf("Recv after GOAWAY: %v", err)
			}
		}
		select {
		case <-stopped:
			t.Fatal("GracefulStop returned with a stream open")
		default:
		}
		st.CloseSend()
		if _, err := st.Recv(); err != io.EOF {
			t.Fatalf("stream end: %v", err)
		}
		<-stopped
		ctx, cancel := context.WithTimeout(ctxT(t), 2*time.Second)
		defer cancel()
		if _, err := c.EmptyCall(ctx, &testgrpc.Empty{}); err == nil {
			t.Fatal("a call after GracefulStop succeeded")
		}
	})
}

// The lean server really serves announced connections, and grpc-go the
// others (the dispatch is not a no-op).
func TestDispatch(t *testing.T) {
	f := start(t, "lean")
	cc, err := grpc.NewClient("unix://"+f.sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	plain := testgrpc.NewTestServiceClient(cc)
	if _, err := plain.EmptyCall(ctxT(t), &testgrpc.Empty{}); err != nil {
		t.Fatalf("plain grpc-go client: %v", err)
	}
	if _, err := f.dial(t).EmptyCall(ctxT(t), &testgrpc.Empty{}); err != nil {
		t.Fatalf("announced client: %v", err)
	}
	if n := leangrpc.ConnCount(f.lean); n != 1 {
		t.Fatalf("lean server holds %d connections, want 1 (the announced one)", n)
	}
}

// Stop cuts a call whose handler ignores its context, and returns
// without waiting for that handler (a plugin past its shutdown grace).
func TestStopDoesNotWaitForHandlers(t *testing.T) {
	f := start(t, "lean")
	c := f.dial(t)
	release := make(chan struct{})
	defer close(release)
	f.impl.block = release
	errc := make(chan error, 1)
	go func() {
		_, err := c.UnaryCall(ctxT(t), &testgrpc.SimpleRequest{Payload: &testgrpc.Payload{Body: []byte("block")}})
		errc <- err
	}()
	<-f.impl.blocked
	f.lean.Stop()
	if err := <-errc; status.Code(err) != codes.Unavailable {
		t.Fatalf("call cut by Stop: %v, want Unavailable", err)
	}
}
