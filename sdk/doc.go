// Package sdk is what a gobridge plugin imports: it turns a Go program into
// a plugin process that Apache httpd (through mod_gobridge and gobridged)
// calls to answer requests.
//
// A complete plugin:
//
//	package main
//
//	import (
//		"fmt"
//
//		"github.com/gobridge/gobridge/sdk"
//	)
//
//	func hello(w *sdk.ResponseWriter, r *sdk.Request) error {
//		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
//		_, err := fmt.Fprintf(w, "Hello from Go via gobridge, %s!\n", r.UseragentIP)
//		return err
//	}
//
//	func main() {
//		sdk.ServeHandler(sdk.HandlerFunc(hello))
//	}
//
// and the httpd configuration that uses it:
//
//	GoBridgePlugin hello /usr/local/libexec/hello
//	<Location /hello>
//	    GoBridgeHandler hello
//	</Location>
//
// # Requests and responses
//
// A Handler gets a *Request, a snapshot of httpd's request_rec (method,
// URI, headers, connection and server facts, GoBridgeOption values, …),
// and a *ResponseWriter that works like http.ResponseWriter. The request
// body streams from httpd on demand through Request.Body; the response
// streams back in chunks of at most 256 KiB. Nothing is held whole in
// memory, so a handler can copy a 1 GB upload or download in constant
// space. A small response (under 256 KiB, not flushed) reaches httpd in a
// single message.
//
// A handler may also decline (return Declined) or have httpd send its own
// error document (return HTTPError(code)), as long as it did not flush.
//
// Request.Context is cancelled when httpd gives up on the request
// (GoBridgeTimeout) or the client goes away.
//
// # Phases, auth providers and filters
//
// The same plugin may take part in httpd's other phases (the phase
// interfaces, such as Fixupper, on ServeConfig.Phases), answer as an
// authentication or authorization provider (PasswordChecker, RealmHasher,
// RequireChecker) and transform bodies (BodyFilter). Each gets the request
// the way a handler does, with its context from Request.Context: a phase
// method a *PhaseRequest, a provider a *Request, a filter a *Filter.
//
// # Changing httpd's request
//
// Request.Set, Add and Unset change httpd's tables (headers, notes,
// subprocess_env, the connection's notes), and PhaseRequest's setters its
// fields. Every one of them checks the change by the rule httpd checks
// answers with, the same for every kind of plugin code, and returns an
// error wrapping ErrInvalidChange, recording nothing, for a change httpd
// would refuse or a table the call may not change (see Request.Set).
//
// # Existing net/http code
//
// Package nethttp serves any http.Handler, such as an http.ServeMux, as a
// gobridge handler:
//
//	sdk.ServeHandler(nethttp.Handler(mux))
//
// # Logging
//
// Request.Logger returns a *slog.Logger whose records go to httpd's error
// log with the request's context; they ride along with the next message to
// httpd, so logging costs no round trip. Logger returns the process logger,
// whose records gobridged relays to the error log with their levels.
//
// # Testing
//
// Package sdktest runs a handler, a phase method, an auth provider or a
// filter without httpd, like net/http/httptest, with the sdk's own types.
package sdk
