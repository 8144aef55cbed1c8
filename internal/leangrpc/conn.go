package leangrpc

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

const (
	// Small: requests are a few hundred bytes, and reads of whole DATA
	// frames bypass the buffer. It is per connection, and httpd keeps
	// many open.
	readBufSize    = 16 << 10
	maxIdleWrite   = 128 << 10 // a write buffer grown past this is let go
	flushThreshold = 64 << 10  // write out at once past this much pending
	maxHeaderList  = 1 << 20
	maxStreams     = 1000 // advertised SETTINGS_MAX_CONCURRENT_STREAMS
)

var errConnClosed = status.Error(codes.Unavailable, "leangrpc: connection closed")

// conn is one HTTP/2 connection from a client.
//
// Lock order: c.wmu before c.mu; nothing takes c.wmu while holding c.mu.
type conn struct {
	srv *Server
	nc  net.Conn
	w   io.Writer       // nc's writes (quietIO)
	ctx context.Context // carries the peer; parent of every stream's context

	// rtok is the read token: a goroutine reads frames (br, fr) only while
	// it holds the one value in the channel.
	rtok chan struct{}
	br   *bufio.Reader
	fr   *http2.Framer
	hdec *hpack.Decoder
	hb   headerBlock

	mu           sync.Mutex
	streams      map[uint32]*stream
	maxID        uint32        // highest stream id the client opened
	sendWin      int64         // connection-level window for our DATA
	peerInitWin  int64         // client's SETTINGS_INITIAL_WINDOW_SIZE
	peerMaxFrame atomic.Uint32 // read by writers holding only c.wmu
	winWake      chan struct{} // closed and replaced when windows grow
	recvWin      int64         // connection-level window we granted, left
	recvUnacked  int64         // bytes consumed since our last WINDOW_UPDATE
	draining     bool          // GOAWAY sent
	prefaced     bool          // our SETTINGS is out: a GOAWAY may follow
	stopAsked    bool          // goAway came before the preface
	err          error         // the connection is dead
	wg           sync.WaitGroup

	wmu  sync.Mutex
	wbuf bytes.Buffer
	wfr  *http2.Framer
	henc *hpack.Encoder
	hbuf bytes.Buffer
}

func newConn(s *Server, nc net.Conn, info credentials.AuthInfo) *conn {
	c := &conn{
		srv:         s,
		nc:          nc,
		rtok:        make(chan struct{}, 1),
		streams:     map[uint32]*stream{},
		sendWin:     65535,
		peerInitWin: 65535,
		winWake:     make(chan struct{}),
		recvWin:     int64(s.opts.ConnWindowSize),
	}
	c.ctx = peer.NewContext(context.Background(), &peer.Peer{Addr: nc.RemoteAddr(), LocalAddr: nc.LocalAddr(), AuthInfo: info})
	rd, w := quietIO(nc)
	c.w = w
	c.br = bufio.NewReaderSize(rd, readBufSize)
	c.fr = http2.NewFramer(nil, c.br)
	c.fr.SetReuseFrames()
	c.hdec = hpack.NewDecoder(4096, c.onField)
	c.hdec.SetMaxStringLength(maxHeaderList)
	c.wfr = http2.NewFramer(&c.wbuf, nil)
	c.henc = hpack.NewEncoder(&c.hbuf)
	c.peerMaxFrame.Store(16384)
	c.rtok <- struct{}{}
	return c
}

// serve runs the connection: the prefaces, then frames until it ends. The
// goroutine calling it reads whenever no stream's goroutine does, and runs
// a stream's handler itself when that stream is the only one.
func (c *conn) serve() {
	defer func() {
		c.wg.Wait() // streams run on their own goroutines end first
		c.nc.Close()
	}()
	// Our preface goes first, without waiting for the client's (RFC 9113
	// §3.4 allows it): a stop that comes while the client is silent can
	// then be said at once, and GracefulStop does not wait on a client
	// that never speaks.
	c.wmu.Lock()
	c.wfr.WriteSettings(
		http2.Setting{ID: http2.SettingInitialWindowSize, Val: uint32(c.srv.opts.InitialWindowSize)},
		http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: maxStreams},
		http2.Setting{ID: http2.SettingMaxHeaderListSize, Val: maxHeaderList},
	)
	if extra := c.srv.opts.ConnWindowSize - 65535; extra > 0 {
		c.wfr.WriteWindowUpdate(0, uint32(extra))
	}
	c.wmu.Unlock()
	if err := c.flush(); err != nil {
		return
	}
	c.mu.Lock()
	c.prefaced = true
	stop := c.stopAsked
	c.mu.Unlock()
	if stop {
		c.goAway()
	}
	buf := make([]byte, len(clientPreface))
	if _, err := io.ReadFull(c.br, buf); err != nil || string(buf) != clientPreface {
		c.fail(errors.New("leangrpc: no HTTP/2 client preface"))
		return
	}
	for {
		<-c.rtok
		st, err := c.readFrame(true)
		c.rtok <- struct{}{}
		if err != nil {
			return
		}
		if st != nil {
			c.runStream(st)
		}
	}
}

