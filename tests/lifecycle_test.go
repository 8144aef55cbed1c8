package tests

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gobridge/gobridge/tests/harness"
)

// getPID returns the echo plugin's pid as it reports it, or 0 with the status.
func getPID(t *testing.T, e *harness.Env) (int, int) {
	c := &http.Client{Timeout: 15 * time.Second}
	resp, err := c.Get(e.URL("/echo/pid"))
	if err != nil {
		t.Fatalf("GET /echo/pid: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return 0, resp.StatusCode
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("GET /echo/pid: body %q is not a pid", b)
	}
	return pid, 200
}

func TestPluginKilledIsRestarted(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		e := startEcho(t, mpm)
		before, st := getPID(t, e)
		if st != 200 {
			t.Fatalf("GET /echo/pid = %d; want 200", st)
		}
		if err := syscall.Kill(before, syscall.SIGKILL); err != nil {
			t.Fatalf("kill plugin %d: %v", before, err)
		}
		// Until gobridged has restarted it, requests fail with 503; never
		// a hang, never a crash of httpd. A request that waited for the
		// plugin instead would end at GoBridgeTimeout with 504 (or at
		// getPID's client timeout): the status is the proof, not a clock.
		var after int
		statuses := map[int]int{}
		ok := harness.WaitFor(20*time.Second, func() bool {
			pid, st := getPID(t, e)
			statuses[st]++
			after = pid
			return st == 200
		})
		if !ok {
			t.Fatalf("service did not resume after the plugin was killed; statuses %v", statuses)
		}
		for st := range statuses {
			if st != 200 && st != 503 {
				t.Errorf("status %d while the plugin was down; want 503 or 200", st)
			}
		}
		if after == before {
			t.Errorf("pid after restart = %d; want a new process", after)
		}
		// Logged by gobridged: the exit and the restart.
		e.ErrorLog().Check(t, "exited", "restart", "GB00", "GB01", "signal: killed", "plugin echo")
	})
}

func TestPluginCrashMidRequest(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		e := startEcho(t, mpm)
		r := e.Get("/echo/crash")
		if r.Status < 500 || r.Status > 503 {
			t.Errorf("GET /echo/crash = %d; want a 5xx from httpd", r.Status)
		}
		if !harness.WaitFor(20*time.Second, func() bool { _, st := getPID(t, e); return st == 200 }) {
			t.Fatalf("service did not resume after the plugin crashed")
		}
		e.ErrorLog().Check(t, "exited", "restart", "GB00", "GB01", "exit status", "plugin echo")
	})
}

// A plugin that cannot start at all: every request gets 503 with
// Retry-After, fast, and httpd stays up.
func TestPluginDownGives503(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		e := harness.New(t, build, mpm)
		broken := filepath.Join(e.Root, "bin", "broken")
		if err := os.WriteFile(broken, []byte("#!/bin/sh\necho 'broken plugin: cannot start' >&2\nexit 1\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		// Timeouts far longer than any answer takes: a module that waited
		// for the plugin to come up would answer only when one of them
		// fires, so answering before it is the proof of failing fast, and
		// a loaded machine cannot come near it.
		const waitLimit = 40 * time.Second
		e.SetConf(fmt.Sprintf(`
GoBridgePlugin broken %s
GoBridgeTimeout 40
GoBridgeConnectTimeout 40
<Location /broken>
    GoBridgeHandler broken
</Location>
`, broken))
		e.Start()
		for i := 0; i < 5; i++ {
			start := time.Now()
			r := e.AssertGet("/broken/x", 503, "")
			if r.Header.Get("Retry-After") == "" {
				t.Errorf("503 without Retry-After")
			}
			if d := time.Since(start); d >= waitLimit {
				t.Errorf("503 after %v: the module waited for a timeout (%v) instead of failing at once", d, waitLimit)
			}
		}
		e.ErrorLog().Check(t, "broken")
	})
}

