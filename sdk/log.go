package sdk

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobridge/gobridge/internal/handshake"
	"github.com/gobridge/gobridge/internal/wire"
	pb "github.com/gobridge/gobridge/proto/gobridge/v1"
)

// httpd's log levels as slog levels, from the least to the most severe.
// LevelDebug, LevelInfo, LevelWarn and LevelError are slog's own; the others
// sit between and above them. Use them with slog.Logger.Log, on
// Request.Logger as on the process Logger:
//
//	r.Logger().Log(ctx, sdk.LevelCrit, "disk full", "path", p)
//
// A level between two of these counts as the less severe one.
const (
	LevelTrace  = slog.Level(-8)  // httpd trace1
	LevelDebug  = slog.LevelDebug // httpd debug
	LevelInfo   = slog.LevelInfo  // httpd info
	LevelNotice = slog.Level(2)   // httpd notice
	LevelWarn   = slog.LevelWarn  // httpd warn
	LevelError  = slog.LevelError // httpd error
	LevelCrit   = slog.Level(12)  // httpd crit
	LevelAlert  = slog.Level(16)  // httpd alert
	LevelEmerg  = slog.Level(20)  // httpd emerg
)

// The wire maps the same levels (compile-time checks).
var (
	_ = [1]struct{}{}[LevelTrace-wire.LevelTrace]
	_ = [1]struct{}{}[LevelNotice-wire.LevelNotice]
	_ = [1]struct{}{}[LevelCrit-wire.LevelCrit]
	_ = [1]struct{}{}[LevelAlert-wire.LevelAlert]
	_ = [1]struct{}{}[LevelEmerg-wire.LevelEmerg]
)

// Limits on what one request may log into httpd's error log.
const (
	maxPendingLogs = 1024    // records waiting for the next message
	maxLogMessage  = 8 << 10 // bytes per record
)

var (
	processLogger atomic.Pointer[slog.Logger]
	reqLevel      atomic.Pointer[slog.Leveler]
)

func init() {
	processLogger.Store(slog.New(newHclogHandler(os.Stderr, httpdLevel())))
}

// httpdLevel is the most verbose level gobridged relays to httpd's error
// log, from the environment it starts the plugin with (httpd's LogLevel
// for the gobridge module); info when the plugin runs without gobridged or
// the value is not a level.
func httpdLevel() slog.Level {
	if l, ok := wire.ParseLevel(os.Getenv(handshake.LogLevelEnv)); ok {
		return l
	}
	return slog.LevelInfo
}

// Logger returns the process logger: records go to stderr as JSON lines in
// hclog's format, which gobridged relays to httpd's error log with their
// httpd level (the eight levels from LevelEmerg to LevelDebug, and
// LevelTrace). By default it writes the records at or above httpd's
// LogLevel for the gobridge module (LogLevel gobridge:debug lets debug
// records through); ServeConfig.Logger replaces it. Use Request.Logger
// inside a handler instead: its records carry the request's context.
func Logger() *slog.Logger { return processLogger.Load() }

// requestLevel is the lowest level of Request.Logger records sent to httpd:
// ServeConfig.RequestLogLevel, else info, or httpd's LogLevel for gobridge
// when that is more verbose (httpd filters again, per directory).
func requestLevel() slog.Leveler {
	if l := reqLevel.Load(); l != nil {
		return *l
	}
	return min(slog.LevelInfo, httpdLevel())
}

// logQueue holds a request's log records until the next message to httpd.
type logQueue struct {
	mu      sync.Mutex
	recs    []*pb.LogRecord
	dropped int
	closed  bool
}

// add queues rec; it reports false once the response ended.
func (q *logQueue) add(rec *pb.LogRecord) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return false
	}
	if len(q.recs) >= maxPendingLogs {
		q.dropped++
		return true
	}
	q.recs = append(q.recs, rec)
	return true
}

// take returns the queued records; with andClose, later records go to the
// process logger instead.
func (q *logQueue) take(andClose bool) []*pb.LogRecord {
	q.mu.Lock()
	defer q.mu.Unlock()
	recs := q.recs
	q.recs = nil
	if q.dropped > 0 {
		recs = append(recs, &pb.LogRecord{
			Level:   pb.LogRecord_LEVEL_WARNING,
			Message: []byte(fmt.Sprintf("sdk: %d log records dropped (more than %d between messages)", q.dropped, maxPendingLogs)),
		})
		q.dropped = 0
	}
	if andClose {
		q.closed = true
	}
	return recs
}

func (q *logQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
}

func (q *logQueue) drain() []*pb.LogRecord { return q.take(true) }

// requestLogBase is what a late record (after the response ended) carries
// into the process log so it can still be matched to its request.
func requestLogBase(r *Request) []slog.Attr {
	if r.LogID == "" {
		return nil
	}
	return []slog.Attr{slog.String("log_id", r.LogID)}
}

// requestLogHandler turns slog records into LogRecords: the message
// followed by key=value pairs, as httpd modules write them.
type requestLogHandler struct {
	q      *logQueue
	level  slog.Leveler
	base   []slog.Attr // for the process log fallback
	prefix string      // preformatted attributes from WithAttrs
	group  string      // current group prefix, "a.b."
}

func (h *requestLogHandler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.level.Level()
}

