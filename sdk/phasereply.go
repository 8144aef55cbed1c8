package sdk

import (
	"fmt"

	"github.com/gobridge/gobridge/internal/wire"
	pb "github.com/gobridge/gobridge/proto/gobridge/v1"
)

// Reply ends the request with a response of the phase's own: status,
// content type and body, with the headers this phase and earlier ones set
// (Set/Add on TableHeadersOut and TableErrHeadersOut). Return what it
// returns:
//
//	if !allowed {
//		r.Set(sdk.TableErrHeadersOut, "Cache-Control", "no-store")
//		return r.Reply(403, "application/json", []byte(`{"error":"forbidden"}`))
//	}
//
// It is what a mod_python handler does when it writes to req and returns
// apache.DONE: a custom 403 page, a JSON error, a redirect page (set
// Location and reply 302). httpd sends the response as given (no
// ErrorDocument, no text/html of its own), discards the request body, and
// runs no later phase but logging. Filters added for the content
// (GoBridgeOutputFilter, SetOutputFilter) do not apply. The body is
// bounded by GoBridgeMaxMessageSize. In a sub-request, where nothing is
// sent, only the status counts (a 2xx one as OK).
//
// It returns Done, or, recording nothing, an error wrapping
// ErrInvalidChange when status is outside 200..599, contentType is not
// "type/subtype[; params]", or the phase is the log phase, when the
// response has already gone (returned, that error fails the phase with a
// 500).
func (r *PhaseRequest) Reply(status int, contentType string, body []byte) error {
	switch {
	case r.Phase == PhaseLog:
		return fmt.Errorf("%w: no reply in the log phase: the response has been sent", ErrInvalidChange)
	case !wire.ValidReply(status, contentType):
		return fmt.Errorf("%w: reply with status %d and content type %q", ErrInvalidChange, status, contentType)
	}
	r.reply = &pb.PhaseReply{Status: int32(status), ContentType: []byte(contentType), Body: body}
	return Done
}
