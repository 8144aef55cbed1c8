// Command subreq is the end-to-end test plugin for the content handler's
// mid-request calls into httpd: sub-request lookups, includes and
// discarding the request body. What it does is chosen by the last segment
// of the request path; parameters come from the query string:
//
//	…/lookup?uri=U        Request.LookupURI(U) as JSON (see result); &method=M
//	                      uses LookupMethod(M), &headers=1 LookupHeaders()
//	…/lookupfile?path=P   Request.LookupFile(P) as JSON
//	…/include?u=U&u=V     writes "<begin>\n", then for each U: Include(U) and
//	                      "\n<status N>\n"; then "<end>\n". &file=1 uses
//	                      IncludeFile; &ct=T sets the Content-Type, &status=N
//	                      the status; &buffer=1 writes 300 KiB of '.' first
//	                      (so the head and a full chunk go out before)
//	…/many?n=N&uri=U      looks U up N times, answers "N lookups, status S"
//	…/rawinclude?u=U      asks, past the SDK, for an include before any head,
//	                      then writes "<after>": the module sends its own head
//	…/rawlookup?uri=U     asks, past the SDK's checks, for a lookup of U and
//	                      answers httpd's refusal (or "not refused")
//	…/inner               "inner(sub=BOOL main=URI)": a target for includes
//	…/self                "(", Include of its own URI, ")" and the status:
//	                      recursion that httpd's LimitInternalRecursion ends
//	…/discard?read=N      reads N bytes of the body, calls DiscardBody, then
//	                      answers "read N, then EOF" (what Body gives after it),
//	                      flushed at once; &gate=URL first notifies the test's
//	                      gate URL (tests/gate) that it is about to discard
//
// A refused lookup or include answers 200 with {"error": …} and logs the
// error at error level. Anything else answers 404.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/gobridge/gobridge/internal/wire"
	pb "github.com/gobridge/gobridge/proto/gobridge/v1"
	"github.com/gobridge/gobridge/sdk"
	"github.com/gobridge/gobridge/tests/gate"
)

func main() { sdk.ServeHandler(sdk.HandlerFunc(serve)) }

// result is a SubRequest as JSON.
type result struct {
	Status            int        `json:"status"`
	URI               string     `json:"uri"`
	Args              string     `json:"args"`
	PathInfo          string     `json:"path_info"`
	Filename          string     `json:"filename"`
	CanonicalFilename string     `json:"canonical_filename"`
	ContentType       string     `json:"content_type"`
	ContentEncoding   string     `json:"content_encoding"`
	Handler           string     `json:"handler"`
	File              *file      `json:"file"`
	Header            []sdk.Pair `json:"header"`
	Error             string     `json:"error,omitempty"`
}

type file struct {
	Size    int64  `json:"size"`
	MtimeUs int64  `json:"mtime_us"`
	IsDir   bool   `json:"is_dir"`
	IsReg   bool   `json:"is_regular"`
	ModTime string `json:"mod_time"`
}

