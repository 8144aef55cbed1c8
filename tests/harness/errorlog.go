package harness

import (
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// ErrorLog reads httpd's error log from a mark, so that each test judges only
// the lines it caused.
type ErrorLog struct {
	Path string
	mu   sync.Mutex
	mark int64
}

// Mark remembers the current end of the log; Since and Check read from it.
func (l *ErrorLog) Mark() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if fi, err := os.Stat(l.Path); err == nil {
		l.mark = fi.Size()
	} else {
		l.mark = 0
	}
}

// All returns the whole log.
func (l *ErrorLog) All() string {
	b, _ := os.ReadFile(l.Path)
	return string(b)
}

// Since returns what was logged after the last Mark.
func (l *ErrorLog) Since() string {
	l.mu.Lock()
	mark := l.mark
	l.mu.Unlock()
	b, _ := os.ReadFile(l.Path)
	if int64(len(b)) < mark {
		return string(b)
	}
	return string(b[mark:])
}

// Count returns how many lines of the whole log contain s.
func (l *ErrorLog) Count(s string) int {
	return strings.Count(l.All(), s)
}

var problemLine = regexp.MustCompile(`\[[a-z_0-9]*:(emerg|alert|crit|error|warn)\]`)
var logCode = regexp.MustCompile(`\b(GB|AH)[0-9]{4,5}\b`)

// Check fails t for every [warn] or worse line since the last Mark whose
// text matches none of the expected patterns (a GBnnnn/AHnnnnn code or any
// substring), then sets a new mark. Every test calls it at its end with the
// lines it expects; the harness calls it again at cleanup, expecting
// nothing, so a test that forgets cannot let an error line pass.
func (l *ErrorLog) Check(t testing.TB, expected ...string) {
	t.Helper()
	l.check(t, "", expected...)
}

func (l *ErrorLog) check(t testing.TB, when string, expected ...string) {
	t.Helper()
	for _, line := range strings.Split(l.Since(), "\n") {
		// A crashed child is logged at notice level: never let it pass.
		if !problemLine.MatchString(line) && !fatalLine.MatchString(line) {
			continue
		}
		ok := false
		for _, e := range expected {
			if strings.Contains(line, e) {
				ok = true
				break
			}
		}
		if !ok {
			code := logCode.FindString(line)
			if when != "" {
				t.Errorf("unexpected error-log line %s (code %q): %s", when, code, line)
			} else {
				t.Errorf("unexpected error-log line (code %q): %s", code, line)
			}
		}
	}
	l.Mark()
}

// fatalLine is what must never appear, not even while httpd stops: a
// critical line or a child killed by a signal it did not ask for.
var fatalLine = regexp.MustCompile(`\[[a-z_0-9]*:(emerg|alert|crit)\]|exit signal (Segmentation fault|Aborted|Bus error|Illegal instruction)`)

// checkShutdown fails t for a critical line or a crashed child logged
// since the last mark (httpd's stop); warnings while stopping (a plugin
// told to stop, a connection cut) are the stop's business.
func (l *ErrorLog) checkShutdown(t testing.TB) {
	t.Helper()
	for _, line := range strings.Split(l.Since(), "\n") {
		if fatalLine.MatchString(line) {
			t.Errorf("error-log line while httpd stopped: %s", line)
		}
	}
	l.Mark()
}

// Contains reports whether the log since the mark has a line containing s.
func (l *ErrorLog) Contains(s string) bool {
	return strings.Contains(l.Since(), s)
}
