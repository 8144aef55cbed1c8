package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sync"

	"github.com/gobridge/gobridge/internal/wire"
	pb "github.com/gobridge/gobridge/proto/gobridge/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// FilterKind says which body a filter transforms.
type FilterKind int

// The kinds of filter.
const (
	OutputFilter FilterKind = iota + 1 // GoBridgeOutputFilter: the response body
	InputFilter                        // GoBridgeInputFilter: the request body
)

// The wire numbers the kinds the same way (compile-time checks).
var (
	_ = [1]struct{}{}[int(OutputFilter)-int(pb.FilterKind_FILTER_KIND_OUTPUT)]
	_ = [1]struct{}{}[int(InputFilter)-int(pb.FilterKind_FILTER_KIND_INPUT)]
)

// String returns "output" or "input".
func (k FilterKind) String() string {
	switch k {
	case OutputFilter:
		return "output"
	case InputFilter:
		return "input"
	}
	return fmt.Sprintf("FilterKind(%d)", int(k))
}

// BodyFilter transforms a body as a stream, the way an Apache filter does:
// GoBridgeOutputFilter sends it the response body of whatever handler
// answers (a static file, mod_proxy, CGI, a gobridge handler),
// GoBridgeInputFilter the request body before the handler reads it.
//
// FilterBody reads the body from in and writes the transformed body to
// out. A gzip filter is
//
//	gz := gzip.NewWriter(out)
//	f.OnFlush(gz.Flush)
//	if _, err := io.Copy(gz, in); err != nil {
//		return err
//	}
//	return gz.Close()
//
// Memory stays bounded whatever the body's size: in holds one chunk of at
// most 256 KiB at a time, and a Read that finds it empty asks httpd for
// the next one; out sends what was written in chunks of at most 256 KiB.
//
// Its return value decides what httpd does:
//
//   - nil: the transformed body is complete. Input not read yet is
//     discarded (a filter may cut a body short).
//   - Declined, before anything was written to out and before in needed
//     a second chunk: httpd passes the body through unchanged, as if the
//     filter were not configured (e.g. a gzip filter for text only).
//   - any other error, or a panic: logged to httpd's error log. If nothing
//     of an output filter's body reached httpd yet, the client gets a 500;
//     otherwise the response is cut off (the client sees a truncated
//     response, never a wrong one). For an input filter the handler's read
//     of the request body fails.
//
// f.Context() is cancelled when httpd gives up on the request
// (GoBridgeTimeout) or the client goes away. FilterBody is called
// concurrently for concurrent requests.
type BodyFilter interface {
	FilterBody(f *Filter, in io.Reader, out io.Writer) error
}

// BodyFilterFunc adapts an ordinary function to BodyFilter.
type BodyFilterFunc func(f *Filter, in io.Reader, out io.Writer) error

// FilterBody calls fn(f, in, out).
func (fn BodyFilterFunc) FilterBody(f *Filter, in io.Reader, out io.Writer) error {
	return fn(f, in, out)
}

// ErrFilterStarted is returned by a Filter's Set, Add, Unset, SetNote,
// SetEnv and SetContentType once the filter's output (or its request for
// more input) went to httpd: the response head is on its way.
var ErrFilterStarted = errors.New("sdk: the filter's output has started; headers can no longer change")

// Filter describes the body being filtered. The embedded *Request is the
// request snapshot (its Body is empty: the body is FilterBody's in). For an
// output filter it is taken when the first chunk of the response body is
// sent to the plugin, so Status, HeaderOut, ContentType and
// ContentEncoding are what the handler set.
//
// An output filter may change the response's headers (f.Set(TableHeadersOut,
// …), Add, Unset), notes, subprocess_env and content type before it writes
// anything and before it reads beyond the first chunk; httpd applies the
// changes before the response head is sent. httpd drops Content-Length
// itself whenever a filter transforms the body.
type Filter struct {
	*Request
	Kind FilterKind

	c *filterCall
}

// SetContentType sets the response content type ("type/subtype[;
// params]") through ap_set_content_type. Output filters only, before the
// output starts. It returns an error wrapping ErrInvalidChange, and changes
// nothing, for an invalid type.
func (f *Filter) SetContentType(ct string) error {
	c := f.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.canMutate(); err != nil {
		return err
	}
	if !wire.ValidField(pb.FieldUpdate_FIELD_CONTENT_TYPE, ct) {
		return invalid("content type", ct)
	}
	c.ctype = ct
	f.ContentType = ct
	return nil
}

