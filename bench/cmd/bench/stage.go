package main

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// Hello is the response body every configuration must serve.
const Hello = "Hello, world\n"

// The Basic credentials of the authentication rows.
const (
	authUser = "bench"
	authPass = "bench-secret"
)

// Stage is the 0755 directory under /tmp that holds everything httpd and
// the backends read: binaries, documents, htpasswd files, handlers and one
// server root per configuration. The checkout may live where Apache's User
// cannot enter, so nothing is read from it at run time.
type Stage struct {
	Root     string
	User     string // Apache's User (www-data when we are root), "" otherwise
	UID, GID int    // the backends run as this user too

	Hello string // the Go backend (net/http, FastCGI, CGI, authorizer)

	// gobridge artifacts; GBMissing says why a gobridge row cannot run.
	GBModule, GBDaemon, GBNoop string
	GBMissing                  string
	GBAuth                     string // the gobridge auth plugin, "" until auth/ has one

	SHA1File, BcryptFile string
	PyDir, LuaFile       string
	Docs                 string

	rows int // rows run so far, for short per-row directory names
}

func newStage(o *Options) (*Stage, error) {
	// A short name: gobridge's socket directory lives here and unix socket
	// paths are limited to 108 bytes.
	root, err := os.MkdirTemp("", "gbb-")
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(root, 0o755); err != nil {
		return nil, err
	}
	st := &Stage{Root: root, UID: os.Getuid(), GID: os.Getgid()}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("www-data")
		if err != nil {
			return nil, fmt.Errorf("running as root needs the www-data user: %v", err)
		}
		st.User = "www-data"
		st.UID, _ = strconv.Atoi(u.Uid)
		st.GID, _ = strconv.Atoi(u.Gid)
	}
	for _, d := range []string{"bin", "htdocs", "auth", "py", "lua"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return nil, err
		}
	}
	bin := func(name string) string { return filepath.Join(root, "bin", name) }

	// The Go backend is required: every peer row uses it.
	st.Hello = bin("hello")
	if out, err := goBuild(o.Repo, st.Hello, "./bench/backends/hello"); err != nil {
		return nil, fmt.Errorf("building bench/backends/hello: %v\n%s", err, out)
	}

	// gobridge: the module (built by the top-level Makefile's `module`
	// target), gobridged and the noop plugin. Any of them may not exist yet;
	// the gobridge rows then print n/a with the reason.
	st.prepareGobridge(o)

	st.Docs = filepath.Join(root, "htdocs")
	if err := os.WriteFile(filepath.Join(st.Docs, "hello.txt"), []byte(Hello), 0o644); err != nil {
		return nil, err
	}

	// htpasswd files, made by the real tool.
	st.SHA1File = filepath.Join(root, "auth", "sha1.htpasswd")
	st.BcryptFile = filepath.Join(root, "auth", "bcrypt.htpasswd")
	for _, f := range []struct {
		path string
		args []string
	}{
		{st.SHA1File, []string{"-c", "-b", "-s"}},
		{st.BcryptFile, []string{"-c", "-b", "-B", "-C", "5"}},
	} {
		args := append(f.args, f.path, authUser, authPass)
		if out, err := exec.Command("htpasswd", args...).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("htpasswd %v: %v\n%s", args, err, out)
		}
		_ = os.Chmod(f.path, 0o644)
	}

	// mod_python handler.
	st.PyDir = filepath.Join(root, "py")
	py := `from mod_python import apache

HELLO = b"Hello, world\n"


def handler(req):
    req.content_type = "text/plain"
    req.set_content_length(len(HELLO))
    req.write(HELLO)
    return apache.OK
`
	if err := os.WriteFile(filepath.Join(st.PyDir, "bench_hello.py"), []byte(py), 0o644); err != nil {
		return nil, err
	}

	// mod_lua handler.
	st.LuaFile = filepath.Join(root, "lua", "hello.lua")
	lua := `function handle(r)
    r.content_type = "text/plain"
    r.headers_out["Content-Length"] = "13"
    r:write("Hello, world\n")
    return apache2.OK
end
`
	if err := os.WriteFile(st.LuaFile, []byte(lua), 0o644); err != nil {
		return nil, err
	}
	return st, nil
}

