package tests

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gobridge/gobridge/tests/harness"
)

// A grant is offered to mod_authn_socache (and its password hashed for
// it, 1000 rounds of MD5 by default) only when the configuration has the
// module set up a cache: an AuthnCacheProvideFor line, or AuthnCacheEnable
// (which .htaccess files need to use it). With the module loaded for
// nothing, logins skip the hash. (Caching itself is TestAuthBasic's
// "mod_authn_socache caches grants".)
func TestAuthnCacheOfferedOnlyWhenPossible(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		for _, tc := range []struct {
			name, extra string
			offered     bool
		}{
			// Without AuthnCacheEnable an .htaccess file cannot use the
			// cache, whatever AllowOverride says.
			{"module loaded, caching nothing", "<Directory \"@HTDOCS@\">\n    AllowOverride AuthConfig\n</Directory>\n", false},
			{"AuthnCacheEnable", "AuthnCacheEnable\n", true},
			{"AuthnCacheProvideFor elsewhere", "<Location /other>\n    AuthnCacheProvideFor file\n</Location>\n", true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e := harness.New(t, build, mpm)
				extra := strings.ReplaceAll(tc.extra, "@HTDOCS@", filepath.Join(e.Root, "htdocs"))
				e.SetConf(fmt.Sprintf(`
LoadModule authn_core_module %[1]s/mod_authn_core.so
LoadModule auth_basic_module %[1]s/mod_auth_basic.so
LoadModule authn_socache_module %[1]s/mod_authn_socache.so
LoadModule socache_shmcb_module %[1]s/mod_socache_shmcb.so
LoadModule authz_user_module %[1]s/mod_authz_user.so
LogLevel warn gobridge:trace1
GoBridgePlugin auth %[2]s
<Location /login>
    AuthType Basic
    AuthName "cache test"
    AuthBasicProvider gobridge
    GoBridgeAuthnProvider auth
    GoBridgeOption stub.authn granted
    Require valid-user
</Location>
%[3]s`, build.Modules, e.Bin("authstub"), extra))
				e.Start()
				log := e.ErrorLog()
				req, _ := http.NewRequest("GET", e.URL("/login/"), nil)
				req.SetBasicAuth("ann", "secret")
				if r := harness.Do(t, req); r.Status != 404 {
					t.Fatalf("login: %d; want 404 (granted, no such file)", r.Status)
				}
				if got := log.Contains("GB0261: "); got != tc.offered {
					t.Errorf("grant offered to mod_authn_socache (GB0261): %v; want %v", got, tc.offered)
				}
				log.Check(t)
			})
		}
	})
}
