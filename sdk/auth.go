package sdk

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"

	"github.com/gobridge/gobridge/internal/wire"
	pb "github.com/gobridge/gobridge/proto/gobridge/v1"
)

// AuthnResult is an authentication provider's answer. The values map one to
// one onto httpd's authn_status (include/mod_auth.h). The zero value is not
// a result: returning it is treated as AuthnGeneralError.
type AuthnResult int

const (
	// AuthnGranted: the password is right (AUTH_GRANTED).
	AuthnGranted AuthnResult = iota + 1
	// AuthnDenied: the user exists and the password is wrong (AUTH_DENIED).
	AuthnDenied
	// AuthnUserNotFound: this provider does not know the user; httpd asks
	// the next provider of AuthBasicProvider, if any (AUTH_USER_NOT_FOUND).
	AuthnUserNotFound
	// AuthnGeneralError: the provider could not decide; the client gets
	// 500 (AUTH_GENERAL_ERROR). Never a grant.
	AuthnGeneralError
)

// String returns the result as httpd's documentation names it ("granted",
// "user not found").
func (a AuthnResult) String() string {
	switch a {
	case AuthnGranted:
		return "granted"
	case AuthnDenied:
		return "denied"
	case AuthnUserNotFound:
		return "user not found"
	case AuthnGeneralError:
		return "general error"
	}
	return fmt.Sprintf("AuthnResult(%d)", int(a))
}

// AuthzResult is an authorization provider's answer for one Require line.
// The values map one to one onto httpd's authz_status. The zero value is
// not a result: returning it is treated as AuthzGeneralError.
type AuthzResult int

const (
	// AuthzGranted: this Require line is satisfied (AUTHZ_GRANTED).
	AuthzGranted AuthzResult = iota + 1
	// AuthzDenied: it is not (AUTHZ_DENIED): 401 if a user logged in and
	// nothing else grants, 403 otherwise, as mod_authz_core decides.
	AuthzDenied
	// AuthzDeniedNoUser: it cannot be satisfied without an authenticated
	// user; httpd asks the client to log in (AUTHZ_DENIED_NO_USER).
	AuthzDeniedNoUser
	// AuthzNeutral: this line has no opinion (AUTHZ_NEUTRAL).
	AuthzNeutral
	// AuthzGeneralError: the provider could not decide; the client gets
	// 500 (AUTHZ_GENERAL_ERROR). Never a grant.
	AuthzGeneralError
)

// String returns the result as httpd's documentation names it ("granted",
// "denied (no user)").
func (a AuthzResult) String() string {
	switch a {
	case AuthzGranted:
		return "granted"
	case AuthzDenied:
		return "denied"
	case AuthzDeniedNoUser:
		return "denied (no user)"
	case AuthzNeutral:
		return "neutral"
	case AuthzGeneralError:
		return "general error"
	}
	return fmt.Sprintf("AuthzResult(%d)", int(a))
}

// PasswordChecker is an Apache authentication provider for AuthType Basic:
// httpd calls it for `AuthBasicProvider gobridge` in a directory where
// `GoBridgeAuthnProvider <plugin>` names this plugin (docs/auth.md).
//
// It returns AuthnGranted, AuthnDenied or AuthnUserNotFound, and an error
// only for technical failures (a file that cannot be read): any error, like
// a panic, becomes AuthnGeneralError and the client gets 500. user and
// password are the bytes the client sent, not necessarily UTF-8. The
// password must never be logged. Compare in constant time, and spend the
// same time on unknown users as on known ones.
//
// r is the request being authenticated: GoBridgeOption values (r.Option),
// the client address, headers; r.Context() is cancelled when httpd gives up
// on the call. Changes to notes and subprocess_env (r.SetNote, r.Set) take
// effect only when the result is AuthnGranted. r.Logger writes into httpd's
// error log.
type PasswordChecker interface {
	CheckPassword(r *Request, user, password string) (AuthnResult, error)
}

