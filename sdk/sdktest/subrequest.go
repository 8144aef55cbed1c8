package sdktest

import (
	"net/http"
	"path/filepath"
	"strings"

	"github.com/gobridge/gobridge/internal/wire"
	pb "github.com/gobridge/gobridge/proto/gobridge/v1"
)

// answer answers a sub_request as the module would, from mod.SubRequests,
// records it, and returns the body an include inserts.
func (mod *Module) answer(q *pb.SubRequest, rec *Recorder) (*pb.SubRequestResult, string) {
	call := SubRequestCall{
		File:    q.GetKind() == pb.SubRequest_KIND_FILE,
		Target:  string(q.GetTarget()),
		Include: q.GetRun(),
		Headers: q.GetHeadersOut(),
	}
	a := &pb.SubRequestResult{Id: q.GetId()}
	defer func() {
		call.Status, call.Refused = int(a.GetStatus()), string(a.GetRefused())
		rec.SubRequests = append(rec.SubRequests, call)
	}()
	if !call.File {
		call.Method = "GET"
		if len(q.GetMethod()) > 0 {
			call.Method = string(q.GetMethod())
		}
	}
	// The module's checks (gb_subreq_refusal).
	switch {
	case q.GetKind() != pb.SubRequest_KIND_URI && q.GetKind() != pb.SubRequest_KIND_FILE:
		rec.Violations = append(rec.Violations, "sub_request of kind "+q.GetKind().String())
		a.Refused = []byte("unknown kind")
	case len(call.Target) > 8190:
		a.Refused = []byte("target longer than 8190 bytes")
	case !call.File && !wire.ValidRedirect(call.Target):
		a.Refused = []byte("not a local URI: it must start with '/' and hold no control character, space or '#'")
	case !call.File && len(q.GetMethod()) > 0 && !wire.ValidName(call.Method):
		a.Refused = []byte("the method is not a token")
	case call.File && (!filepath.IsAbs(call.Target) || strings.ContainsFunc(call.Target, func(r rune) bool { return r < 0x20 || r == 0x7f })):
		a.Refused = []byte("not an absolute path without control characters")
	case call.File && len(q.GetMethod()) > 0:
		a.Refused = []byte("a file lookup takes no method")
	}
	if len(a.Refused) > 0 {
		return a, ""
	}

	sr := mod.SubRequests[call.Target]
	if sr == nil {
		a.Status = http.StatusNotFound
		return a, ""
	}
	a.Status = int32(sr.Status)
	if a.Status == 0 {
		a.Status = http.StatusOK
	}
	a.Uri, a.Args, a.PathInfo = []byte(sr.URI), []byte(sr.Args), []byte(sr.PathInfo)
	a.Filename, a.CanonicalFilename = []byte(sr.Filename), []byte(sr.CanonicalFilename)
	a.ContentType, a.ContentEncoding, a.Handler = []byte(sr.ContentType), []byte(sr.ContentEncoding), []byte(sr.Handler)
	if f := sr.File; f != nil {
		a.File = &pb.FileInfo{Type: pb.FileInfo_TYPE_OTHER, Size: f.Size}
		switch {
		case f.IsDir:
			a.File.Type = pb.FileInfo_TYPE_DIRECTORY
		case f.IsRegular:
			a.File.Type = pb.FileInfo_TYPE_REGULAR
		}
		if !f.ModTime.IsZero() {
			a.File.MtimeUs = f.ModTime.UnixMicro()
		}
	}
	if q.GetHeadersOut() {
		for _, p := range sr.Header {
			a.HeadersOut = append(a.HeadersOut, &pb.Pair{Key: []byte(p.Key), Value: []byte(p.Value)})
		}
	}
	if !q.GetRun() || a.Status != http.StatusOK {
		return a, ""
	}
	a.Ran = true
	if sr.IncludeStatus != 0 {
		a.Status = int32(sr.IncludeStatus)
	}
	if a.Status < 200 || a.Status > 299 {
		return a, ""
	}
	return a, sr.Body
}