func TestGracefulRestartLosesNoRequest(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		e := startEcho(t, mpm)
		before, _ := getPID(t, e)
		var ok, failed, retried atomic.Int64
		var firstErr atomic.Value
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := 0; w < 6; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{}}
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					req, _ := http.NewRequest("GET", e.URL("/echo/pid"), nil)
					if i%3 == 0 {
						body := func() (io.ReadCloser, error) {
							return io.NopCloser(io.LimitReader(newPattern(), 256<<10)), nil
						}
						req, _ = http.NewRequest("POST", e.URL("/echo/sha256"), nil)
						req.Body, _ = body()
						req.GetBody, req.ContentLength = body, 256<<10
						// A graceful restart closes idle keep-alive
						// connections; a request racing that close was
						// never received, and RFC 9112 §9.3.1 lets the
						// client resend it. Go does so for requests it
						// knows are safe to replay.
						req.Header.Set("Idempotency-Key", fmt.Sprint(w, "-", i))
					}
					resp, err := c.Do(req)
					if err != nil {
						// The event MPM may close a connection it just
						// accepted or kept alive while it restarts
						// (AH03093), before reading a byte of the
						// request; Go retries that itself only on a
						// reused connection. Resend once, as a browser
						// would: a request httpd never read is not lost.
						// A response, any response, is never resent.
						if req.GetBody != nil {
							req.Body, _ = req.GetBody()
						}
						retried.Add(1)
						resp, err = c.Do(req)
					}
					if err == nil {
						_, err = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if err == nil && resp.StatusCode != 200 {
							err = fmt.Errorf("status %d", resp.StatusCode)
						}
					}
					if err != nil {
						failed.Add(1)
						firstErr.CompareAndSwap(nil, fmt.Sprintf("worker %d request %d: %v", w, i, err))
						continue
					}
					ok.Add(1)
				}
			}(w)
		}
		// Each graceful restart happens while requests are flowing: wait
		// for a batch of successes before and after each one, however
		// slow the machine is.
		flowing := func() {
			t.Helper()
			want := ok.Load() + 30
			if !harness.WaitFor(60*time.Second, func() bool { return ok.Load() >= want || failed.Load() > 0 }) {
				t.Errorf("the load stalled: %d requests succeeded, want %d", ok.Load(), want)
			}
		}
		flowing()
		e.Graceful()
		flowing()
		e.Graceful()
		flowing()
		close(stop)
		wg.Wait()
		if failed.Load() > 0 {
			t.Errorf("%d of %d requests failed across graceful restarts; first: %v",
				failed.Load(), failed.Load()+ok.Load(), firstErr.Load())
		}
		if retried.Load() > 0 {
			t.Logf("%d requests were resent after httpd closed their connection unread", retried.Load())
		}
		// A resend must never hide a crash: a child that died mid-request
		// also shows up as a connection closed without an answer.
		if log := e.ErrorLog().Since(); strings.Contains(log, "exit signal") {
			t.Errorf("an httpd child crashed during the graceful restarts:\n%s", log)
		}
		if retried.Load() > ok.Load()/10 {
			t.Errorf("%d of %d requests had to be resent; want only the odd one", retried.Load(), ok.Load())
		}
		if after, _ := getPID(t, e); after != before {
			t.Errorf("plugin pid changed across graceful restart with the same config: %d → %d", before, after)
		}
		e.ErrorLog().Check(t, "AH00493", "AH00494", "AH00489")
	})
}

func TestStopLeavesNoProcess(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		e := startEcho(t, mpm)
		e.AssertGet("/echo/pid", 200, "")
		e.AssertGet("/hello", 200, "")
		if len(e.ProcessesOf("gobridged")) != 1 {
			t.Fatalf("gobridged processes = %v; want 1", e.ProcessesOf("gobridged"))
		}
		e.Stop()
		if !harness.WaitFor(10*time.Second, func() bool { return len(e.Processes()) == 0 }) {
			t.Errorf("after stop these processes remain: %v", e.Processes())
		}
		e.ErrorLog().Check(t)
	})
}

