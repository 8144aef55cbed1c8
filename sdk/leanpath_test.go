package sdk_test

// The module's calls are served by the lean server with handlers that
// decode their messages from raw bytes (transport.go, leanDesc); every
// other test here talks to grpc-go's server. These run the same calls on
// both and require the same answers.

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gobridge/gobridge/internal/leangrpc"
	"github.com/gobridge/gobridge/internal/wire"
	pb "github.com/gobridge/gobridge/proto/gobridge/v1"
	"github.com/gobridge/gobridge/sdk"
	"github.com/gobridge/gobridge/sdk/sdktest"
	"golang.org/x/net/http2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// leanConn adds SettingLean to the first SETTINGS frame a grpc-go client
// writes, so that the plugin's lean server takes the connection as it
// takes the module's.
type leanConn struct {
	net.Conn
	mu   sync.Mutex
	head []byte // written but held back, until the first frame is whole
	done bool
}

func (c *leanConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done {
		return c.Conn.Write(p)
	}
	c.head = append(c.head, p...)
	pre := len(http2.ClientPreface)
	if len(c.head) < pre+9 {
		return len(p), nil
	}
	fh := c.head[pre : pre+9]
	n := int(fh[0])<<16 | int(fh[1])<<8 | int(fh[2])
	if len(c.head) < pre+9+n {
		return len(p), nil
	}
	out := c.head
	if http2.FrameType(fh[3]) == http2.FrameSettings {
		n += 6
		out = append(append([]byte(nil), c.head[:pre+9+n-6]...), 0, 0, 0, 0, 0, 1)
		binary.BigEndian.PutUint16(out[pre+9+n-6:], uint16(leangrpc.SettingLean))
		out[pre], out[pre+1], out[pre+2] = byte(n>>16), byte(n>>8), byte(n)
		out = append(out, c.head[pre+9+n-6:]...)
	}
	c.done = true
	c.head = nil
	if _, err := c.Conn.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// bothClients serves impl as a plugin does and returns a client on
// grpc-go's server and one on the lean server.
func bothClients(t *testing.T, impl any) map[string]*grpc.ClientConn {
	dir, err := os.MkdirTemp("", "gbl")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "p.sock")
	lis, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	gs := wire.Hooks.NewServer(impl)
	go func() { _ = gs.Serve(lis) }()
	t.Cleanup(func() { gs.Stop(); os.RemoveAll(dir) })
	out := map[string]*grpc.ClientConn{}
	for _, lean := range []bool{false, true} {
		cc, err := grpc.NewClient("unix://"+path,
			grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
				nc, err := (&net.Dialer{}).DialContext(ctx, "unix", path)
				if err != nil || !lean {
					return nc, err
				}
				return &leanConn{Conn: nc}, nil
			}))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cc.Close() })
		out[map[bool]string{false: "grpc-go", true: "lean"}[lean]] = cc
	}
	return out
}

// transports records, by the X-Via header of a request, the type of the
// grpc.ServerTransportStream that served it.
var transports sync.Map

// echoPlugin answers the Handle call with what it was given, and every
// phase with mutations made of the snapshot.
type echoPlugin struct{}

func (echoPlugin) ServeGoBridge(w *sdk.ResponseWriter, r *sdk.Request) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/plain")
	transports.Store(r.Header.Get("X-Via"), fmt.Sprintf("%T", grpc.ServerTransportStreamFromContext(r.Context())))
	r.Header.Del("X-Via")
	fmt.Fprintf(w, "%s %s %s %q %v\n", r.Method, r.URI, r.Args, r.Header, r.ContentLength)
	fmt.Fprintf(w, "%q %q %q %q %v\n", r.Notes, r.SubprocessEnv, r.ServerName, r.RemoteAddr, r.ConnID)
	fmt.Fprintf(w, "body %d %x\n", len(body), sha(body))
	return nil
}

func sha(b []byte) []byte {
	var s uint64
	for i, c := range b {
		s = s*31 + uint64(c) + uint64(i)
	}
	return binary.BigEndian.AppendUint64(nil, s)
}

func (echoPlugin) Fixup(r *sdk.PhaseRequest) error {
	r.Set(sdk.TableNotes, "seen", r.Method+" "+r.URI+" "+r.Header.Get("X-A")+" "+r.Option("o"))
	if r.TLS != nil {
		r.Set(sdk.TableNotes, "tls", r.TLS.Protocol+" "+r.TLS.SNI)
	}
	return nil
}

func leanTestRequest(via string, bodyLen int) *sdk.Request {
	var body io.Reader
	if bodyLen > 0 {
		body = &pattern{n: int64(bodyLen)}
	}
	r := sdktest.NewRequest("POST", "/echo?a=1", body)
	r.Header.Set("X-Via", via)
	r.Header.Set("X-A", "a")
	r.Header.Add("X-B", "b1")
	r.Header.Add("X-B", "b2")
	r.ContentLength = int64(bodyLen)
	return r
}

