// Command headers is a small phase plugin: it takes part in httpd's
// request processing without serving any content itself.
//
//   - access (GoBridgeAccessHandler): refuses with 403 every path that
//     contains one of the segments listed in the option "deny" (comma
//     separated; default ".git,.env"), whatever handler would serve it.
//   - fixups (GoBridgeFixupHandler): adds the response header named by the
//     option "header" (default X-Served-Via) with the value "gobridge", and
//     leaves a note "gobridge-headers" that the access log can show with
//     %{gobridge-headers}n.
//
// Configuration (examples/httpd/demo.conf):
//
//	GoBridgePlugin headers /usr/local/libexec/gobridge/headers
//	<Location /headers/>
//	    GoBridgeAccessHandler headers
//	    GoBridgeFixupHandler  headers
//	    GoBridgeOption deny   secret,.git
//	</Location>
package main

import (
	"strings"

	"github.com/gobridge/gobridge/sdk"
)

type headers struct{}

func option(r *sdk.PhaseRequest, key, def string) string {
	if v, ok := r.LookupOption(key); ok {
		return v
	}
	return def
}

// CheckAccess denies a path with a listed segment and otherwise declines,
// so authentication and Require still decide (returning nil would grant
// the request without them).
func (headers) CheckAccess(r *sdk.PhaseRequest) error {
	for _, seg := range strings.Split(r.URI, "/") {
		for _, bad := range strings.Split(option(r, "deny", ".git,.env"), ",") {
			if bad = strings.TrimSpace(bad); bad != "" && seg == bad {
				r.Logger().Info("denied", "uri", r.URI, "segment", bad)
				return sdk.HTTPError(403)
			}
		}
	}
	return sdk.Declined
}

// Fixup sets a header (in err_headers_out, so error pages carry it too)
// and a note for the access log. OK: the other fixups still run. A header
// name from GoBridgeOption that is not a token is refused by Set: the
// error fails the request (500) and says why in the error log.
//
// Sub-requests are left alone: httpd merges a sub-request's err_headers_out
// into the main request when it serves its answer (mod_dir serving
// index.html for a directory does), which would send the header twice.
func (headers) Fixup(r *sdk.PhaseRequest) error {
	if r.IsSubrequest {
		return sdk.Declined
	}
	if err := r.Set(sdk.TableErrHeadersOut, option(r, "header", "X-Served-Via"), "gobridge"); err != nil {
		return err
	}
	return r.SetNote("gobridge-headers", "fixed-up")
}

func main() {
	sdk.Serve(&sdk.ServeConfig{Phases: headers{}})
}
