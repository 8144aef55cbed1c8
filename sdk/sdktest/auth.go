package sdktest

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gobridge/gobridge/internal/wire"
	pb "github.com/gobridge/gobridge/proto/gobridge/v1"
	"github.com/gobridge/gobridge/sdk"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
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
	t.Helper()
	req = authReq(req)
	resp, err := wire.Hooks.AuthServer(p, nil, nil).CheckPassword(req.Context(), &pb.CheckPasswordRequest{
		Request: encode(req), User: []byte(user), Password: []byte(password), Provider: []byte("gobridge"),
	})
	if err != nil {
		t.Fatalf("sdktest: CheckPassword: %v", err)
	}
	rec := &AuthRecorder{Authn: sdk.AuthnResult(resp.GetResult())}
	rec.record(t, resp.GetMutations(), resp.GetLogs())
	return rec
}

// GetRealmHash asks h for the Digest realm hash of user, as
// `AuthDigestProvider gobridge` does.
func GetRealmHash(t testing.TB, h sdk.RealmHasher, req *sdk.Request, user, realm string) *AuthRecorder {
	t.Helper()
	req = authReq(req)
	resp, err := wire.Hooks.AuthServer(nil, h, nil).GetRealmHash(req.Context(), &pb.GetRealmHashRequest{
		Request: encode(req), User: []byte(user), Realm: []byte(realm), Provider: []byte("gobridge"),
	})
	if err != nil {
		t.Fatalf("sdktest: GetRealmHash: %v", err)
	}
	rec := &AuthRecorder{Authn: sdk.AuthnResult(resp.GetResult()), Hash: string(resp.GetHash())}
	rec.record(t, resp.GetMutations(), resp.GetLogs())
	return rec
}

// CheckAuthorization asks c about one `Require gobridge <plugin> args...`
// line for user ("" when nobody authenticated).
func CheckAuthorization(t testing.TB, c sdk.RequireChecker, req *sdk.Request, user string, args ...string) *AuthRecorder {
	t.Helper()
	req = authReq(req)
	m := &pb.CheckAuthorizationRequest{Request: encode(req), User: []byte(user)}
	for _, a := range args {
		m.Args = append(m.Args, []byte(a))
	}
	resp, err := wire.Hooks.AuthServer(nil, nil, c).CheckAuthorization(req.Context(), m)
	if err != nil {
		t.Fatalf("sdktest: CheckAuthorization: %v", err)
	}
	rec := &AuthRecorder{Authz: sdk.AuthzResult(resp.GetResult())}
	rec.record(t, resp.GetMutations(), resp.GetLogs())
	return rec
}

// AuthConn serves the GoBridgeAuth service for impl (any value implementing
// some of sdk.PasswordChecker, sdk.RealmHasher, sdk.RequireChecker) on a
// unix socket and returns a client, for wire-level tests. Everything is
// torn down when the test ends.
func AuthConn(t testing.TB, impl any) pb.GoBridgeAuthClient {
	t.Helper()
	dir, err := os.MkdirTemp("", "gbt")
	if err != nil {
		t.Fatalf("sdktest: %v", err)
	}
	path := filepath.Join(dir, "a.sock")
	lis, err := net.Listen("unix", path)
	if err != nil {
		_ = os.RemoveAll(dir)
		t.Fatalf("sdktest: %v", err)
	}
	gs := grpc.NewServer(grpc.MaxRecvMsgSize(wire.MaxMessage))
	pb.RegisterGoBridgeAuthServer(gs, wire.Hooks.AuthServer(impl, impl, impl))
	go func() { _ = gs.Serve(lis) }()
	cc, err := grpc.NewClient("unix://"+path, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		gs.Stop()
		_ = os.RemoveAll(dir)
		t.Fatalf("sdktest: %v", err)
	}
	t.Cleanup(func() {
		_ = cc.Close()
		gs.Stop()
		_ = os.RemoveAll(dir)
	})
	return pb.NewGoBridgeAuthClient(cc)
}

func authReq(req *sdk.Request) *sdk.Request {
	if req == nil {
		return NewRequest("GET", "/", nil).WithContext(context.Background())
	}
	return req
}

func encode(req *sdk.Request) *pb.Request {
	return wire.EncodeRequest(wire.Hooks.RequestToWire(req))
}

func (rec *AuthRecorder) record(t testing.TB, muts []*pb.Mutation, logs []*pb.LogRecord) {
	t.Helper()
	for _, m := range muts {
		p := sdk.Pair{Key: string(m.GetKey()), Value: string(m.GetValue())}
		if p.Key == "" || strings.ContainsAny(p.Key, "\x00\r\n") || strings.ContainsAny(p.Value, "\x00\r\n") {
			t.Errorf("sdktest: mutation %q=%q: the module refuses empty keys and NUL, CR, LF", p.Key, p.Value)
		}
		switch m.GetTable() {
		case pb.Mutation_TABLE_NOTES:
			rec.Notes = append(rec.Notes, p)
		case pb.Mutation_TABLE_SUBPROCESS_ENV:
			rec.Env = append(rec.Env, p)
		default:
			t.Errorf("sdktest: auth providers may only set notes and subprocess_env; got table %v", m.GetTable())
		}
	}
	for _, l := range logs {
		rec.Logs = append(rec.Logs, LogRecord{Level: wire.SlogLevel(l.GetLevel()), Message: string(l.GetMessage())})
	}
}
