package sdk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/gobridge/gobridge/internal/handshake"
	"github.com/gobridge/gobridge/internal/leangrpc"
	pb "github.com/gobridge/gobridge/proto/gobridge/v1"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// ServeConfig configures Serve.
type ServeConfig struct {
	// Handler serves the content phase (GoBridgeHandler). Required unless
	// the plugin is an auth provider only (one of the three below).
	Handler Handler

	// PasswordChecker, RealmHasher and RequireChecker make the plugin an
	// Apache auth provider: `AuthBasicProvider gobridge`,
	// `AuthDigestProvider gobridge` and `Require gobridge <plugin> ...`
	// (see auth.go and docs/auth.md). Each is optional; a call the plugin
	// does not implement fails closed (500).
	PasswordChecker PasswordChecker
	RealmHasher     RealmHasher
	RequireChecker  RequireChecker

	// Phases implements any of the phase interfaces (PostReadRequester,
	// Translator, StorageMapper, HeaderParser, AccessChecker,
	// Authenticator, Authorizer, TypeChecker, Fixupper, TransactionLogger)
	// that GoBridge<Phase>Handler directives send to the plugin; Describe
	// reports which. Default: the Handler, so one value may implement the
	// content handler and phases together. Serve refuses a value that
	// implements none of them (it exits with status 2 and says what to
	// implement).
	Phases any

	// Filter transforms response or request bodies for GoBridgeOutputFilter
	// and GoBridgeInputFilter (see BodyFilter). Default: the Handler, if it
	// implements BodyFilter.
	Filter BodyFilter

	// Logger is the process logger returned by Logger. Its output must
	// reach the plugin's stderr for gobridged to relay it.
	// Default: JSON lines in hclog's format on stderr, each naming its
	// exact httpd level, written from httpd's LogLevel for the gobridge
	// module up (info when run without gobridged). Serve installs it as
	// slog's default too, so the log package and slog.Info end up in
	// httpd's error log with their levels.
	Logger *slog.Logger

	// RequestLogLevel is the lowest level of Request.Logger records that
	// are sent to httpd. httpd's LogLevel filters again on its side, per
	// directory. Default: slog.LevelInfo, or httpd's LogLevel for the
	// gobridge module in the main server when that is more verbose.
	RequestLogLevel slog.Leveler

	// ParentPollInterval is how often Serve checks whether its parent
	// (gobridged) is still there; when it is gone, Serve stops the server
	// gracefully and returns. Default: 500ms. Negative: never check.
	ParentPollInterval time.Duration

	// ShutdownTimeout bounds how long in-flight requests may take to finish
	// when the parent went away, before they are cut off. Default: 10s.
	ShutdownTimeout time.Duration

	// GCPercent is the garbage collector's target (runtime/debug's
	// SetGCPercent, the GOGC variable). A plugin keeps little live data
	// and makes a few KiB of garbage per request, so with Go's default of
	// 100 it collects very often; 400 spends about a fifth less CPU per
	// request for a few MB more memory (bench/README.md). Default: 400,
	// unless GOGC is set in the plugin's environment, which then wins.
	// Negative: leave the runtime's setting alone.
	GCPercent int

	// Listen, when set (or GOBRIDGE_LISTEN in the environment), makes Serve
	// serve the plugin remotely instead of under gobridged: on a TCP
	// address, tcp://host:port, to mod_gobridge on another host
	// (GoBridgePlugin NAME … tcp://host:port; docs/remote.md). It then
	// needs TLSCertFile, TLSKeyFile and TLSClientCAFile (or
	// GOBRIDGE_TLS_CERT, GOBRIDGE_TLS_KEY, GOBRIDGE_TLS_CLIENT_CA): only
	// clients with a certificate from that CA are served, over TLS 1.2 or
	// later; plain TCP is refused. Files that change are loaded again for
	// new connections. SIGTERM or SIGINT stops the server gracefully
	// (ShutdownTimeout). ParentPollInterval does not apply.
	Listen          string
	TLSCertFile     string
	TLSKeyFile      string
	TLSClientCAFile string
}

// defaultGCPercent is ServeConfig.GCPercent's default.
const defaultGCPercent = 400

