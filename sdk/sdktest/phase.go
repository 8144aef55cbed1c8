package sdktest

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gobridge/gobridge/internal/wire"
	pb "github.com/gobridge/gobridge/proto/gobridge/v1"
	"github.com/gobridge/gobridge/sdk"
)

// Mutation is one recorded table change of a phase.
type Mutation struct {
	Table sdk.Table
	Op    string // "set", "add" or "unset"
	Key   string
	Value string
}

// PhaseRecorder is what a phase method answered.
type PhaseRecorder struct {
	Result Result // OK, Declined, HTTPStatus, or Done
	Status int    // with Result == HTTPStatus

	Mutations []Mutation
	// Fields holds the request fields set, by name ("filename", "uri",
	// "path_info", "args", "handler", "content_type", "content_encoding",
	// "content_languages", "user", "auth_type", "status_line", "no_cache",
	// "canonical_filename", "allowed_methods", "mtime" in microseconds,
	// "gobridge_handler"), the last value set winning. Filters added
	// ("add_output_filter", "add_gobridge_output_filter", …) are in
	// AddedFilters instead.
	Fields       map[string]string
	AddedFilters []AddedFilter
	Redirect     string // the internal redirect target, if any
	Reply        *Reply // the phase's own response (PhaseRequest.Reply), if any
	Logs         []LogRecord
	Err          error // a gRPC-level error (the phase is not one httpd has)

	// Violations lists what mod_gobridge would refuse (and answer 500 for).
	Violations []string
}

// Reply is the response a phase sent itself (PhaseRequest.Reply).
type Reply struct {
	Status      int
	ContentType string
	Body        []byte
}

// AddedFilter is a filter a phase added to its request.
type AddedFilter struct {
	Name     string // httpd's filter name, or the GoBridgePlugin
	Output   bool   // an output filter, else an input filter
	GoBridge bool   // Name is a plugin run as a gobridge body filter
}

// Done is a PhaseRecorder result: the request is fully answered.
const Done Result = HTTPStatus + 1

// RunPhase runs fn as httpd's phase on req, without httpd or a network,
// the way mod_gobridge would call the phase method fn is (a Fixupper's Fixup
// for sdk.PhaseFixups, an AccessChecker's CheckAccess for sdk.PhaseAccess,
// …), and records the answer:
//
//	rec := sdktest.RunPhase(t, sdk.PhaseFixups, plugin.Fixup, req)
//
// Answers mod_gobridge would refuse are reported with t.Errorf; t may be
// nil (in examples), and they then panic.
func RunPhase(t testing.TB, phase sdk.Phase, fn func(*sdk.PhaseRequest) error, req *sdk.Request) *PhaseRecorder {
	if t != nil {
		t.Helper()
	}
	wp := pb.Phase(phase)
	if phase == sdk.PhaseLog {
		wp = pb.Phase_PHASE_LOG
	}
	resp := &pb.PhaseResponse{}
	err := newPlugin(t, &sdk.ServeConfig{Phases: phaseFunc(fn)}).unary(req.Context(), serviceGoBridge, "Phase",
		&pb.PhaseRequest{Phase: wp, Request: wire.EncodeRequest(snapshot(req))}, resp)
	rec := &PhaseRecorder{Fields: map[string]string{}, Err: err}
	if err != nil {
		return rec
	}
	switch resp.GetResult() {
	case pb.Result_RESULT_OK:
		rec.Result = OK
	case pb.Result_RESULT_DECLINED:
		rec.Result = Declined
	case pb.Result_RESULT_DONE:
		rec.Result = Done
	case pb.Result_RESULT_HTTP_STATUS:
		rec.Result = HTTPStatus
		rec.Status = int(resp.GetHttpStatus())
		if rec.Status < 300 || rec.Status > 599 {
			rec.Violations = append(rec.Violations, "http_status outside 300..599")
		}
	default:
		rec.Violations = append(rec.Violations, "no result")
	}
	for _, m := range resp.GetMutations() {
		op := strings.ToLower(strings.TrimPrefix(m.GetOp().String(), "OP_"))
		rec.Mutations = append(rec.Mutations, Mutation{Table: sdk.Table(m.GetTable()), Op: op, Key: string(m.GetKey()), Value: string(m.GetValue())})
		if !wire.ValidName(string(m.GetKey())) || (m.GetOp() != pb.Mutation_OP_UNSET && !wire.ValidValue(string(m.GetValue()))) {
			rec.Violations = append(rec.Violations, "invalid mutation "+string(m.GetKey()))
		}
	}
	for _, f := range resp.GetFields() {
		name := strings.ToLower(strings.TrimPrefix(f.GetField().String(), "FIELD_"))
		switch f.GetField() {
		case pb.FieldUpdate_FIELD_ADD_OUTPUT_FILTER, pb.FieldUpdate_FIELD_ADD_INPUT_FILTER,
			pb.FieldUpdate_FIELD_ADD_GOBRIDGE_OUTPUT_FILTER, pb.FieldUpdate_FIELD_ADD_GOBRIDGE_INPUT_FILTER:
			rec.AddedFilters = append(rec.AddedFilters, AddedFilter{
				Name:     string(f.GetValue()),
				Output:   strings.Contains(name, "output"),
				GoBridge: strings.Contains(name, "gobridge"),
			})
		default:
			rec.Fields[name] = string(f.GetValue())
		}
		if !wire.ValidField(f.GetField(), string(f.GetValue())) {
			rec.Violations = append(rec.Violations, "invalid "+name)
		}
	}
	if rp := resp.GetReply(); rp != nil {
		rec.Reply = &Reply{Status: int(rp.GetStatus()), ContentType: string(rp.GetContentType()), Body: rp.GetBody()}
		if resp.GetResult() != pb.Result_RESULT_DONE || !wire.ValidReply(rec.Reply.Status, rec.Reply.ContentType) {
			rec.Violations = append(rec.Violations, "invalid reply")
		}
	}
	rec.Redirect = string(resp.GetInternalRedirect())
	for _, l := range resp.GetLogs() {
		rec.Logs = append(rec.Logs, LogRecord{Level: wire.SlogLevel(l.GetLevel()), Message: string(l.GetMessage())})
	}
	for _, v := range rec.Violations {
		if t == nil {
			panic("sdktest: mod_gobridge would refuse the answer: " + v)
		}
		t.Errorf("sdktest: mod_gobridge would refuse the answer: %s", v)
	}
	return rec
}

