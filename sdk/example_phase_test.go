package sdk_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gobridge/gobridge/sdk"
	"github.com/gobridge/gobridge/sdk/sdktest"
)

// site implements several phase interfaces on one value, given to Serve
// as ServeConfig.Phases (or as the Handler, which is the default).
type site struct{}

// PostReadRequest tags every request for the access log.
func (site) PostReadRequest(r *sdk.PhaseRequest) error { return r.SetNote("site", "main") }

// TranslateName maps /files/... to a directory outside DocumentRoot.
func (site) TranslateName(r *sdk.PhaseRequest) error {
	rest, ok := strings.CutPrefix(r.URI, "/files/")
	if !ok {
		return sdk.Declined // httpd's own mapping
	}
	return r.SetFilename("/srv/files/" + rest)
}

// MapToStorage skips httpd's <Directory> walk for a virtual path.
func (site) MapToStorage(r *sdk.PhaseRequest) error {
	if r.URI == "/healthz" {
		return nil
	}
	return sdk.Declined
}

// ParseHeader refuses requests without a Host name.
func (site) ParseHeader(r *sdk.PhaseRequest) error {
	if r.Hostname == "" {
		return sdk.HTTPError(400)
	}
	return sdk.Declined
}

// CheckAccess refuses one network, and lets authentication decide the rest.
func (site) CheckAccess(r *sdk.PhaseRequest) error {
	if strings.HasPrefix(r.UseragentIP, "198.51.100.") {
		return sdk.HTTPError(403)
	}
	return sdk.Declined
}

// Authenticate takes the user from a header a trusted proxy sets.
func (site) Authenticate(r *sdk.PhaseRequest) error {
	u := r.Header.Get("X-Proxy-User")
	if u == "" {
		_ = r.Set(sdk.TableErrHeadersOut, "WWW-Authenticate", `Bearer realm="site"`)
		return sdk.HTTPError(401)
	}
	if err := r.SetUser(u); err != nil {
		return err
	}
	return r.SetAuthType("Proxy")
}

// Authorize lets admins in and leaves everyone else to Require.
func (site) Authorize(r *sdk.PhaseRequest) error {
	if r.User == "admin" {
		return nil
	}
	return sdk.Declined
}

// CheckType serves .md files as text.
func (site) CheckType(r *sdk.PhaseRequest) error {
	if !strings.HasSuffix(r.Filename, ".md") {
		return sdk.Declined
	}
	return r.SetContentType("text/plain; charset=utf-8")
}

// Fixup marks private responses uncacheable.
func (site) Fixup(r *sdk.PhaseRequest) error {
	if r.User != "" {
		r.SetNoCache(true)
	}
	return nil
}

// LogTransaction counts responses; its result changes nothing.
func (site) LogTransaction(r *sdk.PhaseRequest) error {
	r.Logger().Debug("sent", "status", r.Status, "bytes", r.BytesSent)
	return nil
}

func ExamplePostReadRequester() {
	var p sdk.PostReadRequester = site{}
	rec := sdktest.RunPhase(nil, sdk.PhasePostReadRequest, p.PostReadRequest, sdktest.NewRequest("GET", "/", nil))
	fmt.Println(rec.Result, rec.Mutations)
	// Output: OK [{notes set site main}]
}

func ExampleTranslator() {
	var p sdk.Translator = site{}
	rec := sdktest.RunPhase(nil, sdk.PhaseTranslateName, p.TranslateName, sdktest.NewRequest("GET", "/files/a.txt", nil))
	fmt.Println(rec.Result, rec.Fields["filename"])
	// Output: OK /srv/files/a.txt
}

func ExampleStorageMapper() {
	var p sdk.StorageMapper = site{}
	for _, uri := range []string{"/healthz", "/index.html"} {
		rec := sdktest.RunPhase(nil, sdk.PhaseMapToStorage, p.MapToStorage, sdktest.NewRequest("GET", uri, nil))
		fmt.Println(uri, rec.Result)
	}
	// Output:
	// /healthz OK
	// /index.html Declined
}

func ExampleHeaderParser() {
	var p sdk.HeaderParser = site{}
	req := sdktest.NewRequest("GET", "/", nil)
	req.Hostname = ""
	rec := sdktest.RunPhase(nil, sdk.PhaseHeaderParser, p.ParseHeader, req)
	fmt.Println(rec.Result, rec.Status)
	// Output: HTTPStatus 400
}

