package tests

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobridge/gobridge/tests/harness"
)

// python is the interpreter the example plugin runs with: Debian's, where
// scripts/install-deps.sh puts python3-grpcio (not whatever python3 comes
// first on PATH).
const python = "/usr/bin/python3"

var (
	pyGenOnce sync.Once
	pyGenDir  string
	pyGenErr  error
)

// pythonGenerated runs examples/python/generate.sh once per test run and
// returns the directory of the generated modules.
func pythonGenerated(t *testing.T) string {
	t.Helper()
	pyGenOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gobridge-pygen-")
		if err != nil {
			pyGenErr = err
			return
		}
		pyGenDir = filepath.Join(dir, "gen")
		cmd := exec.Command(filepath.Join(harness.RepoRoot(), "examples", "python", "generate.sh"), pyGenDir)
		cmd.Env = append(os.Environ(), "PYTHON="+python)
		if out, err := cmd.CombinedOutput(); err != nil {
			pyGenErr = fmt.Errorf("examples/python/generate.sh: %v\n%s", err, out)
		}
	})
	if pyGenErr != nil {
		t.Fatal(pyGenErr)
	}
	return pyGenDir
}

// stagePython copies the Python plugin and its generated modules into the
// server root (readable by Apache's User, like the staged Go binaries) and
// returns the directory holding plugin.py.
func stagePython(t *testing.T, e *harness.Env) string {
	t.Helper()
	dst := filepath.Join(e.Root, "python")
	src := filepath.Join(harness.RepoRoot(), "examples", "python")
	for _, f := range []string{"plugin.py", "users.py", "gbplugin"} {
		if err := copyTree(filepath.Join(src, f), filepath.Join(dst, f)); err != nil {
			t.Fatal(err)
		}
	}
	if err := copyTree(pythonGenerated(t), filepath.Join(dst, "gen")); err != nil {
		t.Fatal(err)
	}
	return dst
}

// copyTree copies the Python sources (and nothing else: no caches) under
// src to dst, world-readable.
func copyTree(src, dst string) error {
	return filepath.Walk(src, func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		to := filepath.Join(dst, rel)
		if fi.IsDir() {
			if fi.Name() == "__pycache__" {
				return filepath.SkipDir
			}
			return os.MkdirAll(to, 0o755)
		}
		if !strings.HasSuffix(path, ".py") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			return err
		}
		return os.WriteFile(to, b, 0o644)
	})
}

