package harness

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
)

// TCPQueues reads /proc/net/tcp for the IPv4 socket whose local address is
// local and whose peer is remote, and returns its send queue (bytes not yet
// acknowledged by the peer) and its receive queue (bytes received but not
// yet read by the process that owns the socket). Looked at from both ends,
// it tells a test that httpd has read everything a client sent: an event,
// where a pause would be a guess.
func TCPQueues(local, remote *net.TCPAddr) (tx, rx int64, err error) {
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	l, r := procAddr(local), procAddr(remote)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 || fields[1] != l || fields[2] != r {
			continue
		}
		t, q, ok := strings.Cut(fields[4], ":")
		if !ok {
			break
		}
		tx, err1 := strconv.ParseInt(t, 16, 64)
		rx, err2 := strconv.ParseInt(q, 16, 64)
		if err1 != nil || err2 != nil {
			break
		}
		return tx, rx, nil
	}
	if err := sc.Err(); err != nil {
		return 0, 0, err
	}
	return 0, 0, fmt.Errorf("no TCP socket %s -> %s in /proc/net/tcp", local, remote)
}

// procAddr writes an IPv4 address as /proc/net/tcp does: the address as a
// little-endian 32-bit number, then the port, both in hex.
func procAddr(a *net.TCPAddr) string {
	ip := a.IP.To4()
	if ip == nil {
		return ""
	}
	return fmt.Sprintf("%02X%02X%02X%02X:%04X", ip[3], ip[2], ip[1], ip[0], a.Port)
}
