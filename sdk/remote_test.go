package sdk

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gobridge/gobridge/internal/testcerts"
	pb "github.com/gobridge/gobridge/proto/gobridge/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

func TestRemoteFrom(t *testing.T) {
	full := map[string]string{
		ListenEnv:      "tcp://0.0.0.0:7443",
		TLSCertEnv:     "/tls/tls.crt",
		TLSKeyEnv:      "/tls/tls.key",
		TLSClientCAEnv: "/tls/ca.crt",
	}
	without := func(k string) map[string]string {
		m := map[string]string{}
		for kk, v := range full {
			if kk != k {
				m[kk] = v
			}
		}
		return m
	}
	with := func(k, v string) map[string]string {
		m := without(k)
		m[k] = v
		return m
	}
	for _, tc := range []struct {
		name    string
		cfg     ServeConfig
		env     map[string]string
		want    *remoteSettings
		wantErr string
	}{
		{name: "not remote", env: map[string]string{TLSCertEnv: "/x"}},
		{name: "env", env: full, want: &remoteSettings{addr: "0.0.0.0:7443", cert: "/tls/tls.crt", key: "/tls/tls.key", clientCA: "/tls/ca.crt"}},
		{name: "every interface", env: with(ListenEnv, "tcp://:7443"), want: &remoteSettings{addr: ":7443", cert: "/tls/tls.crt", key: "/tls/tls.key", clientCA: "/tls/ca.crt"}},
		{name: "ipv6", env: with(ListenEnv, "tcp://[::1]:7443"), want: &remoteSettings{addr: "[::1]:7443", cert: "/tls/tls.crt", key: "/tls/tls.key", clientCA: "/tls/ca.crt"}},
		{name: "fields win", cfg: ServeConfig{Listen: "tcp://127.0.0.2:9000", TLSCertFile: "/c", TLSKeyFile: "/k", TLSClientCAFile: "/ca"}, env: full,
			want: &remoteSettings{addr: "127.0.0.2:9000", cert: "/c", key: "/k", clientCA: "/ca"}},
		{name: "no scheme", env: with(ListenEnv, "0.0.0.0:7443"), wantErr: "write tcp://host:port"},
		{name: "unix scheme", env: with(ListenEnv, "unix:///tmp/s"), wantErr: "write tcp://host:port"},
		{name: "no port", env: with(ListenEnv, "tcp://host"), wantErr: "write tcp://host:port"},
		{name: "no cert", env: without(TLSCertEnv), wantErr: "needs mutual TLS: set " + TLSCertEnv},
		{name: "no key", env: without(TLSKeyEnv), wantErr: "needs mutual TLS: set " + TLSKeyEnv},
		{name: "no client CA", env: without(TLSClientCAEnv), wantErr: "needs mutual TLS: set " + TLSClientCAEnv},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := remoteFrom(&tc.cfg, func(k string) string { return tc.env[k] })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("remoteFrom() = %v, %v; want error containing %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("remoteFrom() error = %v", err)
			}
			if (got == nil) != (tc.want == nil) || (got != nil && *got != *tc.want) {
				t.Errorf("remoteFrom() = %+v; want %+v", got, tc.want)
			}
		})
	}
}

// remoteFixture serves a handler remotely on 127.0.0.1 with fresh
// certificates and returns the address and the certificates.
type remoteFixture struct {
	addr           string
	ca, other      *testcerts.CA
	server, client testcerts.Leaf
	stop           chan struct{}
	done           chan error
}

