package bridge

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// StatusFile is the name, inside the runtime directory, of the file in
// which gobridged publishes the state of its plugins for mod_gobridge's
// status page (SetHandler gobridge-status). It is replaced atomically
// (temporary file, then rename(2)) whenever a plugin starts, exits or is
// restarted, and removed when gobridged stops.
//
// Format: UTF-8 lines, fields separated by TAB, "#" lines are comments;
// times are microseconds since the Unix epoch, 0 for none:
//
//	gobridged<TAB>PID<TAB>STARTED
//	plugin<TAB>NAME<TAB>STATE<TAB>PID<TAB>STARTED<TAB>RESTARTS<TAB>LAST_EXIT<TAB>LAST_EXIT_AT<TAB>LAST_EXIT_DETAIL
//
// STATE is "starting", "running" or "down"; LAST_EXIT is "" (the process
// never ended), "exited", "unhealthy" or "start_failed". A reader must
// ignore record types and trailing fields it does not know. Arguments of
// plugins and socket paths are never written.
const StatusFile = "status"

// Plugin states in the status file.
const (
	StateStarting = "starting" // first start not finished yet
	StateRunning  = "running"  // a process is up and published
	StateDown     = "down"     // no process: waiting to restart it
)

// Why a plugin's last process ended, in the status file.
const (
	ExitExited      = "exited"       // it exited or was killed by a signal on its own
	ExitUnhealthy   = "unhealthy"    // gobridged stopped it after failed health checks
	ExitStartFailed = "start_failed" // it did not start (exec, handshake or publish failed)
)

// formatStatus renders the status file's contents.
func formatStatus(pid int, started time.Time, ps []PluginStatus) []byte {
	var b strings.Builder
	b.WriteString("# gobridged status: see docs/operating.md, \"Reading the status page\"\n")
	fmt.Fprintf(&b, "gobridged\t%d\t%d\n", pid, usec(started))
	for _, p := range ps {
		fmt.Fprintf(&b, "plugin\t%s\t%s\t%d\t%d\t%d\t%s\t%d\t%s\n",
			statusField(p.Name), p.State, p.PID, usec(p.Started), p.Restarts,
			p.LastExit, usec(p.LastExitAt), statusField(p.LastExitDetail))
	}
	return []byte(b.String())
}

func usec(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// statusField keeps a field on its line: TAB, CR, LF and other control
// characters become spaces.
func statusField(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// writeStatus publishes the current state of every plugin. Writes are
// serialized and each takes a fresh snapshot, so the last one written is
// never older than the last change.
func (s *Supervisor) writeStatus() {
	s.statusMu.Lock()
	defer s.statusMu.Unlock()
	if s.statusGone {
		return
	}
	data := formatStatus(os.Getpid(), s.startedAt, s.Plugins())
	if err := writeFileAtomic(filepath.Join(s.opts.Dir, StatusFile), data); err != nil {
		s.log.Warn(fmt.Sprintf("cannot publish the status file: %v", err))
	}
}

// removeStatus removes the status file for good: no later write recreates it.
func (s *Supervisor) removeStatus() {
	s.statusMu.Lock()
	defer s.statusMu.Unlock()
	s.statusGone = true
	if err := os.Remove(filepath.Join(s.opts.Dir, StatusFile)); err != nil && !os.IsNotExist(err) {
		s.log.Warn(fmt.Sprintf("cannot remove the status file: %v", err))
	}
}

// writeFileAtomic replaces path with data: a temporary file in the same
// directory, written, synced to the page cache and renamed over path, so
// readers see the old or the new contents, never a part.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err != nil {
		return fmt.Errorf("creating a temporary file: %w", err)
	}
	tmp := f.Name()
	if _, err = f.Write(data); err == nil {
		err = f.Chmod(0o600)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// parseStatusUsec reads a time field of the status file (tests, tools).
func parseStatusUsec(s string) (time.Time, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("status time %q: %w", s, err)
	}
	if n == 0 {
		return time.Time{}, nil
	}
	return time.UnixMicro(n), nil
}
