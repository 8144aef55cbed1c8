// Command gobridged is gobridge's plugin supervisor. httpd's parent starts
// it in post_config, as Apache's User, with stdout and stderr on the
// server's error log:
//
//	gobridged -dir RUNTIME_DIR [-log-level LEVEL] [-parent-pid PID] [-grace 10s]
//	gobridged -dir RUNTIME_DIR reload [NAME...]
//
// The second form asks the running gobridged to start a new process for
// each named plugin (none named: each plugin whose binary changed) and to
// retire the old one once the new one is up, printing a line per plugin;
// its exit status is 0 when every one was replaced or unchanged (reload.go).
//
// It runs every plugin declared in RUNTIME_DIR/gobridged.spec and publishes
// each one's socket as RUNTIME_DIR/NAME.sock (see package bridge and
// docs/architecture.md §1-§3).
//
// Signals: SIGHUP re-reads the spec and reconciles; SIGUSR1 answers reload
// requests; SIGTERM and SIGINT stop
// every plugin gracefully and exit 0. gobridged also stops when its parent
// goes away (polling getppid, with PR_SET_PDEATHSIG as a backup).
//
// Exit status: 0 after a clean stop, 1 when running failed, 2 for bad usage
// or configuration (including being run as root).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gobridge/gobridge/bridge"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// parentPoll is how often gobridged checks that its parent is alive.
const parentPoll = 500 * time.Millisecond

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

// run is main without os.Exit, returning the exit status.
func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("gobridged", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "runtime directory holding gobridged.spec (GoBridgeSocketDir); required")
	levelName := fs.String("log-level", "warn", "httpd log level: emerg alert crit error warn notice info debug trace1..trace8")
	parentPID := fs.Int("parent-pid", 0, "exit when this process (httpd's parent) goes away; default: gobridged's parent")
	grace := fs.Duration("grace", 10*time.Second, "how long a plugin may take to finish in-flight calls after SIGTERM before it is killed")
	startTimeout := fs.Duration("start-timeout", 10*time.Second, "how long a plugin may take to complete go-plugin's handshake")
	reloadTimeout := fs.Duration("reload-timeout", 2*time.Minute, "reload: how long to wait for gobridged's answer")
	fs.Usage = func() {
		_, _ = fmt.Fprintf(fs.Output(), "usage: gobridged -dir RUNTIME_DIR [-log-level LEVEL] [-parent-pid PID] [-grace DURATION]\n"+
			"       gobridged -dir RUNTIME_DIR reload [NAME...]\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	level, err := bridge.ParseLevel(*levelName)
	if err != nil {
		_, _ = fmt.Fprintf(stderr, "gobridged: -log-level: %v\n", err)
		return exitUsage
	}
	if fs.NArg() > 0 && fs.Arg(0) == "reload" && *dir != "" {
		return runReload(*dir, fs.Args()[1:], *reloadTimeout, os.Stdout, stderr)
	}
	log := slog.New(bridge.NewHandler(stderr, level))
	if fs.NArg() > 0 || *dir == "" {
		log.Error("usage: gobridged -dir RUNTIME_DIR [-log-level LEVEL] [-parent-pid PID] [-grace DURATION]")
		return exitUsage
	}
	if os.Geteuid() == 0 {
		log.Error("refusing to run as root: plugins would run as root too. httpd's parent starts gobridged as Apache's User; to run it by hand, run it as that user")
		return exitUsage
	}

	// Ask the kernel to SIGTERM us when our parent dies, then check it did
	// not die before we asked.
	ppid := *parentPID
	if ppid == 0 {
		ppid = os.Getppid()
	}
	_ = unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(syscall.SIGTERM), 0, 0, 0)
	isParent := os.Getppid() == ppid
	if !parentAlive(ppid, isParent) {
		log.Error("parent process is gone before start", "parent_pid", ppid)
		return exitError
	}

	// Subscribe before starting plugins: a SIGTERM during start must not
	// kill gobridged without stopping them.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)

	sup, err := bridge.New(bridge.Options{
		Dir:          *dir,
		Logger:       log,
		Grace:        *grace,
		StartTimeout: *startTimeout,
	})
	if err != nil {
		log.Error(err.Error())
		return exitUsage
	}
	// Start in the background: a signal or the parent's death during a
	// slow plugin start must still be handled promptly.
	started := make(chan error, 1)
	go func() { started <- sup.Start() }()
	parentGone := watchParent(ppid, isParent)
	for {
		select {
		case err := <-started:
			started = nil
			if err != nil {
				log.Error(err.Error())
				_ = sup.Stop(context.Background())
				if errors.Is(err, bridge.ErrSpec) {
					return exitUsage
				}
				return exitError
			}
			continue
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				go reload(sup, log)
				continue
			}
			if sig == syscall.SIGUSR1 {
				go serveReloads(sup, *dir, log)
				continue
			}
			if !parentAlive(ppid, isParent) {
				log.Info("parent process went away (PR_SET_PDEATHSIG), stopping", "parent_pid", ppid)
			} else {
				log.Info("received " + sig.String() + ", stopping")
			}
		case <-parentGone:
			log.Info("parent process went away, stopping", "parent_pid", ppid)
		}
		return stop(sup, log, *grace)
	}
}

// reload handles SIGHUP. Reloads are serialized by the supervisor; one
// that is refused leaves the running plugins alone.
func reload(sup *bridge.Supervisor, log *slog.Logger) {
	if err := sup.Reload(); err != nil && !errors.Is(err, bridge.ErrStopped) {
		log.Error("reload refused, keeping the running plugins: " + err.Error())
	}
}

// stop stops the supervisor, bounded by the grace period plus the time a
// SIGKILL takes.
func stop(sup *bridge.Supervisor, log *slog.Logger, grace time.Duration) int {
	ctx, cancel := context.WithTimeout(context.Background(), grace+15*time.Second)
	defer cancel()
	if err := sup.Stop(ctx); err != nil {
		log.Error("stopping plugins: " + err.Error())
		return exitError
	}
	return exitOK
}

// watchParent returns a channel closed when process pid goes away.
// isParent says whether pid was gobridged's parent when it started.
func watchParent(pid int, isParent bool) <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		t := time.NewTicker(parentPoll)
		defer t.Stop()
		for range t.C {
			if !parentAlive(pid, isParent) {
				close(ch)
				return
			}
		}
	}()
	return ch
}

// parentAlive reports whether pid is still there. When it was our parent,
// it is alive while getppid still returns it (reparenting happens at its
// exit, even while it is an unreaped zombie). Otherwise (-parent-pid named
// an ancestor further up) kill(pid, 0) tells.
func parentAlive(pid int, isParent bool) bool {
	if pid <= 1 {
		return true // nothing to watch
	}
	if isParent {
		return os.Getppid() == pid
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
