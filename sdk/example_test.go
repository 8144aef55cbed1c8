package sdk_test

import (
	"fmt"
	"io"
	"net/http"

	"github.com/gobridge/gobridge/sdk"
	"github.com/gobridge/gobridge/sdk/sdktest"
)

func ExampleHandlerFunc() {
	h := sdk.HandlerFunc(func(w *sdk.ResponseWriter, r *sdk.Request) error {
		if r.Method != http.MethodGet {
			return sdk.HTTPError(http.StatusMethodNotAllowed) // httpd's error page
		}
		w.Header().Set("Content-Type", "text/plain")
		_, err := fmt.Fprintf(w, "hello %s from %s\n", r.URI, r.UseragentIP)
		return err
	})

	rec := sdktest.Serve(nil, h, sdktest.NewRequest("GET", "/hi", nil))
	fmt.Print(rec.Code, " ", rec.Body)
	rec = sdktest.Serve(nil, h, sdktest.NewRequest("DELETE", "/hi", nil))
	fmt.Println(rec.Finish, rec.FinishStatus)
	// Output:
	// 200 hello /hi from 192.0.2.1
	// HTTPStatus 405
}

func ExampleRequest_Body() {
	// Copy an upload of any size in constant memory: the body arrives in
	// chunks of at most 256 KiB as the handler reads it.
	h := sdk.HandlerFunc(func(w *sdk.ResponseWriter, r *sdk.Request) error {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%d bytes\n", n)
		return err
	})
	rec := sdktest.Serve(nil, h, sdktest.NewRequest("POST", "/upload", io.LimitReader(zeroReader{}, 1<<20)))
	fmt.Printf("%s%d read_body requests\n", rec.Body, len(rec.ReadBody))
	// Output:
	// 1048576 bytes
	// 4 read_body requests
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }
