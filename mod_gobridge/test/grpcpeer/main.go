// Command grpcpeer is a deterministic gobridge.v1.GoBridge server for the
// C transport tests in mod_gobridge/test. It is not a plugin: it speaks the
// service directly on a unix socket, like a plugin does after go-plugin's
// handshake.
//
// The Handle stream's behaviour is chosen by Request.uri, with parameters
// in Request.args (a query string):
//
//	/echo               echo the request body back, asking for it with read_body
//	/download?mib=N     stream N MiB of a fixed pattern (byte i is i%251)
//	/sleep?ms=N         wait N ms (or until cancelled), then finish
//	/error              fail with PERMISSION_DENIED and a message needing escapes
//	/oversized?bytes=N  send one message with an N-byte body
//	/close              send a head and some body, then drop the connection
//
// Phase answers RESULT_OK with http_status = the peer's id of the
// connection, and notes "conn" and "uri"; /sleep and /error as above.
//
// GB_TEST_PEER_SERVER=grpc serves the module's connections with grpc-go's
// server; otherwise they go to the SDK's lean server (internal/leangrpc).
//
// SIGUSR1 stops the server gracefully (GOAWAY) and serves anew on the
// same path; every time it is ready it prints "READY <generation>".
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gobridge/gobridge/internal/leangrpc"
	gobridgev1 "github.com/gobridge/gobridge/proto/gobridge/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// ErrorMessage is what /error returns; the C test checks it decoded.
const ErrorMessage = "denied: 100% sure\nnot you, ünïcode"

var connSeq atomic.Uint64

// connInfo rides in the peer's AuthInfo so handlers know their connection.
type connInfo struct {
	credentials.CommonAuthInfo
	id   uint64
	conn net.Conn
}

func (connInfo) AuthType() string { return "grpcpeer" }

// idCreds is insecure transport credentials that number connections.
type idCreds struct{}

func (idCreds) ClientHandshake(_ context.Context, _ string, c net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return c, connInfo{}, nil
}

func (idCreds) ServerHandshake(c net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return c, connInfo{
		CommonAuthInfo: credentials.CommonAuthInfo{SecurityLevel: credentials.NoSecurity},
		id:             connSeq.Add(1),
		conn:           c,
	}, nil
}

func (idCreds) Info() credentials.ProtocolInfo {
	return credentials.ProtocolInfo{SecurityProtocol: "insecure"}
}
func (c idCreds) Clone() credentials.TransportCredentials { return c }
func (idCreds) OverrideServerName(string) error           { return nil }

func connOf(ctx context.Context) connInfo {
	if p, ok := peer.FromContext(ctx); ok {
		if ci, ok := p.AuthInfo.(connInfo); ok {
			return ci
		}
	}
	return connInfo{}
}

type server struct {
	gobridgev1.UnimplementedGoBridgeServer
}

func arg(req *gobridgev1.Request, key string, def int) int {
	q, err := url.ParseQuery(string(req.GetArgs()))
	if err != nil {
		return def
	}
	n, err := strconv.Atoi(q.Get(key))
	if err != nil {
		return def
	}
	return n
}

func sleep(ctx context.Context, ms int) error {
	select {
	case <-ctx.Done():
		return status.FromContextError(ctx.Err()).Err()
	case <-time.After(time.Duration(ms) * time.Millisecond):
		return nil
	}
}

func (server) Describe(context.Context, *gobridgev1.DescribeRequest) (*gobridgev1.DescribeResponse, error) {
	return &gobridgev1.DescribeResponse{
		Phases:     []gobridgev1.Phase{gobridgev1.Phase_PHASE_FIXUPS, gobridgev1.Phase_PHASE_HANDLER},
		SdkVersion: []byte("grpcpeer"),
	}, nil
}

func (server) Phase(ctx context.Context, in *gobridgev1.PhaseRequest) (*gobridgev1.PhaseResponse, error) {
	req := in.GetRequest()
	switch string(req.GetUri()) {
	case "/sleep":
		if err := sleep(ctx, arg(req, "ms", 1000)); err != nil {
			return nil, err
		}
	case "/error":
		return nil, status.Error(codes.PermissionDenied, ErrorMessage)
	}
	id := connOf(ctx).id
	return &gobridgev1.PhaseResponse{
		Result:     gobridgev1.Result_RESULT_OK,
		HttpStatus: int32(id), //nolint:gosec // test ids are small
		Mutations: []*gobridgev1.Mutation{
			{Table: gobridgev1.Mutation_TABLE_NOTES, Op: gobridgev1.Mutation_OP_SET,
				Key: []byte("conn"), Value: []byte(strconv.FormatUint(id, 10))},
			{Table: gobridgev1.Mutation_TABLE_NOTES, Op: gobridgev1.Mutation_OP_SET,
				Key: []byte("uri"), Value: req.GetUri()},
		},
	}, nil
}