func ExampleAccessChecker() {
	var p sdk.AccessChecker = site{}
	req := sdktest.NewRequest("GET", "/", nil)
	req.UseragentIP = "198.51.100.7"
	rec := sdktest.RunPhase(nil, sdk.PhaseAccess, p.CheckAccess, req)
	fmt.Println(rec.Result, rec.Status)
	// Output: HTTPStatus 403
}

func ExampleAuthenticator() {
	var p sdk.Authenticator = site{}
	req := sdktest.NewRequest("GET", "/", nil)
	rec := sdktest.RunPhase(nil, sdk.PhaseAuthn, p.Authenticate, req)
	v, _ := rec.Get(sdk.TableErrHeadersOut, "WWW-Authenticate")
	fmt.Println(rec.Status, v)
	req.Header.Set("X-Proxy-User", "ann")
	rec = sdktest.RunPhase(nil, sdk.PhaseAuthn, p.Authenticate, req)
	fmt.Println(rec.Result, rec.Fields["user"], rec.Fields["auth_type"])
	// Output:
	// 401 Bearer realm="site"
	// OK ann Proxy
}

func ExampleAuthorizer() {
	var p sdk.Authorizer = site{}
	req := sdktest.NewRequest("GET", "/admin/", nil)
	req.User = "admin"
	fmt.Println(sdktest.RunPhase(nil, sdk.PhaseAuthz, p.Authorize, req).Result)
	// Output: OK
}

func ExampleTypeChecker() {
	var p sdk.TypeChecker = site{}
	req := sdktest.NewRequest("GET", "/README.md", nil)
	req.Filename = "/srv/www/README.md"
	rec := sdktest.RunPhase(nil, sdk.PhaseTypeChecker, p.CheckType, req)
	fmt.Println(rec.Result, rec.Fields["content_type"])
	// Output: OK text/plain; charset=utf-8
}

func ExampleFixupper() {
	var p sdk.Fixupper = site{}
	req := sdktest.NewRequest("GET", "/", nil)
	req.User = "ann"
	rec := sdktest.RunPhase(nil, sdk.PhaseFixups, p.Fixup, req)
	fmt.Println(rec.Result, rec.Fields["no_cache"])
	// Output: OK 1
}

func ExampleTransactionLogger() {
	var p sdk.TransactionLogger = site{}
	req := sdktest.NewRequest("GET", "/", nil)
	req.BytesSent = 512
	fmt.Println(sdktest.RunPhase(nil, sdk.PhaseLog, p.LogTransaction, req).Result)
	// Output: OK
}

func ExamplePhase() {
	// A phase method may serve several phases; r.Phase says which runs.
	both := func(r *sdk.PhaseRequest) error { return r.SetNote("ran-in", r.Phase.String()) }
	for _, p := range []sdk.Phase{sdk.PhaseHeaderParser, sdk.PhaseFixups} {
		rec := sdktest.RunPhase(nil, p, both, sdktest.NewRequest("GET", "/", nil))
		v, _ := rec.Get(sdk.TableNotes, "ran-in")
		fmt.Println(v)
	}
	// Output:
	// header_parser
	// fixups
}

func ExamplePhase_String() {
	for _, p := range []sdk.Phase{sdk.PhasePostReadRequest, sdk.PhaseTranslateName, sdk.PhaseMapToStorage,
		sdk.PhaseHeaderParser, sdk.PhaseAccess, sdk.PhaseAuthn, sdk.PhaseAuthz, sdk.PhaseTypeChecker,
		sdk.PhaseFixups, sdk.PhaseLog} {
		fmt.Print(p, " ")
	}
	fmt.Println()
	// Output: post_read_request translate_name map_to_storage header_parser access authn authz type_checker fixups log
}

func ExamplePhaseRequest() {
	rec := sdktest.RunPhase(nil, sdk.PhaseFixups, func(r *sdk.PhaseRequest) error {
		// Setters update the snapshot too: later reads see the change.
		if err := r.SetURI("/v2" + r.URI); err != nil {
			return err
		}
		fmt.Println(r.Phase, r.URI)
		return nil
	}, sdktest.NewRequest("GET", "/items", nil))
	fmt.Println(rec.Fields["uri"])
	// Output:
	// fixups /v2/items
	// /v2/items
}