func serve(w *sdk.ResponseWriter, r *sdk.Request) error {
	q, _ := url.ParseQuery(r.Args)
	switch path.Base(r.URI) {
	case "lookup":
		var opts []sdk.SubRequestOption
		if m := q.Get("method"); m != "" {
			opts = append(opts, sdk.LookupMethod(m))
		}
		if q.Get("headers") != "" {
			opts = append(opts, sdk.LookupHeaders())
		}
		sr, err := r.LookupURI(q.Get("uri"), opts...)
		return answer(w, r, sr, err)
	case "lookupfile":
		sr, err := r.LookupFile(q.Get("path"))
		return answer(w, r, sr, err)
	case "include":
		return include(w, r, q)
	case "many":
		n, _ := strconv.Atoi(q.Get("n"))
		st := 0
		for i := 0; i < n; i++ {
			sr, err := r.LookupURI(q.Get("uri"))
			if err != nil {
				return err
			}
			st = sr.Status
		}
		_, err := fmt.Fprintf(w, "%d lookups, status %d", n, st)
		return err
	case "rawinclude":
		in, err := wire.Hooks.RoundTripRaw(w, &pb.HandleResponse{SubRequest: &pb.SubRequest{
			Id: 1, Kind: pb.SubRequest_KIND_URI, Target: []byte(q.Get("u")), Run: true}})
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "\n<after status %d>\n", in.GetSubRequest().GetStatus())
		return err
	case "rawlookup":
		in, err := wire.Hooks.RoundTripRaw(w, &pb.HandleResponse{SubRequest: &pb.SubRequest{
			Id: 1, Kind: pb.SubRequest_KIND_URI, Target: []byte(q.Get("uri"))}})
		if err != nil {
			return err
		}
		if why := in.GetSubRequest().GetRefused(); len(why) > 0 {
			_, err = fmt.Fprintf(w, "refused: %s", why)
			return err
		}
		_, err = w.WriteString("not refused")
		return err
	case "inner":
		_, err := fmt.Fprintf(w, "inner(sub=%v main=%s)", r.IsSubrequest, r.MainURI)
		return err
	case "self":
		if _, err := w.WriteString("("); err != nil {
			return err
		}
		st, err := w.Include(r.URI)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, ")%d", st)
		return err
	case "discard":
		n, _ := strconv.ParseInt(q.Get("read"), 10, 64)
		got, err := io.CopyN(io.Discard, r.Body, n)
		if err != nil {
			return fmt.Errorf("reading %d bytes of the body: %w", n, err)
		}
		if u := q.Get("gate"); u != "" {
			if err := gate.Notify(r.Context(), u); err != nil {
				return err
			}
		}
		if err := r.DiscardBody(); err != nil {
			return err
		}
		k, err := r.Body.Read(make([]byte, 1))
		if k != 0 || err != io.EOF {
			return fmt.Errorf("Read after DiscardBody = %d, %v; want 0, EOF", k, err)
		}
		if _, err := fmt.Fprintf(w, "read %d, then EOF", got); err != nil {
			return err
		}
		// Now, not at the end of the request, when httpd would discard
		// the body itself before sending the last of the response.
		return w.Flush()
	}
	w.WriteHeader(http.StatusNotFound)
	_, err := w.WriteString("subreq: unknown action; see the package documentation\n")
	return err
}

func answer(w *sdk.ResponseWriter, r *sdk.Request, sr *sdk.SubRequest, err error) error {
	var res result
	if err != nil {
		r.Logger().Error("sub-request failed", "err", err)
		res.Error = err.Error()
	} else {
		res = result{Status: sr.Status, URI: sr.URI, Args: sr.Args, PathInfo: sr.PathInfo,
			Filename: sr.Filename, CanonicalFilename: sr.CanonicalFilename, ContentType: sr.ContentType,
			ContentEncoding: sr.ContentEncoding, Handler: sr.Handler, Header: sr.Header}
		if f := sr.File; f != nil {
			res.File = &file{Size: f.Size, MtimeUs: f.ModTime.UnixMicro(), IsDir: f.IsDir, IsReg: f.IsRegular,
				ModTime: f.ModTime.UTC().Format(time.RFC3339)}
		}
	}
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(res)
}

func include(w *sdk.ResponseWriter, r *sdk.Request, q url.Values) error {
	if ct := q.Get("ct"); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	if st, _ := strconv.Atoi(q.Get("status")); st != 0 {
		w.WriteHeader(st)
	}
	if q.Get("buffer") != "" {
		if _, err := w.WriteString(strings.Repeat(".", 300<<10) + "\n"); err != nil {
			return err
		}
	}
	if _, err := w.WriteString("<begin>\n"); err != nil {
		return err
	}
	for _, u := range q["u"] {
		var st int
		var err error
		if q.Get("file") != "" {
			st, err = w.IncludeFile(u)
		} else {
			st, err = w.Include(u)
		}
		if err != nil {
			r.Logger().Error("include failed", "err", err)
			_, err = fmt.Fprintf(w, "\n<error %s>\n", err)
			if err != nil {
				return err
			}
			continue
		}
		if _, err := fmt.Fprintf(w, "\n<status %d>\n", st); err != nil {
			return err
		}
	}
	_, err := w.WriteString("<end>\n")
	return err
}
