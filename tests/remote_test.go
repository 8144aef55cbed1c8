package tests

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gobridge/gobridge/internal/testcerts"
	"github.com/gobridge/gobridge/tests/harness"
)

// remoteCerts are the certificates of a remote-plugin test: the CA httpd
// and the plugins trust, another CA nobody trusts, and what each issues.
type remoteCerts struct {
	ca, other        *testcerts.CA
	server           testcerts.Leaf // 127.0.0.1-3, plugin.test, localhost
	expiredServer    testcerts.Leaf
	client           testcerts.Leaf // httpd's
	expiredClient    testcerts.Leaf
	strangerClient   testcerts.Leaf // from the other CA
	strangerServerCA string
}

// newRemoteCerts writes the certificates under the server root, where
// Apache's User (and a plugin run as it) can read them.
func newRemoteCerts(t *testing.T, e *harness.Env) *remoteCerts {
	t.Helper()
	dir := filepath.Join(e.Root, "tls")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ips := []net.IP{net.ParseIP("127.0.0.2"), net.ParseIP("127.0.0.3")}
	c := &remoteCerts{ca: testcerts.NewCA(t, dir, "main"), other: testcerts.NewCA(t, dir, "other")}
	c.server = c.ca.Issue(t, testcerts.Options{Name: "server", IPs: append(ips, net.ParseIP("127.0.0.1")), DNSNames: []string{"plugin.test", "localhost"}})
	c.expiredServer = c.ca.Issue(t, testcerts.Options{Name: "server-expired", IPs: ips, Expired: true})
	c.client = c.ca.Issue(t, testcerts.Options{Name: "httpd", Client: true})
	c.expiredClient = c.ca.Issue(t, testcerts.Options{Name: "httpd-expired", Client: true, Expired: true})
	c.strangerClient = c.other.Issue(t, testcerts.Options{Name: "stranger", Client: true})
	return c
}

// plugin is the GoBridgePlugin line of a remote plugin reached with
// client's certificate, trusting ca, at addrs; extra are more options.
func (c *remoteCerts) plugin(name, ca string, client testcerts.Leaf, extra string, addrs ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "GoBridgePlugin %s ca=%s cert=%s key=%s %s", name, ca, client.CertFile, client.KeyFile, extra)
	for _, a := range addrs {
		b.WriteString(" tcp://" + a)
	}
	b.WriteString("\n")
	return b.String()
}

// remotePlugin is a plugin binary the test runs itself, as Apache's User,
// serving remotely on one address.
type remotePlugin struct {
	addr string
	cmd  *exec.Cmd
	done chan struct{}
	log  string
}

