package sdk_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	pb "github.com/gobridge/gobridge/proto/gobridge/v1"
	"github.com/gobridge/gobridge/sdk"
	"github.com/gobridge/gobridge/sdk/sdktest"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

const chunk = 256 << 10

// pattern is a deterministic, never-materialised body of n bytes.
type pattern struct{ off, n int64 }

func (p *pattern) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	b = b[:min(int64(len(b)), p.n-p.off)]
	for i := range b {
		b[i] = byte((p.off + int64(i)) * 7 % 251)
	}
	p.off += int64(len(b))
	return len(b), nil
}

func patternSum(n int64) string {
	h := sha256.New()
	_, _ = io.Copy(h, &pattern{n: n})
	return hex.EncodeToString(h.Sum(nil))
}

func hello(w *sdk.ResponseWriter, r *sdk.Request) error {
	w.Header().Set("Content-Type", "text/plain")
	_, err := fmt.Fprintf(w, "hello %s\n", r.URI)
	return err
}

// TestSmallResponseIsOneMessage checks, on the real gRPC wire, that a small
// response is exactly one HandleResponse{head, body, finish}.
func TestSmallResponseIsOneMessage(t *testing.T) {
	c := handlerClient(t, sdk.HandlerFunc(func(w *sdk.ResponseWriter, r *sdk.Request) error {
		r.Logger().Warn("marker", "k", "v w")
		return hello(w, r)
	}))
	st, err := c.Handle(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	req := &pb.Request{Method: []byte("GET"), Uri: []byte("/x"), UnparsedUri: []byte("/x")}
	if err := st.Send(&pb.HandleRequest{Request: req, BodyEof: true}); err != nil {
		t.Fatal(err)
	}
	var msgs []*pb.HandleResponse
	for {
		m, err := st.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("Recv() = %v; want messages then EOF", err)
		}
		msgs = append(msgs, m)
	}
	if len(msgs) != 1 {
		t.Fatalf("Handle(GET /x) sent %d messages; want 1", len(msgs))
	}
	m := msgs[0]
	if got := m.GetHead().GetStatus(); got != 200 {
		t.Errorf("head.status = %d; want 200", got)
	}
	if got := string(m.GetBody()); got != "hello /x\n" {
		t.Errorf("body = %q; want %q", got, "hello /x\n")
	}
	if got := m.GetFinish().GetResult(); got != pb.Result_RESULT_OK {
		t.Errorf("finish = %v; want RESULT_OK", got)
	}
	if len(m.GetLogs()) != 1 || m.GetLogs()[0].GetLevel() != pb.LogRecord_LEVEL_WARNING ||
		string(m.GetLogs()[0].GetMessage()) != `marker k="v w"` {
		t.Errorf("logs = %v; want one warning `marker k=\"v w\"`", m.GetLogs())
	}
}

func TestDescribeAndPhase(t *testing.T) {
	c := handlerClient(t, sdk.HandlerFunc(hello))
	d, err := c.Describe(t.Context(), &pb.DescribeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.GetPhases()) != 1 || d.GetPhases()[0] != pb.Phase_PHASE_HANDLER {
		t.Errorf("Describe().Phases = %v; want [PHASE_HANDLER]", d.GetPhases())
	}
	_, err = c.Phase(t.Context(), &pb.PhaseRequest{Phase: pb.Phase_PHASE_FIXUPS})
	if got := status.Code(err); got != codes.Unimplemented {
		t.Errorf("Phase(FIXUPS) code = %v; want Unimplemented", got)
	}
}

