package leangrpc

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// stream is one call. It is its own context.Context (the parent of
// st.ctx, what handlers see) and its own grpc.ServerStream.
type stream struct {
	c     *conn
	id    uint32
	path  string
	m     *method
	ctx   context.Context
	early error // answer without running a handler (unknown method, …)
	ts    transportStream

	deadline time.Time // zero: none

	// Guarded by c.mu.
	timer      *time.Timer // armed when the call first waits (armLocked)
	msgs       [][]byte    // complete messages not yet read
	msgs1      [1][]byte   // msgs' first backing array: most calls have one message
	hdr        [5]byte     // the message prefix being collected
	hdrN       int
	partial    []byte // the message being collected (cap = its length)
	recvErr    error  // a message we refused; later bytes are dropped
	recvClosed bool   // the client's END_STREAM arrived
	reset      bool   // RST_STREAM either way: write nothing more
	ended      bool
	recvWin    int64 // stream window we granted, left
	pendingWU  int64 // consumed bytes not yet given back
	sendWin    int64
	cerr       error // why the call ended: a status error; nil while live
	ctxErr     error // context.Canceled or DeadlineExceeded once cerr is set
	done       chan struct{}
	wake       chan struct{} // capacity 1: "look again"; made by the first await that blocks

	// Guarded by c.wmu.
	header, trailer metadata.MD
	headerSent      bool
}

func newStream(c *conn, id uint32, ended bool, fields []hpack.HeaderField) *stream {
	st := &stream{
		c:       c,
		id:      id,
		recvWin: int64(c.srv.opts.InitialWindowSize),
		sendWin: c.peerInitWin,
	}
	st.ts.st = st
	st.recvClosed = ended
	var md metadata.MD
	for _, hf := range fields {
		switch hf.Name {
		case ":path":
			st.path = hf.Value
		case ":method", ":scheme", ":authority", "te", "user-agent", "grpc-accept-encoding", "grpc-message-type":
		case "content-type":
			if !strings.HasPrefix(hf.Value, "application/grpc") ||
				(len(hf.Value) > 16 && hf.Value[16:] != "+proto" && hf.Value[16] != ';') {
				st.early = status.Errorf(codes.Unimplemented, "leangrpc: content-type %q is not gRPC with protobuf", hf.Value)
			}
		case "grpc-encoding":
			if hf.Value != "identity" {
				st.early = status.Errorf(codes.Unimplemented, "leangrpc: compression %q is not supported", hf.Value)
			}
		case "grpc-timeout":
			d, ok := parseTimeout(hf.Value)
			if !ok {
				st.early = status.Errorf(codes.Internal, "leangrpc: malformed grpc-timeout %q", hf.Value)
			} else {
				st.deadline = time.Now().Add(d)
			}
		default:
			if strings.HasPrefix(hf.Name, ":") {
				continue
			}
			v := hf.Value
			if strings.HasSuffix(hf.Name, "-bin") {
				b, err := decodeBin(v)
				if err != nil {
					st.early = status.Errorf(codes.Internal, "leangrpc: malformed binary header %q", hf.Name)
					continue
				}
				v = string(b)
			}
			if md == nil {
				md = metadata.MD{}
			}
			md[hf.Name] = append(md[hf.Name], v)
		}
	}
	if st.m = c.srv.methods[st.path]; st.m == nil && st.early == nil {
		st.early = status.Errorf(codes.Unimplemented, "unknown method %s", st.path)
	}
	var ctx context.Context = st
	if md != nil {
		ctx = metadata.NewIncomingContext(ctx, md)
	}
	st.ctx = grpc.NewContextWithServerTransportStream(ctx, &st.ts)
	return st
}

// errDeadline ends a call whose grpc-timeout ran out.
var errDeadline = status.Error(codes.DeadlineExceeded, context.DeadlineExceeded.Error())

// expireLocked ends st's context if its deadline has passed; c.mu is held.
// The deadline is checked where the call looks at its state, and a timer
// is armed only when it waits (armLocked): most calls end long before
// their deadline, and setting a timer per call wakes the Go runtime's
// poller on another thread (bench/README.md).
func (st *stream) expireLocked() {
	if st.cerr == nil && !st.deadline.IsZero() && !time.Now().Before(st.deadline) {
		st.cancelLocked(errDeadline)
	}
}

// armLocked starts the timer that ends st's context at its deadline,
// once, before st waits for something; c.mu is held.
func (st *stream) armLocked() {
	if st.timer != nil || st.deadline.IsZero() || st.cerr != nil {
		return
	}
	c := st.c
	st.timer = time.AfterFunc(time.Until(st.deadline), func() {
		c.mu.Lock()
		st.cancelLocked(errDeadline)
		c.mu.Unlock()
	})
}

