package harness

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
)

// Require reports whether a missing httpd must fail the run instead of
// skipping it. CI sets GOBRIDGE_REQUIRE_HTTPD=1: it never passes by skipping.
func Require() bool { return os.Getenv("GOBRIDGE_REQUIRE_HTTPD") == "1" }

// RepoRoot returns the repository's top directory.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// FindHTTPD locates httpd and its modules directory (HTTPD and
// HTTPD_MODULES override); it returns an error saying what to install.
func FindHTTPD() (httpd, modules string, err error) {
	httpd = os.Getenv("HTTPD")
	if httpd == "" {
		for _, c := range []string{"/usr/sbin/apache2", "/usr/sbin/httpd"} {
			if _, err := os.Stat(c); err == nil {
				httpd = c
				break
			}
		}
	}
	if httpd == "" {
		return "", "", fmt.Errorf("no httpd found: install apache2 and apache2-dev (make deps), or set HTTPD")
	}
	modules = os.Getenv("HTTPD_MODULES")
	if modules == "" {
		out, err := exec.Command("apxs", "-q", "LIBEXECDIR").Output()
		if err != nil {
			return "", "", fmt.Errorf("apxs -q LIBEXECDIR: %v: install apache2-dev (make deps)", err)
		}
		modules = string(trimNL(out))
	}
	return httpd, modules, nil
}

// BuildAll builds mod_gobridge.so (make -C mod_gobridge), gobridged and the
// named plugin packages into dir, and returns where they are.
func BuildAll(dir string, plugins map[string]string) (*Build, error) {
	httpd, modules, err := FindHTTPD()
	if err != nil {
		return nil, err
	}
	root := RepoRoot()
	make := exec.Command("make", "-s", "-C", filepath.Join(root, "mod_gobridge"))
	if out, err := make.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building mod_gobridge: %v\n%s", err, out)
	}
	b := &Build{
		Module:  filepath.Join(root, "mod_gobridge", ".libs", "mod_gobridge.so"),
		Daemon:  filepath.Join(dir, "gobridged"),
		Plugins: map[string]string{},
		HTTPD:   httpd,
		Modules: modules,
	}
	pkgs := map[string]string{b.Daemon: "./cmd/gobridged"}
	for name, pkg := range plugins {
		b.Plugins[name] = filepath.Join(dir, name)
		pkgs[b.Plugins[name]] = pkg
	}
	for out, pkg := range pkgs {
		cmd := exec.Command("go", "build", "-o", out, pkg)
		cmd.Dir = root
		if o, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go build %s: %v\n%s", pkg, err, o)
		}
	}
	return b, nil
}

func trimNL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}