// OnFlush registers fn to be called when httpd asks to push what was
// produced so far to the client (a flush bucket: a handler's Flush, a
// proxied server's pause, mod_cgi's nonblocking read). fn runs inside a Read
// on in, once the data before the flush has been read, and should flush
// whatever the filter buffers into out (gzip.Writer.Flush); the SDK then
// sends out's buffer and httpd flushes it through. Without OnFlush, what
// was written to out so far is still sent and flushed.
//
// Because fn runs inside a Read, do not feed in to the writer fn flushes
// through that writer's ReadFrom: io.Copy(bufio.Writer, in) reads into the
// bufio.Writer's own buffer while fn flushes it. Write to it instead (a
// loop, a bufio.Scanner, or io.Copy into a gzip.Writer, which has no
// ReadFrom).
func (f *Filter) OnFlush(fn func() error) {
	f.c.mu.Lock()
	f.c.onFlush = fn
	f.c.mu.Unlock()
}

// filterServer implements the gobridge.v1.GoBridgeFilter service.
type filterServer struct {
	pb.UnimplementedGoBridgeFilterServer
	impl BodyFilter
}

func (s *filterServer) Filter(st grpc.BidiStreamingServer[pb.FilterRequest, pb.FilterResponse]) error {
	return serveFilter(s.impl, st)
}

// newFilterServer returns the GoBridgeFilter service for cfg, or nil.
func newFilterServer(cfg *ServeConfig) *filterServer {
	impl := cfg.Filter
	if impl == nil {
		impl, _ = cfg.Handler.(BodyFilter)
	}
	if impl == nil {
		return nil
	}
	return &filterServer{impl: impl}
}

func init() {
	wire.FilterHooks.SendRaw = func(f any, m *pb.FilterResponse) error {
		c := f.(*Filter).c
		c.mu.Lock()
		defer c.mu.Unlock()
		c.started = true
		return c.st.Send(m)
	}
}

// filterCall is one Filter stream. Its reader and writer may be used from
// different goroutines; mu serialises them and keeps messages in order.
type filterCall struct {
	ctx  context.Context
	st   wire.FilterStream
	kind FilterKind
	logs logQueue

	mu      sync.Mutex
	muts    *changes // the Filter's Request.Set & co., guarded by mu
	ctype   string
	started bool   // a message went to httpd: headers are final, Declined too late
	cur     []byte // unread input of the current chunk
	flush   bool   // the current chunk ends with a flush
	eos     bool   // the current chunk is the last
	out     []byte // output not sent yet
	onFlush func() error
	err     error // sticky: the stream is broken
}

func (c *filterCall) canMutate() error {
	switch {
	case c.kind != OutputFilter:
		return errors.New("sdk: only output filters change response headers")
	case c.started:
		return ErrFilterStarted
	}
	return nil
}

// sendLocked sends out (and the pending head and logs) with mark; c.mu is
// held.
func (c *filterCall) sendLocked(mark pb.FilterMark, final bool) error {
	if c.err != nil {
		return c.err
	}
	m := &pb.FilterResponse{Data: c.out, Mark: mark}
	if !c.started {
		m.Mutations, m.ContentType = c.muts.takeLocked(), []byte(c.ctype)
		c.started = true
	}
	m.Logs = c.logs.take(final)
	if err := c.st.Send(m); err != nil {
		c.err = fmt.Errorf("sdk: sending filter output: %w", err)
		if c.ctx.Err() != nil {
			c.err = errGone
		}
		return c.err
	}
	c.out = c.out[:0]
	return nil
}

// nextChunk ends the answer to the current chunk (flushing first if it
// asked for it) and waits for the next; c.mu is held, and is released
// while fn (OnFlush) runs, since fn writes to out.
func (c *filterCall) nextChunk() error {
	if c.flush && c.onFlush != nil {
		fn := c.onFlush
		c.mu.Unlock()
		err := fn()
		c.mu.Lock()
		if err != nil {
			return fmt.Errorf("sdk: filter's OnFlush: %w", err)
		}
	}
	if err := c.sendLocked(pb.FilterMark_FILTER_MARK_NEED_MORE, false); err != nil {
		return err
	}
	in, err := c.st.Recv()
	switch {
	case err == io.EOF:
		c.err = fmt.Errorf("sdk: body truncated: httpd closed the filter stream: %w", io.ErrUnexpectedEOF)
	case err != nil:
		c.err = fmt.Errorf("sdk: reading the body to filter: %w", err)
	case in.GetRequest() != nil || in.GetKind() != 0:
		c.err = errors.New("sdk: protocol error: request snapshot repeated on the Filter stream")
	case len(in.GetData()) > wire.MaxChunk:
		c.err = fmt.Errorf("sdk: protocol error: body chunk of %d bytes, more than %d", len(in.GetData()), wire.MaxChunk)
	}
	if c.err != nil {
		return c.err
	}
	c.cur, c.flush, c.eos = in.GetData(), in.GetFlush(), in.GetEos()
	return nil
}

