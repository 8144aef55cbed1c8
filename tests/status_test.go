package tests

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/gobridge/gobridge/tests/harness"
)

// statusConf declares a content handler (echo), a fixup phase (phases), a
// plugin that never starts (broken), and the status page twice: open to
// the loopback client, and closed to it.
func statusConf(e *harness.Env, extra string) string {
	return fmt.Sprintf(`
LoadModule authz_host_module %[1]s/mod_authz_host.so
LoadModule authz_user_module %[1]s/mod_authz_user.so
LoadModule authn_core_module %[1]s/mod_authn_core.so
LoadModule auth_basic_module %[1]s/mod_auth_basic.so
GoBridgePlugin echo %[2]s
GoBridgePlugin phases %[3]s
GoBridgePlugin broken %[4]s
GoBridgePlugin authstub %[6]s
GoBridgePlugin filter %[7]s
%[5]s
<Location /authn>
    AuthType Basic
    AuthName "status test"
    AuthBasicProvider gobridge
    GoBridgeAuthnProvider authstub
    GoBridgeOption stub.authn granted
    Require valid-user
</Location>
<Location /authz>
    GoBridgeOption stub.authz granted
    Require gobridge authstub anything
</Location>
<Location /flt>
    GoBridgeOutputFilter filter
    GoBridgeOption mode copy
</Location>
<Location /echo>
    GoBridgeHandler echo
</Location>
<Location /echo/short>
    GoBridgeTimeout 1
</Location>
<Location /fx>
    GoBridgeFixupHandler phases
    GoBridgeOption phases.fixups ok
</Location>
<Location /broken>
    GoBridgeHandler broken
</Location>
<Location /gobridge-status>
    SetHandler gobridge-status
    Require ip 127.0.0.1
</Location>
<Location /status-closed>
    SetHandler gobridge-status
    Require ip 127.0.0.2
</Location>
`, build.Modules, e.Bin("echo"), e.Bin("phases"), e.Bin("broken"), extra, e.Bin("authstub"), e.Bin("filter"))
}

