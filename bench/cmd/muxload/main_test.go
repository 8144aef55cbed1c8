package main

import (
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobridge/gobridge/internal/leangrpc"
	"github.com/gobridge/gobridge/sdk"
)

// TestRunAgainstLeanServer loads a lean server serving a content handler
// the way muxload loads a plugin: every call must come back as a
// successful gRPC answer, on one connection per caller and on shared ones.
func TestRunAgainstLeanServer(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "plugin.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := leangrpc.NewServer(leangrpc.Options{})
	var served, wrong atomic.Int64
	hello := sdk.HandlerFunc(func(w *sdk.ResponseWriter, r *sdk.Request) error {
		served.Add(1)
		if r.Method != "GET" || r.URI != "/gb" {
			wrong.Add(1)
		}
		_, err := w.Write([]byte("Hello, world\n"))
		return err
	})
	if err := sdk.Register(srv, &sdk.ServeConfig{Handler: hello}); err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(srv.Stop)

	for _, conns := range []int{4, 1} {
		row, err := run(sock, os.Getpid(), 4, conns, 0, 200*time.Millisecond, callBody())
		if err != nil {
			t.Fatalf("%d connections: %v", conns, err)
		}
		if row.rate <= 0 || row.readsPerCall <= 0 {
			t.Errorf("%d connections: no calls measured: %+v", conns, row)
		}
	}
	if served.Load() == 0 || wrong.Load() != 0 {
		t.Errorf("the handler served %d calls, %d of them not GET /gb", served.Load(), wrong.Load())
	}
}
