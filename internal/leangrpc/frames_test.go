package leangrpc_test

// Frame-level cases a gRPC client library hides: PING, SETTINGS and its
// ACK, a client window smaller than one answer, RST_STREAM, GOAWAY on a
// protocol error. A raw HTTP/2 client (x/net/http2's Framer) drives both
// servers, as in conformance_test.go.

import (
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/gobridge/gobridge/internal/leangrpc"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/protobuf/proto"
)

// rawClient is one announced HTTP/2 connection driven frame by frame.
type rawClient struct {
	t    *testing.T
	nc   net.Conn
	w    holdWriter
	fr   *http2.Framer
	henc *hpack.Encoder
	hbuf bytes.Buffer
}

// holdWriter is the connection as the Framer writes it: while held,
// frames collect in buf and reach the server in one write at release, so
// that it reads them together.
type holdWriter struct {
	nc   net.Conn
	held bool
	buf  bytes.Buffer
}

func (w *holdWriter) Write(p []byte) (int, error) {
	if w.held {
		return w.buf.Write(p)
	}
	return w.nc.Write(p)
}

func (w *holdWriter) release() error {
	w.held = false
	_, err := w.nc.Write(w.buf.Bytes())
	w.buf.Reset()
	return err
}

func dialRaw(t *testing.T, f *fixture, settings ...http2.Setting) *rawClient {
	t.Helper()
	nc, err := net.Dial("unix", f.sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	// Every read has a deadline far beyond any expected wait: a server
	// that never answers fails the test instead of hanging it.
	nc.SetDeadline(time.Now().Add(time.Minute))
	c := &rawClient{t: t, nc: nc}
	c.w.nc = nc
	c.fr = http2.NewFramer(&c.w, nc)
	c.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	c.henc = hpack.NewEncoder(&c.hbuf)
	if _, err := nc.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	settings = append(settings, http2.Setting{ID: leangrpc.SettingLean, Val: 1})
	if err := c.fr.WriteSettings(settings...); err != nil {
		t.Fatal(err)
	}
	return c
}

// call opens stream id for path with one message, END_STREAM if end, and
// the extra header fields given.
func (c *rawClient) call(id uint32, path string, m proto.Message, end bool, extra ...hpack.HeaderField) {
	c.t.Helper()
	c.headers(id, path, false, extra...)
	b, _ := proto.Marshal(m)
	msg := binary.BigEndian.AppendUint32([]byte{0}, uint32(len(b)))
	if err := c.fr.WriteData(id, end, append(msg, b...)); err != nil {
		c.t.Fatal(err)
	}
}

// headers writes a call's HEADERS on stream id, END_STREAM if end.
func (c *rawClient) headers(id uint32, path string, end bool, extra ...hpack.HeaderField) {
	c.t.Helper()
	c.hbuf.Reset()
	for _, hf := range [][2]string{{":method", "POST"}, {":scheme", "http"}, {":path", path},
		{":authority", "localhost"}, {"content-type", "application/grpc"}, {"te", "trailers"}} {
		c.henc.WriteField(hpack.HeaderField{Name: hf[0], Value: hf[1]})
	}
	for _, hf := range extra {
		c.henc.WriteField(hf)
	}
	if err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: c.hbuf.Bytes(), EndHeaders: true, EndStream: end}); err != nil {
		c.t.Fatal(err)
	}
}

// next returns the next frame that is not SETTINGS, WINDOW_UPDATE or
// PING (those are answered or noted on the way).
func (c *rawClient) next() http2.Frame {
	c.t.Helper()
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			c.t.Fatalf("reading a frame: %v", err)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				c.fr.WriteSettingsAck()
			}
		case *http2.WindowUpdateFrame:
		default:
			return f
		}
	}
}

