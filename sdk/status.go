package sdk

import (
	"errors"
	"fmt"
	"net/http"
)

// Declined, returned by a Handler before it flushed anything, makes httpd
// carry on as if the plugin were not configured (httpd's DECLINED).
var Declined = errors.New("sdk: declined")

// Done, returned by a phase method, tells httpd the request is fully
// answered (httpd's DONE): the remaining phases and the content handler do
// not run. The plugin is expected to have set what the client gets, e.g. a
// status line and headers.
var Done = errors.New("sdk: done")

// StatusError is returned by a Handler that wants httpd to answer with its
// own error document for Code (httpd's "return HTTP_NOT_FOUND").
type StatusError struct {
	Code int // 400..599
}

// HTTPError returns a *StatusError for code. A Handler returns it before
// writing anything: httpd then sends its ErrorDocument for code.
// Codes outside 400..599 become 500 when the handler returns. A phase
// method (see PhaseRequest) may also return 300..399, with a Location set
// in ErrHeadersOut, to redirect the client.
func HTTPError(code int) error { return &StatusError{Code: code} }

func (e *StatusError) Error() string {
	return fmt.Sprintf("sdk: http status %d %s", e.Code, http.StatusText(e.Code))
}