// freePortOn returns a port free on ip now.
func freePortOn(t *testing.T, ip string) int {
	t.Helper()
	l, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatalf("listening on %s (loopback alias): %v", ip, err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startRemotePlugin runs e's binary bin with GOBRIDGE_LISTEN on ip and the
// server certificate leaf, and waits until it accepts connections. It is
// stopped (SIGTERM, then SIGKILL) at the end of the test.
func startRemotePlugin(t *testing.T, e *harness.Env, c *remoteCerts, bin, ip string, leaf testcerts.Leaf, args ...string) *remotePlugin {
	t.Helper()
	p := &remotePlugin{addr: fmt.Sprintf("%s:%d", ip, freePortOn(t, ip)), done: make(chan struct{}),
		log: filepath.Join(e.Root, "logs", fmt.Sprintf("remote-%s-%s.log", bin, strings.ReplaceAll(ip, ".", "_")))}
	out, err := os.Create(p.log)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(e.Bin(bin), args...)
	p.cmd.Env = append(os.Environ(), "GOBRIDGE_LISTEN=tcp://"+p.addr, "GOBRIDGE_TLS_CERT="+leaf.CertFile,
		"GOBRIDGE_TLS_KEY="+leaf.KeyFile, "GOBRIDGE_TLS_CLIENT_CA="+c.ca.CertFile)
	p.cmd.Stdout, p.cmd.Stderr = out, out
	if e.User != "" { // plugins never run as root
		u, err := user.Lookup(e.User)
		if err != nil {
			t.Fatal(err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		p.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); out.Close(); close(p.done) }()
	t.Cleanup(func() { p.stop(t) })
	if !harness.WaitFor(20*time.Second, func() bool {
		conn, err := net.DialTimeout("tcp", p.addr, time.Second)
		if err == nil {
			conn.Close()
		}
		return err == nil
	}) {
		b, _ := os.ReadFile(p.log)
		t.Fatalf("remote %s on %s did not listen:\n%s", bin, p.addr, b)
	}
	return p
}

// stop ends the plugin gracefully, by pid, and waits for it.
func (p *remotePlugin) stop(t *testing.T) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		t.Errorf("remote plugin pid %d ignored SIGTERM", p.cmd.Process.Pid)
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// kill ends the plugin with SIGKILL and returns once it is gone.
func (p *remotePlugin) kill(t *testing.T) {
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-p.done
}

// TestRemotePlugin: a content handler and an auth provider served by
// plugins that httpd reaches over TCP and mutual TLS on 127.0.0.2 and
// 127.0.0.3 (gobridged runs none of them, and is not even started). Every
// way the mutual authentication can fail — httpd's certificate from
// another CA or expired, the plugin's from a CA httpd does not trust,
// expired, or for another name — fails the call with a log line naming the
// plugin, the address and the TLS reason: 503 for the handler, 500 for the
// auth provider, whose protected URL never answers 200.
func TestRemotePlugin(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		e := harness.New(t, build, mpm)
		c := newRemoteCerts(t, e)
		echo := startRemotePlugin(t, e, c, "echo", "127.0.0.2", c.server)
		expired := startRemotePlugin(t, e, c, "echo", "127.0.0.3", c.expiredServer)
		auth := startRemotePlugin(t, e, c, "auth", "127.0.0.2", c.server, "-throttle-failures", "0")
		users := filepath.Join(e.Root, "tls", "users")
		mkHtpasswd(t, users)
		if err := os.WriteFile(filepath.Join(e.Root, "htdocs", "secret.txt"), []byte("secret\n"), 0o644); err != nil {
			t.Fatal(err)
		}

		conf := authModules(e) +
			c.plugin("good", c.ca.CertFile, c.client, "", echo.addr) +
			c.plugin("named", c.ca.CertFile, c.client, "servername=plugin.test", echo.addr) +
			c.plugin("strangerclient", c.ca.CertFile, c.strangerClient, "", echo.addr) +
			c.plugin("expiredclient", c.ca.CertFile, c.expiredClient, "", echo.addr) +
			c.plugin("wrongca", c.other.CertFile, c.client, "", echo.addr) +
			c.plugin("expiredserver", c.ca.CertFile, c.client, "", expired.addr) +
			c.plugin("wrongname", c.ca.CertFile, c.client, "servername=other.test", echo.addr) +
			c.plugin("rauth", c.ca.CertFile, c.client, "", auth.addr) +
			c.plugin("rauthstranger", c.ca.CertFile, c.strangerClient, "", auth.addr) +
			c.plugin("rauthwrongca", c.other.CertFile, c.client, "", auth.addr)
		for _, name := range []string{"good", "named", "strangerclient", "expiredclient", "wrongca", "expiredserver", "wrongname"} {
			conf += fmt.Sprintf("<Location /%s>\n    GoBridgeHandler %s\n</Location>\n", name, name)
		}
		for _, name := range []string{"rauth", "rauthstranger", "rauthwrongca"} {
			conf += fmt.Sprintf("<Location /%s>\n    AuthType Basic\n    AuthName remote\n    AuthBasicProvider gobridge\n"+
				"    GoBridgeAuthnProvider %s\n    GoBridgeOption htpasswd %s\n    Require valid-user\n</Location>\n", name, name, users)
			conf += fmt.Sprintf("Alias /%s %q\n", name, filepath.Join(e.Root, "htdocs"))
		}
		conf += "<Location /gobridge-status>\n    SetHandler gobridge-status\n</Location>\n"
		e.SetConf(conf)
		e.Start()
		if pids := e.ProcessesOf("gobridged"); len(pids) != 0 {
			t.Errorf("gobridged runs (%v) with only remote plugins declared", pids)
		}

		for _, name := range []string{"good", "named"} {
			r := e.AssertGet("/"+name+"/whoami", 200, "")
			if want := fmt.Sprintf("%s %d", name, echo.cmd.Process.Pid); strings.TrimSpace(r.Body) != want {
				t.Errorf("GET /%s/whoami = %q; want %q (the remote plugin)", name, r.Body, want)
			}
		}
		// gobridged knows nothing of them: the status page says so, and
		// counts their calls all the same.
		e.AssertGet("/gobridge-status?auto", 200, "Plugin.good.State: remote")
		e.AssertGet("/gobridge-status?auto", 200, "Plugin.good.Calls: 1")
		e.AssertGet("/gobridge-status?auto", 200, fmt.Sprintf("Plugin.good.Addresses: %s (127.0.0.2)\n", echo.addr))
		e.AssertGet("/gobridge-status?json", 200, fmt.Sprintf(`"addresses":["%s (127.0.0.2)"]`, echo.addr))
		// httpd's pooled connections to the plugin probe with TCP
		// keepalive (a vanished host or a forgetful NAT is found before a
		// call waits on it): the kernel's keepalive timer (2) runs on them.
		if n := keepaliveConns(t, echo.addr); n == 0 {
			t.Errorf("no connection to %s with a keepalive timer", echo.addr)
		}
		if r := basicReq(t, e, "/rauth/secret.txt", "bob", pwOf("bob")); r.Status != 200 || r.Body != "secret\n" {
			t.Errorf("remote auth provider, right password: %d %q; want 200", r.Status, r.Body)
		}
		if r := basicReq(t, e, "/rauth/secret.txt", "bob", "wrong"); r.Status != 401 {
			t.Errorf("remote auth provider, wrong password: %d; want 401", r.Status)
		}
		e.ErrorLog().Check(t, "AH01617") // the wrong password

		for _, tc := range []struct {
			name, reason string
		}{
			{"strangerclient", "unknown ca"},
			{"expiredclient", "certificate"}, // Go's alert: "bad certificate"
			{"wrongca", "unable to get local issuer certificate"},
			{"expiredserver", "certificate has expired"},
			{"wrongname", "hostname mismatch"},
		} {
			r := e.Get("/" + tc.name + "/whoami")
			if r.Status != 503 || r.Header.Get("Retry-After") == "" {
				t.Errorf("GET /%s/whoami = %d (Retry-After %q); want 503 with Retry-After", tc.name, r.Status, r.Header.Get("Retry-After"))
			}
			log := e.ErrorLog().Since()
			if !strings.Contains(log, "plugin "+tc.name+" at ") || !strings.Contains(log, tc.reason) {
				t.Errorf("%s: no log line naming the plugin, its address and %q:\n%s", tc.name, tc.reason, log)
			}
			e.ErrorLog().Check(t, "GB0400", "GB0403", "GB0042")
		}
		// httpd always presents cert=; a client that presents none is
		// refused by the plugin itself, before any HTTP/2.
		if err := tlsProbe(c, echo.addr, testcerts.Leaf{}); err == nil {
			t.Errorf("the remote plugin accepted a client without a certificate")
		}
		if err := tlsProbe(c, echo.addr, c.client); err != nil {
			t.Errorf("the remote plugin refused httpd's certificate: %v", err)
		}
		for _, name := range []string{"rauthstranger", "rauthwrongca"} {
			for i := 0; i < 3; i++ {
				r := basicReq(t, e, "/"+name+"/secret.txt", "bob", pwOf("bob"))
				if r.Status != 500 {
					t.Errorf("%s (auth provider behind failing TLS): %d; want 500, never 200", name, r.Status)
				}
			}
		}
		e.ErrorLog().Check(t, "GB0400", "GB0403", "GB0251")
	})
}

// TestRemotePluginConfig: a remote plugin's line is checked when the
// configuration is read, with the file, line and directive named: no TLS
// (mutual TLS is the only way), a missing or unusable file, a key that is
// not the certificate's, a malformed address, a binary's option.
func TestRemotePluginConfig(t *testing.T) {
	e := harness.New(t, build, "event")
	c := newRemoteCerts(t, e)
	garbage := filepath.Join(e.Root, "tls", "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a certificate\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	good := fmt.Sprintf("ca=%s cert=%s key=%s", c.ca.CertFile, c.client.CertFile, c.client.KeyFile)
	for _, tc := range []struct {
		line, want string
	}{
		{"GoBridgePlugin r tcp://127.0.0.2:7443", "mutual TLS only"},
		{fmt.Sprintf("GoBridgePlugin r ca=%s key=%s tcp://127.0.0.2:7443", c.ca.CertFile, c.client.KeyFile), "cert= is missing"},
		{fmt.Sprintf("GoBridgePlugin r ca=%s/none.pem cert=%s key=%s tcp://127.0.0.2:7443", e.Root, c.client.CertFile, c.client.KeyFile), "cannot load the CA certificates"},
		{fmt.Sprintf("GoBridgePlugin r ca=%s cert=%s key=%s tcp://127.0.0.2:7443", garbage, c.client.CertFile, c.client.KeyFile), "cannot load the CA certificates"},
		{fmt.Sprintf("GoBridgePlugin r ca=%s cert=%s key=%s tcp://127.0.0.2:7443", c.ca.CertFile, garbage, c.client.KeyFile), "cannot load the client certificate"},
		{fmt.Sprintf("GoBridgePlugin r ca=%s cert=%s key=%s tcp://127.0.0.2:7443", c.ca.CertFile, c.client.CertFile, c.server.KeyFile), "does not belong to the certificate"},
		{"GoBridgePlugin r " + good + " tcp://127.0.0.2", "invalid address"},
		{"GoBridgePlugin r " + good + " tcp://127.0.0.2:7443 /bin/true", "is not an address"},
		{"GoBridgePlugin r processes=2 " + good + " tcp://127.0.0.2:7443", "a remote plugin's instances are its addresses"},
		{"GoBridgePlugin r " + good + " " + e.Bin("echo"), "are for a remote plugin"},
	} {
		e.SetConf(tc.line + "\n")
		out, ok := e.ConfigTest()
		if ok {
			t.Errorf("configtest accepted %q", tc.line)
			continue
		}
		if !strings.Contains(out, tc.want) || !strings.Contains(out, "GoBridgePlugin") || !strings.Contains(out, "httpd.conf") {
			t.Errorf("configtest of %q said:\n%s\nwant the file, the directive and %q", tc.line, out, tc.want)
		}
	}
	e.SetConf("GoBridgePlugin r " + good + " tcp://127.0.0.2:7443 tcp://plugin.invalid:7443\n")
	if out, ok := e.ConfigTest(); !ok {
		t.Errorf("configtest refused a good remote plugin line:\n%s", out)
	}
	e.ErrorLog().Check(t)
}

// TestRemotePluginFailover: one remote plugin at two addresses spreads
// calls over both; when one instance is killed under load, the requests
// that had a call on a connection opened for them to the dying instance
// may fail with 503 (a call sent once and lost mid-way is not sent again
// unless it went out on a reused connection: GB0188), and every request
// that starts once the instance is gone is answered by the other one.
func TestRemotePluginFailover(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		e := harness.New(t, build, mpm)
		c := newRemoteCerts(t, e)
		a := startRemotePlugin(t, e, c, "echo", "127.0.0.2", c.server)
		b := startRemotePlugin(t, e, c, "echo", "127.0.0.3", c.server)
		e.SetConf(c.plugin("duo", c.ca.CertFile, c.client, "", a.addr, b.addr) +
			"<Location /duo>\n    GoBridgeHandler duo\n</Location>\n")
		e.Start()

		type result struct {
			start, end time.Time
			status     int
			pid        int
			err        error
		}
		var (
			mu      sync.Mutex
			results []result
			wg      sync.WaitGroup
			stop    = make(chan struct{})
		)
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cl := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{}}
				for {
					select {
					case <-stop:
						return
					default:
					}
					r := result{start: time.Now()}
					resp, err := cl.Get(e.URL("/duo/pid"))
					if err == nil {
						body, _ := io.ReadAll(resp.Body)
						resp.Body.Close()
						r.status = resp.StatusCode
						r.pid, _ = strconv.Atoi(strings.TrimSpace(string(body)))
					}
					r.err, r.end = err, time.Now()
					mu.Lock()
					results = append(results, r)
					mu.Unlock()
				}
			}()
		}
		count := func(f func(r result) bool) int {
			mu.Lock()
			defer mu.Unlock()
			n := 0
			for _, r := range results {
				if f(r) {
					n++
				}
			}
			return n
		}
		apid, bpid := a.cmd.Process.Pid, b.cmd.Process.Pid
		if !harness.WaitFor(60*time.Second, func() bool {
			return count(func(r result) bool { return r.pid == apid }) >= 10 && count(func(r result) bool { return r.pid == bpid }) >= 10
		}) {
			t.Fatalf("calls did not reach both addresses: %d to %s, %d to %s",
				count(func(r result) bool { return r.pid == apid }), a.addr, count(func(r result) bool { return r.pid == bpid }), b.addr)
		}
		killed := time.Now()
		a.kill(t)
		gone := time.Now()
		if !harness.WaitFor(60*time.Second, func() bool { return count(func(r result) bool { return r.start.After(gone) }) >= 100 }) {
			t.Errorf("the load stalled after the kill")
		}
		close(stop)
		wg.Wait()

		inFlight, lost := 0, 0
		for _, r := range results {
			switch {
			case r.end.Before(killed):
				if r.err != nil || r.status != 200 {
					t.Errorf("before the kill: status %d, %v", r.status, r.err)
				}
			case r.start.After(gone):
				if r.err != nil || r.status != 200 || r.pid != bpid {
					t.Errorf("started after the kill: status %d pid %d, %v; want 200 from the survivor %d", r.status, r.pid, r.err, bpid)
				}
			default:
				inFlight++
				if r.err != nil || (r.status != 200 && r.status != 503) {
					t.Errorf("in flight at the kill: status %d, %v; want 200, or 503 at worst", r.status, r.err)
				}
				if r.status == 503 {
					lost++
				}
			}
		}
		t.Logf("%d requests, %d in flight at the kill, %d of them 503", len(results), inFlight, lost)
		e.ErrorLog().Check(t, "GB0143", "GB0110")
	})
}

