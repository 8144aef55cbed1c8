package sdk

import (
	"fmt"

	pb "github.com/gobridge/gobridge/proto/gobridge/v1"
)

// AddOutputFilter adds httpd's output filter name (DEFLATE, INCLUDES,
// SUBSTITUTE…: a name a module registered) to this request, as mod_python's
// req.add_output_filter or SetOutputFilter in a section would. httpd adds
// it when the content handler starts, after the filters the configuration
// adds; a name no loaded module registered fails the request with 500
// (GB0352). Call it in a phase before the handler (fixups at the latest);
// not in a sub-request, whose filters are not the client's.
func (r *PhaseRequest) AddOutputFilter(name string) error {
	return r.addFilter(pb.FieldUpdate_FIELD_ADD_OUTPUT_FILTER, "output filter", name)
}

// AddInputFilter adds httpd's input filter name to this request, as
// AddOutputFilter does for output. It applies only when the request has a
// body.
func (r *PhaseRequest) AddInputFilter(name string) error {
	return r.addFilter(pb.FieldUpdate_FIELD_ADD_INPUT_FILTER, "input filter", name)
}

// AddGoBridgeOutputFilter has the plugin declared as GoBridgePlugin plugin
// transform this request's response body (a BodyFilter), as if
// GoBridgeOutputFilter named it here, after the configured ones. A name no
// GoBridgePlugin line declares fails the request with 500 (GB0352).
func (r *PhaseRequest) AddGoBridgeOutputFilter(plugin string) error {
	return r.addFilter(pb.FieldUpdate_FIELD_ADD_GOBRIDGE_OUTPUT_FILTER, "gobridge output filter", plugin)
}

// AddGoBridgeInputFilter has plugin transform this request's body, as if
// GoBridgeInputFilter named it here. It applies only when the request has
// a body.
func (r *PhaseRequest) AddGoBridgeInputFilter(plugin string) error {
	return r.addFilter(pb.FieldUpdate_FIELD_ADD_GOBRIDGE_INPUT_FILTER, "gobridge input filter", plugin)
}

func (r *PhaseRequest) addFilter(f pb.FieldUpdate_Field, what, name string) error {
	if r.Phase == PhaseLog {
		return fmt.Errorf("%w: no %s added in the log phase: the response has been sent", ErrInvalidChange, what)
	}
	return r.field(f, what, name)
}
