package bridge

import (
	"errors"
	"fmt"
)

// Sentinel errors. Errors from this package wrap one of them where it
// applies, so callers can test with errors.Is.
var (
	// ErrSpec reports an invalid gobridged.spec. The wrapping *SpecError
	// names the line and what to do.
	ErrSpec = errors.New("invalid plugin spec")

	// ErrRuntimeDir reports a runtime directory that is missing, not a
	// directory, a symlink, owned by another user or open to group/others.
	ErrRuntimeDir = errors.New("unsafe or unusable runtime directory")

	// ErrStartTimeout reports a plugin that did not complete go-plugin's
	// handshake within Options.StartTimeout. Start failures are logged and
	// retried, not returned.
	ErrStartTimeout = errors.New("plugin start timed out")

	// ErrPluginExited reports a plugin process that exited before or while
	// being started.
	ErrPluginExited = errors.New("plugin exited")

	// ErrStopped is returned by Supervisor methods called after Stop.
	ErrStopped = errors.New("supervisor stopped")
)

// SpecError is a problem on one line of gobridged.spec.
type SpecError struct {
	File string // the spec's path, or "" when parsed from a reader
	Line int    // 1-based line number
	Msg  string // what is wrong and what to do
}

// Error formats the error as "FILE:LINE: MSG", like a compiler would.
func (e *SpecError) Error() string {
	file := e.File
	if file == "" {
		file = SpecFile
	}
	return fmt.Sprintf("%s:%d: %s", file, e.Line, e.Msg)
}

// Unwrap makes errors.Is(err, ErrSpec) true.
func (e *SpecError) Unwrap() error { return ErrSpec }