// gobridged never runs as root, and the runtime directory is private.
func TestPrivilegesAndRuntimeDir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to check the privilege drop; CI runs as root")
	}
	e := startEcho(t, "event")
	e.AssertGet("/echo/pid", 200, "")
	for _, name := range []string{"gobridged", "echo"} {
		for _, pid := range e.ProcessesOf(name) {
			var st syscall.Stat_t
			if err := syscall.Stat(fmt.Sprintf("/proc/%d", pid), &st); err != nil {
				t.Fatal(err)
			}
			if st.Uid == 0 {
				t.Errorf("%s (pid %d) runs as root", name, pid)
			}
		}
	}
	dir := filepath.Join(e.Root, "run", "gobridge")
	fi, err := os.Lstat(dir)
	if err != nil {
		t.Fatalf("runtime dir: %v", err)
	}
	if fi.Mode().Perm() != 0o700 || !fi.IsDir() {
		t.Errorf("runtime dir %s mode = %v; want drwx------", dir, fi.Mode())
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid == 0 {
		t.Errorf("runtime dir is owned by root; want Apache's User")
	}
	e.ErrorLog().Check(t)
}

// httpd restarts gobridged when it dies; gobridged's plugins go with it and
// come back with it.
func TestGobridgedKilledIsRestarted(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		e := startEcho(t, mpm)
		before, _ := getPID(t, e)
		daemons := e.ProcessesOf("gobridged")
		if len(daemons) != 1 {
			t.Fatalf("gobridged processes = %v; want 1", daemons)
		}
		if err := syscall.Kill(daemons[0], syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		// The orphaned plugin notices its parent is gone and exits.
		if !harness.WaitFor(10*time.Second, func() bool { return syscall.Kill(before, 0) != nil }) {
			t.Errorf("plugin %d outlived its gobridged", before)
		}
		var after int
		if !harness.WaitFor(20*time.Second, func() bool {
			var st int
			after, st = getPID(t, e)
			return st == 200
		}) {
			t.Fatalf("service did not resume after gobridged was killed")
		}
		if after == before {
			t.Errorf("plugin pid after gobridged's restart = %d; want a new process", after)
		}
		if d := e.ProcessesOf("gobridged"); len(d) != 1 || d[0] == daemons[0] {
			t.Errorf("gobridged processes after restart = %v; want one new one (old %d)", d, daemons[0])
		}
		e.ErrorLog().Check(t, "gobridged", "GB00", "GB01", "plugin echo")
	})
}

// TestGracefulDeploysNewBuild replaces a plugin's binary in place (a new
// file renamed over the old, as deploy tools do) and runs a graceful
// restart, five times, under load: the new build serves afterwards, the old
// process goes away, and no request fails or gets an answer from neither
// build.
func TestGracefulDeploysNewBuild(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		e := harness.New(t, build, mpm)
		bin := e.Bin("deploy")
		deploy := func(from string) { deployBinary(t, e, "deploy", from) }
		// Two builds answering /d/pid differently: examples/hello greets,
		// the echo plugin prints its pid.
		builds := map[string]func(string) bool{
			"hello": func(body string) bool { return strings.HasPrefix(body, "Hello") },
			"echo": func(body string) bool {
				_, err := strconv.Atoi(strings.TrimSpace(body))
				return err == nil
			},
		}
		deploy("hello")
		e.SetConf(fmt.Sprintf("GoBridgePlugin deploy %s\n<Location /d>\n    GoBridgeHandler deploy\n</Location>\n", bin))
		e.Start()

		l := startLoad(e, "/d/pid", func(body string) bool {
			return builds["hello"](body) || builds["echo"](body)
		})
		serving := func(name string) bool {
			r, err := http.Get(e.URL("/d/pid"))
			if err != nil {
				return false
			}
			defer r.Body.Close()
			b, _ := io.ReadAll(r.Body)
			return r.StatusCode == 200 && builds[name](string(b))
		}
		l.flowing(t)
		next := "echo"
		for round := 1; round <= 5; round++ {
			deploy(next)
			e.Graceful()
			if !harness.WaitFor(30*time.Second, func() bool { return serving(next) }) {
				t.Fatalf("round %d: the %s build does not serve after the graceful restart\n%s", round, next, e.ErrorLog().Since())
			}
			l.flowing(t)
			next = map[string]string{"echo": "hello", "hello": "echo"}[next]
		}
		l.finish(t, "requests")
		if !serving("echo") {
			t.Errorf("the last build (echo) does not serve")
		}
		if !harness.WaitFor(20*time.Second, func() bool { return len(e.ProcessesOf("deploy")) == 1 }) {
			t.Errorf("plugin processes after five deploys: %v; want the last build's only", e.ProcessesOf("deploy"))
		}
		e.ErrorLog().Check(t, "AH00493", "AH00494", "AH00489")
	})
}

