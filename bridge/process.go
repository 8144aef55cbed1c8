package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/gobridge/gobridge/internal/handshake"
)

// exitPoll is how often a running plugin is checked for having exited.
// go-plugin offers no channel for it, only Client.Exited.
const exitPoll = 50 * time.Millisecond

// killWait bounds the wait for a process to disappear after SIGKILL.
const killWait = 5 * time.Second

// instance is one running plugin process.
type instance struct {
	spec    PluginSpec
	client  *plugin.Client
	cmd     *exec.Cmd
	kill    context.CancelFunc // SIGKILLs the process (exec.CommandContext)
	rpc     *plugin.GRPCClient // gobridged's own connection: stdio draining, health
	pid     int
	socket  string
	started time.Time
	log     *slog.Logger
	build   string // the binary's identity when it was started (binaryID)
}

// binaryID identifies the file at path as httpd's module does for the spec's
// build record: device, inode, size and modification time. A new build
// renamed over the old one, or the old one rewritten, gives another
// identity. "" when the file cannot be read.
func binaryID(path string) string {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return ""
	}
	return fmt.Sprintf("%d:%d:%d:%d", st.Dev, st.Ino, st.Size, st.Mtim.Nano()/1000)
}

// launch starts spec's binary through go-plugin, waits for its handshake
// and returns the running instance. A close of abort (or Options.StartTimeout)
// ends a start in progress: the process is killed and an error returned.
// launch does not publish the socket.
func (s *Supervisor) launch(spec PluginSpec, abort <-chan struct{}) (*instance, error) {
	ctx, kill := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, spec.Path, spec.Args...)
	cmd.Env = pluginEnv(os.Environ(), s.sockDir, enabledLevelName(s.log))
	// Backup for plugins outliving gobridged (sdk.Serve also watches its
	// parent). The kernel sends it when the forking thread exits; Go does
	// not end threads that goroutines have not locked, so in practice that
	// is when gobridged exits.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	pid := func() int {
		// Called only from goroutines go-plugin starts after cmd.Start, or
		// after Start returned: cmd.Process is set by then.
		if cmd.Process != nil {
			return cmd.Process.Pid
		}
		return 0
	}
	log := s.log.With("plugin", spec.Name)
	build := binaryID(spec.Path)
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  handshake.Config,
		Plugins:          pluginSet(),
		Cmd:              cmd,
		SkipHostEnv:      true, // cmd.Env is complete
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		StartTimeout:     s.opts.StartTimeout,
		Logger:           newHCLogAdapter(s.log, spec.Name, filepath.Base(spec.Path), pid),
		SyncStdout:       &lineWriter{log: func() *slog.Logger { return pluginLogger(s.log, spec.Name, pid()).With("stream", "stdout") }, level: LevelInfo},
		SyncStderr:       &lineWriter{log: func() *slog.Logger { return pluginLogger(s.log, spec.Name, pid()).With("stream", "stderr") }, level: LevelInfo},
		UnixSocketConfig: &plugin.UnixSocketConfig{TempDir: s.sockDir},
		// AutoMTLS and GRPCBrokerMultiplex stay off: mod_gobridge connects
		// to the plugin's socket directly, in plain h2c.
	})

	watchDone := make(chan struct{})
	go func() {
		select {
		case <-abort:
			kill()
		case <-watchDone:
		}
	}()
	addr, err := client.Start()
	close(watchDone)

	inst := &instance{spec: spec, client: client, cmd: cmd, kill: kill, started: time.Now(), log: log, build: build}
	if cmd.Process != nil {
		inst.pid = cmd.Process.Pid
	}
	if err != nil {
		return inst, s.abandon(inst, classifyStartError(err))
	}
	if addr.Network() != "unix" {
		return inst, s.abandon(inst, fmt.Errorf("plugin listens on %s %s, not a unix socket: build it with gobridge's sdk.Serve", addr.Network(), addr))
	}
	inst.socket = addr.String()
	raw, err := client.Client() // starts draining the plugin's stdio stream
	if err != nil {
		return inst, s.abandon(inst, fmt.Errorf("connecting to the plugin: %w", err))
	}
	rpc, ok := raw.(*plugin.GRPCClient)
	if !ok {
		return inst, s.abandon(inst, fmt.Errorf("plugin speaks %T, not gRPC", raw))
	}
	inst.rpc = rpc
	return inst, nil
}

