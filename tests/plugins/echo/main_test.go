package main

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/gobridge/gobridge/sdk"
	"github.com/gobridge/gobridge/sdk/sdktest"
)

func TestActions(t *testing.T) {
	h := sdk.HandlerFunc(serve)
	body := bytes.Repeat([]byte("0123456789"), 50_000)
	sum := sha256.Sum256(body)
	dl := sha256.New()
	_, _ = io.Copy(dl, &pattern{n: 2 << 20})
	tests := []struct {
		method, target string
		body           []byte
		wantCode       int
		wantBody       string // substring
	}{
		{"GET", "/e/pid", nil, 200, ""},
		{"GET", "/e/headers?status=201&h=X-Test:1", nil, 201, `"Host":["example.com"]`},
		{"POST", "/e/sha256", body, 200, fmt.Sprintf(`{"bytes":%d,"sha256":"%x"}`, len(body), sum)},
		{"POST", "/e/echo", []byte("ping"), 200, "ping"},
		{"GET", "/e/log?marker=M1", nil, 200, "logged"},
		{"GET", "/e/options", nil, 200, "null"},
		{"GET", "/e/flush?n=2", nil, 200, "line 1"},
		{"GET", "/e/nope", nil, 404, "unknown action"},
	}
	for _, tt := range tests {
		var b io.Reader
		if tt.body != nil {
			b = bytes.NewReader(tt.body)
		}
		rec := sdktest.Serve(t, h, sdktest.NewRequest(tt.method, tt.target, b))
		if rec.Code != tt.wantCode || !strings.Contains(rec.Body.String(), tt.wantBody) {
			t.Errorf("%s %s = %d %.80q; want %d containing %q", tt.method, tt.target, rec.Code, rec.Body, tt.wantCode, tt.wantBody)
		}
	}
	rec := sdktest.Serve(t, h, sdktest.NewRequest("GET", "/e/download?mb=2", nil))
	if rec.Body.Len() != 2<<20 {
		t.Errorf("download?mb=2 = %d bytes; want %d", rec.Body.Len(), 2<<20)
	}
	if got := sha256.Sum256(rec.Body.Bytes()); !bytes.Equal(got[:], dl.Sum(nil)) {
		t.Errorf("download?mb=2 sha256 = %x; want %x", got, dl.Sum(nil))
	}
	rec = sdktest.Serve(t, h, sdktest.NewRequest("GET", "/e/status?code=418", nil))
	if rec.Finish != sdktest.HTTPStatus || rec.FinishStatus != 418 {
		t.Errorf("status?code=418 = %v %d; want HTTPStatus 418", rec.Finish, rec.FinishStatus)
	}
}
