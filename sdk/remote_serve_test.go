package sdk_test

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gobridge/gobridge/internal/testcerts"
	"github.com/gobridge/gobridge/sdk/sdktest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// TestServeRemoteFromEnvironment runs a plugin binary as an orchestrator
// would: no gobridged, GOBRIDGE_LISTEN and the TLS files in its
// environment. A client with a certificate from the client CA is served;
// SIGTERM lets the call in progress finish, then the plugin exits 0.
func TestServeRemoteFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	ca := testcerts.NewCA(t, dir, "ca")
	srv := ca.Issue(t, testcerts.Options{Name: "server", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}})
	cli := ca.Issue(t, testcerts.Options{Name: "client", Client: true})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	cmd := helper(t, "GOBRIDGE_LISTEN=tcp://"+addr, "GOBRIDGE_TLS_CERT="+srv.CertFile,
		"GOBRIDGE_TLS_KEY="+srv.KeyFile, "GOBRIDGE_TLS_CLIENT_CA="+ca.CertFile)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// exited is closed once the plugin is gone, with its status in waitErr.
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	lines := make(chan string, 4)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()

	pemCA, err := os.ReadFile(ca.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemCA)
	cert, err := tls.LoadX509KeyPair(cli.CertFile, cli.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{
		RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})),
		// Calls wait for the plugin to listen instead of failing at once.
		grpc.WithDefaultCallOptions(grpc.WaitForReady(true)))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	// The first call waits until the plugin listens (WaitForReady).
	if rec := sdktest.Do(t, cc, sdktest.NewRequest("GET", "/first", nil)); rec.Code != 200 || rec.Body.String() != "hello /first\n" {
		t.Fatalf("call over mutual TLS = %d %q; want 200 \"hello /first\\n\"", rec.Code, rec.Body.String())
	}

	got := make(chan *sdktest.Recorder, 1)
	go func() { got <- sdktest.Do(t, cc, sdktest.NewRequest("GET", "/slow", nil)) }()
	select {
	case line := <-lines:
		if !strings.Contains(line, "handling /slow") {
			t.Fatalf("plugin said %q; want handling /slow", line)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the /slow call never reached the handler")
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case rec := <-got:
		if rec.Code != 200 || rec.Body.String() != "hello /slow\n" {
			t.Errorf("in-flight call across SIGTERM = %d %q; want 200", rec.Code, rec.Body.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("in-flight call did not complete after SIGTERM")
	}
	select {
	case <-exited:
		if waitErr != nil {
			t.Errorf("plugin exit after SIGTERM = %v; want status 0", waitErr)
		}
	case <-time.After(10 * time.Second):
		t.Error("plugin still running 10s after SIGTERM")
	}
}
