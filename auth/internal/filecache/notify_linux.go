package filecache

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// notifier tells Files that their file may have changed, from inotify
// events on the directories that hold them: one instance for the process.
// The kernel queues an event before the write that caused it returns, so a
// Get that finds the queue empty, and no other Get between consuming
// events and marking them, knows that nothing changed before it started:
// edits are seen at once, as with a stat per Get, for one cheap ioctl(2)
// that looks up no path and takes no lock.
type notifier struct {
	fd int

	// busy counts the drains between their first read of the queue and
	// marking what they read: events that left the queue but are not yet
	// counted in any watchState.
	busy atomic.Int32
	dead atomic.Bool

	mu   sync.Mutex // serialises drains and watches
	dirs map[int32]map[string][]*watchState
	buf  [64 << 10]byte
}

// watchState is what the notifier knows of one File.
type watchState struct {
	gen     atomic.Uint64 // bumped by every event that may concern the file
	watched atomic.Bool   // false: the watch is gone, stat on every Get
}

func (ws *watchState) isWatched() bool { return ws.watched.Load() }

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
	if n.dead.Load() {
		return nil
	}
	wd, err := unix.InotifyAddWatch(n.fd, dir, watchMask)
	if err != nil {
		return nil
	}
	ws := &watchState{}
	ws.gen.Store(1) // above the zero of a File never loaded
	ws.watched.Store(true)
	if n.dirs[int32(wd)] == nil {
		n.dirs[int32(wd)] = map[string][]*watchState{}
	}
	n.dirs[int32(wd)][name] = append(n.dirs[int32(wd)][name], ws)
	return ws
}

// unchangedSince reports, without a lock, that no event concerning ws
// was queued since its generation was gen: the queue is empty (FIONREAD,
// spelt TIOCINQ in x/sys, does not consume it) and no drain holds events
// it has not marked yet.
// false means "look again under the lock", not "changed".
func (n *notifier) unchangedSince(ws *watchState, gen uint64) bool {
	if n == nil || n.dead.Load() || !ws.watched.Load() || ws.gen.Load() != gen {
		return false
	}
	var queued int32
	if _, _, e := unix.RawSyscall(unix.SYS_IOCTL, uintptr(n.fd), unix.TIOCINQ, uintptr(unsafe.Pointer(&queued))); e != 0 || queued != 0 {
		return false
	}
	// In this order: a drain that read an event before our ioctl either
	// still counts in busy, or marked it before leaving busy.
	return n.busy.Load() == 0 && ws.gen.Load() == gen && ws.watched.Load()
}

// generation drains the queue and returns ws's generation and whether it
// is still watched.
func (n *notifier) generation(ws *watchState) (gen uint64, watched bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.drain()
	return ws.gen.Load(), ws.watched.Load()
}

// drain reads every queued event and marks the Files they concern; n.mu
// is held.
func (n *notifier) drain() {
	n.busy.Add(1)
	defer n.busy.Add(-1)
	for !n.dead.Load() {
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
					ws.gen.Add(1)
				}
			}
		}
	case mask&(unix.IN_DELETE_SELF|unix.IN_MOVE_SELF|unix.IN_IGNORED) != 0:
		// The directory itself went away or moved: its Files are stat'ed
		// from now on.
		for _, list := range n.dirs[wd] {
			for _, ws := range list {
				ws.watched.Store(false)
				ws.gen.Add(1)
			}
		}
		delete(n.dirs, wd)
	default:
		for _, ws := range n.dirs[wd][name] {
			ws.gen.Add(1)
		}
	}
}

// giveUp turns every File to a stat per Get after a read error.
func (n *notifier) giveUp() {
	n.dead.Store(true)
	for _, files := range n.dirs {
		for _, list := range files {
			for _, ws := range list {
				ws.watched.Store(false)
				ws.gen.Add(1)
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
