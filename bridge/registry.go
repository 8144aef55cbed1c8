package bridge

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// Names inside the runtime directory (docs/architecture.md §1).
const (
	// PIDFile holds gobridged's pid.
	PIDFile = "gobridged.pid"
	// SocketDir is PLUGIN_UNIX_SOCKET_DIR, relative to the runtime directory.
	SocketDir = "s"
	// SocketSuffix is appended to a plugin's name to form its published path.
	SocketSuffix = ".sock"
)

// registry publishes each plugin's current socket as the symlink
// DIR/NAME.sock, the stable path mod_gobridge connects to. A symlink is
// replaced atomically (created under a temporary name, then rename(2)d over
// the old one), so a connecting child sees either the old or the new socket,
// never nothing. A registry is safe for concurrent use.
type registry struct {
	dir string
	mu  sync.Mutex
	cur map[string]string // name → socket path currently published
}

func newRegistry(dir string) *registry {
	return &registry{dir: dir, cur: make(map[string]string)}
}

// Path returns the published path of plugin name.
func (r *registry) Path(name string) string {
	return filepath.Join(r.dir, name+SocketSuffix)
}

// Publish points NAME.sock at socket. The link is relative when socket lies
// inside the runtime directory, so the directory can be bind-mounted.
func (r *registry) Publish(name, socket string) error {
	target := socket
	if rel, err := filepath.Rel(r.dir, socket); err == nil && !strings.HasPrefix(rel, "..") {
		target = rel
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	tmp := filepath.Join(r.dir, "."+name+SocketSuffix+".tmp-"+hex.EncodeToString(rnd[:]))
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := os.Symlink(target, tmp); err != nil {
		return fmt.Errorf("publish plugin %q: %w", name, err)
	}
	if err := os.Rename(tmp, r.Path(name)); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("publish plugin %q: %w", name, err)
	}
	r.cur[name] = socket
	return nil
}

// Unpublish removes NAME.sock if it still points at socket, and reports
// whether it did. A replacement published in the meantime is left alone.
func (r *registry) Unpublish(name, socket string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cur[name] != socket {
		return false
	}
	delete(r.cur, name)
	err := os.Remove(r.Path(name))
	return err == nil || os.IsNotExist(err)
}

// Current returns the socket plugin name is published at, or "".
func (r *registry) Current(name string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cur[name]
}

// cleanStale removes what an earlier gobridged that did not exit cleanly
// may have left: NAME.sock symlinks, temporary links, and unix sockets in
// s/. It never removes anything else.
func (r *registry) cleanStale() error {
	entries, err := os.ReadDir(r.dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		n := e.Name()
		if e.Type()&fs.ModeSymlink != 0 && (strings.HasSuffix(n, SocketSuffix) || strings.Contains(n, SocketSuffix+".tmp-")) {
			_ = os.Remove(filepath.Join(r.dir, n))
		}
	}
	sdir := filepath.Join(r.dir, SocketDir)
	entries, err = os.ReadDir(sdir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Type()&fs.ModeSocket != 0 {
			_ = os.Remove(filepath.Join(sdir, e.Name()))
		}
	}
	return nil
}

// checkPrivateDir checks that dir is a real directory (not a symlink),
// owned by the effective user, with no access for group or others: the
// promise docs/architecture.md §1 makes about the runtime directory.
func checkPrivateDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrRuntimeDir, err)
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return fmt.Errorf("%w: %s is a symlink; point GoBridgeSocketDir at a real directory", ErrRuntimeDir, dir)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%w: %s is not a directory", ErrRuntimeDir, dir)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("%w: %s is owned by uid %d, not by gobridged's uid %d; it must belong to Apache's User", ErrRuntimeDir, dir, st.Uid, os.Geteuid())
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("%w: %s has mode %#o; it must be 0700 (chmod 700 %s)", ErrRuntimeDir, dir, fi.Mode().Perm(), dir)
	}
	return nil
}

// ensureSocketDir creates DIR/s with mode 0700, or checks the existing one.
func ensureSocketDir(dir string) (string, error) {
	sdir := filepath.Join(dir, SocketDir)
	if err := os.Mkdir(sdir, 0o700); err != nil && !os.IsExist(err) {
		return "", fmt.Errorf("%w: %v", ErrRuntimeDir, err)
	}
	if err := checkPrivateDir(sdir); err != nil {
		return "", err
	}
	return sdir, nil
}

// writePIDFile writes pid to DIR/gobridged.pid atomically.
func writePIDFile(dir string, pid int) error {
	path := filepath.Join(dir, PIDFile)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(pid)+"\n"), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// removePIDFile removes DIR/gobridged.pid if it still holds pid.
func removePIDFile(dir string, pid int) {
	path := filepath.Join(dir, PIDFile)
	b, err := os.ReadFile(path)
	if err == nil && strings.TrimSpace(string(b)) == strconv.Itoa(pid) {
		_ = os.Remove(path)
	}
}
