package bridge

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gobridge/gobridge/bridge/bridgetest"
)

func TestFormatStatus(t *testing.T) {
	t0 := time.UnixMicro(1700000000123456)
	tests := []struct {
		name string
		ps   []PluginStatus
		want string
	}{
		{
			name: "no plugins",
			want: "gobridged\t42\t1700000000123456\n",
		},
		{
			name: "running and down",
			ps: []PluginStatus{
				{Name: "a", State: StateRunning, PID: 7, Started: t0, Restarts: 2,
					LastExit: ExitExited, LastExitAt: t0, LastExitDetail: "signal: killed"},
				{Name: "b", State: StateStarting},
			},
			want: "gobridged\t42\t1700000000123456\n" +
				"plugin\ta\trunning\t7\t1700000000123456\t2\texited\t1700000000123456\tsignal: killed\n" +
				"plugin\tb\tstarting\t0\t0\t0\t\t0\t\n",
		},
		{
			name: "control characters in a detail stay on the line",
			ps:   []PluginStatus{{Name: "c", State: StateDown, LastExit: ExitUnhealthy, LastExitDetail: "x\ty\nz\r"}},
			want: "gobridged\t42\t1700000000123456\n" +
				"plugin\tc\tdown\t0\t0\t0\tunhealthy\t0\tx y z \n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(formatStatus(42, t0, tt.ps))
			got = strings.SplitN(got, "\n", 2)[1] // the comment line
			if got != tt.want {
				t.Errorf("formatStatus() =\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

// statusRecord is one plugin line of the status file.
type statusRecord struct {
	state, exit, detail string
	pid, restarts       int
	started             time.Time
}

func readStatusFile(t *testing.T, dir string) (map[string]statusRecord, error) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, StatusFile))
	if err != nil {
		return nil, err
	}
	out := make(map[string]statusRecord)
	for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		f := strings.Split(line, "\t")
		if f[0] != "plugin" {
			continue
		}
		if len(f) != 9 {
			t.Fatalf("status line %q has %d fields; want 9", line, len(f))
		}
		pid, _ := strconv.Atoi(f[3])
		restarts, _ := strconv.Atoi(f[5])
		started, err := parseStatusUsec(f[4])
		if err != nil {
			t.Fatal(err)
		}
		out[f[1]] = statusRecord{state: f[2], pid: pid, started: started, restarts: restarts, exit: f[6], detail: f[8]}
	}
	return out, nil
}

func TestSupervisorPublishesStatus(t *testing.T) {
	f := newFixture(t, Options{}, fake("a", bridgetest.ModeServe))
	if err := f.sup.Start(); err != nil {
		t.Fatalf("Start() = %v; want nil", err)
	}
	st, err := readStatusFile(t, f.dir)
	if err != nil {
		t.Fatalf("status file after Start: %v", err)
	}
	old := f.status("a").PID
	if a := st["a"]; a.state != StateRunning || a.pid != old || a.started.IsZero() || a.restarts != 0 || a.exit != "" {
		t.Errorf("status of a after Start = %+v; want running, pid %d, a start time, no restart, no exit", a, old)
	}
	fi, err := os.Stat(filepath.Join(f.dir, StatusFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("status file mode = %v, %v; want 0600", fi.Mode(), err)
	}

	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var a statusRecord
	waitFor(t, 5*time.Second, "the restart in the status file", func() bool {
		st, err := readStatusFile(t, f.dir)
		a = st["a"]
		return err == nil && a.state == StateRunning && a.pid != old && a.pid != 0
	})
	if a.restarts != 1 || a.exit != ExitExited || a.detail != "signal: killed" {
		t.Errorf("status of a after a crash = %+v; want 1 restart, exited, signal: killed", a)
	}
	if err := f.sup.Stop(context.Background()); err != nil {
		t.Fatalf("Stop() = %v", err)
	}
	if _, err := os.Stat(filepath.Join(f.dir, StatusFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("status file after Stop: %v; want it removed", err)
	}
	checkNoLeaks(t)
}