// readFrame reads one frame and acts on it; the caller holds the read
// token. A new stream is returned for the caller to run when free (the
// caller has nothing else to do) and no other stream is open; otherwise it
// gets a goroutine of its own. A non-nil error means the connection is
// dead (c.err is set and every stream woken).
func (c *conn) readFrame(free bool) (*stream, error) {
	c.mu.Lock()
	err := c.err
	c.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if c.br.Buffered() == 0 {
		// About to block: whatever we owe the client goes out first.
		if err := c.flush(); err != nil {
			return nil, err
		}
	}
	f, err := c.fr.ReadFrame()
	if hf, ok := f.(*http2.HeadersFrame); ok && err == nil {
		fields, herr := c.readHeaderBlock(hf)
		if herr == nil {
			return c.onHeaders(hf.StreamID, hf.StreamEnded(), fields, free)
		}
		err = herr
	}
	if err != nil {
		var se http2.StreamError
		if errors.As(err, &se) {
			c.resetStream(se.StreamID, se.Code)
			return nil, nil
		}
		var ce http2.ConnectionError
		if errors.As(err, &ce) {
			c.protocolError(http2.ErrCode(ce), err)
			return nil, err
		}
		c.fail(err)
		return nil, err
	}
	switch f := f.(type) {
	case *http2.DataFrame:
		return nil, c.onData(f)
	case *http2.RSTStreamFrame:
		c.onReset(f)
	case *http2.SettingsFrame:
		return nil, c.onSettings(f)
	case *http2.PingFrame:
		if !f.IsAck() {
			c.wmu.Lock()
			c.wfr.WritePing(true, f.Data)
			c.wmu.Unlock()
		}
	case *http2.WindowUpdateFrame:
		return nil, c.onWindowUpdate(f)
	case *http2.GoAwayFrame:
		// The client stops opening streams; those open finish.
	case *http2.PushPromiseFrame:
		err := errors.New("leangrpc: PUSH_PROMISE from a client")
		c.protocolError(http2.ErrCodeProtocol, err)
		return nil, err
	}
	return nil, nil
}

func (c *conn) onHeaders(id uint32, ended bool, fields []hpack.HeaderField, free bool) (*stream, error) {
	c.mu.Lock()
	if st := c.streams[id]; st != nil {
		// Trailers from the client: only END_STREAM matters to gRPC.
		if ended {
			st.recvClosed = true
			st.wakeLocked()
		}
		c.mu.Unlock()
		return nil, nil
	}
	if id%2 == 0 || id <= c.maxID {
		c.mu.Unlock()
		err := errors.New("leangrpc: HEADERS on a stream id the client cannot open")
		c.protocolError(http2.ErrCodeProtocol, err)
		return nil, err
	}
	c.maxID = id
	if c.draining || len(c.streams) >= maxStreams {
		c.mu.Unlock()
		c.resetStream(id, http2.ErrCodeRefusedStream)
		return nil, nil
	}
	st := newStream(c, id, ended, fields)
	alone := len(c.streams) == 0
	c.streams[id] = st
	c.mu.Unlock()

	if st.early != nil {
		// Refused before a handler sees it: answered at once.
		c.endStream(st, st.early)
		return nil, nil
	}
	if free && alone {
		return st, nil
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.runStream(st)
	}()
	return nil, nil
}