func startRemote(t *testing.T) *remoteFixture {
	t.Helper()
	dir := t.TempDir()
	f := &remoteFixture{ca: testcerts.NewCA(t, dir, "main"), other: testcerts.NewCA(t, dir, "other"),
		stop: make(chan struct{}), done: make(chan error, 1)}
	f.server = f.ca.Issue(t, testcerts.Options{Name: "server", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}})
	f.client = f.ca.Issue(t, testcerts.Options{Name: "client", Client: true})
	files, err := newTLSFiles(&remoteSettings{cert: f.server.CertFile, key: f.server.KeyFile, clientCA: f.ca.CertFile})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.addr = ln.Addr().String()
	cfg := &ServeConfig{Handler: HandlerFunc(func(w *ResponseWriter, r *Request) error { return nil })}
	go func() { f.done <- serveRemoteOn(cfg, ln, files, 5*time.Second, f.stop) }()
	t.Cleanup(func() {
		select {
		case <-f.stop:
		default:
			close(f.stop)
		}
		if err := <-f.done; err != nil {
			t.Errorf("serveRemoteOn() = %v", err)
		}
	})
	return f
}

// clientTLS is a client configuration trusting ca, presenting leaf (none
// if its files are empty).
func clientTLS(t *testing.T, ca string, leaf testcerts.Leaf) *tls.Config {
	t.Helper()
	pem, err := os.ReadFile(ca)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	c := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	if leaf.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(leaf.CertFile, leaf.KeyFile)
		if err != nil {
			t.Fatal(err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c
}

func describeOver(t *testing.T, addr string, c *tls.Config) (*pb.DescribeResponse, error) {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(c)))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	return pb.NewGoBridgeClient(cc).Describe(ctx, &pb.DescribeRequest{})
}

// TestServeRemoteTLS: grpc-go's client with a certificate from the
// plugin's client CA is served; without one, or with another CA's, it is
// refused in the handshake; a client that does not trust the plugin's CA
// refuses it. SIGTERM's stand-in stops the server cleanly.
func TestServeRemoteTLS(t *testing.T) {
	f := startRemote(t)
	d, err := describeOver(t, f.addr, clientTLS(t, f.ca.CertFile, f.client))
	if err != nil {
		t.Fatalf("Describe over mutual TLS: %v", err)
	}
	if string(d.GetSdkVersion()) != Version {
		t.Errorf("Describe().SdkVersion = %q; want %q", d.GetSdkVersion(), Version)
	}
	stranger := f.other.Issue(t, testcerts.Options{Name: "stranger", Client: true})
	for _, tc := range []struct {
		name string
		conf *tls.Config
	}{
		{"no client certificate", clientTLS(t, f.ca.CertFile, testcerts.Leaf{})},
		{"client certificate from another CA", clientTLS(t, f.ca.CertFile, stranger)},
		{"plugin's CA not trusted", clientTLS(t, f.other.CertFile, f.client)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if d, err := describeOver(t, f.addr, tc.conf); err == nil {
				t.Errorf("Describe() = %v; want a refusal", d)
			}
		})
	}
}

// TestServeRemoteReloadsFiles: a certificate file replaced in place (what
// cert-manager does) is used for the next connections.
func TestServeRemoteReloadsFiles(t *testing.T) {
	dir := t.TempDir()
	ca := testcerts.NewCA(t, dir, "main")
	leaf := ca.Issue(t, testcerts.Options{Name: "server", DNSNames: []string{"old.example"}})
	files, err := newTLSFiles(&remoteSettings{cert: leaf.CertFile, key: leaf.KeyFile, clientCA: ca.CertFile})
	if err != nil {
		t.Fatal(err)
	}
	name := func() string {
		c, err := files.config(nil)
		if err != nil {
			t.Fatal(err)
		}
		x, err := x509.ParseCertificate(c.Certificates[0].Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		return x.DNSNames[0]
	}
	if got := name(); got != "old.example" {
		t.Fatalf("served name = %q; want old.example", got)
	}
	ca.Issue(t, testcerts.Options{Name: "server", DNSNames: []string{"new.example"}})
	files.mu.Lock()
	files.checked = time.Time{} // no need to wait the second out
	files.stamp = ""            // same size and a coarse clock may keep the stamp
	files.mu.Unlock()
	if got := name(); got != "new.example" {
		t.Errorf("served name after the files changed = %q; want new.example", got)
	}
}
