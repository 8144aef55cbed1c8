package tests

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gobridge/gobridge/tests/harness"
)

// chainConf declares the echo binary under three names and lists them in
// GoBridgeHandler; GoBridgeOption decline.<name> makes a name decline.
func chainConf(e *harness.Env) string {
	return fmt.Sprintf(`
GoBridgePlugin first %[1]s
GoBridgePlugin second %[1]s
GoBridgePlugin third %[1]s
LimitRequestBody 0
<Location /chain/>
    GoBridgeHandler first second third
</Location>
<Location /chain/one-declines/>
    GoBridgeOption decline.first always
</Location>
<Location /chain/two-decline/>
    GoBridgeOption decline.first always
    GoBridgeOption decline.second always
</Location>
<Location /chain/all-decline/>
    GoBridgeOption decline.first always
    GoBridgeOption decline.second always
    GoBridgeOption decline.third always
</Location>
<Location /chain/inner/>
    GoBridgeHandler third
    GoBridgeOption decline.first always
</Location>
<Location /chain/body-read/>
    GoBridgeOption decline.first after-body
</Location>
<Location /chain/body-unread/>
    GoBridgeOption decline.first with-body
</Location>
<Location /chain/error/>
    GoBridgeHandler first second
</Location>
<Location /chain/ok-empty/>
    GoBridgeOption decline.first ok-empty
</Location>
<Location /chain/setup/>
    GoBridgeOption decline.first with-note
</Location>
`, e.Bin("echo"))
}

// GoBridgeHandler a b c: the first plugin that does not decline answers,
// as httpd runs its own handlers; all declining gives the request back to
// httpd.
func TestHandlerChain(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		e := harness.New(t, build, mpm)
		e.SetConf(chainConf(e))
		write(t, filepath.Join(e.Root, "htdocs", "chain", "all-decline", "whoami"), []byte("httpd's own file\n"), 0o644)
		e.Start()
		log := e.ErrorLog()
		waitUp(t, e, "/chain/whoami")
		log.Check(t)

		for _, tc := range []struct {
			name, path, want string
		}{
			{"the first plugin answers", "/chain/whoami", "first "},
			{"a declining plugin hands over to the next", "/chain/one-declines/whoami", "second "},
			{"the last one answers when the others decline", "/chain/two-decline/whoami", "third "},
			{"all declining leave the request to httpd", "/chain/all-decline/whoami", "httpd's own file\n"},
			{"an inner GoBridgeHandler replaces the list", "/chain/inner/whoami", "third "},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := e.Get(tc.path)
				if r.Status != 200 || !strings.HasPrefix(r.Body, tc.want) {
					t.Errorf("GET %s = %d %q; want 200 %q…", tc.path, r.Status, r.Body, tc.want)
				}
				log.Check(t)
			})
		}

		// httpd's rule, not mod_python's: an answer ends the list, even an
		// empty one. A plugin that only prepares the request for the next
		// declines (its notes and environment are kept).
		t.Run("OK without output ends the chain with an empty 200", func(t *testing.T) {
			r := e.Get("/chain/ok-empty/whoami")
			if r.Status != 200 || r.Body != "" {
				t.Errorf("GET /chain/ok-empty/whoami = %d %q; want 200 with an empty body from the first plugin", r.Status, r.Body)
			}
			log.Check(t)
		})
		t.Run("a plugin that sets a note and declines prepares the next", func(t *testing.T) {
			r := e.Get("/chain/setup/snapshot")
			if r.Status != 200 || !strings.Contains(r.Body, `"set-by"`) || !strings.Contains(r.Body, `"plugin":"second"`) {
				t.Errorf("GET /chain/setup/snapshot = %d %q; want the second plugin's snapshot with the note set-by", r.Status, r.Body)
			}
			log.Check(t)
		})

		t.Run("an HTTP status ends the chain", func(t *testing.T) {
			r := e.Get("/chain/error/status?code=404")
			if r.Status != 404 {
				t.Errorf("GET status?code=404 = %d; want 404 from the first plugin, not the second's answer", r.Status)
			}
			log.Check(t)
		})

		t.Run("the next plugin gets the body the first one left unread", func(t *testing.T) {
			body := strings.Repeat("0123456789abcdef", 1024) // 16 KiB: within the first message
			req, _ := http.NewRequest("POST", e.URL("/chain/body-unread/echo"), strings.NewReader(body))
			r := harness.Do(t, req)
			if r.Status != 200 || r.Body != body {
				t.Errorf("POST through a declining plugin = %d with %d bytes; want 200 and the %d bytes sent", r.Status, len(r.Body), len(body))
			}
			log.Check(t)
		})

		t.Run("declining after reading the body fails closed: 500, never a truncated body", func(t *testing.T) {
			body := strings.Repeat("x", 1<<20) // more than the first message carries
			req, _ := http.NewRequest("POST", e.URL("/chain/body-read/sha256"), strings.NewReader(body))
			r := harness.Do(t, req)
			if r.Status != 500 {
				t.Errorf("POST = %d %q; want 500", r.Status, r.Body)
			}
			if !log.Contains("GB0045: first: declined after reading the request body; second cannot be given it") {
				t.Errorf("no GB0045 line naming both plugins:\n%s", log.Since())
			}
			log.Check(t, "GB0045")
		})

		t.Run("configtest refuses None in a list and an unknown name", func(t *testing.T) {
			for _, line := range []string{"GoBridgeHandler first None", "GoBridgeHandler first nosuch", "GoBridgeHandler"} {
				e2 := harness.New(t, build, mpm)
				e2.SetConf(fmt.Sprintf("GoBridgePlugin first %s\n<Location /x>\n%s\n</Location>\n", e.Bin("echo"), line))
				out, ok := e2.ConfigTest()
				if ok || !strings.Contains(out, "GoBridgeHandler") || !strings.Contains(out, "line") {
					t.Errorf("configtest of %q: ok=%v\n%s", line, ok, out)
				}
			}
		})
	})
}

// waitUp waits until path answers 200 (gobridged starts the plugins after
// httpd listens).
func waitUp(t *testing.T, e *harness.Env, path string) {
	t.Helper()
	if !harness.WaitFor(20*time.Second, func() bool {
		resp, err := harness.Client.Get(e.URL(path))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}) {
		t.Fatalf("%s never answered 200", path)
	}
}