func (h *requestLogHandler) Handle(ctx context.Context, rec slog.Record) error {
	var b strings.Builder
	b.WriteString(rec.Message)
	b.WriteString(h.prefix)
	rec.Attrs(func(a slog.Attr) bool {
		appendAttr(&b, h.group, a)
		return true
	})
	msg := b.String()
	if len(msg) > maxLogMessage {
		msg = msg[:maxLogMessage] + "…"
	}
	if h.q.add(&pb.LogRecord{Level: wire.Level(rec.Level), Message: []byte(msg)}) {
		return nil
	}
	// The response is over: keep the record in the process log.
	r := slog.NewRecord(rec.Time, rec.Level, msg, rec.PC)
	r.AddAttrs(h.base...)
	return Logger().Handler().Handle(ctx, r)
}

func (h *requestLogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	h2 := *h
	var b strings.Builder
	b.WriteString(h.prefix)
	for _, a := range as {
		appendAttr(&b, h.group, a)
	}
	h2.prefix = b.String()
	return &h2
}

func (h *requestLogHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.group = h.group + name + "."
	return &h2
}

func appendAttr(b *strings.Builder, group string, a slog.Attr) {
	v := a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return
	}
	if v.Kind() == slog.KindGroup {
		g := group
		if a.Key != "" {
			g += a.Key + "."
		}
		for _, ga := range v.Group() {
			appendAttr(b, g, ga)
		}
		return
	}
	b.WriteByte(' ')
	b.WriteString(group)
	b.WriteString(a.Key)
	b.WriteByte('=')
	s := v.String()
	if s == "" || strings.ContainsAny(s, " \t\r\n\"=") || !strconv.CanBackquote(s) {
		s = strconv.Quote(s)
	}
	b.WriteString(s)
}

// hsLevelKey is the JSON field carrying a record's exact httpd level.
const hsLevelKey = handshake.HTTPDLevelKey

// hclogHandler writes records as JSON lines in go-plugin's hclog format
// ("@level", "@message", "@timestamp" plus the attributes), so gobridged
// logs them at the right level.
type hclogHandler struct {
	mu    *sync.Mutex
	w     io.Writer
	level slog.Leveler
	attrs []slog.Attr // from WithAttrs, keys already prefixed
	group string
}

func newHclogHandler(w io.Writer, level slog.Leveler) *hclogHandler {
	return &hclogHandler{mu: new(sync.Mutex), w: w, level: level}
}

func (h *hclogHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level.Level() }

// hclogLevel returns the hclog level written for l. hclog has five levels
// to httpd's eight and trace: notice is written as warn, rounded up rather
// than down, because go-plugin's host drops a line whose hclog level is
// below its logger's before gobridged sees its exact level, and gobridged
// at notice takes only warn and up from hclog. The exact level rides in
// the handshake.HTTPDLevelKey field.
func hclogLevel(l slog.Level) string {
	switch {
	case l < slog.LevelDebug:
		return "trace"
	case l < slog.LevelInfo:
		return "debug"
	case l < LevelNotice:
		return "info"
	case l < slog.LevelError:
		return "warn"
	default:
		return "error"
	}
}

func (h *hclogHandler) Handle(_ context.Context, rec slog.Record) error {
	t := rec.Time
	if t.IsZero() {
		t = time.Now()
	}
	m := map[string]any{
		"@level":     hclogLevel(rec.Level),
		hsLevelKey:   wire.LevelName(rec.Level),
		"@message":   rec.Message,
		"@timestamp": t.Format("2006-01-02T15:04:05.000000Z07:00"),
	}
	for _, a := range h.attrs {
		addJSONAttr(m, "", a)
	}
	rec.Attrs(func(a slog.Attr) bool {
		addJSONAttr(m, h.group, a)
		return true
	})
	line, err := json.Marshal(m)
	if err != nil {
		// A value json cannot encode: fall back to strings.
		for k, v := range m {
			m[k] = fmt.Sprint(v)
		}
		if line, err = json.Marshal(m); err != nil {
			return err
		}
	}
	line = append(line, '\n')
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err = h.w.Write(line)
	return err
}

func addJSONAttr(m map[string]any, group string, a slog.Attr) {
	v := a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return
	}
	if v.Kind() == slog.KindGroup {
		g := group
		if a.Key != "" {
			g += a.Key + "."
		}
		for _, ga := range v.Group() {
			addJSONAttr(m, g, ga)
		}
		return
	}
	key := group + a.Key
	if strings.HasPrefix(key, "@") {
		key = "_" + key // never shadow hclog's own fields
	}
	switch v.Kind() {
	case slog.KindTime:
		m[key] = v.Time().Format(time.RFC3339Nano)
	case slog.KindDuration:
		m[key] = v.Duration().String()
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			m[key] = x.Error()
		case fmt.Stringer:
			m[key] = x.String()
		default:
			m[key] = x
		}
	default:
		m[key] = v.Any()
	}
}

func (h *hclogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	h2 := *h
	h2.attrs = append([]slog.Attr(nil), h.attrs...)
	for _, a := range as {
		if h.group != "" {
			a.Key = h.group + a.Key
		}
		h2.attrs = append(h2.attrs, a)
	}
	return &h2
}

func (h *hclogHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.group = h.group + name + "."
	return &h2
}
