package sdktest_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc"

	"github.com/gobridge/gobridge/sdk"
	"github.com/gobridge/gobridge/sdk/sdktest"
)

// hello is the handler the examples test.
func hello(w *sdk.ResponseWriter, r *sdk.Request) error {
	name := r.Option("default-name")
	if n := r.Header.Get("X-Name"); n != "" {
		name = n
	}
	if name == "" {
		return sdk.HTTPError(http.StatusBadRequest)
	}
	r.Logger().Info("greeting", "name", name)
	_, err := fmt.Fprintf(w, "Hello, %s!\n", name)
	return err
}

func ExampleNewRequest() {
	r := sdktest.NewRequest("POST", "https://shop.example/cart?add=7", strings.NewReader("qty=2"))
	fmt.Println(r.Method, r.Scheme, r.Hostname, r.ServerPort, r.URI, r.Args, r.ContentLength)
	fmt.Println(r.RemoteAddr == sdktest.DefaultRemoteAddr, r.LocalAddr, r.Plugin == sdktest.DefaultPlugin)
	r = sdktest.NewRequest("GET", "/", nil)
	fmt.Println(r.Hostname == sdktest.DefaultHost, r.LocalAddr == sdktest.DefaultLocalAddr)
	// Output:
	// POST https shop.example 443 /cart add=7 5
	// true 192.0.2.2:443 true
	// true true
}

func ExampleServe() {
	req := sdktest.NewRequest("GET", "/hello", nil)
	req.Header.Set("X-Name", "Ann")
	rec := sdktest.Serve(nil, sdk.HandlerFunc(hello), req)
	fmt.Print(rec.Code, " ", rec.Body)
	// Output: 200 Hello, Ann!
}

func ExampleRecorder() {
	rec := sdktest.Serve(nil, sdk.HandlerFunc(hello), sdktest.NewRequest("GET", "/hello", nil))
	// No name: the handler had httpd answer with its 400 error document.
	fmt.Println(rec.Code, rec.Finish, rec.FinishStatus, rec.Messages)
	// Output: 0 HTTPStatus 400 1
}

func ExampleRecorder_Logged() {
	req := sdktest.NewRequest("GET", "/hello", nil)
	req.Options = sdk.Pairs{{Key: "default-name", Value: "world"}}
	rec := sdktest.Serve(nil, sdk.HandlerFunc(hello), req)
	fmt.Println(rec.Logged("greeting name=world"))
	// Output: true
}

func ExampleLogRecord() {
	req := sdktest.NewRequest("GET", "/hello", nil)
	req.Header.Set("X-Name", "Bo")
	rec := sdktest.Serve(nil, sdk.HandlerFunc(hello), req)
	for _, l := range rec.Logs {
		fmt.Println(l.Level, l.Message)
	}
	// Output: INFO greeting name=Bo
}

func ExampleResult() {
	for _, h := range []sdk.HandlerFunc{
		func(w *sdk.ResponseWriter, r *sdk.Request) error { return nil },
		func(w *sdk.ResponseWriter, r *sdk.Request) error { return sdk.Declined },
		func(w *sdk.ResponseWriter, r *sdk.Request) error { return sdk.HTTPError(404) },
	} {
		rec := sdktest.Serve(nil, h, sdktest.NewRequest("GET", "/", nil))
		fmt.Println(rec.Finish == sdktest.OK, rec.Finish == sdktest.Declined, rec.Finish == sdktest.HTTPStatus)
	}
	// Output:
	// true false false
	// false true false
	// false false true
}

func ExampleResult_String() {
	fmt.Println(sdktest.Unfinished, sdktest.OK, sdktest.Declined, sdktest.HTTPStatus, sdktest.Done)
	// Output: Unfinished OK Declined HTTPStatus Done
}

func ExampleRunPhase() {
	// A Fixupper's method, or any func(*sdk.PhaseRequest) error.
	deny := func(r *sdk.PhaseRequest) error {
		if strings.Contains(r.URI, "/.git/") {
			return sdk.HTTPError(http.StatusForbidden)
		}
		return sdk.Declined
	}
	rec := sdktest.RunPhase(nil, sdk.PhaseAccess, deny, sdktest.NewRequest("GET", "/repo/.git/config", nil))
	fmt.Println(rec.Result, rec.Status)
	// Output: HTTPStatus 403
}

