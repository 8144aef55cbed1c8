package tests

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gobridge/gobridge/tests/harness"
)

// A phase that ends the request sends its own response (PhaseRequest.Reply),
// as a mod_python handler writes to req and returns DONE.
func TestPhaseReply(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		e := harness.New(t, build, mpm)
		logged := filepath.Join(e.Root, "logged.txt")
		e.SetConf(fmt.Sprintf(`
LoadModule authn_core_module %[1]s/mod_authn_core.so
LoadModule authz_user_module %[1]s/mod_authz_user.so
GoBridgePlugin phases %[2]s
GoBridgePlugin hello %[3]s
GoBridgePostReadRequestHandler phases
<Location /r>
    GoBridgeAccessHandler phases
    GoBridgeAuthnHandler phases
    GoBridgeFixupHandler phases
    GoBridgeLogHandler phases
    GoBridgeHandler hello
    AuthType Bearer
    AuthName test
    Require valid-user
</Location>
<Location /open>
    GoBridgeFixupHandler phases
    GoBridgeLogHandler phases
    GoBridgeHandler hello
</Location>
`, build.Modules, e.Bin("phases"), e.Bin("hello")))
		// www-data writes the log phase's record.
		if err := os.WriteFile(logged, nil, 0o666); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(logged, 0o666); err != nil {
			t.Fatal(err)
		}
		e.Start()
		log := e.ErrorLog()

		for _, tc := range []struct {
			name, path, hdr string
			status          int
			ctype, body     string
			header          [2]string // a header the reply must carry
			code            string    // an error-log code it must cause
		}{
			{"access: a JSON 403 with its own headers", "/r/x",
				`X-Gb-phases-access: herr=X-Reason:denied;reply=403:application/json:{"error":"forbidden"}`,
				403, "application/json", `{"error":"forbidden"}`, [2]string{"X-Reason", "denied"}, ""},
			{"post_read_request: a 200 before anything is mapped", "/anywhere/at/all",
				"X-Gb-phases-post_read_request: reply=200:text/plain:early answer",
				200, "text/plain", "early answer", [2]string{}, ""},
			{"authn: a 401 page with the challenge", "/r/x",
				`X-Gb-phases-authn: herr=WWW-Authenticate:Bearer realm="test";reply=401:text/plain:log in first`,
				401, "text/plain", "log in first", [2]string{"WWW-Authenticate", `Bearer realm="test"`}, ""},
			{"fixups: a redirect page", "/open/x",
				"X-Gb-phases-fixups: herr=Location:/elsewhere;reply=302:text/html:<a href=/elsewhere>moved</a>",
				302, "text/html", "<a href=/elsewhere>moved</a>", [2]string{"Location", "/elsewhere"}, ""},
			{"an empty body", "/open/x", "X-Gb-phases-fixups: reply=204::",
				204, "", "", [2]string{}, ""},
			{"a status outside 200..599 is refused: 500", "/open/x", "X-Gb-phases-fixups: reply=700:text/plain:no",
				500, "", "", [2]string{}, "invalid change: reply with status 700"},
			{"a bad content type is refused: 500", "/open/x", "X-Gb-phases-fixups: reply=418:not a type:no",
				500, "", "", [2]string{}, "invalid change: reply with status 418"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				req, _ := http.NewRequest("GET", e.URL(tc.path), nil)
				k, v, _ := strings.Cut(tc.hdr, ": ")
				req.Header.Set(k, v)
				r := doNoFollow(t, req)
				if r.Status != tc.status {
					t.Fatalf("GET %s = %d %q; want %d", tc.path, r.Status, r.Body, tc.status)
				}
				if tc.status != 500 {
					if r.Body != tc.body {
						t.Errorf("body = %q; want %q", r.Body, tc.body)
					}
					if got := r.Header.Get("Content-Type"); got != tc.ctype {
						t.Errorf("Content-Type = %q; want %q", got, tc.ctype)
					}
					if got := r.Header.Get("Content-Length"); tc.status != 204 && got != fmt.Sprint(len(tc.body)) {
						t.Errorf("Content-Length = %q; want %d", got, len(tc.body))
					}
				}
				if tc.header[0] != "" && r.Header.Get(tc.header[0]) != tc.header[1] {
					t.Errorf("%s = %q; want %q", tc.header[0], r.Header.Get(tc.header[0]), tc.header[1])
				}
				if tc.code != "" {
					if !log.Contains(tc.code) {
						t.Errorf("no %q line in the error log:\n%s", tc.code, log.Since())
					}
					log.Check(t, "GB0204", tc.code) // the SDK refuses it: the phase fails
				} else {
					log.Check(t)
				}
			})
		}

		// httpd ends the connection after a request answered while it was
		// being read; the answer must say so (Connection: close).
		t.Run("post_read_request: the answer says the connection closes", func(t *testing.T) {
			conn, br := dialRaw(t, e)
			fmt.Fprintf(conn, "GET /anywhere HTTP/1.1\r\nHost: t\r\n"+
				"X-Gb-phases-post_read_request: reply=200:text/plain:early\r\n\r\n")
			resp, b := readRaw(t, br, "GET")
			if resp.StatusCode != 200 || b != "early" || !resp.Close {
				t.Errorf("GET = %d %q, Connection %q; want 200 early, close",
					resp.StatusCode, b, resp.Header.Get("Connection"))
			}
			if _, err := br.ReadByte(); err != io.EOF {
				t.Errorf("after the answer: %v; want the connection closed (EOF)", err)
			}
			log.Check(t)
		})

		t.Run("HEAD gets the status and length, no body", func(t *testing.T) {
			req, _ := http.NewRequest("HEAD", e.URL("/open/x"), nil)
			req.Header.Set("X-Gb-phases-fixups", "reply=403:text/plain:forbidden here")
			r := harness.Do(t, req)
			if r.Status != 403 || r.Body != "" || r.Header.Get("Content-Length") != "14" {
				t.Errorf("HEAD = %d %q, Content-Length %q; want 403, no body, 14", r.Status, r.Body, r.Header.Get("Content-Length"))
			}
			log.Check(t)
		})

		t.Run("the log phase sees the reply's status", func(t *testing.T) {
			req, _ := http.NewRequest("GET", e.URL("/open/logged"), nil)
			req.Header.Set("X-Gb-phases-fixups", "reply=409:text/plain:conflict")
			req.Header.Set("X-Gb-phases-log", "appendfile="+logged)
			if r := harness.Do(t, req); r.Status != 409 {
				t.Fatalf("GET = %d; want 409", r.Status)
			}
			// The log phase runs after the client has its answer: wait
			// for its record to appear.
			if !harness.WaitFor(10*time.Second, func() bool {
				b, _ := os.ReadFile(logged)
				return strings.Contains(string(b), "/open/logged ")
			}) {
				t.Fatal("the log phase wrote no record")
			}
			if b, _ := os.ReadFile(logged); !strings.Contains(string(b), "/open/logged 409 ") {
				t.Errorf("log phase recorded %q; want status 409", b)
			}
			log.Check(t)
		})

		t.Run("a reply in the log phase is refused and changes nothing", func(t *testing.T) {
			req, _ := http.NewRequest("GET", e.URL("/open/x"), nil)
			req.Header.Set("X-Gb-phases-log", "reply=403:text/plain:too late")
			r := harness.Do(t, req)
			if r.Status != 200 || !strings.Contains(r.Body, "Hello") {
				t.Errorf("GET = %d %q; want hello's 200", r.Status, r.Body)
			}
			// The SDK refuses it in the plugin: the phase fails (logged
			// by the plugin) and the log hook only logs.
			if !harness.WaitFor(10*time.Second, func() bool { return log.Contains("no reply in the log phase") }) {
				t.Errorf("no line about the refused reply:\n%s", log.Since())
			}
			log.Check(t, "no reply in the log phase", "log phase")
		})

		t.Run("the request body is discarded and the connection kept", func(t *testing.T) {
			conn, br := dialRaw(t, e)
			body := strings.Repeat("x", 100000)
			fmt.Fprintf(conn, "POST /open/x HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n"+
				"X-Gb-phases-fixups: reply=403:text/plain:not for you\r\n\r\n%s", len(body), body)
			resp, b := readRaw(t, br, "POST")
			if resp.StatusCode != 403 || b != "not for you" {
				t.Fatalf("POST = %d %q; want 403 not for you", resp.StatusCode, b)
			}
			fmt.Fprintf(conn, "GET /open/x HTTP/1.1\r\nHost: t\r\n\r\n")
			resp, b = readRaw(t, br, "second request on the connection")
			if resp.StatusCode != 200 || !strings.Contains(b, "Hello") {
				t.Errorf("second request = %d %q; want hello's 200", resp.StatusCode, b)
			}
			log.Check(t)
		})
	})
}

