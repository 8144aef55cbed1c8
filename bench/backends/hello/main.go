// Command hello is the Go code behind every non-gobridge row of the
// benchmark: the same "Hello, world\n" response served as a net/http server
// (for mod_proxy_http), as a FastCGI responder (net/http/fcgi, for
// mod_proxy_fcgi) and as a CGI program (net/http/cgi, for mod_cgid), plus a
// FastCGI authorizer (for mod_authnz_fcgi) that checks Basic credentials
// against an htpasswd file (SHA1 "{SHA}" or bcrypt) exactly as
// mod_authn_file does.
//
// It runs as a CGI program whenever GATEWAY_INTERFACE is set; otherwise
// -mode selects the role. It exits when its parent goes away, so a crashed
// benchmark leaves nothing behind.
package main

import (
	"flag"
	"log"
	"net"
	"net/http"
	"net/http/cgi"
	"net/http/fcgi"
	"os"
	"strings"
	"time"
)

var hello = []byte("Hello, world\n")

func handler(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h["Content-Type"] = []string{"text/plain"}
	h["Content-Length"] = []string{"13"}
	w.Write(hello)
}

func main() {
	if os.Getenv("GATEWAY_INTERFACE") != "" {
		if err := cgi.Serve(http.HandlerFunc(handler)); err != nil {
			log.Fatal(err)
		}
		return
	}
	mode := flag.String("mode", "http", "http | fcgi | authz")
	listen := flag.String("listen", "127.0.0.1:0", "host:port, or unix:/path for a unix socket")
	htpasswd := flag.String("htpasswd", "", "htpasswd file (authz mode)")
	flag.Parse()
	log.SetPrefix("hello[" + *mode + "]: ")

	network, addr := "tcp", *listen
	if p, ok := strings.CutPrefix(addr, "unix:"); ok {
		network, addr = "unix", p
		_ = os.Remove(addr)
	}
	l, err := net.Listen(network, addr)
	if err != nil {
		log.Fatal(err)
	}
	if network == "unix" {
		_ = os.Chmod(addr, 0o666)
	}
	go watchParent()

	switch *mode {
	case "http":
		srv := &http.Server{Handler: http.HandlerFunc(handler), ReadHeaderTimeout: 30 * time.Second}
		err = srv.Serve(l)
	case "fcgi":
		err = fcgi.Serve(l, http.HandlerFunc(handler))
	case "authz":
		users, lerr := loadHtpasswd(*htpasswd)
		if lerr != nil {
			log.Fatal(lerr)
		}
		err = serveAuthorizer(l, users)
	default:
		log.Fatalf("unknown -mode %q", *mode)
	}
	log.Fatal(err)
}

// watchParent exits when the process that started us is gone (we are
// re-parented), the way gobridge plugins watch theirs.
func watchParent() {
	ppid := os.Getppid()
	for range time.Tick(500 * time.Millisecond) {
		if os.Getppid() != ppid {
			os.Exit(0)
		}
	}
}