// load is four clients GETting one path in a loop while a test deploys,
// each answer checked: a 200 with a body good accepts.
type load struct {
	ok, failed atomic.Int64
	firstErr   atomic.Value
	stop       chan struct{}
	wg         sync.WaitGroup
}

func startLoad(e *harness.Env, path string, good func(body string) bool) *load {
	l := &load{stop: make(chan struct{})}
	for w := 0; w < 4; w++ {
		l.wg.Add(1)
		go func(w int) {
			defer l.wg.Done()
			c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{}}
			for i := 0; ; i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				resp, err := c.Get(e.URL(path))
				if err != nil {
					// A connection httpd closed unread while it restarted
					// (see TestGracefulRestartLosesNoRequest): resend once.
					resp, err = c.Get(e.URL(path))
				}
				if err == nil {
					var b []byte
					b, err = io.ReadAll(resp.Body)
					resp.Body.Close()
					if err == nil && (resp.StatusCode != 200 || !good(string(b))) {
						err = fmt.Errorf("status %d, body %q", resp.StatusCode, b)
					}
				}
				if err != nil {
					l.failed.Add(1)
					l.firstErr.CompareAndSwap(nil, fmt.Sprintf("worker %d request %d: %v", w, i, err))
					continue
				}
				l.ok.Add(1)
			}
		}(w)
	}
	return l
}

// flowing waits for 20 more answers, however slow the machine is.
func (l *load) flowing(t *testing.T) {
	t.Helper()
	want := l.ok.Load() + 20
	if !harness.WaitFor(60*time.Second, func() bool { return l.ok.Load() >= want || l.failed.Load() > 0 }) {
		t.Errorf("the load stalled: %d requests succeeded, want %d", l.ok.Load(), want)
	}
}

// finish stops the clients and fails the test if any answer was wrong.
func (l *load) finish(t *testing.T, what string) {
	t.Helper()
	close(l.stop)
	l.wg.Wait()
	if l.failed.Load() > 0 {
		t.Errorf("%d of %d %s failed while new builds were deployed; first: %v",
			l.failed.Load(), l.failed.Load()+l.ok.Load(), what, l.firstErr.Load())
	}
}

