package harness

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A crashed httpd child leaves a core in the server root's cores/
// directory (CoreDumpDirectory, which also makes the children dumpable
// after they drop root), and a failed test prints its stack: a crash seen
// once on a loaded CI machine must say where it was.

func init() {
	// Children inherit the limit; raise the soft one as far as allowed.
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_CORE, &lim) == nil && lim.Cur < lim.Max {
		lim.Cur = lim.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_CORE, &lim)
	}
}

// coreDir is where the instance's httpd writes its cores.
func (e *Env) coreDir() string { return filepath.Join(e.Root, "cores") }

// makeCoreDir creates coreDir, writable by httpd's User.
func (e *Env) makeCoreDir() error {
	if err := os.MkdirAll(e.coreDir(), 0o777); err != nil {
		return err
	}
	return os.Chmod(e.coreDir(), 0o777)
}

// reportCores logs the stack of the thread that crashed, for every core
// httpd left, with gdb when it is installed.
func (e *Env) reportCores(t testing.TB) {
	t.Helper()
	entries, _ := os.ReadDir(e.coreDir())
	gdb, gdbErr := exec.LookPath("gdb")
	for _, d := range entries {
		core := filepath.Join(e.coreDir(), d.Name())
		if gdbErr != nil {
			t.Logf("core %s left by a crash (install gdb for its stack)", core)
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		out, err := exec.CommandContext(ctx, gdb, "-batch", "-nx",
			"-ex", "bt 40", e.b.HTTPD, core).CombinedOutput()
		cancel()
		t.Logf("core %s (gdb: %v):\n%s", core, err, stackLines(string(out)))
	}
	if len(entries) == 0 {
		if p, _ := os.ReadFile("/proc/sys/kernel/core_pattern"); len(p) > 0 && p[0] == '|' {
			t.Logf("no core file: the kernel pipes cores to %s", strings.TrimSpace(string(p[1:])))
		}
	}
}

// stackLines keeps gdb's frames, not its chatter.
func stackLines(out string) string {
	var b strings.Builder
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "#") || strings.HasPrefix(l, "Program terminated") {
			b.WriteString(l)
			b.WriteByte('\n')
		}
	}
	return b.String()
}
