// Command hello is the smallest gobridge plugin: it answers every request
// with a plain-text greeting, to ?name= if given. The greeting itself comes
// from httpd.conf:
//
//	GoBridgePlugin hello /usr/local/libexec/gobridge/hello
//	<Location /hello>
//	    GoBridgeHandler hello
//	    GoBridgeOption greeting Bonjour
//	</Location>
package main

import (
	"fmt"
	"net/url"

	"github.com/gobridge/gobridge/sdk"
)

func hello(w *sdk.ResponseWriter, r *sdk.Request) error {
	greeting := r.Option("greeting")
	if greeting == "" {
		greeting = "Hello"
	}
	name := "world"
	if q, err := url.ParseQuery(r.Args); err == nil && q.Get("name") != "" {
		name = q.Get("name")
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, err := fmt.Fprintf(w, "%s, %s, from Go via gobridge!\n", greeting, name)
	return err
}

func main() {
	sdk.ServeHandler(sdk.HandlerFunc(hello))
}
