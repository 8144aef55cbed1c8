package sdk

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gobridge/gobridge/internal/wire"
	pb "github.com/gobridge/gobridge/proto/gobridge/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// echoAuth answers every auth call with what it was given.
type echoAuth struct{}

func (echoAuth) CheckPassword(r *Request, user, password string) (AuthnResult, error) {
	r.SetNote("seen", fmt.Sprintf("%s %s %s %q %s %v", r.Method, r.URI, r.Header.Get("X-A"), r.Notes, r.ServerName, r.TLS != nil))
	r.SetEnv("USER", user+":"+password)
	return AuthnGranted, nil
}

func (echoAuth) GetRealmHash(r *Request, user, realm string) (string, AuthnResult, error) {
	r.SetNote("seen", r.URI+" "+user+" "+realm)
	return "0123456789abcdef0123456789abcdef", AuthnGranted, nil
}

func (echoAuth) CheckAuthorization(r *Request, user string, args []string) (AuthzResult, error) {
	r.SetNote("seen", r.URI+" "+user+" "+strings.Join(args, "|"))
	return AuthzGranted, nil
}

// authClients serves echoAuth on grpc-go's server and on the lean one,
// each on its own socket in dir, with a grpc-go client for each.
func authClients(tb testing.TB) (string, map[string]pb.GoBridgeAuthClient) {
	a := newAuthServer(&ServeConfig{PasswordChecker: echoAuth{}, RealmHasher: echoAuth{}, RequireChecker: echoAuth{}})
	gs, lean := newGRPCServer()
	if lean == nil {
		tb.Skip(LeanServerEnv + " is off")
	}
	pb.RegisterGoBridgeAuthServer(both{gs, lean}, a)
	dir := tb.TempDir()
	clients := map[string]pb.GoBridgeAuthClient{}
	for name, serve := range map[string]func(net.Listener) error{"grpc-go": gs.Serve, "lean": lean.Serve} {
		path := filepath.Join(dir, name+".sock")
		lis, err := net.Listen("unix", path)
		if err != nil {
			tb.Fatal(err)
		}
		go func() { _ = serve(lis) }()
		cc, err := grpc.NewClient("unix://"+path, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { cc.Close() })
		clients[name] = pb.NewGoBridgeAuthClient(cc)
	}
	tb.Cleanup(func() { gs.Stop(); lean.Stop() })
	return dir, clients
}

// BenchmarkCheckPasswordWire is one Basic login's call with a snapshot
// like the module's, client (grpc-go's) included.
func BenchmarkCheckPasswordWire(b *testing.B) {
	_, clients := authClients(b)
	req := &pb.CheckPasswordRequest{Request: wire.EncodeRequest(wire.Request{Method: "GET", Protocol: "HTTP/1.1",
		URI: "/private", UnparsedURI: "/private", Hostname: "127.0.0.1", Scheme: "http", Plugin: "auth",
		Headers:  []wire.Pair{{Key: "Host", Value: "127.0.0.1:8080"}, {Key: "Authorization", Value: "Basic YW5uOnB3"}},
		RemoteIP: "127.0.0.1", LocalIP: "127.0.0.1", ServerName: "127.0.0.1", DocumentRoot: "/var/www"}),
		User: []byte("ann"), Password: []byte("pw"), Provider: []byte("gobridge")}
	for _, name := range []string{"grpc-go", "lean"} {
		b.Run("server="+name, func(b *testing.B) {
			c := clients[name]
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := c.CheckPassword(context.Background(), req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// The lean server answers the auth calls with handlers of its own
// (transport.go, authServer.leanDesc); they must answer as grpc-go's
// server does with the generated ones.
func TestLeanAuthSameAnswers(t *testing.T) {
	dir, clients := authClients(t)
	snap := wire.EncodeRequest(wire.Request{Method: "GET", URI: "/private", ServerName: "example.com",
		Headers: []wire.Pair{{Key: "X-A", Value: "a"}}, Notes: []wire.Pair{{Key: "n", Value: "v"}},
		TLS: &wire.TLS{Protocol: "TLSv1.3"}})
	answers := map[string]string{}
	for name, c := range clients {
		var sb strings.Builder
		ctx := t.Context()
		out := func(m proto.Message, err error) {
			b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(m)
			fmt.Fprintf(&sb, "%x %v\n", b, err)
		}
		out(c.CheckPassword(ctx, &pb.CheckPasswordRequest{Request: snap, User: []byte("ann"), Password: []byte("pw"), Provider: []byte("gobridge")}))
		out(c.GetRealmHash(ctx, &pb.GetRealmHashRequest{Request: snap, User: []byte("ann"), Realm: []byte("r")}))
		out(c.CheckAuthorization(ctx, &pb.CheckAuthorizationRequest{Request: snap, User: []byte("ann"), Args: [][]byte{[]byte("a"), []byte("b c")}}))
		out(c.CheckPassword(ctx, &pb.CheckPasswordRequest{User: []byte("no snapshot")}))
		answers[name] = sb.String()
	}
	if answers["lean"] != answers["grpc-go"] {
		t.Errorf("lean server answered\n%s\ngrpc-go's\n%s", answers["lean"], answers["grpc-go"])
	}
	if !strings.Contains(answers["lean"], fmt.Sprintf("%x", "a|b c")) || strings.Contains(answers["lean"], "Error") {
		t.Errorf("answers miss what the plugin saw:\n%s", answers["lean"])
	}

	// Malformed bytes: Internal from both.
	for name := range clients {
		cc, err := grpc.NewClient("unix://"+filepath.Join(dir, name+".sock"), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		err = cc.Invoke(t.Context(), "/gobridge.v1.GoBridgeAuth/CheckPassword", []byte{0x0a, 0x03, 0x0a, 0x05, 'G'},
			new(pb.CheckPasswordResponse), grpc.ForceCodec(rawBytesCodec{}))
		if status.Code(err) != codes.Internal {
			t.Errorf("%s: CheckPassword with malformed bytes: %v; want Internal", name, err)
		}
		cc.Close()
	}
}

type rawBytesCodec struct{}

func (rawBytesCodec) Marshal(v any) ([]byte, error)   { return v.([]byte), nil }
func (rawBytesCodec) Unmarshal(b []byte, v any) error { return proto.Unmarshal(b, v.(proto.Message)) }
func (rawBytesCodec) Name() string                    { return "proto" }