func startStatus(t *testing.T, mpm string) *harness.Env {
	e := harness.New(t, build, mpm)
	broken := filepath.Join(e.Root, "bin", "broken")
	if err := os.WriteFile(broken, []byte("#!/bin/sh\necho 'broken plugin: cannot start' >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"fx", "authn", "authz", "flt"} {
		if err := os.MkdirAll(filepath.Join(e.Root, "htdocs", d), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(e.Root, "htdocs", d, "a.txt"), []byte("fixed up\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	e.SetConf(statusConf(e, ""))
	e.Start()
	return e
}

// statusJSON is the part of ?json the tests read.
type statusJSON struct {
	Version       string  `json:"version"`
	ChildPID      int     `json:"child_pid"`
	CountersSince float64 `json:"counters_since"`
	Gobridged     *struct {
		PID int `json:"pid"`
	} `json:"gobridged"`
	Plugins []struct {
		Name     string   `json:"name"`
		State    string   `json:"state"`
		PID      int      `json:"pid"`
		Started  *float64 `json:"started"`
		Restarts int      `json:"restarts"`
		LastExit *struct {
			Reason string `json:"reason"`
			Detail string `json:"detail"`
		} `json:"last_exit"`
		ChildConnections struct {
			Open int `json:"open"`
			Idle int `json:"idle"`
		} `json:"child_connections"`
		Calls map[string]struct {
			Total    uint64            `json:"total"`
			InFlight uint64            `json:"in_flight"`
			Ended    uint64            `json:"ended"`
			Errors   map[string]uint64 `json:"errors"`
			Latency  struct {
				Sum float64  `json:"sum"`
				P50 *float64 `json:"p50"`
				P99 *float64 `json:"p99"`
			} `json:"latency_seconds"`
		} `json:"calls"`
	} `json:"plugins"`
}

func getStatusJSON(t *testing.T, e *harness.Env) statusJSON {
	t.Helper()
	r := e.AssertGet("/gobridge-status?json", 200, "")
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("?json Content-Type = %q; want application/json", ct)
	}
	var s statusJSON
	if err := json.Unmarshal([]byte(r.Body), &s); err != nil {
		t.Fatalf("?json: %v\n%s", err, r.Body)
	}
	return s
}

// plugin returns the entry of name; it fails the test if there is none.
func (s statusJSON) plugin(t *testing.T, name string) int {
	t.Helper()
	for i, p := range s.Plugins {
		if p.Name == name {
			return i
		}
	}
	t.Fatalf("status has no plugin %q: %+v", name, s.Plugins)
	return -1
}

func (s statusJSON) has(name string) bool {
	for _, p := range s.Plugins {
		if p.Name == name {
			return true
		}
	}
	return false
}

func (s statusJSON) calls(t *testing.T, name, kind string) uint64 {
	t.Helper()
	return s.Plugins[s.plugin(t, name)].Calls[kind].Total
}

// getStatusAuto fetches ?auto as a map of its "Key: value" lines.
func getStatusAuto(t *testing.T, e *harness.Env) map[string]string {
	t.Helper()
	r := e.AssertGet("/gobridge-status?auto", 200, "")
	out := make(map[string]string)
	sc := bufio.NewScanner(strings.NewReader(r.Body))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ": ")
		if !ok {
			t.Errorf("?auto line %q is not 'Key: value'", sc.Text())
			continue
		}
		if _, dup := out[k]; dup {
			t.Errorf("?auto repeats key %q", k)
		}
		out[k] = v
	}
	return out
}

func autoInt(t *testing.T, m map[string]string, key string) uint64 {
	t.Helper()
	v, ok := m[key]
	if !ok {
		return 0 // kinds without calls are left out
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		t.Fatalf("?auto %s: %q is not a count", key, v)
	}
	return n
}

// getMetrics fetches ?metrics and parses it with Prometheus' own parser.
func getMetrics(t *testing.T, e *harness.Env) map[string]*dto.MetricFamily {
	t.Helper()
	r := e.AssertGet("/gobridge-status?metrics", 200, "")
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("?metrics Content-Type = %q; want text/plain; version=0.0.4", ct)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(r.Body))
	if err != nil {
		t.Fatalf("?metrics does not parse: %v\n%s", err, r.Body)
	}
	return fams
}

// metric finds the series of family name with exactly these labels.
func metric(fams map[string]*dto.MetricFamily, name string, labels map[string]string) *dto.Metric {
	f := fams[name]
	if f == nil {
		return nil
	}
next:
	for _, m := range f.GetMetric() {
		if len(m.GetLabel()) != len(labels) {
			continue
		}
		for _, l := range m.GetLabel() {
			if labels[l.GetName()] != l.GetValue() {
				continue next
			}
		}
		return m
	}
	return nil
}

func counter(fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	if m := metric(fams, name, labels); m != nil {
		return m.GetCounter().GetValue()
	}
	return 0
}

