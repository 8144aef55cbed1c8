package bridge

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/gobridge/gobridge/internal/handshake"
	"github.com/hashicorp/go-hclog"
)

// hclogAdapter is the hclog.Logger that go-plugin's client logs to. It
// forwards to log/slog:
//
//   - go-plugin's own messages become gobridged lines with plugin=NAME;
//   - the plugin's stderr, which go-plugin's client parses (hclog JSON) and
//     logs through Named(base name of the binary), becomes "plugin NAME"
//     lines with the plugin's pid, their hclog level mapped to httpd's.
//
// Only go-plugin requires hclog; nothing else in gobridge uses it.
type hclogAdapter struct {
	base    *slog.Logger // gobridged's logger
	l       *slog.Logger // where this adapter writes
	plugin  string       // the plugin's spec name
	binBase string       // filepath.Base of the binary: go-plugin's Named() for stderr lines
	pid     func() int   // the plugin's pid; valid once the process started
	name    string       // hclog name (Named)
	implied []any
	origin  bool // lines come from the plugin itself
}

var _ hclog.Logger = (*hclogAdapter)(nil)

// newHCLogAdapter returns the go-plugin Logger for plugin name.
func newHCLogAdapter(base *slog.Logger, name, binBase string, pid func() int) *hclogAdapter {
	return &hclogAdapter{
		base:    base,
		l:       base.With("plugin", name),
		plugin:  name,
		binBase: binBase,
		pid:     pid,
	}
}

// hclogToSlog maps hclog levels to httpd levels. hclog's Trace is httpd's
// trace1: the most useful of httpd's eight trace levels.
func hclogToSlog(l hclog.Level) slog.Level {
	switch l {
	case hclog.Trace:
		return LevelTrace1
	case hclog.Debug:
		return LevelDebug
	case hclog.Warn:
		return LevelWarn
	case hclog.Error:
		return LevelError
	default: // Info, NoLevel
		return LevelInfo
	}
}

// redactedKeys are go-plugin's log keys whose values may hold secrets (a
// plugin's arguments may carry a password from httpd.conf).
var redactedKeys = map[string]bool{"args": true}

// demoted are go-plugin messages that gobridged reports better itself
// (with the exit status, at the right level): they are logged at debug.
var demoted = map[string]bool{"plugin process exited": true}

// Log implements hclog.Logger.
func (a *hclogAdapter) Log(level hclog.Level, msg string, args ...any) {
	if level == hclog.Off {
		return
	}
	sl := hclogToSlog(level)
	if !a.origin && demoted[msg] {
		sl = LevelDebug
	}
	if a.origin {
		if l, ok := httpdLevelArg(args); ok {
			sl = l
		}
	}
	ctx := context.Background()
	if !a.l.Enabled(ctx, sl) {
		return
	}
	r := slog.NewRecord(time.Now(), sl, msg, 0)
	all := append(a.implied[:len(a.implied):len(a.implied)], args...)
	attrs := make([]slog.Attr, 0, len(all)/2+1)
	for i := 0; i < len(all); i += 2 {
		key, ok := all[i].(string)
		if !ok || i+1 >= len(all) {
			attrs = append(attrs, slog.Any("EXTRA_VALUE_AT_END", all[i]))
			continue
		}
		val := all[i+1]
		if a.origin {
			if key == "timestamp" || key == handshake.HTTPDLevelKey {
				continue // go-plugin adds the plugin's own timestamp; ours is on the line
			}
		} else {
			if redactedKeys[key] {
				val = "[redacted]"
			}
			if key == "plugin" {
				key = "binary" // go-plugin's name for the path; "plugin" is our spec name
			}
		}
		if f, ok := val.(hclog.Format); ok && len(f) > 0 {
			val = fmt.Sprintf(fmt.Sprint(f[0]), f[1:]...)
		}
		attrs = append(attrs, slog.Any(key, val))
	}
	if a.origin {
		// go-plugin decodes the plugin's JSON line into a map: restore a
		// stable order.
		slices.SortStableFunc(attrs, func(x, y slog.Attr) int { return strings.Compare(x.Key, y.Key) })
	}
	r.AddAttrs(attrs...)
	_ = a.l.Handler().Handle(ctx, r)
}

