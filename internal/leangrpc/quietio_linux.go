package leangrpc

import (
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"
)

// quietConn reads and writes a socket with raw system calls made from
// inside the runtime poller's callbacks (syscall.RawConn), not with
// net.Conn's Read and Write.
//
// Why: every syscall.Syscall tells the scheduler it may block, and the
// first one after the plugin's Ps all went idle wakes sysmon, which then
// polls every 20 µs for a millisecond. On a request/answer connection that
// idles between calls that is a wake-up per call: a quarter of a plugin's
// CPU under load in bench/README.md's profile. A read or write on a
// non-blocking socket never blocks, so it needs none of that; when the
// socket is not ready the callback says so and the poller parks the
// goroutine as net.Conn would, deadlines included.
//
// One reader and one writer at a time (conn's read token and write lock
// see to it): the callbacks are bound once and keep their state here, so a
// call allocates nothing.
type quietConn struct {
	rc syscall.RawConn

	rbuf   []byte
	rn     int
	rerrno syscall.Errno
	readFn func(fd uintptr) bool

	wbuf    []byte
	wn      int
	werrno  syscall.Errno
	writeFn func(fd uintptr) bool
}

// quietIO returns how conn reads and writes nc: through a quietConn when
// nc is a bare unix or TCP socket, else nc itself. (Implementing
// syscall.Conn is not enough: grpc-go's TLS connection does, for the socket
// under it.)
func quietIO(nc net.Conn) (io.Reader, io.Writer) {
	var head []byte
	inner := nc
	if pc, ok := nc.(*prefixConn); ok {
		head, inner = pc.head, pc.Conn
	}
	var sc syscall.Conn
	switch s := inner.(type) {
	case *net.UnixConn:
		sc = s
	case *net.TCPConn:
		sc = s
	default:
		return nc, nc
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nc, nc
	}
	q := &quietConn{rc: rc}
	q.readFn = q.read
	q.writeFn = q.write
	if len(head) > 0 {
		// What the dispatcher peeked comes first. nc is not read again.
		return io.MultiReader(&prefixReader{head: head}, q), q
	}
	return q, q
}

// prefixReader hands out the peeked bytes, then EOF (for io.MultiReader).
type prefixReader struct{ head []byte }

func (p *prefixReader) Read(b []byte) (int, error) {
	if len(p.head) == 0 {
		return 0, io.EOF
	}
	n := copy(b, p.head)
	p.head = p.head[n:]
	return n, nil
}

func (q *quietConn) read(fd uintptr) bool {
	for {
		n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd,
			uintptr(unsafe.Pointer(&q.rbuf[0])), uintptr(len(q.rbuf)))
		switch e {
		case 0:
			q.rn = int(n)
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false // the poller waits for readability
		default:
			q.rerrno = e
			return true
		}
	}
}

func (q *quietConn) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	q.rbuf, q.rn, q.rerrno = b, 0, 0
	err := q.rc.Read(q.readFn)
	q.rbuf = nil
	switch {
	case err != nil:
		return 0, err // closed, or past the read deadline
	case q.rerrno != 0:
		return 0, os.NewSyscallError("read", q.rerrno)
	case q.rn == 0:
		return 0, io.EOF
	}
	return q.rn, nil
}

func (q *quietConn) write(fd uintptr) bool {
	for q.wn < len(q.wbuf) {
		// sendto with MSG_NOSIGNAL: a peer gone away is an error, never
		// a SIGPIPE.
		n, _, e := syscall.RawSyscall6(syscall.SYS_SENDTO, fd,
			uintptr(unsafe.Pointer(&q.wbuf[q.wn])), uintptr(len(q.wbuf)-q.wn),
			syscall.MSG_NOSIGNAL, 0, 0)
		switch e {
		case 0:
			q.wn += int(n)
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false // the poller waits for writability
		default:
			q.werrno = e
			return true
		}
	}
	return true
}

func (q *quietConn) Write(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	q.wbuf, q.wn, q.werrno = b, 0, 0
	err := q.rc.Write(q.writeFn)
	q.wbuf = nil
	switch {
	case err != nil:
		return q.wn, err
	case q.werrno != 0:
		return q.wn, os.NewSyscallError("write", q.werrno)
	}
	return q.wn, nil
}
