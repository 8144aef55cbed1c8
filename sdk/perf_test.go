package sdk_test

// Benchmarks of the plugin side of one Handle call (bench/README.md, "What
// we measured and changed"). Speed is never asserted; run them with
//
//	go test -run '^$' -bench . -benchmem ./sdk/
//
// BenchmarkHandleWire plays mod_gobridge with a minimal HTTP/2 client that
// writes HEADERS+DATA in one write and reads the answer, as the module
// does, so nearly all the time measured is the plugin's (grpc-go server,
// SDK, handler). BenchmarkServeStream skips gRPC: the SDK alone.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/gobridge/gobridge/internal/leangrpc"
	"github.com/gobridge/gobridge/internal/wire"
	pb "github.com/gobridge/gobridge/proto/gobridge/v1"
	"github.com/gobridge/gobridge/sdk"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/protobuf/proto"
)

var benchHello = []byte("Hello, world\n")

func benchHandler() sdk.Handler {
	return sdk.HandlerFunc(func(w *sdk.ResponseWriter, _ *sdk.Request) error {
		w.Header().Set("Content-Type", "text/plain")
		_, err := w.Write(benchHello)
		return err
	})
}

// benchRequest is about what mod_gobridge sends for `wrk` hitting /gb.
func benchRequest() *pb.HandleRequest {
	pair := func(k, v string) *pb.Pair { return &pb.Pair{Key: []byte(k), Value: []byte(v)} }
	return &pb.HandleRequest{
		BodyEof: true,
		Request: &pb.Request{
			Method: []byte("GET"), Protocol: []byte("HTTP/1.1"),
			TheRequest: []byte("GET /gb HTTP/1.1"), UnparsedUri: []byte("/gb"),
			Uri: []byte("/gb"), Filename: []byte("/tmp/gbb/htdocs/gb"),
			Hostname: []byte("127.0.0.1"), Scheme: []byte("http"),
			Handler: []byte("gobridge"), Plugin: []byte("noop"),
			LogId: []byte("aGVsbG8"), Location: []byte("/gb"),
			HeadersIn:     []*pb.Pair{pair("Host", "127.0.0.1:8080")},
			RequestTimeUs: 1764000000000000, ContentLength: 0,
			Connection: &pb.Connection{RemoteIp: []byte("127.0.0.1"), RemotePort: 40000,
				LocalIp: []byte("127.0.0.1"), LocalPort: 8080, UseragentIp: []byte("127.0.0.1"), Id: 7},
			Server: &pb.Server{Hostname: []byte("127.0.0.1"), Port: 8080,
				Admin: []byte("you@example.com"), DocumentRoot: []byte("/tmp/gbb/htdocs")},
			Status: 200,
		},
	}
}

// h2Client is the smallest HTTP/2 client that can make Handle calls.
type h2Client struct {
	conn    net.Conn
	fr      *http2.Framer
	out     bytes.Buffer
	hdr     bytes.Buffer
	enc     *hpack.Encoder
	id      uint32
	unacked uint32
	msg     []byte
}

// dialH2 connects to a plugin server for h; lean announces the client as
// mod_gobridge does, so that the SDK's lean server answers it.
func dialH2(tb testing.TB, h sdk.Handler, lean bool) *h2Client {
	dir, err := os.MkdirTemp("", "gbb")
	if err != nil {
		tb.Fatal(err)
	}
	path := filepath.Join(dir, "p.sock")
	lis, err := net.Listen("unix", path)
	if err != nil {
		tb.Fatal(err)
	}
	gs := wire.Hooks.NewServer(h)
	go func() { _ = gs.Serve(lis) }()
	conn, err := net.Dial("unix", path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close(); gs.Stop(); os.RemoveAll(dir) })
	c := &h2Client{conn: conn, id: 1}
	c.fr = http2.NewFramer(&c.out, bufio.NewReaderSize(conn, 64<<10))
	c.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	c.enc = hpack.NewEncoder(&c.hdr)
	c.out.WriteString(http2.ClientPreface)
	settings := []http2.Setting{{ID: http2.SettingInitialWindowSize, Val: 1 << 20}}
	if lean {
		settings = append(settings, http2.Setting{ID: leangrpc.SettingLean, Val: 1})
	}
	_ = c.fr.WriteSettings(settings...)
	_ = c.fr.WriteWindowUpdate(0, 4<<20)
	body, err := proto.Marshal(benchRequest())
	if err != nil {
		tb.Fatal(err)
	}
	c.msg = binary.BigEndian.AppendUint32([]byte{0}, uint32(len(body)))
	c.msg = append(c.msg, body...)
	return c
}

