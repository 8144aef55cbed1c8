package tests

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobridge/gobridge/tests/harness"
)

// echoConf declares the echo, hello and app plugins and the locations the
// content-handler tests use.
func echoConf(e *harness.Env) string {
	return fmt.Sprintf(`
GoBridgePlugin echo %s
GoBridgePlugin hello %s
GoBridgePlugin app %s
GoBridgeTimeout 10
LimitRequestBody 0
<Location /echo>
    GoBridgeHandler echo
    GoBridgeOption greeting hello
    GoBridgeOption colour blue
</Location>
<Location /echo/inner>
    GoBridgeOption colour green
    GoBridgeOption greeting
</Location>
<Location /echo/inner/empty>
    GoBridgeOption Colour ""
</Location>
<Location /echo/short>
    GoBridgeTimeout 1
</Location>
<Location /echo/small>
    GoBridgeMaxMessageSize 1M
</Location>
<Location /hello>
    GoBridgeHandler hello
</Location>
<Location /app/>
    GoBridgeHandler app
</Location>
`, e.Bin("echo"), e.Bin("hello"), e.Bin("app"))
}

func startEcho(t *testing.T, mpm string) *harness.Env {
	e := harness.New(t, build, mpm)
	e.SetConf(echoConf(e))
	e.Start()
	return e
}

