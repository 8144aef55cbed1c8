package sdk

import (
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/gobridge/gobridge/internal/wire"
	pb "github.com/gobridge/gobridge/proto/gobridge/v1"
)

// SubRequest is what httpd found when it looked up another URI or file as
// a sub-request, the way mod_include and mod_dir look before they include
// or serve something: the request phases up to fixups ran for it (URI
// translation, access control, authentication and authorization, type
// checking), its handler did not.
type SubRequest struct {
	// Status is 200 when every phase let the sub-request through, else
	// the status a phase ended it with: 403 for a location denied to this
	// client, 401 for one that needs a login, 500, … A file that does not
	// exist still looks up with 200 (File is nil): only its handler answers
	// 404, so Include reports that.
	Status int

	URI               string // r->uri: the decoded path
	Args              string // the query string
	PathInfo          string
	Filename          string // the file the URI maps to
	CanonicalFilename string
	ContentType       string // as mod_mime and the type checkers set it
	ContentEncoding   string
	Handler           string // the handler that would serve it: "gobridge" for a GoBridgeHandler location

	// File describes what Filename names on disk; nil if nothing does.
	File *FileInfo

	// Header is the sub-request's headers_out, in order, when the lookup
	// asked for it (LookupHeaders); nil otherwise.
	Header []Pair
}

// FileInfo describes the file a sub-request maps to, as httpd stat(2)ed it.
type FileInfo struct {
	Size      int64
	ModTime   time.Time
	IsDir     bool
	IsRegular bool // neither a directory nor a regular file: a device, FIFO, socket
}

// SubRequestOption changes what a lookup (Request.LookupURI, LookupFile)
// asks httpd.
type SubRequestOption func(*subRequestOptions)

// subRequestOptions is what the options set.
type subRequestOptions struct {
	method  string
	headers bool
}

// LookupMethod makes the sub-request use method instead of GET (for URI
// lookups; an access rule like <Limit POST> may answer differently).
func LookupMethod(method string) SubRequestOption {
	return func(o *subRequestOptions) { o.method = method }
}

// LookupHeaders also fetches the sub-request's headers_out (SubRequest.Header).
func LookupHeaders() SubRequestOption {
	return func(o *subRequestOptions) { o.headers = true }
}

// LookupURI asks httpd what it would do with uri, a local URI
// ("/path[?query]", %-escaped as on the wire), as a GET sub-request of this
// request (ap_sub_req_lookup_uri): which file it maps to, its content type,
// the handler that would serve it, whether this client may have it. It costs
// one round trip to httpd. The sub-request is not run; see
// ResponseWriter.Include for that.
//
// It returns an error if uri is not local (it must start with '/' and hold
// no control character, space or '#'; httpd refuses it too, GB0341), if
// httpd refused the lookup, or when the request is gone. A lookup that httpd
// made is never an error, whatever its Status.
func (r *Request) LookupURI(uri string, opts ...SubRequestOption) (*SubRequest, error) {
	return r.lookup("LookupURI", pb.SubRequest_KIND_URI, uri, opts)
}

// LookupFile is LookupURI for a file (ap_sub_req_lookup_file): path must be
// absolute. httpd applies the <Directory> and <Files> sections that cover
// it; the sub-request's URI is httpd's own placeholder unless the file lies
// in the directory of this request's file.
func (r *Request) LookupFile(path string, opts ...SubRequestOption) (*SubRequest, error) {
	return r.lookup("LookupFile", pb.SubRequest_KIND_FILE, path, opts)
}

func (r *Request) lookup(op string, kind pb.SubRequest_Kind, target string, opts []SubRequestOption) (*SubRequest, error) {
	if r.call == nil {
		return nil, fmt.Errorf("sdk: %s(%q): sub-requests are made from a content handler only", op, target)
	}
	var o subRequestOptions
	for _, opt := range opts {
		opt(&o)
	}
	q := &pb.SubRequest{Kind: kind, Target: []byte(target), HeadersOut: o.headers}
	if o.method != "" {
		q.Method = []byte(o.method)
	}
	if kind == pb.SubRequest_KIND_FILE && len(q.Method) > 0 {
		return nil, fmt.Errorf("sdk: %s(%q): a file lookup takes no method", op, target)
	}
	if err := checkSubRequest(q); err != nil {
		return nil, fmt.Errorf("sdk: %s(%q): %w", op, target, err)
	}
	res, err := r.call.subRequest(&pb.HandleResponse{SubRequest: q})
	if err != nil {
		return nil, fmt.Errorf("sdk: %s(%q): %w", op, target, err)
	}
	return res, nil
}

// Include runs uri (a local URI, as for Request.LookupURI) as a GET
// sub-request whose output becomes part of this response right where the
// handler has written to, like mod_include's <!--#include virtual-->:
// whatever serves it (a static file, CGI, another plugin) writes into this
// response through its output filters. The status and headers are sent
// first if they were not sent yet, so Header() and WriteHeader no longer
// count afterwards; the sub-request's own status and headers are not sent
// (set them on this response).
//
// It returns the sub-request's status: 200 (or the status its handler set)
// when it ran, the status its lookup ended with (403, 401, …) when httpd
// did not run it, the status its handler failed with (404 for a missing
// file) when nothing was inserted. Such a status is not an error: write
// something else instead, or go on. It costs one round trip. It returns an
// error, and sends nothing, for a URI that is not local, after
// InternalRedirect or SendFile (ErrHandedOff), and once the request is gone.
func (w *ResponseWriter) Include(uri string) (int, error) {
	return w.include("Include", pb.SubRequest_KIND_URI, uri)
}

