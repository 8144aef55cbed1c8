package leangrpc

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// unixPair returns both ends of a real unix socket connection.
func unixPair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("unix", filepath.Join(t.TempDir(), "s"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("unix", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close(); client.Close() })
	return server, client
}

func TestQuietIOChoosesRawCallsForBareSocketsOnly(t *testing.T) {
	s, _ := unixPair(t)
	if r, w := quietIO(s); !isQuiet(r) || !isQuiet(w) {
		t.Errorf("unix socket: quietIO = %T, %T; want *quietConn", r, w)
	}
	if r, _ := quietIO(&prefixConn{Conn: s, head: []byte("x")}); r == io.Reader(s) {
		t.Errorf("prefixConn over a unix socket: reads go to the socket itself")
	}
	tc := tls.Server(s, &tls.Config{})
	if r, w := quietIO(tc); isQuiet(r) || isQuiet(w) {
		t.Errorf("TLS connection: quietIO = %T, %T; want the TLS connection itself", r, w)
	}
}

func isQuiet(v any) bool { _, ok := v.(*quietConn); return ok }

func TestQuietIOMovesLargeWritesBothWays(t *testing.T) {
	s, c := unixPair(t)
	r, w := quietIO(s)
	// More than the socket buffers hold: the writer must wait for the
	// poller (EAGAIN) and go on where it stopped.
	want := bytes.Repeat([]byte("0123456789abcdef"), 1<<19) // 8 MiB
	errc := make(chan error, 1)
	go func() {
		_, err := w.Write(want)
		errc <- err
	}()
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("Write: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("the bytes read differ from the bytes written")
	}
	go func() {
		_, err := c.Write(want)
		errc <- err
	}()
	if _, err := io.ReadFull(r, got); err != nil {
		t.Fatalf("Read: %v", err)
	}
	if err := <-errc; err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read back %v, same bytes %v", err, bytes.Equal(got, want))
	}
}

func TestQuietIOKeepsPeekedBytesFirst(t *testing.T) {
	s, c := unixPair(t)
	r, _ := quietIO(&prefixConn{Conn: s, head: []byte("peeked ")})
	if _, err := c.Write([]byte("rest")); err != nil {
		t.Fatal(err)
	}
	c.Close()
	b, err := io.ReadAll(r)
	if err != nil || string(b) != "peeked rest" {
		t.Errorf("read %q, %v; want %q", b, err, "peeked rest")
	}
}

func TestQuietIOEndsLikeNetConn(t *testing.T) {
	t.Run("read deadline", func(t *testing.T) {
		s, _ := unixPair(t)
		r, _ := quietIO(s)
		s.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
		if _, err := r.Read(make([]byte, 10)); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("Read past the deadline: %v; want os.ErrDeadlineExceeded", err)
		}
	})
	t.Run("peer closed: EOF, then EPIPE on write", func(t *testing.T) {
		s, c := unixPair(t)
		r, w := quietIO(s)
		c.Close()
		if _, err := r.Read(make([]byte, 10)); err != io.EOF {
			t.Errorf("Read after the peer closed: %v; want io.EOF", err)
		}
		// No SIGPIPE: the write fails and the test binary lives on.
		if _, err := w.Write([]byte("x")); !errors.Is(err, syscall.EPIPE) {
			t.Errorf("Write after the peer closed: %v; want EPIPE", err)
		}
	})
	t.Run("closed locally", func(t *testing.T) {
		s, _ := unixPair(t)
		r, _ := quietIO(s)
		s.Close()
		if _, err := r.Read(make([]byte, 10)); !errors.Is(err, net.ErrClosed) {
			t.Errorf("Read on a closed connection: %v; want net.ErrClosed", err)
		}
	})
}