// phaseFields runs set in fixups and prints the fields it changed.
func phaseFields(set func(r *sdk.PhaseRequest) error) {
	rec := sdktest.RunPhase(nil, sdk.PhaseFixups, set, sdktest.NewRequest("GET", "/x?a=1", nil))
	fmt.Println(rec.Fields)
}

func ExamplePhaseRequest_SetFilename() {
	phaseFields(func(r *sdk.PhaseRequest) error { return r.SetFilename("/srv/www/x.html") })
	// Output: map[filename:/srv/www/x.html]
}

func ExamplePhaseRequest_SetCanonicalFilename() {
	phaseFields(func(r *sdk.PhaseRequest) error { return r.SetCanonicalFilename("/srv/www/x.html") })
	// Output: map[canonical_filename:/srv/www/x.html]
}

func ExamplePhaseRequest_SetURI() {
	phaseFields(func(r *sdk.PhaseRequest) error { return r.SetURI("/y") })
	// Output: map[uri:/y]
}

func ExamplePhaseRequest_SetPathInfo() {
	phaseFields(func(r *sdk.PhaseRequest) error { return r.SetPathInfo("/extra") })
	// Output: map[path_info:/extra]
}

func ExamplePhaseRequest_SetArgs() {
	phaseFields(func(r *sdk.PhaseRequest) error { return r.SetArgs("a=2&b=3") })
	// Output: map[args:a=2&b=3]
}

func ExamplePhaseRequest_SetHandler() {
	phaseFields(func(r *sdk.PhaseRequest) error { return r.SetHandler("default-handler") })
	// Output: map[handler:default-handler]
}

func ExamplePhaseRequest_SetGoBridgeHandler() {
	phaseFields(func(r *sdk.PhaseRequest) error { return r.SetGoBridgeHandler("reports") })
	// Output: map[gobridge_handler:reports]
}

func ExamplePhaseRequest_SetContentType() {
	phaseFields(func(r *sdk.PhaseRequest) error { return r.SetContentType("application/json") })
	// Output: map[content_type:application/json]
}

func ExamplePhaseRequest_SetContentEncoding() {
	phaseFields(func(r *sdk.PhaseRequest) error { return r.SetContentEncoding("gzip") })
	// Output: map[content_encoding:gzip]
}

func ExamplePhaseRequest_SetContentLanguages() {
	phaseFields(func(r *sdk.PhaseRequest) error { return r.SetContentLanguages("en", "pt-BR") })
	// Output: map[content_languages:en,pt-BR]
}

func ExamplePhaseRequest_SetUser() {
	phaseFields(func(r *sdk.PhaseRequest) error { return r.SetUser("ann") })
	// Output: map[user:ann]
}

func ExamplePhaseRequest_SetAuthType() {
	phaseFields(func(r *sdk.PhaseRequest) error { return r.SetAuthType("Bearer") })
	// Output: map[auth_type:Bearer]
}

func ExamplePhaseRequest_SetStatusLine() {
	phaseFields(func(r *sdk.PhaseRequest) error { return r.SetStatusLine("299 Fine") })
	// Output: map[status_line:299 Fine]
}

func ExamplePhaseRequest_SetNoCache() {
	phaseFields(func(r *sdk.PhaseRequest) error { r.SetNoCache(true); return nil })
	// Output: map[no_cache:1]
}

func ExamplePhaseRequest_SetAllowedMethods() {
	phaseFields(func(r *sdk.PhaseRequest) error { return r.SetAllowedMethods("GET", "HEAD", "PROPFIND") })
	// Output: map[allowed_methods:GET,HEAD,PROPFIND]
}

func ExamplePhaseRequest_UpdateMtime() {
	phaseFields(func(r *sdk.PhaseRequest) error {
		r.UpdateMtime(time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC))
		return nil
	})
	// Output: map[mtime:1714521600000000]
}

func ExamplePhaseRequest_SetETag() {
	rec := sdktest.RunPhase(nil, sdk.PhaseFixups, func(r *sdk.PhaseRequest) error {
		return r.SetETag(sdk.ETag([]byte("v1 of the page")))
	}, sdktest.NewRequest("GET", "/", nil))
	v, _ := rec.Get(sdk.TableHeadersOut, "ETag")
	fmt.Println(v)
	// Output: "91pu_A0JXn6OBsEpQoZR"
}

