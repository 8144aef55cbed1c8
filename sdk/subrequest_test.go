package sdk_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobridge/gobridge/internal/wire"
	pb "github.com/gobridge/gobridge/proto/gobridge/v1"
	"github.com/gobridge/gobridge/sdk"
	"github.com/gobridge/gobridge/sdk/sdktest"
)

// In local time, as the SDK reports times.
var mtime = time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC).Local()

func subModule() *sdktest.Module {
	return &sdktest.Module{SubRequests: map[string]*sdktest.SubRequest{
		"/static.txt": {SubRequest: sdk.SubRequest{
			URI: "/static.txt", Filename: "/srv/htdocs/static.txt", CanonicalFilename: "/srv/htdocs/static.txt",
			ContentType: "text/plain", File: &sdk.FileInfo{Size: 12, ModTime: mtime, IsRegular: true},
			Header: []sdk.Pair{{Key: "X-A", Value: "1"}},
		}, Body: "static file\n"},
		"/private/": {SubRequest: sdk.SubRequest{Status: 403, URI: "/private/"}, Body: "never"},
		"/gone.txt": {SubRequest: sdk.SubRequest{URI: "/gone.txt"}, IncludeStatus: 404, Body: "never"},
		"/srv/htdocs": {SubRequest: sdk.SubRequest{Filename: "/srv/htdocs",
			File: &sdk.FileInfo{Size: 4096, IsDir: true}}},
	}}
}

func TestLookup(t *testing.T) {
	tests := []struct {
		name   string
		lookup func(r *sdk.Request) (*sdk.SubRequest, error)
		want   sdk.SubRequest
		call   sdktest.SubRequestCall
	}{{
		name:   "static file",
		lookup: func(r *sdk.Request) (*sdk.SubRequest, error) { return r.LookupURI("/static.txt") },
		want: sdk.SubRequest{Status: 200, URI: "/static.txt", Filename: "/srv/htdocs/static.txt",
			CanonicalFilename: "/srv/htdocs/static.txt", ContentType: "text/plain",
			File: &sdk.FileInfo{Size: 12, ModTime: mtime, IsRegular: true}},
		call: sdktest.SubRequestCall{Target: "/static.txt", Method: "GET", Status: 200},
	}, {
		name: "headers and method",
		lookup: func(r *sdk.Request) (*sdk.SubRequest, error) {
			return r.LookupURI("/static.txt", sdk.LookupMethod("HEAD"), sdk.LookupHeaders())
		},
		want: sdk.SubRequest{Status: 200, URI: "/static.txt", Filename: "/srv/htdocs/static.txt",
			CanonicalFilename: "/srv/htdocs/static.txt", ContentType: "text/plain",
			File:   &sdk.FileInfo{Size: 12, ModTime: mtime, IsRegular: true},
			Header: []sdk.Pair{{Key: "X-A", Value: "1"}}},
		call: sdktest.SubRequestCall{Target: "/static.txt", Method: "HEAD", Headers: true, Status: 200},
	}, {
		name:   "denied",
		lookup: func(r *sdk.Request) (*sdk.SubRequest, error) { return r.LookupURI("/private/") },
		want:   sdk.SubRequest{Status: 403, URI: "/private/"},
		call:   sdktest.SubRequestCall{Target: "/private/", Method: "GET", Status: 403},
	}, {
		name:   "unknown to the test",
		lookup: func(r *sdk.Request) (*sdk.SubRequest, error) { return r.LookupURI("/nope?a=1") },
		want:   sdk.SubRequest{Status: 404},
		call:   sdktest.SubRequestCall{Target: "/nope?a=1", Method: "GET", Status: 404},
	}, {
		name:   "file",
		lookup: func(r *sdk.Request) (*sdk.SubRequest, error) { return r.LookupFile("/srv/htdocs") },
		want:   sdk.SubRequest{Status: 200, Filename: "/srv/htdocs", File: &sdk.FileInfo{Size: 4096, IsDir: true}},
		call:   sdktest.SubRequestCall{File: true, Target: "/srv/htdocs", Status: 200},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got *sdk.SubRequest
			h := sdk.HandlerFunc(func(w *sdk.ResponseWriter, r *sdk.Request) error {
				var err error
				got, err = tc.lookup(r)
				return err
			})
			rec := subModule().Serve(t, h, sdktest.NewRequest("GET", "/x", nil))
			if rec.Finish != sdktest.OK || rec.Code != 200 {
				t.Fatalf("finish %v code %d; want OK 200 (logs %v)", rec.Finish, rec.Code, rec.Logs)
			}
			if !reflect.DeepEqual(*got, tc.want) {
				t.Errorf("got  %+v %+v\nwant %+v %+v", *got, got.File, tc.want, tc.want.File)
			}
			if len(rec.SubRequests) != 1 || fmt.Sprint(rec.SubRequests[0]) != fmt.Sprint(tc.call) {
				t.Errorf("recorded %+v; want [%+v]", rec.SubRequests, tc.call)
			}
			if rec.Messages != 2 {
				t.Errorf("messages = %d; want 2 (the question, then the response)", rec.Messages)
			}
		})
	}
}