// RealmHasher is an Apache authentication provider for AuthType Digest
// (`AuthDigestProvider gobridge`). For a known user it returns AuthnGranted
// and the lower-case hex MD5 of "user:realm:password", which is what an
// htdigest file stores; for an unknown user AuthnUserNotFound.
type RealmHasher interface {
	GetRealmHash(r *Request, user, realm string) (hash string, res AuthnResult, err error)
}

// RequireChecker is an Apache authorization provider:
// `Require gobridge <plugin> [args...]` calls it with this line's
// arguments after the plugin name (never another line's) and r.User's
// name, "" when nobody has authenticated. Return AuthzDeniedNoUser when a
// login is needed to decide. Errors and panics become AuthzGeneralError.
type RequireChecker interface {
	CheckAuthorization(r *Request, user string, args []string) (AuthzResult, error)
}

// PasswordCheckerFunc adapts a function to PasswordChecker.
type PasswordCheckerFunc func(r *Request, user, password string) (AuthnResult, error)

// CheckPassword calls f.
func (f PasswordCheckerFunc) CheckPassword(r *Request, user, password string) (AuthnResult, error) {
	return f(r, user, password)
}

// RequireCheckerFunc adapts a function to RequireChecker.
type RequireCheckerFunc func(r *Request, user string, args []string) (AuthzResult, error)

// CheckAuthorization calls f.
func (f RequireCheckerFunc) CheckAuthorization(r *Request, user string, args []string) (AuthzResult, error) {
	return f(r, user, args)
}

// authServer implements gobridge.v1.GoBridgeAuth over the provider
// interfaces a plugin implements.
type authServer struct {
	pb.UnimplementedGoBridgeAuthServer
	pc PasswordChecker
	rh RealmHasher
	rc RequireChecker
}

func newAuthServer(cfg *ServeConfig) *authServer {
	if cfg.PasswordChecker == nil && cfg.RealmHasher == nil && cfg.RequireChecker == nil {
		return nil
	}
	return &authServer{pc: cfg.PasswordChecker, rh: cfg.RealmHasher, rc: cfg.RequireChecker}
}

// authCall is the per-call state: the Request with its log queue and
// mutation recorder.
type authCall struct {
	r    *Request
	logs logQueue
}

func newAuthCall(ctx context.Context, wr wire.Request) *authCall {
	c := &authCall{}
	c.r = newRequest(wr)
	c.r.ctx = ctx
	c.r.out = newChanges(providerTables, "an auth provider")
	c.r.logger = slog.New(&requestLogHandler{q: &c.logs, level: requestLevel(), base: requestLogBase(c.r)})
	return c
}

// run calls f, turning a panic into an error (with the stack in the
// process log, never the arguments).
func (c *authCall) run(what string, f func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			Logger().Error("sdk: auth provider panicked", "call", what, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			err = fmt.Errorf("sdk: %s panicked: %v", what, v)
		}
	}()
	return f()
}

// failed logs a provider's error into httpd's error log with the request.
func (c *authCall) failed(what string, err error) {
	c.r.Logger().Error(what+" failed", "err", err)
}

func (s *authServer) CheckPassword(ctx context.Context, req *pb.CheckPasswordRequest) (*pb.CheckPasswordResponse, error) {
	return s.checkPassword(ctx, newAuthCall(ctx, wire.DecodeRequest(req.GetRequest())), req)
}

// checkPassword answers req, whose snapshot c holds (req's is not read).
func (s *authServer) checkPassword(ctx context.Context, c *authCall, req *pb.CheckPasswordRequest) (*pb.CheckPasswordResponse, error) {
	res := AuthnGeneralError
	if s == nil || s.pc == nil {
		c.failed("CheckPassword", fmt.Errorf("this plugin implements no sdk.PasswordChecker"))
	} else {
		err := c.run("CheckPassword", func() error {
			var err error
			res, err = s.pc.CheckPassword(c.r, string(req.GetUser()), string(req.GetPassword()))
			return err
		})
		res = c.authnOutcome("CheckPassword", res, err)
	}
	resp := &pb.CheckPasswordResponse{Result: authnWire(res)}
	if res == AuthnGranted {
		resp.Mutations = c.r.out.take()
	}
	resp.Logs = c.logs.drain()
	return resp, nil
}

