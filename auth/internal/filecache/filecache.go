// Package filecache keeps a parsed copy of a file and re-reads it when the
// file changes (size, modification time, inode or device), the way
// mod_authn_file sees every edit of an htpasswd file without a restart.
package filecache

import (
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"
)

// File is a parsed file of type T, safe for concurrent use.
type File[T any] struct {
	path  string
	parse func([]byte) (T, error)

	// MinCheck is the least time between two stat calls (0: every Get).
	MinCheck time.Duration

	mu      sync.RWMutex
	val     T
	stamp   stamp
	checked time.Time
	err     error
	loaded  bool
}

type stamp struct {
	size      int64
	mtime     time.Time
	ino, dev  uint64
	ctimeNano int64
}

func stampOf(fi os.FileInfo) stamp {
	s := stamp{size: fi.Size(), mtime: fi.ModTime()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.ino = st.Ino
		s.dev = uint64(st.Dev)
		s.ctimeNano = st.Ctim.Nano()
	}
	return s
}

// New returns a File for path; nothing is read until Get.
func New[T any](path string, parse func([]byte) (T, error)) *File[T] {
	return &File[T]{path: path, parse: parse}
}

// Path returns the file's path.
func (f *File[T]) Path() string { return f.path }

// Get returns the parsed content, reading the file again if it changed
// since the last read. A file that cannot be read or parsed is an error
// (never the previous content: a removed password file must not keep
// granting access).
func (f *File[T]) Get() (T, error) {
	now := time.Now()
	f.mu.RLock()
	if f.loaded && f.MinCheck > 0 && now.Sub(f.checked) < f.MinCheck {
		v, err := f.val, f.err
		f.mu.RUnlock()
		return v, err
	}
	f.mu.RUnlock()

	fi, err := os.Stat(f.path)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.checked = now
	if err != nil {
		var zero T
		f.val, f.err, f.loaded, f.stamp = zero, err, true, stamp{}
		return zero, err
	}
	st := stampOf(fi)
	if f.loaded && f.err == nil && st == f.stamp {
		return f.val, nil
	}
	b, err := os.ReadFile(f.path)
	if err == nil {
		var v T
		v, err = f.parse(b)
		if err == nil {
			f.val, f.err, f.loaded, f.stamp = v, nil, true, st
			return v, nil
		}
		err = fmt.Errorf("%s: %w", f.path, err)
	}
	var zero T
	f.val, f.err, f.loaded, f.stamp = zero, err, true, stamp{}
	return zero, err
}
