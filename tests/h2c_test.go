package tests

import (
	"compress/gzip"
	"context"
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

// The h2c front: the content handler behind mod_http2, where every request
// is a stream of one HTTP/2 connection, processed on a secondary connection
// of its own (c2), its body coming through mod_http2's flow control.
//
// Under event only. Under prefork mod_http2 warns that it is not supported
// (AH10034) and serves HTTP/2 all the same, and these tests pass there, but
// Debian's httpd 2.4 crashes a prefork child in mod_http2's pool cleanup
// when it is stopped with an HTTP/2 connection open (SIGSEGV from
// prefork's signal handler: clean_child_exit, apr_pool_destroy, mod_http2),
// with or without mod_gobridge loaded. The harness fails any test whose
// child crashes, rightly; gobridge is not tested on a combination httpd
// itself does not support.

// h2cConf is the content-handler configuration plus what the h2c tests
// read: the connection notes (the phases plugin counts visits, the state
// plugin shows them), the status page (calls in flight) and a gzip output
// filter in front of a handler that flushes.
func h2cConf(e *harness.Env) string {
	return echoConf(e) + fmt.Sprintf(`
GoBridgePlugin phases %[1]s
GoBridgePlugin state %[2]s
<Location /obj>
    GoBridgeHandler state
    GoBridgeFixupHandler phases
</Location>
<Location /gobridge-status>
    SetHandler gobridge-status
</Location>
<Location /echo/long>
    # Longer than any test waits: a call here ends by its client or its
    # plugin, never by the timeout.
    GoBridgeTimeout 600
</Location>
GoBridgePlugin filter %[3]s
GoBridgePlugin filter2 %[3]s
<Location /gz/>
    GoBridgeHandler filter2
    GoBridgeOutputFilter filter
    GoBridgeOption mode gzip
</Location>
`, e.Bin("phases"), e.Bin("state"), e.Bin("filter"))
}

func startH2C(t *testing.T) *harness.Env {
	e := harness.New(t, build, "event")
	e.EnableH2C()
	e.SetConf(h2cConf(e))
	e.Start()
	return e
}

// h2Do sends req on the instance's HTTP/2 connection and checks that it
// went as HTTP/2.
func h2Do(t *testing.T, e *harness.Env, req *http.Request) *harness.Response {
	t.Helper()
	r := harness.DoWith(t, e.H2Client(), req)
	if r.Proto != "HTTP/2.0" {
		t.Fatalf("%s %s went as %s; want HTTP/2.0", req.Method, req.URL, r.Proto)
	}
	return r
}

func h2Get(t *testing.T, e *harness.Env, path string) *harness.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", e.URL(path), nil)
	return h2Do(t, e, req)
}

// echoInFlight is the number of the echo plugin's handler calls in flight
// in all of httpd's children (the status page).
func echoInFlight(t *testing.T, e *harness.Env) uint64 {
	s := getStatusJSON(t, e)
	return s.Plugins[s.plugin(t, "echo")].Calls["handler"].InFlight
}

// h2Dials opens the instance's HTTP/2 connection if it is not open yet and
// returns how many connections the client has opened: the count a test
// compares with afterwards to tell that its streams shared the connection.
func h2Dials(t *testing.T, e *harness.Env) int64 {
	t.Helper()
	if r := h2Get(t, e, "/echo/pid"); r.Status != 200 {
		t.Fatalf("GET /echo/pid = %d; want 200", r.Status)
	}
	return e.H2Dials()
}

// afterReset checks what must hold once the client reset a stream: the
// module closed the call (nothing in flight), and the next request on the
// same HTTP/2 connection is served.
func afterReset(t *testing.T, e *harness.Env, dials int64) {
	t.Helper()
	if !harness.WaitFor(30*time.Second, func() bool { return echoInFlight(t, e) == 0 }) {
		t.Errorf("echo handler calls in flight after the reset = %d; want 0", echoInFlight(t, e))
	}
	if r := h2Get(t, e, "/echo/pid"); r.Status != 200 {
		t.Errorf("next request on the connection = %d; want 200", r.Status)
	}
	if d := e.H2Dials(); d != dials {
		t.Errorf("the client opened %d connections; want %d: the reset stream took its connection down", d, dials)
	}
}