func TestResults(t *testing.T) {
	tests := []struct {
		name       string
		h          sdk.HandlerFunc
		wantFinish sdktest.Result
		wantStatus int // head status or finish status
		wantBody   string
		wantLog    string
		wantErr    bool
	}{
		{"ok", hello, sdktest.OK, 200, "hello /t\n", "", false},
		{"empty", func(w *sdk.ResponseWriter, r *sdk.Request) error { return nil }, sdktest.OK, 200, "", "", false},
		{"created", func(w *sdk.ResponseWriter, r *sdk.Request) error {
			w.Header().Set("Location", "/t/1")
			w.WriteHeader(201)
			return nil
		}, sdktest.OK, 201, "", "", false},
		{"declined", func(w *sdk.ResponseWriter, r *sdk.Request) error {
			_, _ = w.Write([]byte("discarded"))
			return sdk.Declined
		}, sdktest.Declined, 0, "", "", false},
		{"404", func(w *sdk.ResponseWriter, r *sdk.Request) error { return sdk.HTTPError(404) }, sdktest.HTTPStatus, 404, "", "", false},
		{"bad status error", func(w *sdk.ResponseWriter, r *sdk.Request) error { return sdk.HTTPError(200) }, sdktest.HTTPStatus, 500, "", "invalid HTTP status", false},
		{"error", func(w *sdk.ResponseWriter, r *sdk.Request) error { return errors.New("boom") }, sdktest.HTTPStatus, 500, "", "handler failed err=boom", false},
		{"panic", func(w *sdk.ResponseWriter, r *sdk.Request) error { panic("kaboom") }, sdktest.HTTPStatus, 500, "", "handler panicked: kaboom", false},
		{"panic after flush", func(w *sdk.ResponseWriter, r *sdk.Request) error {
			_, _ = w.Write([]byte("partial"))
			_ = w.Flush()
			panic("kaboom")
		}, sdktest.Unfinished, 200, "partial", "handler panicked: kaboom", true},
		{"abort handler", func(w *sdk.ResponseWriter, r *sdk.Request) error {
			_ = w.Flush()
			panic(http.ErrAbortHandler)
		}, sdktest.Unfinished, 200, "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := sdktest.Serve(t, tt.h, sdktest.NewRequest("GET", "/t", nil))
			if rec.Finish != tt.wantFinish {
				t.Errorf("%s: Finish = %v; want %v", tt.name, rec.Finish, tt.wantFinish)
			}
			got := rec.Code
			if rec.Finish == sdktest.HTTPStatus {
				got = rec.FinishStatus
			}
			if got != tt.wantStatus {
				t.Errorf("%s: status = %d; want %d", tt.name, got, tt.wantStatus)
			}
			if rec.Body.String() != tt.wantBody {
				t.Errorf("%s: body = %q; want %q", tt.name, rec.Body, tt.wantBody)
			}
			if tt.wantLog != "" && !rec.Logged(tt.wantLog) {
				t.Errorf("%s: logs = %v; want one containing %q", tt.name, rec.Logs, tt.wantLog)
			}
			if (rec.Err != nil) != tt.wantErr {
				t.Errorf("%s: Err = %v; want error: %v", tt.name, rec.Err, tt.wantErr)
			}
		})
	}
}

func TestHeaders(t *testing.T) {
	rec := sdktest.Serve(t, sdk.HandlerFunc(func(w *sdk.ResponseWriter, r *sdk.Request) error {
		w.Header().Add("X-Multi", "a")
		w.Header().Add("X-Multi", "b")
		w.Header().Set("X-Bad", "evil\r\nInjected: 1")
		w.Header()["Bad Name"] = []string{"x"}
		w.Header().Set("Connection", "close")
		w.Header().Set("Content-Length", "99")
		w.ErrHeader().Set("Set-Cookie", "a=b")
		w.Header().Set("X-Got", strings.Join(r.Header.Values("Accept"), ","))
		return nil
	}), func() *sdk.Request {
		r := sdktest.NewRequest("GET", "/h", nil)
		r.Header.Add("Accept", "text/html")
		r.Header.Add("Accept", "*/*")
		return r
	}())
	tests := []struct {
		name string
		got  []string
		want []string
	}{
		{"X-Multi", rec.Header.Values("X-Multi"), []string{"a", "b"}},
		{"X-Bad", rec.Header.Values("X-Bad"), nil},
		{"Bad Name", rec.Header.Values("Bad Name"), nil},
		{"Connection", rec.Header.Values("Connection"), nil},
		{"Content-Length", rec.Header.Values("Content-Length"), nil},
		{"X-Got", rec.Header.Values("X-Got"), []string{"text/html,*/*"}},
		{"err Set-Cookie", rec.ErrHeader.Values("Set-Cookie"), []string{"a=b"}},
	}
	for _, tt := range tests {
		if fmt.Sprint(tt.got) != fmt.Sprint(tt.want) {
			t.Errorf("header %s = %q; want %q", tt.name, tt.got, tt.want)
		}
	}
	if !rec.Logged("invalid response header left out header=X-Bad") {
		t.Errorf("logs = %v; want a warning about X-Bad", rec.Logs)
	}
}

