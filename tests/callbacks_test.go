package tests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/gobridge/gobridge/tests/harness"
)

// The content handler's calls into httpd that ride along with the end of
// the Handle stream: InternalRedirect, SendFile, and the snapshot-only
// AbsoluteURL.
func TestContentHandlerCallbacks(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		e := startEcho(t, mpm)
		log := e.ErrorLog()

		// A file Apache's User (www-data) can read: htdocs is 0755.
		data := make([]byte, 100<<10)
		for i := range data {
			data[i] = byte(i % 251)
		}
		file := filepath.Join(e.Root, "htdocs", "data.txt")
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(e.Root, "htdocs", "static.txt"), []byte("static file\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		sf := "/echo/sendfile?path=" + url.QueryEscape(file)
		get := func(path string, hdr ...string) *harness.Response {
			t.Helper()
			req, _ := http.NewRequest("GET", e.URL(path), nil)
			for i := 0; i+1 < len(hdr); i += 2 {
				req.Header.Set(hdr[i], hdr[i+1])
			}
			return harness.Do(t, req)
		}

		t.Run("internal redirect to another plugin", func(t *testing.T) {
			e.AssertGet("/echo/redirect?to=/hello", 200, "Hello")
			log.Check(t)
		})

		t.Run("internal redirect to a static file", func(t *testing.T) {
			e.AssertGet("/echo/redirect?to=/static.txt", 200, "static file")
			log.Check(t)
		})

		t.Run("redirected request knows it was redirected", func(t *testing.T) {
			r := e.AssertGet("/echo/redirect?to="+url.QueryEscape("/echo/snapshot?a=1"), 200, "")
			var snap map[string]any
			if err := json.Unmarshal([]byte(r.Body), &snap); err != nil {
				t.Fatalf("body %q: %v", r.Body, err)
			}
			if snap["uri"] != "/echo/snapshot" || snap["args"] != "a=1" || snap["is_internal_redirect"] != true {
				t.Errorf("snapshot uri=%v args=%v is_internal_redirect=%v; want /echo/snapshot, a=1, true",
					snap["uri"], snap["args"], snap["is_internal_redirect"])
			}
			log.Check(t)
		})

		t.Run("SDK refuses a non-local redirect", func(t *testing.T) {
			e.AssertGet("/echo/redirect?to="+url.QueryEscape("http://elsewhere/"), 500, "")
			log.Check(t, "not a local URI")
		})

		t.Run("module refuses invalid redirect and send_file", func(t *testing.T) {
			// With a head in the same message the head was applied first:
			// the module ends the response as after a head (502).
			for kind, status := range map[string]int{"redirect": 500, "redirecthead": 502, "sendfilerel": 502} {
				r := e.AssertGet("/echo/badheader?kind="+kind, status, "")
				if bytes.Contains([]byte(r.Body), []byte("Hello")) {
					t.Errorf("kind=%s: the redirect was made", kind)
				}
			}
			if n := log.Count("GB0030"); n < 3 {
				t.Errorf("GB0030 protocol errors = %d; want 3:\n%s", n, log.Since())
			}
			log.Check(t, "GB0030")
		})

		t.Run("absolute URL", func(t *testing.T) {
			e.AssertGet("/echo/absurl?path=/x/y", 200, e.URL("/x/y")+"\n")
			log.Check(t)
		})

		var etag, lastMod string
		t.Run("send file", func(t *testing.T) {
			r := get(sf)
			if r.Status != 200 || r.Body != string(data) {
				t.Fatalf("GET sendfile = %d with %d bytes; want 200 with the file's %d", r.Status, len(r.Body), len(data))
			}
			if cl := r.Header.Get("Content-Length"); cl != strconv.Itoa(len(data)) {
				t.Errorf("Content-Length = %q; want %d", cl, len(data))
			}
			if ct := r.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
				t.Errorf("Content-Type = %q; want text/plain from the extension", ct)
			}
			etag, lastMod = r.Header.Get("ETag"), r.Header.Get("Last-Modified")
			if etag == "" || lastMod == "" {
				t.Errorf("ETag %q, Last-Modified %q; want both from the file", etag, lastMod)
			}
			log.Check(t)
		})

		t.Run("send file: HEAD", func(t *testing.T) {
			req, _ := http.NewRequest("HEAD", e.URL(sf), nil)
			r := harness.Do(t, req)
			if r.Status != 200 || r.Body != "" || r.Header.Get("Content-Length") != strconv.Itoa(len(data)) {
				t.Errorf("HEAD = %d, body %d bytes, Content-Length %q; want 200, none, %d",
					r.Status, len(r.Body), r.Header.Get("Content-Length"), len(data))
			}
			log.Check(t)
		})

		t.Run("send file: Range gets 206", func(t *testing.T) {
			r := get(sf, "Range", "bytes=10-19")
			if r.Status != 206 || r.Body != string(data[10:20]) {
				t.Errorf("Range bytes=10-19 = %d %q; want 206 %q", r.Status, r.Body, data[10:20])
			}
			if cr := r.Header.Get("Content-Range"); cr != fmt.Sprintf("bytes 10-19/%d", len(data)) {
				t.Errorf("Content-Range = %q", cr)
			}
			r = get(sf, "Range", "bytes=10-19", "If-Range", `"not-the-etag"`)
			if r.Status != 200 || len(r.Body) != len(data) {
				t.Errorf("Range with a stale If-Range = %d with %d bytes; want 200 with the whole file", r.Status, len(r.Body))
			}
			r = get(sf, "Range", fmt.Sprintf("bytes=%d-", len(data)+10))
			if r.Status != 416 {
				t.Errorf("unsatisfiable Range = %d; want 416", r.Status)
			}
			log.Check(t)
		})

		t.Run("send file: conditional requests", func(t *testing.T) {
			if etag == "" || lastMod == "" {
				t.Skip("no validators from the first request")
			}
			if r := get(sf, "If-None-Match", etag); r.Status != 304 || r.Body != "" {
				t.Errorf("If-None-Match: current ETag = %d with %d bytes; want 304, empty", r.Status, len(r.Body))
			}
			if r := get(sf, "If-None-Match", `"other"`); r.Status != 200 {
				t.Errorf("If-None-Match: other ETag = %d; want 200", r.Status)
			}
			if r := get(sf, "If-Modified-Since", lastMod); r.Status != 304 {
				t.Errorf("If-Modified-Since: Last-Modified = %d; want 304", r.Status)
			}
			if r := get(sf, "If-Modified-Since", "Mon, 01 Jan 2001 00:00:00 GMT"); r.Status != 200 {
				t.Errorf("If-Modified-Since 2001 = %d; want 200", r.Status)
			}
			if r := get(sf, "If-Match", `"other"`); r.Status != 412 {
				t.Errorf("If-Match: other ETag = %d; want 412", r.Status)
			}
			log.Check(t)
		})

		t.Run("send file: part, own type and status", func(t *testing.T) {
			r := get(sf + "&off=100&len=50&ct=application/x-part&status=203")
			if r.Status != 203 || r.Body != string(data[100:150]) || r.Header.Get("Content-Type") != "application/x-part" {
				t.Errorf("= %d %q (%q); want 203, bytes 100..149, application/x-part", r.Status, r.Body, r.Header.Get("Content-Type"))
			}
			e.AssertGet(sf+"&off=100&len="+strconv.Itoa(len(data)), 500, "")
			log.Check(t, "GB0303")
		})

		t.Run("send file: missing, not regular, relative", func(t *testing.T) {
			e.AssertGet("/echo/sendfile?path="+url.QueryEscape(filepath.Join(e.Root, "htdocs", "nope")), 404, "")
			e.AssertGet("/echo/sendfile?path="+url.QueryEscape(filepath.Join(e.Root, "htdocs")), 500, "")
			e.AssertGet("/echo/sendfile?path=relative.txt", 500, "")
			if !log.Contains("GB0301") || !log.Contains("GB0302") {
				t.Errorf("want GB0301 and GB0302 in the error log:\n%s", log.Since())
			}
			log.Check(t, "GB0301", "GB0302", "not an absolute path")
		})

		t.Run("send file: opened as Apache's User", func(t *testing.T) {
			if e.User == "" {
				t.Skip("httpd does not switch user (tests not run as root)")
			}
			secret := filepath.Join(e.Root, "htdocs", "secret.txt")
			if err := os.WriteFile(secret, []byte("root only\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			e.AssertGet("/echo/sendfile?path="+url.QueryEscape(secret), 403, "")
			log.Check(t, "GB0301")
		})
	})
}
