package sdk_test

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gobridge/gobridge/sdk"
	"github.com/gobridge/gobridge/sdk/sdktest"
)

// serve runs h for GET target and returns what it sent.
func serve(h sdk.HandlerFunc, target string) *sdktest.Recorder {
	return sdktest.Serve(nil, h, sdktest.NewRequest("GET", target, nil))
}

// greeter is a Handler.
type greeter struct{ greeting string }

func (g greeter) ServeGoBridge(w *sdk.ResponseWriter, r *sdk.Request) error {
	_, err := fmt.Fprintf(w, "%s, %s!\n", g.greeting, r.Args)
	return err
}

func ExampleHandler() {
	var h sdk.Handler = greeter{"Hello"}
	rec := sdktest.Serve(nil, h, sdktest.NewRequest("GET", "/hi?Ann", nil))
	fmt.Print(rec.Code, " ", rec.Body)
	// Output: 200 Hello, Ann!
}

func ExampleHandlerFunc_ServeGoBridge() {
	// A HandlerFunc is a Handler: its ServeGoBridge calls the function.
	var h sdk.Handler = sdk.HandlerFunc(func(w *sdk.ResponseWriter, r *sdk.Request) error {
		_, err := w.WriteString("ok\n")
		return err
	})
	fmt.Print(sdktest.Serve(nil, h, sdktest.NewRequest("GET", "/", nil)).Body)
	// Output: ok
}

func ExampleResponseWriter() {
	rec := serve(func(w *sdk.ResponseWriter, r *sdk.Request) error {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, err := w.Write([]byte(`{"id":7}`))
		return err
	}, "/items")
	fmt.Println(rec.Code, rec.Header.Get("Content-Type"), rec.Body, rec.Messages)
	// Output: 201 application/json {"id":7} 1
}

func ExampleResponseWriter_Header() {
	rec := serve(func(w *sdk.ResponseWriter, r *sdk.Request) error {
		w.Header().Add("Vary", "Accept")
		w.Header().Add("Vary", "Cookie")
		return nil
	}, "/")
	fmt.Println(rec.Header["Vary"])
	// Output: [Accept Cookie]
}

func ExampleResponseWriter_ErrHeader() {
	// err_headers_out are kept whatever answers in the end (another
	// module's error document too).
	rec := serve(func(w *sdk.ResponseWriter, r *sdk.Request) error {
		w.ErrHeader().Set("Set-Cookie", "seen=1")
		_, err := w.WriteString("hi\n")
		return err
	}, "/")
	fmt.Println(rec.Code, rec.ErrHeader.Get("Set-Cookie"))
	// Output: 200 seen=1
}

func ExampleResponseWriter_WriteHeader() {
	rec := serve(func(w *sdk.ResponseWriter, r *sdk.Request) error {
		w.WriteHeader(http.StatusAccepted)
		w.WriteHeader(http.StatusOK) // only the first call counts
		return nil
	}, "/")
	fmt.Println(rec.Code)
	// Output: 202
}

func ExampleResponseWriter_Status() {
	serve(func(w *sdk.ResponseWriter, r *sdk.Request) error {
		fmt.Println(w.Status())
		w.WriteHeader(http.StatusTeapot)
		fmt.Println(w.Status())
		return nil
	}, "/")
	// Output:
	// 0
	// 418
}

func ExampleResponseWriter_Write() {
	rec := serve(func(w *sdk.ResponseWriter, r *sdk.Request) error {
		_, err := w.Write([]byte("hello\n"))
		return err
	}, "/")
	fmt.Print(rec.Body)
	// Output: hello
}

func ExampleResponseWriter_WriteString() {
	rec := serve(func(w *sdk.ResponseWriter, r *sdk.Request) error {
		_, err := w.WriteString("hello\n")
		return err
	}, "/")
	fmt.Print(rec.Body)
	// Output: hello
}

func ExampleResponseWriter_Flush() {
	// Server-sent events: each event reaches the client when flushed.
	rec := serve(func(w *sdk.ResponseWriter, r *sdk.Request) error {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := range 3 {
			fmt.Fprintf(w, "data: %d\n\n", i)
			if err := w.Flush(); err != nil {
				return err
			}
		}
		return nil
	}, "/events")
	fmt.Println(rec.Flushes, len(rec.BodyChunks))
	// Output: 3 3
}

func ExampleResponseWriter_InternalRedirect() {
	rec := serve(func(w *sdk.ResponseWriter, r *sdk.Request) error {
		return w.InternalRedirect("/maintenance.html")
	}, "/shop")
	fmt.Println(rec.Redirect, rec.Finish)
	// Output: /maintenance.html OK
}

