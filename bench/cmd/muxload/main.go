// Command muxload measures what carrying several calls on one connection
// would save a plugin: the question behind the "fewer wake-ups per call"
// step in bench/README.md. It loads a running plugin's socket with content
// handler calls, as mod_gobridge sends them (HTTP/2 with the lean-server
// setting, HEADERS and DATA in one write), from W callers spread over C
// connections, and reports per call the plugin's CPU time, its context
// switches and its read system calls (from /proc/PID/io: those that find
// nothing included). W callers over W connections is how httpd calls a
// plugin today (one call in flight per connection); fewer connections with
// several callers each is the multiplexed design.
//
//	muxload -socket /path/noop.sock -pid PID [-callers 32] [-conns 32,2,1] [-work 80us] [-d 5s]
//
// Only the plugin's side is measured: the client is this Go program, not
// httpd, so its own CPU says nothing about the module's.
package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/protobuf/proto"

	"github.com/gobridge/gobridge/bench/internal/procfs"
	pb "github.com/gobridge/gobridge/proto/gobridge/v1"
)

// settingLean is leangrpc.SettingLean, the setting by which mod_gobridge
// asks the plugin for its lean server.
const settingLean http2.SettingID = 0xf0b1

func main() {
	socket := flag.String("socket", "", "the plugin's unix socket")
	pid := flag.Int("pid", 0, "the plugin's process id (for its CPU time)")
	callers := flag.Int("callers", 32, "calls in flight at once")
	connList := flag.String("conns", "32,2,1", "connection counts to compare, comma-separated")
	dur := flag.Duration("d", 5*time.Second, "load time per row")
	rounds := flag.Int("rounds", 2, "times each row runs, alternating")
	work := flag.Duration("work", 0, "CPU each caller burns between calls (httpd's own work per request)")
	flag.Parse()
	if *socket == "" || *pid == 0 {
		fmt.Fprintln(os.Stderr, "muxload: -socket and -pid are required")
		os.Exit(2)
	}
	body := callBody()
	fmt.Printf("%-28s %10s %14s %14s %14s\n", "callers / connections", "calls/s", "plugin µs/call", "switches/call", "reads/call")
	for r := 0; r < *rounds; r++ {
		for _, f := range strings.Split(*connList, ",") {
			conns, err := strconv.Atoi(f)
			if err != nil || conns < 1 || conns > *callers {
				fatal(fmt.Errorf("bad connection count %q", f))
			}
			row, err := run(*socket, *pid, *callers, conns, *work, *dur, body)
			if err != nil {
				fatal(err)
			}
			fmt.Printf("%-28s %10.0f %14.1f %14.2f %14.2f\n",
				fmt.Sprintf("%d / %d", *callers, conns), row.rate, row.cpuPerCall, row.switchesPerCall, row.readsPerCall)
		}
	}
}

// callBody is the gRPC message of a content-handler call for GET /gb.
func callBody() []byte {
	m := &pb.HandleRequest{
		Request: &pb.Request{
			Method: []byte("GET"), Protocol: []byte("HTTP/1.1"), TheRequest: []byte("GET /gb HTTP/1.1"),
			UnparsedUri: []byte("/gb"), Uri: []byte("/gb"), Hostname: []byte("127.0.0.1"),
			HeadersIn: []*pb.Pair{{Key: []byte("Host"), Value: []byte("127.0.0.1:18090")}},
			Handler:   []byte("gobridge"), ContentLength: 0, Plugin: []byte("noop"), Scheme: []byte("http"),
			RequestTimeUs: time.Now().UnixMicro(),
		},
		BodyEof: true,
	}
	b, err := proto.Marshal(m)
	if err != nil {
		fatal(err)
	}
	msg := make([]byte, 5+len(b))
	binary.BigEndian.PutUint32(msg[1:], uint32(len(b)))
	copy(msg[5:], b)
	return msg
}

type result struct{ rate, cpuPerCall, switchesPerCall, readsPerCall float64 }

func run(socket string, pid, callers, conns int, work, d time.Duration, body []byte) (result, error) {
	cs := make([]*client, conns)
	for i := range cs {
		c, err := dial(socket, body)
		if err != nil {
			return result{}, err
		}
		defer c.nc.Close()
		cs[i] = c
	}
	var calls atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var failed atomic.Pointer[error]
	for i := 0; i < callers; i++ {
		wg.Add(1)
		go func(c *client) {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := c.call(); err != nil {
					failed.CompareAndSwap(nil, &err)
					return
				}
				calls.Add(1)
				if work > 0 {
					spin(work)
				}
			}
		}(cs[i%conns])
	}
	time.Sleep(d / 5) // warm-up
	cpu0, sw0, reads0 := procStat(pid)
	n0, t0 := calls.Load(), time.Now()
	time.Sleep(d)
	n1, t1 := calls.Load(), time.Now()
	cpu1, sw1, reads1 := procStat(pid)
	close(stop)
	wg.Wait()
	if err := failed.Load(); err != nil {
		return result{}, *err
	}
	if n1 == n0 {
		return result{}, fmt.Errorf("no call completed in %v", d)
	}
	n := float64(n1 - n0)
	return result{
		rate:            n / t1.Sub(t0).Seconds(),
		cpuPerCall:      float64(cpu1-cpu0) / n / 1e3,
		switchesPerCall: float64(sw1-sw0) / n,
		readsPerCall:    float64(reads1-reads0) / n,
	}, nil
}

