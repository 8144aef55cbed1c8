// Package procfs reads what the benchmark's tools measure about a process
// from Linux's /proc: its CPU time and memory, the context switches of its
// threads, the read system calls it made.
package procfs

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ClkTck is USER_HZ, the unit of the times in /proc/<pid>/stat. It is 100
// on every Linux architecture that matters (sysconf(_SC_CLK_TCK)); bench's
// run.sh passes `getconf CLK_TCK` through BENCH_CLK_TCK to be sure.
var ClkTck = func() int64 {
	if v, err := strconv.ParseInt(os.Getenv("BENCH_CLK_TCK"), 10, 64); err == nil && v > 0 {
		return v
	}
	return 100
}()

var pageSize = int64(os.Getpagesize())

// Stat is what the tools read from /proc/<pid>/stat.
type Stat struct {
	Pid, PPid int
	Comm      string
	// Self is the process's own utime+stime, Reaped the cutime+cstime of
	// the children it has reaped, in clock ticks (ClkTck a second).
	Self, Reaped int64
	RSS          int64 // bytes
	Zombie       bool
}

// ReadStat reads pid's /proc/<pid>/stat; false when the process is gone
// or the file cannot be parsed.
func ReadStat(pid int) (Stat, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return Stat{}, false
	}
	open, close := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || close < open || close+2 > len(b) {
		return Stat{}, false
	}
	f := strings.Fields(string(b[close+2:]))
	// f[0] is field 3 (state) of proc(5).
	if len(f) < 22 {
		return Stat{}, false
	}
	n := func(i int) int64 { v, _ := strconv.ParseInt(f[i], 10, 64); return v }
	return Stat{
		Pid:    pid,
		PPid:   int(n(1)),
		Comm:   string(b[open+1 : close]),
		Self:   n(11) + n(12),
		Reaped: n(13) + n(14),
		RSS:    n(21) * pageSize,
		Zombie: f[0] == "Z",
	}, true
}

// Switches sums the voluntary and involuntary context switches of pid's
// live threads (/proc/<pid>/task/*/status). Threads that ended meanwhile
// are not counted: httpd's and the plugins' threads live for a run.
func Switches(pid int) int64 {
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	var n int64
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/status", pid, t.Name()))
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "voluntary_ctxt_switches:") || strings.HasPrefix(l, "nonvoluntary_ctxt_switches:") {
				if f := strings.Fields(l); len(f) == 2 {
					v, _ := strconv.ParseInt(f[1], 10, 64)
					n += v
				}
			}
		}
	}
	return n
}

// Reads returns the read system calls pid has made (syscr in
// /proc/<pid>/io, which counts reads that found nothing too); false when
// the file cannot be read (another user's process, or gone).
func Reads(pid int) (int64, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return 0, false
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "syscr:"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}
