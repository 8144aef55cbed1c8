package sdktest_test

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/gobridge/gobridge/internal/wire"
	pb "github.com/gobridge/gobridge/proto/gobridge/v1"
	"github.com/gobridge/gobridge/sdk"
	"github.com/gobridge/gobridge/sdk/sdktest"
)

func TestNewRequest(t *testing.T) {
	r := sdktest.NewRequest("POST", "/a/b%2Fc?x=1", strings.NewReader("hello"))
	https := sdktest.NewRequest("", "https://h.example:8443/p", nil)
	tests := []struct {
		name      string
		got, want any
	}{
		{"Method", r.Method, "POST"},
		{"UnparsedURI", r.UnparsedURI, "/a/b%2Fc?x=1"},
		{"URI", r.URI, "/a/b/c"},
		{"Args", r.Args, "x=1"},
		{"Hostname", r.Hostname, "example.com"},
		{"Host header", r.Header.Get("Host"), "example.com"},
		{"RemoteAddr", r.RemoteAddr, "192.0.2.1:1234"},
		{"UseragentIP", r.UseragentIP, "192.0.2.1"},
		{"ContentLength", r.ContentLength, int64(5)},
		{"Content-Length header", r.Header.Get("Content-Length"), "5"},
		{"TheRequest", r.TheRequest, "POST /a/b%2Fc?x=1 HTTP/1.1"},
		{"Scheme", r.Scheme, "http"},
		{"https Method", https.Method, "GET"},
		{"https Scheme", https.Scheme, "https"},
		{"https Secure", https.Secure, true},
		{"https Hostname", https.Hostname, "h.example"},
		{"https ServerPort", https.ServerPort, 8443},
		{"https Host header", https.Header.Get("Host"), "h.example:8443"},
		{"https UnparsedURI", https.UnparsedURI, "/p"},
		{"https ContentLength", https.ContentLength, int64(0)},
	}
	for _, tt := range tests {
		if fmt.Sprint(tt.got) != fmt.Sprint(tt.want) {
			t.Errorf("NewRequest(...).%s = %v; want %v", tt.name, tt.got, tt.want)
		}
	}
}

func TestNewRequestPanics(t *testing.T) {
	for _, target := range []string{"", "no-slash", "http://h:port/"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewRequest(GET, %q) did not panic", target)
				}
			}()
			sdktest.NewRequest("GET", target, nil)
		}()
	}
}

// fakeT records Errorf calls so the harness's own reports can be tested.
type fakeT struct {
	testing.TB
	errors []string
}

func (f *fakeT) Helper() {}
func (f *fakeT) Errorf(format string, args ...any) {
	f.errors = append(f.errors, fmt.Sprintf(format, args...))
}

func TestViolationsReported(t *testing.T) {
	tests := []struct {
		name string
		m    *pb.HandleResponse
		want string
	}{
		{"crlf", &pb.HandleResponse{Head: &pb.ResponseHead{Status: 200, Headers: []*pb.Pair{{Key: []byte("X"), Value: []byte("a\r\nb")}}}}, "invalid header"},
		{"status", &pb.HandleResponse{Head: &pb.ResponseHead{Status: 103}}, "outside 200..599"},
		{"hop", &pb.HandleResponse{Head: &pb.ResponseHead{Status: 200, Headers: []*pb.Pair{{Key: []byte("Connection"), Value: []byte("close")}}}}, "hop-by-hop"},
		{"big chunk", &pb.HandleResponse{Head: &pb.ResponseHead{Status: 200}, Body: make([]byte, wire.MaxChunk+1)}, "body chunk"},
	}
	for _, tt := range tests {
		ft := &fakeT{TB: t}
		h := sdk.HandlerFunc(func(w *sdk.ResponseWriter, r *sdk.Request) error {
			return wire.Hooks.SendRaw(w, tt.m)
		})
		rec := sdktest.Serve(ft, h, sdktest.NewRequest("GET", "/", nil))
		if len(rec.Violations) == 0 || !strings.Contains(strings.Join(ft.errors, "\n"), tt.want) {
			t.Errorf("%s: reported %q; want a violation containing %q", tt.name, ft.errors, tt.want)
		}
	}
}

func TestServeCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	seen := make(chan error, 1)
	h := sdk.HandlerFunc(func(w *sdk.ResponseWriter, r *sdk.Request) error {
		_ = w.Flush()
		cancel()
		<-r.Context().Done()
		seen <- r.Context().Err()
		return r.Context().Err()
	})
	rec := sdktest.Serve(t, h, sdktest.NewRequest("GET", "/", nil).WithContext(ctx))
	if rec.Err == nil || rec.Finish != sdktest.Unfinished {
		t.Errorf("cancelled Serve: Err, Finish = %v, %v; want an error, Unfinished", rec.Err, rec.Finish)
	}
	select {
	case err := <-seen:
		if err != context.Canceled {
			t.Errorf("handler ctx.Err() = %v; want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("handler not cancelled")
	}
}

func TestDoMatchesServe(t *testing.T) {
	h := sdk.HandlerFunc(func(w *sdk.ResponseWriter, r *sdk.Request) error {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return err
		}
		w.Header().Set("X-Len", fmt.Sprint(len(b)))
		r.Logger().Info("read", "n", len(b))
		_, err = w.Write(b)
		return err
	})
	body := strings.Repeat("x", 100<<10)
	a := sdktest.Serve(t, h, sdktest.NewRequest("PUT", "/", strings.NewReader(body)))
	b := sdktest.Do(t, sdktest.Conn(t, &sdk.ServeConfig{Handler: h}), sdktest.NewRequest("PUT", "/", strings.NewReader(body)))
	for _, rec := range []*sdktest.Recorder{a, b} {
		if rec.Code != 200 || rec.Body.String() != body || rec.Header.Get("X-Len") != "102400" ||
			!rec.Logged("read n=102400") || rec.Finish != sdktest.OK || rec.Messages != 2 || len(rec.ReadBody) != 1 {
			t.Errorf("PUT 100 KiB = %d, %d bytes, X-Len %q, logs %v, %v, %d messages, read_body %v; want 200, 102400, 102400, read n=102400, OK, 2 (read_body, then the response), [262144]",
				rec.Code, rec.Body.Len(), rec.Header.Get("X-Len"), rec.Logs, rec.Finish, rec.Messages, rec.ReadBody)
		}
	}
}
