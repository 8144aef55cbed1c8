package tests

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/gobridge/gobridge/tests/harness"
)

// Require gobridge-user asks the plugin only once someone has logged in:
// mod_authz_core's first, anonymous round is answered by the module
// (denied, no user) without a call, where Require gobridge asks the plugin
// both times (it may grant without a login).
func TestRequireGobridgeUser(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		e := harness.New(t, build, mpm)
		e.SetConf(fmt.Sprintf(`
LoadModule authz_host_module %[1]s/mod_authz_host.so
LoadModule authn_core_module %[1]s/mod_authn_core.so
LoadModule auth_basic_module %[1]s/mod_auth_basic.so
GoBridgePlugin any %[2]s
GoBridgePlugin user %[2]s
<Location /any>
    GoBridgeOption stub.authz granted
    Require gobridge any anything
</Location>
<Location /user>
    AuthType Basic
    AuthName "gobridge-user test"
    AuthBasicProvider gobridge
    GoBridgeAuthnProvider user
    GoBridgeOption stub.authn granted
    GoBridgeOption stub.authz granted
    Require gobridge-user user anything
</Location>
<Location /gobridge-status>
    SetHandler gobridge-status
    Require ip 127.0.0.1
</Location>
`, build.Modules, e.Bin("authstub")))
		e.Start()
		log := e.ErrorLog()

		// Require gobridge: the plugin grants without a login, so it is
		// asked with no user.
		e.AssertGet("/any/", 404, "")
		if n := getStatusJSON(t, e).calls(t, "any", "authz_provider"); n != 1 {
			t.Errorf("Require gobridge: %d authz calls for an anonymous request; want 1", n)
		}

		// Require gobridge-user: no login, no call, and a challenge.
		r := e.AssertGet("/user/", 401, "")
		if r.Header.Get("WWW-Authenticate") == "" {
			t.Error("401 without a WWW-Authenticate challenge")
		}
		if n := getStatusJSON(t, e).calls(t, "user", "authz_provider"); n != 0 {
			t.Errorf("Require gobridge-user: %d authz calls before a login; want 0", n)
		}

		// Logged in: the plugin decides, asked once.
		req, _ := http.NewRequest("GET", e.URL("/user/"), nil)
		req.SetBasicAuth("ann", "secret")
		if r := harness.Do(t, req); r.Status != 404 {
			t.Errorf("logged in: %d; want 404 (granted, no such file)", r.Status)
		}
		s := getStatusJSON(t, e)
		if n := s.calls(t, "user", "authz_provider"); n != 1 {
			t.Errorf("Require gobridge-user: %d authz calls for a logged-in request; want 1", n)
		}
		if n := s.calls(t, "user", "authn_provider"); n != 1 {
			t.Errorf("%d authn calls; want 1", n)
		}
		log.Check(t, "AH01630") // mod_authz_core: client denied (the 401)
	})
}

// A Require gobridge-user line is checked like Require gobridge's when
// the configuration is read.
func TestRequireGobridgeUserConfig(t *testing.T) {
	e := harness.New(t, build, "event")
	e.SetConf(`
<Location /x>
    Require gobridge-user
</Location>
`)
	out, ok := e.ConfigTest()
	if ok {
		t.Fatalf("configtest passed a Require gobridge-user without a plugin:\n%s", out)
	}
	if want := "Require gobridge-user: name the plugin that decides"; !strings.Contains(out, want) {
		t.Errorf("configtest said:\n%s\nwant it to say %q", out, want)
	}
}