func ExamplePhaseRecorder() {
	rec := sdktest.RunPhase(nil, sdk.PhaseFixups, func(r *sdk.PhaseRequest) error {
		_ = r.SetHandler("default-handler")
		_ = r.SetNote("fixed", "1")
		return sdk.Done
	}, sdktest.NewRequest("GET", "/", nil))
	fmt.Println(rec.Result == sdktest.Done, rec.Fields, rec.Mutations)
	// Output: true map[handler:default-handler] [{notes set fixed 1}]
}

func ExamplePhaseRecorder_Get() {
	rec := sdktest.RunPhase(nil, sdk.PhaseFixups, func(r *sdk.PhaseRequest) error {
		_ = r.Add(sdk.TableHeadersOut, "X-Trace", "a")
		_ = r.Set(sdk.TableHeadersOut, "x-trace", "b")
		return nil
	}, sdktest.NewRequest("GET", "/", nil))
	fmt.Println(rec.Get(sdk.TableHeadersOut, "X-Trace"))
	// Output: b true
}

func ExamplePhaseRecorder_Logged() {
	rec := sdktest.RunPhase(nil, sdk.PhaseLog, func(r *sdk.PhaseRequest) error {
		r.Logger().Info("done", "status", r.Status)
		return nil
	}, sdktest.NewRequest("GET", "/", nil))
	fmt.Println(rec.Logged("done status=0"))
	// Output: true
}

func ExampleMutation() {
	rec := sdktest.RunPhase(nil, sdk.PhaseHeaderParser, func(r *sdk.PhaseRequest) error {
		return r.Unset(sdk.TableHeadersIn, "X-Forwarded-For")
	}, sdktest.NewRequest("GET", "/", nil))
	m := rec.Mutations[0]
	fmt.Println(m.Table, m.Op, m.Key)
	// Output: headers_in unset X-Forwarded-For
}

// staff is an auth provider for the auth examples.
type staff struct{}

func (staff) CheckPassword(r *sdk.Request, user, password string) (sdk.AuthnResult, error) {
	if user != "ann" {
		return sdk.AuthnUserNotFound, nil
	}
	if password != "pw" {
		r.Logger().Warn("wrong password", "user", user)
		return sdk.AuthnDenied, nil
	}
	return sdk.AuthnGranted, r.SetEnv("STAFF", "1")
}

func (staff) GetRealmHash(r *sdk.Request, user, realm string) (string, sdk.AuthnResult, error) {
	return "0123456789abcdef0123456789abcdef", sdk.AuthnGranted, nil
}

func (staff) CheckAuthorization(r *sdk.Request, user string, args []string) (sdk.AuthzResult, error) {
	if user == "ann" {
		return sdk.AuthzGranted, r.SetNote("role", strings.Join(args, " "))
	}
	return sdk.AuthzDenied, nil
}

func ExampleCheckPassword() {
	rec := sdktest.CheckPassword(nil, staff{}, nil, "ann", "pw")
	fmt.Println(rec.Authn, rec.Env)
	// Output: granted [{STAFF 1}]
}

func ExampleGetRealmHash() {
	rec := sdktest.GetRealmHash(nil, staff{}, nil, "ann", "staff area")
	fmt.Println(rec.Authn, rec.Hash)
	// Output: granted 0123456789abcdef0123456789abcdef
}

func ExampleCheckAuthorization() {
	rec := sdktest.CheckAuthorization(nil, staff{}, nil, "ann", "role", "admin")
	fmt.Println(rec.Authz, rec.Notes)
	// Output: granted [{role role admin}]
}

func ExampleAuthRecorder() {
	rec := sdktest.CheckPassword(nil, staff{}, nil, "bob", "pw")
	fmt.Println(rec.Authn, len(rec.Notes), len(rec.Env))
	// Output: user not found 0 0
}

func ExampleAuthRecorder_Logged() {
	rec := sdktest.CheckPassword(nil, staff{}, nil, "ann", "nope")
	fmt.Println(rec.Authn, rec.Logged("wrong password"))
	// Output: denied true
}