func ExamplePhaseRequest_InternalRedirect() {
	rec := sdktest.RunPhase(nil, sdk.PhaseFixups, func(r *sdk.PhaseRequest) error {
		if r.URI == "/old" {
			return r.InternalRedirect("/new?from=old")
		}
		return nil
	}, sdktest.NewRequest("GET", "/old", nil))
	fmt.Println(rec.Redirect)
	// Output: /new?from=old
}

func ExampleTable() {
	// Tables hold one request_rec table each; a phase may change them all.
	rec := sdktest.RunPhase(nil, sdk.PhaseFixups, func(r *sdk.PhaseRequest) error {
		return r.Set(sdk.TableConnNotes, "seen", "1") // for later requests on this connection
	}, sdktest.NewRequest("GET", "/", nil))
	fmt.Println(rec.Get(sdk.TableConnNotes, "seen"))
	// Output: 1 true
}

func ExampleTable_String() {
	for _, t := range []sdk.Table{sdk.TableHeadersIn, sdk.TableHeadersOut, sdk.TableErrHeadersOut,
		sdk.TableNotes, sdk.TableSubprocessEnv, sdk.TableConnNotes} {
		fmt.Print(t, " ")
	}
	fmt.Println()
	// Output: headers_in headers_out err_headers_out notes subprocess_env conn_notes
}

func ExamplePhaseRequest_Reply() {
	// An access check that answers with a JSON error of its own instead
	// of httpd's error page.
	check := func(r *sdk.PhaseRequest) error {
		if r.Header.Get("X-Api-Key") == "" {
			if err := r.Set(sdk.TableErrHeadersOut, "Cache-Control", "no-store"); err != nil {
				return err
			}
			return r.Reply(http.StatusUnauthorized, "application/json", []byte(`{"error":"no key"}`))
		}
		return sdk.Declined
	}
	rec := sdktest.RunPhase(nil, sdk.PhaseAccess, check, sdktest.NewRequest("GET", "/api/items", nil))
	fmt.Println(rec.Reply.Status, rec.Reply.ContentType, string(rec.Reply.Body))
	fmt.Println(rec.Get(sdk.TableErrHeadersOut, "Cache-Control"))
	// Output:
	// 401 application/json {"error":"no key"}
	// no-store true
}

func ExamplePhaseRequest_AddOutputFilter() {
	rec := sdktest.RunPhase(nil, sdk.PhaseFixups, func(r *sdk.PhaseRequest) error {
		if strings.HasPrefix(r.ContentType, "text/") {
			return r.AddOutputFilter("DEFLATE") // mod_deflate's filter
		}
		return nil
	}, sdktest.NewRequest("GET", "/page.html", nil))
	fmt.Println(rec.AddedFilters)
	// Output: []
}

func ExamplePhaseRequest_AddInputFilter() {
	rec := sdktest.RunPhase(nil, sdk.PhaseFixups, func(r *sdk.PhaseRequest) error {
		return r.AddInputFilter("DEFLATE") // inflate a gzipped request body
	}, sdktest.NewRequest("POST", "/upload", strings.NewReader("x")))
	fmt.Printf("%+v\n", rec.AddedFilters)
	// Output: [{Name:DEFLATE Output:false GoBridge:false}]
}

func ExamplePhaseRequest_AddGoBridgeOutputFilter() {
	rec := sdktest.RunPhase(nil, sdk.PhaseFixups, func(r *sdk.PhaseRequest) error {
		return r.AddGoBridgeOutputFilter("gzip") // GoBridgePlugin gzip …
	}, sdktest.NewRequest("GET", "/report", nil))
	fmt.Printf("%+v\n", rec.AddedFilters)
	// Output: [{Name:gzip Output:true GoBridge:true}]
}

func ExamplePhaseRequest_AddGoBridgeInputFilter() {
	rec := sdktest.RunPhase(nil, sdk.PhaseFixups, func(r *sdk.PhaseRequest) error {
		if err := r.AddGoBridgeInputFilter("bad name"); err != nil {
			fmt.Println(errors.Is(err, sdk.ErrInvalidChange))
		}
		return r.AddGoBridgeInputFilter("scrub")
	}, sdktest.NewRequest("POST", "/upload", strings.NewReader("x")))
	fmt.Printf("%+v\n", rec.AddedFilters)
	// Output:
	// true
	// [{Name:scrub Output:false GoBridge:true}]
}
