// Package sdktest runs gobridge plugin code without Apache httpd, the way
// net/http/httptest runs http.Handlers without a network: content
// handlers (Serve), phase methods (RunPhase), auth providers
// (CheckPassword, GetRealmHash, CheckAuthorization) and body filters
// (RunFilter), each given and recorded with the sdk's own types.
//
// Every function plays mod_gobridge's part against the plugin's real gRPC
// services, registered with sdk.Register and called in memory: it sends
// the request snapshot (and body) the way the module does, records the
// answer, and checks every message against the rules the module enforces,
// reporting breaches as test errors. Conn serves the services on a unix
// socket for wire-level tests, and Do plays the module's part over it. A
// Module answers the handler's sub-requests (Request.LookupURI, Include,
// …) with what the test says httpd would find. Every function but Conn
// takes a nil testing.TB in Examples, and panics where it would fail a
// test.
//
//	func TestHello(t *testing.T) {
//		rec := sdktest.Serve(t, sdk.HandlerFunc(hello), sdktest.NewRequest("GET", "/hello?name=Ann", nil))
//		if rec.Code != 200 || rec.Body.String() != "Hello, Ann!\n" {
//			t.Errorf("GET /hello?name=Ann = %d %q; want 200 %q", rec.Code, rec.Body, "Hello, Ann!\n")
//		}
//	}
package sdktest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gobridge/gobridge/internal/wire"
	pb "github.com/gobridge/gobridge/proto/gobridge/v1"
	"github.com/gobridge/gobridge/sdk"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Defaults NewRequest fills in.
const (
	DefaultHost       = "example.com"
	DefaultRemoteAddr = "192.0.2.1:1234"
	DefaultLocalAddr  = "192.0.2.2:80"
	DefaultPlugin     = "sdktest"
)

// NewRequest returns a request as mod_gobridge would describe it, for
// method and target. target is a request-URI ("/app/x?y=1") or an absolute
// URL ("https://host/x"), which also sets the scheme, host and port. The
// client is DefaultRemoteAddr, the host DefaultHost. body may be nil; a
// *bytes.Buffer, *bytes.Reader or *strings.Reader sets ContentLength and a
// Content-Length header, any other reader makes the body "chunked" (-1).
//
// NewRequest panics on a target it cannot parse: it is for tests.
func NewRequest(method, target string, body io.Reader) *sdk.Request {
	if method == "" {
		method = http.MethodGet
	}
	u, err := url.ParseRequestURI(target)
	if err != nil {
		panic(fmt.Sprintf("sdktest: invalid target %q: %v", target, err))
	}
	scheme, host, port := "http", DefaultHost, 80
	if u.Scheme != "" {
		scheme = strings.ToLower(u.Scheme)
		if scheme == "https" {
			port = 443
		}
		h, p, err := net.SplitHostPort(u.Host)
		if err != nil {
			h = u.Host
		} else if port, err = strconv.Atoi(p); err != nil {
			panic(fmt.Sprintf("sdktest: invalid port in %q", target))
		}
		host = h
	}
	unparsed := u.RequestURI()
	if u.Scheme == "" {
		unparsed = target
	}
	r := &sdk.Request{
		Method:        method,
		Protocol:      "HTTP/1.1",
		TheRequest:    method + " " + unparsed + " HTTP/1.1",
		UnparsedURI:   unparsed,
		URI:           u.Path,
		Args:          u.RawQuery,
		Hostname:      host,
		Scheme:        scheme,
		Header:        http.Header{"Host": {u.Host}},
		RemoteAddr:    DefaultRemoteAddr,
		UseragentIP:   "192.0.2.1",
		LocalAddr:     net.JoinHostPort("192.0.2.2", strconv.Itoa(port)),
		Secure:        scheme == "https",
		ServerName:    host,
		ServerPort:    port,
		Plugin:        DefaultPlugin,
		LogID:         "sdktest",
		Handler:       "gobridge",
		RequestTime:   time.Now(),
		ContentLength: 0,
		Body:          http.NoBody,
	}
	if u.Host == "" {
		r.Header.Set("Host", host)
	}
	if body != nil {
		r.ContentLength = -1
		switch b := body.(type) {
		case *bytes.Buffer:
			r.ContentLength = int64(b.Len())
		case *bytes.Reader:
			r.ContentLength = int64(b.Len())
		case *strings.Reader:
			r.ContentLength = int64(b.Len())
		}
		if r.ContentLength >= 0 {
			r.Header.Set("Content-Length", strconv.FormatInt(r.ContentLength, 10))
		} else {
			r.Header.Set("Transfer-Encoding", "chunked")
		}
		if r.ContentLength != 0 {
			r.Body = io.NopCloser(body)
		}
	}
	return r
}

