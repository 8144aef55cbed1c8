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
// It returns Done, or an error (and the phase fails with a 500) when
// status is outside 200..599, contentType is not "type/subtype[; params]",
// or the phase is the log phase, when the response has already gone.
func (r *PhaseRequest) Reply(status int, contentType string, body []byte) error {
	switch {
	case r.Phase == PhaseLog:
		return r.fail(fmt.Errorf("sdk: Reply in the log phase: the response has been sent"))
	case !wire.ValidReply(status, contentType):
		return r.fail(fmt.Errorf("sdk: invalid reply: status %d, content type %q", status, contentType))
	}
	r.reply = &pb.PhaseReply{Status: int32(status), ContentType: []byte(contentType), Body: body}
	return Done
}

// fail records err as the phase's first problem and returns it.
func (r *PhaseRequest) fail(err error) error {
	if r.bad == nil {
		r.bad = err
	}
	return err
}