// phaseFunc implements every phase interface with one function, so the
// sdk runs it for whichever phase RunPhase asks for.
type phaseFunc func(*sdk.PhaseRequest) error

func (f phaseFunc) PostReadRequest(r *sdk.PhaseRequest) error { return f(r) }
func (f phaseFunc) TranslateName(r *sdk.PhaseRequest) error   { return f(r) }
func (f phaseFunc) MapToStorage(r *sdk.PhaseRequest) error    { return f(r) }
func (f phaseFunc) ParseHeader(r *sdk.PhaseRequest) error     { return f(r) }
func (f phaseFunc) CheckAccess(r *sdk.PhaseRequest) error     { return f(r) }
func (f phaseFunc) Authenticate(r *sdk.PhaseRequest) error    { return f(r) }
func (f phaseFunc) Authorize(r *sdk.PhaseRequest) error       { return f(r) }
func (f phaseFunc) CheckType(r *sdk.PhaseRequest) error       { return f(r) }
func (f phaseFunc) Fixup(r *sdk.PhaseRequest) error           { return f(r) }
func (f phaseFunc) LogTransaction(r *sdk.PhaseRequest) error  { return f(r) }

// Get returns the value the recorded mutations leave for key in table t,
// starting from an empty table (canonical header-name matching for the
// header tables, exact for notes and subprocess_env), and whether it is
// set.
func (r *PhaseRecorder) Get(t sdk.Table, key string) (string, bool) {
	val, set := "", false
	same := func(a string) bool {
		if t == sdk.TableNotes || t == sdk.TableSubprocessEnv || t == sdk.TableConnNotes {
			return a == key
		}
		return http.CanonicalHeaderKey(a) == http.CanonicalHeaderKey(key)
	}
	for _, m := range r.Mutations {
		if m.Table != t || !same(m.Key) {
			continue
		}
		switch m.Op {
		case "set":
			val, set = m.Value, true
		case "add":
			if !set {
				val, set = m.Value, true
			}
		case "unset":
			val, set = "", false
		}
	}
	return val, set
}

// Logged reports whether some log record contains substr.
func (r *PhaseRecorder) Logged(substr string) bool {
	for _, l := range r.Logs {
		if strings.Contains(l.Message, substr) {
			return true
		}
	}
	return false
}
