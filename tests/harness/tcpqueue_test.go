package harness

import (
	"io"
	"net"
	"testing"
	"time"
)

func TestTCPQueues(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cl, sl := c.LocalAddr().(*net.TCPAddr), s.LocalAddr().(*net.TCPAddr)
	if _, err := c.Write(make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	// Unread by the server: its receive queue holds the bytes once they
	// have crossed loopback.
	var rx int64
	if !WaitFor(10*time.Second, func() bool { _, rx, err = TCPQueues(sl, cl); return err == nil && rx == 1000 }) {
		t.Errorf("server receive queue = %d, %v; want 1000", rx, err)
	}
	if _, err := io.ReadFull(s, make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	if tx, _, err := TCPQueues(cl, sl); err != nil || tx != 0 {
		t.Errorf("client send queue = %d, %v; want 0", tx, err)
	}
	if _, rx, err := TCPQueues(sl, cl); err != nil || rx != 0 {
		t.Errorf("server receive queue after reading = %d, %v; want 0", rx, err)
	}
}
