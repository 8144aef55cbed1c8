package main

import (
	"testing"

	"github.com/gobridge/gobridge/sdk"
	"github.com/gobridge/gobridge/sdk/sdktest"
)

func TestHello(t *testing.T) {
	for _, tc := range []struct {
		target   string
		greeting string // GoBridgeOption greeting; "" for none
		want     string
	}{
		{"/hello", "", "Hello, world, from Go via gobridge!\n"},
		{"/hello?name=Apache", "", "Hello, Apache, from Go via gobridge!\n"},
		{"/hello?name=Apache", "Bonjour", "Bonjour, Apache, from Go via gobridge!\n"},
		{"/hello?name=%zz", "", "Hello, world, from Go via gobridge!\n"}, // bad query: ignored
	} {
		req := sdktest.NewRequest("GET", tc.target, nil)
		if tc.greeting != "" {
			req.Options = sdk.Pairs{{Key: "greeting", Value: tc.greeting}}
		}
		rec := sdktest.Serve(t, sdk.HandlerFunc(hello), req)
		if rec.Code != 200 || rec.Body.String() != tc.want {
			t.Errorf("GET %s (greeting %q) = %d %q; want 200 %q", tc.target, tc.greeting, rec.Code, rec.Body, tc.want)
		}
		if ct := rec.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
			t.Errorf("GET %s: Content-Type = %q; want text/plain; charset=utf-8", tc.target, ct)
		}
	}
}
