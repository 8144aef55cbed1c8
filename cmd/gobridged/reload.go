package main

// `gobridged -dir DIR reload [NAME...]` asks the running gobridged to start
// new builds of its plugins, for deploy scripts that do not restart httpd.
// The request travels through the runtime directory, which only root and
// Apache's User may write: the command writes reload.PID (the names, one a
// line; none: every plugin whose binary changed) and sends gobridged
// SIGUSR1; gobridged answers in reload.PID.result, one line a plugin.

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gobridge/gobridge/bridge"
)

const (
	reloadPrefix = "reload."
	resultSuffix = ".result"
	// pollEvery is how often the command looks for gobridged's answer.
	pollEvery = 100 * time.Millisecond
)

// runReload is the reload command: it returns 0 when every plugin asked
// for was replaced (or had nothing to replace), 1 otherwise.
func runReload(dir string, names []string, timeout time.Duration, stdout, stderr io.Writer) int {
	fail := func(format string, a ...any) int {
		_, _ = fmt.Fprintf(stderr, "gobridged reload: "+format+"\n", a...)
		return exitError
	}
	for _, n := range names {
		if n == "" || strings.ContainsAny(n, "\n\r\x00/") {
			_, _ = fmt.Fprintf(stderr, "gobridged reload: invalid plugin name %q\n", n)
			return exitUsage
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, bridge.PIDFile))
	if err != nil {
		return fail("is gobridged running on %s? %v", dir, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return fail("%s holds no pid", filepath.Join(dir, bridge.PIDFile))
	}
	req := filepath.Join(dir, reloadPrefix+strconv.Itoa(os.Getpid()))
	result := req + resultSuffix
	_ = os.Remove(result)
	if err := writeAtomic(req, strings.Join(names, "\n")+"\n"); err != nil {
		return fail("%v (run it as root or as Apache's User)", err)
	}
	if err := syscall.Kill(pid, syscall.SIGUSR1); err != nil {
		_ = os.Remove(req)
		return fail("signalling gobridged (pid %d): %v", pid, err)
	}
	deadline := time.Now().Add(timeout)
	for {
		b, err := os.ReadFile(result)
		if err == nil {
			_ = os.Remove(result)
			_, _ = stdout.Write(b)
			for _, line := range strings.Split(string(b), "\n") {
				if f := strings.Fields(line); len(f) >= 2 && f[1] != "replaced" && f[1] != "unchanged" {
					return exitError
				}
			}
			return exitOK
		}
		if time.Now().After(deadline) {
			_ = os.Remove(req)
			return fail("no answer from gobridged (pid %d) within %s; see httpd's error log", pid, timeout)
		}
		time.Sleep(pollEvery)
	}
}

// serveReloads answers every reload request waiting in dir (on SIGUSR1).
func serveReloads(sup *bridge.Supervisor, dir string, log *slog.Logger) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		log.Error("reading reload requests", "err", err)
		return
	}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, reloadPrefix) || strings.HasSuffix(name, resultSuffix) || strings.Contains(name, ".tmp") {
			continue
		}
		if _, err := strconv.Atoi(strings.TrimPrefix(name, reloadPrefix)); err != nil {
			continue
		}
		req := filepath.Join(dir, name)
		names, err := readNames(req)
		_ = os.Remove(req)
		if err != nil {
			log.Error("reading reload request", "file", req, "err", err)
			continue
		}
		log.Info("reload requested", "plugins", strings.Join(names, ","))
		res, err := sup.Replace(names)
		var b strings.Builder
		if err != nil {
			fmt.Fprintf(&b, "- failed %v\n", err)
		}
		for _, r := range res {
			fmt.Fprintf(&b, "%s %s old_pid=%d new_pid=%d\n", r.Name, r.Outcome, r.OldPID, r.NewPID)
		}
		if err := writeAtomic(req+resultSuffix, b.String()); err != nil {
			log.Error("writing reload result", "err", err)
		}
	}
}

func readNames(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	var names []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if n := strings.TrimSpace(sc.Text()); n != "" {
			names = append(names, n)
		}
	}
	return names, sc.Err()
}

// writeAtomic writes content to path through a temporary file and a
// rename, so that a reader never sees half of it.
func writeAtomic(path, content string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return nil
}
