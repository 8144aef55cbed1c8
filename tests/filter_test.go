package tests

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gobridge/gobridge/tests/harness"
)

// filterClient never decompresses on its own: the tests look at what the
// filters sent.
var filterClient = &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{DisableCompression: true}}

// filterConf puts the filter plugin (tests/plugins/filter) in front of
// static files, mod_proxy, CGI and gobridge handlers. The plugin is
// declared twice ("filter", "filter2": one binary, two processes), so a
// crashing filter never takes the handler down with it.
func filterConf(e *harness.Env) string {
	return fmt.Sprintf(`
LoadModule proxy_module %[1]s/mod_proxy.so
LoadModule proxy_http_module %[1]s/mod_proxy_http.so
LoadModule cgi_module %[1]s/mod_cgi.so
GoBridgePlugin filter %[2]s
GoBridgePlugin filter2 %[2]s
GoBridgeTimeout 2
LimitRequestBody 0
LogLevel warn gobridge:debug
<Location /gz/>
    GoBridgeOutputFilter filter
    GoBridgeOption mode gzip
</Location>
<Location /gz/gen/>
    GoBridgeHandler filter2
</Location>
<Location /copy/>
    GoBridgeOutputFilter filter
    GoBridgeOption mode copy
    GoBridgeHandler filter2
</Location>
<Location /decline/>
    GoBridgeOutputFilter filter
    GoBridgeOption mode decline
</Location>
<Location /head/>
    GoBridgeOutputFilter filter
    GoBridgeOption mode head10
</Location>
<Location /chain/>
    GoBridgeOutputFilter filter filter2
    GoBridgeOption mode tag
</Location>
<Location /chain/none/>
    GoBridgeOutputFilter None
</Location>
<Location /fail/>
    GoBridgeOutputFilter filter
    GoBridgeHandler filter2
</Location>
<Location /in/>
    GoBridgeInputFilter filter
    GoBridgeOption mode upper
    GoBridgeHandler filter2
</Location>
<Location /in/decline/>
    GoBridgeOption mode decline
</Location>
<Location /in/fail/>
    GoBridgeOption mode error
</Location>
ScriptAlias /cgi/ %[3]s/
<Location /cgi/>
    GoBridgeInputFilter filter
    GoBridgeOutputFilter filter2
    GoBridgeOption mode.filter upper
    GoBridgeOption mode.filter2 tag
</Location>
ProxyPass /proxied/ http://127.0.0.1:%[4]d/plain/
<Location /proxied/>
    GoBridgeOutputFilter filter
    GoBridgeOption mode gzip
</Location>
`, build.Modules, e.Bin("filter"), filepath.Join(e.Root, "cgi"), e.Port) + failLocations() +
		// crashlate exits once the test has seen its first chunk arrive.
		fmt.Sprintf("<Location /fail/crashlate/>\n    GoBridgeOption gate %s\n</Location>\n", e.Gates().URL("crashlate"))
}

var failModes = []string{"error", "crash", "garbage", "slow", "crashlate", "latedecl"}

func failLocations() string {
	var b strings.Builder
	for _, m := range failModes {
		fmt.Fprintf(&b, "<Location /fail/%s/>\n    GoBridgeOption mode %s\n</Location>\n", m, m)
	}
	return b.String()
}

// filterDocs writes the static files the filter tests serve.
func filterDocs(t *testing.T, e *harness.Env) []byte {
	t.Helper()
	doc := bytes.Repeat([]byte("It was the best of times, it was the worst of times.\n"), 4000)
	for _, dir := range []string{"gz", "decline", "head", "chain", "chain/none", "plain"} {
		write(t, filepath.Join(e.Root, "htdocs", dir, "doc.txt"), doc, 0o644)
	}
	write(t, filepath.Join(e.Root, "htdocs", "gz", "pic.png"), []byte("\x89PNG\r\n\x1a\nnot really"), 0o644)
	write(t, filepath.Join(e.Root, "cgi", "echo.cgi"), []byte("#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\nhead -c \"$CONTENT_LENGTH\"\n"), 0o755)
	return doc
}

func write(t *testing.T, path string, b []byte, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, mode); err != nil {
		t.Fatal(err)
	}
}