// filterReader is FilterBody's in.
type filterReader struct{ c *filterCall }

func (r filterReader) Read(p []byte) (int, error) {
	c := r.c
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.cur) == 0 {
		switch {
		case c.err != nil:
			return 0, c.err
		case c.eos:
			return 0, io.EOF
		case len(p) == 0:
			return 0, nil
		}
		if err := c.nextChunk(); err != nil {
			return 0, err
		}
	}
	n := copy(p, c.cur)
	c.cur = c.cur[n:]
	return n, nil
}

// filterWriter is FilterBody's out.
type filterWriter struct{ c *filterCall }

func (w filterWriter) Write(p []byte) (int, error) {
	c := w.c
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for len(p) > 0 {
		if c.err != nil {
			return n, c.err
		}
		k := min(len(p), wire.MaxChunk-len(c.out))
		c.out = append(c.out, p[:k]...)
		n += k
		p = p[k:]
		if len(c.out) == wire.MaxChunk {
			if err := c.sendLocked(pb.FilterMark_FILTER_MARK_UNSPECIFIED, false); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// serveFilter runs impl for one Filter stream.
func serveFilter(impl BodyFilter, st wire.FilterStream) error {
	first, err := st.Recv()
	if err != nil {
		return err
	}
	kind := FilterKind(first.GetKind())
	switch {
	case first.GetRequest() == nil:
		return status.Error(codes.InvalidArgument, "sdk: the first FilterRequest carries no request")
	case kind != OutputFilter && kind != InputFilter:
		return status.Errorf(codes.InvalidArgument, "sdk: unknown filter kind %d", kind)
	case len(first.GetData()) > wire.MaxChunk:
		return status.Errorf(codes.InvalidArgument, "sdk: first body chunk of %d bytes exceeds %d", len(first.GetData()), wire.MaxChunk)
	}
	ctx := st.Context()
	c := &filterCall{ctx: ctx, st: st, kind: kind, cur: first.GetData(), flush: first.GetFlush(), eos: first.GetEos()}
	r := newRequest(wire.DecodeRequest(first.GetRequest()))
	r.ctx = ctx
	allowed := filterTables
	if kind != OutputFilter {
		allowed = 0 // an input filter changes nothing: the head is gone
	}
	c.muts = &changes{allowed: allowed, who: "an " + kind.String() + " filter", lock: &c.mu, gate: c.canMutate}
	r.out = c.muts
	r.Body = http.NoBody
	r.logger = slog.New(&requestLogHandler{q: &c.logs, level: requestLevel(), base: requestLogBase(r)})
	f := &Filter{Request: r, Kind: kind, c: c}

	err = callFilter(impl, f, filterReader{c}, filterWriter{c})
	if ctx.Err() != nil {
		c.logs.close()
		return status.FromContextError(ctx.Err()).Err()
	}
	return c.finish(f, err)
}

func callFilter(impl BodyFilter, f *Filter, in io.Reader, out io.Writer) (err error) {
	defer func() {
		if v := recover(); v != nil {
			Logger().Error("panic in filter", "kind", f.Kind.String(), "uri", f.UnparsedURI, "log_id", f.LogID,
				"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			err = fmt.Errorf("sdk: %v filter panicked: %v", f.Kind, v)
		}
	}()
	return impl.FilterBody(f, in, out)
}

// finish ends the stream after FilterBody returned err.
func (c *filterCall) finish(f *Filter, err error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil && err == nil {
		err = c.err
	}
	switch {
	case err == nil:
		return sendError(c.sendLocked(pb.FilterMark_FILTER_MARK_DONE, true))
	case errors.Is(err, Declined) && !c.started:
		c.muts.takeLocked()
		c.ctype, c.out = "", nil // passing through changes nothing
		return sendError(c.sendLocked(pb.FilterMark_FILTER_MARK_DECLINED, true))
	case errors.Is(err, Declined):
		err = errors.New("sdk: filter declined after its output started")
	}
	if c.err == nil {
		f.Logger().Error(fmt.Sprintf("%v filter failed", c.kind), "err", err)
		// The log records still reach httpd; then the stream ends in error.
		if logs := c.logs.take(true); len(logs) > 0 {
			_ = c.st.Send(&pb.FilterResponse{Logs: logs})
		}
	}
	c.logs.close()
	return status.Errorf(codes.Internal, "%v", err)
}
