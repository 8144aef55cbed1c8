package main

// A minimal FastCGI authorizer (FCGI_AUTHORIZER role, FastCGI 1.0 §6.3).
// net/http/fcgi only implements the RESPONDER role and answers every other
// role with FCGI_UNKNOWN_ROLE, so mod_authnz_fcgi cannot use it; this is the
// smallest correct server for what mod_authnz_fcgi sends: BEGIN_REQUEST
// (role AUTHORIZER, no KEEP_CONN), PARAMS carrying REMOTE_USER and
// REMOTE_PASSWD, an empty PARAMS, and no STDIN.

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

const (
	typeBeginRequest = 1
	typeAbortRequest = 2
	typeEndRequest   = 3
	typeParams       = 4
	typeStdin        = 5
	typeStdout       = 6
	typeGetValues    = 9
	typeUnknownType  = 11

	roleAuthorizer = 2
	flagKeepConn   = 1
)

func loadHtpasswd(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	users := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		user, hash, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && user != "" {
			users[user] = hash
		}
	}
	if len(users) == 0 {
		return nil, fmt.Errorf("%s: no users", path)
	}
	return users, nil
}

// checkPassword verifies pw against an htpasswd hash the way apr_password_validate
// does for the two formats the benchmark uses.
func checkPassword(hash, pw string) bool {
	switch {
	case strings.HasPrefix(hash, "{SHA}"):
		sum := sha1.Sum([]byte(pw))
		want := "{SHA}" + base64.StdEncoding.EncodeToString(sum[:])
		return subtle.ConstantTimeCompare([]byte(want), []byte(hash)) == 1
	case strings.HasPrefix(hash, "$2"):
		return bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw)) == nil
	}
	return false
}

func serveAuthorizer(l net.Listener, users map[string]string) error {
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			if err := authzConn(c, users); err != nil && !errors.Is(err, io.EOF) {
				fmt.Fprintln(os.Stderr, "authorizer:", err)
			}
		}()
	}
}

type record struct {
	typ     uint8
	id      uint16
	content []byte
}

func readRecord(r *bufio.Reader, buf []byte) (record, error) {
	var h [8]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return record{}, err
	}
	if h[0] != 1 {
		return record{}, fmt.Errorf("bad FastCGI version %d", h[0])
	}
	n := int(binary.BigEndian.Uint16(h[4:6]))
	pad := int(h[6])
	if cap(buf) < n+pad {
		buf = make([]byte, n+pad)
	}
	buf = buf[:n+pad]
	if _, err := io.ReadFull(r, buf); err != nil {
		return record{}, err
	}
	return record{typ: h[1], id: binary.BigEndian.Uint16(h[2:4]), content: buf[:n]}, nil
}

func appendRecord(dst []byte, typ uint8, id uint16, content []byte) []byte {
	dst = append(dst, 1, typ, byte(id>>8), byte(id), byte(len(content)>>8), byte(len(content)), 0, 0)
	return append(dst, content...)
}

// parseParams decodes FastCGI name-value pairs (§3.4) into m.
func parseParams(b []byte, m map[string]string) error {
	readLen := func() (int, bool) {
		if len(b) == 0 {
			return 0, false
		}
		if b[0]&0x80 == 0 {
			n := int(b[0])
			b = b[1:]
			return n, true
		}
		if len(b) < 4 {
			return 0, false
		}
		n := int(binary.BigEndian.Uint32(b) & 0x7fffffff)
		b = b[4:]
		return n, true
	}
	for len(b) > 0 {
		kl, ok1 := readLen()
		vl, ok2 := readLen()
		if !ok1 || !ok2 || kl+vl > len(b) {
			return errors.New("malformed FCGI_PARAMS")
		}
		m[string(b[:kl])] = string(b[kl : kl+vl])
		b = b[kl+vl:]
	}
	return nil
}

func authzConn(c net.Conn, users map[string]string) error {
	r := bufio.NewReader(c)
	var buf, params []byte
	var id uint16
	keep := false
	for {
		rec, err := readRecord(r, buf)
		if err != nil {
			return err
		}
		buf = rec.content[:0]
		switch rec.typ {
		case typeBeginRequest:
			if len(rec.content) < 8 {
				return errors.New("short FCGI_BEGIN_REQUEST")
			}
			id = rec.id
			keep = rec.content[2]&flagKeepConn != 0
			params = params[:0]
			if role := binary.BigEndian.Uint16(rec.content); role != roleAuthorizer {
				out := appendRecord(nil, typeEndRequest, id, []byte{0, 0, 0, 0, 3, 0, 0, 0}) // FCGI_UNKNOWN_ROLE
				if _, err := c.Write(out); err != nil || !keep {
					return err
				}
			}
		case typeParams:
			if len(rec.content) > 0 {
				params = append(params, rec.content...)
				continue
			}
			env := make(map[string]string, 32)
			if err := parseParams(params, env); err != nil {
				return err
			}
			status := "401 Unauthorized"
			if h, ok := users[env["REMOTE_USER"]]; ok && checkPassword(h, env["REMOTE_PASSWD"]) {
				status = "200 OK"
			}
			body := []byte("Status: " + status + "\r\n\r\n")
			out := appendRecord(nil, typeStdout, id, body)
			out = appendRecord(out, typeStdout, id, nil)
			out = appendRecord(out, typeEndRequest, id, []byte{0, 0, 0, 0, 0, 0, 0, 0})
			if _, err := c.Write(out); err != nil {
				return err
			}
			if !keep {
				return nil
			}
		case typeStdin, typeAbortRequest:
			// An authorizer has no body; nothing to do.
		case typeGetValues:
			if _, err := c.Write(appendRecord(nil, 10, 0, nil)); err != nil {
				return err
			}
		default:
			body := bytes.Repeat([]byte{0}, 8)
			body[0] = rec.typ
			if _, err := c.Write(appendRecord(nil, typeUnknownType, 0, body)); err != nil {
				return err
			}
		}
	}
}
