// Command noop is the gobridge plugin of the benchmark: the content handler
// answers "Hello, world\n" (13 bytes), the same response every other row of
// bench/ serves, so a gobridge row measures mod_gobridge, the wire and the
// SDK, not the handler. /gb/up and /gb/down?mb=N are the streamed upload
// (answers the body's length) and download (N MiB) of the extra
// measurements.
//
// For the multi-phase row it also answers the access phase (Declined: an OK
// there would grant the request without authentication) and the fixup phase
// (OK, nothing changed), checks Basic passwords against -user/-password in
// constant time, and grants every `Require gobridge noop` line to an
// authenticated user: each phase costs one round trip and nothing else.
package main

import (
	"crypto/subtle"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strconv"

	"github.com/gobridge/gobridge/sdk"
)

var hello = []byte("Hello, world\n")

type noop struct{ user, password []byte }

func (noop) ServeGoBridge(w *sdk.ResponseWriter, r *sdk.Request) error {
	switch r.URI {
	case "/gb/up":
		return upload(w, r)
	case "/gb/down":
		return download(w, r)
	}
	w.Header().Set("Content-Type", "text/plain")
	_, err := w.Write(hello)
	return err
}

// upload reads the request body to its end and answers its length: the
// benchmark's streamed upload.
func upload(w *sdk.ResponseWriter, r *sdk.Request) error {
	n, err := io.Copy(io.Discard, r.Body)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/plain")
	_, err = fmt.Fprintf(w, "%d\n", n)
	return err
}

// download streams ?mb=N MiB (default 100) of byte(i % 251) in writes of
// about 256 KiB: the benchmark's streamed download.
func download(w *sdk.ResponseWriter, r *sdk.Request) error {
	mb := 100
	if q, err := url.ParseQuery(r.Args); err == nil {
		if v, err := strconv.Atoi(q.Get("mb")); err == nil && v > 0 {
			mb = v
		}
	}
	// 1024 periods of the pattern: each write starts where byte(i % 251)
	// starts again, so the whole body follows the pattern.
	chunk := make([]byte, 251*1024)
	for i := range chunk {
		chunk[i] = byte(i % 251)
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	for left := mb << 20; left > 0; {
		n := min(left, len(chunk))
		if _, err := w.Write(chunk[:n]); err != nil {
			return err
		}
		left -= n
	}
	return nil
}

func (noop) CheckAccess(*sdk.PhaseRequest) error { return sdk.Declined }
func (noop) Fixup(*sdk.PhaseRequest) error       { return nil }

func (n noop) CheckPassword(_ *sdk.Request, user, password string) (sdk.AuthnResult, error) {
	if subtle.ConstantTimeCompare([]byte(user), n.user) != 1 {
		return sdk.AuthnUserNotFound, nil
	}
	if subtle.ConstantTimeCompare([]byte(password), n.password) != 1 {
		return sdk.AuthnDenied, nil
	}
	return sdk.AuthnGranted, nil
}

func (noop) CheckAuthorization(_ *sdk.Request, user string, _ []string) (sdk.AuthzResult, error) {
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