func TestFlushAndChunks(t *testing.T) {
	rec := sdktest.Serve(t, sdk.HandlerFunc(func(w *sdk.ResponseWriter, r *sdk.Request) error {
		_, _ = w.Write([]byte("a"))
		_ = w.Flush()
		_, _ = w.Write(bytes.Repeat([]byte("b"), chunk+10)) // one full chunk + 10 bytes buffered
		_, _ = w.Write(bytes.Repeat([]byte("c"), chunk))    // fills the buffer: chunk out, 10 left
		return nil
	}), sdktest.NewRequest("GET", "/f", nil))
	if rec.Flushes != 1 {
		t.Errorf("Flushes = %d; want 1", rec.Flushes)
	}
	want := []int{1, chunk, chunk, 10}
	if fmt.Sprint(rec.BodyChunks) != fmt.Sprint(want) {
		t.Errorf("BodyChunks = %v; want %v", rec.BodyChunks, want)
	}
	if rec.Messages != 4 {
		t.Errorf("Messages = %d; want 4 (the last chunk carries finish)", rec.Messages)
	}
}

func TestReadBodyChunking(t *testing.T) {
	tests := []struct {
		size    int64
		readBuf int
		known   bool
	}{
		{0, 512, true},
		{100, 512, true},
		{64 << 10, 512, true},
		{64<<10 + 1, 1 << 20, true},
		{1 << 20, 1, false},
		{3<<20 + 17, 1 << 20, false},
	}
	for _, tt := range tests {
		name := fmt.Sprintf("size=%d/buf=%d/known=%v", tt.size, tt.readBuf, tt.known)
		t.Run(name, func(t *testing.T) {
			var body io.Reader = &pattern{n: tt.size}
			if tt.known {
				b, _ := io.ReadAll(body)
				body = bytes.NewReader(b)
			}
			req := sdktest.NewRequest("POST", "/u", body)
			h := sdk.HandlerFunc(func(w *sdk.ResponseWriter, r *sdk.Request) error {
				sum := sha256.New()
				n, err := io.CopyBuffer(sum, r.Body, make([]byte, tt.readBuf))
				if err != nil {
					return err
				}
				fmt.Fprintf(w, "%d %x", n, sum.Sum(nil))
				return nil
			})
			if tt.readBuf == 1 {
				h = func(w *sdk.ResponseWriter, r *sdk.Request) error {
					sum := sha256.New()
					n, err := io.Copy(sum, io.LimitReader(oneByte{r.Body}, 1<<40))
					if err != nil {
						return err
					}
					fmt.Fprintf(w, "%d %x", n, sum.Sum(nil))
					return nil
				}
			}
			rec := sdktest.Serve(t, h, req)
			if want := fmt.Sprintf("%d %s", tt.size, patternSum(tt.size)); rec.Body.String() != want {
				t.Errorf("body = %q; want %q", rec.Body, want)
			}
			rest := max(tt.size-64<<10, 0)
			wantAsks := int((rest + chunk - 1) / chunk)
			if !tt.known && tt.size > 0 && rest%chunk == 0 {
				wantAsks++ // one more ask to learn about EOF
			}
			if len(rec.ReadBody) != wantAsks {
				t.Errorf("read_body requests = %d; want %d", len(rec.ReadBody), wantAsks)
			}
			for _, n := range rec.ReadBody {
				if n > chunk {
					t.Errorf("read_body(%d) > %d", n, chunk)
				}
			}
		})
	}
}

