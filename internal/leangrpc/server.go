package leangrpc

import (
	"errors"
	"fmt"
	"net"
	"reflect"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// Options bound what a Server accepts and advertises. Zero fields take
// grpc-go's defaults (4 MiB received, unlimited sent) and this package's
// windows (1 MiB per stream, 8 MiB per connection).
type Options struct {
	MaxRecvMsgSize    int
	MaxSendMsgSize    int
	InitialWindowSize int32
	ConnWindowSize    int32
}

// Server serves registered gRPC services on the connections given to it.
type Server struct {
	opts    Options
	methods map[string]*method // by ":path", "/pkg.Service/Method"

	mu       sync.Mutex
	conns    map[net.Conn]*conn // nil value: tracked, not yet serving
	draining bool
	stopped  bool
	wg       sync.WaitGroup // one per tracked connection
}

// method is one registered method: exactly one of unary, stream is set.
type method struct {
	impl   any
	unary  *grpc.MethodDesc
	stream *grpc.StreamDesc
}

// NewServer returns a Server with opts; register services before serving.
func NewServer(opts Options) *Server {
	if opts.MaxRecvMsgSize <= 0 {
		opts.MaxRecvMsgSize = 4 << 20
	}
	if opts.MaxSendMsgSize <= 0 {
		opts.MaxSendMsgSize = int(^uint32(0) >> 1)
	}
	if opts.InitialWindowSize < 65535 {
		opts.InitialWindowSize = 1 << 20
	}
	if opts.ConnWindowSize < opts.InitialWindowSize {
		opts.ConnWindowSize = max(8<<20, opts.InitialWindowSize)
	}
	return &Server{opts: opts, methods: map[string]*method{}, conns: map[net.Conn]*conn{}}
}

// RegisterService registers impl for sd, as grpc.Server does; it panics
// when impl does not implement sd's handler type or a method is
// registered twice (programming errors, like grpc-go's).
func (s *Server) RegisterService(sd *grpc.ServiceDesc, impl any) {
	if impl != nil {
		ht := reflect.TypeOf(sd.HandlerType).Elem()
		if !reflect.TypeOf(impl).Implements(ht) {
			panic(fmt.Sprintf("leangrpc: %T does not implement %v for service %s", impl, ht, sd.ServiceName))
		}
	}
	add := func(name string, m *method) {
		path := "/" + sd.ServiceName + "/" + name
		if _, dup := s.methods[path]; dup {
			panic("leangrpc: method registered twice: " + path)
		}
		s.methods[path] = m
	}
	for i := range sd.Methods {
		add(sd.Methods[i].MethodName, &method{impl: impl, unary: &sd.Methods[i]})
	}
	for i := range sd.Streams {
		add(sd.Streams[i].StreamName, &method{impl: impl, stream: &sd.Streams[i]})
	}
}

// ErrServerStopped is returned by Serve after Stop or GracefulStop.
var ErrServerStopped = errors.New("leangrpc: server stopped")

// Serve accepts connections on l and serves each until l fails or the
// server stops. It is for tests and for listeners of its own; plugins get
// their connections through Dispatch.
func (s *Server) Serve(l net.Listener) error {
	for {
		nc, err := l.Accept()
		if err != nil {
			s.mu.Lock()
			stopped := s.stopped || s.draining
			s.mu.Unlock()
			if stopped {
				return ErrServerStopped
			}
			return err
		}
		if !s.track(nc) {
			nc.Close()
			return ErrServerStopped
		}
		go s.serveTracked(nc, nil)
	}
}

// ServeConn serves one connection until it ends; info (may be nil) is
// what peer.FromContext reports as its AuthInfo.
func (s *Server) ServeConn(nc net.Conn, info credentials.AuthInfo) {
	if !s.track(nc) {
		nc.Close()
		return
	}
	s.serveTracked(nc, info)
}

// track counts nc as a connection of s, unless s is stopping.
func (s *Server) track(nc net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped || s.draining {
		return false
	}
	s.conns[nc] = nil
	s.wg.Add(1)
	return true
}

func (s *Server) serveTracked(nc net.Conn, info credentials.AuthInfo) {
	defer s.wg.Done()
	c := newConn(s, nc, info)
	s.mu.Lock()
	stopping, draining := s.stopped, s.draining
	s.conns[nc] = c
	s.mu.Unlock()
	switch {
	case stopping:
		nc.Close()
	case draining:
		c.goAway()
	}
	c.serve()
	s.mu.Lock()
	delete(s.conns, nc)
	s.mu.Unlock()
}

// GracefulStop sends GOAWAY on every connection, lets the calls in flight
// finish, closes each connection as its last call ends and returns when
// all are closed. New connections are refused.
func (s *Server) GracefulStop() {
	s.mu.Lock()
	s.draining = true
	conns := make([]*conn, 0, len(s.conns))
	for _, c := range s.conns {
		if c != nil {
			conns = append(conns, c)
		}
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.goAway()
	}
	s.wg.Wait()
}

// Stop closes every connection at once and cancels the calls in flight.
// Like grpc-go's Stop it does not wait for their handlers, which may
// ignore their contexts: it is what a plugin does when GracefulStop took
// too long.
func (s *Server) Stop() {
	s.mu.Lock()
	s.stopped = true
	for nc := range s.conns {
		nc.Close()
	}
	s.mu.Unlock()
}

// ConnCount is the number of connections s serves now.
func ConnCount(s *Server) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}
