package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobridge/gobridge/internal/wire"
	pb "github.com/gobridge/gobridge/proto/gobridge/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"
)

// Version is the SDK version reported to the module by Describe.
const Version = "gobridge-sdk/0.1.0"

// server implements the gobridge.v1.GoBridge service for one Handler.
type server struct {
	pb.UnimplementedGoBridgeServer
	h      Handler
	phases any // implements some of the phase interfaces (phase.go)
	// What the plugin's other services serve, for Describe.
	auth   *authServer
	filter *filterServer
}

// Describe tells gobridged what the plugin serves, which it checks against
// the directives that name the plugin.
func (s *server) Describe(context.Context, *pb.DescribeRequest) (*pb.DescribeResponse, error) {
	resp := &pb.DescribeResponse{
		SdkVersion:      []byte(Version),
		ReportsServices: true,
		BodyFilter:      s.filter != nil,
	}
	if s.h != nil {
		resp.Phases = append(resp.Phases, pb.Phase_PHASE_HANDLER)
	}
	resp.Phases = append(resp.Phases, implementedPhases(s.phases)...)
	if s.auth != nil {
		resp.PasswordChecker = s.auth.pc != nil
		resp.RealmHasher = s.auth.rh != nil
		resp.RequireChecker = s.auth.rc != nil
	}
	return resp, nil
}

func (s *server) Phase(ctx context.Context, req *pb.PhaseRequest) (*pb.PhaseResponse, error) {
	return runPhase(ctx, s.phases, req)
}

func (s *server) Handle(st grpc.BidiStreamingServer[pb.HandleRequest, pb.HandleResponse]) error {
	if s.h == nil {
		return status.Error(codes.Unimplemented, "sdk: this plugin has no content handler")
	}
	return serveStream(s.h, st)
}

// Server options, chosen for a peer that is the C module on a unix socket.
var serverOptions = []grpc.ServerOption{
	grpc.MaxRecvMsgSize(wire.MaxMessage),
	grpc.MaxSendMsgSize(wire.MaxMessage),
	// Streams (and the handler, which runs on the stream's goroutine) reuse
	// long-lived worker goroutines whose stacks have already grown,
	// instead of a new goroutine per request growing its stack again
	// (runtime.newstack/copystack showed in profiles). More concurrent
	// streams than workers fall back to a goroutine each.
	grpc.NumStreamWorkers(uint32(max(8, 2*runtime.GOMAXPROCS(0)))),
	// Room for a whole body chunk in flight per stream, so uploads are not
	// throttled by WINDOW_UPDATE round trips.
	grpc.InitialWindowSize(1 << 20),
	grpc.InitialConnWindowSize(8 << 20),
	// The module never pings. Never close a connection for pinging too
	// often either, should a client do it.
	grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
		MinTime:             time.Second,
		PermitWithoutStream: true,
	}),
	// The module answers PINGs only while it uses a connection, so a
	// server ping on an idle pooled connection would go unanswered and
	// grpc-go would close it. Never ping; never close idle connections.
	grpc.KeepaliveParams(keepalive.ServerParameters{
		Time: time.Duration(math.MaxInt64),
	}),
}

func init() {
	wire.Hooks.NewServer = func(h any, opts ...grpc.ServerOption) *grpc.Server {
		gs, lean := newGRPCServer(opts...)
		hh, _ := h.(Handler)
		pb.RegisterGoBridgeServer(both{gs, lean}, &server{h: hh, phases: h})
		return gs
	}
	wire.Hooks.ServeStream = func(h any, st wire.Stream) error { return serveStream(h.(Handler), st) }
	wire.Hooks.SendRaw = func(w any, m *pb.HandleResponse) error {
		rw := w.(*ResponseWriter)
		rw.headSent = true // whatever m holds, the SDK must not send a head now
		_, err := rw.c.send(m, false)
		return err
	}
}

// errGone is returned by stream operations after Handle returned.
var errGone = errors.New("sdk: request is gone (httpd cancelled it or the client went away)")

// call is one Handle stream. The handler runs on the Handle goroutine
// itself (no goroutine and no channel handoff per request); operations on
// the stream (send a message, then maybe receive one) are serialised by mu,
// since a handler may read the body on another goroutine, so messages keep
// their order, and nothing uses the stream once Handle returned (gone) or
// its context ended.
type call struct {
	ctx  context.Context
	st   wire.Stream
	mu   sync.Mutex // serialises operations on st
	gone bool       // Handle returned
	logs logQueue
	muts changes // Request.Set & co., sent with the next message
	// subID numbers sub-requests (subrequest.go); ops are serialised, the
	// id only double-checks that an answer is for its question.
	subID atomic.Uint32
}