// shout is an output filter.
var shout = sdk.BodyFilterFunc(func(f *sdk.Filter, in io.Reader, out io.Writer) error {
	if err := f.Set(sdk.TableHeadersOut, "X-Shouted", "yes"); err != nil {
		return err
	}
	b, err := io.ReadAll(in)
	if err != nil {
		return err
	}
	f.Logger().Info("shouting", "bytes", len(b))
	_, err = out.Write([]byte(strings.ToUpper(string(b))))
	return err
})

func ExampleRunFilter() {
	rec := sdktest.RunFilter(nil, shout, sdk.OutputFilter, sdktest.NewRequest("GET", "/", nil), []byte("quiet"))
	fmt.Println(rec.Output, rec.Done, rec.ChunksSent)
	// Output: QUIET true 1
}

func ExampleRunFilterChunks() {
	rec := sdktest.RunFilterChunks(nil, shout, sdk.OutputFilter, sdktest.NewRequest("GET", "/", nil),
		[]sdktest.FilterChunk{{Data: []byte("one ")}, {Data: []byte("two")}})
	fmt.Println(rec.Output, rec.ChunksSent)
	// Output: ONE TWO 2
}

func ExampleFilterChunk() {
	// A chunk followed by a flush bucket, then the end of the body.
	chunks := []sdktest.FilterChunk{{Data: []byte("data: 1\n\n"), Flush: true}, {Data: nil}}
	rec := sdktest.RunFilterChunks(nil, shout, sdk.OutputFilter, sdktest.NewRequest("GET", "/", nil), chunks)
	fmt.Printf("%q\n", rec.Output)
	// Output: "DATA: 1\n\n"
}

func ExampleFilterRecorder() {
	rec := sdktest.RunFilter(nil, shout, sdk.InputFilter, sdktest.NewRequest("POST", "/", nil), []byte("x"))
	// An input filter may not change response headers: shout fails.
	fmt.Println(rec.Done, rec.Err != nil)
	// Output: false true
}

func ExampleFilterRecorder_Header() {
	rec := sdktest.RunFilter(nil, shout, sdk.OutputFilter, sdktest.NewRequest("GET", "/", nil), []byte("x"))
	fmt.Println(rec.Header("x-shouted"))
	// Output: yes true
}

func ExampleFilterRecorder_Logged() {
	rec := sdktest.RunFilter(nil, shout, sdk.OutputFilter, sdktest.NewRequest("GET", "/", nil), []byte("xyz"))
	fmt.Println(rec.Logged("shouting bytes=3"))
	// Output: true
}

func ExampleModule() {
	// A Module answers sub-requests with what the test says httpd has.
	m := &sdktest.Module{SubRequests: map[string]*sdktest.SubRequest{
		"/private/": {SubRequest: sdk.SubRequest{Status: http.StatusUnauthorized}},
	}}
	h := sdk.HandlerFunc(func(w *sdk.ResponseWriter, r *sdk.Request) error {
		sr, err := r.LookupURI("/private/")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(w, sr.Status)
		return err
	})
	fmt.Print(m.Serve(nil, h, sdktest.NewRequest("GET", "/", nil)).Body)
	// Output: 401
}

func ExampleModule_Serve() {
	m := &sdktest.Module{SubRequests: map[string]*sdktest.SubRequest{
		"/banner": {Body: "[banner]"},
	}}
	h := sdk.HandlerFunc(func(w *sdk.ResponseWriter, r *sdk.Request) error {
		_, err := w.Include("/banner")
		return err
	})
	rec := m.Serve(nil, h, sdktest.NewRequest("GET", "/", nil))
	fmt.Println(rec.Body, rec.SubRequests[0].Include)
	// Output: [banner] true
}

func ExampleSubRequest() {
	// IncludeStatus: the sub-request looked up fine, then its handler
	// failed, so nothing is inserted.
	m := &sdktest.Module{SubRequests: map[string]*sdktest.SubRequest{
		"/broken": {Body: "never", IncludeStatus: http.StatusInternalServerError},
	}}
	h := sdk.HandlerFunc(func(w *sdk.ResponseWriter, r *sdk.Request) error {
		status, err := w.Include("/broken")
		fmt.Fprintf(w, "status %d", status)
		return err
	})
	fmt.Println(m.Serve(nil, h, sdktest.NewRequest("GET", "/", nil)).Body)
	// Output: status 500
}

