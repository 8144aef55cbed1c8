// End-to-end tests: a real httpd with mod_gobridge, gobridged and Go plugins,
// driven over HTTP on a loopback port, under the event and prefork MPMs.
//
// Run with `make test` (which installs and builds everything), or
// `go test ./tests/` once `make` has run. Without httpd the tests skip,
// unless GOBRIDGE_REQUIRE_HTTPD=1 (CI sets it), in which case they fail.
package tests

import (
	"fmt"
	"os"
	"testing"

	"github.com/gobridge/gobridge/tests/harness"
)

var build *harness.Build

// plugins are built once for the whole run: staged name → package.
var plugins = map[string]string{
	"auth":     "./cmd/gobridge-auth",
	"authstub": "./tests/plugins/authstub",
	"echo":     "./tests/plugins/echo",
	"filter":   "./tests/plugins/filter",
	"hello":    "./examples/hello",
	"app":      "./examples/nethttp",
	"phases":   "./tests/plugins/phases",
	"subreq":   "./tests/plugins/subreq",
}

// mpms are the MPMs every content-handler test runs under. The HTTP/2
// front (h2c_test.go) is a set of its own, under event (mod_http2 does not
// support prefork): running every test a third time over HTTP/2 would add
// time without adding meaning.
var mpms = []string{"event", "prefork"}

func TestMain(m *testing.M) {
	if _, _, err := harness.FindHTTPD(); err != nil {
		if harness.Require() {
			fmt.Fprintf(os.Stderr, "FAIL: GOBRIDGE_REQUIRE_HTTPD=1 but %v\n", err)
			os.Exit(1)
		}
		fmt.Fprintf(os.Stderr, "SKIP end-to-end tests: %v\n", err)
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "gobridge-build-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	build, err = harness.BuildAll(dir, plugins)
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: %v\n", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// forEachMPM runs f as a subtest per MPM, each with its own httpd.
func forEachMPM(t *testing.T, f func(t *testing.T, mpm string)) {
	for _, mpm := range mpms {
		t.Run(mpm, func(t *testing.T) { f(t, mpm) })
	}
}
