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
	"strconv"
	"strings"
	"syscall"
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
		reportRusage(os.Getenv("BENCH_RUSAGE_FILE"))
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

// reportRusage appends this CGI process's CPU time (µs, user+system, since
// its fork from mod_cgid's daemon) to path, one line per request. The
// daemon ignores SIGCHLD, so the kernel reaps CGI processes itself and
// their CPU time never reaches any parent's cutime/cstime: without this
// line the benchmark could not count it. One O_APPEND write is atomic.
func reportRusage(path string) {
	if path == "" {
		return
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return
	}
	us := ru.Utime.Sec*1e6 + ru.Utime.Usec + ru.Stime.Sec*1e6 + ru.Stime.Usec
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return
	}
	f.Write([]byte(strconv.FormatInt(us, 10) + "\n"))
	f.Close()
}