func (s *authServer) GetRealmHash(ctx context.Context, req *pb.GetRealmHashRequest) (*pb.GetRealmHashResponse, error) {
	return s.getRealmHash(ctx, newAuthCall(ctx, wire.DecodeRequest(req.GetRequest())), req)
}

// getRealmHash answers req, whose snapshot c holds (req's is not read).
func (s *authServer) getRealmHash(ctx context.Context, c *authCall, req *pb.GetRealmHashRequest) (*pb.GetRealmHashResponse, error) {
	res := AuthnGeneralError
	var hash string
	if s == nil || s.rh == nil {
		c.failed("GetRealmHash", fmt.Errorf("this plugin implements no sdk.RealmHasher"))
	} else {
		err := c.run("GetRealmHash", func() error {
			var err error
			hash, res, err = s.rh.GetRealmHash(c.r, string(req.GetUser()), string(req.GetRealm()))
			return err
		})
		res = c.authnOutcome("GetRealmHash", res, err)
		if res == AuthnGranted && !validRealmHash(hash) {
			c.failed("GetRealmHash", fmt.Errorf("the hash is not 32 lower-case hex digits"))
			res = AuthnGeneralError
		}
	}
	resp := &pb.GetRealmHashResponse{Result: authnWire(res)}
	if res == AuthnGranted {
		resp.Hash = []byte(hash)
		resp.Mutations = c.r.out.take()
	}
	resp.Logs = c.logs.drain()
	return resp, nil
}

func (s *authServer) CheckAuthorization(ctx context.Context, req *pb.CheckAuthorizationRequest) (*pb.CheckAuthorizationResponse, error) {
	return s.checkAuthorization(ctx, newAuthCall(ctx, wire.DecodeRequest(req.GetRequest())), req)
}

// checkAuthorization answers req, whose snapshot c holds (req's is not read).
func (s *authServer) checkAuthorization(ctx context.Context, c *authCall, req *pb.CheckAuthorizationRequest) (*pb.CheckAuthorizationResponse, error) {
	res := AuthzGeneralError
	if s == nil || s.rc == nil {
		c.failed("CheckAuthorization", fmt.Errorf("this plugin implements no sdk.RequireChecker"))
	} else {
		args := make([]string, len(req.GetArgs()))
		for i, a := range req.GetArgs() {
			args[i] = string(a)
		}
		err := c.run("CheckAuthorization", func() error {
			var err error
			res, err = s.rc.CheckAuthorization(c.r, string(req.GetUser()), args)
			return err
		})
		switch {
		case err != nil:
			c.failed("CheckAuthorization", err)
			res = AuthzGeneralError
		case res < AuthzGranted || res > AuthzGeneralError:
			c.failed("CheckAuthorization", fmt.Errorf("invalid result %v", res))
			res = AuthzGeneralError
		}
	}
	return &pb.CheckAuthorizationResponse{
		Result:    pb.AuthzResult(res),
		Mutations: c.r.out.take(),
		Logs:      c.logs.drain(),
	}, nil
}

func (c *authCall) authnOutcome(what string, res AuthnResult, err error) AuthnResult {
	switch {
	case err != nil:
		c.failed(what, err)
		return AuthnGeneralError
	case res < AuthnGranted || res > AuthnGeneralError:
		c.failed(what, fmt.Errorf("invalid result %v", res))
		return AuthnGeneralError
	}
	return res
}

// The sdk's values are the wire's on purpose; these keep it checked.
var (
	_ = [1]int{}[int(AuthnGeneralError)-int(pb.AuthnResult_AUTHN_RESULT_GENERAL_ERROR)]
	_ = [1]int{}[int(AuthzGeneralError)-int(pb.AuthzResult_AUTHZ_RESULT_GENERAL_ERROR)]
)

func authnWire(a AuthnResult) pb.AuthnResult { return pb.AuthnResult(a) }

func validRealmHash(h string) bool {
	if len(h) != 32 {
		return false
	}
	return strings.Trim(h, "0123456789abcdef") == ""
}
