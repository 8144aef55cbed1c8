// Command subreq is an end-to-end test plugin (work in progress: see its tests).
package main

import (
	"github.com/gobridge/gobridge/sdk"
)

func main() {
	sdk.Serve(&sdk.ServeConfig{Handler: sdk.HandlerFunc(func(w *sdk.ResponseWriter, r *sdk.Request) error {
		return sdk.Declined
	})})
}
