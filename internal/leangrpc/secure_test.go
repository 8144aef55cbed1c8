package leangrpc_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"testing"

	"github.com/gobridge/gobridge/internal/leangrpc"
	"github.com/gobridge/gobridge/internal/testcerts"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
)

// TestDispatchSecure: over TLS the lean server gets the connections that
// announce themselves in what the handshake decrypts, grpc-go the others,
// and a client without an accepted certificate reaches neither.
func TestDispatchSecure(t *testing.T) {
	dir := t.TempDir()
	ca := testcerts.NewCA(t, dir, "ca")
	srv := ca.Issue(t, testcerts.Options{Name: "server", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}})
	cli := ca.Issue(t, testcerts.Options{Name: "client", Client: true})
	pemCA, err := os.ReadFile(ca.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemCA)
	scert, err := tls.LoadX509KeyPair(srv.CertFile, srv.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	ccert, err := tls.LoadX509KeyPair(cli.CertFile, cli.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	creds := credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{scert}, ClientCAs: pool,
		ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12})

	impl := newTestServer()
	lean := leangrpc.NewServer(leangrpc.Options{MaxRecvMsgSize: maxRecv})
	testgrpc.RegisterTestServiceServer(lean, impl)
	gs := grpc.NewServer(grpc.Creds(leangrpc.DispatchSecure(creds, lean)))
	testgrpc.RegisterTestServiceServer(gs, impl)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); gs.Serve(l) }()
	t.Cleanup(func() { gs.Stop(); lean.Stop(); <-done })

	clientTLS := func(withCert bool) *tls.Config {
		c := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", NextProtos: []string{"h2"}, MinVersion: tls.VersionTLS12}
		if withCert {
			c.Certificates = []tls.Certificate{ccert}
		}
		return c
	}
	call := func(opts ...grpc.DialOption) error {
		cc, err := grpc.NewClient("passthrough:///"+l.Addr().String(), opts...)
		if err != nil {
			t.Fatal(err)
		}
		// Open until the test ends, so that the connection is counted.
		t.Cleanup(func() { cc.Close() })
		_, err = testgrpc.NewTestServiceClient(cc).EmptyCall(ctxT(t), &testgrpc.Empty{})
		return err
	}
	// grpc-go's own client over TLS: grpc-go's server.
	if err := call(grpc.WithTransportCredentials(credentials.NewTLS(clientTLS(true)))); err != nil {
		t.Fatalf("plain TLS client: %v", err)
	}
	if n := leangrpc.ConnCount(lean); n != 0 {
		t.Fatalf("lean server holds %d connections after a plain client; want 0", n)
	}
	// Announced inside TLS, as the module does: the lean server.
	announced := func(withCert bool) grpc.DialOption {
		return grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			d := tls.Dialer{Config: clientTLS(withCert)}
			c, err := d.DialContext(ctx, "tcp", addr)
			if err != nil {
				return nil, err
			}
			return leangrpc.Announce(c), nil
		})
	}
	if err := call(grpc.WithTransportCredentials(insecure.NewCredentials()), announced(true)); err != nil {
		t.Fatalf("announced TLS client: %v", err)
	}
	if n := leangrpc.ConnCount(lean); n != 1 {
		t.Fatalf("lean server holds %d connections; want 1 (the announced one)", n)
	}
	if err := call(grpc.WithTransportCredentials(insecure.NewCredentials()), announced(false)); err == nil {
		t.Errorf("a client without a certificate was served")
	}
	if n := leangrpc.ConnCount(lean); n != 1 {
		t.Errorf("lean server holds %d connections after a refused client; want 1", n)
	}
}
