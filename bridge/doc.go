// Package bridge is the supervisor behind gobridged: it reads the plugin list
// that httpd's parent writes into the runtime directory, runs every plugin
// once with hashicorp/go-plugin's client, and publishes each plugin's current
// unix socket at a stable path that mod_gobridge connects to.
//
// # Runtime directory
//
// The directory (GoBridgeSocketDir, mode 0700, owned by Apache's User) holds:
//
//	gobridged.spec   the plugin list written by httpd's parent (see [ParseSpec])
//	gobridged.pid    gobridged's pid, for operators; flock(2)ed while it runs
//	s/               PLUGIN_UNIX_SOCKET_DIR: the real, randomly named sockets
//	NAME.sock        symlink to plugin NAME's current socket, replaced
//	                 atomically on every (re)start, removed while NAME is down
//
// # Lifecycle
//
// [New] checks the directory and claims it (one gobridged per directory);
// [Supervisor.Start] parses the spec and starts every plugin. A plugin that exits, or fails its health check, is restarted with
// exponential backoff (100 ms doubling to 30 s, reset after 60 s of health).
// [Supervisor.Reload] re-reads the spec: unchanged plugins (same name, path
// and arguments) keep running untouched; changed ones are started anew and
// published before the old process is stopped; removed ones are stopped.
// [Supervisor.Stop] stops every plugin and never restarts one. The fake
// plugin in package bridgetest shows what a plugin must do for all this.
//
// Stopping a plugin always follows the same order: unpublish its socket, ask
// politely (SIGTERM; sdk.Serve answers with a graceful gRPC stop in which
// in-flight calls finish), wait up to [Options.Grace], then SIGKILL. go-plugin's
// own Client.Kill is not used for this: its "graceful" step asks the plugin's
// controller service for a hard grpc.Server.Stop, which cancels in-flight
// calls, and waits only 2 s.
//
// # Logging
//
// Everything is logged through log/slog. [NewHandler] writes httpd's
// error-log line format, so gobridged's stderr can be pointed at httpd's
// error log; plugin log lines (hclog JSON on the plugin's stderr) are
// re-emitted with the plugin's pid and name and their level mapped to
// httpd's levels.
package bridge