// Result is how a handler ended the Handle stream.
type Result int

const (
	Unfinished Result = iota // no Finish arrived (the stream broke)
	OK                       // the response is complete
	Declined                 // httpd tries the next handler
	HTTPStatus               // httpd sends its error document for FinishStatus
)

func (r Result) String() string {
	switch r {
	case OK:
		return "OK"
	case Declined:
		return "Declined"
	case HTTPStatus:
		return "HTTPStatus"
	case Done:
		return "Done"
	}
	return "Unfinished"
}

// LogRecord is a line the handler sent for httpd's error log.
type LogRecord struct {
	Level   slog.Level
	Message string
}

// Recorder is what a handler sent back.
type Recorder struct {
	Code      int         // the head's status; 0 if no head was sent
	Header    http.Header // r->headers_out, in the order sent
	ErrHeader http.Header // r->err_headers_out
	Body      *bytes.Buffer
	Logs      []LogRecord
	Notes     []sdk.Pair // r->notes set with Request.SetNote, in order
	Env       []sdk.Pair // r->subprocess_env set with Request.SetEnv, in order

	Finish       Result
	FinishStatus int // with Finish == HTTPStatus

	// Redirect is the URI of ResponseWriter.InternalRedirect: httpd would
	// serve it instead of this request. File is what
	// ResponseWriter.SendFile asked httpd to send as the body (Code and
	// Header are the response's status and headers); Body stays empty, as
	// httpd, not the plugin, reads the file.
	Redirect string
	File     *SentFile

	Err error // the stream's error, if it ended in one

	// SubRequests lists the handler's sub-requests (LookupURI, LookupFile,
	// Include, IncludeFile) in order, with what they were answered. An
	// included sub-request's Body (from Module.SubRequests) is in Body, at
	// the place the handler included it.
	SubRequests []SubRequestCall
	// Discarded: the handler asked httpd to discard the request body
	// (Request.DiscardBody); the module side read the rest of it away
	// (BodySent counts it).
	Discarded bool

	Messages   int   // HandleResponse messages received
	Flushes    int   // messages with flush set
	BodyChunks []int // sizes of the body chunks received
	ReadBody   []int // sizes asked for with read_body
	BodySent   int64 // request body bytes the module side sent

	// Violations lists breaches of the rules the module enforces
	// (docs/architecture.md §5). Serve and Do report them with t.Errorf.
	Violations []string
}

// SubRequestCall is one sub-request the handler asked for.
type SubRequestCall struct {
	File    bool   // LookupFile or IncludeFile: Target is a path, else a URI
	Target  string // as the handler gave it
	Method  string // the URI lookup's method: "GET" unless LookupMethod said otherwise
	Include bool   // run into the response (Include, IncludeFile)
	Headers bool   // LookupHeaders
	// Status is what the handler was told; Refused, if not empty, is why
	// the module refused the question instead (as httpd would, GB0341).
	Status  int
	Refused string
}

// SubRequest is a sub-request as a test wants httpd to find it, for
// Module.SubRequests.
type SubRequest struct {
	// SubRequest is what a lookup answers. Status 0 means 200. Header is
	// answered only to lookups that ask for it.
	sdk.SubRequest
	// Body is what including the sub-request inserts into the response.
	Body string
	// IncludeStatus is the status an include reports, 0: the lookup's.
	// The Body is inserted only when this is 2xx and the lookup's Status
	// is 200, as httpd runs only sub-requests that looked up with 200.
	IncludeStatus int
}

// Module plays mod_gobridge's part with the httpd facts a test gives it.
// The zero Module is what the package's Serve and Do use.
type Module struct {
	// SubRequests are what httpd would find for the targets the handler
	// looks up or includes, keyed by the exact URI (with its query string)
	// or file path the handler passed. A target that is not in the map
	// looks up with status 404, and including it inserts nothing. (httpd
	// itself looks up a missing file with 200 and no File; the 404 comes
	// from running it. The map lets a test say exactly that.)
	SubRequests map[string]*SubRequest
}

// SentFile is a file the handler asked httpd to send (SendFile).
type SentFile struct {
	Path   string
	Offset int64
	Length int64 // 0: to the end of the file
}

