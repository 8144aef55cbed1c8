package nethttp_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gobridge/gobridge/sdk"
	"github.com/gobridge/gobridge/sdk/nethttp"
	"github.com/gobridge/gobridge/sdk/sdktest"
)

func TestRequestMapping(t *testing.T) {
	var got *http.Request
	var body string
	h := nethttp.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		b, _ := io.ReadAll(r.Body)
		body = string(b)
	}))
	req := sdktest.NewRequest("PUT", "https://example.org:8443/a/b%20c?x=1&x=2", strings.NewReader("payload"))
	req.Header.Add("Accept", "text/html")
	req.Header.Add("Accept", "application/json")
	req.Protocol = "HTTP/2.0"
	sdktest.Serve(t, h, req)
	if got == nil {
		t.Fatal("handler not called")
	}
	tests := []struct {
		name      string
		got, want any
	}{
		{"Method", got.Method, "PUT"},
		{"URL.Path", got.URL.Path, "/a/b c"},
		{"URL.RawQuery", got.URL.RawQuery, "x=1&x=2"},
		{"RequestURI", got.RequestURI, "/a/b%20c?x=1&x=2"},
		{"Host", got.Host, "example.org:8443"},
		{"Header[Host]", got.Header.Values("Host"), []string(nil)},
		{"Accept", got.Header.Values("Accept"), []string{"text/html", "application/json"}},
		{"RemoteAddr", got.RemoteAddr, "192.0.2.1:1234"},
		{"TLS", got.TLS != nil, true},
		{"Proto", got.Proto, "HTTP/2.0"},
		{"ProtoMajor", got.ProtoMajor, 2},
		{"ContentLength", got.ContentLength, int64(7)},
		{"Body", body, "payload"},
		{"Env.LogID", nethttp.Env(got).LogID, "sdktest"},
	}
	for _, tt := range tests {
		if fmt.Sprint(tt.got) != fmt.Sprint(tt.want) {
			t.Errorf("request.%s = %v; want %v", tt.name, tt.got, tt.want)
		}
	}
}

func TestChunkedBody(t *testing.T) {
	var cl int64
	var te []string
	var n int64
	h := nethttp.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cl, te = r.ContentLength, r.TransferEncoding
		n, _ = io.Copy(io.Discard, r.Body)
	}))
	sdktest.Serve(t, h, sdktest.NewRequest("POST", "/c", io.LimitReader(zeros{}, 1<<20)))
	if cl != -1 || fmt.Sprint(te) != "[chunked]" || n != 1<<20 {
		t.Errorf("chunked POST: ContentLength, TransferEncoding, bytes = %d, %v, %d; want -1, [chunked], %d", cl, te, n, 1<<20)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestResponse(t *testing.T) {
	tests := []struct {
		name     string
		method   string
		h        http.HandlerFunc
		wantCode int
		wantCT   string
		wantBody string
		check    func(*sdktest.Recorder) error
	}{
		{"sniffed html", "GET", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "<html><body>hi</body></html>")
		}, 200, "text/html; charset=utf-8", "<html><body>hi</body></html>", nil},
		{"status and multi headers", "GET", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Add("X-A", "1")
			w.Header().Add("X-A", "2")
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusTeapot)
			w.WriteHeader(http.StatusOK) // superfluous: ignored
			io.WriteString(w, "short and stout")
		}, 418, "text/plain", "short and stout", func(rec *sdktest.Recorder) error {
			if got := rec.Header.Values("X-A"); fmt.Sprint(got) != "[1 2]" {
				return fmt.Errorf("X-A = %v; want [1 2]", got)
			}
			return nil
		}},
		{"no write", "GET", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Only", "headers")
		}, 200, "", "", func(rec *sdktest.Recorder) error {
			if rec.Header.Get("X-Only") != "headers" {
				return errors.New("X-Only missing")
			}
			return nil
		}},
		{"HEAD discards body", "HEAD", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "not sent")
		}, 200, "text/plain", "", nil},
		{"204 refuses body", "GET", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNoContent)
			if _, err := io.WriteString(w, "x"); !errors.Is(err, http.ErrBodyNotAllowed) {
				panic(fmt.Sprintf("Write after 204 = %v", err))
			}
		}, 204, "", "", nil},
		{"flush streams", "GET", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			for i := range 3 {
				fmt.Fprintf(w, "data: %d\n\n", i)
				w.(http.Flusher).Flush()
			}
			if err := http.NewResponseController(w).Flush(); err != nil {
				panic(err)
			}
		}, 200, "text/event-stream", "data: 0\n\ndata: 1\n\ndata: 2\n\n", func(rec *sdktest.Recorder) error {
			if rec.Flushes != 4 {
				return fmt.Errorf("Flushes = %d; want 4", rec.Flushes)
			}
			return nil
		}},
		{"large body in chunks", "GET", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/octet-stream")
			io.Copy(w, io.LimitReader(zeros{}, 1<<20+5))
		}, 200, "application/octet-stream", "", func(rec *sdktest.Recorder) error {
			if rec.Body.Len() != 1<<20+5 || len(rec.BodyChunks) != 5 {
				return fmt.Errorf("body %d bytes in %d chunks; want %d in 5", rec.Body.Len(), len(rec.BodyChunks), 1<<20+5)
			}
			return nil
		}},
		{"panic is 500", "GET", func(w http.ResponseWriter, r *http.Request) {
			panic("boom")
		}, 0, "", "", func(rec *sdktest.Recorder) error {
			if rec.Finish != sdktest.HTTPStatus || rec.FinishStatus != 500 {
				return fmt.Errorf("finish = %v %d; want HTTPStatus 500", rec.Finish, rec.FinishStatus)
			}
			return nil
		}},
	}
	for _, tt := range tests {
		rec := sdktest.Serve(t, nethttp.Handler(tt.h), sdktest.NewRequest(tt.method, "/r", nil))
		if rec.Code != tt.wantCode {
			t.Errorf("%s: status = %d; want %d", tt.name, rec.Code, tt.wantCode)
		}
		if got := rec.Header.Get("Content-Type"); got != tt.wantCT {
			t.Errorf("%s: Content-Type = %q; want %q", tt.name, got, tt.wantCT)
		}
		if tt.wantBody != "" && rec.Body.String() != tt.wantBody {
			t.Errorf("%s: body = %q; want %q", tt.name, rec.Body, tt.wantBody)
		}
		if tt.check != nil {
			if err := tt.check(rec); err != nil {
				t.Errorf("%s: %v", tt.name, err)
			}
		}
	}
}