func ExampleResponseWriter_SendFile() {
	rec := serve(func(w *sdk.ResponseWriter, r *sdk.Request) error {
		w.Header().Set("Content-Type", "application/pdf")
		if err := w.SendFile("/srv/reports/q1.pdf"); err != nil {
			return err
		}
		// httpd writes the body now; the handler no longer does.
		_, err := w.Write([]byte("x"))
		fmt.Println(errors.Is(err, sdk.ErrHandedOff))
		return nil
	}, "/report")
	fmt.Println(rec.File.Path, rec.Header.Get("Content-Type"))
	// Output:
	// true
	// /srv/reports/q1.pdf application/pdf
}

func ExampleResponseWriter_SendFileRange() {
	rec := serve(func(w *sdk.ResponseWriter, r *sdk.Request) error {
		return w.SendFileRange("/srv/media/movie.bin", 1<<20, 4096)
	}, "/clip")
	fmt.Println(*rec.File)
	// Output: {/srv/media/movie.bin 1048576 4096}
}

func ExampleResponseWriter_Include() {
	h := func(w *sdk.ResponseWriter, r *sdk.Request) error {
		fmt.Fprint(w, "<body>")
		if status, err := w.Include("/fragments/menu"); err != nil || status != http.StatusOK {
			fmt.Fprint(w, "(no menu)")
		}
		fmt.Fprint(w, "</body>")
		return nil
	}
	m := &sdktest.Module{SubRequests: map[string]*sdktest.SubRequest{
		"/fragments/menu": {Body: "<nav>menu</nav>"},
	}}
	fmt.Println(m.Serve(nil, sdk.HandlerFunc(h), sdktest.NewRequest("GET", "/", nil)).Body)
	// Output: <body><nav>menu</nav></body>
}

func ExampleResponseWriter_IncludeFile() {
	h := func(w *sdk.ResponseWriter, r *sdk.Request) error {
		status, err := w.IncludeFile("/srv/www/footer.html")
		if err != nil {
			return err
		}
		fmt.Fprintf(w, " [%d]", status)
		return nil
	}
	m := &sdktest.Module{SubRequests: map[string]*sdktest.SubRequest{
		"/srv/www/footer.html": {Body: "(c) 2026"},
	}}
	fmt.Println(m.Serve(nil, sdk.HandlerFunc(h), sdktest.NewRequest("GET", "/", nil)).Body)
	// Output: (c) 2026 [200]
}

func ExampleResponseWriter_SetETag() {
	page := []byte("<h1>news</h1>")
	rec := serve(func(w *sdk.ResponseWriter, r *sdk.Request) error {
		tag := sdk.ETag(page)
		if r.MeetsConditions(tag, time.Time{}) == http.StatusNotModified {
			w.WriteHeader(http.StatusNotModified)
			return nil
		}
		if err := w.SetETag(tag); err != nil {
			return err
		}
		_, err := w.Write(page)
		return err
	}, "/news")
	fmt.Println(rec.Code, rec.Header.Get("ETag"))
	// Output: 200 "hyCH_E1JsAaH5RwSwSWC"
}

func ExampleResponseWriter_SetLastModified() {
	rec := serve(func(w *sdk.ResponseWriter, r *sdk.Request) error {
		w.SetLastModified(time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC))
		return nil
	}, "/")
	fmt.Println(rec.Header.Get("Last-Modified"))
	// Output: Wed, 01 May 2024 12:00:00 GMT
}

func ExampleETag() {
	fmt.Println(sdk.ETag([]byte("hello")) == sdk.ETag([]byte("hello")), sdk.ETag([]byte("hello")) == sdk.ETag([]byte("world")))
	// Output: true false
}

func ExampleWeakETag() {
	fmt.Println(sdk.WeakETag(`"abc"`), sdk.WeakETag("abc"))
	// Output: W/"abc" W/"abc"
}

func ExampleHTTPError() {
	rec := serve(func(w *sdk.ResponseWriter, r *sdk.Request) error {
		return sdk.HTTPError(http.StatusNotFound) // httpd's ErrorDocument 404
	}, "/nothing")
	fmt.Println(rec.Finish, rec.FinishStatus)
	// Output: HTTPStatus 404
}

func ExampleStatusError() {
	err := fmt.Errorf("loading: %w", sdk.HTTPError(http.StatusServiceUnavailable))
	var se *sdk.StatusError
	fmt.Println(errors.As(err, &se), se.Code)
	// Output: true 503
}

func ExampleStatusError_Error() {
	fmt.Println(sdk.HTTPError(http.StatusForbidden))
	// Output: sdk: http status 403 Forbidden
}

func Example_declinedAndDone() {
	// Declined hands the request on, as if the plugin were not configured;
	// Done (in a phase) ends it, answered.
	rec := serve(func(w *sdk.ResponseWriter, r *sdk.Request) error { return sdk.Declined }, "/")
	fmt.Println(rec.Finish)
	prec := sdktest.RunPhase(nil, sdk.PhaseAccess, func(r *sdk.PhaseRequest) error { return sdk.Done }, sdktest.NewRequest("GET", "/", nil))
	fmt.Println(prec.Result)
	// Output:
	// Declined
	// Done
}