// tlsProbe completes a TLS handshake with the plugin at addr, presenting
// leaf (nothing if empty), and reads until the plugin speaks (its HTTP/2
// SETTINGS) or refuses: with TLS 1.3 the refusal of a client certificate
// comes after the client's side of the handshake.
func tlsProbe(c *remoteCerts, addr string, leaf testcerts.Leaf) error {
	pem, err := os.ReadFile(c.ca.CertFile)
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	conf := &tls.Config{RootCAs: pool, NextProtos: []string{"h2"}, ServerName: strings.Split(addr, ":")[0]}
	if leaf.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(leaf.CertFile, leaf.KeyFile)
		if err != nil {
			return err
		}
		conf.Certificates = []tls.Certificate{cert}
	}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, conf)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")); err != nil {
		return err
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = conn.Read(make([]byte, 9))
	return err
}

// TestRemotePluginResolvesAgain: a remote plugin named by a DNS name
// (localhost) is reached through it, its certificate checked against the
// name, and each child resolves the name again every resolve= interval,
// on the path of a call, while calls go on.
func TestRemotePluginResolvesAgain(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		e := harness.New(t, build, mpm)
		c := newRemoteCerts(t, e)
		p := startRemotePlugin(t, e, c, "echo", "127.0.0.1", c.server)
		port := strings.Split(p.addr, ":")[1]
		e.SetConf("LogLevel warn gobridge:debug\n" +
			c.plugin("named", c.ca.CertFile, c.client, "resolve=1s", "localhost:"+port) +
			"<Location /named>\n    GoBridgeHandler named\n</Location>\n")
		e.Start()
		if !harness.WaitFor(30*time.Second, func() bool {
			e.AssertGet("/named/pid", 200, strconv.Itoa(p.cmd.Process.Pid))
			return e.ErrorLog().Count("GB0411") >= 2
		}) {
			t.Errorf("no child resolved localhost again twice in 30 s (resolve=1s):\n%s", e.ErrorLog().Since())
		}
		if !e.ErrorLog().Contains("remote plugin named has 1 address") {
			t.Errorf("post_config did not resolve localhost to one address:\n%s", e.ErrorLog().Since())
		}
		// A restart builds the TLS context again (and httpd reloads the
		// module, OpenSSL staying loaded): calls go on.
		for i := 0; i < 2; i++ {
			e.Graceful()
			e.AssertGet("/named/pid", 200, strconv.Itoa(p.cmd.Process.Pid))
		}
		if e.ErrorLog().Contains("exit signal") {
			t.Errorf("a process died of a signal:\n%s", e.ErrorLog().All())
		}
		e.ErrorLog().Check(t)
	})
}

