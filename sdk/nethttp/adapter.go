// Package nethttp serves an ordinary net/http http.Handler, such as an
// http.ServeMux, as a gobridge content handler, the way net/http/cgi and
// net/http/fcgi serve one behind a CGI or FastCGI web server:
//
//	mux := http.NewServeMux()
//	mux.HandleFunc("GET /app/hello", hello)
//	sdk.ServeHandler(nethttp.Handler(mux))
//
// The handler sees an *http.Request built from httpd's view of the request
// (method, URL, Host, headers, RemoteAddr, TLS, a streaming Body) and
// writes through an http.ResponseWriter that also implements http.Flusher.
// httpd's own extras (GoBridgeOption values, the authenticated user, notes,
// subprocess_env, the log id) are available through Env.
package nethttp

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"

	"github.com/gobridge/gobridge/sdk"
)

type ctxKey struct{}

// Env returns httpd's snapshot of the request behind r: GoBridgeOption
// values (Option, Options), User, AuthType, Notes, SubprocessEnv, LogID,
// Filename and the request's Logger, whose records go to httpd's error log.
// Read the body from r.Body, not from the snapshot. Env returns nil when r
// was not served through Handler (for example when the same mux runs under
// http.ListenAndServe).
func Env(r *http.Request) *sdk.Request {
	v, _ := r.Context().Value(ctxKey{}).(*sdk.Request)
	return v
}

// Handler returns an sdk.Handler that serves requests through h.
func Handler(h http.Handler) sdk.Handler { return &adapter{h: h} }

type adapter struct{ h http.Handler }

func (a *adapter) ServeGoBridge(w *sdk.ResponseWriter, r *sdk.Request) error {
	req, err := newRequest(r)
	if err != nil {
		r.Logger().Error("cannot build an http.Request", "err", err)
		return sdk.HTTPError(http.StatusBadRequest)
	}
	rw := &responseWriter{w: w, req: req}
	a.h.ServeHTTP(rw, req)
	if !rw.wroteHeader {
		rw.WriteHeader(http.StatusOK)
	}
	return nil
}

// newRequest builds the *http.Request that Handler passes to the
// http.Handler: what net/http's server would have made of the request
// httpd received. Its context carries r for Env.
func newRequest(r *sdk.Request) (*http.Request, error) {
	u, err := url.ParseRequestURI(r.UnparsedURI)
	if err != nil {
		return nil, fmt.Errorf("nethttp: bad request URI %q: %w", r.UnparsedURI, err)
	}
	major, minor, ok := http.ParseHTTPVersion(r.Protocol)
	if !ok {
		major, minor = 1, 1
	}
	h := r.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	host := h.Get("Host")
	if host == "" {
		host = r.Hostname
	}
	delete(h, "Host")
	req := &http.Request{
		Method:     r.Method,
		URL:        u,
		Proto:      fmt.Sprintf("HTTP/%d.%d", major, minor),
		ProtoMajor: major,
		ProtoMinor: minor,
		Header:     h,
		Host:       host,
		RequestURI: r.UnparsedURI,
		RemoteAddr: remoteAddr(r),
		Body:       r.Body,
	}
	switch {
	case r.Body == nil || r.Body == http.NoBody:
		req.Body = http.NoBody
		req.ContentLength = 0
	case r.ContentLength < 0:
		req.ContentLength = -1
		req.TransferEncoding = []string{"chunked"}
		delete(h, "Transfer-Encoding")
	default:
		req.ContentLength = r.ContentLength
	}
	if r.Secure {
		req.TLS = &tls.ConnectionState{HandshakeComplete: true, ServerName: r.Hostname}
	}
	ctx := context.WithValue(r.Context(), ctxKey{}, r)
	if la, err := net.ResolveTCPAddr("tcp", r.LocalAddr); err == nil && r.LocalAddr != "" {
		ctx = context.WithValue(ctx, http.LocalAddrContextKey, la)
	}
	return req.WithContext(ctx), nil
}

// remoteAddr is the client's address as httpd sees it (useragent_ip, so
// mod_remoteip applies) with the connection's port, like CGI's REMOTE_ADDR
// and REMOTE_PORT.
func remoteAddr(r *sdk.Request) string {
	_, port, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		port = "0"
	}
	ip := r.UseragentIP
	if ip == "" {
		if h, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
			ip = h
		} else {
			return r.RemoteAddr
		}
	}
	return net.JoinHostPort(ip, port)
}

// responseWriter implements http.ResponseWriter and http.Flusher on top of
// an sdk.ResponseWriter, with net/http's semantics for status and
// Content-Type sniffing.
type responseWriter struct {
	w           *sdk.ResponseWriter
	req         *http.Request
	wroteHeader bool
	code        int
}

var (
	_ http.ResponseWriter = (*responseWriter)(nil)
	_ http.Flusher        = (*responseWriter)(nil)
)

func (rw *responseWriter) Header() http.Header { return rw.w.Header() }

func (rw *responseWriter) WriteHeader(code int) {
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	if rw.wroteHeader {
		return
	}
	if code < 200 {
		return // informational responses are not relayed
	}
	rw.wroteHeader = true
	rw.code = code
	rw.w.WriteHeader(code)
}

func (rw *responseWriter) Write(p []byte) (int, error) {
	if !rw.wroteHeader {
		h := rw.w.Header()
		if _, ok := h["Content-Type"]; !ok && len(p) > 0 && h.Get("Content-Encoding") == "" {
			h.Set("Content-Type", http.DetectContentType(p))
		}
		rw.WriteHeader(http.StatusOK)
	}
	if !bodyAllowed(rw.code) {
		return 0, http.ErrBodyNotAllowed
	}
	if rw.req.Method == http.MethodHead {
		return len(p), nil
	}
	return rw.w.Write(p)
}

// Flush sends what was written so far to the client.
func (rw *responseWriter) Flush() { _ = rw.FlushError() }

// FlushError is Flush reporting failure; http.ResponseController uses it.
func (rw *responseWriter) FlushError() error {
	if !rw.wroteHeader {
		rw.WriteHeader(http.StatusOK)
	}
	return rw.w.Flush()
}

func bodyAllowed(code int) bool {
	return code != http.StatusNoContent && code != http.StatusNotModified
}
