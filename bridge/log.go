package bridge

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// httpd's log levels as slog levels. LevelDebug, LevelInfo, LevelWarn and
// LevelError are slog's own; the others sit between or around them so that
// slog.Logger.Log can use every httpd level.
const (
	LevelTrace8 = slog.LevelDebug - 8
	LevelTrace7 = slog.LevelDebug - 7
	LevelTrace6 = slog.LevelDebug - 6
	LevelTrace5 = slog.LevelDebug - 5
	LevelTrace4 = slog.LevelDebug - 4
	LevelTrace3 = slog.LevelDebug - 3
	LevelTrace2 = slog.LevelDebug - 2
	LevelTrace1 = slog.LevelDebug - 1
	LevelDebug  = slog.LevelDebug
	LevelInfo   = slog.LevelInfo
	LevelNotice = slog.LevelInfo + 2
	LevelWarn   = slog.LevelWarn
	LevelError  = slog.LevelError
	LevelCrit   = slog.LevelError + 2
	LevelAlert  = slog.LevelError + 3
	LevelEmerg  = slog.LevelError + 4
)

// levelNames lists httpd's level names from the most to the least severe.
var levelNames = []struct {
	name  string
	level slog.Level
}{
	{"emerg", LevelEmerg}, {"alert", LevelAlert}, {"crit", LevelCrit},
	{"error", LevelError}, {"warn", LevelWarn}, {"notice", LevelNotice},
	{"info", LevelInfo}, {"debug", LevelDebug},
	{"trace1", LevelTrace1}, {"trace2", LevelTrace2}, {"trace3", LevelTrace3},
	{"trace4", LevelTrace4}, {"trace5", LevelTrace5}, {"trace6", LevelTrace6},
	{"trace7", LevelTrace7}, {"trace8", LevelTrace8},
}

// ParseLevel converts an httpd LogLevel name (emerg alert crit error warn
// notice info debug trace1 … trace8, case-insensitive) to a slog level.
func ParseLevel(name string) (slog.Level, error) {
	for _, l := range levelNames {
		if strings.EqualFold(name, l.name) {
			return l.level, nil
		}
	}
	return 0, fmt.Errorf("unknown log level %q: use one of emerg, alert, crit, error, warn, notice, info, debug, trace1 … trace8", name)
}

// enabledLevelName returns httpd's name for the most verbose level that l
// writes ("emerg" when it writes none of them).
func enabledLevelName(l *slog.Logger) string {
	ctx := context.Background()
	for i := len(levelNames) - 1; i >= 0; i-- {
		if l.Enabled(ctx, levelNames[i].level) {
			return levelNames[i].name
		}
	}
	return "emerg"
}

// LevelName returns httpd's name for l: the name of the most severe httpd
// level that is not more severe than l ("trace8" below that).
func LevelName(l slog.Level) string {
	for _, n := range levelNames {
		if l >= n.level {
			return n.name
		}
	}
	return "trace8"
}

// httpdTimeLayout is apr_ctime's format with microseconds, as in
// "[Wed Nov 25 02:56:07.123456 2026]".
const httpdTimeLayout = "Mon Jan 02 15:04:05.000000 2006"

// Handler is a slog.Handler that writes httpd's error-log line format:
//
//	[Wed Nov 25 02:56:07.123456 2026] [gobridge:error] [pid 123] gobridged: message key=value
//
// Control characters in messages and values are escaped, so one record is
// always one line. Values with spaces, quotes or '=' are quoted. A Handler is
// safe for concurrent use; handlers derived from it share its writer and
// level.
type Handler struct {
	out    *handlerOutput
	origin string // "gobridged" or "plugin NAME"
	pid    int
	attrs  []byte // preformatted " key=value" pairs from WithAttrs
	prefix string // group prefix for keys, "g1.g2."
}

type handlerOutput struct {
	mu    sync.Mutex
	w     io.Writer
	level slog.Leveler
	now   func() time.Time
}

// NewHandler returns a Handler writing to w the records at level or above
// (nil means info). Lines read "gobridged: …" with the current process's pid.
func NewHandler(w io.Writer, level slog.Leveler) *Handler {
	if level == nil {
		level = LevelInfo
	}
	return &Handler{
		out:    &handlerOutput{w: w, level: level, now: time.Now},
		origin: "gobridged",
		pid:    os.Getpid(),
	}
}

// WithOrigin returns a handler whose lines name origin ("plugin hello")
// and pid instead of gobridged's: how plugin log lines are written.
func (h *Handler) WithOrigin(origin string, pid int) *Handler {
	h2 := *h
	h2.origin = origin
	h2.pid = pid
	return &h2
}