func TestFormPost(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /form", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "a=%s b=%s q=%s", r.PostForm["a"], r.PostFormValue("b"), r.FormValue("q"))
	})
	req := sdktest.NewRequest("POST", "/form?q=query", strings.NewReader("a=1&a=2&b=x+y"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := sdktest.Serve(t, nethttp.Handler(mux), req)
	if want := "a=[1 2] b=x y q=query"; rec.Code != 200 || rec.Body.String() != want {
		t.Errorf("POST /form = %d %q; want 200 %q", rec.Code, rec.Body, want)
	}

	// A multipart upload bigger than the first body chunk.
	var buf bytes.Buffer
	buf.WriteString("--XX\r\nContent-Disposition: form-data; name=\"f\"; filename=\"f.bin\"\r\n\r\n")
	buf.Write(bytes.Repeat([]byte("z"), 300<<10))
	buf.WriteString("\r\n--XX--\r\n")
	mux.HandleFunc("POST /upload", func(w http.ResponseWriter, r *http.Request) {
		f, _, err := r.FormFile("f")
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		n, _ := io.Copy(io.Discard, f)
		fmt.Fprint(w, n)
	})
	req = sdktest.NewRequest("POST", "/upload", &buf)
	req.Header.Set("Content-Type", "multipart/form-data; boundary=XX")
	rec = sdktest.Serve(t, nethttp.Handler(mux), req)
	if want := fmt.Sprint(300 << 10); rec.Code != 200 || rec.Body.String() != want {
		t.Errorf("POST /upload = %d %q; want 200 %q", rec.Code, rec.Body, want)
	}
}

func TestEnv(t *testing.T) {
	var env *sdk.Request
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { env = nethttp.Env(r) })
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if env != nil {
		t.Errorf("Env(standalone request) = %v; want nil", env)
	}
	req := sdktest.NewRequest("GET", "/", nil)
	req.Options = sdk.Pairs{{Key: "k", Value: "1"}, {Key: "k", Value: "2"}}
	req.User = "ann"
	req.Notes = []sdk.Pair{{Key: "n", Value: "v"}}
	req.SubprocessEnv = []sdk.Pair{{Key: "E", Value: "e"}}
	sdktest.Serve(t, nethttp.Handler(h), req)
	if env == nil {
		t.Fatal("Env(gobridge request) = nil")
	}
	tests := []struct {
		name      string
		got, want any
	}{
		{"Option(k)", env.Option("k"), "2"},
		{"Options", env.Options, sdk.Pairs{{Key: "k", Value: "1"}, {Key: "k", Value: "2"}}},
		{"User", env.User, "ann"},
		{"Notes", env.Notes, []sdk.Pair{{Key: "n", Value: "v"}}},
		{"SubprocessEnv", env.SubprocessEnv, []sdk.Pair{{Key: "E", Value: "e"}}},
		{"LogID", env.LogID, "sdktest"},
	}
	for _, tt := range tests {
		if fmt.Sprint(tt.got) != fmt.Sprint(tt.want) {
			t.Errorf("Env(r).%s = %v; want %v", tt.name, tt.got, tt.want)
		}
	}
}
