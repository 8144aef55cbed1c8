// Command seedgen writes the seed corpus of the mod_gobridge fuzz targets:
// what a plugin sends on a fresh HTTP/2 connection (SETTINGS, then a gRPC
// response on stream 1) for the h2 target, and length-prefixed message
// streams plus headers for the grpc target. Run from mod_gobridge/fuzz:
//
//	go run ./seedgen -dir corpus
//
// Each h2 seed starts with the two control bytes fuzz_h2.c reads (call
// kind, reuse) followed by the server's bytes.
package main

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/protobuf/proto"

	pb "github.com/gobridge/gobridge/proto/gobridge/v1"
)

func grpcMsg(m proto.Message) []byte {
	b, err := proto.Marshal(m)
	if err != nil {
		log.Fatal(err)
	}
	out := make([]byte, 5+len(b))
	binary.BigEndian.PutUint32(out[1:], uint32(len(b)))
	copy(out[5:], b)
	return out
}

type conn struct {
	buf bytes.Buffer
	fr  *http2.Framer
}

func newConn() *conn {
	c := &conn{}
	c.fr = http2.NewFramer(&c.buf, nil)
	c.fr.WriteSettings(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 100})
	c.fr.WriteSettingsAck()
	return c
}

func (c *conn) headers(stream uint32, end bool, kv ...string) {
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for i := 0; i+1 < len(kv); i += 2 {
		enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: stream, BlockFragment: hb.Bytes(),
		EndStream: end, EndHeaders: true})
}

func (c *conn) head() { c.headers(1, false, ":status", "200", "content-type", "application/grpc") }

func (c *conn) data(b []byte, chunk int) {
	for len(b) > 0 {
		n := min(chunk, len(b))
		c.fr.WriteData(1, false, b[:n])
		b = b[n:]
	}
}

func (c *conn) trailers(status, msg string) {
	kv := []string{"grpc-status", status}
	if msg != "" {
		kv = append(kv, "grpc-message", msg)
	}
	c.headers(1, true, kv...)
}

func main() {
	dir := flag.String("dir", "corpus", "output directory")
	flag.Parse()
	seeds := map[string][]byte{}
	h2 := func(name string, kind byte, c *conn) {
		seeds[filepath.Join("h2", name)] = append([]byte{kind, 1}, c.buf.Bytes()...)
	}
	finish := &pb.HandleResponse{Finish: &pb.Finish{Result: pb.Result_RESULT_OK}}
	small := &pb.HandleResponse{
		Head: &pb.ResponseHead{Status: 200, Headers: []*pb.Pair{{Key: []byte("X-A"), Value: []byte("b")}}},
		Body: []byte("hello\n"), Finish: finish.Finish,
	}

	c := newConn()
	c.head()
	c.data(grpcMsg(small), 1<<14)
	c.trailers("0", "")
	h2("handle-small", 0, c)

	c = newConn()
	c.head()
	c.data(grpcMsg(&pb.HandleResponse{ReadBody: 1000}), 3)
	c.data(grpcMsg(&pb.HandleResponse{Head: &pb.ResponseHead{Status: 201}, Body: bytes.Repeat([]byte("x"), 3000), Flush: true}), 7)
	c.data(grpcMsg(finish), 1)
	c.trailers("0", "")
	h2("handle-readbody-chunked", 0, c)

	c = newConn()
	c.head()
	c.data(grpcMsg(&pb.HandleResponse{Head: &pb.ResponseHead{Status: 200}}), 100)
	for i := 0; i < 4; i++ {
		c.data(grpcMsg(&pb.HandleResponse{Body: bytes.Repeat([]byte{byte(i)}, 9000)}), 4096)
	}
	c.fr.WritePing(false, [8]byte{1, 2, 3, 4, 5, 6, 7, 8})
	c.fr.WriteWindowUpdate(0, 65535)
	c.fr.WriteWindowUpdate(1, 65535)
	c.data(grpcMsg(finish), 100)
	c.trailers("0", "")
	c.fr.WriteGoAway(1, http2.ErrCodeNo, []byte("bye"))
	h2("handle-stream-ping-goaway", 0, c)

	c = newConn()
	c.headers(1, true, ":status", "200", "content-type", "application/grpc",
		"grpc-status", "7", "grpc-message", "denied: 100%25 sure%0Anot you")
	h2("handle-trailers-only", 0, c)

	c = newConn()
	c.head()
	c.data([]byte{0, 0, 0, 0x10}, 4) // inside a prefix
	c.fr.WriteRSTStream(1, http2.ErrCodeInternal)
	h2("handle-rst-mid-message", 0, c)

	c = newConn()
	c.headers(1, false, ":status", "503", "content-type", "text/plain")
	c.fr.WriteData(1, true, []byte("unavailable"))
	h2("handle-http-503", 0, c)

	c = newConn()
	c.head()
	c.data([]byte{1, 0, 0, 0, 1, 0}, 6) // compressed flag
	h2("handle-compressed", 0, c)

	c = newConn()
	c.head()
	c.data([]byte{0, 0xff, 0xff, 0xff, 0xff}, 5) // over max_message
	h2("handle-oversized", 0, c)

	c = newConn()
	c.head()
	c.data(grpcMsg(&pb.PhaseResponse{Result: pb.Result_RESULT_OK, HttpStatus: 200}), 10)
	c.trailers("0", "")
	h2("unary-ok", 1, c)

	c = newConn()
	c.head()
	c.data(grpcMsg(&pb.PhaseResponse{}), 10)
	c.data(grpcMsg(&pb.PhaseResponse{}), 10)
	c.trailers("0", "")
	h2("unary-two-messages", 1, c)

	c = newConn()
	c.fr.WriteGoAway(0, http2.ErrCodeProtocol, nil)
	h2("goaway-first", 1, c)

	// grpc codec seeds: [max idx][chunk seed][split] stream | headers
	hdr := func(idx byte, v string) []byte { return append([]byte{idx, byte(len(v))}, v...) }
	two := append(grpcMsg(small), grpcMsg(finish)...)
	g := func(name string, maxIdx, chunk byte, stream []byte, headers ...[]byte) {
		b := []byte{maxIdx, chunk, 0}
		total := len(stream) + 0
		for _, h := range headers {
			total += len(h)
		}
		if total > 0 {
			b[2] = byte(len(stream) * 256 / (total + 1))
		}
		b = append(b, stream...)
		for _, h := range headers {
			b = append(b, h...)
		}
		seeds[filepath.Join("grpc", name)] = b
	}
	g("two-messages", 5, 3, two, hdr(1, "0"), hdr(0, "200"), hdr(3, "application/grpc+proto"))
	g("empty-message", 5, 0, []byte{0, 0, 0, 0, 0}, hdr(1, "13"), hdr(2, "bad %zz %4"))
	g("percent", 4, 255, grpcMsg(finish), hdr(2, "denied: 100%25 sure%0Anot you, %C3%BCnicode%"))
	g("too-big", 2, 1, []byte{0, 0, 0, 1, 0, 1, 2, 3}, hdr(0, "503"))

	for name, b := range seeds {
		p := filepath.Join(*dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			log.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Printf("wrote %d seeds under %s\n", len(seeds), *dir)
}