func (c *conn) onData(f *http2.DataFrame) error {
	n := int64(f.Length)
	c.mu.Lock()
	c.recvWin -= n
	if c.recvWin < 0 {
		c.mu.Unlock()
		err := errors.New("leangrpc: client overran the connection window")
		c.protocolError(http2.ErrCodeFlowControl, err)
		return err
	}
	st := c.streams[f.StreamID]
	if st == nil || st.recvClosed {
		// A stream we ended or reset: its bytes still count against the
		// connection window, which we give back at once.
		wu := c.consumedLocked(n)
		c.mu.Unlock()
		c.queueWindowUpdates(0, 0, wu)
		if st != nil {
			c.resetStream(f.StreamID, http2.ErrCodeStreamClosed)
		}
		return nil
	}
	st.recvWin -= n
	if st.recvWin < 0 {
		c.mu.Unlock()
		c.resetStream(f.StreamID, http2.ErrCodeFlowControl)
		return nil
	}
	// Padding is consumed at once; the data when its message is read
	// (or when it is thrown away).
	discarded := st.addData(f.Data()) + n - int64(len(f.Data()))
	if f.StreamEnded() {
		st.recvClosed = true
	}
	sinc, cinc := st.consumedLocked(discarded)
	st.wakeLocked()
	c.mu.Unlock()
	c.queueWindowUpdates(f.StreamID, sinc, cinc)
	return nil
}

func (c *conn) onReset(f *http2.RSTStreamFrame) {
	c.mu.Lock()
	st := c.streams[f.StreamID]
	if st != nil {
		st.reset = true
		st.cancelLocked(status.Error(codes.Canceled, "leangrpc: the client cancelled the call"))
	}
	c.mu.Unlock()
}

func (c *conn) onSettings(f *http2.SettingsFrame) error {
	if f.IsAck() {
		return nil
	}
	tableSize := int64(-1)
	c.mu.Lock()
	f.ForeachSetting(func(s http2.Setting) error {
		switch s.ID {
		case http2.SettingInitialWindowSize:
			delta := int64(s.Val) - c.peerInitWin
			c.peerInitWin = int64(s.Val)
			for _, st := range c.streams {
				st.sendWin += delta
			}
		case http2.SettingMaxFrameSize:
			c.peerMaxFrame.Store(s.Val)
		case http2.SettingHeaderTableSize:
			tableSize = int64(s.Val)
		}
		return nil
	})
	c.windowsGrewLocked()
	c.mu.Unlock()
	c.wmu.Lock()
	if tableSize >= 0 {
		c.henc.SetMaxDynamicTableSizeLimit(uint32(tableSize))
	}
	err := c.wfr.WriteSettingsAck()
	c.wmu.Unlock()
	return err
}

func (c *conn) onWindowUpdate(f *http2.WindowUpdateFrame) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f.StreamID == 0 {
		c.sendWin += int64(f.Increment)
	} else if st := c.streams[f.StreamID]; st != nil {
		st.sendWin += int64(f.Increment)
	}
	c.windowsGrewLocked()
	return nil
}

// windowsGrewLocked wakes every goroutine waiting for send window.
func (c *conn) windowsGrewLocked() {
	close(c.winWake)
	c.winWake = make(chan struct{})
}

// consumedLocked records n bytes of the connection window as consumed and
// returns the WINDOW_UPDATE increment due now (0: not yet).
func (c *conn) consumedLocked(n int64) uint32 {
	c.recvUnacked += n
	if c.recvUnacked < int64(c.srv.opts.ConnWindowSize)/4 {
		return 0
	}
	inc := c.recvUnacked
	c.recvUnacked = 0
	c.recvWin += inc
	return uint32(inc)
}