// Logged reports whether some log record contains substr.
func (r *Recorder) Logged(substr string) bool {
	for _, l := range r.Logs {
		if strings.Contains(l.Message, substr) {
			return true
		}
	}
	return false
}

// Serve runs h for req without httpd or gRPC and returns what it sent. The
// request body is req.Body; req.Context() is the stream's context (cancel
// it to play a client that went away). Protocol violations are reported
// with t.Errorf; t may be nil (in examples), and violations then panic.
func Serve(t testing.TB, h sdk.Handler, req *sdk.Request) *Recorder {
	if t != nil {
		t.Helper()
	}
	return new(Module).Serve(t, h, req)
}

// Serve is the package's Serve with m's answers to sub-requests.
func (m *Module) Serve(t testing.TB, h sdk.Handler, req *sdk.Request) *Recorder {
	if t != nil {
		t.Helper()
	}
	ctx, cancel := context.WithCancel(req.Context())
	defer cancel()
	p := &pipe{
		ctx:  ctx,
		in:   make(chan *pb.HandleRequest),
		out:  make(chan *pb.HandleResponse),
		done: make(chan struct{}),
	}
	plug := newPlugin(t, &sdk.ServeConfig{Handler: h})
	go func() {
		p.err = plug.stream(serviceGoBridge, "Handle",
			&memStream[*pb.HandleRequest, *pb.HandleResponse]{ctx: ctx, in: p.in, out: p.out})
		close(p.done)
	}()
	rec := m.run(&moduleEnd{p}, req)
	cancel()
	<-p.done
	report(t, rec)
	return rec
}

// Conn serves the plugin cfg describes (sdk.Register's services, as
// sdk.Serve serves them) with a gRPC server on a unix socket, and returns a
// client connection to it, for wire-level tests: Do plays mod_gobridge's
// part of a content handler call over it, and the generated clients of
// gobridge.v1 make any other call. Everything is torn down when the test
// ends. A cfg sdk.Serve would refuse fails the test.
func Conn(t testing.TB, cfg *sdk.ServeConfig) *grpc.ClientConn {
	t.Helper()
	dir, err := os.MkdirTemp("", "gbt")
	if err != nil {
		t.Fatalf("sdktest: %v", err)
	}
	path := filepath.Join(dir, "p.sock")
	lis, err := net.Listen("unix", path)
	if err != nil {
		_ = os.RemoveAll(dir)
		t.Fatalf("sdktest: %v", err)
	}
	gs := grpc.NewServer(grpc.MaxRecvMsgSize(wire.MaxMessage), grpc.MaxSendMsgSize(wire.MaxMessage))
	if err := sdk.Register(gs, cfg); err != nil {
		_ = lis.Close()
		_ = os.RemoveAll(dir)
		t.Fatalf("sdktest: %v", err)
	}
	go func() { _ = gs.Serve(lis) }()
	cc, err := grpc.NewClient("unix://"+path,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(wire.MaxMessage)))
	if err != nil {
		gs.Stop()
		_ = os.RemoveAll(dir)
		t.Fatalf("sdktest: %v", err)
	}
	t.Cleanup(func() {
		_ = cc.Close()
		gs.Stop()
		_ = os.RemoveAll(dir)
	})
	return cc
}

// Do plays mod_gobridge's part of one content handler call over cc (from
// Conn, or any connection to a plugin): it sends req and its body as the
// module would and records the response. Cancelling req.Context() cancels
// the call.
func Do(t testing.TB, cc grpc.ClientConnInterface, req *sdk.Request) *Recorder {
	helper(t)
	return new(Module).Do(t, cc, req)
}

// Do is the package's Do with m's answers to sub-requests.
func (m *Module) Do(t testing.TB, cc grpc.ClientConnInterface, req *sdk.Request) *Recorder {
	helper(t)
	ctx, cancel := context.WithCancel(req.Context())
	defer cancel()
	st, err := pb.NewGoBridgeClient(cc).Handle(ctx)
	if err != nil {
		fatalf(t, "sdktest: Handle: %v", err)
	}
	rec := m.run(st, req)
	report(t, rec)
	return rec
}

func report(t testing.TB, rec *Recorder) {
	if t == nil {
		if len(rec.Violations) > 0 {
			panic("sdktest: protocol violations: " + strings.Join(rec.Violations, "; "))
		}
		return
	}
	t.Helper()
	for _, v := range rec.Violations {
		t.Errorf("sdktest: protocol violation: %s", v)
	}
}

