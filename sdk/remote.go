package sdk

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gobridge/gobridge/internal/leangrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// The environment variables that make Serve serve a plugin remotely, to
// mod_gobridge on another host (GoBridgePlugin NAME … tcp://host:port; see
// docs/remote.md), instead of under gobridged. The ServeConfig fields of
// the same meaning win over them.
const (
	// ListenEnv is the address to listen on, tcp://host:port (host may be
	// empty or 0.0.0.0 for every interface).
	ListenEnv = "GOBRIDGE_LISTEN"
	// TLSCertEnv and TLSKeyEnv are the PEM files of the plugin's server
	// certificate (chain) and key.
	TLSCertEnv = "GOBRIDGE_TLS_CERT"
	TLSKeyEnv  = "GOBRIDGE_TLS_KEY"
	// TLSClientCAEnv is the PEM file of the CA certificates that httpd's
	// client certificate must chain to. Only clients with such a
	// certificate are served.
	TLSClientCAEnv = "GOBRIDGE_TLS_CLIENT_CA"
)

// remoteHandshakeTimeout bounds a new connection's TLS handshake and
// HTTP/2 preface: on a network, a client that connects and says nothing
// must not hold a goroutine for grpc-go's default two minutes.
const remoteHandshakeTimeout = 10 * time.Second

// remoteSettings is where and how a remote plugin serves.
type remoteSettings struct {
	addr     string // host:port for net.Listen
	cert     string
	key      string
	clientCA string
}

// remoteFrom reads cfg's remote fields, or the environment through getenv
// for those that are empty. It returns nil without error when no listen
// address is set (the plugin runs under gobridged), and an error when one
// is set but the address is malformed or a TLS file is missing: a plugin
// on the network is served over mutual TLS or not at all.
func remoteFrom(cfg *ServeConfig, getenv func(string) string) (*remoteSettings, error) {
	pick := func(field, env string) string {
		if field != "" {
			return field
		}
		return getenv(env)
	}
	listen := pick(cfg.Listen, ListenEnv)
	if listen == "" {
		return nil, nil
	}
	hostport, ok := strings.CutPrefix(listen, "tcp://")
	if !ok {
		return nil, fmt.Errorf("sdk: listen address %q: write tcp://host:port", listen)
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil || port == "" || strings.Contains(host, "/") {
		return nil, fmt.Errorf("sdk: listen address %q: write tcp://host:port: %v", listen, err)
	}
	rs := &remoteSettings{
		addr:     net.JoinHostPort(host, port),
		cert:     pick(cfg.TLSCertFile, TLSCertEnv),
		key:      pick(cfg.TLSKeyFile, TLSKeyEnv),
		clientCA: pick(cfg.TLSClientCAFile, TLSClientCAEnv),
	}
	var missing []string
	if rs.cert == "" {
		missing = append(missing, TLSCertEnv)
	}
	if rs.key == "" {
		missing = append(missing, TLSKeyEnv)
	}
	if rs.clientCA == "" {
		missing = append(missing, TLSClientCAEnv)
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("sdk: listening on %s needs mutual TLS: set %s (or the ServeConfig fields)", listen, strings.Join(missing, ", "))
	}
	return rs, nil
}

// tlsFiles loads a remote plugin's certificate, key and client CAs, and
// loads them again when one of the files changes (cert-manager renews
// certificates in place): each handshake checks the files' modification
// times, at most once a second.
type tlsFiles struct {
	rs *remoteSettings

	mu      sync.Mutex
	checked time.Time
	stamp   string // the files' sizes and times at the last load
	conf    *tls.Config
}

// stampOf describes the three files' sizes and modification times.
func (f *tlsFiles) stampOf() string {
	var b strings.Builder
	for _, p := range []string{f.rs.cert, f.rs.key, f.rs.clientCA} {
		if fi, err := os.Stat(p); err == nil {
			fmt.Fprintf(&b, "%d:%d;", fi.Size(), fi.ModTime().UnixNano())
		} else {
			b.WriteString("-;")
		}
	}
	return b.String()
}

// load reads the files into a server configuration that requires and
// verifies a client certificate.
func (f *tlsFiles) load() (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(f.rs.cert, f.rs.key)
	if err != nil {
		return nil, fmt.Errorf("sdk: loading the TLS certificate %s and key %s: %w", f.rs.cert, f.rs.key, err)
	}
	pem, err := os.ReadFile(f.rs.clientCA)
	if err != nil {
		return nil, fmt.Errorf("sdk: reading the client CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("sdk: the client CA file %s holds no PEM certificate", f.rs.clientCA)
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		NextProtos:   []string{"h2"},
	}, nil
}

// config returns the configuration for a new connection, reloaded if the
// files changed. A reload that fails keeps the last good configuration.
func (f *tlsFiles) config(*tls.ClientHelloInfo) (*tls.Config, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if now := time.Now(); now.Sub(f.checked) >= time.Second {
		f.checked = now
		if st := f.stampOf(); st != f.stamp {
			c, err := f.load()
			if err != nil {
				Logger().Error("keeping the previous TLS files", "err", err)
			} else {
				f.conf, f.stamp = c, st
				Logger().Info("loaded TLS files", "cert", f.rs.cert, "client_ca", f.rs.clientCA)
			}
		}
	}
	return f.conf, nil
}

// newTLSFiles loads the files once, failing if they are unusable.
func newTLSFiles(rs *remoteSettings) (*tlsFiles, error) {
	f := &tlsFiles{rs: rs}
	st := f.stampOf()
	c, err := f.load()
	if err != nil {
		return nil, err
	}
	f.conf, f.stamp, f.checked = c, st, time.Now()
	return f, nil
}

// serverTLS is the tls.Config a remote plugin serves with: every
// connection gets the current files' configuration.
func (f *tlsFiles) serverTLS() *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		NextProtos:         []string{"h2"},
		ClientAuth:         tls.RequireAndVerifyClientCert,
		GetConfigForClient: f.config,
	}
}

