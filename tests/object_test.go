package tests

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gobridge/gobridge/tests/harness"
)

// selfSigned writes a self-signed certificate and key for cn into dir and
// returns their paths and the tls.Certificate.
func selfSigned(t *testing.T, dir, cn string) (string, string, tls.Certificate) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"gobridge tests"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:     []string{cn},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
	cp, kp := filepath.Join(dir, cn+".crt"), filepath.Join(dir, cn+".key")
	if err := os.WriteFile(cp, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kp, keyPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return cp, kp, c
}

// TestRequestObject: the members of the second slice, read in the same
// snapshot and written back from a phase: allowed methods, virtual host
// names and default-ness, Defines, TLS facts (mod_ssl), connection notes,
// and Last-Modified/ETag from a phase.
func TestRequestObject(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		e := harness.New(t, build, mpm)
		_, modules, _ := harness.FindHTTPD()
		tlsPort := harness.FreePort(t)
		crt, key, _ := selfSigned(t, e.Root, "gb-server.test")
		_, _, client := selfSigned(t, e.Root, "gb-client")
		e.SetConf(fmt.Sprintf(`
LoadModule ssl_module %[1]s/mod_ssl.so
SSLSessionCache none
Define GB_TEST_DEFINE
GoBridgePlugin phases %[2]s
GoBridgePlugin state %[3]s
<Location /obj>
    GoBridgeHandler state
    GoBridgeFixupHandler phases
</Location>
<VirtualHost *:%[4]d>
    ServerName first.test
</VirtualHost>
<VirtualHost *:%[4]d>
    ServerName second.test
    ServerAlias alias.test *.wild.test
</VirtualHost>
Listen 127.0.0.1:%[5]d
<VirtualHost 127.0.0.1:%[5]d>
    ServerName gb-server.test
    SSLEngine on
    SSLCertificateFile %[6]s
    SSLCertificateKeyFile %[7]s
    SSLVerifyClient optional_no_ca
</VirtualHost>
`, modules, e.Bin("phases"), e.Bin("state"), e.Port, tlsPort, crt, key))
		e.Start()
		log := e.ErrorLog()
		// mod_ssl's start-up warnings about this test setup.
		log.Check(t, "AH01882", "AH01873", "AH01909")

		getHost := func(host, path string, hdrs ...string) *harness.Response {
			req, _ := http.NewRequest("GET", e.URL(path), nil)
			req.Host = host
			for _, h := range hdrs {
				k, v, _ := strings.Cut(h, ": ")
				req.Header.Add(k, v)
			}
			return harness.Do(t, req)
		}

		t.Run("virtual host facts and Defines", func(t *testing.T) {
			m := kv(getHost("alias.test", "/obj").Body)
			if m["server"] != "second.test" || m["aliases"] != "alias.test,*.wild.test" || m["virtual"] != "true" ||
				m["default"] != "false" {
				t.Errorf("Host alias.test: %v; want second.test, its aliases, virtual, not default", m)
			}
			m = kv(getHost("other.test", "/obj").Body)
			if m["server"] != "first.test" || m["virtual"] != "true" || m["default"] != "true" {
				t.Errorf("Host other.test: %v; want first.test, the default vhost", m)
			}
			if !strings.Contains(","+m["defines"]+",", ",GB_TEST_DEFINE,") {
				t.Errorf("defines = %q; want GB_TEST_DEFINE", m["defines"])
			}
			if m["tls"] != "none" || m["secure"] != "false" {
				t.Errorf("plain HTTP: tls=%s secure=%s; want none false", m["tls"], m["secure"])
			}
			log.Check(t)
		})

		t.Run("allowed methods: read, set, and httpd's Allow on 405", func(t *testing.T) {
			m := kv(getHost("first.test", "/obj", "X-Gb-phases-fixups: allow=GET,POST,X-GB").Body)
			if m["allowed"] != "GET,POST,X-GB" {
				t.Errorf("allowed = %q; want GET,POST,X-GB", m["allowed"])
			}
			r := getHost("first.test", "/obj", "X-Gb-phases-fixups: allow=GET,X-GB;status=405")
			if allow := r.Header.Get("Allow"); r.Status != 405 || !strings.Contains(allow, "GET") ||
				!strings.Contains(allow, "X-GB") || strings.Contains(allow, "POST") {
				t.Errorf("= %d Allow %q; want 405 with GET and X-GB", r.Status, allow)
			}
			log.Check(t)
		})

		t.Run("Last-Modified and ETag from a phase", func(t *testing.T) {
			r := getHost("first.test", "/obj", "X-Gb-phases-fixups: mtime=1700000000;etag=v1")
			if lm := r.Header.Get("Last-Modified"); lm != time.Unix(1700000000, 0).UTC().Format(http.TimeFormat) {
				t.Errorf("Last-Modified = %q", lm)
			}
			if r.Header.Get("ETag") != `"v1"` || kv(r.Body)["mtime"] != "1700000000" {
				t.Errorf("ETag %q, handler saw mtime %s; want \"v1\" and 1700000000", r.Header.Get("ETag"), kv(r.Body)["mtime"])
			}
			// Never in the future (ap_set_last_modified).
			future := time.Now().Add(48 * time.Hour).Unix()
			r = getHost("first.test", "/obj", fmt.Sprintf("X-Gb-phases-fixups: mtime=%d", future))
			if lm, err := http.ParseTime(r.Header.Get("Last-Modified")); err != nil || lm.After(time.Now().Add(time.Minute)) {
				t.Errorf("Last-Modified %q for a future mtime; want at most the request time", r.Header.Get("Last-Modified"))
			}
			log.Check(t)
		})

		t.Run("connection notes last for the connection", func(t *testing.T) {
			c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1}}
			defer c.CloseIdleConnections()
			for i := 1; i <= 3; i++ {
				req, _ := http.NewRequest("GET", e.URL("/obj"), nil)
				req.Header.Set("X-Gb-phases-fixups", "cnotecount=visits")
				resp, err := c.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if got, want := kv(string(b))["connnotes"], fmt.Sprintf("visits:%d", i); got != want {
					t.Errorf("request %d on one connection: conn notes %q; want %q", i, got, want)
				}
			}
			// A new connection starts without them.
			r := getHost("first.test", "/obj")
			if got := kv(r.Body)["connnotes"]; got != "" {
				t.Errorf("new connection: conn notes %q; want none", got)
			}
			log.Check(t)
		})

		t.Run("TLS facts from mod_ssl", func(t *testing.T) {
			for _, withCert := range []bool{false, true} {
				cfg := &tls.Config{InsecureSkipVerify: true, ServerName: "gb-server.test"}
				if withCert {
					cfg.Certificates = []tls.Certificate{client}
				}
				c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
				resp, err := c.Get(fmt.Sprintf("https://127.0.0.1:%d/obj", tlsPort))
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				c.CloseIdleConnections()
				m := kv(string(b))
				f := strings.Split(m["tls"], "|")
				if len(f) != 5 || !strings.HasPrefix(f[0], "TLSv1.") || f[1] == "" || f[2] != "gb-server.test" || m["secure"] != "true" {
					t.Errorf("tls=%q secure=%s; want protocol, cipher, SNI gb-server.test, secure", m["tls"], m["secure"])
					continue
				}
				// optional_no_ca: GENEROUS, or FAILED:reason on recent mod_ssl.
				if withCert && (f[3] == "NONE" || f[3] == "" || !strings.Contains(f[4], "CN=gb-client")) {
					t.Errorf("client cert: verify %q subject %q; want a verdict and CN=gb-client", f[3], f[4])
				}
				if !withCert && (f[3] != "NONE" || f[4] != "") {
					t.Errorf("no client cert: verify %q subject %q; want NONE and none", f[3], f[4])
				}
			}
			log.Check(t)
		})
	})
}

