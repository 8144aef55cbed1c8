// Command authstub is an end-to-end test plugin that answers the
// GoBridgeAuth service directly (not through the sdk), so tests can make it
// send what the sdk never would: unknown enums, forbidden mutations, bad
// realm hashes, or nothing at all. What it does is chosen per location with
// GoBridgeOption:
//
//	stub.authn   granted|denied|notfound|error|unspecified|<number>
//	stub.authz   granted|denied|nouser|neutral|error|unspecified|<number>
//	stub.hash    the realm hash GetRealmHash returns
//	stub.hang    "1": answer nothing until the call's context ends (GoBridgeTimeout tests)
//	stub.crash   "1": exit in the middle of the call
//	stub.bad     mutation|loglevel: add a forbidden mutation / unknown level
//	stub.grpcerr "1": answer with a gRPC error
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/gobridge/gobridge/internal/handshake"
	pb "github.com/gobridge/gobridge/proto/gobridge/v1"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

type stub struct {
	pb.UnimplementedGoBridgeAuthServer
}

func opt(r *pb.Request, key string) string {
	v := ""
	for _, p := range r.GetOptions() {
		if string(p.GetKey()) == key {
			v = string(p.GetValue())
		}
	}
	return v
}

// common does what every call does first; a non-nil error is the answer.
func common(ctx context.Context, r *pb.Request) error {
	if opt(r, "stub.hang") == "1" {
		<-ctx.Done()
		return ctx.Err()
	}
	if opt(r, "stub.crash") == "1" {
		os.Exit(3)
	}
	if opt(r, "stub.grpcerr") == "1" {
		return status.Error(codes.Internal, "stub failure")
	}
	return nil
}

func extras(r *pb.Request) ([]*pb.Mutation, []*pb.LogRecord) {
	muts := []*pb.Mutation{{Table: pb.Mutation_TABLE_SUBPROCESS_ENV, Op: pb.Mutation_OP_SET, Key: []byte("STUB_SEEN"), Value: []byte("yes")}}
	logs := []*pb.LogRecord{{Level: pb.LogRecord_LEVEL_INFO, Message: []byte("stub answered")}}
	switch opt(r, "stub.bad") {
	case "mutation":
		muts = append(muts, &pb.Mutation{Table: pb.Mutation_TABLE_HEADERS_OUT, Op: pb.Mutation_OP_SET, Key: []byte("X-Evil"), Value: []byte("1")})
	case "notekey", "notevalue":
		// What the module refused from a phase but took from a provider
		// before the two shared one rule (TestOneMutationRule).
		muts = append(muts, badNote(opt(r, "stub.bad")))
	case "loglevel":
		logs = append(logs, &pb.LogRecord{Level: 99, Message: []byte("x")})
	}
	return muts, logs
}

// badNote is a note that passes neither the module's rule nor the sdk's:
// a key that is not an HTTP token, or a value with a control character
// that is neither CR, LF nor NUL.
func badNote(kind string) *pb.Mutation {
	if kind == "notekey" {
		return &pb.Mutation{Table: pb.Mutation_TABLE_NOTES, Op: pb.Mutation_OP_SET, Key: []byte("bad key"), Value: []byte("v")}
	}
	return &pb.Mutation{Table: pb.Mutation_TABLE_NOTES, Op: pb.Mutation_OP_SET, Key: []byte("k"), Value: []byte("a\x01b")}
}

var authn = map[string]pb.AuthnResult{
	"granted": pb.AuthnResult_AUTHN_RESULT_GRANTED, "denied": pb.AuthnResult_AUTHN_RESULT_DENIED,
	"notfound": pb.AuthnResult_AUTHN_RESULT_USER_NOT_FOUND, "error": pb.AuthnResult_AUTHN_RESULT_GENERAL_ERROR,
	"unspecified": pb.AuthnResult_AUTHN_RESULT_UNSPECIFIED,
}

var authz = map[string]pb.AuthzResult{
	"granted": pb.AuthzResult_AUTHZ_RESULT_GRANTED, "denied": pb.AuthzResult_AUTHZ_RESULT_DENIED,
	"nouser": pb.AuthzResult_AUTHZ_RESULT_DENIED_NO_USER, "neutral": pb.AuthzResult_AUTHZ_RESULT_NEUTRAL,
	"error": pb.AuthzResult_AUTHZ_RESULT_GENERAL_ERROR, "unspecified": pb.AuthzResult_AUTHZ_RESULT_UNSPECIFIED,
}

func authnOf(r *pb.Request) pb.AuthnResult {
	s := opt(r, "stub.authn")
	if v, ok := authn[s]; ok {
		return v
	}
	n, _ := strconv.Atoi(s)
	return pb.AuthnResult(n)
}

func (stub) CheckPassword(ctx context.Context, req *pb.CheckPasswordRequest) (*pb.CheckPasswordResponse, error) {
	if err := common(ctx, req.GetRequest()); err != nil {
		return nil, err
	}
	m, l := extras(req.GetRequest())
	return &pb.CheckPasswordResponse{Result: authnOf(req.GetRequest()), Mutations: m, Logs: l}, nil
}

func (stub) GetRealmHash(ctx context.Context, req *pb.GetRealmHashRequest) (*pb.GetRealmHashResponse, error) {
	if err := common(ctx, req.GetRequest()); err != nil {
		return nil, err
	}
	m, l := extras(req.GetRequest())
	return &pb.GetRealmHashResponse{Result: authnOf(req.GetRequest()), Hash: []byte(opt(req.GetRequest(), "stub.hash")), Mutations: m, Logs: l}, nil
}

func (stub) CheckAuthorization(ctx context.Context, req *pb.CheckAuthorizationRequest) (*pb.CheckAuthorizationResponse, error) {
	if err := common(ctx, req.GetRequest()); err != nil {
		return nil, err
	}
	s := opt(req.GetRequest(), "stub.authz")
	res, ok := authz[s]
	if !ok {
		n, _ := strconv.Atoi(s)
		res = pb.AuthzResult(n)
	}
	m, l := extras(req.GetRequest())
	var args string
	for _, a := range req.GetArgs() {
		args += "[" + string(a) + "]"
	}
	m = append(m, &pb.Mutation{Table: pb.Mutation_TABLE_SUBPROCESS_ENV, Op: pb.Mutation_OP_SET, Key: []byte("STUB_ARGS"), Value: []byte(args)})
	return &pb.CheckAuthorizationResponse{Result: res, Mutations: m, Logs: l}, nil
}

type grpcPlugin struct{ plugin.NetRPCUnsupportedPlugin }

func (grpcPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pb.RegisterGoBridgeAuthServer(s, stub{})
	return nil
}

func (grpcPlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, fmt.Errorf("no client")
}

func main() {
	// Exit with gobridged, as sdk.Serve does.
	go func() {
		ppid := os.Getppid()
		for range time.Tick(200 * time.Millisecond) {
			if os.Getppid() != ppid {
				os.Exit(0)
			}
		}
	}()
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: handshake.Config,
		Plugins:         plugin.PluginSet{handshake.PluginName: grpcPlugin{}},
		GRPCServer:      plugin.DefaultGRPCServer,
	})
}
