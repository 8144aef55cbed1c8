package tests

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gobridge/gobridge/tests/harness"
)

// httpdLevels are httpd's eight levels and the first trace level, from the
// least to the most severe.
var httpdLevels = []string{"trace1", "debug", "info", "notice", "warn", "error", "crit", "alert", "emerg"}

// TestPluginLogLevels: what a plugin logs through sdk.Logger (its stderr,
// relayed by gobridged) and through Request.Logger (sent with the
// response) reaches the error log at the httpd level it was logged at,
// from debug to emerg, and only from httpd's LogLevel for gobridge up.
func TestPluginLogLevels(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		e := harness.New(t, build, mpm)
		conf := func(level string) string {
			return fmt.Sprintf(`
LogLevel warn gobridge:%s
GoBridgePlugin echo %s
<Location /echo>
    GoBridgeHandler echo
</Location>
`, level, e.Bin("echo"))
		}
		e.SetConf(conf("debug"))
		e.Start()
		log := e.ErrorLog()
		log.Check(t)

		// line matches the record "marker what" at level, from the process
		// logger ("plugin echo: …", gobridged's line) or the request's.
		line := func(level, marker, what string) *regexp.Regexp {
			return regexp.MustCompile(`\[gobridge:` + level + `\] \[pid \d+[^]]*\] .*\b` +
				regexp.QuoteMeta(marker+" "+what) + `$`)
		}
		has := func(re *regexp.Regexp) bool {
			for _, l := range strings.Split(log.Since(), "\n") {
				if re.MatchString(l) {
					return true
				}
			}
			return false
		}
		// logAll makes the plugin log at every level and waits until its
		// emerg records, the last ones it writes, have arrived.
		logAll := func(t *testing.T, marker string) {
			t.Helper()
			e.AssertGet("/echo/levels?marker="+marker, 200, "logged")
			last := []*regexp.Regexp{line("emerg", marker, "emerg"), line("emerg", marker, "req-emerg")}
			if !harness.WaitFor(10*time.Second, func() bool { return has(last[0]) && has(last[1]) }) {
				t.Fatalf("the plugin's emerg records did not arrive:\n%s", log.Since())
			}
		}

		t.Run("every level under LogLevel gobridge:debug", func(t *testing.T) {
			logAll(t, "lvl-a1")
			for _, lv := range httpdLevels {
				for _, what := range []string{lv, "req-" + lv} {
					want := lv != "trace1" // below gobridge:debug
					if got := has(line(lv, "lvl-a1", what)); got != want {
						t.Errorf("record %q at [gobridge:%s] in the error log = %v; want %v", what, lv, got, want)
					}
					// Never at another level.
					for _, other := range httpdLevels {
						if other != lv && has(line(other, "lvl-a1", what)) {
							t.Errorf("record %q logged at %s arrived as [gobridge:%s]", what, lv, other)
						}
					}
				}
			}
			log.Check(t, "lvl-a1")
		})

		t.Run("LogLevel gobridge:notice drops info and debug", func(t *testing.T) {
			e.SetConf(conf("notice"))
			e.Graceful()
			log.Check(t)
			logAll(t, "lvl-b2")
			for _, lv := range httpdLevels {
				want := lv != "trace1" && lv != "debug" && lv != "info"
				if got := has(line(lv, "lvl-b2", lv)); got != want {
					t.Errorf("process record at %s in the error log = %v; want %v", lv, got, want)
				}
			}
			log.Check(t, "lvl-b2")
		})
	})
}
