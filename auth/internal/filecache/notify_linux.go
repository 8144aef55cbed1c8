package filecache

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// notifier tells Files that their file may have changed, from inotify
// events on the directories that hold them: one instance for the process,
// read without blocking by whichever Get asks. The kernel queues an event
// before the write that caused it returns, so a Get that finds the queue
// empty knows that nothing changed before it started: edits are seen at
// once, as with a stat per Get, for one cheap read(2) that looks up no
// path.
type notifier struct {
	fd int

	mu   sync.Mutex // serialises reads, so no Get misses an event another consumed
	dirs map[int32]map[string][]*watchState
	buf  [64 << 10]byte
	dead bool
}

// watchState is what the notifier knows of one File.
type watchState struct {
	dirty   bool // changed since the File last loaded it (n.mu)
	watched bool // false: the watch is gone, stat on every Get
}

var (
	notifyOnce sync.Once
	notify     *notifier // nil: inotify unavailable
)

func sharedNotifier() *notifier {
	notifyOnce.Do(func() {
		fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
		if err != nil {
			return
		}
		notify = &notifier{fd: fd, dirs: map[int32]map[string][]*watchState{}}
	})
	return notify
}

// watchMask is every event that can change what a path names or holds.
const watchMask = unix.IN_MODIFY | unix.IN_ATTRIB | unix.IN_CLOSE_WRITE | unix.IN_CREATE |
	unix.IN_DELETE | unix.IN_MOVED_FROM | unix.IN_MOVED_TO | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF

// watch starts watching path, before its first read. It returns nil when
// the file cannot be watched reliably: no inotify, a directory we cannot
// watch, or a symbolic link (its target can change where we do not look,
// as with Kubernetes' ConfigMap volumes).
func watch(path string) *watchState {
	n := sharedNotifier()
	if n == nil {
		return nil
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil
	}
	if fi, err := os.Lstat(abs); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		return nil
	}
	dir, name := filepath.Split(abs)
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.dead {
		return nil
	}
	wd, err := unix.InotifyAddWatch(n.fd, dir, watchMask)
	if err != nil {
		return nil
	}
	ws := &watchState{dirty: true, watched: true}
	if n.dirs[int32(wd)] == nil {
		n.dirs[int32(wd)] = map[string][]*watchState{}
	}
	n.dirs[int32(wd)][name] = append(n.dirs[int32(wd)][name], ws)
	return ws
}

// changed reports whether ws's file may have changed since the last call
// that returned true, and whether it is still watched. It reads whatever
// events are queued first.
func (n *notifier) changed(ws *watchState) (changed, watched bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.drain()
	changed, ws.dirty = ws.dirty, false
	return changed || !ws.watched, ws.watched
}

// drain reads every queued event and marks the Files they concern; n.mu
// is held.
func (n *notifier) drain() {
	for !n.dead {
		k, err := readNoBlock(n.fd, n.buf[:])
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if k <= 0 || err != nil {
			if !errors.Is(err, unix.EAGAIN) {
				n.giveUp()
			}
			return
		}
		for off := 0; off+unix.SizeofInotifyEvent <= k; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&n.buf[off]))
			nameBytes := n.buf[off+unix.SizeofInotifyEvent : off+unix.SizeofInotifyEvent+int(ev.Len)]
			off += unix.SizeofInotifyEvent + int(ev.Len)
			n.event(ev.Wd, ev.Mask, cstring(nameBytes))
		}
	}
}

func (n *notifier) event(wd int32, mask uint32, name string) {
	switch {
	case mask&unix.IN_Q_OVERFLOW != 0:
		// Events were lost: everything may have changed.
		for _, files := range n.dirs {
			for _, list := range files {
				for _, ws := range list {
					ws.dirty = true
				}
			}
		}
	case mask&(unix.IN_DELETE_SELF|unix.IN_MOVE_SELF|unix.IN_IGNORED) != 0:
		// The directory itself went away or moved: its Files are stat'ed
		// from now on.
		for _, list := range n.dirs[wd] {
			for _, ws := range list {
				ws.dirty, ws.watched = true, false
			}
		}
		delete(n.dirs, wd)
	default:
		for _, ws := range n.dirs[wd][name] {
			ws.dirty = true
		}
	}
}

// giveUp turns every File to a stat per Get after a read error.
func (n *notifier) giveUp() {
	n.dead = true
	for _, files := range n.dirs {
		for _, list := range files {
			for _, ws := range list {
				ws.dirty, ws.watched = true, false
			}
		}
	}
}

// readNoBlock is read(2) on the non-blocking inotify descriptor as a raw
// system call. unix.Read tells the scheduler it may block, and on a plugin
// whose Ps were all idle that wakes sysmon, which then polls for a
// millisecond: a context switch or two per login for a read that never
// blocks (bench/README.md).
func readNoBlock(fd int, b []byte) (int, error) {
	k, _, e := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	if e != 0 {
		return -1, e
	}
	return int(k), nil
}

func cstring(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}
