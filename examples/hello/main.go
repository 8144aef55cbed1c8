// Command hello is the smallest gobridge plugin: it answers every request
// with a plain-text greeting, to ?name= if given.
//
//	GoBridgePlugin hello /usr/local/libexec/gobridge/hello
//	<Location /hello>
//	    GoBridgeHandler hello
//	</Location>
package main

import (
	"fmt"
	"net/url"

	"github.com/gobridge/gobridge/sdk"
)

func hello(w *sdk.ResponseWriter, r *sdk.Request) error {
	name := "world"
	if q, err := url.ParseQuery(r.Args); err == nil && q.Get("name") != "" {
		name = q.Get("name")
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, err := fmt.Fprintf(w, "Hello, %s, from Go via gobridge!\n", name)
	return err
}

func main() {
	sdk.ServeHandler(sdk.HandlerFunc(hello))
}