// A phase adds filters to its request: httpd's own by name, or a gobridge
// plugin as a body filter (mod_python's req.add_output_filter).
func TestPhaseAddsFilters(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		e := harness.New(t, build, mpm)
		e.SetConf(fmt.Sprintf(`
LoadModule deflate_module %s/mod_deflate.so
GoBridgePlugin phases %s
GoBridgePlugin hello %s
GoBridgePlugin filter %s
<Location /f>
    GoBridgeFixupHandler phases
    GoBridgeHandler hello
    GoBridgeOption mode tag
</Location>
<Location /echo>
    GoBridgeFixupHandler phases
    GoBridgeHandler filter
    GoBridgeOption mode upper
</Location>
`, build.Modules, e.Bin("phases"), e.Bin("hello"), e.Bin("filter")))
		e.Start()
		log := e.ErrorLog()

		t.Run("a gobridge output filter", func(t *testing.T) {
			r := get(t, e, "/f/x", "X-Gb-phases-fixups: gboflt=filter")
			if r.Status != 200 || !strings.HasPrefix(r.Body, "[filter:Hello") || !strings.HasSuffix(r.Body, "]") {
				t.Errorf("GET = %d %q; want hello's page tagged by the filter", r.Status, r.Body)
			}
			log.Check(t)
		})
		t.Run("none unless a phase adds it", func(t *testing.T) {
			r := get(t, e, "/f/x", "X-Gb-phases-fixups: ok")
			if r.Status != 200 || !strings.HasPrefix(r.Body, "Hello") {
				t.Errorf("GET = %d %q; want hello's page as it is", r.Status, r.Body)
			}
			log.Check(t)
		})
		t.Run("httpd's DEFLATE", func(t *testing.T) {
			// Large enough that mod_deflate does not leave it as it is.
			req, _ := http.NewRequest("GET", e.URL("/echo/big?n=20000"), nil)
			req.Header.Set("X-Gb-phases-fixups", "oflt=DEFLATE")
			req.Header.Set("Accept-Encoding", "gzip") // set by hand: Go does not unzip
			r := harness.Do(t, req)
			if r.Status != 200 || r.Header.Get("Content-Encoding") != "gzip" {
				t.Fatalf("GET = %d, Content-Encoding %q; want 200 gzip", r.Status, r.Header.Get("Content-Encoding"))
			}
			zr, err := gzip.NewReader(strings.NewReader(r.Body))
			if err != nil {
				t.Fatal(err)
			}
			plain, _ := io.ReadAll(zr)
			if len(plain) != 20000 || len(r.Body) >= len(plain) {
				t.Errorf("unzipped %d bytes into %d; want 20000 from fewer", len(r.Body), len(plain))
			}
			log.Check(t)
		})
		t.Run("a gobridge input filter", func(t *testing.T) {
			req, _ := http.NewRequest("POST", e.URL("/echo/echo"), strings.NewReader("quiet words"))
			req.Header.Set("X-Gb-phases-fixups", "gbiflt=filter")
			r := harness.Do(t, req)
			if r.Status != 200 || r.Body != "QUIET WORDS" {
				t.Errorf("POST = %d %q; want the body upper-cased by the input filter", r.Status, r.Body)
			}
			log.Check(t)
		})
		for _, tc := range []struct{ name, script, says string }{
			{"an httpd filter nobody registered: 500", "oflt=NOSUCHFILTER", "'NOSUCHFILTER', which no loaded module registered"},
			{"an undeclared plugin: 500", "gboflt=nosuch", "plugin 'nosuch', which no GoBridgePlugin line declares"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := get(t, e, "/f/x", "X-Gb-phases-fixups: "+tc.script)
				if r.Status != 500 {
					t.Errorf("GET = %d %q; want 500", r.Status, r.Body)
				}
				if !log.Contains(tc.says) {
					t.Errorf("no GB0352 line saying %q:\n%s", tc.says, log.Since())
				}
				log.Check(t, "GB0352")
			})
		}
	})
}

// dialRaw opens a connection of its own to e, for requests written by hand;
// it is closed when the test ends.
func dialRaw(t *testing.T, e *harness.Env) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.URL(""), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn, bufio.NewReader(conn)
}

// readRaw reads one response and its whole body from br.
func readRaw(t *testing.T, br *bufio.Reader, what string) (*http.Response, string) {
	t.Helper()
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

// doNoFollow is harness.Do without following redirects.
func doNoFollow(t *testing.T, req *http.Request) *harness.Response {
	t.Helper()
	c := *harness.Client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return harness.DoWith(t, &c, req)
}
