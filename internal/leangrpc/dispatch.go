package leangrpc

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"

	"golang.org/x/net/http2"
	"google.golang.org/grpc/credentials"
)

// SettingLean is the HTTP/2 setting (in the experimental range
// 0xf000-0xffff) by which a client asks to be served by this package: it
// sends it with value 1 in its first SETTINGS frame. mod_gobridge's
// gb_h2.c sends it on every connection; servers that do not know it
// ignore it, as RFC 9113 §6.5.2 requires.
const SettingLean http2.SettingID = 0xf0b1

// clientPreface is what every HTTP/2 client sends first.
const clientPreface = http2.ClientPreface

// maxPeekSettings bounds the first SETTINGS frame we look into; a real
// client sends a handful of 6-byte entries.
const maxPeekSettings = 36 * 6

// frameHeaderLen is the size of an HTTP/2 frame header (RFC 9113 §4.1).
const frameHeaderLen = 9

// Dispatch returns transport credentials for grpc.Creds that hand the
// connections of a client sending SettingLean to lean (see Server.ServeConn)
// and every other connection, unchanged, to grpc-go after inner's handshake.
// With lean nil, every connection stays with grpc-go (the switch for
// measuring one server against the other).
//
// The check reads the client preface and the first frame, which an HTTP/2
// client sends at once without waiting for the server; grpc-go's
// connection timeout bounds a client that sends nothing.
func Dispatch(inner credentials.TransportCredentials, lean *Server) credentials.TransportCredentials {
	return &dispatcher{TransportCredentials: inner, lean: lean}
}

type dispatcher struct {
	credentials.TransportCredentials
	lean *Server
}

func (d *dispatcher) ServerHandshake(raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	head, isLean, err := peekSettings(raw)
	if err != nil {
		raw.Close()
		return nil, nil, io.EOF // grpc-go drops the connection quietly
	}
	conn := net.Conn(&prefixConn{Conn: raw, head: head})
	conn, info, err := d.TransportCredentials.ServerHandshake(conn)
	if err != nil || !isLean || d.lean == nil {
		return conn, info, err
	}
	if !d.lean.track(conn) {
		conn.Close()
		return nil, nil, credentials.ErrConnDispatched
	}
	go d.lean.serveTracked(conn, info)
	return nil, nil, credentials.ErrConnDispatched
}

func (d *dispatcher) Clone() credentials.TransportCredentials {
	return &dispatcher{TransportCredentials: d.TransportCredentials.Clone(), lean: d.lean}
}

// DispatchSecure is Dispatch for credentials that encrypt the connection
// (TLS): inner's handshake runs first, on the raw connection, and the
// client's preface is looked at in what it decrypts. A client inner
// refuses (no certificate, a certificate from another CA) never reaches
// either server.
func DispatchSecure(inner credentials.TransportCredentials, lean *Server) credentials.TransportCredentials {
	return &secureDispatcher{TransportCredentials: inner, lean: lean}
}

type secureDispatcher struct {
	credentials.TransportCredentials
	lean *Server
}

func (d *secureDispatcher) ServerHandshake(raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	conn, info, err := d.TransportCredentials.ServerHandshake(raw)
	if err != nil {
		return nil, nil, err
	}
	head, isLean, err := peekSettings(conn)
	if err != nil {
		conn.Close()
		return nil, nil, io.EOF
	}
	conn = &prefixConn{Conn: conn, head: head}
	if !isLean || d.lean == nil {
		return conn, info, nil
	}
	if !d.lean.track(conn) {
		conn.Close()
		return nil, nil, credentials.ErrConnDispatched
	}
	go d.lean.serveTracked(conn, info)
	return nil, nil, credentials.ErrConnDispatched
}

func (d *secureDispatcher) Clone() credentials.TransportCredentials {
	return &secureDispatcher{TransportCredentials: d.TransportCredentials.Clone(), lean: d.lean}
}

// peekSettings reads the client preface and the frame after it and
// reports whether that frame is a SETTINGS frame carrying SettingLean=1.
// It returns every byte it read.
func peekSettings(r io.Reader) (head []byte, isLean bool, err error) {
	buf := make([]byte, len(clientPreface)+frameHeaderLen, len(clientPreface)+frameHeaderLen+maxPeekSettings)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, false, err
	}
	if !bytes.Equal(buf[:len(clientPreface)], []byte(clientPreface)) {
		return buf, false, nil
	}
	fh := buf[len(clientPreface):]
	n := int(fh[0])<<16 | int(fh[1])<<8 | int(fh[2])
	if http2.FrameType(fh[3]) != http2.FrameSettings || n%6 != 0 || n > maxPeekSettings {
		return buf, false, nil
	}
	buf = buf[:len(buf)+n]
	if _, err := io.ReadFull(r, buf[len(buf)-n:]); err != nil {
		return nil, false, err
	}
	for p := buf[len(buf)-n:]; len(p) >= 6; p = p[6:] {
		if http2.SettingID(binary.BigEndian.Uint16(p)) == SettingLean && binary.BigEndian.Uint32(p[2:]) == 1 {
			isLean = true
		}
	}
	return buf, isLean, nil
}

// prefixConn gives back the bytes peekSettings read before the rest.
type prefixConn struct {
	net.Conn
	head []byte
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.head) > 0 {
		n := copy(p, c.head)
		c.head = c.head[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}