func (st *Stage) prepareGobridge(o *Options) {
	bin := func(name string) string { return filepath.Join(st.Root, "bin", name) }
	var missing []string

	mod := filepath.Join(o.Repo, "mod_gobridge", ".libs", "mod_gobridge.so")
	if _, err := os.Stat(filepath.Join(o.Repo, "mod_gobridge", "Makefile")); err == nil {
		if out, err := exec.Command("make", "-C", o.Repo, "module").CombinedOutput(); err != nil {
			missing = append(missing, "module does not build")
			logf("gobridge: `make module` failed (gobridge rows will be n/a):\n%s", tail(string(out), 15))
		}
	}
	if _, err := os.Stat(mod); err != nil {
		if len(missing) == 0 {
			missing = append(missing, "no mod_gobridge/.libs/mod_gobridge.so")
		}
	} else {
		st.GBModule = bin("mod_gobridge.so")
		if err := copyFile(mod, st.GBModule, 0o755); err != nil {
			missing = append(missing, err.Error())
		}
	}

	st.GBDaemon = bin("gobridged")
	if out, err := goBuild(o.Repo, st.GBDaemon, "./cmd/gobridged"); err != nil {
		missing = append(missing, "cmd/gobridged does not build")
		logf("gobridge: go build ./cmd/gobridged failed:\n%s", tail(out, 10))
	}
	st.GBNoop = bin("noop")
	if out, err := goBuild(o.Repo, st.GBNoop, "./bench/plugins/noop"); err != nil {
		missing = append(missing, "bench/plugins/noop does not build")
		logf("gobridge: go build ./bench/plugins/noop failed:\n%s", tail(out, 10))
	}
	if out, err := goBuild(o.Repo, bin("gobridge-auth"), "./cmd/gobridge-auth"); err != nil {
		logf("gobridge: go build ./cmd/gobridge-auth failed:\n%s", tail(out, 10))
	} else {
		st.GBAuth = bin("gobridge-auth")
	}
	st.GBMissing = strings.Join(missing, "; ")
	if st.GBMissing != "" {
		logf("gobridge rows will be n/a: %s", st.GBMissing)
	}
}

func goBuild(repo, out, pkg string) (string, error) {
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = repo
	b, err := cmd.CombinedOutput()
	if err == nil {
		_ = os.Chmod(out, 0o755)
	}
	return string(b), err
}

func copyFile(src, dst string, mode os.FileMode) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, mode)
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func lookPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	if name == "go" {
		if _, err := os.Stat("/usr/local/go/bin/go"); err == nil {
			return "/usr/local/go/bin/go", nil
		}
	}
	return "", fmt.Errorf("%s not found", name)
}

// findHTTPD returns the httpd binary and its modules directory, as apxs
// reports them (Debian: /usr/sbin/apache2, /usr/lib/apache2/modules).
func findHTTPD() (string, string, error) {
	q := func(v string) string {
		out, err := exec.Command("apxs", "-q", v).Output()
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(out))
	}
	httpd := os.Getenv("HTTPD")
	if httpd == "" {
		if sbin, prog := q("SBINDIR"), q("progname"); sbin != "" && prog != "" {
			httpd = filepath.Join(sbin, prog)
		}
	}
	if httpd == "" {
		httpd = "/usr/sbin/apache2"
	}
	mods := q("LIBEXECDIR")
	if mods == "" {
		mods = "/usr/lib/apache2/modules"
	}
	if _, err := os.Stat(httpd); err != nil {
		return "", "", fmt.Errorf("httpd not found at %s (apt-get install apache2 apache2-dev)", httpd)
	}
	return httpd, mods, nil
}

func basicAuth() string { return "Basic " + basicAuthOf(authUser, authPass) }

func basicAuthOf(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
}

// --- cleanup registry -------------------------------------------------------

var (
	cleanupMu sync.Mutex
	cleanups  []func()
)

// onCleanup registers f to run (last registered first) when the benchmark
// ends, normally or on a signal.
func onCleanup(f func()) int {
	cleanupMu.Lock()
	defer cleanupMu.Unlock()
	cleanups = append(cleanups, f)
	return len(cleanups) - 1
}

// runCleanup runs and forgets one registered cleanup.
func runCleanup(i int) {
	cleanupMu.Lock()
	f := cleanups[i]
	cleanups[i] = nil
	cleanupMu.Unlock()
	if f != nil {
		f()
	}
}

func cleanupAll() {
	cleanupMu.Lock()
	fs := cleanups
	cleanups = nil
	cleanupMu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		if fs[i] != nil {
			fs[i]()
		}
	}
}

// errorLines returns the error log lines at level error or worse.
func errorLines(path string, from int) []string {
	b, err := os.ReadFile(path)
	if err != nil || from > len(b) {
		return nil
	}
	b = b[from:]
	var out []string
	for _, l := range bytes.Split(b, []byte("\n")) {
		s := string(l)
		for _, lvl := range []string{":error]", ":crit]", ":alert]", ":emerg]"} {
			if strings.Contains(s, lvl) {
				out = append(out, s)
				break
			}
		}
	}
	return out
}
