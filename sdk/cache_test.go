package sdk_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/gobridge/gobridge/sdk"
	"github.com/gobridge/gobridge/sdk/sdktest"
)

func TestETag(t *testing.T) {
	a, b := sdk.ETag([]byte("hello")), sdk.ETag([]byte("hello"))
	if a != b || a[0] != '"' || a[len(a)-1] != '"' || a == sdk.ETag([]byte("other")) {
		t.Errorf("ETag(hello) = %q, %q; want equal quoted tags that differ for other content", a, b)
	}
	if w := sdk.WeakETag(a); w != "W/"+a {
		t.Errorf("WeakETag(%s) = %s", a, w)
	}
	if w := sdk.WeakETag("v1"); w != `W/"v1"` {
		t.Errorf(`WeakETag(v1) = %s; want W/"v1"`, w)
	}
}

func TestMeetsConditions(t *testing.T) {
	mtime := time.Date(2024, 5, 1, 12, 0, 0, 500, time.UTC)
	before := mtime.Add(-time.Hour).Format(http.TimeFormat)
	after := mtime.Add(time.Hour).Format(http.TimeFormat)
	same := mtime.Format(http.TimeFormat)
	tag := `"abc"`
	for _, tc := range []struct {
		method string
		hdr    []string
		etag   string
		want   int
	}{
		{"GET", nil, tag, 200},
		{"GET", []string{"If-None-Match", `"abc"`}, tag, 304},
		{"HEAD", []string{"If-None-Match", `W/"abc"`}, tag, 304}, // weak comparison
		{"GET", []string{"If-None-Match", `"x", "abc"`}, tag, 304},
		{"GET", []string{"If-None-Match", `"x"`}, tag, 200},
		{"GET", []string{"If-None-Match", "*"}, tag, 304},
		{"POST", []string{"If-None-Match", `"abc"`}, tag, 412},
		{"GET", []string{"If-Modified-Since", same}, tag, 304},
		{"GET", []string{"If-Modified-Since", after}, tag, 304},
		{"GET", []string{"If-Modified-Since", before}, tag, 200},
		// If-None-Match wins over If-Modified-Since.
		{"GET", []string{"If-None-Match", `"x"`, "If-Modified-Since", after}, tag, 200},
		{"PUT", []string{"If-Match", `"abc"`}, tag, 200},
		{"PUT", []string{"If-Match", `"x"`}, tag, 412},
		{"PUT", []string{"If-Match", `W/"abc"`}, tag, 412}, // strong comparison
		{"PUT", []string{"If-Match", `"abc"`}, `W/"abc"`, 412},
		{"PUT", []string{"If-Match", "*"}, "", 412},
		{"PUT", []string{"If-Unmodified-Since", before}, tag, 412},
		{"PUT", []string{"If-Unmodified-Since", same}, tag, 200},
	} {
		r := sdktest.NewRequest(tc.method, "/x", nil)
		for i := 0; i+1 < len(tc.hdr); i += 2 {
			r.Header.Set(tc.hdr[i], tc.hdr[i+1])
		}
		if got := r.MeetsConditions(tc.etag, mtime); got != tc.want {
			t.Errorf("%s %v etag %s: MeetsConditions = %d; want %d", tc.method, tc.hdr, tc.etag, got, tc.want)
		}
	}
}

func TestResponseValidators(t *testing.T) {
	req := sdktest.NewRequest("GET", "/x", nil)
	req.RequestTime = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	future := req.RequestTime.Add(time.Hour)
	rec := sdktest.Serve(t, sdk.HandlerFunc(func(w *sdk.ResponseWriter, r *sdk.Request) error {
		if err := w.SetETag(`bad"tag`); err == nil {
			t.Error(`SetETag(bad"tag) = nil; want an error`)
		}
		if err := w.SetETag(sdk.ETag([]byte("body"))); err != nil {
			t.Error(err)
		}
		w.SetLastModified(future)
		_, err := w.WriteString("body")
		return err
	}), req)
	if got := rec.Header.Get("ETag"); got != sdk.ETag([]byte("body")) {
		t.Errorf("ETag = %q", got)
	}
	if got, want := rec.Header.Get("Last-Modified"), req.RequestTime.Format(http.TimeFormat); got != want {
		t.Errorf("Last-Modified = %q; want %q (never after the request time)", got, want)
	}
}

func TestPhaseRequestObjectSetters(t *testing.T) {
	mt := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	rec := sdktest.RunPhase(t, sdk.PhaseFixups, func(r *sdk.PhaseRequest) error {
		r.SetAllowedMethods("GET", "HEAD", "PROPFIND")
		r.UpdateMtime(mt)
		r.SetETag(sdk.WeakETag("v7"))
		r.Set(sdk.TableConnNotes, "seen", "yes")
		if len(r.AllowedMethods) != 3 || !r.Mtime.Equal(mt) {
			t.Errorf("snapshot not updated: %v %v", r.AllowedMethods, r.Mtime)
		}
		return nil
	}, sdktest.NewRequest("GET", "/x", nil))
	if got := rec.Fields["allowed_methods"]; got != "GET,HEAD,PROPFIND" {
		t.Errorf("allowed_methods = %q", got)
	}
	if got := rec.Fields["mtime"]; got != strconv.FormatInt(mt.UnixMicro(), 10) {
		t.Errorf("mtime = %q", got)
	}
	if v, _ := rec.Get(sdk.TableHeadersOut, "ETag"); v != `W/"v7"` {
		t.Errorf("ETag = %q", v)
	}
	if v, _ := rec.Get(sdk.TableConnNotes, "seen"); v != "yes" {
		t.Errorf("conn note = %q", v)
	}
}

func TestRequestObjectRoundTrip(t *testing.T) {
	req := sdktest.NewRequest("GET", "/x", nil)
	req.AllowedMethods = []string{"GET", "POST"}
	req.ConnNotes = []sdk.Pair{{Key: "k", Value: "v"}}
	req.TLS = &sdk.TLSInfo{Protocol: "TLSv1.3", Cipher: "TLS_AES_128_GCM_SHA256", ClientVerify: "NONE"}
	req.ServerAliases = []string{"www.example.org", "*.example.net"}
	req.IsVirtualHost, req.IsDefaultVhost = true, true
	req.Defines = []string{"PRODUCTION"}
	rec := sdktest.RunPhase(t, sdk.PhaseAccess, func(r *sdk.PhaseRequest) error {
		if len(r.AllowedMethods) != 2 || len(r.ConnNotes) != 1 || r.TLS == nil || r.TLS.Protocol != "TLSv1.3" ||
			len(r.ServerAliases) != 2 || !r.IsVirtualHost || !r.IsDefaultVhost || len(r.Defines) != 1 {
			t.Errorf("request object lost on the wire: %+v tls=%+v", r.Request, r.TLS)
		}
		return nil
	}, req)
	if rec.Result != sdktest.OK {
		t.Errorf("result %v", rec.Result)
	}
}