// TestAuthNameAndRemoteHost: r.AuthName is the AuthName in effect whether or
// not anyone logged in, and r.RemoteHost is the client's name only where
// HostnameLookups makes httpd look it up (the module never looks up itself).
func TestAuthNameAndRemoteHost(t *testing.T) {
	// What the system's resolver says 127.0.0.1 is (/etc/hosts), so the
	// test expects what httpd's own lookup will find.
	want := ""
	if names, err := net.LookupAddr("127.0.0.1"); err == nil && len(names) > 0 {
		want = strings.TrimSuffix(names[0], ".")
	}
	forEachMPM(t, func(t *testing.T, mpm string) {
		e := harness.New(t, build, mpm)
		e.SetConf(fmt.Sprintf(`
LoadModule authn_core_module %s/mod_authn_core.so
GoBridgePlugin echo %s
<Location /who>
    GoBridgeHandler echo
</Location>
<Location /who/realm>
    AuthName "the realm"
</Location>
<Location /who/lookup>
    HostnameLookups On
</Location>
`, build.Modules, e.Bin("echo")))
		e.Start()
		log := e.ErrorLog()
		snap := func(path string) map[string]any {
			t.Helper()
			r := e.AssertGet(path, 200, "")
			var m map[string]any
			if err := json.Unmarshal([]byte(r.Body), &m); err != nil {
				t.Fatalf("GET %s: %v\n%s", path, err, r.Body)
			}
			return m
		}
		for _, tc := range []struct {
			path, authName, remoteHost string
		}{
			{"/who/snapshot", "", ""},
			{"/who/realm/snapshot", "the realm", ""},
			{"/who/lookup/snapshot", "", want},
		} {
			m := snap(tc.path)
			if m["auth_name"] != tc.authName || m["remote_host"] != tc.remoteHost {
				t.Errorf("GET %s: auth_name %q, remote_host %q; want %q, %q", tc.path,
					m["auth_name"], m["remote_host"], tc.authName, tc.remoteHost)
			}
		}
		log.Check(t)
	})
}