// setGC applies cfg's GCPercent (see there).
func setGC(cfg *ServeConfig) {
	if cfg.GCPercent < 0 {
		return
	}
	if _, set := os.LookupEnv("GOGC"); set && cfg.GCPercent == 0 {
		return
	}
	pct := cfg.GCPercent
	if pct == 0 {
		pct = defaultGCPercent
	}
	debug.SetGCPercent(pct)
}

// ServeHandler is Serve(&ServeConfig{Handler: h}).
func ServeHandler(h Handler) { Serve(&ServeConfig{Handler: h}) }

// Serve runs the plugin: it answers go-plugin's handshake from gobridged,
// serves the gobridge.v1.GoBridge gRPC service on a unix socket and returns
// when gobridged stops it (SIGTERM) or goes away. Either way in-flight
// requests get up to ShutdownTimeout to finish. Call it from main.
//
// With a listen address (ServeConfig.Listen or GOBRIDGE_LISTEN) it serves
// the same services remotely instead, over TCP and mutual TLS, until
// SIGTERM (see ServeConfig.Listen and docs/remote.md).
//
// Run by hand, outside gobridged, Serve explains what the program is and
// exits with status 1. To try a handler without Apache, use sdktest.
func Serve(cfg *ServeConfig) {
	if err := cfg.check(); err != nil {
		fmt.Fprintln(os.Stderr, "sdk: Serve:", err)
		os.Exit(2)
	}
	remote, err := remoteFrom(cfg, os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if remote == nil && os.Getenv(handshake.Config.MagicCookieKey) != handshake.Config.MagicCookieValue {
		fmt.Fprint(os.Stderr, byHand(filepath.Base(os.Args[0])))
		os.Exit(1)
	}
	if cfg.Logger != nil {
		processLogger.Store(cfg.Logger)
	} else {
		slog.SetDefault(Logger())
	}
	setGC(cfg)
	if cfg.RequestLogLevel != nil {
		lv := cfg.RequestLogLevel
		reqLevel.Store(&lv)
	}
	poll := cfg.ParentPollInterval
	if poll == 0 {
		poll = 500 * time.Millisecond
	}
	grace := cfg.ShutdownTimeout
	if grace <= 0 {
		grace = 10 * time.Second
	}
	if remote != nil {
		if err := serveRemote(cfg, remote, grace); err != nil {
			Logger().Error("cannot serve remotely", "err", err)
			os.Exit(1)
		}
		return
	}

	var (
		mu   sync.Mutex
		gs   *grpc.Server
		lean *leangrpc.Server
	)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var once sync.Once
	stop := func(why string) {
		once.Do(func() {
			Logger().Info(why+"; stopping", "pid", os.Getpid())
			mu.Lock()
			s, l := gs, lean
			mu.Unlock()
			if s == nil {
				os.Exit(0)
			}
			stopGracefully(s, l, grace)
		})
	}
	if poll > 0 {
		go watchParent(ctx, poll, func() { stop("parent process went away") })
	}
	// gobridged stops a plugin with SIGTERM and waits for in-flight calls
	// (docs/architecture.md §4); go-plugin's own Shutdown would cut them.
	// SIGINT stays go-plugin's: a Ctrl-C reaches the whole process group,
	// and gobridged decides.
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	defer signal.Stop(term)
	go func() {
		select {
		case <-term:
			stop("received SIGTERM")
		case <-ctx.Done():
		}
	}()

	srv := newServer(cfg)
	plug := &grpcPlugin{srv: srv, auth: srv.auth, filter: srv.filter}
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: handshake.Config,
		Plugins:         plugin.PluginSet{handshake.PluginName: plug},
		// go-plugin calls this before the plugins' GRPCServer methods.
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			mu.Lock()
			defer mu.Unlock()
			gs, lean = newGRPCServer(opts...)
			plug.lean = lean
			return gs
		},
	})
}

// check refuses a configuration that serves nothing, or whose Phases
// value implements no phase: such a plugin would start, and then fail
// every call httpd sends it.
func (cfg *ServeConfig) check() error {
	if cfg == nil || (cfg.Handler == nil && newAuthServer(cfg) == nil && cfg.Phases == nil && cfg.Filter == nil) {
		return errors.New("the ServeConfig needs a Handler, Phases, a Filter or an auth provider (PasswordChecker, RealmHasher, RequireChecker)")
	}
	if cfg.Phases != nil && len(implementedPhases(cfg.Phases)) == 0 {
		return fmt.Errorf("ServeConfig.Phases is a %T, which implements no phase interface: "+
			"give it one of the methods PostReadRequest, TranslateName, MapToStorage, ParseHeader, "+
			"CheckAccess, Authenticate, Authorize, CheckType, Fixup or LogTransaction, "+
			"each func(*sdk.PhaseRequest) error (sdk.Fixupper and the others)", cfg.Phases)
	}
	return nil
}