// get fetches path with Accept-Encoding: gzip and reads the whole body.
func fget(t *testing.T, e *harness.Env, method, path string, body io.Reader) (*http.Response, []byte, error) {
	t.Helper()
	req, err := http.NewRequest(method, e.URL(path), body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := filterClient.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

func mustGet(t *testing.T, e *harness.Env, method, path string, body io.Reader, status int) (*http.Response, []byte) {
	t.Helper()
	resp, b, err := fget(t, e, method, path, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if resp.StatusCode != status {
		t.Fatalf("%s %s = %d; want %d (body %q)", method, path, resp.StatusCode, status, clipBytes(b))
	}
	return resp, b
}

func clipBytes(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}

func gunzipAll(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("body is not gzip (%q): %v", clipBytes(b), err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	return plain
}

func TestFilters(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		e := harness.New(t, build, mpm)
		doc := filterDocs(t, e)
		e.SetConf(filterConf(e))
		e.Start()
		log := e.ErrorLog()

		t.Run("gzip output filter on a static file", func(t *testing.T) {
			resp, b := mustGet(t, e, "GET", "/gz/doc.txt", nil, 200)
			if ce := resp.Header.Get("Content-Encoding"); ce != "gzip" {
				t.Errorf("Content-Encoding = %q; want gzip", ce)
			}
			if v := resp.Header.Get("Vary"); !strings.Contains(v, "Accept-Encoding") {
				t.Errorf("Vary = %q; want Accept-Encoding in it", v)
			}
			if resp.ContentLength != -1 && resp.ContentLength != int64(len(b)) {
				t.Errorf("Content-Length %d for a %d-byte body: the file's length survived the filter", resp.ContentLength, len(b))
			}
			if got := gunzipAll(t, b); !bytes.Equal(got, doc) {
				t.Errorf("gunzipped body has %d bytes; want the file's %d", len(got), len(doc))
			}
			if len(b) >= len(doc)/4 {
				t.Errorf("compressed body is %d bytes for %d bytes of repeated text", len(b), len(doc))
			}
			log.Check(t)
		})

		t.Run("a declining filter passes the body through byte for byte", func(t *testing.T) {
			for _, path := range []string{"/gz/pic.png", "/decline/doc.txt"} {
				resp, b := mustGet(t, e, "GET", path, nil, 200)
				want, _ := os.ReadFile(filepath.Join(e.Root, "htdocs", path))
				if !bytes.Equal(b, want) || resp.Header.Get("Content-Encoding") != "" {
					t.Errorf("GET %s: %d bytes, Content-Encoding %q; want the file's %d bytes untouched", path, len(b), resp.Header.Get("Content-Encoding"), len(want))
				}
				if resp.ContentLength != int64(len(want)) {
					t.Errorf("GET %s: Content-Length %d; want the file's %d", path, resp.ContentLength, len(want))
				}
			}
			log.Check(t)
		})

		t.Run("HEAD and 304 are not filtered", func(t *testing.T) {
			resp, _ := mustGet(t, e, "HEAD", "/gz/doc.txt", nil, 200)
			if resp.Header.Get("Content-Encoding") != "" {
				t.Errorf("HEAD: Content-Encoding %q", resp.Header.Get("Content-Encoding"))
			}
			req, _ := http.NewRequest("GET", e.URL("/gz/doc.txt"), nil)
			req.Header.Set("If-Modified-Since", resp.Header.Get("Last-Modified"))
			r, err := filterClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			r.Body.Close()
			if r.StatusCode != 304 {
				t.Errorf("conditional GET = %d; want 304", r.StatusCode)
			}
			log.Check(t)
		})

		t.Run("gzip in front of a gobridge handler", func(t *testing.T) {
			resp, b := mustGet(t, e, "GET", "/gz/gen/big?n=100000", nil, 200)
			got := gunzipAll(t, b)
			if len(got) != 100000 || !bytes.HasPrefix(got, []byte("the quick brown fox")) || resp.Header.Get("Content-Encoding") != "gzip" {
				t.Errorf("gunzipped %d bytes (%q), Content-Encoding %q; want 100000 bytes of text, gzip", len(got), clipBytes(got), resp.Header.Get("Content-Encoding"))
			}
			log.Check(t)
		})

		t.Run("gzip in front of mod_proxy", func(t *testing.T) {
			resp, b := mustGet(t, e, "GET", "/proxied/doc.txt", nil, 200)
			if got := gunzipAll(t, b); !bytes.Equal(got, doc) || resp.Header.Get("Content-Encoding") != "gzip" {
				t.Errorf("gunzipped %d bytes, Content-Encoding %q; want the file's %d, gzip", len(got), resp.Header.Get("Content-Encoding"), len(doc))
			}
			log.Check(t)
		})

		t.Run("flush reaches the client through the filter", func(t *testing.T) {
			// The handler flushes "part one;", then waits at a gate that
			// the test releases only once it has read that part: the part
			// can only have arrived by the flush going through the gzip
			// filter, while the handler was still holding the rest.
			g := e.Gates()
			name := "stream-" + mpm
			req, _ := http.NewRequest("GET", e.URL("/gz/gen/stream?gate="+url.QueryEscape(g.URL(name))), nil)
			req.Header.Set("Accept-Encoding", "gzip")
			resp, err := filterClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			zr, err := gzip.NewReader(resp.Body)
			if err != nil {
				t.Fatalf("gzip header: %v", err)
			}
			first := make([]byte, len("part one;"))
			if _, err := io.ReadFull(zr, first); err != nil || string(first) != "part one;" {
				t.Fatalf("first part = %q, %v", first, err)
			}
			// (The handler may not be at its gate yet; a release waits
			// for it there.)
			g.Release(name)
			rest, err := io.ReadAll(zr)
			if err != nil || string(rest) != "part two" {
				t.Errorf("rest = %q, %v; want %q", rest, err, "part two")
			}
			log.Check(t)
		})

		t.Run("20 MiB stream through a filter with bounded memory", func(t *testing.T) {
			const size = 20 << 20
			resp, err := filterClient.Get(e.URL(fmt.Sprintf("/copy/gen/big?n=%d", size)))
			if err != nil {
				t.Fatal(err)
			}
			h := sha256.New()
			n, err := io.Copy(h, resp.Body)
			resp.Body.Close()
			if err != nil || n != size || resp.StatusCode != 200 {
				t.Fatalf("GET big = %d, %d bytes, %v; want 200 with %d", resp.StatusCode, n, err, size)
			}
			want := sha256.New()
			line := []byte("the quick brown fox jumps over the lazy dog 0123456789\n")
			for left := size; left > 0; left -= len(line) {
				want.Write(line[:min(left, len(line))])
			}
			if !bytes.Equal(h.Sum(nil), want.Sum(nil)) {
				t.Errorf("the body changed on its way through the copy filter")
			}
			checkPeakRSS(t, append(e.ProcessesOf("filter"), e.HTTPDChildren()...), 64<<20, "filtering 20 MiB")
			log.Check(t)
		})

		t.Run("two filters run in the order given; None switches them off", func(t *testing.T) {
			_, b := mustGet(t, e, "GET", "/chain/doc.txt", nil, 200)
			if want := "[filter2:[filter:" + string(doc) + "]]"; string(b) != want {
				t.Errorf("body = %q; want the file wrapped by filter, then filter2", clipBytes(b))
			}
			_, b = mustGet(t, e, "GET", "/chain/none/doc.txt", nil, 200)
			if !bytes.Equal(b, doc) {
				t.Errorf("GoBridgeOutputFilter None: body = %q; want the file", clipBytes(b))
			}
			log.Check(t)
		})

		t.Run("a filter may end the body early", func(t *testing.T) {
			_, b := mustGet(t, e, "GET", "/head/doc.txt", nil, 200)
			if string(b) != string(doc[:10]) {
				t.Errorf("body = %q; want the first 10 bytes", b)
			}
			log.Check(t)
		})

		t.Run("input filter transforms what a gobridge handler reads", func(t *testing.T) {
			_, b := mustGet(t, e, "POST", "/in/echo", strings.NewReader("hello, world"), 200)
			if string(b) != "HELLO, WORLD" {
				t.Errorf("echo = %q; want HELLO, WORLD", b)
			}
			big := bytes.Repeat([]byte("abc"), 1<<20)
			_, b = mustGet(t, e, "POST", "/in/echo", bytes.NewReader(big), 200)
			if !bytes.Equal(b, bytes.ToUpper(big)) {
				t.Errorf("3 MiB echo: %d bytes back, upper-cased %v", len(b), bytes.Equal(b, bytes.ToUpper(big)))
			}
			_, b = mustGet(t, e, "POST", "/in/decline/echo", strings.NewReader("as is"), 200)
			if string(b) != "as is" {
				t.Errorf("declined input filter: echo = %q; want as is", b)
			}
			log.Check(t)
		})

		t.Run("input and output filters around CGI", func(t *testing.T) {
			_, b := mustGet(t, e, "POST", "/cgi/echo.cgi", strings.NewReader("from cgi"), 200)
			if string(b) != "[filter2:FROM CGI]" {
				t.Errorf("CGI echo = %q; want [filter2:FROM CGI]", b)
			}
			log.Check(t)
		})

		t.Run("an input filter that fails makes the read fail: 500", func(t *testing.T) {
			mustGet(t, e, "POST", "/in/fail/echo", strings.NewReader("x"), 500)
			log.Check(t, "GB0324", "GB0330", "GB0337", "GB0034", "filter failed on purpose")
		})

		t.Run("failures before output give 500 or 504, never the plugin's garbage", func(t *testing.T) {
			starts := filterStarts(e)
			for _, tc := range []struct {
				mode   string
				status int
			}{{"error", 500}, {"garbage", 500}, {"slow", 504}, {"crash", 503}} {
				resp, b := mustGet(t, e, "GET", "/fail/"+tc.mode+"/big?n=100", nil, tc.status)
				if resp.Header.Get("X-Bad") != "" || strings.Contains(string(b), "quick brown") {
					t.Errorf("mode %s: the plugin's header or the unfiltered body reached the client", tc.mode)
				}
			}
			waitFilterUp(t, e, starts)
			log.Check(t, "GB0321", "GB0323", "GB0324", "GB0325", "GB0337", "filter failed on purpose", "exited", "plugin filter", "exit status")
		})

		t.Run("failures after output cut the response off", func(t *testing.T) {
			starts := filterStarts(e)
			for _, mode := range []string{"latedecl", "crashlate"} {
				req, _ := http.NewRequest("GET", e.URL("/fail/"+mode+"/big?n=1000000"), nil)
				req.Header.Set("Accept-Encoding", "gzip")
				resp, err := filterClient.Do(req)
				if err != nil {
					continue // cut off before the head: also not a complete response
				}
				// crashlate's first chunk reached the client: now it may crash.
				first := make([]byte, 1)
				_, ferr := io.ReadFull(resp.Body, first)
				if mode == "crashlate" {
					if ferr != nil {
						t.Errorf("crashlate: no byte of its first chunk reached the client: %v", ferr)
					}
					e.Gates().Release("crashlate")
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if ferr == nil && err == nil {
					t.Errorf("mode %s: a complete %d response of %d bytes; want it cut off\n%s", mode, resp.StatusCode, len(b)+1, log.Since())
				}
			}
			waitFilterUp(t, e, starts)
			log.Check(t, "GB0321", "GB0324", "GB0325", "GB0329", "GB0337", "exited", "plugin filter", "exit status")
		})
	})
}

// filterStarts counts gobridged's starts of the "filter" plugin so far.
func filterStarts(e *harness.Env) int {
	return e.ErrorLog().Count(`gobridged: plugin "filter" started`)
}

// waitFilterUp waits until gobridged restarted the "filter" plugin, which
// had been started `starts` times before it was crashed on purpose, and the
// new process serves. Probing alone is not enough: a pooled connection to
// the dying process may still answer one request before it exits.
func waitFilterUp(t *testing.T, e *harness.Env, starts int) {
	t.Helper()
	ok := harness.WaitFor(10*time.Second, func() bool {
		if filterStarts(e) <= starts {
			return false
		}
		resp, _, err := fget(t, e, "GET", "/chain/doc.txt", nil)
		return err == nil && resp.StatusCode == 200
	})
	if !ok {
		t.Fatalf("the filter plugin did not come back")
	}
}

// GoBridgeOutputFilter and GoBridgeInputFilter naming an undeclared plugin
// are refused by configtest with file, line and directive.
func TestFilterConfigErrors(t *testing.T) {
	e := harness.New(t, build, "event")
	for _, d := range []string{"GoBridgeOutputFilter", "GoBridgeInputFilter"} {
		for _, conf := range []string{
			"<Location /x>\n" + d + " nosuch\n</Location>",
			"<Location /x>\n" + d + "\n</Location>",
			"<Location /x>\n" + d + " 'bad name'\n</Location>",
		} {
			e.SetConf(fmt.Sprintf("GoBridgePlugin filter %s\n", e.Bin("filter")) + conf + "\n")
			out, ok := e.ConfigTest()
			if ok {
				t.Errorf("configtest accepted:\n%s", conf)
				continue
			}
			if !strings.Contains(out, d) || !strings.Contains(out, "httpd.conf") || !regexp.MustCompile(`line [0-9]+`).MatchString(out) {
				t.Errorf("configtest output does not name %s, the file and the line:\n%s", d, out)
			}
		}
	}
	e.SetConf(fmt.Sprintf("GoBridgePlugin filter %s\n<Location /x>\nGoBridgeOutputFilter filter filter\nGoBridgeInputFilter None\n</Location>\n", e.Bin("filter")))
	if out, ok := e.ConfigTest(); !ok {
		t.Errorf("configtest refused a good configuration:\n%s", out)
	}
}
