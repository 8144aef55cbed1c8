package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"strings"
	"testing"

	"github.com/gobridge/gobridge/sdk"
	"github.com/gobridge/gobridge/sdk/sdktest"
)

func request(accept, ct string, headersOut ...sdk.Pair) *sdk.Request {
	r := sdktest.NewRequest("GET", "/docs/a", nil)
	if accept != "" {
		r.Header.Set("Accept-Encoding", accept)
	}
	r.Status = 200
	r.ContentType = ct
	r.HeaderOut = headersOut
	return r
}

func TestCompresses(t *testing.T) {
	body := []byte(strings.Repeat("compress me, please. ", 20000))
	rec := sdktest.RunFilter(t, gzipFilter{}, sdk.OutputFilter,
		request("br, gzip;q=0.8", "text/html; charset=utf-8", sdk.Pair{Key: "ETag", Value: `"abc"`}), body)
	if !rec.Done {
		t.Fatalf("not done: declined=%v err=%v", rec.Declined, rec.Err)
	}
	zr, err := gzip.NewReader(rec.Output)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(got, body) {
		t.Errorf("gunzipped %d bytes (%v); want the %d sent", len(got), err, len(body))
	}
	for key, want := range map[string]string{"Content-Encoding": "gzip", "Vary": "Accept-Encoding", "ETag": `"abc-gzip"`} {
		if v, _ := rec.Header(key); v != want {
			t.Errorf("%s = %q; want %q", key, v, want)
		}
	}
}

func TestDeclines(t *testing.T) {
	for _, tc := range []struct {
		name string
		req  *sdk.Request
	}{
		{"no Accept-Encoding", request("", "text/plain")},
		{"gzip refused", request("gzip;q=0, identity", "text/plain")},
		{"image", request("gzip", "image/png")},
		{"already encoded", request("gzip", "text/plain", sdk.Pair{Key: "Content-Encoding", Value: "br"})},
		{"not 200", func() *sdk.Request { r := request("gzip", "text/plain"); r.Status = 206; return r }()},
	} {
		rec := sdktest.RunFilter(t, gzipFilter{}, sdk.OutputFilter, tc.req, []byte("data"))
		if !rec.Declined {
			t.Errorf("%s: not declined (output %q)", tc.name, rec.Output)
		}
	}
}

func TestFlushIsASyncFlush(t *testing.T) {
	rec := sdktest.RunFilterChunks(t, gzipFilter{}, sdk.OutputFilter, request("gzip", "application/json"),
		[]sdktest.FilterChunk{{Data: []byte(`{"first":`), Flush: true}, {Data: []byte(`1}`)}})
	zr, err := gzip.NewReader(bytes.NewReader(rec.Answers[0]))
	if err != nil {
		t.Fatal(err)
	}
	first := make([]byte, len(`{"first":`))
	if _, err := io.ReadFull(zr, first); err != nil {
		t.Errorf("the answer to the flushed chunk does not decompress to it: %v", err)
	}
}