// spin burns CPU for d, as httpd's own work on a request would.
func spin(d time.Duration) {
	for end := time.Now().Add(d); time.Now().Before(end); {
	}
}

// client is one connection carrying the calls of several callers.
type client struct {
	nc   net.Conn
	body []byte

	wmu    sync.Mutex
	wbuf   bytes.Buffer
	hbuf   bytes.Buffer
	henc   *hpack.Encoder
	nextID uint32
	fr     *http2.Framer

	mu      sync.Mutex
	waiting map[uint32]chan error
	err     error // the connection failed: every call after it fails too
}

func dial(socket string, body []byte) (*client, error) {
	nc, err := net.Dial("unix", socket)
	if err != nil {
		return nil, err
	}
	c := &client{nc: nc, body: body, nextID: 1, waiting: map[uint32]chan error{}}
	c.henc = hpack.NewEncoder(&c.hbuf)
	c.fr = http2.NewFramer(&c.wbuf, nil)
	c.wbuf.WriteString(http2.ClientPreface)
	_ = c.fr.WriteSettings(http2.Setting{ID: settingLean, Val: 1}, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 24})
	_ = c.fr.WriteWindowUpdate(0, 1<<30)
	if _, err := nc.Write(c.wbuf.Bytes()); err != nil {
		return nil, err
	}
	c.wbuf.Reset()
	go c.readLoop()
	return c, nil
}

// call sends one call and waits for its trailers.
func (c *client) call() error {
	done := make(chan error, 1)
	c.wmu.Lock()
	id := c.nextID
	c.nextID += 2
	c.hbuf.Reset()
	for _, hf := range [][2]string{
		{":method", "POST"}, {":scheme", "http"}, {":path", "/gobridge.v1.GoBridge/Handle"},
		{":authority", "localhost"}, {"content-type", "application/grpc"}, {"te", "trailers"},
	} {
		_ = c.henc.WriteField(hpack.HeaderField{Name: hf[0], Value: hf[1]})
	}
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		c.wmu.Unlock()
		return c.err
	}
	c.waiting[id] = done
	c.mu.Unlock()
	_ = c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: c.hbuf.Bytes(), EndHeaders: true})
	_ = c.fr.WriteData(id, true, c.body)
	_, err := c.nc.Write(c.wbuf.Bytes())
	c.wbuf.Reset()
	c.wmu.Unlock()
	if err != nil {
		return err
	}
	return <-done
}

func (c *client) readLoop() {
	fr := http2.NewFramer(nil, bufio.NewReaderSize(c.nc, 64<<10))
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	unacked := 0 // answer bytes not yet given back to the connection window
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			c.failAll(err)
			return
		}
		switch f := f.(type) {
		case *http2.DataFrame:
			// Stream windows (16 MiB each) outlast any answer; the
			// connection's is topped up as answers use it.
			if unacked += int(f.Length); unacked >= 1<<20 {
				c.wmu.Lock()
				_ = c.fr.WriteWindowUpdate(0, uint32(unacked))
				_, _ = c.nc.Write(c.wbuf.Bytes())
				c.wbuf.Reset()
				c.wmu.Unlock()
				unacked = 0
			}
		case *http2.SettingsFrame:
			if !f.IsAck() {
				c.wmu.Lock()
				_ = c.fr.WriteSettingsAck()
				_, _ = c.nc.Write(c.wbuf.Bytes())
				c.wbuf.Reset()
				c.wmu.Unlock()
			}
		case *http2.MetaHeadersFrame:
			if f.StreamEnded() {
				var err error
				if s := f.PseudoValue("status"); s != "" && s != "200" {
					err = fmt.Errorf("stream %d: :status %s", f.StreamID, s)
				}
				for _, hf := range f.RegularFields() {
					if hf.Name == "grpc-status" && hf.Value != "0" {
						err = fmt.Errorf("stream %d: grpc-status %s", f.StreamID, hf.Value)
					}
				}
				c.finish(f.StreamID, err)
			}
		case *http2.RSTStreamFrame:
			c.finish(f.StreamID, fmt.Errorf("stream %d reset: %v", f.StreamID, f.ErrCode))
		case *http2.GoAwayFrame:
			c.failAll(fmt.Errorf("GOAWAY %v", f.ErrCode))
			return
		}
	}
}

func (c *client) finish(id uint32, err error) {
	c.mu.Lock()
	done := c.waiting[id]
	delete(c.waiting, id)
	c.mu.Unlock()
	if done != nil {
		done <- err
	}
}

func (c *client) failAll(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = err
	}
	for id, done := range c.waiting {
		done <- err
		delete(c.waiting, id)
	}
}

// procStat returns pid's CPU time (ns), its threads' context switches and
// its read system calls.
func procStat(pid int) (cpu, switches, reads int64) {
	st, ok := procfs.ReadStat(pid)
	if !ok {
		fatal(fmt.Errorf("cannot read /proc/%d/stat", pid))
	}
	reads, ok = procfs.Reads(pid)
	if !ok {
		fatal(fmt.Errorf("cannot read /proc/%d/io", pid))
	}
	return st.Self * int64(time.Second) / procfs.ClkTck, procfs.Switches(pid), reads
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "muxload:", err)
	os.Exit(1)
}
