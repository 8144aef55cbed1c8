package sdk_test

import (
	"fmt"
	"net/http"
	"time"

	"github.com/gobridge/gobridge/sdk"
	"github.com/gobridge/gobridge/sdk/sdktest"
)

func ExamplePair() {
	r := sdktest.NewRequest("GET", "/", nil)
	r.SubprocessEnv = append(r.SubprocessEnv, sdk.Pair{Key: "UNIQUE_ID", Value: "Zx1"})
	for _, p := range r.SubprocessEnv {
		fmt.Println(p.Key, p.Value)
	}
	// Output: UNIQUE_ID Zx1
}

func ExamplePairs() {
	// HeaderList keeps the request headers as the client sent them:
	// spelling, order and repeats.
	r := sdktest.NewRequest("GET", "/", nil)
	r.HeaderList = sdk.Pairs{{Key: "host", Value: "example.com"}, {Key: "X-Tag", Value: "a"}, {Key: "x-tag", Value: "b"}}
	fmt.Println(len(r.HeaderList), r.HeaderList[0].Key)
	// Output: 3 host
}

func ExamplePairs_Has() {
	notes := sdk.Pairs{{Key: "no-gzip", Value: ""}}
	fmt.Println(notes.Has("No-Gzip"), notes.Has("gzip"))
	// Output: true false
}

func ExamplePairs_Lookup() {
	notes := sdk.Pairs{{Key: "no-gzip", Value: ""}}
	v, ok := notes.Lookup("no-gzip")
	fmt.Printf("%q %v\n", v, ok)
	// Output: "" true
}

func ExamplePairs_Values() {
	h := sdk.Pairs{{Key: "Accept", Value: "text/html"}, {Key: "accept", Value: "*/*"}}
	fmt.Println(h.Values("ACCEPT"))
	// Output: [text/html */*]
}

func ExampleTLSInfo() {
	// Require a client certificate that mod_ssl verified.
	p := func(r *sdk.PhaseRequest) error {
		if r.TLS == nil || r.TLS.ClientVerify != "SUCCESS" {
			return sdk.HTTPError(http.StatusForbidden)
		}
		return r.SetUser(r.TLS.ClientSubject)
	}
	req := sdktest.NewRequest("GET", "https://example.com/", nil)
	req.TLS = &sdk.TLSInfo{Protocol: "TLSv1.3", ClientVerify: "SUCCESS", ClientSubject: "CN=ann,O=Example"}
	rec := sdktest.RunPhase(nil, sdk.PhaseAuthn, p, req)
	fmt.Println(rec.Result, rec.Fields["user"])
	// Output: OK CN=ann,O=Example
}

func ExampleSubRequest() {
	// Link to a file only if this client may fetch it.
	h := sdk.HandlerFunc(func(w *sdk.ResponseWriter, r *sdk.Request) error {
		sr, err := r.LookupURI("/reports/q1.pdf")
		if err != nil {
			return err
		}
		if sr.Status == http.StatusOK && sr.File != nil {
			_, err = fmt.Fprintf(w, "<a href=%q>Q1 (%d bytes, %s)</a>\n", sr.URI, sr.File.Size, sr.ContentType)
		}
		return err
	})
	m := &sdktest.Module{SubRequests: map[string]*sdktest.SubRequest{"/reports/q1.pdf": {SubRequest: sdk.SubRequest{
		URI: "/reports/q1.pdf", ContentType: "application/pdf", File: &sdk.FileInfo{Size: 5120, IsRegular: true},
	}}}}
	fmt.Print(m.Serve(nil, h, sdktest.NewRequest("GET", "/", nil)).Body)
	// Output: <a href="/reports/q1.pdf">Q1 (5120 bytes, application/pdf)</a>
}

func ExampleFileInfo() {
	h := sdk.HandlerFunc(func(w *sdk.ResponseWriter, r *sdk.Request) error {
		sr, err := r.LookupFile("/srv/www/docs")
		if err != nil {
			return err
		}
		if fi := sr.File; fi != nil {
			_, err = fmt.Fprintln(w, fi.IsDir, fi.IsRegular, fi.ModTime.Year())
		}
		return err
	})
	m := &sdktest.Module{SubRequests: map[string]*sdktest.SubRequest{"/srv/www/docs": {SubRequest: sdk.SubRequest{
		File: &sdk.FileInfo{IsDir: true, ModTime: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)},
	}}}}
	fmt.Print(m.Serve(nil, h, sdktest.NewRequest("GET", "/", nil)).Body)
	// Output: true false 2025
}

func ExampleSubRequestOption() {
	// Options change what a lookup asks httpd; they combine.
	opts := []sdk.SubRequestOption{sdk.LookupMethod("POST"), sdk.LookupHeaders()}
	h := sdk.HandlerFunc(func(w *sdk.ResponseWriter, r *sdk.Request) error {
		_, err := r.LookupURI("/api/upload", opts...)
		return err
	})
	rec := sdktest.Serve(nil, h, sdktest.NewRequest("GET", "/", nil))
	c := rec.SubRequests[0]
	fmt.Println(c.Method, c.Headers)
	// Output: POST true
}

func ExampleLookupMethod() {
	// Would a POST to /api/upload be allowed (<Limit POST> …)?
	h := sdk.HandlerFunc(func(w *sdk.ResponseWriter, r *sdk.Request) error {
		sr, err := r.LookupURI("/api/upload", sdk.LookupMethod(http.MethodPost))
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(w, sr.Status)
		return err
	})
	m := &sdktest.Module{SubRequests: map[string]*sdktest.SubRequest{"/api/upload": {SubRequest: sdk.SubRequest{Status: 401}}}}
	fmt.Print(m.Serve(nil, h, sdktest.NewRequest("GET", "/", nil)).Body)
	// Output: 401
}

func ExampleLookupHeaders() {
	h := sdk.HandlerFunc(func(w *sdk.ResponseWriter, r *sdk.Request) error {
		sr, err := r.LookupURI("/static/app.js", sdk.LookupHeaders())
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(w, sr.Header)
		return err
	})
	m := &sdktest.Module{SubRequests: map[string]*sdktest.SubRequest{"/static/app.js": {SubRequest: sdk.SubRequest{
		Header: []sdk.Pair{{Key: "Cache-Control", Value: "max-age=3600"}},
	}}}}
	fmt.Print(m.Serve(nil, h, sdktest.NewRequest("GET", "/", nil)).Body)
	// Output: [{Cache-Control max-age=3600}]
}