func TestLeanPathSameAnswers(t *testing.T) {
	ccs := bothClients(t, echoPlugin{})
	answers := map[string]string{}
	for name, cc := range ccs {
		c := pb.NewGoBridgeClient(cc)
		var sb strings.Builder
		for _, n := range []int{0, 10, wire.MaxFirstBody + 1, 3*wire.MaxChunk + 5} {
			rec := sdktest.Do(t, cc, leanTestRequest(name, n))
			fmt.Fprintf(&sb, "%d %v %q %v\n", rec.Code, rec.Header, rec.Body.String(), rec.Err)
		}
		// A phase with every field of the snapshot set.
		w := wire.Request{
			Method: "POST", Protocol: "HTTP/1.1", TheRequest: "POST /echo?a=1 HTTP/1.1", UnparsedURI: "/echo?a=1",
			URI: "/echo", Args: "a=1", Hostname: "example.com", Scheme: "http", Handler: "gobridge",
			Plugin: "sdktest", LogID: "sdktest", RemoteIP: "192.0.2.1", RemotePort: 1234, UseragentIP: "192.0.2.1",
			LocalIP: "192.0.2.2", LocalPort: 80, ServerName: "example.com", ServerPort: 80,
			Headers: []wire.Pair{{Key: "Host", Value: "example.com"}, {Key: "X-Via", Value: name}, {Key: "X-B", Value: "b1"}, {Key: "X-B", Value: "b2"}},
			TLS:     &wire.TLS{Protocol: "TLSv1.3", SNI: "example.com"},
			Options: []wire.Pair{{Key: "o", Value: "ov"}},
		}
		resp, err := c.Phase(t.Context(), &pb.PhaseRequest{Phase: pb.Phase_PHASE_FIXUPS, Request: wire.EncodeRequest(w)})
		b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(resp)
		fmt.Fprintf(&sb, "phase %x %v\n", b, err)
		_, err = c.Phase(t.Context(), &pb.PhaseRequest{Phase: pb.Phase_PHASE_ACCESS, Request: wire.EncodeRequest(w)})
		fmt.Fprintf(&sb, "unimplemented %v\n", status.Code(err))
		answers[name] = sb.String()
	}
	if answers["lean"] != answers["grpc-go"] {
		t.Errorf("lean server answered\n%s\ngrpc-go's\n%s", answers["lean"], answers["grpc-go"])
	}
	if !strings.Contains(answers["lean"], "7365656e") || !strings.Contains(answers["lean"], "body 786437") { // 7365656e: "seen"
		t.Errorf("answers miss what the plugin saw:\n%s", answers["lean"])
	}
	for via, want := range map[string]string{"lean": "leangrpc", "grpc-go": "transport"} {
		if got, _ := transports.Load(via); !strings.Contains(fmt.Sprint(got), want) {
			t.Errorf("the %s client was served by %v", via, got)
		}
	}
}

// rawCodec sends bytes as they are, to send what no proto.Marshal makes.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return v.([]byte), nil }
func (rawCodec) Unmarshal(b []byte, v any) error {
	return proto.Unmarshal(b, v.(proto.Message))
}
func (rawCodec) Name() string { return "proto" }

func TestLeanPathMalformed(t *testing.T) {
	for name, cc := range bothClients(t, echoPlugin{}) {
		t.Run(name, func(t *testing.T) {
			bad := []byte{0x12, 0x03, 0x0a, 0x05, 'G'} // a request whose method overruns it
			err := cc.Invoke(t.Context(), "/gobridge.v1.GoBridge/Phase", bad, new(pb.PhaseResponse), grpc.ForceCodec(rawCodec{}))
			if status.Code(err) != codes.Internal {
				t.Errorf("Phase with malformed bytes: %v; want Internal", err)
			}
			st, err := cc.NewStream(t.Context(), &grpc.StreamDesc{ClientStreams: true, ServerStreams: true},
				"/gobridge.v1.GoBridge/Handle", grpc.ForceCodec(rawCodec{}))
			if err != nil {
				t.Fatal(err)
			}
			if err := st.SendMsg([]byte{0x0a, 0x03, 0x0a, 0x05, 'G'}); err != nil {
				t.Fatal(err)
			}
			if err := st.RecvMsg(new(pb.HandleResponse)); status.Code(err) != codes.Internal {
				t.Errorf("Handle with malformed bytes: %v; want Internal", err)
			}
			st, err = cc.NewStream(t.Context(), &grpc.StreamDesc{ClientStreams: true, ServerStreams: true},
				"/gobridge.v1.GoBridge/Handle", grpc.ForceCodec(rawCodec{}))
			if err != nil {
				t.Fatal(err)
			}
			if err := st.SendMsg(bytes.Clone([]byte{0x18, 0x01})); err != nil { // body_eof, no request
				t.Fatal(err)
			}
			if err := st.RecvMsg(new(pb.HandleResponse)); status.Code(err) != codes.InvalidArgument {
				t.Errorf("Handle without a request: %v; want InvalidArgument", err)
			}
		})
	}
}
