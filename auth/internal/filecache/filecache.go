// Package filecache keeps a parsed copy of a file and re-reads it when the
// file changes, the way mod_authn_file sees every edit of an htpasswd file
// without a restart.
//
// A change is noticed by inotify on the file's directory (notify_linux.go):
// a Get that finds no event queued returns the copy it has, for one
// non-blocking ioctl(2), no stat and no lock, so that concurrent logins do
// not queue behind each other. Where inotify cannot answer (another OS, a
// symbolic link, a watch that could not be set up or went away) every Get
// stats the file and compares size, modification and change times, inode
// and device, as before.
package filecache

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// File is a parsed file of type T, safe for concurrent use.
type File[T any] struct {
	path  string
	parse func([]byte) (T, error)

	// cur is the last load, read without a lock by every Get that finds
	// nothing changed since it began.
	cur atomic.Pointer[loaded[T]]

	mu      sync.Mutex // held across a change check that needs the queue drained, and any reload
	started bool
	// ws is set once, under mu, before the first cur is stored, and never
	// changed after: a Get that loaded a non-nil cur may read it unlocked.
	ws    *watchState // nil: not watched, stat every Get
	stamp stamp
}

// loaded is one load of the file: its parsed content or the error that
// stands in for it.
type loaded[T any] struct {
	val T
	err error
	gen uint64 // the watch's generation when the load began
}

type stamp struct {
	size      int64
	mtime     time.Time
	ino, dev  uint64
	ctimeNano int64
}

func stampOf(fi os.FileInfo) stamp {
	s := stamp{size: fi.Size(), mtime: fi.ModTime()}
	s.ino, s.dev, s.ctimeNano = sysStamp(fi) // stamp_*.go: what the OS adds
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
	if c := f.cur.Load(); c != nil && f.ws != nil && notify.unchangedSince(f.ws, c.gen) {
		return c.val, c.err
	}
	return f.getLocked()
}

// getLocked is Get's path when something may have changed: it drains the
// event queue, and reloads unless another Get did meanwhile.
func (f *File[T]) getLocked() (T, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.started {
		// Watch before the first read, so no edit falls between the two.
		f.started = true
		f.ws = watch(f.path)
	}
	var gen uint64
	if f.ws != nil {
		g, watched := notify.generation(f.ws)
		if watched {
			if c := f.cur.Load(); c != nil && c.gen == g {
				return c.val, c.err
			}
			gen = g
		}
	}
	return f.reloadLocked(gen)
}

// reloadLocked stats the file and reads it again if its stamp changed;
// gen is the watch's generation taken before the stat, so that an event
// during the reload makes the next Get look again.
func (f *File[T]) reloadLocked(gen uint64) (T, error) {
	var zero T
	prev := f.cur.Load()
	fi, err := os.Stat(f.path)
	if err != nil {
		f.stamp = stamp{}
		f.cur.Store(&loaded[T]{err: err, gen: gen})
		return zero, err
	}
	st := stampOf(fi)
	if prev != nil && prev.err == nil && st == f.stamp {
		if prev.gen != gen {
			f.cur.Store(&loaded[T]{val: prev.val, gen: gen})
		}
		return prev.val, nil
	}
	b, err := os.ReadFile(f.path)
	if err == nil {
		var v T
		v, err = f.parse(b)
		if err == nil {
			f.stamp = st
			f.cur.Store(&loaded[T]{val: v, gen: gen})
			return v, nil
		}
		err = fmt.Errorf("%s: %w", f.path, err)
	}
	f.stamp = stamp{}
	f.cur.Store(&loaded[T]{err: err, gen: gen})
	return zero, err
}
