package tests

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobridge/gobridge/tests/harness"
)

func subreqConf(e *harness.Env) string {
	return fmt.Sprintf(`
GoBridgePlugin subreq %s
GoBridgePlugin hello %s
GoBridgeTimeout 10
LimitRequestBody 0
<Location /subreq>
    GoBridgeHandler subreq
</Location>
<Location /hello>
    GoBridgeHandler hello
</Location>
<Location /denied>
    Require all denied
</Location>
<Location /postonly>
    <LimitExcept POST>
        Require all denied
    </LimitExcept>
</Location>
Redirect /old /static.txt
`, e.Bin("subreq"), e.Bin("hello"))
}

// subResult is tests/plugins/subreq's JSON for a sub-request.
type subResult struct {
	Status      int    `json:"status"`
	URI         string `json:"uri"`
	Args        string `json:"args"`
	PathInfo    string `json:"path_info"`
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	Handler     string `json:"handler"`
	File        *struct {
		Size    int64 `json:"size"`
		MtimeUs int64 `json:"mtime_us"`
		IsDir   bool  `json:"is_dir"`
		IsReg   bool  `json:"is_regular"`
	} `json:"file"`
	Header []struct{ Key, Value string } `json:"header"`
	Error  string                        `json:"error"`
}

// The content handler's mid-request calls into httpd: sub-request lookups,
// includes, discarding the request body.
// sep returns the separator that adds a parameter to path's query string.
func sep(path string) string {
	if strings.Contains(path, "?") {
		return "&"
	}
	return "?"
}

