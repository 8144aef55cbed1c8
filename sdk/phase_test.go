package sdk_test

import (
	"errors"
	"testing"

	"github.com/gobridge/gobridge/sdk"
	"github.com/gobridge/gobridge/sdk/sdktest"
)

// phasePlugin implements every phase interface with one function.
type phasePlugin struct {
	f func(r *sdk.PhaseRequest) error
}

func (p phasePlugin) PostReadRequest(r *sdk.PhaseRequest) error { return p.f(r) }
func (p phasePlugin) TranslateName(r *sdk.PhaseRequest) error   { return p.f(r) }
func (p phasePlugin) MapToStorage(r *sdk.PhaseRequest) error    { return p.f(r) }
func (p phasePlugin) ParseHeader(r *sdk.PhaseRequest) error     { return p.f(r) }
func (p phasePlugin) CheckAccess(r *sdk.PhaseRequest) error     { return p.f(r) }
func (p phasePlugin) Authenticate(r *sdk.PhaseRequest) error    { return p.f(r) }
func (p phasePlugin) Authorize(r *sdk.PhaseRequest) error       { return p.f(r) }
func (p phasePlugin) CheckType(r *sdk.PhaseRequest) error       { return p.f(r) }
func (p phasePlugin) Fixup(r *sdk.PhaseRequest) error           { return p.f(r) }
func (p phasePlugin) LogTransaction(r *sdk.PhaseRequest) error  { return p.f(r) }

var allPhases = []sdk.Phase{
	sdk.PhasePostReadRequest, sdk.PhaseTranslateName, sdk.PhaseMapToStorage,
	sdk.PhaseHeaderParser, sdk.PhaseAccess, sdk.PhaseAuthn, sdk.PhaseAuthz,
	sdk.PhaseTypeChecker, sdk.PhaseFixups, sdk.PhaseLog,
}

func TestPhaseResults(t *testing.T) {
	for _, tc := range []struct {
		name   string
		err    error
		result sdktest.Result
		status int
	}{
		{"nil is OK", nil, sdktest.OK, 0},
		{"Declined", sdk.Declined, sdktest.Declined, 0},
		{"wrapped Declined", errors.Join(sdk.Declined), sdktest.Declined, 0},
		{"Done", sdk.Done, sdktest.Done, 0},
		{"403", sdk.HTTPError(403), sdktest.HTTPStatus, 403},
		{"302", sdk.HTTPError(302), sdktest.HTTPStatus, 302},
		{"200 is invalid: 500", sdk.HTTPError(200), sdktest.HTTPStatus, 500},
		{"other error: 500", errors.New("boom"), sdktest.HTTPStatus, 500},
	} {
		for _, ph := range allPhases {
			p := phasePlugin{f: func(r *sdk.PhaseRequest) error {
				if r.Phase != ph {
					t.Errorf("r.Phase = %v; want %v", r.Phase, ph)
				}
				return tc.err
			}}
			rec := sdktest.RunPhase(t, ph, p.f, sdktest.NewRequest("GET", "/x", nil))
			if rec.Result != tc.result || rec.Status != tc.status {
				t.Errorf("%s in %v: result %v %d; want %v %d", tc.name, ph, rec.Result, rec.Status, tc.result, tc.status)
			}
		}
	}
}

func TestPhasePanicIs500(t *testing.T) {
	p := phasePlugin{f: func(r *sdk.PhaseRequest) error { panic("oops") }}
	rec := sdktest.RunPhase(t, sdk.PhaseFixups, p.f, sdktest.NewRequest("GET", "/x", nil))
	if rec.Result != sdktest.HTTPStatus || rec.Status != 500 || !rec.Logged("panicked") {
		t.Errorf("panic: %v %d logs %v; want HTTPStatus 500 with a log", rec.Result, rec.Status, rec.Logs)
	}
}

func TestPhaseMutations(t *testing.T) {
	p := phasePlugin{f: func(r *sdk.PhaseRequest) error {
		r.Set(sdk.TableNotes, "n", "1")
		r.Add(sdk.TableHeadersOut, "X-A", "a")
		r.Add(sdk.TableHeadersOut, "X-A", "b")
		r.Set(sdk.TableSubprocessEnv, "E", "v")
		r.Unset(sdk.TableHeadersIn, "Cookie")
		r.SetNote("m", "2")
		r.SetFilename("/srv/x")
		r.SetContentType("text/plain; charset=utf-8")
		r.SetContentLanguages("en", "fr")
		r.SetUser("ann")
		r.SetNoCache(true)
		r.InternalRedirect("/other?q=1")
		r.SetGoBridgeHandler("echo")
		if r.Filename != "/srv/x" || r.User != "ann" || r.Handler != "gobridge" {
			t.Errorf("setters did not update the snapshot: %q %q %q", r.Filename, r.User, r.Handler)
		}
		return nil
	}}
	rec := sdktest.RunPhase(t, sdk.PhaseFixups, p.f, sdktest.NewRequest("GET", "/x", nil))
	if rec.Result != sdktest.OK {
		t.Fatalf("result %v; want OK (logs %v)", rec.Result, rec.Logs)
	}
	for _, c := range []struct {
		t    sdk.Table
		k, v string
		set  bool
	}{
		{sdk.TableNotes, "n", "1", true},
		{sdk.TableNotes, "m", "2", true},
		{sdk.TableHeadersOut, "x-a", "a", true},
		{sdk.TableSubprocessEnv, "E", "v", true},
		{sdk.TableHeadersIn, "Cookie", "", false},
	} {
		if v, ok := rec.Get(c.t, c.k); v != c.v || ok != c.set {
			t.Errorf("Get(%v, %q) = %q, %v; want %q, %v", c.t, c.k, v, ok, c.v, c.set)
		}
	}
	want := map[string]string{"filename": "/srv/x", "content_type": "text/plain; charset=utf-8",
		"content_languages": "en,fr", "user": "ann", "no_cache": "1", "gobridge_handler": "echo"}
	for k, v := range want {
		if rec.Fields[k] != v {
			t.Errorf("field %s = %q; want %q", k, rec.Fields[k], v)
		}
	}
	if rec.Redirect != "/other?q=1" {
		t.Errorf("redirect = %q", rec.Redirect)
	}
}

