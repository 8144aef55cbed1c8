package tests

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gobridge/gobridge/tests/harness"
)

// Bad configuration is refused by `httpd -t` (what `apachectl configtest`
// runs) with the file, the line and the directive named.
func TestBadDirectivesFailConfigtest(t *testing.T) {
	e := harness.New(t, build, "event")
	echo := e.Bin("echo")
	cases := []struct {
		name      string
		conf      string
		directive string
	}{
		{"relative binary", "GoBridgePlugin p bin/echo", "GoBridgePlugin"},
		{"missing binary", "GoBridgePlugin p /nonexistent/gobridge-plugin", "GoBridgePlugin"},
		{"binary is a directory", "GoBridgePlugin p /usr", "GoBridgePlugin"},
		{"bad name", "GoBridgePlugin 'a b' " + echo, "GoBridgePlugin"},
		{"no binary", "GoBridgePlugin p", "GoBridgePlugin"},
		{"duplicate name", "GoBridgePlugin p " + echo + "\nGoBridgePlugin p " + echo, "GoBridgePlugin"},
		{"plugin inside Location", "<Location /x>\nGoBridgePlugin p " + echo + "\n</Location>", "GoBridgePlugin"},
		{"unknown plugin", "<Location /x>\nGoBridgeHandler nosuch\n</Location>", "GoBridgeHandler"},
		{"bad timeout", "GoBridgeTimeout soon", "GoBridgeTimeout"},
		{"negative timeout", "GoBridgeTimeout -5", "GoBridgeTimeout"},
		{"option without key", "<Location /x>\nGoBridgeOption\n</Location>", "GoBridgeOption"},
		{"bad max message size", "GoBridgeMaxMessageSize lots", "GoBridgeMaxMessageSize"},
		{"auto reload too often", "GoBridgeAutoReload 10ms", "GoBridgeAutoReload"},
		{"bad drain timeout", "GoBridgeDrainTimeout never", "GoBridgeDrainTimeout"},
		{"auto reload in a vhost", "<VirtualHost 127.0.0.1:1>\nGoBridgeAutoReload 2s\n</VirtualHost>", "GoBridgeAutoReload"},
		{"file walk in a Directory", "<Directory /tmp>\nGoBridgeFileWalk Off\n</Directory>", "GoBridgeFileWalk"},
		{"file walk in Files", "<Files x.py>\nGoBridgeFileWalk Off\n</Files>", "GoBridgeFileWalk"},
		{"file walk not a flag", "<Location /x>\nGoBridgeFileWalk sometimes\n</Location>", "GoBridgeFileWalk"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e.SetConf("\n" + tc.conf + "\n")
			out, ok := e.ConfigTest()
			if ok {
				t.Fatalf("configtest accepted:\n%s\noutput: %s", tc.conf, out)
			}
			if !strings.Contains(out, tc.directive) {
				t.Errorf("configtest output does not name %s:\n%s", tc.directive, out)
			}
			if !strings.Contains(out, "httpd.conf") {
				t.Errorf("configtest output does not name the file:\n%s", out)
			}
			if !regexp.MustCompile(`line [0-9]+`).MatchString(out) {
				t.Errorf("configtest output does not name the line:\n%s", out)
			}
		})
	}

	t.Run("good configuration passes", func(t *testing.T) {
		e.SetConf(echoConf(e))
		if out, ok := e.ConfigTest(); !ok || !strings.Contains(out, "Syntax OK") {
			t.Errorf("configtest refused the good configuration:\n%s", out)
		}
	})

	t.Run("configtest starts no process", func(t *testing.T) {
		e.SetConf(echoConf(e))
		e.ConfigTest()
		if p := e.Processes(); len(p) != 0 {
			t.Errorf("configtest left processes behind: %v", p)
		}
	})
}

// A plugin that does not serve what a directive sends it is named at start,
// with the directive's file and line, instead of one 500 per request later:
// gobridged asks every plugin it starts what it serves (Describe).
func TestStartChecksPluginsAgainstDirectives(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		e := harness.New(t, build, mpm)
		// The filter plugin has a content handler and a body filter only.
		e.SetConf(fmt.Sprintf(`
GoBridgePlugin filter %s
<Location /f>
    GoBridgeHandler filter
    GoBridgeOutputFilter filter
</Location>
<Location /a>
    GoBridgeAccessHandler filter
    Require gobridge filter
</Location>
`, e.Bin("filter")))
		conf := filepath.Join(e.Root, "httpd.conf")
		lineOf := func(directive string) int {
			for i, l := range strings.Split(e.Conf(), "\n") {
				if strings.TrimSpace(l) == directive {
					return i + 1
				}
			}
			t.Fatalf("no line %q in the configuration", directive)
			return 0
		}
		want := []string{
			fmt.Sprintf(`gobridged: plugin "filter" does not implement the access phase (sdk.AccessChecker), which GoBridgeAccessHandler at %s line %d sends it`,
				conf, lineOf("GoBridgeAccessHandler filter")),
			fmt.Sprintf(`gobridged: plugin "filter" does not implement an authorization provider (ServeConfig.RequireChecker), which Require at %s line %d sends it`,
				conf, lineOf("Require gobridge filter")),
		}
		e.Start()
		log := e.ErrorLog()
		if !harness.WaitFor(10*time.Second, func() bool {
			return log.Contains(want[0]) && log.Contains(want[1])
		}) {
			t.Fatalf("error log has not both of\n%s\n---\n%s", strings.Join(want, "\n"), log.Since())
		}
		if n := log.Count("does not implement"); n != 2 {
			t.Errorf("%d lines say a plugin does not implement something; want 2 (the handler and the filter are served)\n%s", n, log.Since())
		}
		log.Check(t, "does not implement")
	})
}