func TestLookupRefused(t *testing.T) {
	for _, tc := range []struct {
		target string
		file   bool
		opts   []sdk.SubRequestOption
	}{
		{target: "http://elsewhere/"}, {target: "relative"}, {target: ""}, {target: "/a b"},
		{target: "/a\r\nX: y"}, {target: "/a#frag"}, {target: "/" + strings.Repeat("a", 9000)},
		{target: "/x", opts: []sdk.SubRequestOption{sdk.LookupMethod("GE T")}},
		{target: "relative.txt", file: true}, {target: "/a\x00b", file: true},
		{target: "/x", file: true, opts: []sdk.SubRequestOption{sdk.LookupMethod("GET")}},
	} {
		h := sdk.HandlerFunc(func(w *sdk.ResponseWriter, r *sdk.Request) error {
			var err error
			if tc.file {
				_, err = r.LookupFile(tc.target, tc.opts...)
			} else {
				_, err = r.LookupURI(tc.target, tc.opts...)
			}
			if err == nil {
				t.Errorf("lookup of %q (file %v) = nil error; want a refusal", tc.target, tc.file)
			}
			switch {
			case tc.opts != nil: // options are for lookups only
				err = errors.New("skipped")
			case tc.file:
				_, err = w.IncludeFile(tc.target)
			default:
				_, err = w.Include(tc.target)
			}
			if err == nil {
				t.Errorf("include of %q (file %v) = nil error; want a refusal", tc.target, tc.file)
			}
			_, err = w.WriteString("still fine")
			return err
		})
		rec := subModule().Serve(t, h, sdktest.NewRequest("GET", "/x", nil))
		if len(rec.SubRequests) != 0 || rec.Body.String() != "still fine" {
			t.Errorf("target %q: sent %v, body %q; want nothing sent, the response intact", tc.target, rec.SubRequests, rec.Body)
		}
	}
}

// The module refuses what the SDK would not send; the handler gets the
// reason and the stream goes on.
func TestLookupRefusedByModule(t *testing.T) {
	h := sdk.HandlerFunc(func(w *sdk.ResponseWriter, r *sdk.Request) error {
		in, err := wire.Hooks.RoundTripRaw(w, &pb.HandleResponse{SubRequest: &pb.SubRequest{
			Id: 7, Kind: pb.SubRequest_KIND_URI, Target: []byte("//x y")}})
		if err != nil {
			return err
		}
		if a := in.GetSubRequest(); a.GetId() != 7 || !strings.Contains(string(a.GetRefused()), "not a local URI") {
			t.Errorf("answer %v; want id 7, refused as not a local URI", a)
		}
		return nil
	})
	rec := sdktest.Serve(t, h, sdktest.NewRequest("GET", "/x", nil))
	if rec.Finish != sdktest.OK || len(rec.SubRequests) != 1 || rec.SubRequests[0].Refused == "" {
		t.Errorf("finish %v, sub-requests %+v; want OK and one refused", rec.Finish, rec.SubRequests)
	}
}

func TestInclude(t *testing.T) {
	var statuses []int
	h := sdk.HandlerFunc(func(w *sdk.ResponseWriter, r *sdk.Request) error {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(201)
		for _, uri := range []string{"/static.txt", "/private/", "/gone.txt", "/nope"} {
			fmt.Fprintf(w, "<%s>", uri)
			st, err := w.Include(uri)
			if err != nil {
				return err
			}
			statuses = append(statuses, st)
		}
		w.Header().Set("X-Late", "ignored")
		_, err := w.WriteString("<end>")
		return err
	})
	rec := subModule().Serve(t, h, sdktest.NewRequest("GET", "/x", nil))
	want := "</static.txt>static file\n</private/></gone.txt></nope><end>"
	if rec.Code != 201 || rec.Body.String() != want || rec.Header.Get("Content-Type") != "text/html" {
		t.Errorf("= %d %q (%q); want 201 %q text/html", rec.Code, rec.Body, rec.Header.Get("Content-Type"), want)
	}
	if rec.Header.Get("X-Late") != "" {
		t.Error("a header set after Include was sent")
	}
	if fmt.Sprint(statuses) != "[200 403 404 404]" {
		t.Errorf("statuses %v; want [200 403 404 404]", statuses)
	}
	if len(rec.SubRequests) != 4 || !rec.SubRequests[0].Include {
		t.Errorf("recorded %+v; want 4 includes", rec.SubRequests)
	}
}

func TestIncludeAfterHandOff(t *testing.T) {
	h := sdk.HandlerFunc(func(w *sdk.ResponseWriter, r *sdk.Request) error {
		if err := w.InternalRedirect("/y"); err != nil {
			return err
		}
		if _, err := w.Include("/static.txt"); !errors.Is(err, sdk.ErrHandedOff) {
			t.Errorf("Include after InternalRedirect = %v; want ErrHandedOff", err)
		}
		return nil
	})
	if rec := subModule().Serve(t, h, sdktest.NewRequest("GET", "/x", nil)); len(rec.SubRequests) != 0 || rec.Redirect != "/y" {
		t.Errorf("sub-requests %v, redirect %q; want none, /y", rec.SubRequests, rec.Redirect)
	}
}