func TestSubRequests(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		e := harness.New(t, build, mpm)
		e.SetConf(subreqConf(e))
		htdocs := filepath.Join(e.Root, "htdocs")
		static := filepath.Join(htdocs, "static.txt")
		if err := os.WriteFile(static, []byte("static file\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, d := range []string{"denied", "files"} {
			if err := os.MkdirAll(filepath.Join(htdocs, d), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		// Not in the directory of the plugin's r->filename (htdocs/subreq),
		// so its file sub-request gets no URI: see LookupFile.
		file := filepath.Join(htdocs, "files", "f.txt")
		if err := os.WriteFile(file, []byte("a file\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(htdocs, "denied", "x.txt"), []byte("secret\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		e.Start()
		log := e.ErrorLog()

		lookup := func(t *testing.T, path string) subResult {
			t.Helper()
			r := e.AssertGet(path, 200, "")
			var res subResult
			if err := json.Unmarshal([]byte(r.Body), &res); err != nil {
				t.Fatalf("GET %s: %q: %v", path, r.Body, err)
			}
			return res
		}
		q := url.QueryEscape

		t.Run("lookup of a static file", func(t *testing.T) {
			fi, err := os.Stat(static)
			if err != nil {
				t.Fatal(err)
			}
			res := lookup(t, "/subreq/lookup?uri="+q("/static.txt?a=1"))
			if res.Status != 200 || res.URI != "/static.txt" || res.Args != "a=1" || res.Filename != static ||
				!strings.HasPrefix(res.ContentType, "text/plain") || res.Handler != "" {
				t.Errorf("lookup = %+v; want 200, /static.txt, a=1, %s, text/plain, no handler", res, static)
			}
			if res.File == nil || !res.File.IsReg || res.File.IsDir || res.File.Size != 12 ||
				res.File.MtimeUs != fi.ModTime().UnixMicro() {
				t.Errorf("file = %+v; want a regular file of 12 bytes, mtime %d", res.File, fi.ModTime().UnixMicro())
			}
			if res.Header != nil {
				t.Errorf("headers %v sent unasked", res.Header)
			}
			log.Check(t)
		})

		t.Run("lookup of a missing file", func(t *testing.T) {
			// httpd's phases let it through; only its handler would say 404
			// (the include test shows that).
			res := lookup(t, "/subreq/lookup?uri="+q("/missing.txt"))
			if res.Status != 200 || res.File != nil || res.Filename != filepath.Join(htdocs, "missing.txt") {
				t.Errorf("lookup = %+v; want 200, no file, filename %s", res, filepath.Join(htdocs, "missing.txt"))
			}
			log.Check(t)
		})

		t.Run("lookup of a denied location", func(t *testing.T) {
			res := lookup(t, "/subreq/lookup?uri="+q("/denied/x.txt"))
			if res.Status != 403 {
				t.Errorf("lookup = %+v; want 403", res)
			}
			log.Check(t, "AH01630") // "client denied by server configuration"
		})

		t.Run("lookup with a method", func(t *testing.T) {
			if res := lookup(t, "/subreq/lookup?uri="+q("/postonly/x")); res.Status != 403 {
				t.Errorf("GET lookup of /postonly = %d; want 403", res.Status)
			}
			if res := lookup(t, "/subreq/lookup?method=POST&uri="+q("/postonly/x")); res.Status != 200 {
				t.Errorf("POST lookup of /postonly = %d; want 200", res.Status)
			}
			log.Check(t, "AH01630")
		})

		t.Run("lookup of another gobridge location", func(t *testing.T) {
			res := lookup(t, "/subreq/lookup?uri="+q("/hello/x"))
			if res.Status != 200 || res.Handler != "gobridge" || res.URI != "/hello/x" {
				t.Errorf("lookup = %+v; want 200, handler gobridge", res)
			}
			log.Check(t)
		})

		t.Run("lookup with headers", func(t *testing.T) {
			// mod_alias answers the lookup itself: 302 with Location.
			res := lookup(t, "/subreq/lookup?headers=1&uri="+q("/old"))
			loc := ""
			for _, h := range res.Header {
				if h.Key == "Location" {
					loc = h.Value
				}
			}
			if res.Status != 302 || !strings.HasSuffix(loc, "/static.txt") {
				t.Errorf("lookup = %+v; want 302 with Location …/static.txt", res)
			}
			log.Check(t)
		})

		t.Run("lookup of a file path", func(t *testing.T) {
			res := lookup(t, "/subreq/lookupfile?path="+q(file))
			if res.Status != 200 || res.Filename != file || res.URI != "" || !strings.HasPrefix(res.ContentType, "text/plain") ||
				res.File == nil || res.File.Size != 7 || !res.File.IsReg || res.Handler != "" {
				t.Errorf("lookup = %+v (file %+v); want 200, %s, no URI, text/plain, 7 bytes, no handler", res, res.File, file)
			}
			// In the directory of the plugin's own file (htdocs/subreq), a
			// file gets a URI next to the plugin's: <Location /subreq> and
			// so GoBridgeHandler apply, as for mod_include's #include file.
			res = lookup(t, "/subreq/lookupfile?path="+q(static))
			if res.Status != 200 || res.URI != "/subreq/static.txt" || res.Handler != "gobridge" || res.File == nil {
				t.Errorf("lookup = %+v; want 200, /subreq/static.txt, handler gobridge", res)
			}
			// mod_dir redirects a directory without its trailing slash.
			res = lookup(t, "/subreq/lookupfile?path="+q(htdocs))
			if res.Status != 301 || res.File == nil || !res.File.IsDir {
				t.Errorf("lookup of the document root = %+v (file %+v); want 301, a directory", res, res.File)
			}
			res = lookup(t, "/subreq/lookupfile?path="+q(filepath.Join(htdocs, "denied", "x.txt")))
			if res.Status != 200 {
				// <Location> does not apply to file lookups; <Directory> would.
				t.Errorf("file lookup of denied/x.txt = %+v; want 200", res)
			}
			log.Check(t)
		})

		t.Run("lookups do not grow the child", func(t *testing.T) {
			// A sub-request left undestroyed would keep its pool (8 KiB
			// and more) until the end of the request: 20000 of them grow
			// the serving child's peak RSS by well over 100 MiB. Every
			// child's peak is compared, so it does not matter which child
			// serves the long request.
			get := func(n int) {
				t.Helper()
				_, b := mustGet(t, e, "GET", fmt.Sprintf("/subreq/many?n=%d&uri=%s", n, q("/static.txt")), nil, 200)
				if want := fmt.Sprintf("%d lookups, status 200", n); string(b) != want {
					t.Fatalf("GET many = %q; want %q", b, want)
				}
			}
			peaks := func() map[int]int64 {
				m := map[int]int64{}
				for _, pid := range e.HTTPDChildren() {
					if rss, err := harness.PeakRSS(pid); err == nil {
						m[pid] = rss
					}
				}
				return m
			}
			for i := 0; i < 4; i++ {
				get(200) // warm every child that may serve the next request
			}
			before := peaks()
			get(20000)
			compared := 0
			for pid, rss := range peaks() {
				b, ok := before[pid]
				if !ok {
					continue
				}
				compared++
				if rss-b > 16<<20 {
					t.Errorf("child %d: peak RSS grew by %d KiB over 20000 lookups", pid, (rss-b)>>10)
				}
			}
			if compared == 0 {
				t.Fatalf("no httpd child lived through the measurement")
			}
			log.Check(t)
		})

		t.Run("non-local URI is refused", func(t *testing.T) {
			res := lookup(t, "/subreq/lookup?uri="+q("http://elsewhere/"))
			if !strings.Contains(res.Error, "not a local URI") || res.Status != 0 {
				t.Errorf("lookup = %+v; want the SDK's error", res)
			}
			if !log.Contains("not a local URI") {
				t.Errorf("the plugin's error is not in the error log:\n%s", log.Since())
			}
			// Past the SDK: the module refuses it as well, and says so.
			for _, bad := range []string{"http://elsewhere/", "/a b", "/x\x01y"} {
				e.AssertGet("/subreq/rawlookup?uri="+q(bad), 200, "refused: not a local URI")
			}
			if n := log.Count("GB0341"); n != 3 {
				t.Errorf("GB0341 lines = %d; want 3:\n%s", n, log.Since())
			}
			log.Check(t, "not a local URI", "GB0341")
		})

		t.Run("include in order", func(t *testing.T) {
			for _, buffer := range []string{"", "&buffer=1"} {
				r := e.AssertGet("/subreq/include?ct=text/html&status=201&u=/static.txt&u=/hello/x&u=/subreq/inner"+buffer, 201, "")
				want := "<begin>\nstatic file\n\n<status 200>\nHello, world, from Go via gobridge!\n\n<status 200>\n" +
					"inner(sub=true main=/subreq/include)\n<status 200>\n<end>\n"
				body := r.Body
				if buffer != "" {
					pad := strings.Repeat(".", 300<<10) + "\n"
					if !strings.HasPrefix(body, pad) {
						t.Fatalf("body does not start with the 300 KiB written before the includes")
					}
					body = body[len(pad):]
				}
				if body != want {
					t.Errorf("body = %q; want %q", body, want)
				}
				if ct := r.Header.Get("Content-Type"); ct != "text/html" {
					t.Errorf("Content-Type = %q; want the handler's text/html", ct)
				}
			}
			log.Check(t)
		})

		t.Run("include of what does not run", func(t *testing.T) {
			r := e.AssertGet("/subreq/include?u=/missing.txt&u=/denied/x.txt&u=/hello/y", 200, "")
			want := "<begin>\n\n<status 404>\n\n<status 403>\nHello, world, from Go via gobridge!\n\n<status 200>\n<end>\n"
			if r.Body != want {
				t.Errorf("body = %q; want %q", r.Body, want)
			}
			log.Check(t, "AH01630")
		})

		t.Run("include of a file", func(t *testing.T) {
			r := e.AssertGet("/subreq/include?file=1&u="+q(file), 200, "")
			if want := "<begin>\na file\n\n<status 200>\n<end>\n"; r.Body != want {
				t.Errorf("body = %q; want %q", r.Body, want)
			}
			log.Check(t)
		})

		t.Run("include recursion ends", func(t *testing.T) {
			// Each level is a stream of its own, on a connection of its
			// own, until LimitInternalRecursion (10) makes the lookup 500.
			want := strings.Repeat("(", 11) + ")500" + strings.Repeat(")200", 10)
			e.AssertGet("/subreq/self", 200, want)
			log.Check(t, "AH00125") // "exceeded the limit of 10 subrequest nesting levels"
		})

		t.Run("include before any head", func(t *testing.T) {
			r := e.AssertGet("/subreq/rawinclude?u=/static.txt", 200, "")
			if want := "static file\n\n<after status 200>\n"; r.Body != want {
				t.Errorf("body = %q; want %q", r.Body, want)
			}
			log.Check(t)
		})

		t.Run("discard the body, keep the connection", func(t *testing.T) {
			const size = 4 << 20
			for _, tc := range []struct {
				name    string
				path    string
				chunked bool
				want    string
			}{
				{"unread", "/subreq/discard", false, "read 0, then EOF"},
				{"partly read", "/subreq/discard?read=100000", false, "read 100000, then EOF"},
				{"chunked", "/subreq/discard?read=10", true, "read 10, then EOF"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					conn, err := net.DialTimeout("tcp", strings.TrimPrefix(e.URL(""), "http://"), 5*time.Second)
					if err != nil {
						t.Fatal(err)
					}
					defer conn.Close()
					_ = conn.SetDeadline(time.Now().Add(60 * time.Second))
					br := bufio.NewReader(conn)
					// The client holds the second half of the body until
					// the plugin is about to call DiscardBody (it notifies
					// a gate) and httpd has read everything sent so far
					// (both ends' TCP queues are empty): httpd is then in
					// the discard, waiting for the rest. It must read all
					// of the body away before the plugin goes on
					// (ap_discard_request_body), so the response cannot
					// arrive before the client started writing the last
					// of it: an order, checked with a flag, not a clock.
					// Without DiscardBody nobody reads the body, the hold
					// lasts, and the flushed head arrives during it.
					g := e.Gates()
					gname := "discard-" + tc.name
					path := tc.path + sep(tc.path) + "gate=" + url.QueryEscape(g.URL(gname))
					head := "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
					if tc.chunked {
						head += "Transfer-Encoding: chunked\r\n\r\n"
					} else {
						head += fmt.Sprintf("Content-Length: %d\r\n\r\n", size)
					}
					var lastStarted atomic.Bool
					werr := make(chan error, 1)
					headCame := make(chan struct{})
					cl, sv := conn.LocalAddr().(*net.TCPAddr), conn.RemoteAddr().(*net.TCPAddr)
					// drained: httpd has read all the client sent.
					drained := func() bool {
						tx, _, err1 := harness.TCPQueues(cl, sv)
						_, rx, err2 := harness.TCPQueues(sv, cl)
						return err1 == nil && err2 == nil && tx == 0 && rx == 0
					}
					go func() {
						_, err := io.WriteString(conn, head)
						chunk := strings.Repeat("z", 64<<10)
						for n := 0; err == nil && n < size; n += len(chunk) {
							if n == size/2 {
								select {
								case <-g.Arrived(gname):
								case <-time.After(30 * time.Second):
									werr <- fmt.Errorf("the plugin never reached DiscardBody")
									return
								}
								// Until httpd has read what was sent, or the
								// head came early (the check below fails).
								harness.WaitFor(30*time.Second, func() bool {
									select {
									case <-headCame:
										return true
									default:
										return drained()
									}
								})
							}
							if n+len(chunk) >= size {
								lastStarted.Store(true)
							}
							if tc.chunked {
								_, err = fmt.Fprintf(conn, "%x\r\n%s\r\n", len(chunk), chunk)
							} else {
								_, err = io.WriteString(conn, chunk)
							}
						}
						if err == nil && tc.chunked {
							_, err = io.WriteString(conn, "0\r\n\r\n")
						}
						werr <- err
					}()
					resp, err := http.ReadResponse(br, nil)
					close(headCame)
					if err != nil {
						t.Fatalf("first response: %v", err)
					}
					if !lastStarted.Load() {
						t.Errorf("the response arrived before the client had sent the whole body: it was not discarded first")
					}
					if err := <-werr; err != nil {
						t.Fatalf("writing the body: %v", err)
					}
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 || string(b) != tc.want || resp.Close {
						t.Errorf("POST = %d %q (close %v); want 200 %q, kept alive", resp.StatusCode, b, resp.Close, tc.want)
					}
					// The same connection carries the next request.
					if _, err := io.WriteString(conn, "GET /subreq/inner HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
						t.Fatal(err)
					}
					resp, err = http.ReadResponse(br, nil)
					if err != nil {
						t.Fatalf("second response on the connection: %v", err)
					}
					b, _ = io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 || string(b) != "inner(sub=false main=)" {
						t.Errorf("second request = %d %q; want 200 inner(sub=false main=)", resp.StatusCode, b)
					}
				})
			}
			log.Check(t)
		})
	})
}