// moduleStream is the module's end of a Handle stream.
type moduleStream interface {
	Send(*pb.HandleRequest) error
	Recv() (*pb.HandleResponse, error)
	CloseSend() error
}

// run plays the module: send the snapshot and the first body chunk, then
// answer read_body requests and record everything until Finish.
func (mod *Module) run(st moduleStream, req *sdk.Request) *Recorder {
	rec := &Recorder{Header: http.Header{}, ErrHeader: http.Header{}, Body: new(bytes.Buffer)}
	body := req.Body
	if body == nil {
		body = http.NoBody
	}
	eof := false
	readChunk := func(n int) []byte {
		if eof {
			return nil
		}
		buf := make([]byte, n)
		k, err := io.ReadFull(body, buf)
		if err != nil {
			eof = true
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
				rec.Violations = append(rec.Violations, fmt.Sprintf("reading the test's request body: %v", err))
			}
		}
		rec.BodySent += int64(k)
		return buf[:k]
	}
	first := readChunk(wire.MaxFirstBody)
	if !eof && req.ContentLength >= 0 && rec.BodySent == req.ContentLength {
		eof = true
	}
	if err := st.Send(&pb.HandleRequest{Request: wire.EncodeRequest(snapshot(req)), Body: first, BodyEof: eof}); err != nil {
		rec.Err = err
		return rec
	}
	headSeen := false
	bad := func(format string, args ...any) {
		rec.Violations = append(rec.Violations, fmt.Sprintf(format, args...))
	}
	for {
		m, err := st.Recv()
		if err != nil {
			if err != io.EOF {
				rec.Err = err
			} else if rec.Finish == Unfinished {
				rec.Err = io.ErrUnexpectedEOF
			}
			return rec
		}
		rec.Messages++
		if rec.Finish != Unfinished {
			bad("message after finish")
		}
		for _, l := range m.GetLogs() {
			if _, ok := pb.LogRecord_Level_name[int32(l.GetLevel())]; !ok {
				bad("unknown log level %d", l.GetLevel())
			}
			rec.Logs = append(rec.Logs, LogRecord{Level: wire.SlogLevel(l.GetLevel()), Message: string(l.GetMessage())})
		}
		for _, mu := range m.GetMutations() {
			p := sdk.Pair{Key: string(mu.GetKey()), Value: string(mu.GetValue())}
			switch {
			case mu.GetOp() < pb.Mutation_OP_SET || mu.GetOp() > pb.Mutation_OP_UNSET ||
				!wire.ValidName(p.Key) || !wire.ValidValue(p.Value):
				bad("mutation %q of table %v: unknown op, or a key or value the module refuses", p.Key, mu.GetTable())
			case mu.GetTable() == pb.Mutation_TABLE_NOTES:
				rec.Notes = append(rec.Notes, p)
			case mu.GetTable() == pb.Mutation_TABLE_SUBPROCESS_ENV:
				rec.Env = append(rec.Env, p)
			default:
				bad("mutation of table %v: a handler may change notes and subprocess_env only", mu.GetTable())
			}
		}
		if hd := m.GetHead(); hd != nil {
			if headSeen {
				bad("second head")
			}
			if rec.Body.Len() > 0 {
				bad("head after body")
			}
			headSeen = true
			rec.Code = int(hd.GetStatus())
			if rec.Code < 200 || rec.Code > 599 {
				bad("head status %d outside 200..599", rec.Code)
			}
			for _, tbl := range []struct {
				ps []*pb.Pair
				h  http.Header
			}{{hd.GetHeaders(), rec.Header}, {hd.GetErrHeaders(), rec.ErrHeader}} {
				for _, p := range tbl.ps {
					k, v := string(p.GetKey()), string(p.GetValue())
					if !wire.ValidName(k) || !wire.ValidValue(v) {
						bad("invalid header %q: %q", k, v)
					}
					if wire.Hop(k) {
						bad("hop-by-hop or framing header %q", k)
					}
					tbl.h.Add(k, v)
				}
			}
		}
		if b := m.GetBody(); len(b) > 0 {
			if !headSeen {
				bad("body before head")
			}
			if len(b) > wire.MaxChunk {
				bad("body chunk of %d bytes > %d", len(b), wire.MaxChunk)
			}
			rec.BodyChunks = append(rec.BodyChunks, len(b))
			rec.Body.Write(b)
		}
		if m.GetFlush() {
			rec.Flushes++
		}
		if m.GetDiscardBody() && !rec.Discarded {
			rec.Discarded = true
			if !eof {
				n, _ := io.Copy(io.Discard, body)
				rec.BodySent += n
				eof = true
			}
		}
		if n := int(m.GetReadBody()); n > 0 {
			rec.ReadBody = append(rec.ReadBody, n)
			if n > wire.MaxChunk {
				bad("read_body %d > %d", n, wire.MaxChunk)
			}
			chunk := readChunk(min(n, wire.MaxChunk))
			if err := st.Send(&pb.HandleRequest{Body: chunk, BodyEof: eof}); err != nil {
				rec.Err = err
				return rec
			}
		}
		if q := m.GetSubRequest(); q != nil {
			if m.GetReadBody() > 0 || m.GetFinish() != nil || len(m.GetInternalRedirect()) > 0 || m.GetSendFile() != nil {
				bad("sub_request together with read_body, internal_redirect, send_file or finish")
			}
			a, insert := mod.answer(q, rec)
			if a.GetRan() && !headSeen {
				// The module sends r->status and the content type httpd chose.
				headSeen = true
				rec.Code = http.StatusOK
			}
			rec.Body.WriteString(insert)
			if err := st.Send(&pb.HandleRequest{SubRequest: a}); err != nil {
				rec.Err = err
				return rec
			}
		}
		if u := m.GetInternalRedirect(); len(u) > 0 {
			rec.Redirect = string(u)
			if headSeen || rec.Body.Len() > 0 {
				bad("internal_redirect after a head or body")
			}
			if !wire.ValidRedirect(rec.Redirect) {
				bad("internal_redirect %q is not a local URI", rec.Redirect)
			}
			if m.GetSendFile() != nil {
				bad("internal_redirect and send_file together")
			}
		}
		if sf := m.GetSendFile(); sf != nil {
			rec.File = &SentFile{Path: string(sf.GetPath()), Offset: sf.GetOffset(), Length: sf.GetLength()}
			if !strings.HasPrefix(rec.File.Path, "/") || strings.ContainsRune(rec.File.Path, 0) {
				bad("send_file path %q is not absolute", rec.File.Path)
			}
			if rec.Body.Len() > 0 || m.GetFlush() || rec.Flushes > 0 {
				bad("send_file after body or a flush")
			}
			if sf.GetOffset() < 0 || sf.GetLength() < 0 {
				bad("send_file with a negative offset or length")
			}
		}
		if (len(m.GetInternalRedirect()) > 0 || m.GetSendFile() != nil) &&
			m.GetFinish().GetResult() != pb.Result_RESULT_OK {
			bad("internal_redirect or send_file without finish OK in the same message")
		}
		if f := m.GetFinish(); f != nil {
			switch f.GetResult() {
			case pb.Result_RESULT_OK, pb.Result_RESULT_DONE:
				rec.Finish = OK
			case pb.Result_RESULT_DECLINED:
				rec.Finish = Declined
				if headSeen {
					bad("declined after head")
				}
			case pb.Result_RESULT_HTTP_STATUS:
				rec.Finish = HTTPStatus
				rec.FinishStatus = int(f.GetHttpStatus())
				if headSeen {
					bad("http status after head")
				}
				if rec.FinishStatus < 400 || rec.FinishStatus > 599 {
					bad("finish status %d outside 400..599", rec.FinishStatus)
				}
			default:
				bad("finish with result %v", f.GetResult())
			}
			_ = st.CloseSend()
		}
	}
}

// pipe is an in-memory Handle stream.
type pipe struct {
	ctx  context.Context
	in   chan *pb.HandleRequest
	out  chan *pb.HandleResponse
	done chan struct{} // closed when the plugin side returned
	err  error         // what it returned
}

type moduleEnd struct{ p *pipe }

func (e *moduleEnd) Send(m *pb.HandleRequest) error {
	select {
	case e.p.in <- m:
		return nil
	case <-e.p.done:
		return io.EOF
	case <-e.p.ctx.Done():
		return e.p.ctx.Err()
	}
}

func (e *moduleEnd) Recv() (*pb.HandleResponse, error) {
	select {
	case m := <-e.p.out:
		return m, nil
	case <-e.p.done:
		if e.p.err != nil {
			return nil, e.p.err
		}
		return nil, io.EOF
	case <-e.p.ctx.Done():
		return nil, e.p.ctx.Err()
	}
}

func (e *moduleEnd) CloseSend() error { return nil }