// call makes one Handle call; it returns the bytes of response messages.
func (c *h2Client) call(tb testing.TB) int {
	c.hdr.Reset()
	for _, f := range [][2]string{{":method", "POST"}, {":scheme", "http"},
		{":path", "/gobridge.v1.GoBridge/Handle"}, {":authority", "localhost"},
		{"content-type", "application/grpc"}, {"te", "trailers"}} {
		_ = c.enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	id := c.id
	c.id += 2
	_ = c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: c.hdr.Bytes(), EndHeaders: true})
	_ = c.fr.WriteData(id, true, c.msg)
	if _, err := c.conn.Write(c.out.Bytes()); err != nil {
		tb.Fatal(err)
	}
	c.out.Reset()
	got := 0
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			tb.Fatal(err)
		}
		switch f := f.(type) {
		case *http2.DataFrame:
			got += len(f.Data())
			c.unacked += f.Header().Length
		case *http2.MetaHeadersFrame:
			if f.StreamID == id && f.StreamEnded() {
				for _, hf := range f.Fields {
					if hf.Name == "grpc-status" && hf.Value != "0" {
						tb.Fatalf("trailers %v", f.Fields)
					}
				}
				if c.unacked > 256<<10 {
					_ = c.fr.WriteWindowUpdate(0, c.unacked)
					c.unacked = 0
				}
				return got
			}
		case *http2.SettingsFrame:
			if !f.IsAck() {
				_ = c.fr.WriteSettingsAck()
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				_ = c.fr.WritePing(true, f.Data)
			}
		case *http2.RSTStreamFrame:
			// NO_ERROR: the server has answered and needs nothing more of
			// the stream (grpc-go sends it when it ends a call before
			// noticing our END_STREAM).
			if f.ErrCode != http2.ErrCodeNo {
				tb.Fatalf("RST_STREAM %v", f.ErrCode)
			}
		case *http2.GoAwayFrame:
			tb.Fatalf("GOAWAY %v", f.ErrCode)
		}
	}
}

func BenchmarkHandleWire(b *testing.B) {
	for _, lean := range []bool{false, true} {
		name := "server=grpc-go"
		if lean {
			name = "server=lean"
		}
		b.Run(name, func(b *testing.B) {
			c := dialH2(b, benchHandler(), lean)
			if n := c.call(b); n < len(benchHello) {
				b.Fatalf("response of %d bytes", n)
			}
			b.ReportAllocs()
			b.ResetTimer()
			cpu := cpuTime()
			for i := 0; i < b.N; i++ {
				c.call(b)
			}
			b.ReportMetric(float64(cpuTime()-cpu)/1e3/float64(b.N), "cpu-µs/op")
		})
	}
}

// cpuTime is the process's user+system CPU time in ns (client included).
func cpuTime() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// memStream is a wire.Stream with one request and a discarding Send.
type memStream struct {
	ctx  context.Context
	req  *pb.HandleRequest
	sent int
}

func (s *memStream) Context() context.Context { return s.ctx }
func (s *memStream) Send(*pb.HandleResponse) error {
	s.sent++
	return nil
}
func (s *memStream) Recv() (*pb.HandleRequest, error) { return s.req, nil }

func BenchmarkServeStream(b *testing.B) {
	h := benchHandler()
	st := &memStream{ctx: context.Background(), req: benchRequest()}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if err := wire.Hooks.ServeStream(h, st); err != nil {
			b.Fatal(err)
		}
	}
}