// Register registers the plugin's gobridge.v1 gRPC services for cfg on s:
// GoBridge (Describe, the content handler and the phases), and
// GoBridgeAuth and GoBridgeFilter when cfg has an auth provider or a
// filter. Serve registers them on its own server; Register is for serving
// them from another gRPC server, such as sdktest's in-memory one. The
// process settings (Logger, RequestLogLevel, ParentPollInterval,
// ShutdownTimeout, GCPercent) are Serve's and are not applied. It returns
// the error Serve would exit with, registering nothing, for a cfg that
// serves nothing or whose Phases implements no phase.
func Register(s grpc.ServiceRegistrar, cfg *ServeConfig) error {
	if err := cfg.check(); err != nil {
		return fmt.Errorf("sdk: Register: %w", err)
	}
	srv := newServer(cfg)
	srv.register(s)
	return nil
}

// register registers s's services on r.
func (s *server) register(r grpc.ServiceRegistrar) {
	pb.RegisterGoBridgeServer(r, s)
	if s.auth != nil {
		pb.RegisterGoBridgeAuthServer(r, s.auth)
	}
	if s.filter != nil {
		pb.RegisterGoBridgeFilterServer(r, s.filter)
	}
}

// newServer returns the GoBridge service for cfg.
func newServer(cfg *ServeConfig) *server {
	s := &server{h: cfg.Handler, phases: cfg.Phases, auth: newAuthServer(cfg), filter: newFilterServer(cfg)}
	if s.phases == nil {
		s.phases = cfg.Handler
	}
	return s
}

// watchParent calls gone once the parent process changed (it died and the
// process was reparented), checking every interval until ctx ends.
//
// The parent is the pid gobridged announces in GOBRIDGE_PARENT_PID, so a
// parent that died before the plugin got here is noticed too; without the
// variable it is whatever the parent was when watching began.
func watchParent(ctx context.Context, interval time.Duration, gone func()) {
	ppid := os.Getppid()
	if v, err := strconv.Atoi(os.Getenv(handshake.ParentPIDEnv)); err == nil && v > 0 {
		ppid = v
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if os.Getppid() != ppid {
			gone()
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// stopGracefully lets in-flight calls on both servers (lean may be nil)
// finish for up to grace, then cuts them.
func stopGracefully(s *grpc.Server, lean *leangrpc.Server, grace time.Duration) {
	done := make(chan struct{})
	go func() {
		var wg sync.WaitGroup
		if lean != nil {
			wg.Add(1)
			go func() { defer wg.Done(); lean.GracefulStop() }()
		}
		s.GracefulStop()
		wg.Wait()
		close(done)
	}()
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		s.Stop()
		if lean != nil {
			lean.Stop()
		}
	}
}

func byHand(prog string) string {
	return fmt.Sprintf(`%s is a gobridge plugin: Apache httpd runs it, through mod_gobridge and
gobridged, and sends it requests over gRPC. It does nothing when started by hand.

To use it, tell httpd about it, for example:

    LoadModule gobridge_module modules/mod_gobridge.so
    GoBridgePlugin %s /path/to/%s
    <Location /app>
        GoBridgeHandler %s
    </Location>

To try a handler without Apache, test it with the sdktest package
(github.com/gobridge/gobridge/sdk/sdktest).
`, prog, prog, prog, prog)
}

// grpcPlugin registers the GoBridge service on go-plugin's gRPC server.
type grpcPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	srv    *server
	auth   *authServer      // nil: no GoBridgeAuth service
	filter *filterServer    // nil: no GoBridgeFilter service
	lean   *leangrpc.Server // set with the grpc.Server; nil: off
}

func (p *grpcPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	p.srv.register(both{s, p.lean})
	return nil
}

func (p *grpcPlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, fmt.Errorf("sdk: the gobridge plugin has no Go client side; gobridged and mod_gobridge are the clients")
}