// runStream runs st's handler and ends the call with its result.
func (c *conn) runStream(st *stream) {
	m := st.m
	var err error
	if m.unary != nil {
		var resp any
		resp, err = m.unary.Handler(m.impl, st.ctx, st.RecvMsg, nil)
		if err == nil {
			err = st.send(resp, false)
		}
	} else {
		err = m.stream.Handler(m.impl, st)
	}
	c.endStream(st, err)
}

// endStream writes the status in trailers (after a RST_STREAM nothing),
// then forgets st.
func (c *conn) endStream(st *stream, err error) {
	c.mu.Lock()
	skip := st.reset || c.err != nil
	recvClosed := st.recvClosed
	c.mu.Unlock()
	if !skip {
		c.wmu.Lock()
		if !st.headerSent {
			st.headerSent = true
			c.encodeHead(st.header)
		}
		if err == nil {
			c.encode("grpc-status", "0")
		} else {
			s := toStatus(err)
			c.encode("grpc-status", strconv.Itoa(int(s.Code())))
			if msg := s.Message(); msg != "" {
				c.encode("grpc-message", encodeGrpcMessage(msg))
			}
			if p := s.Proto(); len(p.Details) > 0 {
				if b, err := proto.Marshal(p); err == nil {
					c.encode("grpc-status-details-bin", base64.RawStdEncoding.EncodeToString(b))
				}
			}
		}
		c.encodeMD(st.trailer)
		c.writeHeaderBlock(st.id, true)
		if !recvClosed {
			// The answer is complete; the client need send nothing more.
			c.wfr.WriteRSTStream(st.id, http2.ErrCodeNo)
		}
		c.flushLocked()
		c.wmu.Unlock()
	}
	c.mu.Lock()
	if st.timer != nil {
		st.timer.Stop()
	}
	unread := st.pendingWU
	for _, b := range st.msgs {
		unread += int64(len(b)) + 5
	}
	unread += int64(st.hdrN + len(st.partial))
	st.msgs, st.msgs1[0], st.partial, st.pendingWU = nil, nil, nil, 0
	cinc := c.consumedLocked(unread)
	st.ended = true
	st.cancelLocked(errCallOver)
	delete(c.streams, st.id)
	closeNow := c.draining && len(c.streams) == 0
	c.mu.Unlock()
	c.queueWindowUpdates(0, 0, cinc)
	if closeNow {
		c.flush()
		c.fail(errors.New("leangrpc: server stopped"))
	}
}

// encodeHead encodes response headers into c.hbuf; c.wmu is held.
func (c *conn) encodeHead(md metadata.MD) {
	c.encode(":status", "200")
	c.encode("content-type", "application/grpc")
	c.encodeMD(md)
}

func (c *conn) encodeMD(md metadata.MD) {
	for k, vs := range md {
		if isReserved(k) {
			continue
		}
		for _, v := range vs {
			if strings.HasSuffix(k, "-bin") {
				v = base64.RawStdEncoding.EncodeToString([]byte(v))
			}
			c.encode(k, v)
		}
	}
}

func (c *conn) encode(name, value string) {
	c.henc.WriteField(hpackField(name, value))
}

// addData appends a DATA payload to the messages being collected and
// returns how many of its bytes were thrown away; c.mu is held.
func (st *stream) addData(p []byte) (discarded int64) {
	max := st.c.srv.opts.MaxRecvMsgSize
	for len(p) > 0 {
		if st.recvErr != nil {
			return discarded + int64(len(p))
		}
		if st.partial == nil {
			n := copy(st.hdr[st.hdrN:], p)
			st.hdrN += n
			p = p[n:]
			if st.hdrN < 5 {
				return discarded
			}
			size := int(st.hdr[1])<<24 | int(st.hdr[2])<<16 | int(st.hdr[3])<<8 | int(st.hdr[4])
			switch {
			case st.hdr[0] != 0:
				st.recvErr = status.Error(codes.Unimplemented, "leangrpc: compressed messages are not supported")
			case size > max:
				st.recvErr = status.Errorf(codes.ResourceExhausted, "grpc: received message larger than max (%d vs. %d)", size, max)
			}
			st.hdrN = 0
			if st.recvErr != nil {
				discarded += 5
				st.cancelLocked(st.recvErr)
				continue
			}
			st.partial = make([]byte, 0, size)
		}
		n := min(len(p), cap(st.partial)-len(st.partial))
		st.partial = append(st.partial, p[:n]...)
		p = p[n:]
		if len(st.partial) == cap(st.partial) {
			if st.msgs == nil {
				st.msgs = st.msgs1[:0]
			}
			st.msgs = append(st.msgs, st.partial)
			st.partial = nil
		}
	}
	return discarded
}