// Every setter checks its value by httpd's rule and returns an error
// wrapping ErrInvalidChange for one httpd would refuse, recording nothing:
// the answer the phase then gives (here OK) is what httpd gets, and httpd
// never sees an invalid change.
func TestPhaseInvalidSettersRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    func(r *sdk.PhaseRequest) error
	}{
		{"relative filename", func(r *sdk.PhaseRequest) error { return r.SetFilename("etc/passwd") }},
		{"uri without slash", func(r *sdk.PhaseRequest) error { return r.SetURI("x") }},
		{"CRLF in header", func(r *sdk.PhaseRequest) error { return r.Set(sdk.TableHeadersOut, "X", "a\r\nB: c") }},
		{"NUL in note", func(r *sdk.PhaseRequest) error { return r.Set(sdk.TableNotes, "k", "a\x00b") }},
		{"control character in env", func(r *sdk.PhaseRequest) error { return r.SetEnv("k", "a\x01b") }},
		{"bad key", func(r *sdk.PhaseRequest) error { return r.Set(sdk.TableNotes, "a b", "v") }},
		{"bad note key", func(r *sdk.PhaseRequest) error { return r.SetNote("a:b", "v") }},
		{"bad table", func(r *sdk.PhaseRequest) error { return r.Set(sdk.Table(9), "k", "v") }},
		{"hop-by-hop header", func(r *sdk.PhaseRequest) error { return r.Add(sdk.TableHeadersOut, "Connection", "close") }},
		{"Content-Length", func(r *sdk.PhaseRequest) error { return r.Set(sdk.TableErrHeadersOut, "content-length", "3") }},
		{"bad content type", func(r *sdk.PhaseRequest) error { return r.SetContentType("text") }},
		{"bad language", func(r *sdk.PhaseRequest) error { return r.SetContentLanguages("e n") }},
		{"bad status line", func(r *sdk.PhaseRequest) error { return r.SetStatusLine("99 x") }},
		{"bad redirect", func(r *sdk.PhaseRequest) error { return r.InternalRedirect("http://elsewhere/") }},
		{"NUL in user", func(r *sdk.PhaseRequest) error { return r.SetUser("a\x00") }},
		{"method with a space", func(r *sdk.PhaseRequest) error { return r.SetAllowedMethods("GE T") }},
		{"unquoted ETag", func(r *sdk.PhaseRequest) error { return r.SetETag("abc") }},
	} {
		var got error
		rec := sdktest.RunPhase(t, sdk.PhaseFixups, func(r *sdk.PhaseRequest) error {
			got = tc.f(r)
			return nil
		}, sdktest.NewRequest("GET", "/x", nil))
		if !errors.Is(got, sdk.ErrInvalidChange) {
			t.Errorf("%s: error %v; want one wrapping ErrInvalidChange", tc.name, got)
		}
		if rec.Result != sdktest.OK || len(rec.Mutations)+len(rec.Fields) != 0 || rec.Redirect != "" {
			t.Errorf("%s: %v with %d mutations, %d fields; want OK changing nothing", tc.name, rec.Result, len(rec.Mutations), len(rec.Fields))
		}
	}
}

// The log phase's answer changes nothing: a redirect there is refused.
func TestPhaseLogRefusesRedirect(t *testing.T) {
	var got error
	sdktest.RunPhase(t, sdk.PhaseLog, func(r *sdk.PhaseRequest) error {
		got = r.InternalRedirect("/x")
		return nil
	}, sdktest.NewRequest("GET", "/", nil))
	if !errors.Is(got, sdk.ErrInvalidChange) {
		t.Errorf("InternalRedirect in the log phase = %v; want ErrInvalidChange", got)
	}
}

func TestPhaseSnapshot(t *testing.T) {
	req := sdktest.NewRequest("GET", "/x?a=1", nil)
	req.Status = 200
	req.ContentLanguages = []string{"de"}
	req.HeaderOut = []sdk.Pair{{Key: "X-Before", Value: "1"}}
	req.Options = sdk.Pairs{{Key: "k", Value: "v"}}
	p := phasePlugin{f: func(r *sdk.PhaseRequest) error {
		if r.Status != 200 || r.Args != "a=1" || len(r.ContentLanguages) != 1 || r.HeaderOut[0].Key != "X-Before" || r.Option("k") != "v" {
			t.Errorf("snapshot not passed through: %+v", r.Request)
		}
		r.Logger().Warn("hello from fixups")
		return sdk.Declined
	}}
	rec := sdktest.RunPhase(t, sdk.PhaseFixups, p.f, req)
	if !rec.Logged("hello from fixups") {
		t.Errorf("log record missing: %v", rec.Logs)
	}
}