// send sends m (with any pending log records) and, if recv, returns the
// next message from the module.
func (c *call) send(m *pb.HandleResponse, recv bool) (*pb.HandleRequest, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if logs := c.logs.take(m.Finish != nil); len(logs) > 0 {
		m.Logs = append(logs, m.Logs...)
	}
	if muts := c.muts.take(); len(muts) > 0 {
		m.Mutations = append(muts, m.Mutations...)
	}
	return c.op(m, recv)
}

// op does one operation on the stream; c.mu is held.
func (c *call) op(m *pb.HandleResponse, recv bool) (*pb.HandleRequest, error) {
	if c.gone || c.ctx.Err() != nil {
		return nil, errGone
	}
	if m.Finish != nil && !recv {
		// The last message: it goes out with the call's trailers.
		return nil, sendLast(c.st, m)
	}
	if err := c.st.Send(m); err != nil || !recv {
		return nil, err
	}
	return c.st.Recv()
}

// serveStream runs h for one Handle stream.
func serveStream(h Handler, st wire.Stream) error {
	m, err := st.Recv()
	if err != nil {
		return err
	}
	first := wire.HandleFirst{HasRequest: m.GetRequest() != nil, Body: m.GetBody(), BodyEOF: m.GetBodyEof()}
	if first.HasRequest && len(first.Body) <= wire.MaxChunk {
		first.Request = wire.DecodeRequest(m.GetRequest())
	}
	return serveFirst(h, st, &first)
}

// serveFirst runs h for a Handle stream whose first message was first.
func serveFirst(h Handler, st wire.Stream, first *wire.HandleFirst) error {
	if !first.HasRequest {
		return status.Error(codes.InvalidArgument, "sdk: the first HandleRequest carries no request")
	}
	if len(first.Body) > wire.MaxChunk {
		return status.Errorf(codes.InvalidArgument, "sdk: first body chunk of %d bytes exceeds %d", len(first.Body), wire.MaxChunk)
	}
	ctx := st.Context()
	// One allocation for the per-call objects instead of one each.
	cs := &callState{call: call{ctx: ctx, st: st}}
	c := &cs.call
	r := newRequest(first.Request)
	r.ctx = ctx
	r.call, r.body = c, &cs.body
	c.muts = changes{allowed: handlerTables, who: "a content handler"}
	c.muts.lock = &c.muts.mu
	r.out = &c.muts
	cs.logh = requestLogHandler{q: &c.logs, level: requestLevel(), base: requestLogBase(r)}
	r.logger = slog.New(&cs.logh)
	body := &cs.body
	*body = bodyReader{c: c, buf: first.Body, eof: first.BodyEOF || !first.Request.HasBody}
	if body.eof && len(body.buf) == 0 {
		r.Body = http.NoBody
	} else {
		r.Body = body
	}
	w := &cs.w
	*w = ResponseWriter{c: c, req: r, header: make(http.Header)}

	err := w.finish(callHandler(h, w, r))
	c.mu.Lock()
	c.gone = true
	c.mu.Unlock()
	if ctx.Err() != nil {
		return status.FromContextError(ctx.Err()).Err()
	}
	return err
}

// callState holds what one Handle call needs, allocated together.
type callState struct {
	call call
	w    ResponseWriter
	body bodyReader
	logh requestLogHandler
}

// panicError is a recovered panic from a handler.
type panicError struct {
	val   any
	stack []byte
}

func (p *panicError) Error() string { return fmt.Sprintf("sdk: handler panicked: %v", p.val) }

func callHandler(h Handler, w *ResponseWriter, r *Request) (err error) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				err = errAbort
				return
			}
			err = &panicError{val: v, stack: debug.Stack()}
		}
	}()
	return h.ServeGoBridge(w, r)
}

// errAbort is a handler's deliberate http.ErrAbortHandler panic: abort the
// response without logging a stack.
var errAbort = errors.New("sdk: handler aborted the response")

