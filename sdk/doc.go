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
// Package sdktest runs a handler without httpd, like net/http/httptest.
package sdk
