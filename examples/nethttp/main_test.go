package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gobridge/gobridge/sdk"
	"github.com/gobridge/gobridge/sdk/nethttp"
	"github.com/gobridge/gobridge/sdk/sdktest"
)

func TestMuxThroughGobridge(t *testing.T) {
	h := nethttp.Handler(newMux())
	form := func() *sdk.Request {
		r := sdktest.NewRequest("POST", "/app/api/items", strings.NewReader("name=plum"))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return r
	}
	withOption := func() *sdk.Request {
		r := sdktest.NewRequest("GET", "/app/", nil)
		r.Options = sdk.Pairs{{Key: "greeting", Value: "Hi from httpd"}}
		return r
	}
	tests := []struct {
		name     string
		req      *sdk.Request
		wantCode int
		wantBody string // substring
	}{
		{"index", sdktest.NewRequest("GET", "/app/", nil), 200, `"greeting": "Hello"`},
		{"index option", withOption(), 200, `"greeting": "Hi from httpd"`},
		{"time", sdktest.NewRequest("GET", "/app/api/time", nil), 200, `"time":`},
		{"items", sdktest.NewRequest("GET", "/app/api/items", nil), 200, `"name": "pear"`},
		{"add", form(), 201, `"name": "plum"`},
		{"add empty", sdktest.NewRequest("POST", "/app/api/items", nil), 400, "name is required"},
		{"echo", sdktest.NewRequest("GET", "https://example.org/app/api/echo?a=1&a=2", nil), 200, `"a": [`},
		{"not found", sdktest.NewRequest("GET", "/app/nope", nil), 404, "404 page not found"},
		{"method", sdktest.NewRequest("DELETE", "/app/api/items", nil), 405, ""},
	}
	for _, tt := range tests {
		rec := sdktest.Serve(t, h, tt.req)
		if rec.Code != tt.wantCode || !strings.Contains(rec.Body.String(), tt.wantBody) {
			t.Errorf("%s %s = %d %q; want %d containing %q", tt.req.Method, tt.req.UnparsedURI, rec.Code, rec.Body, tt.wantCode, tt.wantBody)
		}
	}
}

// TestSameAsStandalone checks that the mux answers the same through
// gobridge as under net/http itself.
func TestSameAsStandalone(t *testing.T) {
	mux := newMux()
	rec := sdktest.Serve(t, nethttp.Handler(mux), sdktest.NewRequest("GET", "/app/api/echo?x=y", nil))
	std := httptest.NewRecorder()
	mux.ServeHTTP(std, httptest.NewRequest("GET", "/app/api/echo?x=y", nil))
	var a, b map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(std.Body.Bytes(), &b); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"method", "path", "query", "remote", "host", "tls"} {
		if ja, jb := jsonString(a[k]), jsonString(b[k]); ja != jb {
			t.Errorf("echo[%s] = %s via gobridge; want %s as under net/http", k, ja, jb)
		}
	}
	if got := rec.Header.Get("Content-Type"); got != std.Header().Get("Content-Type") {
		t.Errorf("Content-Type = %q; want %q", got, std.Header().Get("Content-Type"))
	}
	if rec.Code != http.StatusOK {
		t.Errorf("status = %d; want 200", rec.Code)
	}
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
