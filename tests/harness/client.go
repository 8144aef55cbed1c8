package harness

import (
	"net/http"
	"strings"
	"testing"
)

// Response is an HTTP response with its body read.
type Response struct {
	Status int
	Header http.Header
	Body   string
	Proto  string // "HTTP/1.1", "HTTP/2.0"
}

// Do sends req and reads the whole response; transport errors fail t.
func Do(t testing.TB, req *http.Request) *Response {
	t.Helper()
	return DoWith(t, Client, req)
}

// Get fetches path from the instance.
func (e *Env) Get(path string) *Response {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.URL(path), nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return Do(e.t, req)
}

// AssertGet fetches path and checks the status and that the body contains
// want (when want is not empty).
func (e *Env) AssertGet(path string, status int, want string) *Response {
	e.t.Helper()
	r := e.Get(path)
	if r.Status != status {
		e.t.Errorf("GET %s: status = %d; want %d (body %q)", path, r.Status, status, clip(r.Body))
	}
	if want != "" && !strings.Contains(r.Body, want) {
		e.t.Errorf("GET %s: body = %q; want it to contain %q", path, clip(r.Body), want)
	}
	return r
}

func clip(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}