// consumedLocked gives n consumed bytes back to the stream and the
// connection windows, returning the increments due now.
func (st *stream) consumedLocked(n int64) (streamInc, connInc uint32) {
	if n == 0 {
		return 0, 0
	}
	connInc = st.c.consumedLocked(n)
	st.pendingWU += n
	if !st.recvClosed && st.pendingWU >= int64(st.c.srv.opts.InitialWindowSize)/4 {
		streamInc = uint32(st.pendingWU)
		st.recvWin += st.pendingWU
		st.pendingWU = 0
	}
	return streamInc, connInc
}

// wakeLocked tells st's goroutine to look again.
func (st *stream) wakeLocked() {
	select {
	case st.wake <- struct{}{}:
	default:
	}
}

// cancelLocked ends st's context with err (a status error), once.
func (st *stream) cancelLocked(err error) {
	if st.cerr != nil {
		return
	}
	st.cerr = err
	st.ctxErr = context.Canceled
	if status.Code(err) == codes.DeadlineExceeded {
		st.ctxErr = context.DeadlineExceeded
	}
	if st.done != nil {
		close(st.done)
	}
	st.wakeLocked()
}

// context.Context

func (st *stream) Deadline() (time.Time, bool) { return st.deadline, !st.deadline.IsZero() }

// Done starts a reader for the stream when it first asks: a handler
// waiting on its context must learn of a cancel even if no other
// goroutine reads the connection.
func (st *stream) Done() <-chan struct{} {
	c := st.c
	c.mu.Lock()
	defer c.mu.Unlock()
	st.expireLocked()
	if st.done == nil {
		st.done = make(chan struct{})
		st.armLocked()
		if st.cerr != nil {
			close(st.done)
		} else {
			c.wg.Add(1)
			go c.watch(st)
		}
	}
	return st.done
}

func (st *stream) Err() error {
	st.c.mu.Lock()
	defer st.c.mu.Unlock()
	st.expireLocked()
	return st.ctxErr
}

func (st *stream) Value(key any) any { return st.c.ctx.Value(key) }

func (st *stream) String() string { return fmt.Sprintf("leangrpc.stream(%d %s)", st.id, st.path) }

// watch reads frames for the connection until st's context ends.
func (c *conn) watch(st *stream) {
	defer c.wg.Done()
	for {
		select {
		case <-st.done:
			return
		case <-c.rtok:
			ns, err := c.readFrame(true)
			c.rtok <- struct{}{}
			if ns != nil {
				c.runStream(ns)
			}
			if err != nil {
				return
			}
		}
	}
}

// grpc.ServerStream

func (st *stream) Context() context.Context { return st.ctx }

func (st *stream) SetHeader(md metadata.MD) error {
	if md.Len() == 0 {
		return nil
	}
	st.c.wmu.Lock()
	defer st.c.wmu.Unlock()
	if st.headerSent {
		return status.Error(codes.Internal, "transport: the stream is done or WriteHeader was already called")
	}
	st.header = metadata.Join(st.header, md)
	return nil
}

func (st *stream) SendHeader(md metadata.MD) error {
	c := st.c
	c.wmu.Lock()
	if st.headerSent {
		c.wmu.Unlock()
		return status.Error(codes.Internal, "transport: the stream is done or WriteHeader was already called")
	}
	st.header = metadata.Join(st.header, md)
	st.headerSent = true
	c.encodeHead(st.header)
	c.writeHeaderBlock(st.id, false)
	err := c.flushLocked()
	c.wmu.Unlock()
	return err
}

func (st *stream) SetTrailer(md metadata.MD) {
	if md.Len() == 0 {
		return
	}
	st.c.wmu.Lock()
	st.trailer = metadata.Join(st.trailer, md)
	st.c.wmu.Unlock()
}

// SendMsg sends m and writes it out before returning.
func (st *stream) SendMsg(m any) error { return st.send(m, true) }

// SendMsgBuffered sends m but leaves it in the connection's buffer, to go
// out with the next write: the stream's end (trailers) or a read that
// would block. For the last message of a call, whose trailers follow at
// once: the answer then takes one write.
func (st *stream) SendMsgBuffered(m any) error { return st.send(m, false) }

// Buffered is implemented by the streams of this package (SendMsgBuffered).
type Buffered interface {
	SendMsgBuffered(m any) error
}