// finish ends the stream after the handler returned err. It returns what
// Handle returns: nil, or a gRPC error that makes the module abort the
// response.
func (w *ResponseWriter) finish(err error) error {
	c := w.c
	if w.err != nil {
		// The stream is broken; nothing more can be sent.
		c.logs.close()
		return status.Errorf(codes.Aborted, "sdk: %v", w.err)
	}
	if err == nil {
		// One allocation for the message and its Finish.
		lm := &lastMessage{fin: pb.Finish{Result: pb.Result_RESULT_OK}}
		m := &lm.m
		m.Finish = &lm.fin
		switch {
		case w.redirect != "":
			m.InternalRedirect = []byte(w.redirect) // no head: httpd answers
		case w.sendFile != nil:
			w.fill(m, false)
			m.SendFile = w.sendFile
		default:
			w.fill(m, true)
		}
		_, serr := c.send(m, false)
		return sendError(serr)
	}

	lg := w.req.Logger()
	var pe *panicError
	if errors.As(err, &pe) {
		Logger().Error("panic serving request", "uri", w.req.UnparsedURI, "log_id", w.req.LogID,
			"panic", fmt.Sprint(pe.val), "stack", string(pe.stack))
	}
	if w.headSent {
		if !errors.Is(err, errAbort) {
			lg.Error("handler failed after the response started; aborting it", "err", err)
		}
		c.logs.close() // flush nothing more: the stream ends in error
		m := &pb.HandleResponse{}
		if logs := c.logs.drain(); len(logs) > 0 {
			m.Logs = logs
			_, _ = c.sendLocked(m)
		}
		return status.Errorf(codes.Internal, "%v", err)
	}

	fin := &pb.Finish{Result: pb.Result_RESULT_HTTP_STATUS, HttpStatus: http.StatusInternalServerError}
	var se *StatusError
	switch {
	case errors.Is(err, Declined):
		fin = &pb.Finish{Result: pb.Result_RESULT_DECLINED}
	case errors.As(err, &se):
		if se.Code >= 400 && se.Code <= 599 {
			fin.HttpStatus = int32(se.Code)
			fin.ErrHeaders = w.errHeaderPairs()
		} else {
			lg.Error("handler returned an invalid HTTP status; sending 500", "status", se.Code)
		}
	case errors.Is(err, errAbort):
	default:
		lg.Error("handler failed", "err", err)
	}
	_, serr := c.send(&pb.HandleResponse{Finish: fin}, false)
	return sendError(serr)
}

type lastMessage struct {
	m   pb.HandleResponse
	fin pb.Finish
}

// sendLocked sends m without taking pending logs again (they are in m).
func (c *call) sendLocked(m *pb.HandleResponse) (*pb.HandleRequest, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.op(m, false)
}

func sendError(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	return status.Errorf(codes.Aborted, "sdk: %v", err)
}

// bodyReader streams the request body, asking httpd for at most
// wire.MaxChunk bytes at a time and holding at most one chunk.
type bodyReader struct {
	c   *call
	buf []byte
	eof bool
	err error
}

func (b *bodyReader) Read(p []byte) (int, error) {
	for len(b.buf) == 0 {
		switch {
		case b.err != nil:
			return 0, b.err
		case b.eof:
			return 0, io.EOF
		case len(p) == 0:
			return 0, nil
		}
		b.fill()
	}
	n := copy(p, b.buf)
	b.buf = b.buf[n:]
	return n, nil
}

func (b *bodyReader) fill() {
	in, err := b.c.send(&pb.HandleResponse{ReadBody: wire.MaxChunk}, true)
	switch {
	case err == io.EOF:
		b.err = fmt.Errorf("sdk: request body truncated: httpd closed the stream: %w", io.ErrUnexpectedEOF)
		return
	case err != nil:
		b.err = fmt.Errorf("sdk: reading request body: %w", err)
		return
	case in.GetRequest() != nil:
		b.err = errors.New("sdk: protocol error: request snapshot repeated on the Handle stream")
		return
	case len(in.GetBody()) > wire.MaxChunk:
		b.err = fmt.Errorf("sdk: protocol error: body chunk of %d bytes, asked for at most %d", len(in.GetBody()), wire.MaxChunk)
		return
	}
	b.buf = in.GetBody()
	b.eof = in.GetBodyEof()
}

// Close makes later reads fail; it never talks to httpd.
func (b *bodyReader) Close() error {
	if b.err == nil {
		b.err = errors.New("sdk: read on closed request body")
	}
	b.buf = nil
	return nil
}
