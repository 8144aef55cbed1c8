// Command noop is the gobridge plugin of the benchmark: the content handler
// answers "Hello, world\n" (13 bytes), the same response every other row of
// bench/ serves, so a gobridge row measures mod_gobridge, the wire and the
// SDK, not the handler.
package main

import "github.com/gobridge/gobridge/sdk"

var hello = []byte("Hello, world\n")

func main() {
	sdk.ServeHandler(sdk.HandlerFunc(func(w *sdk.ResponseWriter, _ *sdk.Request) error {
		w.Header().Set("Content-Type", "text/plain")
		_, err := w.Write(hello)
		return err
	}))
}
