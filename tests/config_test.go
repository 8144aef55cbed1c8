package tests

import (
	"regexp"
	"strings"
	"testing"

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
