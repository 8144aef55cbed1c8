package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gobridge/gobridge/tests/harness"
)

// TestOneMutationRule: a table change is refused by the same rule whoever
// sends it. The same invalid note (a key that is not an HTTP token; a
// value with a control character other than CR, LF or NUL, which auth
// providers used to get through) is refused from an authn provider, an
// authz provider and an access phase alike: 500, nothing applied, and the
// error log naming the same reason.
func TestOneMutationRule(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		e := harness.New(t, build, mpm)
		// A file in every location: a request the answer did not fail
		// would be served (200), not 404.
		for _, who := range []string{"authn", "authz", "phase"} {
			for _, bad := range []string{"notekey", "notevalue"} {
				dir := filepath.Join(e.Root, "htdocs", "r", who+"-"+bad)
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, "f.txt"), []byte("file\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
		var conf strings.Builder
		conf.WriteString(authModules(e))
		fmt.Fprintf(&conf, "GoBridgePlugin authstub %s\nGoBridgePlugin phases %s\n", e.Bin("authstub"), e.Bin("phases"))
		for _, bad := range []string{"notekey", "notevalue"} {
			fmt.Fprintf(&conf, `<Location /r/authn-%[1]s>
    AuthType Basic
    AuthName stub
    AuthBasicProvider gobridge
    GoBridgeAuthnProvider authstub
    GoBridgeOption stub.authn granted
    GoBridgeOption stub.bad %[1]s
    Require valid-user
</Location>
<Location /r/authz-%[1]s>
    Require gobridge authstub anything
    GoBridgeOption stub.authz granted
    GoBridgeOption stub.bad %[1]s
</Location>
<Location /r/phase-%[1]s>
    GoBridgeAccessHandler phases
</Location>
`, bad)
		}
		e.SetConf(conf.String())
		e.Start()
		log := e.ErrorLog()

		reasons := map[string]string{
			"notekey":   "key is not an HTTP token",
			"notevalue": "has a control character in its value",
		}
		for _, bad := range []string{"notekey", "notevalue"} {
			for _, c := range []struct {
				who, path, code string
				hdrs            []string
			}{
				{"authn provider", "/r/authn-" + bad + "/f.txt", "GB0254", []string{"Authorization: Basic " + b64("ann:pw")}},
				{"authz provider", "/r/authz-" + bad + "/f.txt", "GB0254", nil},
				{"access phase", "/r/phase-" + bad + "/f.txt", "GB0203", []string{"X-Gb-phases-access: badnote=" + bad}},
			} {
				log.Mark()
				r := get(t, e, c.path, c.hdrs...)
				if r.Status != 500 {
					t.Errorf("%s sending a bad note (%s): GET %s = %d; want 500", c.who, bad, c.path, r.Status)
				}
				want := c.code + ": "
				line := ""
				for _, l := range strings.Split(log.Since(), "\n") {
					if strings.Contains(l, want) {
						line = l
					}
				}
				if !strings.Contains(line, reasons[bad]) {
					t.Errorf("%s sending a bad note (%s): no %s line saying %q; log since:\n%s", c.who, bad, c.code, reasons[bad], log.Since())
				}
				log.Check(t, c.code)
			}
		}
		log.Check(t)
	})
}