// deployBinary installs the staged binary from as plugin binary name, the
// way deploy tools do: a new file renamed over the old one.
func deployBinary(t *testing.T, e *harness.Env, name, from string) {
	t.Helper()
	b, err := os.ReadFile(e.Bin(from))
	if err == nil {
		err = os.WriteFile(e.Bin(name)+".new", b, 0o755)
	}
	if err == nil {
		err = os.Rename(e.Bin(name)+".new", e.Bin(name))
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestGobridgedReloadDeploys: a deploy script without httpd — a new build
// renamed over the binary, then `gobridged -dir DIR reload` — gets the new
// build serving and the old process retired, and an exit status that says
// whether it worked.
func TestGobridgedReloadDeploys(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		e := harness.New(t, build, mpm)
		deployBinary(t, e, "deploy", "hello")
		e.SetConf(fmt.Sprintf("GoBridgePlugin deploy %s\n<Location /d>\n    GoBridgeHandler deploy\n</Location>\n", e.Bin("deploy")))
		e.Start()
		e.AssertGet("/d/pid", 200, "Hello")
		old := e.ProcessesOf("deploy")
		reload := func(names ...string) (string, error) {
			args := append([]string{"-dir", filepath.Join(e.Root, "run", "gobridge"), "reload"}, names...)
			out, err := exec.Command(e.Bin("gobridged"), args...).CombinedOutput()
			return string(out), err
		}

		if out, err := reload(); err != nil || !strings.HasPrefix(out, "deploy unchanged") {
			t.Errorf("reload with the same binary: %v\n%s\nwant exit 0 and \"deploy unchanged\"", err, out)
		}
		deployBinary(t, e, "deploy", "echo")
		out, err := reload()
		if err != nil || !strings.HasPrefix(out, "deploy replaced") {
			t.Fatalf("reload after a new build: %v\n%s\nwant exit 0 and \"deploy replaced\"", err, out)
		}
		// Replaced means the new build is up and published: no waiting.
		r := e.AssertGet("/d/pid", 200, "")
		if _, err := strconv.Atoi(strings.TrimSpace(string(r.Body))); err != nil {
			t.Errorf("GET /d/pid after reload = %q; want the echo build's pid", r.Body)
		}
		if !harness.WaitFor(20*time.Second, func() bool {
			now := e.ProcessesOf("deploy")
			return len(now) == 1 && len(old) == 1 && now[0] != old[0]
		}) {
			t.Errorf("plugin processes after reload: %v (before: %v); want one new process", e.ProcessesOf("deploy"), old)
		}
		// The next graceful restart finds the running build unchanged.
		now := e.ProcessesOf("deploy")
		e.Graceful()
		e.AssertGet("/d/pid", 200, "")
		if after := e.ProcessesOf("deploy"); len(after) != 1 || len(now) != 1 || after[0] != now[0] {
			t.Errorf("plugin processes across the graceful restart after reload: %v → %v; want the same one", now, after)
		}
		if out, err := reload("nosuch"); err == nil || !strings.Contains(out, "nosuch unknown") {
			t.Errorf("reload nosuch: %v\n%s\nwant a failure naming it unknown", err, out)
		}
		e.ErrorLog().Check(t, "AH00493", "AH00494", "AH00489")
	})
}

// TestAutoReloadDeploys: with GoBridgeAutoReload, renaming a new build over
// the binary is the whole deploy.
func TestAutoReloadDeploys(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		e := harness.New(t, build, mpm)
		deployBinary(t, e, "deploy", "hello")
		e.SetConf(fmt.Sprintf("GoBridgeAutoReload 200ms\nGoBridgePlugin deploy %s\n<Location /d>\n    GoBridgeHandler deploy\n</Location>\n", e.Bin("deploy")))
		e.Start()
		e.AssertGet("/d/pid", 200, "Hello")
		deployBinary(t, e, "deploy", "echo")
		if !harness.WaitFor(30*time.Second, func() bool {
			r, err := http.Get(e.URL("/d/pid"))
			if err != nil {
				return false
			}
			defer r.Body.Close()
			b, _ := io.ReadAll(r.Body)
			_, err = strconv.Atoi(strings.TrimSpace(string(b)))
			return r.StatusCode == 200 && err == nil
		}) {
			t.Fatalf("the new build does not serve\n%s", e.ErrorLog().Since())
		}
		e.ErrorLog().Check(t)
	})
}