// TestAuthTypeInPhases: r.AuthType is the configured AuthType until
// someone authenticated (so a raw authn handler sees "dummy", as
// mod_python's req.auth_type()), and r->ap_auth_type after that.
func TestAuthTypeInPhases(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		e := harness.New(t, build, mpm)
		e.SetConf(fmt.Sprintf(`
LoadModule authn_core_module %s/mod_authn_core.so
GoBridgePlugin phases %s
<Location /at>
    AuthType dummy
    AuthName "dummy realm"
    Require expr "%%{REMOTE_USER} =~ /^.+$/"
    GoBridgeAuthnHandler phases
    GoBridgeFixupHandler phases
    GoBridgeOption phases.authn authtype;userhdr=X-User
    GoBridgeOption phases.fixups authtype
</Location>
<Location /at/none>
    AuthType None
    Require all granted
</Location>
`, build.Modules, e.Bin("phases")))
		e.Start()
		log := e.ErrorLog()
		for _, tc := range []struct {
			path, user string
			status     int
			want       string
		}{
			// The challenge: the authn handler saw the configured type.
			{"/at/x", "", 401, "authn=[dummy]"},
			// Logged in: the handler set "Bearer", which fixups then sees.
			{"/at/x", "ann", 404, "authn=[dummy], fixups=[Bearer]"},
			// AuthType None: no authentication, nothing configured.
			{"/at/none/x", "", 404, "fixups=[]"},
		} {
			req, _ := http.NewRequest("GET", e.URL(tc.path), nil)
			if tc.user != "" {
				req.Header.Set("X-User", tc.user)
			}
			r := harness.Do(t, req)
			got := strings.Join(r.Header.Values("X-Auth-Type"), ", ")
			if r.Status != tc.status || got != tc.want {
				t.Errorf("GET %s (user %q) = %d X-Auth-Type %q; want %d %q", tc.path, tc.user, r.Status, got, tc.status, tc.want)
			}
		}
		log.Check(t)
	})
}

// TestHandlerNotesAndEnv: Request.SetNote and SetEnv in a content handler
// reach httpd: the GoBridgeLogHandler sees the note (mod_python's
// register_cleanup pattern) and the access log both, also when they were
// set after the response was flushed; a key that is not a token is
// refused by SetNote with an error (the plugin logs it), never sent.
func TestHandlerNotesAndEnv(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		e := harness.New(t, build, mpm)
		dir := filepath.Join(e.Root, "gbw")
		if err := os.MkdirAll(dir, 0o777); err != nil {
			t.Fatal(err)
		}
		_ = os.Chmod(dir, 0o777) // the plugin runs as Apache's User
		seen := filepath.Join(dir, "seen")
		access := filepath.Join(e.Root, "logs", "notes_log")
		e.SetConf(fmt.Sprintf(`
GoBridgePlugin echo %s
GoBridgePlugin phases %s
LogFormat "%%U n=%%{chain}n e=%%{GBENV}e" gbnotes
CustomLog %s gbnotes
<Location /n>
    GoBridgeHandler echo
    GoBridgeLogHandler phases
    GoBridgeOption phases.log appendfile=%s
</Location>
`, e.Bin("echo"), e.Bin("phases"), access, seen))
		e.Start()
		log := e.ErrorLog()
		waitFor := func(path, want string) bool {
			return harness.WaitFor(10*time.Second, func() bool {
				b, _ := os.ReadFile(path)
				return strings.Contains(string(b), want)
			})
		}
		for _, tc := range []struct{ name, query, tag string }{
			{"in the last message", "", "one"},
			{"after a flush", "&flush=1", "two"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				path := "/n/setnote"
				e.AssertGet(path+"?note=chain:h-"+tc.tag+"&env=GBENV:v-"+tc.tag+tc.query, 200, "set")
				if want := "/n/setnote 200  chain=h-" + tc.tag; !waitFor(seen, want) {
					b, _ := os.ReadFile(seen)
					t.Errorf("log phase saw %q; want a line with %q", b, want)
				}
				if want := "/n/setnote n=h-" + tc.tag + " e=v-" + tc.tag; !waitFor(access, want) {
					b, _ := os.ReadFile(access)
					t.Errorf("access log %q; want a line with %q", b, want)
				}
				log.Check(t)
			})
		}
		t.Run("a key that is not a token", func(t *testing.T) {
			e.AssertGet("/n/setnote?note=chain:h-three&bad=1", 200, "set")
			if !waitFor(seen, "chain=h-three") {
				t.Errorf("the valid note did not arrive")
			}
			if !harness.WaitFor(5*time.Second, func() bool { return log.Contains("SetNote refused") && log.Contains("is not an HTTP token") }) {
				t.Errorf("no warning for the bad key:\n%s", log.Since())
			}
			log.Check(t, "SetNote refused")
		})
	})
}