// serveRemote serves cfg's plugin on rs's address over mutual TLS until
// SIGTERM or SIGINT, then stops gracefully (in-flight calls get up to
// grace). The services and handlers are those Serve offers gobridged.
func serveRemote(cfg *ServeConfig, rs *remoteSettings, grace time.Duration) error {
	files, err := newTLSFiles(rs)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", rs.addr)
	if err != nil {
		return fmt.Errorf("sdk: listening on %s: %w", rs.addr, err)
	}
	return serveRemoteOn(cfg, ln, files, grace, nil)
}

// serveRemoteOn is serveRemote on a listener; stop (may be nil) ends it
// like SIGTERM does, for tests.
func serveRemoteOn(cfg *ServeConfig, ln net.Listener, files *tlsFiles, grace time.Duration, stop <-chan struct{}) error {
	creds := credentials.NewTLS(files.serverTLS())
	gs, lean := newGRPCServerCreds(func(l *leangrpc.Server) credentials.TransportCredentials {
		return leangrpc.DispatchSecure(creds, l)
	}, grpc.ConnectionTimeout(remoteHandshakeTimeout))
	srv := newServer(cfg)
	// The services go-plugin would register, on both servers.
	plug := &grpcPlugin{srv: srv, auth: srv.auth, filter: srv.filter, lean: lean}
	if err := plug.GRPCServer(nil, gs); err != nil {
		return err
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sig)
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case s := <-sig:
			Logger().Info("received "+s.String()+"; stopping", "pid", os.Getpid())
		case <-stop:
		case <-done:
			return
		}
		stopGracefully(gs, lean, grace)
	}()
	if os.Geteuid() == 0 {
		// gobridged never runs a plugin as root; out here nobody stops it,
		// so say it where the operator looks.
		Logger().Warn("serving as root: run plugins as an unprivileged user (Kubernetes: runAsNonRoot)", "pid", os.Getpid())
	}
	Logger().Info("serving remotely over mutual TLS", "addr", ln.Addr().String(), "pid", os.Getpid())
	err := gs.Serve(ln)
	if errors.Is(err, grpc.ErrServerStopped) {
		return nil
	}
	return err
}
