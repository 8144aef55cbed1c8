package tests

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gobridge/gobridge/sdk"
	"github.com/gobridge/gobridge/tests/harness"
)

// Request.Server carries the virtual host's settings and its own
// GoBridgeOption values (mod_python's req.server and server.get_options()).
func TestServerConfig(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		e := harness.New(t, build, mpm)
		e.SetConf(fmt.Sprintf(`
GoBridgePlugin echo %s
<VirtualHost 127.0.0.1:%d>
    ServerName vhost.test
    Timeout 42
    KeepAlive On
    KeepAliveTimeout 3
    MaxKeepAliveRequests 77
    LimitRequestLine 6000
    LimitRequestFieldSize 7000
    LimitRequestFields 55
    LogLevel warn gobridge:debug
    GoBridgeOption scope server
    GoBridgeOption both vhost
    <Location /e>
        GoBridgeHandler echo
        GoBridgeOption both location
        GoBridgeOption inner yes
    </Location>
</VirtualHost>
`, e.Bin("echo"), e.Port))
		e.Start()
		r := e.AssertGet("/e/server", 200, "")
		var got sdk.ServerConfig
		if err := json.Unmarshal([]byte(r.Body), &got); err != nil {
			t.Fatalf("decoding %q: %v", r.Body, err)
		}
		want := sdk.ServerConfig{
			DefinedIn: got.DefinedIn, DefinedAt: got.DefinedAt, ErrorLog: got.ErrorLog,
			LogLevel: "debug", Timeout: 42 * time.Second, KeepAlive: true,
			KeepAliveTimeout: 3 * time.Second, MaxKeepAliveRequests: 77,
			LimitRequestLine: 6000, LimitRequestFieldSize: 7000, LimitRequestFields: 55,
			Options: sdk.Pairs{{Key: "scope", Value: "server"}, {Key: "both", Value: "vhost"}},
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("Server =\n%+v\nwant\n%+v", got, want)
		}
		if !strings.HasSuffix(got.DefinedIn, "httpd.conf") || got.DefinedAt < 1 {
			t.Errorf("DefinedIn, DefinedAt = %q, %d; want the generated httpd.conf and the <VirtualHost> line", got.DefinedIn, got.DefinedAt)
		}
		// The vhost has no ErrorLog of its own: it writes to the main one.
		if got.ErrorLog != e.ErrorLog().Path {
			t.Errorf("ErrorLog = %q; want the main server's %q", got.ErrorLog, e.ErrorLog().Path)
		}
		// The merged view still has the location's values on top.
		r = e.AssertGet("/e/options", 200, "")
		if !strings.Contains(r.Body, `"location"`) || !strings.Contains(r.Body, `"inner"`) || !strings.Contains(r.Body, `"server"`) {
			t.Errorf("merged options = %s; want scope=server, both=location, inner=yes", r.Body)
		}
		e.ErrorLog().Check(t)
	})
}