// answer collects stream id's response: DATA bytes and the trailers.
func (c *rawClient) answer(id uint32) (data []byte, trailers map[string]string) {
	c.t.Helper()
	trailers = map[string]string{}
	for {
		switch f := c.next().(type) {
		case *http2.MetaHeadersFrame:
			if f.StreamID != id {
				c.t.Fatalf("HEADERS for stream %d, want %d", f.StreamID, id)
			}
			for _, hf := range f.Fields {
				trailers[hf.Name] = hf.Value
			}
			if f.StreamEnded() {
				return data, trailers
			}
		case *http2.DataFrame:
			data = append(data, f.Data()...)
			if f.StreamEnded() {
				c.t.Fatal("END_STREAM on DATA: gRPC ends with trailers")
			}
		case *http2.RSTStreamFrame:
			c.t.Fatalf("RST_STREAM %v before the answer ended", f.ErrCode)
		case *http2.GoAwayFrame:
			c.t.Fatalf("GOAWAY %v before the answer ended", f.ErrCode)
		}
	}
}

func TestFramesPingAndSettingsAck(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		c := dialRaw(t, f)
		data := [8]byte{'g', 'o', 'b', 'r', 'i', 'd', 'g', 'e'}
		if err := c.fr.WritePing(false, data); err != nil {
			t.Fatal(err)
		}
		sawAck := false
		for !sawAck {
			fr, err := c.fr.ReadFrame()
			if err != nil {
				t.Fatal(err)
			}
			switch fr := fr.(type) {
			case *http2.SettingsFrame:
				if fr.IsAck() {
					sawAck = true
				} else {
					c.fr.WriteSettingsAck()
				}
			}
		}
		for {
			fr, ok := c.next().(*http2.PingFrame)
			if ok {
				if !fr.IsAck() || fr.Data != data {
					t.Fatalf("PING answer: ack=%v data=%q", fr.IsAck(), fr.Data[:])
				}
				break
			}
		}
	})
}

// An answer larger than the window the client grants waits for the
// client's WINDOW_UPDATE, then completes.
func TestFramesSmallClientWindow(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		const win = 1000
		c := dialRaw(t, f, http2.Setting{ID: http2.SettingInitialWindowSize, Val: win})
		// Let the server take the setting before the call starts.
		c.fr.WritePing(false, [8]byte{1})
		for {
			if p, ok := c.next().(*http2.PingFrame); ok && p.IsAck() {
				break
			}
		}
		c.call(1, "/grpc.testing.TestService/UnaryCall", &testgrpc.SimpleRequest{ResponseSize: 5000}, true)
		var got int
		for got < win {
			switch fr := c.next().(type) {
			case *http2.MetaHeadersFrame:
				if fr.StreamEnded() {
					t.Fatal("answer ended inside the window")
				}
			case *http2.DataFrame:
				got += len(fr.Data())
			}
		}
		if got != win {
			t.Fatalf("server sent %d bytes in a window of %d", got, win)
		}
		// Prove it stopped: a PING overtakes the rest of the answer.
		c.fr.WritePing(false, [8]byte{2})
		for {
			fr := c.next()
			if p, ok := fr.(*http2.PingFrame); ok && p.IsAck() {
				break
			}
			if _, ok := fr.(*http2.DataFrame); ok {
				t.Fatal("DATA beyond the client's window")
			}
		}
		c.fr.WriteWindowUpdate(1, 1<<20)
		rest, tr := c.answer(1)
		if got+len(rest) < 5000 || tr["grpc-status"] != "0" {
			t.Fatalf("after WINDOW_UPDATE: %d more bytes, trailers %v", len(rest), tr)
		}
	})
}

// The trailers-only answer for an unknown method, then RST_STREAM
// NO_ERROR because the client had not ended its side: both servers.
func TestFramesUnknownMethodAndEarlyEnd(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		c := dialRaw(t, f)
		c.call(1, "/no.Such/Method", &testgrpc.Empty{}, false)
		for {
			fr := c.next()
			h, ok := fr.(*http2.MetaHeadersFrame)
			if !ok {
				continue
			}
			got := map[string]string{}
			for _, hf := range h.Fields {
				got[hf.Name] = hf.Value
			}
			if got["grpc-status"] != strconv.Itoa(12) || !h.StreamEnded() {
				t.Fatalf("unknown method answered %v (end %v), want grpc-status 12 and END_STREAM", got, h.StreamEnded())
			}
			break
		}
		if rst, ok := c.next().(*http2.RSTStreamFrame); !ok || rst.ErrCode != http2.ErrCodeNo {
			t.Fatalf("after the trailers: want RST_STREAM NO_ERROR")
		}
		// The connection still serves.
		c.call(3, "/grpc.testing.TestService/UnaryCall", &testgrpc.SimpleRequest{ResponseSize: 7}, true)
		if _, tr := c.answer(3); tr["grpc-status"] != "0" {
			t.Fatalf("next call: %v", tr)
		}
	})
}