type oneByte struct{ r io.Reader }

func (o oneByte) Read(p []byte) (int, error) { return o.r.Read(p[:min(len(p), 1)]) }

// TestStreaming50MiB moves 50 MiB each way over the real gRPC wire and
// checks the checksums and that neither side held the body in memory.
func TestStreaming50MiB(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	const size = 50 << 20
	var (
		mu    sync.Mutex
		peak  uint64
		reads int
	)
	sample := func() {
		mu.Lock()
		defer mu.Unlock()
		if reads++; reads%64 != 0 {
			return
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapAlloc)
	}
	c := sdktest.Conn(t, &sdk.ServeConfig{Handler: sdk.HandlerFunc(func(w *sdk.ResponseWriter, r *sdk.Request) error {
		switch r.URI {
		case "/up":
			sum := sha256.New()
			n, err := io.Copy(sum, sampling{r.Body, sample})
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(w, "%d %x", n, sum.Sum(nil))
			return err
		default:
			_, err := io.Copy(w, sampling{&pattern{n: size}, sample})
			return err
		}
	})})
	runtime.GC()

	t.Run("upload", func(t *testing.T) {
		rec := sdktest.Do(t, c, sdktest.NewRequest("POST", "/up", &pattern{n: size}))
		if want := fmt.Sprintf("%d %s", size, patternSum(size)); rec.Body.String() != want {
			t.Errorf("upload: body = %q; want %q", rec.Body, want)
		}
	})
	t.Run("download", func(t *testing.T) {
		st, err := pb.NewGoBridgeClient(c).Handle(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Send(&pb.HandleRequest{Request: &pb.Request{Method: []byte("GET"), Uri: []byte("/down")}, BodyEof: true}); err != nil {
			t.Fatal(err)
		}
		sum := sha256.New()
		var n int64
		for {
			m, err := st.Recv()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(m.GetBody()) > chunk {
				t.Errorf("body chunk %d > %d", len(m.GetBody()), chunk)
			}
			n += int64(len(m.GetBody()))
			sum.Write(m.GetBody())
			sample()
		}
		if got, want := fmt.Sprintf("%d %x", n, sum.Sum(nil)), fmt.Sprintf("%d %s", size, patternSum(size)); got != want {
			t.Errorf("download = %s; want %s", got, want)
		}
	})
	t.Logf("peak heap while streaming: %d MiB", peak>>20)
	if peak > 24<<20 {
		t.Errorf("peak heap = %d MiB; want < 24 MiB while streaming 50 MiB", peak>>20)
	}
}

type sampling struct {
	r io.Reader
	f func()
}

func (s sampling) Read(p []byte) (int, error) {
	s.f()
	return s.r.Read(p)
}

// TestContextCancelled checks that cancelling the Handle call (what the
// module does when the client goes away) cancels the handler's context.
func TestContextCancelled(t *testing.T) {
	started := make(chan struct{})
	got := make(chan error, 1)
	c := handlerClient(t, sdk.HandlerFunc(func(w *sdk.ResponseWriter, r *sdk.Request) error {
		_, _ = w.Write([]byte("x"))
		_ = w.Flush()
		close(started)
		select {
		case <-r.Context().Done():
			got <- r.Context().Err()
		case <-time.After(10 * time.Second):
			got <- errors.New("not cancelled")
		}
		_, err := w.Write([]byte("after"))
		if err == nil {
			err = w.Flush()
		}
		if err == nil {
			got <- errors.New("Write after cancel succeeded")
		}
		return err
	}))
	ctx, cancel := context.WithCancel(t.Context())
	st, err := c.Handle(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Send(&pb.HandleRequest{Request: &pb.Request{Method: []byte("GET")}, BodyEof: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Recv(); err != nil {
		t.Fatal(err)
	}
	<-started
	cancel()
	select {
	case err := <-got:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("handler ctx.Err() = %v; want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("handler context not cancelled 5s after the stream was")
	}
}

func TestRequestLoggerLevels(t *testing.T) {
	rec := sdktest.Serve(t, sdk.HandlerFunc(func(w *sdk.ResponseWriter, r *sdk.Request) error {
		l := r.Logger().With("user", "ann").WithGroup("g")
		l.Debug("hidden")
		l.Info("info", "n", 1)
		l.Warn("warn")
		l.Error("error", "err", errors.New("bad thing"))
		l.Log(r.Context(), sdk.LevelNotice, "notice")
		return nil
	}), sdktest.NewRequest("GET", "/l", nil))
	want := []sdktest.LogRecord{
		{Level: slog.LevelInfo, Message: "info user=ann g.n=1"},
		{Level: slog.LevelWarn, Message: "warn user=ann"},
		{Level: slog.LevelError, Message: `error user=ann g.err="bad thing"`},
		{Level: sdk.LevelNotice, Message: "notice user=ann"},
	}
	if fmt.Sprint(rec.Logs) != fmt.Sprint(want) {
		t.Errorf("Logs = %v; want %v", rec.Logs, want)
	}
}

// TestHandlerNotesAndEnv: SetNote and SetEnv in a content handler reach
// the module, before and after a flush; a key that is not a token is
// refused with an error (ErrInvalidChange) rather than sent, as is a table
// a handler may not change.
func TestHandlerNotesAndEnv(t *testing.T) {
	tests := []struct {
		name      string
		flush     bool
		key       string
		wantNotes []sdk.Pair
		wantErr   bool
	}{
		{"before the end", false, "who", []sdk.Pair{{Key: "who", Value: "handler"}}, false},
		{"after a flush", true, "who", []sdk.Pair{{Key: "who", Value: "handler"}}, false},
		{"key not a token", false, "bad key", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := sdk.HandlerFunc(func(w *sdk.ResponseWriter, r *sdk.Request) error {
				if tt.flush {
					fmt.Fprint(w, "x")
					if err := w.Flush(); err != nil {
						return err
					}
				}
				if err := r.SetNote(tt.key, "handler"); (err != nil) != tt.wantErr || (err != nil && !errors.Is(err, sdk.ErrInvalidChange)) {
					t.Errorf("SetNote(%q) = %v; want an error %v", tt.key, err, tt.wantErr)
				}
				if err := r.SetEnv("GB_ENV", "e"); err != nil {
					t.Errorf("SetEnv = %v", err)
				}
				if err := r.Set(sdk.TableHeadersOut, "X-Not-Here", "1"); !errors.Is(err, sdk.ErrInvalidChange) {
					t.Errorf("Set(TableHeadersOut) in a handler = %v; want ErrInvalidChange (headers go through the ResponseWriter)", err)
				}
				return nil
			})
			rec := sdktest.Serve(t, h, sdktest.NewRequest("GET", "/", nil))
			if !reflect.DeepEqual(rec.Notes, tt.wantNotes) {
				t.Errorf("Notes = %v; want %v", rec.Notes, tt.wantNotes)
			}
			if want := []sdk.Pair{{Key: "GB_ENV", Value: "e"}}; !reflect.DeepEqual(rec.Env, want) {
				t.Errorf("Env = %v; want %v", rec.Env, want)
			}
		})
	}
}

// handlerClient serves h over gRPC and returns a GoBridge client of it.
func handlerClient(t *testing.T, h sdk.Handler) pb.GoBridgeClient {
	return pb.NewGoBridgeClient(sdktest.Conn(t, &sdk.ServeConfig{Handler: h}))
}