// Enabled reports whether l is at or above the handler's level.
func (h *Handler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.out.level.Level()
}

// Handle writes one line.
func (h *Handler) Handle(_ context.Context, r slog.Record) error {
	t := r.Time
	if t.IsZero() {
		t = h.out.now()
	}
	buf := make([]byte, 0, 256)
	buf = append(buf, '[')
	buf = t.AppendFormat(buf, httpdTimeLayout)
	buf = append(buf, "] [gobridge:"...)
	buf = append(buf, LevelName(r.Level)...)
	buf = append(buf, "] [pid "...)
	buf = strconv.AppendInt(buf, int64(h.pid), 10)
	buf = append(buf, "] "...)
	buf = append(buf, h.origin...)
	buf = append(buf, ": "...)
	buf = appendEscaped(buf, r.Message)
	buf = append(buf, h.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		buf = appendAttr(buf, h.prefix, a)
		return true
	})
	buf = append(buf, '\n')
	h.out.mu.Lock()
	defer h.out.mu.Unlock()
	_, err := h.out.w.Write(buf)
	return err
}

// WithAttrs returns a handler that appends attrs to every line.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	h2 := *h
	h2.attrs = slicesClip(h.attrs)
	for _, a := range attrs {
		h2.attrs = appendAttr(h2.attrs, h.prefix, a)
	}
	return &h2
}

// WithGroup returns a handler that qualifies later keys with name.
func (h *Handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.prefix = h.prefix + name + "."
	return &h2
}

// slicesClip returns b with capacity equal to its length, so appending to
// it never writes into a shared backing array.
func slicesClip(b []byte) []byte { return b[:len(b):len(b)] }

// appendAttr appends " key=value" for a, flattening groups.
func appendAttr(buf []byte, prefix string, a slog.Attr) []byte {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return buf
	}
	if a.Value.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += a.Key + "."
		}
		for _, ga := range a.Value.Group() {
			buf = appendAttr(buf, p, ga)
		}
		return buf
	}
	buf = append(buf, ' ')
	buf = appendEscaped(buf, prefix+a.Key)
	buf = append(buf, '=')
	var s string
	switch a.Value.Kind() {
	case slog.KindString:
		s = a.Value.String()
	case slog.KindTime:
		s = a.Value.Time().Format(time.RFC3339Nano)
	default:
		s = a.Value.String()
	}
	if needsQuote(s) {
		return strconv.AppendQuote(buf, s)
	}
	return append(buf, s...)
}

// needsQuote reports whether a value must be quoted to stay one token.
func needsQuote(s string) bool {
	if s == "" {
		return true
	}
	for _, r := range s {
		if r <= ' ' || r == '=' || r == '"' || r == '\\' || r == 0x7f || r == utf8.RuneError {
			return true
		}
	}
	return false
}

// appendEscaped appends s with control characters and invalid UTF-8
// escaped, so that nothing a plugin logs can forge a second log line.
func appendEscaped(buf []byte, s string) []byte {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			buf = fmt.Appendf(buf, `\x%02x`, s[i])
		case r == '\n':
			buf = append(buf, `\n`...)
		case r == '\r':
			buf = append(buf, `\r`...)
		case r == '\t':
			buf = append(buf, `\t`...)
		case r < ' ' || r == 0x7f:
			buf = fmt.Appendf(buf, `\x%02x`, r)
		default:
			buf = append(buf, s[i:i+size]...)
		}
		i += size
	}
	return buf
}

// lineWriter is an io.Writer that logs every complete line written to it.
// go-plugin hands it what a plugin writes to os.Stdout and os.Stderr after
// plugin.Serve (the GRPCStdio stream).
type lineWriter struct {
	mu    sync.Mutex
	log   func() *slog.Logger // resolved at first write: the pid is known by then
	level slog.Level
	buf   bytes.Buffer
}

// maxLogLine bounds a buffered partial line; longer lines are split.
const maxLogLine = 64 << 10

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for {
		b := w.buf.Bytes()
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			if len(b) >= maxLogLine {
				w.emit(string(b))
				w.buf.Reset()
			}
			return len(p), nil
		}
		w.emit(string(bytes.TrimRight(b[:i], "\r")))
		w.buf.Next(i + 1)
	}
}

func (w *lineWriter) emit(line string) {
	if line == "" {
		return
	}
	w.log().Log(context.Background(), w.level, line)
}
