package main

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"net"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func params(kv ...string) []byte {
	var b []byte
	for i := 0; i < len(kv); i += 2 {
		b = append(b, byte(len(kv[i])), byte(len(kv[i+1])))
		b = append(b, kv[i]...)
		b = append(b, kv[i+1]...)
	}
	return b
}

// authorize runs one request the way mod_authnz_fcgi sends it and returns
// the STDOUT the authorizer answered.
func authorize(t *testing.T, users map[string]string, user, pass string) string {
	t.Helper()
	c, s := net.Pipe()
	go func() { _ = authzConn(s, users); s.Close() }()
	defer c.Close()
	var req []byte
	req = appendRecord(req, typeBeginRequest, 1, []byte{0, roleAuthorizer, 0, 0, 0, 0, 0, 0})
	req = appendRecord(req, typeParams, 1, params("FCGI_APACHE_ROLE", "AUTHENTICATOR", "REMOTE_USER", user, "REMOTE_PASSWD", pass))
	req = appendRecord(req, typeParams, 1, nil)
	go c.Write(req)
	r := bufio.NewReader(c)
	var out strings.Builder
	for {
		rec, err := readRecord(r, nil)
		if err != nil {
			t.Fatal(err)
		}
		switch rec.typ {
		case typeStdout:
			out.Write(rec.content)
		case typeEndRequest:
			return out.String()
		}
	}
}

func TestAuthorizer(t *testing.T) {
	sum := sha1.Sum([]byte("pw"))
	bc, err := bcrypt.GenerateFromPassword([]byte("pw"), 5)
	if err != nil {
		t.Fatal(err)
	}
	users := map[string]string{
		"s": "{SHA}" + base64.StdEncoding.EncodeToString(sum[:]),
		"b": strings.Replace(string(bc), "$2a$", "$2y$", 1), // what htpasswd -B writes
	}
	for _, tc := range []struct{ user, pass, want string }{
		{"s", "pw", "Status: 200"},
		{"s", "nope", "Status: 401"},
		{"b", "pw", "Status: 200"},
		{"b", "nope", "Status: 401"},
		{"nobody", "pw", "Status: 401"},
	} {
		if got := authorize(t, users, tc.user, tc.pass); !strings.HasPrefix(got, tc.want) {
			t.Errorf("%s/%s: got %q, want %s", tc.user, tc.pass, got, tc.want)
		}
	}
}