var finishOK = &gobridgev1.Finish{Result: gobridgev1.Result_RESULT_OK}

func head() *gobridgev1.ResponseHead {
	return &gobridgev1.ResponseHead{Status: 200}
}

const chunk = 256 * 1024

func (server) Handle(stream gobridgev1.GoBridge_HandleServer) error {
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	req := first.GetRequest()
	ctx := stream.Context()
	switch string(req.GetUri()) {
	case "/echo":
		body, eof := first.GetBody(), first.GetBodyEof()
		if err := stream.Send(&gobridgev1.HandleResponse{Head: head()}); err != nil {
			return err
		}
		for {
			if len(body) > 0 {
				if err := stream.Send(&gobridgev1.HandleResponse{Body: body}); err != nil {
					return err
				}
			}
			if eof {
				break
			}
			if err := stream.Send(&gobridgev1.HandleResponse{ReadBody: chunk}); err != nil {
				return err
			}
			m, err := stream.Recv()
			if err != nil {
				return err
			}
			if len(m.GetBody()) > chunk {
				return status.Errorf(codes.InvalidArgument, "chunk of %d bytes, asked for %d", len(m.GetBody()), chunk)
			}
			body, eof = m.GetBody(), m.GetBodyEof()
		}
		return stream.Send(&gobridgev1.HandleResponse{Finish: finishOK})
	case "/download":
		total := arg(req, "mib", 1) * 1024 * 1024
		buf := make([]byte, chunk)
		if err := stream.Send(&gobridgev1.HandleResponse{Head: head()}); err != nil {
			return err
		}
		for off := 0; off < total; off += chunk {
			n := min(chunk, total-off)
			for i := range n {
				buf[i] = byte((off + i) % 251)
			}
			if err := stream.Send(&gobridgev1.HandleResponse{Body: buf[:n]}); err != nil {
				return err
			}
		}
		return stream.Send(&gobridgev1.HandleResponse{Finish: finishOK})
	case "/sleep":
		if err := sleep(ctx, arg(req, "ms", 1000)); err != nil {
			return err
		}
		return stream.Send(&gobridgev1.HandleResponse{Head: head(), Finish: finishOK})
	case "/error":
		return status.Error(codes.PermissionDenied, ErrorMessage)
	case "/oversized":
		return stream.Send(&gobridgev1.HandleResponse{Head: head(), Body: make([]byte, arg(req, "bytes", 2<<20))})
	case "/close":
		if err := stream.Send(&gobridgev1.HandleResponse{Head: head(), Body: make([]byte, 64*1024)}); err != nil {
			return err
		}
		time.Sleep(50 * time.Millisecond) // let the body leave first
		if c := connOf(ctx).conn; c != nil {
			_ = c.Close()
		}
		<-ctx.Done()
		return ctx.Err()
	}
	return status.Errorf(codes.NotFound, "no behaviour for uri %q", req.GetUri())
}

// peerServer is grpc-go's server and, unless GB_TEST_PEER_SERVER=grpc,
// the lean one the SDK hands the module's connections to: the transport
// tests run against each (mod_gobridge/test/Makefile).
type peerServer struct {
	gs   *grpc.Server
	lean *leangrpc.Server
}

func (p peerServer) GracefulStop() {
	if p.lean != nil {
		go p.lean.GracefulStop()
	}
	p.gs.GracefulStop()
	if p.lean != nil {
		p.lean.GracefulStop()
	}
}

func serve(path string) (peerServer, <-chan error, error) {
	_ = os.Remove(path)
	lis, err := net.Listen("unix", path)
	if err != nil {
		return peerServer{}, nil, err
	}
	var p peerServer
	if os.Getenv("GB_TEST_PEER_SERVER") != "grpc" {
		p.lean = leangrpc.NewServer(leangrpc.Options{MaxRecvMsgSize: 16 << 20})
		gobridgev1.RegisterGoBridgeServer(p.lean, server{})
	}
	p.gs = grpc.NewServer(grpc.Creds(leangrpc.Dispatch(idCreds{}, p.lean)), grpc.MaxRecvMsgSize(16<<20))
	gobridgev1.RegisterGoBridgeServer(p.gs, server{})
	done := make(chan error, 1)
	go func() { done <- p.gs.Serve(lis) }()
	return p, done, nil
}

func main() {
	path := flag.String("socket", "", "unix socket path to serve on")
	flag.Parse()
	if *path == "" {
		log.Fatal("grpcpeer: -socket is required")
	}
	log.SetPrefix("grpcpeer: ")
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGUSR1, syscall.SIGTERM, syscall.SIGINT)

	for gen := 1; ; gen++ {
		srv, done, err := serve(*path)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("READY %d\n", gen)
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, grpc.ErrServerStopped) {
				log.Fatal(err)
			}
			return
		case s := <-sigs:
			srv.GracefulStop()
			if s != syscall.SIGUSR1 {
				return
			}
		}
	}
}
