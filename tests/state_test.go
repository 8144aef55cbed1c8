package tests

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobridge/gobridge/tests/harness"
)

func init() {
	// Registered here rather than in main_test.go's map: the plugin that
	// reports per-process state and the request-object members.
	plugins["state"] = "./tests/plugins/state"
}

// kv parses the state plugin's "key=value" lines.
func kv(body string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(body, "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			m[k] = v
		}
	}
	return m
}

func stateGet(t *testing.T, e *harness.Env, path string) map[string]string {
	t.Helper()
	r := e.Get(path)
	if r.Status != 200 {
		t.Fatalf("GET %s = %d %q; want 200", path, r.Status, r.Body)
	}
	return kv(r.Body)
}

func stateConf(e *harness.Env, sbArgs string) string {
	return fmt.Sprintf(`
GoBridgePlugin sa %[1]s
GoBridgePlugin sb %[1]s %[2]s
<Location /s1>
    GoBridgeHandler sa
    GoBridgeOption who one
</Location>
<Location /s2>
    GoBridgeHandler sa
    GoBridgeOption who two
</Location>
<Location /sb>
    GoBridgeHandler sb
    GoBridgeOption who b
</Location>
`, e.Bin("state"), sbArgs)
}

// TestPluginState: one process per GoBridgePlugin, shared by every httpd
// child; its state survives a graceful restart when its line is unchanged,
// is fresh when the line changed, and is lost when it crashes. The same
// binary under two names is two processes; one plugin used at two
// locations sees which location and options apply.
func TestPluginState(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		e := harness.New(t, build, mpm)
		e.SetConf(stateConf(e, "--flag=b"))
		e.Start()
		log := e.ErrorLog()

		var sa0 map[string]string
		t.Run("shared by all children, per location options", func(t *testing.T) {
			const n = 24
			var mu sync.Mutex
			var counts []int
			pids := map[string]bool{}
			var wg sync.WaitGroup
			for i := 0; i < n; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					path := []string{"/s1/x", "/s2/y"}[i%2]
					req, _ := http.NewRequest("GET", e.URL(path), nil)
					req.Close = true // a new connection, any child
					r := harness.Do(t, req)
					m := kv(r.Body)
					mu.Lock()
					defer mu.Unlock()
					c, _ := strconv.Atoi(m["count"])
					counts = append(counts, c)
					pids[m["pid"]] = true
					if want := []string{"one", "two"}[i%2]; m["who"] != want || m["plugin"] != "sa" ||
						m["location"] != path[:3] {
						t.Errorf("GET %s: plugin=%s location=%s who=%s; want sa %s %s", path, m["plugin"],
							m["location"], m["who"], path[:3], want)
					}
				}(i)
			}
			wg.Wait()
			sort.Ints(counts)
			for i, c := range counts {
				if c != i+1 {
					t.Fatalf("counts %v; want 1..%d: one counter shared by every child", counts, n)
				}
			}
			if len(pids) != 1 {
				t.Errorf("pids %v; want one process for plugin sa", pids)
			}
			sa0 = stateGet(t, e, "/s1/")
			sb := stateGet(t, e, "/sb/")
			if sb["pid"] == sa0["pid"] || sb["args"] != "--flag=b" || sa0["args"] != "" || sb["plugin"] != "sb" {
				t.Errorf("sb pid %s args %q, sa pid %s args %q; want two processes with their own arguments",
					sb["pid"], sb["args"], sa0["pid"], sa0["args"])
			}
			if len(e.ProcessesOf("state")) != 2 {
				t.Errorf("%d state processes; want 2 (sa and sb)", len(e.ProcessesOf("state")))
			}
			log.Check(t)
		})

		t.Run("graceful restart keeps an unchanged plugin and its state", func(t *testing.T) {
			e.Graceful()
			m := stateGet(t, e, "/s1/")
			c0, _ := strconv.Atoi(sa0["count"])
			c1, _ := strconv.Atoi(m["count"])
			if m["pid"] != sa0["pid"] || c1 != c0+1 {
				t.Errorf("after graceful: pid %s count %d; want pid %s count %d", m["pid"], c1, sa0["pid"], c0+1)
			}
			log.Check(t, "AH00493", "AH00494", "AH00489")
		})

		t.Run("a changed GoBridgePlugin line starts a new process", func(t *testing.T) {
			before := stateGet(t, e, "/sb/")
			e.SetConf(stateConf(e, "--flag=c"))
			e.Graceful()
			var m map[string]string
			if !harness.WaitFor(10*time.Second, func() bool {
				r := e.Get("/sb/")
				m = kv(r.Body)
				return r.Status == 200 && m["args"] == "--flag=c"
			}) {
				t.Fatalf("sb not restarted with its new arguments: %v", m)
			}
			if m["pid"] == before["pid"] || m["count"] != "1" {
				t.Errorf("after the change: pid %s count %s; want a new process (not %s) counting from 1",
					m["pid"], m["count"], before["pid"])
			}
			if a := stateGet(t, e, "/s1/"); a["pid"] != sa0["pid"] {
				t.Errorf("sa restarted (pid %s, was %s) although its line did not change", a["pid"], sa0["pid"])
			}
			log.Check(t, "AH00493", "AH00494", "AH00489", "plugin sb", `plugin "sb"`)
		})

		t.Run("a crash loses the state", func(t *testing.T) {
			if r := e.Get("/s1/?crash=1"); r.Status < 500 {
				t.Errorf("crashing request = %d; want a 5xx", r.Status)
			}
			var m map[string]string
			if !harness.WaitFor(15*time.Second, func() bool {
				r := e.Get("/s1/")
				m = kv(r.Body)
				return r.Status == 200
			}) {
				t.Fatalf("sa not restarted after its crash")
			}
			if m["pid"] == sa0["pid"] || m["count"] != "1" {
				t.Errorf("after the crash: pid %s count %s; want a new process counting from 1", m["pid"], m["count"])
			}
			log.Check(t, "exited", "restart", "GB00", "GB01", "GB02", "exit status", "plugin sa", `plugin "sa"`)
		})
	})
}
