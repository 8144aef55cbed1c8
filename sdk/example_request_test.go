package sdk_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gobridge/gobridge/sdk"
	"github.com/gobridge/gobridge/sdk/sdktest"
)

func ExampleRequest() {
	h := sdk.HandlerFunc(func(w *sdk.ResponseWriter, r *sdk.Request) error {
		_, err := fmt.Fprintf(w, "%s %s?%s from %s, plugin %s\n", r.Method, r.URI, r.Args, r.UseragentIP, r.Plugin)
		return err
	})
	rec := sdktest.Serve(nil, h, sdktest.NewRequest("GET", "/app/x?y=1", nil))
	fmt.Print(rec.Body)
	// Output: GET /app/x?y=1 from 192.0.2.1, plugin sdktest
}

func ExampleRequest_AbsoluteURL() {
	r := sdktest.NewRequest("GET", "https://www.example.org/a/b", nil)
	fmt.Println(r.AbsoluteURL("/login?next=%2Fa%2Fb"))
	r = sdktest.NewRequest("GET", "http://www.example.org:8080/", nil)
	fmt.Println(r.AbsoluteURL("done"))
	// Output:
	// https://www.example.org/login?next=%2Fa%2Fb
	// http://www.example.org:8080/done
}

func ExampleRequest_Set() {
	fixup := func(r *sdk.PhaseRequest) error {
		if err := r.Set(sdk.TableHeadersOut, "Cache-Control", "no-store"); err != nil {
			return err
		}
		// httpd would refuse this header: Set says so, and records nothing.
		err := r.Set(sdk.TableHeadersOut, "X-Bad", "a\r\nInjected: 1")
		fmt.Println(errors.Is(err, sdk.ErrInvalidChange))
		return nil
	}
	rec := sdktest.RunPhase(nil, sdk.PhaseFixups, fixup, sdktest.NewRequest("GET", "/", nil))
	fmt.Println(rec.Mutations)
	// Output:
	// true
	// [{headers_out set Cache-Control no-store}]
}

func ExampleRequest_Add() {
	fixup := func(r *sdk.PhaseRequest) error {
		_ = r.Add(sdk.TableErrHeadersOut, "Set-Cookie", "a=1")
		return r.Add(sdk.TableErrHeadersOut, "Set-Cookie", "b=2")
	}
	rec := sdktest.RunPhase(nil, sdk.PhaseFixups, fixup, sdktest.NewRequest("GET", "/", nil))
	for _, m := range rec.Mutations {
		fmt.Println(m.Op, m.Key, m.Value)
	}
	// Output:
	// add Set-Cookie a=1
	// add Set-Cookie b=2
}

func ExampleRequest_Unset() {
	// Drop the client's cookies before a proxied backend sees them.
	fixup := func(r *sdk.PhaseRequest) error { return r.Unset(sdk.TableHeadersIn, "Cookie") }
	rec := sdktest.RunPhase(nil, sdk.PhaseFixups, fixup, sdktest.NewRequest("GET", "/", nil))
	fmt.Println(rec.Mutations)
	// Output: [{headers_in unset Cookie }]
}

func ExampleRequest_SetNote() {
	// A handler leaves a note for the access log (%{app-user}n).
	h := sdk.HandlerFunc(func(w *sdk.ResponseWriter, r *sdk.Request) error {
		if err := r.SetNote("app-user", "ann"); err != nil {
			return err
		}
		// A key must be an HTTP token.
		fmt.Println(r.SetNote("app user", "ann"))
		return nil
	})
	rec := sdktest.Serve(nil, h, sdktest.NewRequest("GET", "/", nil))
	fmt.Println(rec.Notes)
	// Output:
	// sdk: invalid change: notes key "app user" is not an HTTP token
	// [{app-user ann}]
}

func ExampleRequest_SetEnv() {
	// An auth provider passes a claim on to CGI scripts as REMOTE_GROUP.
	p := sdk.PasswordCheckerFunc(func(r *sdk.Request, user, password string) (sdk.AuthnResult, error) {
		if password != "secret" {
			return sdk.AuthnDenied, nil
		}
		return sdk.AuthnGranted, r.SetEnv("REMOTE_GROUP", "staff")
	})
	rec := sdktest.CheckPassword(nil, p, nil, "ann", "secret")
	fmt.Println(rec.Authn, rec.Env)
	// Output: granted [{REMOTE_GROUP staff}]
}