func TestContentHandler(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		e := startEcho(t, mpm)
		log := e.ErrorLog()

		t.Run("hello", func(t *testing.T) {
			r := e.AssertGet("/hello", 200, "Hello")
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
				t.Errorf("Content-Type = %q; want text/plain", ct)
			}
			// A response that fits in the plugin's last message goes out
			// with its length, not chunked.
			if cl := r.Header.Get("Content-Length"); cl != strconv.Itoa(len(r.Body)) {
				t.Errorf("Content-Length = %q; want %d (the body's length)", cl, len(r.Body))
			}
			log.Check(t)
		})

		t.Run("status and headers round trip", func(t *testing.T) {
			req, _ := http.NewRequest("GET", e.URL("/echo/headers?status=201&h=X-Test:one&h=X-Multi:a&h=X-Multi:b"), nil)
			req.Header.Set("X-Request-Marker", "marker-42")
			r := harness.Do(t, req)
			if r.Status != 201 {
				t.Errorf("status = %d; want 201 (body %q)", r.Status, r.Body)
			}
			if got := r.Header.Get("X-Test"); got != "one" {
				t.Errorf("X-Test = %q; want one", got)
			}
			if got := r.Header.Values("X-Multi"); strings.Join(got, ",") != "a,b" {
				t.Errorf("X-Multi = %q; want [a b]", got)
			}
			if !strings.Contains(r.Body, "marker-42") {
				t.Errorf("body %q does not echo the request header X-Request-Marker", r.Body)
			}
			log.Check(t)
		})

		t.Run("options are merged per location", func(t *testing.T) {
			for _, tc := range []struct {
				path string
				want map[string]string
			}{
				{"/echo/options", map[string]string{"greeting": "hello", "colour": "blue"}},
				{"/echo/inner/options", map[string]string{"colour": "green"}},
				// An empty value removes the key too, whatever its case.
				{"/echo/inner/empty/options", map[string]string{}},
			} {
				r := e.AssertGet(tc.path, 200, "")
				var pairs []struct{ Key, Value string }
				if err := json.Unmarshal([]byte(r.Body), &pairs); err != nil {
					t.Fatalf("GET %s: body %q is not a JSON list of options: %v", tc.path, r.Body, err)
				}
				got := map[string]string{}
				for _, p := range pairs {
					got[p.Key] = p.Value
				}
				if fmt.Sprint(got) != fmt.Sprint(tc.want) {
					t.Errorf("GET %s: options = %v; want %v", tc.path, got, tc.want)
				}
			}
			log.Check(t)
		})

		t.Run("streamed 100 MB POST echoed back", func(t *testing.T) {
			const size = 100 << 20
			sent := sha256.New()
			body := io.TeeReader(io.LimitReader(newPattern(), size), sent)
			req, _ := http.NewRequest("POST", e.URL("/echo/echo"), body)
			req.ContentLength = size
			resp, err := harness.Client.Do(req)
			if err != nil {
				t.Fatalf("POST /echo/echo: %v", err)
			}
			defer resp.Body.Close()
			got := sha256.New()
			n, err := io.Copy(got, resp.Body)
			if err != nil {
				t.Fatalf("reading echoed body after %d bytes: %v", n, err)
			}
			if resp.StatusCode != 200 || n != size {
				t.Fatalf("POST /echo/echo = %d with %d bytes; want 200 with %d", resp.StatusCode, n, size)
			}
			if a, b := hex.EncodeToString(sent.Sum(nil)), hex.EncodeToString(got.Sum(nil)); a != b {
				t.Errorf("echoed sha256 = %s; want %s", b, a)
			}
			// Streamed, not held: no process ever had the body in memory.
			checkPeakRSS(t, append(e.ProcessesOf("echo"), e.HTTPDChildren()...), 64<<20, "streaming 100 MiB")
			log.Check(t)
		})

		t.Run("chunked upload of unknown length", func(t *testing.T) {
			const size = 3<<20 + 17
			sum := sha256.Sum256(mustRead(io.LimitReader(newPattern(), size)))
			req, _ := http.NewRequest("POST", e.URL("/echo/sha256"), io.NopCloser(io.LimitReader(newPattern(), size)))
			req.ContentLength = -1 // forces Transfer-Encoding: chunked
			r := harness.Do(t, req)
			var got struct {
				Bytes  int64  `json:"bytes"`
				SHA256 string `json:"sha256"`
			}
			if err := json.Unmarshal([]byte(r.Body), &got); r.Status != 200 || err != nil {
				t.Fatalf("POST /echo/sha256 = %d %q; want 200 with JSON", r.Status, r.Body)
			}
			if want := hex.EncodeToString(sum[:]); got.SHA256 != want || got.Bytes != size {
				t.Errorf("POST /echo/sha256 saw %d bytes with sha256 %s; want %d bytes, %s", got.Bytes, got.SHA256, size, want)
			}
			log.Check(t)
		})

		t.Run("one plugin process serves every child", func(t *testing.T) {
			pids := map[string]int{}
			var mu sync.Mutex
			var wg sync.WaitGroup
			for w := 0; w < 8; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					// A fresh transport per worker: separate connections land
					// on different httpd children.
					c := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{}}
					for i := 0; i < 25; i++ {
						resp, err := c.Get(e.URL("/echo/pid"))
						if err != nil {
							t.Errorf("GET /echo/pid: %v", err)
							return
						}
						b, _ := io.ReadAll(resp.Body)
						resp.Body.Close()
						mu.Lock()
						pids[strings.TrimSpace(string(b))]++
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			if len(pids) != 1 {
				t.Errorf("plugin pids seen = %v; want exactly one", pids)
			}
			if p := e.ProcessesOf("echo"); len(p) != 1 {
				t.Errorf("echo plugin processes = %v; want exactly one", p)
			}
			log.Check(t)
		})

		t.Run("plugin that never answers gives 504 at GoBridgeTimeout", func(t *testing.T) {
			// The plugin waits at a gate the test never releases, so only
			// the module's GoBridgeTimeout (1s here) can end the call: the
			// 504 itself is the event. It cannot come sooner than the
			// timeout (a lower bound, which load cannot break), and the
			// plugin's context must end with it (the gate sees its wait
			// abandoned): Apache gave up, the plugin is told.
			g := e.Gates()
			name := "hang-" + mpm
			start := time.Now()
			e.AssertGet("/echo/short/gate?url="+url.QueryEscape(g.URL(name)), 504, "")
			if d := time.Since(start); d < time.Second {
				t.Errorf("504 after %v; want it no sooner than GoBridgeTimeout (1s)", d)
			}
			// The plugin is at its gate unless the call reached it only
			// after the timeout (a machine stalled for a second), when its
			// context was over before it could wait: either way no wait
			// may outlive the call.
			if !harness.WaitFor(30*time.Second, func() bool { return g.Abandoned(name) == g.Count(name) }) {
				t.Errorf("the plugin's context did not end with the timeout: %d waits at its gate, %d abandoned", g.Count(name), g.Abandoned(name))
			}
			if g.Count(name) > 1 {
				t.Errorf("the plugin reached its gate %d times; want one call", g.Count(name))
			}
			e.AssertGet("/echo/pid", 200, "")
			log.Check(t, "GoBridgeTimeout", "timed out", "timeout")
		})

		t.Run("invalid plugin answers never reach the client", func(t *testing.T) {
			for _, kind := range []string{"crlf", "nul", "name", "status", "1xx", "big", "badenum", "unspecified", "notetable", "notevalue"} {
				r := e.AssertGet("/echo/small/badheader?kind="+kind, 500, "")
				for k, vs := range r.Header {
					for _, v := range vs {
						if strings.Contains(k, "Injected") || strings.Contains(v, "Injected") || k == "Bad Name" || strings.ContainsRune(v, 0) {
							t.Errorf("kind=%s: response carries the plugin's invalid header: %q: %q", kind, k, v)
						}
					}
				}
				if strings.Contains(r.Body, "must not reach") {
					t.Errorf("kind=%s: the plugin's body reached the client", kind)
				}
			}
			if !log.Contains("GB0030") || !log.Contains("echo") {
				t.Errorf("error log has no protocol-error line naming the plugin:\n%s", log.Since())
			}
			log.Check(t, "GB0030", "GB0039", "GB0107", "GB0105")
		})

		t.Run("a second head after body aborts the response", func(t *testing.T) {
			resp, err := harness.Client.Get(e.URL("/echo/badheader?kind=headafterbody"))
			if err == nil {
				b, rerr := io.ReadAll(resp.Body)
				resp.Body.Close()
				if rerr == nil && strings.Contains(string(b), "must not reach") {
					t.Errorf("the response after the second head reached the client: %q", b)
				}
				if rerr == nil {
					t.Errorf("the response was not cut off: got a complete %d %q", resp.StatusCode, b)
				}
			}
			log.Check(t, "GB0030")
		})

		t.Run("hop-by-hop headers from the plugin are dropped", func(t *testing.T) {
			r := e.AssertGet("/echo/badheader?kind=hop", 200, "")
			if r.Header.Get("X-Hop-Test") != "kept" {
				t.Errorf("X-Hop-Test = %q; want kept", r.Header.Get("X-Hop-Test"))
			}
			if len(r.Header.Values("Transfer-Encoding")) > 0 {
				t.Errorf("Transfer-Encoding from the plugin reached the client: %q", r.Header.Values("Transfer-Encoding"))
			}
			log.Check(t, "hop-by-hop", "Connection", "Transfer-Encoding")
		})

		t.Run("plugin log lines reach the error log", func(t *testing.T) {
			e.AssertGet("/echo/log?marker=zebra-7781", 200, "")
			if !harness.WaitFor(5*time.Second, func() bool { return log.Contains("zebra-7781") }) {
				t.Errorf("plugin log line with marker not in error log:\n%s", log.Since())
			}
			log.Check(t, "zebra-7781")
		})

		t.Run("net/http app", func(t *testing.T) {
			e.AssertGet("/app/", 200, "")
			form := url.Values{"name": {"teapot"}}
			resp, err := harness.Client.PostForm(e.URL("/app/api/items"), form)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode/100 != 2 || !strings.Contains(string(b), "teapot") {
				t.Errorf("POST /app/api/items = %d %q; want 2xx mentioning teapot", resp.StatusCode, b)
			}
			e.AssertGet("/app/api/items", 200, "teapot")
			e.AssertGet("/app/no/such/route", 404, "")
			log.Check(t)
		})
	})
}

// newPattern returns an endless deterministic byte stream that does not
// compress to nothing and is not all one byte.
func newPattern() io.Reader { return &pattern{} }

type pattern struct{ n uint64 }

func (p *pattern) Read(b []byte) (int, error) {
	for i := range b {
		p.n++
		b[i] = byte(p.n*2654435761>>13) ^ byte(p.n)
	}
	return len(b), nil
}

// checkPeakRSS fails t for every process in pids whose peak resident set
// since it started went over limit while it did what doing says: a body
// must stream through, never be held whole.
func checkPeakRSS(t *testing.T, pids []int, limit int64, doing string) {
	t.Helper()
	for _, pid := range pids {
		if peak, err := harness.PeakRSS(pid); err != nil {
			t.Errorf("peak RSS of %d: %v", pid, err)
		} else if peak > limit {
			t.Errorf("process %d peaked at %d MiB resident while %s; want < %d MiB", pid, peak>>20, doing, limit>>20)
		}
	}
}

func mustRead(r io.Reader) []byte {
	b, err := io.ReadAll(r)
	if err != nil {
		panic(err)
	}
	return b
}