func TestDiscardBody(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 1<<20)
	for _, tc := range []struct {
		name     string
		read     int // bytes to read before discarding
		messages int
	}{
		// discard_body is a message of its own, which httpd does not answer
		{name: "unread", read: 0, messages: 2},
		{name: "partly read", read: 300 << 10, messages: 3}, // and one read_body
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := sdk.HandlerFunc(func(w *sdk.ResponseWriter, r *sdk.Request) error {
				if _, err := io.ReadFull(r.Body, make([]byte, tc.read)); err != nil {
					return err
				}
				if err := r.DiscardBody(); err != nil {
					return err
				}
				if n, err := r.Body.Read(make([]byte, 10)); n != 0 || err != io.EOF {
					t.Errorf("Read after DiscardBody = %d, %v; want 0, EOF", n, err)
				}
				if err := r.DiscardBody(); err != nil {
					t.Errorf("second DiscardBody = %v", err)
				}
				_, err := w.WriteString("ok")
				return err
			})
			rec := sdktest.Serve(t, h, sdktest.NewRequest("POST", "/x", bytes.NewReader(big)))
			if !rec.Discarded || rec.BodySent != int64(len(big)) || rec.Body.String() != "ok" {
				t.Errorf("discarded %v, body sent %d, response %q; want true, %d, ok", rec.Discarded, rec.BodySent, rec.Body, len(big))
			}
			if rec.Messages != tc.messages {
				t.Errorf("messages = %d; want %d (discarding costs no round trip)", rec.Messages, tc.messages)
			}
		})
	}

	// A body that arrived whole needs nothing from httpd.
	h := sdk.HandlerFunc(func(w *sdk.ResponseWriter, r *sdk.Request) error { return r.DiscardBody() })
	rec := sdktest.Serve(t, h, sdktest.NewRequest("POST", "/x", strings.NewReader("small")))
	if rec.Discarded || rec.Messages != 1 {
		t.Errorf("small body: discarded %v, messages %d; want false, 1", rec.Discarded, rec.Messages)
	}
}

// Lookups from another goroutine while the body streams keep the stream's
// order (call.mu): every answer goes to its question.
func TestLookupConcurrentWithBody(t *testing.T) {
	body := bytes.Repeat([]byte("y"), 2<<20)
	h := sdk.HandlerFunc(func(w *sdk.ResponseWriter, r *sdk.Request) error {
		var wg sync.WaitGroup
		errs := make(chan error, 20)
		for i := 0; i < 20; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sr, err := r.LookupURI("/static.txt")
				if err == nil && sr.Filename != "/srv/htdocs/static.txt" {
					err = fmt.Errorf("got %+v", sr)
				}
				errs <- err
			}()
		}
		n, err := io.Copy(io.Discard, r.Body)
		wg.Wait()
		close(errs)
		for e := range errs {
			if e != nil {
				return e
			}
		}
		if err != nil || n != int64(len(body)) {
			return fmt.Errorf("read %d bytes: %v", n, err)
		}
		return nil
	})
	rec := subModule().Serve(t, h, sdktest.NewRequest("POST", "/x", bytes.NewReader(body)))
	if rec.Finish != sdktest.OK || len(rec.SubRequests) != 20 {
		t.Errorf("finish %v (%v), %d sub-requests; want OK, 20", rec.Finish, rec.Logs, len(rec.SubRequests))
	}
}

func TestSubRequestOutsideHandler(t *testing.T) {
	r := sdktest.NewRequest("GET", "/x", nil)
	if _, err := r.LookupURI("/y"); err == nil {
		t.Error("LookupURI on a request not served by a handler = nil error")
	}
	if err := r.DiscardBody(); err == nil {
		t.Error("DiscardBody on a request not served by a handler = nil error")
	}
}

// Over the real gRPC service, as the module drives it.
func TestSubRequestOverGRPC(t *testing.T) {
	h := sdk.HandlerFunc(func(w *sdk.ResponseWriter, r *sdk.Request) error {
		sr, err := r.LookupURI("/static.txt")
		if err != nil {
			return err
		}
		if err := r.DiscardBody(); err != nil {
			return err
		}
		fmt.Fprintf(w, "%s|", sr.ContentType)
		if _, err := w.Include("/static.txt"); err != nil {
			return err
		}
		_, err = w.WriteString("|end")
		return err
	})
	req := sdktest.NewRequest("POST", "/x", io.MultiReader(bytes.NewReader(make([]byte, 1<<20))))
	rec := subModule().Do(t, sdktest.Conn(t, &sdk.ServeConfig{Handler: h}), req)
	if rec.Finish != sdktest.OK || rec.Body.String() != "text/plain|static file\n|end" || !rec.Discarded {
		t.Errorf("finish %v, body %q, discarded %v; want OK, %q, true (logs %v)",
			rec.Finish, rec.Body, rec.Discarded, "text/plain|static file\n|end", rec.Logs)
	}
}