func ExampleRequest_Context() {
	// The context ends when httpd gives up on the request or the client
	// goes away: pass it to whatever the handler waits for.
	h := sdk.HandlerFunc(func(w *sdk.ResponseWriter, r *sdk.Request) error {
		select {
		case <-time.After(time.Minute):
			return nil
		case <-r.Context().Done():
			return r.Context().Err()
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // a client that has gone already
	rec := sdktest.Serve(nil, h, sdktest.NewRequest("GET", "/slow", nil).WithContext(ctx))
	fmt.Println(rec.Finish)
	// Output: Unfinished
}

func ExampleRequest_WithContext() {
	r := sdktest.NewRequest("GET", "/", nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	r2 := r.WithContext(ctx)
	_, hasDeadline := r2.Context().Deadline()
	_, hadDeadline := r.Context().Deadline()
	fmt.Println(hasDeadline, hadDeadline)
	// Output: true false
}

func ExampleRequest_DiscardBody() {
	// Answer a large upload without reading it: httpd reads it away so
	// the connection can carry the client's next request.
	h := sdk.HandlerFunc(func(w *sdk.ResponseWriter, r *sdk.Request) error {
		if r.ContentLength > 1<<10 {
			if err := r.DiscardBody(); err != nil {
				return err
			}
			return sdk.HTTPError(http.StatusRequestEntityTooLarge)
		}
		return nil
	})
	rec := sdktest.Serve(nil, h, sdktest.NewRequest("PUT", "/up", bytes.NewReader(make([]byte, 1<<20))))
	fmt.Println(rec.Discarded, rec.BodySent, rec.FinishStatus)
	// Output: true 1048576 413
}

func ExampleRequest_Logger() {
	h := sdk.HandlerFunc(func(w *sdk.ResponseWriter, r *sdk.Request) error {
		r.Logger().Warn("quota almost used up", "user", "ann")
		r.Logger().Log(r.Context(), sdk.LevelNotice, "noticed")
		return nil
	})
	rec := sdktest.Serve(nil, h, sdktest.NewRequest("GET", "/", nil))
	for _, l := range rec.Logs {
		fmt.Println(l.Level, l.Message)
	}
	// Output:
	// WARN quota almost used up user=ann
	// INFO+2 noticed
}

func ExampleRequest_Option() {
	// GoBridgeOption greeting Hello (in a <Location>), then
	// GoBridgeOption GREETING Hi (in a more specific one).
	r := sdktest.NewRequest("GET", "/", nil)
	r.Options = sdk.Pairs{{Key: "greeting", Value: "Hello"}, {Key: "GREETING", Value: "Hi"}}
	fmt.Printf("%q %q\n", r.Option("Greeting"), r.Option("missing"))
	// Output: "Hi" ""
}

func ExampleRequest_LookupOption() {
	r := sdktest.NewRequest("GET", "/", nil)
	r.Options = sdk.Pairs{{Key: "prefix", Value: ""}}
	v, ok := r.LookupOption("prefix")
	fmt.Printf("%q %v\n", v, ok)
	v, ok = r.LookupOption("suffix")
	fmt.Printf("%q %v\n", v, ok)
	// Output:
	// "" true
	// "" false
}

func ExampleRequest_LookupURI() {
	h := sdk.HandlerFunc(func(w *sdk.ResponseWriter, r *sdk.Request) error {
		sr, err := r.LookupURI("/docs/index.html")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(w, sr.Status, sr.Filename, sr.ContentType)
		return err
	})
	m := &sdktest.Module{SubRequests: map[string]*sdktest.SubRequest{
		"/docs/index.html": {SubRequest: sdk.SubRequest{Filename: "/srv/www/docs/index.html", ContentType: "text/html"}},
	}}
	fmt.Print(m.Serve(nil, h, sdktest.NewRequest("GET", "/", nil)).Body)
	// Output: 200 /srv/www/docs/index.html text/html
}

func ExampleRequest_LookupFile() {
	h := sdk.HandlerFunc(func(w *sdk.ResponseWriter, r *sdk.Request) error {
		sr, err := r.LookupFile("/srv/private/report.pdf")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(w, sr.Status) // <Directory /srv/private> denies this client
		return err
	})
	m := &sdktest.Module{SubRequests: map[string]*sdktest.SubRequest{
		"/srv/private/report.pdf": {SubRequest: sdk.SubRequest{Status: http.StatusForbidden}},
	}}
	fmt.Print(m.Serve(nil, h, sdktest.NewRequest("GET", "/", nil)).Body)
	// Output: 403
}

func ExampleRequest_MeetsConditions() {
	r := sdktest.NewRequest("GET", "/doc", nil)
	r.Header.Set("If-None-Match", `"v1"`)
	fmt.Println(r.MeetsConditions(`"v1"`, time.Time{}), r.MeetsConditions(`"v2"`, time.Time{}))
	// Output: 304 200
}

func ExampleServerConfig() {
	h := func(w *sdk.ResponseWriter, r *sdk.Request) error {
		// The virtual host's own options, not the sections' (mod_python's
		// server.get_options()), and its settings.
		fmt.Fprintf(w, "tenant=%s timeout=%v keep-alive=%v\n",
			r.Server.Options.Get("tenant"), r.Server.Timeout, r.Server.KeepAlive)
		return nil
	}
	req := sdktest.NewRequest("GET", "/", nil)
	req.Server = sdk.ServerConfig{
		Timeout:   60 * time.Second,
		KeepAlive: true,
		Options:   sdk.Pairs{{Key: "tenant", Value: "acme"}},
	}
	rec := sdktest.Serve(nil, sdk.HandlerFunc(h), req)
	fmt.Print(rec.Body.String())
	// Output: tenant=acme timeout=1m0s keep-alive=true
}