// queueWindowUpdates queues WINDOW_UPDATEs for a stream and for the
// connection (zero increments are skipped); they go out with the next
// write, at the latest before the next blocking read.
func (c *conn) queueWindowUpdates(streamID, streamInc, connInc uint32) {
	if streamInc == 0 && connInc == 0 {
		return
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if streamInc > 0 {
		c.wfr.WriteWindowUpdate(streamID, streamInc)
	}
	if connInc > 0 {
		c.wfr.WriteWindowUpdate(0, connInc)
	}
}

// await waits, reading frames itself when nobody else does, until ready
// (called with c.mu held) returns true, or wake fires. It returns early
// with the connection's error.
func (c *conn) await(st *stream, ready func() bool, winWait bool) error {
	for {
		c.mu.Lock()
		st.expireLocked()
		if ready() {
			c.mu.Unlock()
			return nil
		}
		if c.err != nil {
			c.mu.Unlock()
			return errConnClosed
		}
		var win chan struct{}
		if winWait {
			win = c.winWake
		}
		wake := st.wake
		if wake != nil {
			st.armLocked() // the select below may block
		}
		c.mu.Unlock()
		if wake == nil {
			// Most calls find the read token free (their stream runs on the
			// reading goroutine) and what they wait for in the buffered
			// bytes: they never need st.wake, which is made only when
			// another goroutine reads.
			select {
			case <-c.rtok:
				err := c.readFrameFor(st)
				c.rtok <- struct{}{}
				if err != nil {
					return errConnClosed
				}
				continue
			default:
			}
			c.mu.Lock()
			st.wake = make(chan struct{}, 1)
			c.mu.Unlock()
			continue // look again: a wake-up before the channel existed was dropped
		}
		select {
		case <-wake:
		case <-win:
		case <-c.rtok:
			err := c.readFrameFor(st)
			c.rtok <- struct{}{}
			if err != nil {
				return errConnClosed
			}
		}
	}
}

// readFrameFor reads a frame on behalf of st, which waits for it; the
// caller holds the read token. A frame already buffered is read at once
// (the module sends a call's HEADERS and DATA in one write); only a read
// that may block arms st's deadline first.
func (c *conn) readFrameFor(st *stream) error {
	if c.br.Buffered() == 0 {
		c.mu.Lock()
		st.armLocked()
		c.mu.Unlock()
	}
	_, err := c.readFrame(false)
	return err
}

// resetStream sends RST_STREAM for id and forgets its stream.
func (c *conn) resetStream(id uint32, code http2.ErrCode) {
	c.mu.Lock()
	if st := c.streams[id]; st != nil {
		st.reset = true
		st.cancelLocked(status.Error(codes.Canceled, "leangrpc: stream reset"))
	}
	c.mu.Unlock()
	c.wmu.Lock()
	c.wfr.WriteRSTStream(id, code)
	c.wmu.Unlock()
}

// protocolError ends the connection with GOAWAY code.
func (c *conn) protocolError(code http2.ErrCode, err error) {
	c.mu.Lock()
	last := c.maxID
	c.mu.Unlock()
	c.wmu.Lock()
	c.wfr.WriteGoAway(last, code, []byte(err.Error()))
	c.wmu.Unlock()
	c.flush()
	c.fail(err)
}

// fail marks the connection dead, cancels and wakes every stream and
// closes the socket (which unblocks a reader).
func (c *conn) fail(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
		for _, st := range c.streams {
			st.cancelLocked(errConnClosed)
		}
		c.windowsGrewLocked()
	}
	c.mu.Unlock()
	c.nc.Close()
}

// goAway stops new streams (GOAWAY NO_ERROR) and closes the connection
// once the open ones have ended.
func (c *conn) goAway() {
	c.mu.Lock()
	if c.draining || c.err != nil {
		c.mu.Unlock()
		return
	}
	if !c.prefaced {
		// A server's first frame must be SETTINGS (RFC 9113 §3.4): a
		// GOAWAY ahead of it is a protocol error to the client, which then
		// cannot tell that its call was never taken and so may not send it
		// again. serve sends the GOAWAY right after its SETTINGS.
		c.stopAsked = true
		c.mu.Unlock()
		return
	}
	c.draining = true
	last, idle := c.maxID, len(c.streams) == 0
	c.mu.Unlock()
	c.wmu.Lock()
	c.wfr.WriteGoAway(last, http2.ErrCodeNo, nil)
	c.wmu.Unlock()
	c.flush()
	if idle {
		c.fail(errors.New("leangrpc: server stopped"))
	}
}

// flush writes out everything queued.
func (c *conn) flush() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.flushLocked()
}

func (c *conn) flushLocked() error {
	if c.wbuf.Len() == 0 {
		return nil
	}
	_, err := c.w.Write(c.wbuf.Bytes())
	if c.wbuf.Cap() > maxIdleWrite {
		c.wbuf = bytes.Buffer{} // after a download: do not keep its peak
	} else {
		c.wbuf.Reset()
	}
	if err != nil {
		c.fail(err)
		return errConnClosed
	}
	return nil
}

// writeHeaderBlock queues a HEADERS frame (and CONTINUATIONs) for the
// fields in c.hbuf; c.wmu is held.
func (c *conn) writeHeaderBlock(id uint32, end bool) {
	block := c.hbuf.Bytes()
	max := int(c.peerMaxFrame.Load())
	first := true
	for len(block) > 0 || first {
		n := min(len(block), max)
		frag := block[:n]
		block = block[n:]
		if first {
			c.wfr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: frag, EndStream: end, EndHeaders: len(block) == 0})
			first = false
		} else {
			c.wfr.WriteContinuation(id, len(block) == 0, frag)
		}
	}
	c.hbuf.Reset()
}
