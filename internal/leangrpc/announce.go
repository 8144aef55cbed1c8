package leangrpc

import (
	"encoding/binary"
	"net"
	"sync"
)

// Announce wraps a client connection so that its first SETTINGS frame
// carries SettingLean=1: what mod_gobridge sends, for Go clients (tests,
// benchmarks) that should be served like the module. Give it to grpc-go's
// client through grpc.WithContextDialer.
func Announce(c net.Conn) net.Conn { return &announcer{Conn: c} }

type announcer struct {
	net.Conn
	mu   sync.Mutex
	head []byte // what the client wrote before the first SETTINGS was whole
	done bool
}

func (a *announcer) Write(p []byte) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.done {
		return a.Conn.Write(p)
	}
	a.head = append(a.head, p...)
	const fh = len(clientPreface) + frameHeaderLen
	if len(a.head) < fh {
		return len(p), nil
	}
	n := int(a.head[len(clientPreface)])<<16 | int(a.head[len(clientPreface)+1])<<8 | int(a.head[len(clientPreface)+2])
	if len(a.head) < fh+n {
		return len(p), nil
	}
	a.done = true
	out := make([]byte, 0, len(a.head)+6)
	out = append(out, a.head[:fh+n]...)
	n += 6
	out[len(clientPreface)], out[len(clientPreface)+1], out[len(clientPreface)+2] = byte(n>>16), byte(n>>8), byte(n)
	out = binary.BigEndian.AppendUint16(out, uint16(SettingLean))
	out = binary.BigEndian.AppendUint32(out, 1)
	out = append(out, a.head[fh+n-6:]...)
	a.head = nil
	if _, err := a.Conn.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}