// pluginEnv returns the environment for a plugin: gobridged's own, without
// anything go-plugin's handshake sets or gobridge sets itself, plus
// PLUGIN_UNIX_SOCKET_DIR, gobridged's pid and level, the most verbose
// httpd log level gobridged relays (the SDK's process logger writes from
// there up).
func pluginEnv(environ []string, sockDir, level string) []string {
	env := make([]string, 0, len(environ)+3)
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "PLUGIN_") || k == handshake.Config.MagicCookieKey ||
			k == handshake.ParentPIDEnv || k == handshake.LogLevelEnv {
			continue
		}
		env = append(env, kv)
	}
	return append(env, plugin.EnvUnixSocketDir+"="+sockDir,
		handshake.ParentPIDEnv+"="+strconv.Itoa(os.Getpid()),
		handshake.LogLevelEnv+"="+level)
}

// classifyStartError turns go-plugin's start errors into this package's
// sentinels, keeping only the first line of its diagnostics.
func classifyStartError(err error) error {
	msg := err.Error()
	first, _, _ := strings.Cut(msg, "\n")
	switch {
	case strings.Contains(msg, "timeout while waiting for plugin to start"):
		return fmt.Errorf("%w: no go-plugin handshake line on its stdout (is it built with gobridge's sdk.Serve?)", ErrStartTimeout)
	case strings.Contains(msg, "plugin exited before we could connect"),
		strings.Contains(msg, "Failed to read any lines from plugin's stdout"):
		return fmt.Errorf("%w before its handshake (its own log lines above may say why)", ErrPluginExited)
	case strings.HasPrefix(msg, "Unrecognized remote plugin message"):
		return fmt.Errorf("%s: the plugin must print go-plugin's handshake line first; build it with gobridge's sdk.Serve", first)
	}
	return errors.New(first)
}

// abandon kills an instance whose start failed, waits for it to be gone
// and returns err.
func (s *Supervisor) abandon(inst *instance, err error) error {
	inst.kill()
	inst.waitExit(killWait)
	s.reap(inst)
	if inst.cmd.ProcessState != nil || inst.client.Exited() {
		return fmt.Errorf("%w (%s)", err, inst.exitStatus())
	}
	return err
}

// waitExit waits up to d for the process to have exited and been reaped,
// and reports whether it has.
func (inst *instance) waitExit(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for !inst.client.Exited() {
		if inst.cmd.Process == nil {
			return true // never started
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(exitPoll / 5)
	}
	return true
}

// terminate stops a running instance in a fixed order: unpublish its
// socket, SIGTERM (sdk.Serve stops its gRPC server gracefully: in-flight
// calls finish), wait up to Options.Grace, then SIGKILL. It returns when
// the process is gone (or killWait after SIGKILL).
func (s *Supervisor) terminate(inst *instance) {
	s.reg.Unpublish(inst.spec.Name, inst.socket)
	if !inst.client.Exited() {
		inst.log.Debug("stopping plugin", "pid", inst.pid, "grace", s.opts.Grace)
		if err := inst.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
			inst.log.Warn("sending SIGTERM to plugin", "pid", inst.pid, "err", err)
		}
		// A graceful gRPC stop waits for every open stream, gobridged's
		// own stdio stream included: let go of it.
		if inst.rpc != nil {
			_ = inst.rpc.Conn.Close()
		}
		if !inst.waitExit(s.opts.Grace) {
			inst.log.Warn(fmt.Sprintf("plugin %q did not stop within %s, killing it", inst.spec.Name, s.opts.Grace), "pid", inst.pid)
			inst.kill()
			if !inst.waitExit(killWait) {
				inst.log.Error(fmt.Sprintf("plugin %q survived SIGKILL for %s", inst.spec.Name, killWait), "pid", inst.pid)
			}
		}
	}
	s.reap(inst)
}

// reap releases what is left of an exited instance: its published link,
// gobridged's connection, the socket file a killed plugin could not
// remove, and the exec context.
func (s *Supervisor) reap(inst *instance) {
	if inst.socket != "" {
		s.reg.Unpublish(inst.spec.Name, inst.socket)
		if filepath.Dir(inst.socket) == s.sockDir {
			if fi, err := os.Lstat(inst.socket); err == nil && fi.Mode()&os.ModeSocket != 0 && inst.client.Exited() {
				_ = os.Remove(inst.socket)
			}
		}
	}
	if inst.rpc != nil {
		_ = inst.rpc.Close() // the process is gone: no controller Shutdown reaches it
	}
	inst.kill()
}

// exitStatus describes how an exited process ended: "exit status 2",
// "signal: killed".
func (inst *instance) exitStatus() string {
	if inst.client.Exited() && inst.cmd.ProcessState != nil {
		return inst.cmd.ProcessState.String()
	}
	return "unknown status"
}
