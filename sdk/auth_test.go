package sdk_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	pb "github.com/gobridge/gobridge/proto/gobridge/v1"
	"github.com/gobridge/gobridge/sdk"
	"github.com/gobridge/gobridge/sdk/sdktest"
)

type fakeAuth struct {
	res  sdk.AuthnResult
	hash string
	err  error
	zres sdk.AuthzResult
	boom bool
}

func (f *fakeAuth) CheckPassword(r *sdk.Request, user, password string) (sdk.AuthnResult, error) {
	if f.boom {
		panic("kaboom")
	}
	r.SetEnv("AUTH_USER", user)
	r.SetNote("checked", "yes")
	r.Logger().Info("checked", "user", user)
	return f.res, f.err
}

func (f *fakeAuth) GetRealmHash(_ *sdk.Request, _, _ string) (string, sdk.AuthnResult, error) {
	return f.hash, f.res, f.err
}

func (f *fakeAuth) CheckAuthorization(r *sdk.Request, user string, args []string) (sdk.AuthzResult, error) {
	if f.boom {
		panic("kaboom")
	}
	r.SetEnv("ARGS", strings.Join(args, ","))
	return f.zres, f.err
}

func TestCheckPasswordMapping(t *testing.T) {
	tests := []struct {
		name    string
		f       fakeAuth
		want    sdk.AuthnResult
		wantEnv bool
	}{
		{"granted", fakeAuth{res: sdk.AuthnGranted}, sdk.AuthnGranted, true},
		{"denied", fakeAuth{res: sdk.AuthnDenied}, sdk.AuthnDenied, false},
		{"not found", fakeAuth{res: sdk.AuthnUserNotFound}, sdk.AuthnUserNotFound, false},
		{"error wins over granted", fakeAuth{res: sdk.AuthnGranted, err: errors.New("disk")}, sdk.AuthnGeneralError, false},
		{"zero result", fakeAuth{}, sdk.AuthnGeneralError, false},
		{"out of range", fakeAuth{res: 42}, sdk.AuthnGeneralError, false},
		{"panic", fakeAuth{res: sdk.AuthnGranted, boom: true}, sdk.AuthnGeneralError, false},
	}
	for _, tt := range tests {
		rec := sdktest.CheckPassword(t, &tt.f, nil, "ann", "s3cret-pw")
		if rec.Authn != tt.want {
			t.Errorf("%s: CheckPassword = %v; want %v", tt.name, rec.Authn, tt.want)
		}
		if got := len(rec.Env) > 0; got != tt.wantEnv {
			t.Errorf("%s: env mutations sent = %v; want %v (only on a grant)", tt.name, got, tt.wantEnv)
		}
		for _, l := range rec.Logs {
			if strings.Contains(l.Message, "s3cret-pw") {
				t.Errorf("%s: password in log record %q", tt.name, l.Message)
			}
		}
	}
}

func TestRealmHashValidated(t *testing.T) {
	good := strings.Repeat("ab", 16)
	tests := []struct {
		hash string
		res  sdk.AuthnResult
		want sdk.AuthnResult
	}{
		{good, sdk.AuthnGranted, sdk.AuthnGranted},
		{strings.ToUpper(good), sdk.AuthnGranted, sdk.AuthnGeneralError},
		{good[:31], sdk.AuthnGranted, sdk.AuthnGeneralError},
		{"", sdk.AuthnUserNotFound, sdk.AuthnUserNotFound},
	}
	for _, tt := range tests {
		rec := sdktest.GetRealmHash(t, &fakeAuth{hash: tt.hash, res: tt.res}, nil, "ann", "realm")
		if rec.Authn != tt.want {
			t.Errorf("GetRealmHash(hash %q, %v) = %v; want %v", tt.hash, tt.res, rec.Authn, tt.want)
		}
		if tt.want == sdk.AuthnGranted && rec.Hash != tt.hash {
			t.Errorf("hash = %q; want %q", rec.Hash, tt.hash)
		}
		if tt.want != sdk.AuthnGranted && rec.Hash != "" {
			t.Errorf("hash sent with %v", rec.Authn)
		}
	}
}

func TestCheckAuthorizationArgs(t *testing.T) {
	rec := sdktest.CheckAuthorization(t, &fakeAuth{zres: sdk.AuthzGranted}, nil, "ann", "group", "admins ops")
	if rec.Authz != sdk.AuthzGranted {
		t.Fatalf("CheckAuthorization = %v; want granted", rec.Authz)
	}
	if len(rec.Env) != 1 || rec.Env[0].Value != "group,admins ops" {
		t.Errorf("args seen = %v; want [group,admins ops]", rec.Env)
	}
	for _, f := range []fakeAuth{{}, {zres: 9}, {zres: sdk.AuthzGranted, err: errors.New("x")}, {zres: sdk.AuthzGranted, boom: true}} {
		if rec := sdktest.CheckAuthorization(t, &f, nil, "ann"); rec.Authz != sdk.AuthzGeneralError {
			t.Errorf("CheckAuthorization(%+v) = %v; want general error", f, rec.Authz)
		}
	}
}

// A plugin that serves some auth providers answers a call for one it does
// not implement with a general error (500), never a grant.
func TestAuthUnimplementedFailsClosed(t *testing.T) {
	c := pb.NewGoBridgeAuthClient(sdktest.Conn(t, &sdk.ServeConfig{RealmHasher: &fakeAuth{}}))
	pr, err := c.CheckPassword(t.Context(), &pb.CheckPasswordRequest{User: []byte("a"), Password: []byte("b")})
	if err != nil || pr.GetResult() != pb.AuthnResult_AUTHN_RESULT_GENERAL_ERROR {
		t.Errorf("no checker: %v, %v; want general error", pr.GetResult(), err)
	}
	zr, err := c.CheckAuthorization(t.Context(), &pb.CheckAuthorizationRequest{User: []byte("a")})
	if err != nil || zr.GetResult() != pb.AuthzResult_AUTHZ_RESULT_GENERAL_ERROR {
		t.Errorf("no authorizer: %v, %v; want general error", zr.GetResult(), err)
	}
}

func TestAuthOverGRPC(t *testing.T) {
	fa := &fakeAuth{res: sdk.AuthnGranted, zres: sdk.AuthzDeniedNoUser}
	c := pb.NewGoBridgeAuthClient(sdktest.Conn(t, &sdk.ServeConfig{PasswordChecker: fa, RealmHasher: fa, RequireChecker: fa}))
	resp, err := c.CheckPassword(context.Background(), &pb.CheckPasswordRequest{User: []byte("\xff\xfeann"), Password: []byte("p\x00w")})
	if err != nil || resp.GetResult() != pb.AuthnResult_AUTHN_RESULT_GRANTED {
		t.Fatalf("CheckPassword over gRPC = %v, %v; want granted", resp.GetResult(), err)
	}
	zr, err := c.CheckAuthorization(context.Background(), &pb.CheckAuthorizationRequest{})
	if err != nil || zr.GetResult() != pb.AuthzResult_AUTHZ_RESULT_DENIED_NO_USER {
		t.Fatalf("CheckAuthorization over gRPC = %v, %v", zr.GetResult(), err)
	}
}
