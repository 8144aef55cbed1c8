// Package filecache keeps a parsed copy of a file and re-reads it when the
// file changes, the way mod_authn_file sees every edit of an htpasswd file
// without a restart.
//
// A change is noticed by inotify on the file's directory (notify_linux.go):
// a Get that finds no event queued returns the copy it has, for one
// non-blocking read(2) and no stat. Where inotify cannot answer (another
// OS, a symbolic link, a watch that could not be set up or went away) every
// Get stats the file and compares size, modification and change times,
// inode and device, as before.
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

	mu      sync.Mutex // held across the change check and any reload
	started bool
	ws      *watchState // nil: not watched, stat every Get
	val     T
	stamp   stamp
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
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.started {
		// Watch before the first read, so no edit falls between the two.
		f.started = true
		f.ws = watch(f.path)
	}
	if f.ws != nil {
		changed, watched := notify.changed(f.ws)
		if !watched {
			f.ws = nil
		} else if !changed && f.loaded {
			return f.val, f.err
		}
	}
	return f.reloadLocked()
}

// reloadLocked stats the file and reads it again if its stamp changed.
func (f *File[T]) reloadLocked() (T, error) {
	var zero T
	fi, err := os.Stat(f.path)
	if err != nil {
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
	f.val, f.err, f.loaded, f.stamp = zero, err, true, stamp{}
	return zero, err
}