// IncludeFile is Include for an absolute file path, looked up as
// Request.LookupFile does and run like <!--#include file-->.
func (w *ResponseWriter) IncludeFile(path string) (int, error) {
	return w.include("IncludeFile", pb.SubRequest_KIND_FILE, path)
}

func (w *ResponseWriter) include(op string, kind pb.SubRequest_Kind, target string) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.redirect != "" || w.sendFile != nil {
		return 0, ErrHandedOff
	}
	q := &pb.SubRequest{Kind: kind, Target: []byte(target), Run: true}
	if err := checkSubRequest(q); err != nil {
		return 0, fmt.Errorf("sdk: %s(%q): %w", op, target, err)
	}
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	m := &pb.HandleResponse{SubRequest: q}
	w.fill(m, true) // the head and the body so far go first
	res, err := w.c.subRequest(m)
	w.buf = w.buf[:0]
	if err != nil {
		err = fmt.Errorf("sdk: %s(%q): %w", op, target, err)
		var refused *refusedError
		if !errors.As(err, &refused) {
			w.err = err // the stream is broken
		}
		return 0, err
	}
	return res.Status, nil
}

// checkSubRequest refuses what httpd would refuse, without a round trip.
func checkSubRequest(q *pb.SubRequest) error {
	t := string(q.Target)
	switch {
	case len(t) > maxSubRequestTarget:
		return fmt.Errorf("target longer than %d bytes", maxSubRequestTarget)
	case q.Kind == pb.SubRequest_KIND_URI && !wire.ValidRedirect(t):
		return errors.New("not a local URI: it must start with '/' and hold no control character, space or '#'")
	case q.Kind == pb.SubRequest_KIND_URI && len(q.Method) > 0 && !wire.ValidName(string(q.Method)):
		return fmt.Errorf("method %q is not a token", q.Method)
	case q.Kind == pb.SubRequest_KIND_FILE && (!filepath.IsAbs(t) || strings.ContainsFunc(t, isCtl)):
		return errors.New("not an absolute path without control characters")
	}
	return nil
}

// maxSubRequestTarget is the longest target httpd looks up (its default
// LimitRequestLine).
const maxSubRequestTarget = 8190

func isCtl(r rune) bool { return r < 0x20 || r == 0x7f }

// refusedError is httpd's refusal of a sub-request: the stream is fine.
type refusedError struct{ why string }

func (e *refusedError) Error() string { return "httpd refused it: " + e.why }

// subRequest sends m, which carries a SubRequest, and returns httpd's
// answer.
func (c *call) subRequest(m *pb.HandleResponse) (*SubRequest, error) {
	id := c.subID.Add(1)
	m.SubRequest.Id = id
	in, err := c.send(m, true)
	switch {
	case err != nil:
		return nil, err
	case in.GetSubRequest() == nil:
		return nil, errors.New("protocol error: httpd answered a sub-request with something else")
	case in.GetSubRequest().GetId() != id:
		return nil, fmt.Errorf("protocol error: answer for sub-request %d, asked %d", in.GetSubRequest().GetId(), id)
	}
	a := in.GetSubRequest()
	if len(a.GetRefused()) > 0 {
		return nil, &refusedError{why: string(a.GetRefused())}
	}
	s := &SubRequest{
		Status:            int(a.GetStatus()),
		URI:               string(a.GetUri()),
		Args:              string(a.GetArgs()),
		PathInfo:          string(a.GetPathInfo()),
		Filename:          string(a.GetFilename()),
		CanonicalFilename: string(a.GetCanonicalFilename()),
		ContentType:       string(a.GetContentType()),
		ContentEncoding:   string(a.GetContentEncoding()),
		Handler:           string(a.GetHandler()),
	}
	if f := a.GetFile(); f != nil {
		s.File = &FileInfo{
			Size:      f.GetSize(),
			IsDir:     f.GetType() == pb.FileInfo_TYPE_DIRECTORY,
			IsRegular: f.GetType() == pb.FileInfo_TYPE_REGULAR,
		}
		if us := f.GetMtimeUs(); us != 0 {
			s.File.ModTime = time.UnixMicro(us)
		}
	}
	if m.SubRequest.HeadersOut {
		s.Header = make([]Pair, 0, len(a.GetHeadersOut()))
		for _, p := range a.GetHeadersOut() {
			s.Header = append(s.Header, Pair{Key: string(p.GetKey()), Value: string(p.GetValue())})
		}
	}
	return s, nil
}

func init() {
	wire.Hooks.RoundTripRaw = func(w any, m *pb.HandleResponse) (*pb.HandleRequest, error) {
		rw := w.(*ResponseWriter)
		rw.headSent = true // whatever m holds, the SDK must not send a head now
		return rw.c.send(m, true)
	}
}
