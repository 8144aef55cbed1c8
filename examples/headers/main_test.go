package main

import (
	"testing"

	"github.com/gobridge/gobridge/sdk"
	"github.com/gobridge/gobridge/sdk/sdktest"
)

func TestAccess(t *testing.T) {
	for _, tc := range []struct {
		uri, deny string
		want      sdktest.Result
	}{
		{"/headers/index.html", "", sdktest.Declined},
		{"/headers/.git/config", "", sdktest.HTTPStatus},
		{"/headers/secret/x", "secret, .git", sdktest.HTTPStatus},
		{"/headers/secretive", "secret", sdktest.Declined}, // whole segments only
	} {
		req := sdktest.NewRequest("GET", tc.uri, nil)
		if tc.deny != "" {
			req.Options = sdk.Pairs{{Key: "deny", Value: tc.deny}}
		}
		rec := sdktest.RunPhase(t, sdk.PhaseAccess, headers{}.CheckAccess, req)
		if rec.Result != tc.want || (tc.want == sdktest.HTTPStatus && rec.Status != 403) {
			t.Errorf("%s (deny %q): %v %d; want %v", tc.uri, tc.deny, rec.Result, rec.Status, tc.want)
		}
	}
}

func TestFixup(t *testing.T) {
	req := sdktest.NewRequest("GET", "/headers/", nil)
	req.Options = sdk.Pairs{{Key: "header", Value: "X-Demo"}}
	rec := sdktest.RunPhase(t, sdk.PhaseFixups, headers{}.Fixup, req)
	if rec.Result != sdktest.OK {
		t.Fatalf("result %v; want OK", rec.Result)
	}
	if v, _ := rec.Get(sdk.TableErrHeadersOut, "X-Demo"); v != "gobridge" {
		t.Errorf("X-Demo = %q; want gobridge", v)
	}
	if v, _ := rec.Get(sdk.TableNotes, "gobridge-headers"); v != "fixed-up" {
		t.Errorf("note = %q; want fixed-up", v)
	}
}

// A sub-request (mod_dir looking up index.html) is declined, so the header
// is not sent twice when httpd merges the sub-request's headers.
func TestFixupSkipsSubrequests(t *testing.T) {
	req := sdktest.NewRequest("GET", "/headers/index.html", nil)
	req.IsSubrequest = true
	rec := sdktest.RunPhase(t, sdk.PhaseFixups, headers{}.Fixup, req)
	if rec.Result != sdktest.Declined || len(rec.Mutations) != 0 {
		t.Errorf("sub-request: %v with %d mutations; want Declined with none", rec.Result, len(rec.Mutations))
	}
}