func TestStatusPage(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		e := startStatus(t, mpm)
		echoPID, st := getPID(t, e)
		if st != 200 {
			t.Fatalf("GET /echo/pid = %d; want 200", st)
		}
		// gobridged has tried the broken plugin once by the time httpd
		// serves (Start waits for every first attempt).
		var before statusJSON
		if !harness.WaitFor(10*time.Second, func() bool {
			before = getStatusJSON(t, e)
			b := before.Plugins[before.plugin(t, "broken")]
			return b.LastExit != nil
		}) {
			t.Fatalf("the broken plugin's failed start never showed: %+v", before.Plugins)
		}

		t.Run("json", func(t *testing.T) {
			s := before
			if s.Gobridged == nil || s.Gobridged.PID == 0 {
				t.Errorf("gobridged = %+v; want its pid", s.Gobridged)
			}
			echo := s.Plugins[s.plugin(t, "echo")]
			if echo.State != "running" || echo.PID != echoPID || echo.Started == nil {
				t.Errorf("echo = state %q pid %d started %v; want running, pid %d (what the plugin says), a start time",
					echo.State, echo.PID, echo.Started, echoPID)
			}
			if echo.ChildConnections.Idle > echo.ChildConnections.Open {
				t.Errorf("echo child connections = %+v; idle cannot exceed open", echo.ChildConnections)
			}
			b := s.Plugins[s.plugin(t, "broken")]
			if b.State == "running" || b.PID != 0 || b.LastExit.Reason != "start_failed" {
				t.Errorf("broken = state %q pid %d last exit %+v; want not running, no pid, start_failed",
					b.State, b.PID, b.LastExit)
			}
		})

		const n = 7
		for i := 0; i < n; i++ {
			e.AssertGet("/echo/pid", 200, "")
			e.AssertGet("/fx/a.txt", 200, "fixed up")
			e.AssertGet("/broken/x", 503, "")
			e.AssertGet("/authz/a.txt", 200, "fixed up")
			e.AssertGet("/flt/a.txt", 200, "fixed up")
			req, _ := http.NewRequest("GET", e.URL("/authn/a.txt"), nil)
			req.SetBasicAuth("ann", "secret")
			if r := harness.Do(t, req); r.Status != 200 {
				t.Errorf("GET /authn/a.txt as ann = %d; want 200", r.Status)
			}
		}
		after := getStatusJSON(t, e)

		t.Run("counts", func(t *testing.T) {
			for _, c := range []struct{ plugin, kind string }{
				{"echo", "handler"}, {"phases", "fixups"}, {"broken", "handler"},
				{"authstub", "authn_provider"}, {"authstub", "authz_provider"},
				{"filter", "output_filter"},
			} {
				if d := after.calls(t, c.plugin, c.kind) - before.calls(t, c.plugin, c.kind); d != n {
					t.Errorf("%s %s calls grew by %d; want %d", c.plugin, c.kind, d, n)
				}
			}
			echo := after.Plugins[after.plugin(t, "echo")].Calls["handler"]
			if echo.InFlight != 0 || echo.Ended != echo.Total || echo.Latency.P50 == nil || *echo.Latency.P50 <= 0 {
				t.Errorf("echo handler = %+v; want nothing in flight, all ended, a median latency", echo)
			}
			for _, r := range []string{"down", "timeout", "broken"} {
				if echo.Errors[r] != 0 {
					t.Errorf("echo handler errors[%s] = %d; want 0", r, echo.Errors[r])
				}
			}
			b := after.Plugins[after.plugin(t, "broken")].Calls["handler"]
			bb := before.Plugins[before.plugin(t, "broken")].Calls["handler"]
			if d := b.Errors["down"] - bb.Errors["down"]; d != n {
				t.Errorf("broken handler down errors grew by %d; want %d", d, n)
			}
		})

		t.Run("auto", func(t *testing.T) {
			a := getStatusAuto(t, e)
			if a["Plugin.echo.Pid"] != strconv.Itoa(echoPID) || a["Plugin.echo.State"] != "running" {
				t.Errorf("?auto echo pid/state = %q/%q; want %d/running", a["Plugin.echo.Pid"], a["Plugin.echo.State"], echoPID)
			}
			if a["GobridgedUp"] != "1" || a["Plugins"] != "5" {
				t.Errorf("?auto GobridgedUp/Plugins = %q/%q; want 1/5", a["GobridgedUp"], a["Plugins"])
			}
			if got, want := autoInt(t, a, "Plugin.echo.Calls.handler"), after.calls(t, "echo", "handler"); got != want {
				t.Errorf("?auto Plugin.echo.Calls.handler = %d; want %d as in ?json", got, want)
			}
			if got, want := autoInt(t, a, "Plugin.phases.Calls.fixups"), after.calls(t, "phases", "fixups"); got != want {
				t.Errorf("?auto Plugin.phases.Calls.fixups = %d; want %d", got, want)
			}
			if got := autoInt(t, a, "Plugin.broken.Errors.handler.down"); got < n {
				t.Errorf("?auto Plugin.broken.Errors.handler.down = %d; want at least %d", got, n)
			}
		})

		t.Run("metrics", func(t *testing.T) {
			f := getMetrics(t, e)
			echoH := map[string]string{"plugin": "echo", "kind": "handler"}
			if got, want := counter(f, "gobridge_calls_total", echoH), float64(after.calls(t, "echo", "handler")); got != want {
				t.Errorf("gobridge_calls_total{echo,handler} = %v; want %v", got, want)
			}
			if got, want := counter(f, "gobridge_calls_total", map[string]string{"plugin": "phases", "kind": "fixups"}),
				float64(after.calls(t, "phases", "fixups")); got != want {
				t.Errorf("gobridge_calls_total{phases,fixups} = %v; want %v", got, want)
			}
			if got := counter(f, "gobridge_call_errors_total", map[string]string{"plugin": "broken", "kind": "handler", "reason": "down"}); got < n {
				t.Errorf("gobridge_call_errors_total{broken,handler,down} = %v; want at least %d", got, n)
			}
			h := metric(f, "gobridge_call_duration_seconds", echoH)
			if h == nil || h.GetHistogram() == nil {
				t.Fatalf("no gobridge_call_duration_seconds histogram for echo's handler")
			}
			if got, want := h.GetHistogram().GetSampleCount(), after.calls(t, "echo", "handler"); got != want {
				t.Errorf("echo handler histogram count = %d; want %d", got, want)
			}
			if r := e.Get("/gobridge-status?metrics").Body; !strings.Contains(r, `le="0.0005"`) || !strings.Contains(r, `le="10"`) {
				t.Errorf("bucket bounds are not written as 0.0005 ... 10:\n%s", r)
			}
			var last uint64
			for _, b := range h.GetHistogram().GetBucket() {
				if b.GetCumulativeCount() < last {
					t.Errorf("bucket le=%v count %d below the previous %d", b.GetUpperBound(), b.GetCumulativeCount(), last)
				}
				last = b.GetCumulativeCount()
			}
			for plugin, want := range map[string]float64{"echo": 1, "phases": 1, "authstub": 1, "filter": 1, "broken": 0} {
				m := metric(f, "gobridge_plugin_up", map[string]string{"plugin": plugin})
				if m == nil || m.GetGauge().GetValue() != want {
					t.Errorf("gobridge_plugin_up{%s} = %v; want %v", plugin, m, want)
				}
			}
			if m := metric(f, "gobridge_plugin_start_time_seconds", map[string]string{"plugin": "echo"}); m == nil || m.GetGauge().GetValue() <= 0 {
				t.Errorf("gobridge_plugin_start_time_seconds{echo} = %v; want a time", m)
			}
		})

		t.Run("html", func(t *testing.T) {
			r := e.AssertGet("/gobridge-status", 200, "gobridge status")
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				t.Errorf("Content-Type = %q; want text/html", ct)
			}
			for _, want := range []string{"<td>echo</td><td>running</td><td>" + strconv.Itoa(echoPID) + "</td>", "<td>fixups</td>", "start_failed"} {
				if !strings.Contains(r.Body, want) {
					t.Errorf("HTML lacks %q", want)
				}
			}
			// Nothing of the plugins' paths or the runtime directory.
			for _, secret := range []string{e.Bin("echo"), filepath.Join(e.Root, "run")} {
				if strings.Contains(r.Body, secret) {
					t.Errorf("HTML shows %q", secret)
				}
			}
		})

		t.Run("in flight", func(t *testing.T) {
			// The call waits at a gate until the status page has shown it
			// in flight: however slow the machine, it is still there.
			g := e.Gates()
			done := make(chan *harness.Response, 1)
			go func() {
				req, _ := http.NewRequest("GET", e.URL("/echo/gate?url="+url.QueryEscape(g.URL("inflight"))), nil)
				resp, err := harness.Client.Do(req)
				if err == nil {
					resp.Body.Close()
					done <- &harness.Response{Status: resp.StatusCode}
					return
				}
				done <- &harness.Response{}
			}()
			inFlight := func() uint64 {
				s := getStatusJSON(t, e)
				return s.Plugins[s.plugin(t, "echo")].Calls["handler"].InFlight
			}
			harness.Await(t, g.Arrived("inflight"), 30*time.Second, "the call reaching the plugin")
			if n := inFlight(); n != 1 {
				t.Errorf("in flight while the plugin holds the call = %d; want 1", n)
			}
			g.Release("inflight")
			if r := <-done; r.Status != 200 {
				t.Errorf("GET /echo/gate = %d; want 200", r.Status)
			}
			// The client may have the whole answer a moment before the
			// call is closed: wait for the close.
			if !harness.WaitFor(10*time.Second, func() bool { return inFlight() == 0 }) {
				t.Errorf("in flight after the call ended = %d; want 0", inFlight())
			}
		})

		t.Run("timeout and broken", func(t *testing.T) {
			e.ErrorLog().Check(t, "broken", "AH01630")
			base := getStatusJSON(t, e).calls(t, "echo", "handler")
			e.AssertGet("/echo/short/hang", 504, "")
			e.AssertGet("/echo/badheader?kind=crlf", 500, "")
			s := getStatusJSON(t, e)
			got := s.Plugins[s.plugin(t, "echo")].Calls["handler"]
			if got.Total != base+2 || got.Errors["timeout"] != 1 || got.Errors["broken"] != 1 || got.Errors["down"] != 0 {
				t.Errorf("echo handler after a 504 and a 500 = %+v; want 2 more calls, 1 timeout, 1 broken", got)
			}
			e.ErrorLog().Check(t, "GoBridgeTimeout", "timed out", "timeout", "hang ended", "GB0030")
		})

		t.Run("plugin killed", func(t *testing.T) {
			if err := syscall.Kill(echoPID, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			var s statusJSON
			if !harness.WaitFor(20*time.Second, func() bool {
				s = getStatusJSON(t, e)
				p := s.Plugins[s.plugin(t, "echo")]
				return p.State == "running" && p.PID != echoPID
			}) {
				t.Fatalf("the restarted echo plugin never showed: %+v", s.Plugins)
			}
			p := s.Plugins[s.plugin(t, "echo")]
			if p.Restarts != 1 || p.LastExit == nil || p.LastExit.Reason != "exited" || p.LastExit.Detail != "signal: killed" {
				t.Errorf("echo after SIGKILL = restarts %d, last exit %+v; want 1, exited with signal: killed", p.Restarts, p.LastExit)
			}
			if pid, st := getPID(t, e); st != 200 || pid != p.PID {
				t.Errorf("GET /echo/pid = %d (%d); want 200 from pid %d, the one on the status page", pid, st, p.PID)
			}
			e.ErrorLog().Check(t, "exited", "restart", "GB00", "GB01", "signal: killed", "plugin echo")
		})

		t.Run("Require denies", func(t *testing.T) {
			e.AssertGet("/status-closed", 403, "")
			e.AssertGet("/status-closed?metrics", 403, "")
		})

		t.Run("graceful restart", func(t *testing.T) {
			// Same plugins: the counters carry on.
			total := after.calls(t, "echo", "handler")
			e.Graceful()
			s := getStatusJSON(t, e)
			if got := s.calls(t, "echo", "handler"); got < total {
				t.Errorf("echo handler calls after a graceful restart = %d; want at least %d (same plugins)", got, total)
			}
			// Another plugin declared: the counters start again.
			e.SetConf(statusConf(e, "GoBridgePlugin extra "+e.Bin("echo")))
			e.Graceful()
			// A keep-alive connection may still reach a child of the old
			// generation: wait for a page of the new one.
			if !harness.WaitFor(10*time.Second, func() bool {
				s = getStatusJSON(t, e)
				return s.has("extra")
			}) {
				t.Fatalf("no status page of the new generation: %+v", s.Plugins)
			}
			if got := s.calls(t, "echo", "handler"); got != 0 {
				t.Errorf("echo handler calls after adding a plugin = %d; want 0 (new counters)", got)
			}
		})

		e.ErrorLog().Check(t, "broken", "AH01630")
	})
}