// keepaliveConns counts the established TCP connections to addr (an IPv4
// host:port) whose keepalive timer runs, from /proc/net/tcp.
func keepaliveConns(t *testing.T, addr string) int {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	ip := net.ParseIP(host).To4()
	p, _ := strconv.Atoi(port)
	// Little-endian address words, as the kernel prints them.
	want := fmt.Sprintf("%02X%02X%02X%02X:%04X", ip[3], ip[2], ip[1], ip[0], p)
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		// sl local rem st tx:rx tr:when ...
		if len(f) > 5 && f[2] == want && f[3] == "01" && strings.HasPrefix(f[5], "02:") {
			n++
		}
	}
	return n
}

// TestRemotePluginNewCertificateOnGraceful: httpd reads cert= and key=
// when the configuration is loaded, so a certificate replaced in place is
// used from the next graceful restart on: one the plugin does not accept
// fails the calls (GB0400), the right one back makes them work again.
func TestRemotePluginNewCertificateOnGraceful(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		e := harness.New(t, build, mpm)
		c := newRemoteCerts(t, e)
		p := startRemotePlugin(t, e, c, "echo", "127.0.0.2", c.server)
		live := testcerts.Leaf{CertFile: filepath.Join(e.Root, "tls", "live.pem"), KeyFile: filepath.Join(e.Root, "tls", "live-key.pem")}
		install := func(from testcerts.Leaf) {
			for src, dst := range map[string]string{from.CertFile: live.CertFile, from.KeyFile: live.KeyFile} {
				b, err := os.ReadFile(src)
				if err == nil {
					err = os.WriteFile(dst, b, 0o644)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
		}
		install(c.client)
		e.SetConf(c.plugin("rot", c.ca.CertFile, live, "", p.addr) + "<Location /rot>\n    GoBridgeHandler rot\n</Location>\n")
		e.Start()
		pid := strconv.Itoa(p.cmd.Process.Pid)
		e.AssertGet("/rot/pid", 200, pid)

		install(c.strangerClient)
		e.AssertGet("/rot/pid", 200, pid) // read at start: still the old one
		e.Graceful()
		// A keep-alive connection may reach a child of the old generation
		// (old certificate, open connections): wait for the new one's.
		if !harness.WaitFor(20*time.Second, func() bool { return e.Get("/rot/pid").Status == 503 }) {
			t.Errorf("calls still answered after a graceful restart with a certificate the plugin refuses")
		}
		if !e.ErrorLog().Contains("unknown ca") {
			t.Errorf("no log line with the plugin's refusal:\n%s", e.ErrorLog().Since())
		}
		e.ErrorLog().Check(t, "GB0400", "GB0042")

		install(c.client)
		e.Graceful()
		if !harness.WaitFor(20*time.Second, func() bool { return e.Get("/rot/pid").Status == 200 }) {
			t.Errorf("calls still failing after the right certificate came back")
		}
		e.ErrorLog().Check(t, "GB0400", "GB0042")
	})
}
