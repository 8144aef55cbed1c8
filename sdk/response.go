package sdk

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/gobridge/gobridge/internal/wire"
	pb "github.com/gobridge/gobridge/proto/gobridge/v1"
)

// ResponseWriter builds the response of a content handler. It works like
// http.ResponseWriter: set headers, then WriteHeader (optional), then
// Write. Writes are buffered up to 256 KiB, then sent to httpd as one body
// chunk; the first chunk carries the status and headers. A response that
// fits in the buffer reaches httpd in a single message, together with the
// end of the response, when the handler returns.
//
// A ResponseWriter is not safe for concurrent use, and must not be used
// after the handler returned.
type ResponseWriter struct {
	c         *call
	req       *Request
	header    http.Header
	errHeader http.Header
	status    int  // 0 until WriteHeader
	headSent  bool // the head went to httpd: the status is final
	buf       []byte
	err       error // sticky: the stream is broken
}

// Header returns the response headers (r->headers_out). Changes after the
// head was sent (the first Flush or 256 KiB of body) have no effect.
// Hop-by-hop headers and Content-Length are left out: httpd frames the
// response itself.
func (w *ResponseWriter) Header() http.Header { return w.header }

// ErrHeader returns the headers that httpd keeps even on an error
// document (r->err_headers_out), such as Set-Cookie or WWW-Authenticate.
func (w *ResponseWriter) ErrHeader() http.Header {
	if w.errHeader == nil {
		w.errHeader = make(http.Header)
	}
	return w.errHeader
}

// WriteHeader sets the response status. Only the first call counts. Like
// net/http, a code below 100 or above 999 panics. 1xx informational
// responses are not supported and are ignored; 600..999 become 500.
func (w *ResponseWriter) WriteHeader(code int) {
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("sdk: invalid WriteHeader code %v", code))
	}
	if w.status != 0 {
		w.req.Logger().Debug("superfluous WriteHeader call", "status", code)
		return
	}
	switch {
	case code < 200:
		w.req.Logger().Debug("1xx responses are not supported; ignored", "status", code)
		return
	case code > 599:
		w.req.Logger().Error("invalid response status; sending 500", "status", code)
		code = http.StatusInternalServerError
	}
	w.status = code
}

// Status returns the status set so far, 0 if none.
func (w *ResponseWriter) Status() int { return w.status }

// Write adds p to the response body, sending the status (200 unless
// WriteHeader said otherwise) and headers first if they were not sent yet.
// It returns an error once httpd or the client went away.
func (w *ResponseWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	n := 0
	for len(p) > 0 {
		if len(w.buf) == 0 && len(p) >= wire.MaxChunk {
			// Large writes go out in place, without copying.
			if err := w.sendBody(p[:wire.MaxChunk], false); err != nil {
				return n, err
			}
			n += wire.MaxChunk
			p = p[wire.MaxChunk:]
			continue
		}
		k := min(len(p), wire.MaxChunk-len(w.buf))
		w.buf = append(w.buf, p[:k]...)
		n += k
		p = p[k:]
		if len(w.buf) == wire.MaxChunk {
			if err := w.sendBody(w.buf, false); err != nil {
				return n, err
			}
			w.buf = w.buf[:0]
		}
	}
	return n, nil
}

// WriteString is like Write.
func (w *ResponseWriter) WriteString(s string) (int, error) { return w.Write([]byte(s)) }

// Flush sends the status, headers and buffered body to httpd and asks it to
// push them to the client now.
func (w *ResponseWriter) Flush() error {
	if w.err != nil {
		return w.err
	}
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	err := w.sendBody(w.buf, true)
	w.buf = w.buf[:0]
	return err
}

// sendBody sends body (and the head if it is still due).
func (w *ResponseWriter) sendBody(body []byte, flush bool) error {
	m := &pb.HandleResponse{Body: body, Flush: flush}
	w.fill(m, false)
	_, err := w.c.send(m, false)
	if err != nil {
		w.err = fmt.Errorf("sdk: sending response: %w", err)
		if errors.Is(err, errGone) {
			w.err = errGone
		}
	}
	return w.err
}

// fill puts the head, if it is still due, into m; with buffered, also the
// buffered body.
func (w *ResponseWriter) fill(m *pb.HandleResponse, buffered bool) {
	if !w.headSent {
		m.Head = w.head()
		w.headSent = true
	}
	if buffered && len(w.buf) > 0 {
		m.Body = w.buf
	}
}

func (w *ResponseWriter) head() *pb.ResponseHead {
	code := w.status
	if code == 0 {
		code = http.StatusOK
	}
	h := &pb.ResponseHead{Status: int32(code)}
	var bad, badErr []string
	h.Headers, bad = wire.HeaderToPairs(w.header)
	h.ErrHeaders, badErr = wire.HeaderToPairs(w.errHeader)
	for _, name := range append(bad, badErr...) {
		w.req.Logger().Warn("invalid response header left out", "header", name)
	}
	return h
}
