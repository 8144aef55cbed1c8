package tests

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/gobridge/gobridge/tests/harness"
)

// A content handler that returns HTTPError gets httpd's error document
// with the headers it put in ErrHeader() (a 401's challenge, a 503's
// Retry-After): r->err_headers_out, which httpd keeps on error pages.
func TestHandlerErrorKeepsErrHeaders(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		e := harness.New(t, build, mpm)
		e.SetConf(fmt.Sprintf(`
GoBridgePlugin echo %s
<Location /e>
    GoBridgeHandler echo
</Location>
`, e.Bin("echo")))
		e.Start()
		log := e.ErrorLog()

		q := url.Values{"code": {"401"}, "e": {`WWW-Authenticate:Bearer realm="api"`, "Set-Cookie:a=b"}}
		r := e.Get("/e/status?" + q.Encode())
		if r.Status != 401 {
			t.Fatalf("status = %d; want 401", r.Status)
		}
		if got := r.Header.Get("WWW-Authenticate"); got != `Bearer realm="api"` {
			t.Errorf("WWW-Authenticate = %q; want the handler's challenge", got)
		}
		if got := r.Header.Get("Set-Cookie"); got != "a=b" {
			t.Errorf("Set-Cookie = %q; want a=b", got)
		}
		if !strings.Contains(r.Body, "Unauthorized") {
			t.Errorf("body = %q; want httpd's 401 document", r.Body)
		}
		log.Check(t)

		r = e.Get("/e/status?code=503&e=Retry-After:7")
		if r.Status != 503 || r.Header.Get("Retry-After") != "7" {
			t.Errorf("503: status %d, Retry-After %q; want 503 and 7", r.Status, r.Header.Get("Retry-After"))
		}
		log.Check(t)

		// Checked like a head's: CR LF in a value fails the request.
		r = e.Get("/e/badheader?kind=finisherr")
		if r.Status != 500 || r.Header.Get("Injected") != "" {
			t.Errorf("forged error header: status %d, Injected %q; want 500 and nothing", r.Status, r.Header.Get("Injected"))
		}
		if !log.Contains("finish's err_headers") {
			t.Errorf("no line about the refused header:\n%s", log.Since())
		}
		log.Check(t, "finish's err_headers")
	})
}
