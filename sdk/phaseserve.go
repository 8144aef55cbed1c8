package sdk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/gobridge/gobridge/internal/wire"
	pb "github.com/gobridge/gobridge/proto/gobridge/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// phaseMethod returns impl's method for phase p, or nil.
func phaseMethod(impl any, p Phase) func(*PhaseRequest) error {
	switch p {
	case PhasePostReadRequest:
		if i, ok := impl.(PostReadRequester); ok {
			return i.PostReadRequest
		}
	case PhaseTranslateName:
		if i, ok := impl.(Translator); ok {
			return i.TranslateName
		}
	case PhaseMapToStorage:
		if i, ok := impl.(StorageMapper); ok {
			return i.MapToStorage
		}
	case PhaseHeaderParser:
		if i, ok := impl.(HeaderParser); ok {
			return i.ParseHeader
		}
	case PhaseAccess:
		if i, ok := impl.(AccessChecker); ok {
			return i.CheckAccess
		}
	case PhaseAuthn:
		if i, ok := impl.(Authenticator); ok {
			return i.Authenticate
		}
	case PhaseAuthz:
		if i, ok := impl.(Authorizer); ok {
			return i.Authorize
		}
	case PhaseTypeChecker:
		if i, ok := impl.(TypeChecker); ok {
			return i.CheckType
		}
	case PhaseFixups:
		if i, ok := impl.(Fixupper); ok {
			return i.Fixup
		}
	case PhaseLog:
		if i, ok := impl.(TransactionLogger); ok {
			return i.LogTransaction
		}
	}
	return nil
}

// implementedPhases lists the phases impl implements, for Describe.
func implementedPhases(impl any) []pb.Phase {
	var out []pb.Phase
	if impl == nil {
		return nil
	}
	for p := PhasePostReadRequest; p <= PhaseLog; p++ {
		if phaseMethod(impl, p) != nil {
			out = append(out, wirePhase(p))
		}
	}
	return out
}

// The wire enum numbers the same phases with the content handler (10)
// between fixups and log.
func wirePhase(p Phase) pb.Phase {
	if p == PhaseLog {
		return pb.Phase_PHASE_LOG
	}
	return pb.Phase(p)
}

func sdkPhase(p pb.Phase) Phase {
	switch {
	case p == pb.Phase_PHASE_LOG:
		return PhaseLog
	case p >= pb.Phase_PHASE_POST_READ_REQUEST && p <= pb.Phase_PHASE_FIXUPS:
		return Phase(p)
	}
	return 0
}

// runPhase answers one Phase call for impl.
func runPhase(ctx context.Context, impl any, req *pb.PhaseRequest) (*pb.PhaseResponse, error) {
	if phaseMethod(impl, sdkPhase(req.GetPhase())) == nil {
		return nil, status.Errorf(codes.Unimplemented, "sdk: this plugin does not implement phase %v", req.GetPhase())
	}
	return runPhaseDecoded(ctx, impl, req.GetPhase(), wire.DecodeRequest(req.GetRequest()))
}

// runPhaseDecoded is runPhase for a request already decoded.
func runPhaseDecoded(ctx context.Context, impl any, phase pb.Phase, wr wire.Request) (*pb.PhaseResponse, error) {
	p := sdkPhase(phase)
	f := phaseMethod(impl, p)
	if f == nil {
		return nil, status.Errorf(codes.Unimplemented, "sdk: this plugin does not implement phase %v", phase)
	}
	var logs logQueue
	r := &PhaseRequest{Request: newRequest(wr), Phase: p}
	r.ctx = ctx
	r.out = newChanges(phaseTables, "a phase")
	r.logger = slog.New(&requestLogHandler{q: &logs, level: requestLevel(), base: requestLogBase(r.Request)})

	err := callPhase(f, r)
	var raw *wire.RawPhaseResponse
	if errors.As(err, &raw) {
		return raw.Resp, nil
	}
	resp := &pb.PhaseResponse{}
	var se *StatusError
	switch {
	case err == nil:
		resp.Result = pb.Result_RESULT_OK
	case errors.Is(err, Declined):
		resp.Result = pb.Result_RESULT_DECLINED
	case errors.Is(err, Done):
		resp.Result = pb.Result_RESULT_DONE
		resp.Reply = r.reply
	case errors.As(err, &se) && se.Code >= 300 && se.Code <= 599:
		resp.Result = pb.Result_RESULT_HTTP_STATUS
		resp.HttpStatus = int32(se.Code)
	default:
		if se != nil {
			r.Logger().Error(fmt.Sprintf("%v phase returned an invalid HTTP status; answering 500", p), "status", se.Code)
		} else {
			r.Logger().Error(fmt.Sprintf("%v phase failed", p), "err", err)
		}
		resp.Result = pb.Result_RESULT_HTTP_STATUS
		resp.HttpStatus = 500
		resp.Logs = logs.drain()
		return resp, nil // a failed phase changes nothing
	}
	resp.Mutations = r.out.take()
	resp.Fields = r.fields
	if r.redirect != "" && p != PhaseLog {
		resp.InternalRedirect = []byte(r.redirect)
	}
	resp.Logs = logs.drain()
	return resp, nil
}

func callPhase(f func(*PhaseRequest) error, r *PhaseRequest) (err error) {
	defer func() {
		if v := recover(); v != nil {
			Logger().Error("panic in phase", "phase", r.Phase.String(), "uri", r.UnparsedURI, "log_id", r.LogID,
				"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			err = fmt.Errorf("sdk: %v phase panicked: %v", r.Phase, v)
		}
	}()
	return f(r)
}
