package sdktest

import (
	"context"
	"fmt"
	"testing"

	"github.com/gobridge/gobridge/internal/wire"
	pb "github.com/gobridge/gobridge/proto/gobridge/v1"
	"github.com/gobridge/gobridge/sdk"
)

// AuthRecorder is what an auth provider answered, as mod_gobridge receives
// it: the result, and what the module would apply to the request.
type AuthRecorder struct {
	Authn sdk.AuthnResult // CheckPassword, GetRealmHash
	Authz sdk.AuthzResult // CheckAuthorization
	Hash  string          // GetRealmHash with AuthnGranted

	Notes []sdk.Pair // r->notes to set, in order
	Env   []sdk.Pair // r->subprocess_env to set, in order
	Logs  []LogRecord
}

// Logged reports whether some log record contains substr.
func (r *AuthRecorder) Logged(substr string) bool {
	return (&Recorder{Logs: r.Logs}).Logged(substr)
}

// CheckPassword asks p for (user, password) the way `AuthBasicProvider
// gobridge` does, through the sdk's GoBridgeAuth service (so panics,
// errors and invalid results are mapped exactly as in production), and
// returns the answer. req may be nil (NewRequest("GET", "/", nil)).
func CheckPassword(t testing.TB, p sdk.PasswordChecker, req *sdk.Request, user, password string) *AuthRecorder {
	helper(t)
	req = authReq(req)
	resp := &pb.CheckPasswordResponse{}
	err := newPlugin(t, &sdk.ServeConfig{PasswordChecker: p}).unary(req.Context(), serviceAuth, "CheckPassword", &pb.CheckPasswordRequest{
		Request: encode(req), User: []byte(user), Password: []byte(password), Provider: []byte("gobridge"),
	}, resp)
	if err != nil {
		fatalf(t, "sdktest: CheckPassword: %v", err)
	}
	rec := &AuthRecorder{Authn: sdk.AuthnResult(resp.GetResult())}
	rec.record(t, resp.GetMutations(), resp.GetLogs())
	return rec
}

// GetRealmHash asks h for the Digest realm hash of user, as
// `AuthDigestProvider gobridge` does.
func GetRealmHash(t testing.TB, h sdk.RealmHasher, req *sdk.Request, user, realm string) *AuthRecorder {
	helper(t)
	req = authReq(req)
	resp := &pb.GetRealmHashResponse{}
	err := newPlugin(t, &sdk.ServeConfig{RealmHasher: h}).unary(req.Context(), serviceAuth, "GetRealmHash", &pb.GetRealmHashRequest{
		Request: encode(req), User: []byte(user), Realm: []byte(realm), Provider: []byte("gobridge"),
	}, resp)
	if err != nil {
		fatalf(t, "sdktest: GetRealmHash: %v", err)
	}
	rec := &AuthRecorder{Authn: sdk.AuthnResult(resp.GetResult()), Hash: string(resp.GetHash())}
	rec.record(t, resp.GetMutations(), resp.GetLogs())
	return rec
}

// CheckAuthorization asks c about one `Require gobridge <plugin> args...`
// line for user ("" when nobody authenticated).
func CheckAuthorization(t testing.TB, c sdk.RequireChecker, req *sdk.Request, user string, args ...string) *AuthRecorder {
	helper(t)
	req = authReq(req)
	m := &pb.CheckAuthorizationRequest{Request: encode(req), User: []byte(user)}
	for _, a := range args {
		m.Args = append(m.Args, []byte(a))
	}
	resp := &pb.CheckAuthorizationResponse{}
	err := newPlugin(t, &sdk.ServeConfig{RequireChecker: c}).unary(req.Context(), serviceAuth, "CheckAuthorization", m, resp)
	if err != nil {
		fatalf(t, "sdktest: CheckAuthorization: %v", err)
	}
	rec := &AuthRecorder{Authz: sdk.AuthzResult(resp.GetResult())}
	rec.record(t, resp.GetMutations(), resp.GetLogs())
	return rec
}

func authReq(req *sdk.Request) *sdk.Request {
	if req == nil {
		return NewRequest("GET", "/", nil).WithContext(context.Background())
	}
	return req
}

func encode(req *sdk.Request) *pb.Request {
	return wire.EncodeRequest(snapshot(req))
}

func (rec *AuthRecorder) record(t testing.TB, muts []*pb.Mutation, logs []*pb.LogRecord) {
	helper(t)
	for _, m := range muts {
		p := sdk.Pair{Key: string(m.GetKey()), Value: string(m.GetValue())}
		if !wire.ValidName(p.Key) || (m.GetOp() != pb.Mutation_OP_UNSET && !wire.ValidValue(p.Value)) {
			errorf(t, "sdktest: mutation %q=%q: the module refuses keys that are not HTTP tokens and values with control characters", p.Key, p.Value)
		}
		switch m.GetTable() {
		case pb.Mutation_TABLE_NOTES:
			rec.Notes = append(rec.Notes, p)
		case pb.Mutation_TABLE_SUBPROCESS_ENV:
			rec.Env = append(rec.Env, p)
		default:
			errorf(t, "sdktest: auth providers may only set notes and subprocess_env; got table %v", m.GetTable())
		}
	}
	for _, l := range logs {
		rec.Logs = append(rec.Logs, LogRecord{Level: wire.SlogLevel(l.GetLevel()), Message: string(l.GetMessage())})
	}
}

// helper marks the caller as a test helper, when there is a test: every
// function of the package takes a nil t in examples.
func helper(t testing.TB) {
	if t != nil {
		t.Helper()
	}
}

// fatalf fails and stops the test, or panics without one.
func fatalf(t testing.TB, format string, args ...any) {
	if t == nil {
		panic(fmt.Sprintf(format, args...))
	}
	t.Helper()
	t.Fatalf(format, args...)
}

// errorf fails the test, or panics without one.
func errorf(t testing.TB, format string, args ...any) {
	if t == nil {
		panic(fmt.Sprintf(format, args...))
	}
	t.Helper()
	t.Errorf(format, args...)
}