// httpdLevelArg returns the exact httpd level that the SDK's process logger
// names in each line (handshake.HTTPDLevelKey), which hclog's five levels
// cannot carry: crit, alert and emerg would arrive as error and notice as
// info without it. A line without it, or with a name that is not a level,
// keeps its hclog level.
func httpdLevelArg(args []any) (slog.Level, bool) {
	for i := 0; i+1 < len(args); i += 2 {
		if k, ok := args[i].(string); ok && k == handshake.HTTPDLevelKey {
			if name, ok := args[i+1].(string); ok {
				if l, err := ParseLevel(name); err == nil {
					return l, true
				}
			}
			return 0, false
		}
	}
	return 0, false
}

func (a *hclogAdapter) Trace(msg string, args ...any) { a.Log(hclog.Trace, msg, args...) }
func (a *hclogAdapter) Debug(msg string, args ...any) { a.Log(hclog.Debug, msg, args...) }
func (a *hclogAdapter) Info(msg string, args ...any)  { a.Log(hclog.Info, msg, args...) }
func (a *hclogAdapter) Warn(msg string, args ...any)  { a.Log(hclog.Warn, msg, args...) }
func (a *hclogAdapter) Error(msg string, args ...any) { a.Log(hclog.Error, msg, args...) }

func (a *hclogAdapter) enabled(l hclog.Level) bool {
	return a.l.Enabled(context.Background(), hclogToSlog(l))
}

func (a *hclogAdapter) IsTrace() bool { return a.enabled(hclog.Trace) }
func (a *hclogAdapter) IsDebug() bool { return a.enabled(hclog.Debug) }
func (a *hclogAdapter) IsInfo() bool  { return a.enabled(hclog.Info) }
func (a *hclogAdapter) IsWarn() bool  { return a.enabled(hclog.Warn) }
func (a *hclogAdapter) IsError() bool { return a.enabled(hclog.Error) }

// ImpliedArgs implements hclog.Logger.
func (a *hclogAdapter) ImpliedArgs() []any { return a.implied }

// With implements hclog.Logger.
func (a *hclogAdapter) With(args ...any) hclog.Logger {
	a2 := *a
	a2.implied = append(a.implied[:len(a.implied):len(a.implied)], args...)
	return &a2
}

// Name implements hclog.Logger.
func (a *hclogAdapter) Name() string { return a.name }

// Named implements hclog.Logger. go-plugin's client logs the plugin's
// stderr through Named(filepath.Base(binary)); that logger writes "plugin
// NAME" lines with the plugin's pid. go-plugin calls it from the goroutine
// it starts after the process, so the pid is known.
func (a *hclogAdapter) Named(name string) hclog.Logger {
	a2 := *a
	if a.name == "" {
		a2.name = name
	} else {
		a2.name = a.name + "." + name
	}
	if !a.origin && a.name == "" && name == a.binBase {
		a2.origin = true
		a2.l = pluginLogger(a.base, a.plugin, a.pid())
	}
	return &a2
}

// ResetNamed implements hclog.Logger.
func (a *hclogAdapter) ResetNamed(name string) hclog.Logger {
	a2 := *a
	a2.name = ""
	return a2.Named(name)
}

// SetLevel is a no-op: the level is gobridged's -log-level.
func (a *hclogAdapter) SetLevel(hclog.Level) {}

// GetLevel reports the most verbose hclog level that would be written.
// go-plugin uses it to skip parsing plugin lines nobody will see.
func (a *hclogAdapter) GetLevel() hclog.Level {
	for _, l := range []hclog.Level{hclog.Trace, hclog.Debug, hclog.Info, hclog.Warn, hclog.Error} {
		if a.enabled(l) {
			return l
		}
	}
	return hclog.Off
}

// StandardLogger implements hclog.Logger.
func (a *hclogAdapter) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(a.StandardWriter(opts), "", 0)
}

// StandardWriter implements hclog.Logger: every line is logged at info.
func (a *hclogAdapter) StandardWriter(*hclog.StandardLoggerOptions) io.Writer {
	return &lineWriter{log: func() *slog.Logger { return a.l }, level: LevelInfo}
}

// pluginLogger returns the logger for lines a plugin itself wrote: "plugin
// NAME: …" with the plugin's pid when base writes httpd's format, or
// plugin=NAME pid=PID attributes for any other handler.
func pluginLogger(base *slog.Logger, name string, pid int) *slog.Logger {
	if h, ok := base.Handler().(*Handler); ok {
		return slog.New(h.WithOrigin("plugin "+name, pid))
	}
	return base.With("plugin", name, "pid", pid, "origin", "plugin")
}
