package nethttp_test

import (
	"fmt"
	"net/http"

	"github.com/gobridge/gobridge/sdk"
	"github.com/gobridge/gobridge/sdk/nethttp"
	"github.com/gobridge/gobridge/sdk/sdktest"
)

func ExampleHandler() {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /app/hello/{name}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "Hello, %s!\n", r.PathValue("name"))
	})
	// In main: sdk.ServeHandler(nethttp.Handler(mux))
	h := nethttp.Handler(mux)
	rec := sdktest.Serve(nil, h, sdktest.NewRequest("GET", "/app/hello/Ann", nil))
	fmt.Print(rec.Code, " ", rec.Body)
	rec = sdktest.Serve(nil, h, sdktest.NewRequest("GET", "/app/other", nil))
	fmt.Println(rec.Code)
	// Output:
	// 200 Hello, Ann!
	// 404
}

func ExampleEnv() {
	h := nethttp.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		env := nethttp.Env(r) // httpd's extras; nil outside gobridge
		if env == nil || env.User == "" {
			http.Error(w, "no user", http.StatusUnauthorized)
			return
		}
		fmt.Fprintf(w, "%s (%s) in %s\n", env.User, env.AuthType, env.Option("tenant"))
	}))
	req := sdktest.NewRequest("GET", "/me", nil)
	req.User, req.AuthType = "ann", "Basic"
	req.Options = sdk.Pairs{{Key: "tenant", Value: "acme"}}
	fmt.Print(sdktest.Serve(nil, h, req).Body)
	// Output: ann (Basic) in acme
}
