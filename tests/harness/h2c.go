package harness

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// EnableH2C makes the instance speak HTTP/2 over cleartext (h2c) as well as
// HTTP/1.1 on its port: mod_http2 is loaded with `Protocols h2c http/1.1`,
// and a client with prior knowledge (H2Client) starts in HTTP/2 at once
// (H2Direct). Call it before Start, under event: under prefork mod_http2
// warns that it is not supported (AH10034), and a child stopped with an
// HTTP/2 connection open crashes in mod_http2 (tests/h2c_test.go).
func (e *Env) EnableH2C() { e.h2 = true }

func (e *Env) h2Conf() string {
	if !e.h2 {
		return ""
	}
	return fmt.Sprintf("LoadModule http2_module %s/mod_http2.so\nProtocols h2c http/1.1\nH2Direct on\n", e.b.Modules)
}

// H2Client returns the instance's HTTP/2 client: HTTP/2 with prior
// knowledge over plain TCP (golang.org/x/net/http2 with AllowHTTP), which
// keeps one connection for all its requests while that connection lives.
// H2Dials counts the connections it opened, so a test can tell that two
// requests shared one.
func (e *Env) H2Client() *http.Client {
	if e.h2c == nil {
		tr := &http2.Transport{
			AllowHTTP: true,
			DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
				e.h2dials.Add(1)
				var d net.Dialer
				return d.DialContext(ctx, network, addr)
			},
		}
		e.h2c = &http.Client{Timeout: 60 * time.Second, Transport: tr}
		e.t.Cleanup(tr.CloseIdleConnections)
	}
	return e.h2c
}

// H2Dials returns how many connections H2Client has opened so far.
func (e *Env) H2Dials() int64 { return e.h2dials.Load() }

// DoWith sends req with client c and reads the whole response; transport
// errors fail t.
func DoWith(t testing.TB, c *http.Client, req *http.Request) *Response {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", req.Method, req.URL, err)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: string(b), Proto: resp.Proto}
}
