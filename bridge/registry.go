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

// dirLock is gobridged's claim on a runtime directory: gobridged.pid, open
// and flock(2)ed for as long as the supervisor lives, so that a second
// gobridged on the same directory is refused instead of removing the first
// one's sockets.
type dirLock struct {
	f    *os.File
	once sync.Once
}

// lockDir opens and locks DIR/gobridged.pid.
func lockDir(dir string) (*dirLock, error) {
	path := filepath.Join(dir, PIDFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRuntimeDir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b, _ := os.ReadFile(path)
		_ = f.Close()
		return nil, fmt.Errorf("%w: another gobridged (pid %s) already runs on %s; stop it first",
			ErrRuntimeDir, strings.TrimSpace(string(b)), dir)
	}
	return &dirLock{f: f}, nil
}

// writePID replaces the pid file's content with pid.
func (l *dirLock) writePID(pid int) error {
	if err := l.f.Truncate(0); err != nil {
		return err
	}
	_, err := l.f.WriteAt([]byte(strconv.Itoa(pid)+"\n"), 0)
	return err
}

// release removes the pid file and drops the lock. It is idempotent.
func (l *dirLock) release() {
	l.once.Do(func() {
		_ = os.Remove(l.f.Name())
		_ = l.f.Close()
	})
}
