// Command noop is the gobridge plugin of the benchmark: the content handler
// answers "Hello, world\n" (13 bytes), the same response every other row of
// bench/ serves, so a gobridge row measures mod_gobridge, the wire and the
// SDK, not the handler.
//
// For the multi-phase row it also answers the access phase (Declined: an OK
// there would grant the request without authentication) and the fixup phase
// (OK, nothing changed), checks Basic passwords against -user/-password in
// constant time, and grants every `Require gobridge noop` line to an
// authenticated user: each phase costs one round trip and nothing else.
package main

import (
	"context"
	"crypto/subtle"
	"flag"

	"github.com/gobridge/gobridge/sdk"
)

var hello = []byte("Hello, world\n")

type noop struct{ user, password []byte }

func (noop) ServeGoBridge(w *sdk.ResponseWriter, _ *sdk.Request) error {
	w.Header().Set("Content-Type", "text/plain")
	_, err := w.Write(hello)
	return err
}

func (noop) CheckAccess(*sdk.PhaseRequest) error { return sdk.Declined }
func (noop) Fixup(*sdk.PhaseRequest) error       { return nil }

func (n noop) CheckPassword(_ context.Context, _ *sdk.Request, user, password string) (sdk.AuthnResult, error) {
	if subtle.ConstantTimeCompare([]byte(user), n.user) != 1 {
		return sdk.AuthnUserNotFound, nil
	}
	if subtle.ConstantTimeCompare([]byte(password), n.password) != 1 {
		return sdk.AuthnDenied, nil
	}
	return sdk.AuthnGranted, nil
}

func (noop) CheckAuthorization(_ context.Context, _ *sdk.Request, user string, _ []string) (sdk.AuthzResult, error) {
	if user == "" {
		return sdk.AuthzDeniedNoUser, nil
	}
	return sdk.AuthzGranted, nil
}

func main() {
	user := flag.String("user", "bench", "the one user the password check knows")
	password := flag.String("password", "bench-secret", "that user's password")
	flag.Parse()
	n := noop{user: []byte(*user), password: []byte(*password)}
	sdk.Serve(&sdk.ServeConfig{Handler: n, PasswordChecker: n, RequireChecker: n})
}