// pyUsers writes a user table made by the plugin's own --hash-password.
func pyUsers(t *testing.T, dir string, users map[string]string) string {
	t.Helper()
	var table bytes.Buffer
	for name, pw := range users {
		cmd := exec.Command(python, filepath.Join(dir, "plugin.py"), "--hash-password", name)
		cmd.Stdin = strings.NewReader(pw)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("plugin.py --hash-password %s: %v", name, err)
		}
		table.Write(out)
	}
	path := filepath.Join(dir, "users")
	if err := os.WriteFile(path, table.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func pythonConf(e *harness.Env, dir, users string) string {
	plugin := func(name, users string) string {
		return fmt.Sprintf("GoBridgePlugin %s %s -B %s --generated %s --users %s\n", name, python,
			filepath.Join(dir, "plugin.py"), filepath.Join(dir, "gen"), users)
	}
	return authModules(e) + plugin("pyhello", users) +
		// A table that cannot be read: logins must fail closed.
		plugin("pybroken", filepath.Join(dir, "missing-users")) + `
GoBridgeTimeout 10
LimitRequestBody 0
<Location /py>
    GoBridgeHandler pyhello
    GoBridgeOption greeting bonjour
</Location>
<Location /private>
    AuthType Basic
    AuthName "python"
    AuthBasicProvider gobridge
    GoBridgeAuthnProvider pyhello
    Require valid-user
    GoBridgeHandler pyhello
</Location>
<Location /members>
    AuthType Basic
    AuthName "python"
    AuthBasicProvider gobridge
    GoBridgeAuthnProvider pyhello
    Require gobridge pyhello user alice carol
    GoBridgeHandler pyhello
</Location>
<Location /misconfigured>
    AuthType Basic
    AuthName "python"
    AuthBasicProvider gobridge
    GoBridgeAuthnProvider pyhello
    Require gobridge pyhello group admins
    GoBridgeHandler pyhello
</Location>
<Location /py-access>
    # The plugin's Describe says it has no access phase: gobridged says so
    # at start, and the module's call is answered UNIMPLEMENTED.
    GoBridgeAccessHandler pyhello
</Location>
<Location /static>
    # The fixups phase in Python around httpd's own static files, which the
    # handler declines (.txt) for httpd's default handler to serve.
    GoBridgeFixupHandler pyhello
    GoBridgeHandler pyhello
</Location>
<Location /broken>
    AuthType Basic
    AuthName "broken"
    AuthBasicProvider gobridge
    GoBridgeAuthnProvider pybroken
    Require valid-user
    GoBridgeHandler pybroken
</Location>
`
}

// TestPythonPlugin runs examples/python/plugin.py, a plugin written in
// Python with grpcio, as gobridged runs any plugin: the content handler,
// request body in and out, the auth provider, and a Python exception.
func TestPythonPlugin(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		e := harness.New(t, build, mpm)
		dir := stagePython(t, e)
		users := pyUsers(t, dir, map[string]string{"alice": "wonder-land-7", "bob": "builder-9"})
		if err := os.MkdirAll(filepath.Join(e.Root, "htdocs", "static"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(e.Root, "htdocs", "static", "file.txt"), []byte("a static file\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		e.SetConf(pythonConf(e, dir, users))
		e.Start()
		log := e.ErrorLog()

		t.Run("Describe checked against httpd.conf", func(t *testing.T) {
			const want = `plugin "pyhello" does not implement the access phase`
			if !harness.WaitFor(10*time.Second, func() bool { return log.Contains(want) }) {
				t.Errorf("gobridged did not report the missing phase from the plugin's Describe:\n%s", log.Since())
			}
			e.AssertGet("/py-access/x", 500, "")
			if !harness.WaitFor(10*time.Second, func() bool { return log.Contains("GB0202") }) {
				t.Errorf("no GB0202 for the phase the plugin does not implement")
			}
			if since := log.Since(); !strings.Contains(since, "grpc-status 12") {
				t.Errorf("GB0202 does not say UNIMPLEMENTED (12):\n%s", since)
			}
			log.Check(t, want, "GB0202")
		})

		t.Run("fixups phase and Declined", func(t *testing.T) {
			// The handler declines: httpd's default handler serves the file,
			// with the header the fixups phase set.
			r := e.AssertGet("/static/file.txt", 200, "a static file")
			if got := r.Header.Get("X-Python-Fixup"); got != "seen /static/file.txt" {
				t.Errorf("X-Python-Fixup = %q; want the fixups phase's header", got)
			}
			// The same location, a path the handler answers itself.
			r = e.AssertGet("/static/page", 200, "uri: /static/page\n")
			if got := r.Header.Get("X-Python-Fixup"); got != "seen /static/page" {
				t.Errorf("X-Python-Fixup = %q on the handler's page; want the fixups phase's header", got)
			}
			log.Check(t)
		})

		t.Run("facts page", func(t *testing.T) {
			req, _ := http.NewRequest("GET", e.URL("/py/hello?x=1&y=two"), nil)
			req.Header.Set("User-Agent", "gobridge-test/1")
			r := harness.Do(t, req)
			if r.Status != 200 {
				t.Fatalf("GET /py/hello: status = %d; want 200 (body %q)", r.Status, r.Body)
			}
			for _, want := range []string{"Hello from Python 3.", "method: GET", "uri: /py/hello\n", "args: x=1&y=two",
				"protocol: HTTP/1.1", "client: 127.0.0.1", "user: -", "user-agent: gobridge-test/1",
				"greeting: bonjour", "plugin: pyhello"} {
				if !strings.Contains(r.Body, want) {
					t.Errorf("GET /py/hello: body lacks %q:\n%s", want, r.Body)
				}
			}
			if got := r.Header.Get("X-Plugin-Language"); got != "Python" {
				t.Errorf("X-Plugin-Language = %q; want Python", got)
			}
			if ct := r.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
				t.Errorf("Content-Type = %q; want text/plain; charset=utf-8", ct)
			}
			// Plugins never run as root: as root, httpd runs them as User.
			if e.User != "" && !strings.Contains(r.Body, "("+e.User+")") {
				t.Errorf("the plugin does not run as %s:\n%s", e.User, r.Body)
			}
			if strings.Contains(r.Body, " uid 0 ") {
				t.Errorf("the plugin runs as root:\n%s", r.Body)
			}
			log.Check(t)
		})

		t.Run("POST body echoed", func(t *testing.T) {
			// Small (all in the first message) and large (many read_body
			// questions, many body chunks back), chunked or with a length.
			big := make([]byte, 700<<10)
			if _, err := rand.Read(big); err != nil {
				t.Fatal(err)
			}
			for _, tc := range []struct {
				name    string
				body    []byte
				chunked bool
			}{
				{"small", []byte("ping from the test"), false},
				{"large", big, false},
				{"large chunked", big, true},
			} {
				var req *http.Request
				if tc.chunked {
					req, _ = http.NewRequest("POST", e.URL("/py/echo"), struct{ *bytes.Reader }{bytes.NewReader(tc.body)})
				} else {
					req, _ = http.NewRequest("POST", e.URL("/py/echo"), bytes.NewReader(tc.body))
				}
				req.Header.Set("Content-Type", "application/x-test")
				r := harness.Do(t, req)
				if r.Status != 200 {
					t.Errorf("%s: POST /py/echo: status = %d; want 200 (body %.200q)", tc.name, r.Status, r.Body)
					continue
				}
				if r.Body != string(tc.body) {
					t.Errorf("%s: POST /py/echo: got %d bytes back; want the %d sent", tc.name, len(r.Body), len(tc.body))
				}
				if got := r.Header.Get("X-Body-Length"); got != strconv.Itoa(len(tc.body)) {
					t.Errorf("%s: X-Body-Length = %q; want %d", tc.name, got, len(tc.body))
				}
				if got := r.Header.Get("Content-Type"); got != "application/x-test" {
					t.Errorf("%s: Content-Type = %q; want application/x-test", tc.name, got)
				}
			}
			log.Check(t)
		})

		t.Run("concurrent requests", func(t *testing.T) {
			// More calls at once than one httpd thread makes: the plugin's
			// threads and the module's pooled connections.
			const workers, each = 12, 20
			var wg sync.WaitGroup
			errs := make(chan string, workers*each)
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					for i := 0; i < each; i++ {
						body := fmt.Sprintf("worker %d request %d", w, i)
						req, _ := http.NewRequest("POST", e.URL("/py/echo"), strings.NewReader(body))
						// The event MPM closes idle keep-alive connections
						// of a child it retires; a request racing that close
						// was never received, and RFC 9112 §9.3.1 lets the
						// client resend it. Go does so for requests it knows
						// are safe to replay.
						req.Header.Set("Idempotency-Key", fmt.Sprint(w, "-", i))
						resp, err := harness.Client.Do(req)
						if err != nil {
							errs <- err.Error()
							continue
						}
						got, _ := io.ReadAll(resp.Body)
						resp.Body.Close()
						if resp.StatusCode != 200 || string(got) != body {
							errs <- fmt.Sprintf("POST %q: %d %q", body, resp.StatusCode, got)
						}
					}
				}(w)
			}
			wg.Wait()
			close(errs)
			n := 0
			for err := range errs {
				if n++; n <= 5 {
					t.Error(err)
				}
			}
			if n > 0 {
				t.Errorf("%d of %d requests failed", n, workers*each)
			}
			log.Check(t)
		})

		t.Run("auth provider", func(t *testing.T) {
			for _, tc := range []struct {
				name, user, pw string
				status         int
				want           string
			}{
				{"no credentials", "", "", 401, ""},
				{"wrong password", "alice", "wrong", 401, ""},
				{"unknown user", "mallory", "wonder-land-7", 401, ""},
				{"right password", "alice", "wonder-land-7", 200, "user: alice"},
				{"another user", "bob", "builder-9", 200, "user: bob"},
			} {
				req, _ := http.NewRequest("GET", e.URL("/private/page"), nil)
				if tc.user != "" {
					req.SetBasicAuth(tc.user, tc.pw)
				}
				r := harness.Do(t, req)
				if r.Status != tc.status {
					t.Errorf("%s: GET /private/page: status = %d; want %d", tc.name, r.Status, tc.status)
				}
				if tc.status == 401 && !strings.Contains(r.Header.Get("WWW-Authenticate"), `realm="python"`) {
					t.Errorf("%s: WWW-Authenticate = %q; want the python realm", tc.name, r.Header.Get("WWW-Authenticate"))
				}
				if tc.want != "" && !strings.Contains(r.Body, tc.want) {
					t.Errorf("%s: body lacks %q:\n%s", tc.name, tc.want, r.Body)
				}
			}
			// mod_auth_basic logs the failed logins (AH01617 wrong
			// password, AH01618 user not found).
			log.Check(t, "AH01617", "AH01618")
		})

		t.Run("authz provider", func(t *testing.T) {
			for _, tc := range []struct {
				name, path, user, pw string
				status               int
			}{
				{"no login", "/members/", "", "", 401},
				{"listed user", "/members/", "alice", "wonder-land-7", 200},
				{"user not listed", "/members/", "bob", "builder-9", 401},
				// An argument the plugin does not know: an error, not a grant.
				{"misconfigured line", "/misconfigured/", "alice", "wonder-land-7", 500},
			} {
				req, _ := http.NewRequest("GET", e.URL(tc.path), nil)
				if tc.user != "" {
					req.SetBasicAuth(tc.user, tc.pw)
				}
				if r := harness.Do(t, req); r.Status != tc.status {
					t.Errorf("%s: GET %s: status = %d; want %d", tc.name, tc.path, r.Status, tc.status)
				}
			}
			if !harness.WaitFor(10*time.Second, func() bool { return log.Contains("plugin pyhello: authorization check failed") }) {
				t.Errorf("no line from the plugin about the misconfigured Require line")
			}
			// AH01631: mod_authz_core's line for bob; GB0264 and GB0255: the
			// module's and the plugin's for the bad line.
			log.Check(t, "AH01631", "GB0264", "GB0255: pyhello: authorization check failed", "authorization check failed")
		})

		t.Run("auth fails closed", func(t *testing.T) {
			req, _ := http.NewRequest("GET", e.URL("/broken/page"), nil)
			req.SetBasicAuth("alice", "wonder-land-7")
			r := harness.Do(t, req)
			if r.Status != 500 {
				t.Errorf("GET /broken/page with an unreadable user table: status = %d; want 500", r.Status)
			}
			// The plugin's own line (with the traceback) comes through
			// gobridged, after the module's: wait for it.
			if !harness.WaitFor(10*time.Second, func() bool { return log.Contains("plugin pybroken: password check failed") }) {
				t.Errorf("no line from the plugin about the failed check")
			}
			since := log.Since()
			for _, want := range []string{"GB0258", "GB0255: pybroken: password check failed: FileNotFoundError"} {
				if !strings.Contains(since, want) {
					t.Errorf("error log lacks %q:\n%s", want, since)
				}
			}
			log.Check(t, "GB0258", "GB0255", "password check failed")
		})

		t.Run("HTTPError gives httpd's error page", func(t *testing.T) {
			// RESULT_HTTP_STATUS before a head: httpd's own 404 document.
			e.AssertGet("/py/missing", 404, "Not Found")
			log.Check(t)
		})

		t.Run("exception gives 500", func(t *testing.T) {
			e.AssertGet("/py/boom", 500, "")
			if !harness.WaitFor(10*time.Second, func() bool { return log.Contains("plugin pyhello: handler raised RuntimeError") }) {
				t.Errorf("no line from the plugin about the exception")
			}
			since := log.Since()
			for _, want := range []string{"GB0037", "handler raised RuntimeError: boom"} {
				if !strings.Contains(since, want) {
					t.Errorf("error log lacks %q:\n%s", want, since)
				}
			}
			// The plugin keeps serving.
			e.AssertGet("/py/after", 200, "uri: /py/after")
			log.Check(t, "GB0037", "handler raised RuntimeError")
		})
	})
}
