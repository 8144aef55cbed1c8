package leangrpc

import (
	"net"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// TestGracefulStopBeforePreface stops the server while a connection is
// served but its client has not spoken yet. The client must find SETTINGS
// first and then a GOAWAY that leaves every stream out (last stream 0),
// which is how it knows a call it is sending was never taken and may go
// elsewhere: a GOAWAY ahead of the SETTINGS is a protocol error to the
// client (mod_gobridge's nghttp2 among them), and its call lost. Nor may
// the stop wait for a client that never speaks.
func TestGracefulStopBeforePreface(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "s.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(Options{})
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	t.Cleanup(func() { l.Close(); s.Stop() })

	nc, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(time.Minute)) // a hang fails, not blocks

	// The connection is being served before the stop begins.
	waitFor(t, func() *conn {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, c := range s.conns {
			return c
		}
		return nil
	})
	stopped := make(chan struct{})
	go func() { s.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(time.Minute):
		t.Fatal("GracefulStop waits for a client that has not spoken")
	}

	fr := http2.NewFramer(nil, nc)
	first, err := fr.ReadFrame()
	if err != nil {
		t.Fatalf("reading the server's first frame: %v", err)
	}
	if sf, ok := first.(*http2.SettingsFrame); !ok || sf.IsAck() {
		t.Fatalf("the server's first frame is %v, want its SETTINGS", first.Header())
	}
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("no GOAWAY after the SETTINGS: %v", err)
		}
		if ga, ok := f.(*http2.GoAwayFrame); ok {
			if ga.LastStreamID != 0 || ga.ErrCode != http2.ErrCodeNo {
				t.Errorf("GOAWAY last stream %d, %v; want 0, NO_ERROR", ga.LastStreamID, ga.ErrCode)
			}
			break
		}
		if _, ok := f.(*http2.WindowUpdateFrame); !ok {
			t.Fatalf("before the GOAWAY the server sent %v", f.Header())
		}
	}
	if f, err := fr.ReadFrame(); err == nil {
		t.Errorf("after the GOAWAY the server sent %v; want the connection closed", f.Header())
	}
	l.Close()
	if err := <-served; err != ErrServerStopped {
		t.Errorf("Serve returned %v, want ErrServerStopped", err)
	}
}

// waitFor polls cond (which looks at state under its own locks) until it
// returns non-nil: the state changes on another goroutine without a
// signal to wait on.
func waitFor[T any](t *testing.T, cond func() *T) *T {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); {
		if v := cond(); v != nil {
			return v
		}
		runtime.Gosched()
	}
	t.Fatal("the state waited for never came")
	return nil
}