// A client cancelling mid-call (RST_STREAM CANCEL) ends the handler; the
// connection keeps serving.
func TestFramesClientReset(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		c := dialRaw(t, f)
		c.call(1, "/grpc.testing.TestService/UnaryCall", &testgrpc.SimpleRequest{Payload: &testgrpc.Payload{Body: []byte("wait")}}, true)
		// Its handler waits on its context. A second call answered
		// proves the server has read the first.
		c.call(3, "/grpc.testing.TestService/EmptyCall", &testgrpc.Empty{}, true)
		if _, tr := c.answer(3); tr["grpc-status"] != "0" {
			t.Fatalf("second call: %v", tr)
		}
		c.fr.WriteRSTStream(1, http2.ErrCodeCancel)
		if o := <-f.impl.observed; o.err == nil {
			t.Fatal("handler's context did not end")
		}
		c.call(5, "/grpc.testing.TestService/UnaryCall", &testgrpc.SimpleRequest{ResponseSize: 3}, true)
		if _, tr := c.answer(5); tr["grpc-status"] != "0" {
			t.Fatalf("after the reset: %v", tr)
		}
	})
}

// A stream id the client may not use is a connection error: GOAWAY
// PROTOCOL_ERROR.
func TestFramesProtocolError(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		c := dialRaw(t, f)
		// HEADERS alone: the server may close the connection as soon as
		// it has read them, so nothing may follow.
		c.headers(2, "/grpc.testing.TestService/EmptyCall", true)
		for {
			fr, err := c.fr.ReadFrame()
			if err != nil {
				t.Fatalf("connection ended without GOAWAY: %v", err)
			}
			if g, ok := fr.(*http2.GoAwayFrame); ok {
				if g.ErrCode != http2.ErrCodeProtocol {
					t.Fatalf("GOAWAY %v, want PROTOCOL_ERROR", g.ErrCode)
				}
				return
			}
		}
	})
}

// The server ends a call at its grpc-timeout by itself, with a client
// that never cancels: a handler waiting on its context and one that only
// looks at ctx.Err() both see their context end, and the call ends.
// (grpc-go's client cancels on its own deadline, so TestDeadline cannot
// tell whether the server's did anything.)
func TestFramesServerDeadline(t *testing.T) {
	for _, body := range []string{"wait", "poll"} {
		t.Run(body, func(t *testing.T) {
			each(t, func(t *testing.T, f *fixture) {
				c := dialRaw(t, f)
				req := &testgrpc.SimpleRequest{Payload: &testgrpc.Payload{Body: []byte(body)}}
				// In one write, as the module sends a call: the handler
				// never waits for its message, which would arm a timer.
				c.w.held = true
				c.call(1, "/grpc.testing.TestService/UnaryCall", req, true,
					hpack.HeaderField{Name: "grpc-timeout", Value: "50m"})
				if err := c.w.release(); err != nil {
					t.Fatal(err)
				}
				// The call ends with DeadlineExceeded in its trailers, or, as
				// grpc-go's server may answer, a RST_STREAM.
			read:
				for {
					switch fr := c.next().(type) {
					case *http2.MetaHeadersFrame:
						if !fr.StreamEnded() {
							continue
						}
						got := ""
						for _, hf := range fr.RegularFields() {
							if hf.Name == "grpc-status" {
								got = hf.Value
							}
						}
						if got != "4" {
							t.Errorf("grpc-status %q, want 4 (DeadlineExceeded)", got)
						}
						break read
					case *http2.RSTStreamFrame:
						break read
					}
				}
				// grpc-go's server cancels the handler's context as it resets
				// the stream; ours ends it with DeadlineExceeded.
				o := <-f.impl.observed
				want := o.err == context.DeadlineExceeded || (f.lean == nil && o.err == context.Canceled)
				if !o.hadDeadline || !want {
					t.Errorf("handler saw %+v, want DeadlineExceeded with a deadline", o)
				}
			})
		})
	}
}