func ExampleSubRequestCall() {
	h := sdk.HandlerFunc(func(w *sdk.ResponseWriter, r *sdk.Request) error {
		if _, err := r.LookupFile("/srv/data.csv"); err != nil {
			return err
		}
		_, err := r.LookupURI("/x", sdk.LookupMethod("PUT"))
		return err
	})
	for _, c := range sdktest.Serve(nil, h, sdktest.NewRequest("GET", "/", nil)).SubRequests {
		fmt.Printf("file=%v %q %s %d refused=%q\n", c.File, c.Target, c.Method, c.Status, c.Refused)
	}
	// Output:
	// file=true "/srv/data.csv"  404 refused=""
	// file=false "/x" PUT 404 refused=""
}

func ExampleSentFile() {
	h := sdk.HandlerFunc(func(w *sdk.ResponseWriter, r *sdk.Request) error {
		return w.SendFileRange("/srv/big.iso", 0, 1<<20)
	})
	fmt.Println(*sdktest.Serve(nil, h, sdktest.NewRequest("GET", "/", nil)).File)
	// Output: {/srv/big.iso 0 1048576}
}

func ExampleConn() {
	// Wire-level: the plugin served by a real gRPC server, as sdk.Serve
	// serves it to mod_gobridge. In a test:
	testHello := func(t *testing.T) {
		cc := sdktest.Conn(t, &sdk.ServeConfig{Handler: sdk.HandlerFunc(hello)})
		req := sdktest.NewRequest("GET", "/", nil)
		req.Header.Set("X-Name", "Ann")
		if rec := sdktest.Do(t, cc, req); rec.Body.String() != "Hello, Ann!\n" {
			t.Errorf("body %q", rec.Body)
		}
	}
	_ = testHello
}

func ExampleDo() {
	// Do plays the module over any gRPC connection to a plugin, such as
	// one to a plugin process a test started. In a test:
	testSlow := func(t *testing.T, cc *grpc.ClientConn) {
		rec := sdktest.Do(t, cc, sdktest.NewRequest("GET", "/slow", nil))
		if rec.Finish != sdktest.OK {
			t.Errorf("finish %v, err %v", rec.Finish, rec.Err)
		}
	}
	_ = testSlow
}

func ExampleModule_Do() {
	m := &sdktest.Module{SubRequests: map[string]*sdktest.SubRequest{"/x": {}}}
	testLookup := func(t *testing.T) {
		cc := sdktest.Conn(t, &sdk.ServeConfig{Handler: sdk.HandlerFunc(func(w *sdk.ResponseWriter, r *sdk.Request) error {
			_, err := r.LookupURI("/x")
			return err
		})})
		if rec := m.Do(t, cc, sdktest.NewRequest("GET", "/", nil)); rec.SubRequests[0].Status != 200 {
			t.Errorf("lookup: %+v", rec.SubRequests)
		}
	}
	_ = testLookup
}

func ExampleReply() {
	rec := sdktest.RunPhase(nil, sdk.PhaseAccess, func(r *sdk.PhaseRequest) error {
		return r.Reply(http.StatusForbidden, "application/json", []byte(`{"error":"forbidden"}`))
	}, sdktest.NewRequest("GET", "/admin", nil))
	fmt.Println(rec.Result == sdktest.Done, rec.Reply.Status, rec.Reply.ContentType, string(rec.Reply.Body))
	// Output: true 403 application/json {"error":"forbidden"}
}

func ExampleAddedFilter() {
	rec := sdktest.RunPhase(nil, sdk.PhaseFixups, func(r *sdk.PhaseRequest) error {
		if err := r.AddOutputFilter("DEFLATE"); err != nil {
			return err
		}
		return r.AddGoBridgeInputFilter("scrub")
	}, sdktest.NewRequest("POST", "/upload", strings.NewReader("x")))
	for _, f := range rec.AddedFilters {
		fmt.Printf("%+v\n", f)
	}
	// Output:
	// {Name:DEFLATE Output:true GoBridge:false}
	// {Name:scrub Output:false GoBridge:true}
}