// TestPluginPool: GoBridgePlugin NAME processes=3 runs three processes
// behind one name; calls are spread over them, and one that is killed is
// skipped (calls lost with it sent again) until gobridged has replaced it.
func TestPluginPool(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		e := harness.New(t, build, mpm)
		e.SetConf(fmt.Sprintf("GoBridgePlugin pool processes=3 %s\n<Location /pool>\n    GoBridgeHandler pool\n</Location>\n"+
			"<Location /gobridge-status>\n    SetHandler gobridge-status\n</Location>\n", e.Bin("echo")))
		e.Start()
		if !harness.WaitFor(20*time.Second, func() bool { return len(e.ProcessesOf("echo")) == 3 }) {
			t.Fatalf("plugin processes: %v; want 3", e.ProcessesOf("echo"))
		}
		c := &http.Client{Timeout: 30 * time.Second}
		get := func() (int, error) {
			resp, err := c.Get(e.URL("/pool/pid"))
			if err != nil {
				return 0, err
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil || resp.StatusCode != 200 {
				return 0, fmt.Errorf("status %d, %v: %q", resp.StatusCode, err, b)
			}
			return strconv.Atoi(strings.TrimSpace(string(b)))
		}
		seen := map[int]int{}
		for i := 0; i < 30; i++ {
			pid, err := get()
			if err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
			seen[pid]++
		}
		if len(seen) != 3 {
			t.Errorf("30 calls went to %d processes %v; want all 3", len(seen), seen)
		}
		// The status page lists the pool's three processes.
		if !harness.WaitFor(10*time.Second, func() bool {
			r := e.AssertGet("/gobridge-status?auto", 200, "Plugin.pool.Processes: 3")
			for _, line := range strings.Split(string(r.Body), "\n") {
				if pids, ok := strings.CutPrefix(line, "Plugin.pool.Pids: "); ok {
					return len(strings.Fields(pids)) == 3
				}
			}
			return false
		}) {
			t.Errorf("the status page does not list the pool's 3 pids")
		}

		victim := e.ProcessesOf("echo")[0]
		if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 30; i++ {
			pid, err := get()
			if err != nil {
				t.Errorf("request %d after one process was killed: %v", i, err)
			} else if pid == victim {
				t.Errorf("request %d answered by the killed process %d", i, pid)
			}
		}
		if !harness.WaitFor(30*time.Second, func() bool {
			pids := e.ProcessesOf("echo")
			return len(pids) == 3 && !slices.Contains(pids, victim)
		}) {
			t.Errorf("plugin processes after the kill: %v; want 3 again, without %d", e.ProcessesOf("echo"), victim)
		}
		e.ErrorLog().Check(t, "exited", "GB0017")
	})
}

// TestGracefulDeploysNewFilterBuild is TestGracefulDeploysNewBuild for a
// body filter's plugin: every response under load is filtered, across five
// new builds and graceful restarts.
func TestGracefulDeploysNewFilterBuild(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		e := harness.New(t, build, mpm)
		if err := os.MkdirAll(filepath.Join(e.Root, "htdocs", "f"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(e.Root, "htdocs", "f", "doc.txt"), []byte("hello filter\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		deployBinary(t, e, "fdeploy", "filter")
		e.SetConf(fmt.Sprintf("GoBridgePlugin fdeploy %s\n<Location /f>\n    GoBridgeOutputFilter fdeploy\n    GoBridgeOption mode upper\n</Location>\n", e.Bin("fdeploy")))
		e.Start()
		l := startLoad(e, "/f/doc.txt", func(body string) bool { return body == "HELLO FILTER\n" })
		l.flowing(t)
		for round := 1; round <= 5; round++ {
			before := e.ProcessesOf("fdeploy")
			deployBinary(t, e, "fdeploy", "filter") // the same code, a new build
			e.Graceful()
			if !harness.WaitFor(30*time.Second, func() bool {
				now := e.ProcessesOf("fdeploy")
				return len(now) == 1 && len(before) == 1 && now[0] != before[0]
			}) {
				t.Fatalf("round %d: the new build did not replace process %v", round, before)
			}
			l.flowing(t)
		}
		l.finish(t, "filtered requests")
		e.ErrorLog().Check(t, "AH00493", "AH00494", "AH00489")
	})
}

// TestDrainTimeoutReachesGobridged: GoBridgeDrainTimeout is gobridged's
// -grace, and the default is 10 s.
func TestDrainTimeoutReachesGobridged(t *testing.T) {
	e := harness.New(t, build, "event")
	for _, tc := range []struct{ conf, want string }{
		{"", "-grace\x0010000ms\x00"},
		{"GoBridgeDrainTimeout 1500ms\n", "-grace\x001500ms\x00"},
	} {
		e.SetConf(tc.conf + fmt.Sprintf("GoBridgePlugin hello %s\n", e.Bin("hello")))
		e.Start()
		pids := e.ProcessesOf("gobridged")
		if len(pids) != 1 {
			t.Fatalf("gobridged processes: %v; want 1", pids)
		}
		cmd, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pids[0]))
		if err != nil || !strings.Contains(string(cmd), tc.want) {
			t.Errorf("with %q gobridged runs as %q; want %q in it", tc.conf, cmd, tc.want)
		}
		e.Stop()
	}
	e.ErrorLog().Check(t)
}