func TestH2c(t *testing.T) {
	e := startH2C(t)
	log := e.ErrorLog()

	t.Run("content handler over HTTP/2", func(t *testing.T) {
		r := h2Get(t, e, "/hello")
		if r.Status != 200 || !strings.Contains(r.Body, "Hello") {
			t.Errorf("GET /hello = %d %q; want 200 Hello", r.Status, r.Body)
		}
		req, _ := http.NewRequest("GET", e.URL("/echo/headers?status=201&h=X-Test:one&h=X-Multi:a&h=X-Multi:b"), nil)
		req.Header.Set("X-Request-Marker", "marker-42")
		r = h2Do(t, e, req)
		if r.Status != 201 || r.Header.Get("X-Test") != "one" || strings.Join(r.Header.Values("X-Multi"), ",") != "a,b" {
			t.Errorf("headers round trip = %d, X-Test %q, X-Multi %q; want 201, one, [a b]", r.Status, r.Header.Get("X-Test"), r.Header.Values("X-Multi"))
		}
		if !strings.Contains(r.Body, "marker-42") {
			t.Errorf("body %q does not echo the request header X-Request-Marker", r.Body)
		}
		var snap struct {
			Protocol   string `json:"protocol"`
			TheRequest string `json:"the_request"`
			Env        []struct {
				Key, Value string
			} `json:"subprocess_env"`
		}
		r = h2Get(t, e, "/echo/snapshot")
		if err := json.Unmarshal([]byte(r.Body), &snap); err != nil {
			t.Fatalf("snapshot %q: %v", r.Body, err)
		}
		if snap.Protocol != "HTTP/2.0" || snap.TheRequest != "GET /echo/snapshot HTTP/2.0" {
			t.Errorf("the plugin saw protocol %q, request line %q; want HTTP/2.0", snap.Protocol, snap.TheRequest)
		}
		http2 := ""
		for _, p := range snap.Env {
			if p.Key == "HTTP2" {
				http2 = p.Value
			}
		}
		if http2 != "on" {
			t.Errorf("subprocess_env HTTP2 = %q; want on (mod_http2's variable)", http2)
		}
		log.Check(t)
	})

	t.Run("streamed 100 MiB POST echoed back", func(t *testing.T) {
		// Both directions at once through HTTP/2 flow control: the plugin
		// sends the body back while the client is still sending it, and
		// no process holds the body (flow control pushes back on each
		// side instead).
		const size = 100 << 20
		sent := sha256.New()
		req, _ := http.NewRequest("POST", e.URL("/echo/echo"), io.TeeReader(io.LimitReader(newPattern(), size), sent))
		req.ContentLength = size
		resp, err := e.H2Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got := sha256.New()
		n, err := io.Copy(got, resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || n != size {
			t.Fatalf("POST /echo/echo = %d with %d bytes, %v; want 200 with %d", resp.StatusCode, n, err, size)
		}
		if a, b := hex.EncodeToString(sent.Sum(nil)), hex.EncodeToString(got.Sum(nil)); a != b {
			t.Errorf("echoed sha256 = %s; want %s", b, a)
		}
		checkPeakRSS(t, append(e.ProcessesOf("echo"), e.HTTPDChildren()...), 64<<20, "streaming 100 MiB over HTTP/2")
		log.Check(t)
	})

	t.Run("upload without a length", func(t *testing.T) {
		// HTTP/2 has no chunked encoding: a body of unknown length is DATA
		// frames until END_STREAM, which httpd reads as a chunked body.
		const size = 3<<20 + 17
		sum := sha256.Sum256(mustRead(io.LimitReader(newPattern(), size)))
		req, _ := http.NewRequest("POST", e.URL("/echo/sha256"), io.NopCloser(io.LimitReader(newPattern(), size)))
		req.ContentLength = -1
		r := h2Do(t, e, req)
		var got struct {
			Bytes  int64  `json:"bytes"`
			SHA256 string `json:"sha256"`
		}
		if err := json.Unmarshal([]byte(r.Body), &got); r.Status != 200 || err != nil {
			t.Fatalf("POST /echo/sha256 = %d %q; want 200 with JSON", r.Status, r.Body)
		}
		if want := hex.EncodeToString(sum[:]); got.SHA256 != want || got.Bytes != size {
			t.Errorf("the plugin saw %d bytes with sha256 %s; want %d, %s", got.Bytes, got.SHA256, size, want)
		}
		log.Check(t)
	})

	t.Run("64 MiB download", func(t *testing.T) {
		const mb = 64
		resp, err := e.H2Client().Get(e.URL(fmt.Sprintf("/echo/download?mb=%d", mb)))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		buf := make([]byte, 64<<10)
		var off int64
		for {
			n, err := resp.Body.Read(buf)
			for i := 0; i < n; i++ {
				if buf[i] != byte((off+int64(i))%251) {
					t.Fatalf("byte %d = %d; want %d", off+int64(i), buf[i], (off+int64(i))%251)
				}
			}
			off += int64(n)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("after %d bytes: %v", off, err)
			}
		}
		if off != mb<<20 || resp.StatusCode != 200 {
			t.Errorf("download = %d with %d bytes; want 200 with %d", resp.StatusCode, off, mb<<20)
		}
		log.Check(t)
	})

	t.Run("concurrent streams on one connection", func(t *testing.T) {
		dials := h2Dials(t, e)
		const streams = 12
		var wg sync.WaitGroup
		pids := make(chan string, streams)
		for i := 0; i < streams; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				size := 1<<20 + i*4099
				body := mustRead(io.LimitReader(newPattern(), int64(size)))
				req, _ := http.NewRequest("POST", e.URL("/echo/sha256"), strings.NewReader(string(body)))
				resp, err := e.H2Client().Do(req)
				if err != nil {
					t.Errorf("stream %d: %v", i, err)
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				sum := sha256.Sum256(body)
				if resp.StatusCode != 200 || !strings.Contains(string(b), hex.EncodeToString(sum[:])) {
					t.Errorf("stream %d: %d %q; want 200 with the body's sha256", i, resp.StatusCode, b)
				}
				resp, err = e.H2Client().Get(e.URL("/echo/pid"))
				if err != nil {
					t.Errorf("stream %d: %v", i, err)
					return
				}
				b, _ = io.ReadAll(resp.Body)
				resp.Body.Close()
				pids <- strings.TrimSpace(string(b))
			}(i)
		}
		wg.Wait()
		close(pids)
		seen := map[string]bool{}
		for p := range pids {
			seen[p] = true
		}
		if len(seen) != 1 {
			t.Errorf("plugin pids seen = %v; want one process serving every stream", seen)
		}
		if d := e.H2Dials(); d != dials {
			t.Errorf("the client opened %d more connections; want all streams on one", d-dials)
		}
		log.Check(t)
	})

	t.Run("flush through an output filter on a stream", func(t *testing.T) {
		// The handler flushes "part one;" and waits at a gate that the
		// test releases once it has read that part, gunzipped, from the
		// stream: the flush went through the gzip filter and mod_http2's
		// output while the handler held the rest.
		g := e.Gates()
		req, _ := http.NewRequest("GET", e.URL("/gz/stream?gate="+url.QueryEscape(g.URL("h2flush"))), nil)
		req.Header.Set("Accept-Encoding", "gzip") // set by hand: the transport leaves the body compressed
		resp, err := e.H2Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.Header.Get("Content-Encoding") != "gzip" || resp.ProtoMajor != 2 {
			t.Fatalf("%s response with Content-Encoding %q; want HTTP/2 and gzip", resp.Proto, resp.Header.Get("Content-Encoding"))
		}
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			t.Fatalf("gzip header: %v", err)
		}
		first := make([]byte, len("part one;"))
		if _, err := io.ReadFull(zr, first); err != nil || string(first) != "part one;" {
			t.Fatalf("first part = %q, %v", first, err)
		}
		g.Release("h2flush")
		if rest, err := io.ReadAll(zr); err != nil || string(rest) != "part two" {
			t.Errorf("rest = %q, %v; want %q", rest, err, "part two")
		}
		log.Check(t)
	})

	t.Run("connection notes are per stream", func(t *testing.T) {
		// mod_http2 runs each stream on a secondary connection of its
		// own, made with empty notes: what a phase leaves in ConnNotes
		// lasts for that stream (its request, internal redirects and
		// sub-requests), not for the next stream of the same HTTP/2
		// connection, as it would for the next request of an HTTP/1.1
		// keep-alive connection (TestRequestObject). Keepalives is always
		// 1 there, and ConnID is the secondary connection's, which
		// mod_http2 derives from the connection and the worker that runs
		// the stream: not the TCP connection's, and it may repeat.
		dials := h2Dials(t, e)
		for i := 1; i <= 3; i++ {
			req, _ := http.NewRequest("GET", e.URL("/obj"), nil)
			req.Header.Set("X-Gb-phases-fixups", "cnotecount=visits")
			r := h2Do(t, e, req)
			if got := kv(r.Body)["connnotes"]; got != "visits:1" {
				t.Errorf("stream %d: conn notes %q; want visits:1 (a fresh secondary connection)", i, got)
			}
			var snap struct {
				ConnID     int64  `json:"conn_id"`
				Keepalives int    `json:"keepalives"`
				Remote     string `json:"remote_addr"`
			}
			r = h2Get(t, e, "/echo/snapshot")
			if err := json.Unmarshal([]byte(r.Body), &snap); err != nil {
				t.Fatalf("snapshot %q: %v", r.Body, err)
			}
			t.Logf("stream %d: ConnID %d", i, snap.ConnID)
			if snap.Keepalives != 1 {
				t.Errorf("stream's Keepalives = %d; want 1 (mod_http2 sets it on every secondary connection)", snap.Keepalives)
			}
		}
		if d := e.H2Dials(); d != dials {
			t.Errorf("the client opened %d more connections; want every stream on one", d-dials)
		}
		log.Check(t)
	})

	t.Run("client resets a stream while the plugin works", func(t *testing.T) {
		// The plugin holds the call at a gate after flushing a line; the
		// client reads that line, then resets the stream (RST_STREAM,
		// through the request's context). The plugin's context must end
		// with the reset (its wait at the gate is abandoned), not at the
		// GoBridgeTimeout, which is 600s here: mod_http2 marks the
		// stream's connection aborted, and the module, waiting for the
		// plugin, looks for that (GB0470).
		g := e.Gates()
		dials := h2Dials(t, e)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", e.URL("/echo/long/gate?flush=1&url="+url.QueryEscape(g.URL("reset"))), nil)
		resp, err := e.H2Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		line := make([]byte, len("waiting\n"))
		if _, err := io.ReadFull(resp.Body, line); err != nil || string(line) != "waiting\n" {
			t.Fatalf("first line = %q, %v; want waiting", line, err)
		}
		harness.Await(t, g.Arrived("reset"), 30*time.Second, "the plugin reaching its gate")
		cancel()
		resp.Body.Close()
		if !harness.WaitFor(60*time.Second, func() bool { return g.Abandoned("reset") == 1 }) {
			t.Fatalf("the plugin's context did not end when the client reset the stream")
		}
		afterReset(t, e, dials)
		log.Check(t)
	})

	t.Run("client resets a stream mid-upload", func(t *testing.T) {
		// The plugin streams the body back; once the client has some of
		// it back (the plugin is mid-body), it resets the stream with the
		// upload unfinished.
		dials := h2Dials(t, e)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		pr, pw := io.Pipe()
		go func() {
			_, err := io.Copy(pw, io.LimitReader(newPattern(), 1<<30))
			pw.CloseWithError(err)
		}()
		req, _ := http.NewRequestWithContext(ctx, "POST", e.URL("/echo/echo"), pr)
		req.ContentLength = -1
		resp, err := e.H2Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(resp.Body, make([]byte, 1<<20)); err != nil {
			t.Fatalf("reading the first MiB echoed back: %v", err)
		}
		cancel()
		resp.Body.Close()
		pr.CloseWithError(context.Canceled)
		afterReset(t, e, dials)
		log.Check(t)
	})

	t.Run("client resets a stream mid-download", func(t *testing.T) {
		dials := h2Dials(t, e)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", e.URL("/echo/download?mb=1024"), nil)
		resp, err := e.H2Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(resp.Body, make([]byte, 4<<20)); err != nil {
			t.Fatalf("reading the first 4 MiB: %v", err)
		}
		cancel()
		resp.Body.Close()
		afterReset(t, e, dials)
		log.Check(t)
	})

	t.Run("a stream's timeout leaves the connection serving", func(t *testing.T) {
		dials := h2Dials(t, e)
		if r := h2Get(t, e, "/echo/short/hang"); r.Status != 504 {
			t.Errorf("GET /echo/short/hang = %d; want 504", r.Status)
		}
		if r := h2Get(t, e, "/echo/pid"); r.Status != 200 {
			t.Errorf("next request = %d; want 200", r.Status)
		} else if _, err := strconv.Atoi(strings.TrimSpace(r.Body)); err != nil {
			t.Errorf("next request body %q is not a pid", r.Body)
		}
		if d := e.H2Dials(); d != dials {
			t.Errorf("the client opened %d more connections; want the 504 to leave the connection alone", d-dials)
		}
		log.Check(t, "GoBridgeTimeout", "timed out", "timeout", "hang ended")
	})
}
