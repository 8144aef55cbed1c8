package sdk

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"path/filepath"
	"strings"

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
	err       error        // sticky: the stream is broken
	redirect  string       // InternalRedirect
	sendFile  *pb.SendFile // SendFile
}

// ErrHandedOff is returned by Write and Flush after InternalRedirect or
// SendFile: httpd produces the response body, the handler no longer does.
var ErrHandedOff = errors.New("sdk: the response was handed to httpd (InternalRedirect or SendFile)")

// InternalRedirect makes httpd serve uri ("/path[?query]", local to this
// server) instead of this request once the handler returns nil, like
// ap_internal_redirect: the new URI runs through all request phases again
// as an internally redirected request (Request.IsInternalRedirect, PrevURI
// and PrevStatus tell it so), and its response is the client's response.
// It costs no round trip: the redirect rides along with the end of the
// call. The status, Header(), ErrHeader() and any body written so far
// (still buffered) are discarded: the new request makes its own response.
//
// It returns an error, and changes nothing, if uri is not a local URI
// (it must start with '/' and hold no control character, space or '#'),
// if the response has already started (Flush, or more than 256 KiB
// written), or after SendFile. If the handler returns an error, the
// redirect is not made.
func (w *ResponseWriter) InternalRedirect(uri string) error {
	switch {
	case !wire.ValidRedirect(uri):
		return fmt.Errorf("sdk: internal redirect to %q: not a local URI starting with '/' (no control characters, spaces or '#')", uri)
	case w.headSent:
		return errors.New("sdk: internal redirect after the response started")
	case w.sendFile != nil:
		return errors.New("sdk: internal redirect after SendFile")
	}
	w.redirect = uri
	w.buf = w.buf[:0]
	return nil
}

// SendFile makes the whole file at path (absolute) the response body,
// sent by httpd itself once the handler returns nil: httpd opens the file
// as Apache's User and passes it to its output filters as a file bucket,
// so the kernel's sendfile(2) (EnableSendfile) or mmap (EnableMMAP) is
// used, and the plugin's connection is free while the client downloads.
// As with httpd's own static files, Last-Modified and ETag (FileETag) come
// from the file unless set in Header(), conditional requests
// (If-Modified-Since, If-None-Match, If-Match, If-Unmodified-Since) are
// answered with 304/412 by httpd, and Range requests on a 200 response
// with 206 (or 416). The status (WriteHeader) and Header() set before the
// handler returns are the response's; without a Content-Type, SendFile
// sets one from the file name's extension when it knows it.
//
// It costs no round trip: the file rides along with the end of the call.
// So it cannot report a missing or unreadable file; httpd answers those
// with 404, 403 or 500 and logs why (GB0301). It returns an error, and
// changes nothing, if path is not absolute, if something was written
// already, or after InternalRedirect or another SendFile.
func (w *ResponseWriter) SendFile(path string) error { return w.SendFileRange(path, 0, 0) }

// SendFileRange is SendFile for length bytes of the file from offset
// (length 0: to the end). The range must lie inside the file, or httpd
// answers 500. Last-Modified and ETag still describe the whole file.
func (w *ResponseWriter) SendFileRange(path string, offset, length int64) error {
	switch {
	case !filepath.IsAbs(path) || strings.ContainsRune(path, 0):
		return fmt.Errorf("sdk: SendFile(%q): not an absolute path", path)
	case offset < 0 || length < 0:
		return fmt.Errorf("sdk: SendFile(%q): negative offset or length", path)
	case w.headSent || len(w.buf) > 0:
		return errors.New("sdk: SendFile after Write or Flush")
	case w.redirect != "" || w.sendFile != nil:
		return errors.New("sdk: SendFile after InternalRedirect or SendFile")
	}
	if w.header.Get("Content-Type") == "" {
		if t := mime.TypeByExtension(filepath.Ext(path)); t != "" {
			w.header.Set("Content-Type", t)
		}
	}
	w.sendFile = &pb.SendFile{Path: []byte(path), Offset: offset, Length: length}
	return nil
}

// Header returns the response headers (r->headers_out). Changes after the
// head was sent (the first Flush or 256 KiB of body) have no effect.
// Hop-by-hop headers and Content-Length are left out: httpd frames the
// response itself.
func (w *ResponseWriter) Header() http.Header { return w.header }

// ErrHeader returns the headers that httpd keeps even on an error
// document (r->err_headers_out), such as Set-Cookie or WWW-Authenticate.
// They are sent with the response, and also with httpd's error document
// when the handler returns HTTPError before the response started:
//
//	w.ErrHeader().Set("WWW-Authenticate", `Bearer realm="api"`)
//	return sdk.HTTPError(http.StatusUnauthorized)
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
	if w.redirect != "" || w.sendFile != nil {
		return 0, ErrHandedOff
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
	if w.redirect != "" || w.sendFile != nil {
		return ErrHandedOff
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

// errHeaderPairs is ErrHeader() for the wire, for an error document
// (Finish.err_headers), invalid headers logged and left out.
func (w *ResponseWriter) errHeaderPairs() []*pb.Pair {
	ps, bad := wire.HeaderToPairs(w.errHeader)
	for _, name := range bad {
		w.req.Logger().Warn("invalid response header left out", "header", name)
	}
	return ps
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