// errCallOver cancels a call's context when it has ended: one value for
// every call, since a status error is never changed.
var errCallOver = status.Error(codes.Canceled, "leangrpc: the call is over")

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func (st *stream) send(m any, flush bool) error {
	pm, ok := m.(proto.Message)
	if !ok {
		return status.Errorf(codes.Internal, "leangrpc: %T is not a protobuf message", m)
	}
	c := st.c
	bp := bufPool.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= 1<<20 {
			bufPool.Put(bp)
		}
	}()
	buf, err := proto.MarshalOptions{}.MarshalAppend(append((*bp)[:0], 0, 0, 0, 0, 0), pm)
	*bp = buf
	if err != nil {
		return status.Errorf(codes.Internal, "leangrpc: cannot marshal the answer: %v", err)
	}
	size := len(buf) - 5
	if size > c.srv.opts.MaxSendMsgSize {
		return status.Errorf(codes.ResourceExhausted, "grpc: trying to send message larger than max (%d vs. %d)", size, c.srv.opts.MaxSendMsgSize)
	}
	buf[1], buf[2], buf[3], buf[4] = byte(size>>24), byte(size>>16), byte(size>>8), byte(size)

	c.wmu.Lock()
	if !st.headerSent {
		st.headerSent = true
		c.encodeHead(st.header)
		c.writeHeaderBlock(st.id, false)
	}
	c.wmu.Unlock()
	for data := buf; len(data) > 0; {
		c.mu.Lock()
		st.expireLocked()
		if st.cerr != nil {
			err := st.cerr
			c.mu.Unlock()
			return err
		}
		n := min(int64(len(data)), c.sendWin, st.sendWin, int64(c.peerMaxFrame.Load()))
		if n <= 0 {
			c.mu.Unlock()
			if err := c.flush(); err != nil {
				return err
			}
			if err := c.await(st, func() bool { return (c.sendWin > 0 && st.sendWin > 0) || st.cerr != nil }, true); err != nil {
				return err
			}
			continue
		}
		c.sendWin -= n
		st.sendWin -= n
		c.mu.Unlock()
		c.wmu.Lock()
		c.wfr.WriteData(st.id, false, data[:n])
		if c.wbuf.Len() >= flushThreshold {
			err = c.flushLocked()
		}
		c.wmu.Unlock()
		if err != nil {
			return err
		}
		data = data[n:]
	}
	if flush {
		return c.flush()
	}
	return nil
}

// RecvMsg reads the next message into m; io.EOF after the client's last.
func (st *stream) RecvMsg(m any) error {
	c := st.c
	var b []byte
	var err error
	if aerr := c.await(st, func() bool {
		switch {
		case len(st.msgs) > 0:
			b = st.msgs[0]
			st.msgs[0] = nil
			st.msgs = st.msgs[1:]
		case st.recvErr != nil:
			err = st.recvErr
		case st.cerr != nil:
			err = st.cerr
		case st.recvClosed:
			err = io.EOF
			if st.hdrN > 0 || st.partial != nil {
				err = status.Error(codes.Internal, "leangrpc: the client ended the stream inside a message")
			}
		default:
			return false
		}
		return true
	}, false); aerr != nil {
		return aerr
	}
	if err != nil {
		return err
	}
	c.mu.Lock()
	sinc, cinc := st.consumedLocked(int64(len(b)) + 5)
	c.mu.Unlock()
	c.queueWindowUpdates(st.id, sinc, cinc)
	if r, ok := m.(*Raw); ok {
		r.Data = b
		return nil
	}
	pm, ok := m.(proto.Message)
	if !ok {
		return status.Errorf(codes.Internal, "leangrpc: %T is not a protobuf message", m)
	}
	if err := proto.Unmarshal(b, pm); err != nil {
		return UnmarshalError(err)
	}
	return nil
}

// Raw receives a message still encoded: RecvMsg(&raw) sets Data to the
// message's bytes, which the caller then owns. It lets a handler decode
// its request without protobuf's generated code (internal/wire's raw
// decoders), which allocates every field on its own.
type Raw struct {
	Data []byte
}

// UnmarshalError is the error a call ends with when its message cannot be
// decoded, as grpc-go reports it; for handlers that decode Raw messages.
func UnmarshalError(err error) error {
	return status.Errorf(codes.Internal, "grpc: failed to unmarshal the received message: %v", err)
}

// transportStream is st as grpc.ServerTransportStream, for grpc.SetHeader,
// grpc.SendHeader, grpc.SetTrailer and grpc.Method on the context.
type transportStream struct{ st *stream }

func (t *transportStream) Method() string                  { return t.st.path }
func (t *transportStream) SetHeader(md metadata.MD) error  { return t.st.SetHeader(md) }
func (t *transportStream) SendHeader(md metadata.MD) error { return t.st.SendHeader(md) }
func (t *transportStream) SetTrailer(md metadata.MD) error { t.st.SetTrailer(md); return nil }
