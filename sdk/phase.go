package sdk

// Handler answers a request as Apache's content handler (GoBridgeHandler).
//
// ServeGoBridge writes the response through w and reads the request body from
// r.Body. Its return value decides what httpd does next:
//
//   - nil: the response is complete. If nothing was written, the client gets
//     an empty response with the status and headers set so far (200 by
//     default).
//   - Declined: httpd tries the next handler, as if gobridge were not
//     configured. Only before anything was flushed.
//   - HTTPError(code): httpd sends its own error document for code
//     (ErrorDocument applies). Only before anything was flushed.
//   - any other error: logged to httpd's error log; the client gets a 500
//     if nothing was flushed yet, or a truncated response otherwise.
//
// A panic is recovered and handled like an error that is not Declined or an
// HTTPError.
//
// ServeGoBridge is called concurrently for concurrent requests.
type Handler interface {
	ServeGoBridge(w *ResponseWriter, r *Request) error
}

// HandlerFunc adapts an ordinary function to Handler.
type HandlerFunc func(w *ResponseWriter, r *Request) error

// ServeGoBridge calls f(w, r).
func (f HandlerFunc) ServeGoBridge(w *ResponseWriter, r *Request) error { return f(w, r) }
