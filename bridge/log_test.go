package bridge

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

func TestParseLevel(t *testing.T) {
	tests := []struct {
		in      string
		want    slog.Level
		wantErr bool
	}{
		{"emerg", LevelEmerg, false}, {"alert", LevelAlert, false}, {"crit", LevelCrit, false},
		{"error", LevelError, false}, {"warn", LevelWarn, false}, {"notice", LevelNotice, false},
		{"info", LevelInfo, false}, {"debug", LevelDebug, false}, {"TRACE1", LevelTrace1, false},
		{"trace8", LevelTrace8, false}, {"warning", 0, true}, {"trace9", 0, true}, {"", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseLevel(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseLevel(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestLevelName(t *testing.T) {
	tests := []struct {
		in   slog.Level
		want string
	}{
		{LevelEmerg + 5, "emerg"}, {LevelEmerg, "emerg"}, {LevelError, "error"}, {LevelError + 1, "error"},
		{LevelWarn, "warn"}, {LevelNotice, "notice"}, {LevelInfo + 1, "info"}, {LevelDebug, "debug"},
		{LevelTrace1, "trace1"}, {LevelTrace8, "trace8"}, {LevelTrace8 - 10, "trace8"},
	}
	for _, tt := range tests {
		if got := LevelName(tt.in); got != tt.want {
			t.Errorf("LevelName(%d) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestHandlerFormat(t *testing.T) {
	var buf bytes.Buffer
	h := NewHandler(&buf, LevelDebug)
	h.pid = 123
	log := slog.New(h)
	r := slog.NewRecord(time.Date(2026, 11, 5, 2, 56, 7, 123456789, time.Local), LevelError, "at a fixed time", 0)
	if err := h.Handle(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	if got, want := buf.String(), "[Thu Nov 05 02:56:07.123456 2026] [gobridge:error] [pid 123] gobridged: at a fixed time\n"; got != want {
		t.Errorf("Handle(record at 2026-11-05 02:56:07.123456789) wrote %q; want %q", got, want)
	}
	stamp := regexp.MustCompile(`^\[\w{3} \w{3} \d\d \d\d:\d\d:\d\d\.\d{6} \d{4}\] `)
	tests := []struct {
		log  func()
		want string
	}{
		{func() { log.Error(`plugin "hello" exited: exit status 2`, "pid", 456) },
			`[T] [gobridge:error] [pid 123] gobridged: plugin "hello" exited: exit status 2 pid=456`},
		{func() { log.Debug("x", "s", "two words", "e", errors.New("a=b"), "empty", "", "q", `say "hi"`) },
			`[T] [gobridge:debug] [pid 123] gobridged: x s="two words" e="a=b" empty="" q="say \"hi\""`},
		{func() { log.Info("line1\nline2\r\x00", "k\n", "v\nw") },
			`[T] [gobridge:info] [pid 123] gobridged: line1\nline2\r\x00 k\n="v\nw"`},
		{func() { log.With("plugin", "a").WithGroup("g").Warn("m", "k", 1, slog.Group("h", "x", true)) },
			`[T] [gobridge:warn] [pid 123] gobridged: m plugin=a g.k=1 g.h.x=true`},
		{func() {
			slog.New(h.WithOrigin("plugin hello", 456)).Log(context.Background(), LevelNotice, "hi", "k", "v")
		},
			`[T] [gobridge:notice] [pid 456] plugin hello: hi k=v`},
		{func() { log.Log(context.Background(), LevelTrace1, "hidden") }, ""},
	}
	for _, tt := range tests {
		buf.Reset()
		tt.log()
		want := tt.want
		if want != "" {
			want += "\n"
		}
		if got := stamp.ReplaceAllString(buf.String(), "[T] "); got != want {
			t.Errorf("log line = %q; want %q", got, want)
		}
	}
}

func TestHCLogAdapter(t *testing.T) {
	var buf bytes.Buffer
	h := NewHandler(&buf, LevelTrace1)
	a := newHCLogAdapter(slog.New(h), "hello", "hello-bin", func() int { return 456 })
	line := regexp.MustCompile(`^\[[^]]+\] \[gobridge:(\w+)\] \[pid (\d+)\] (.*)\n$`)
	tests := []struct {
		log       func()
		wantLevel string
		wantPID   string
		wantRest  string
	}{
		{func() { a.Named("hello-bin").Warn("disk full", "timestamp", "x", "b", 2, "a", 1) },
			"warn", "456", "plugin hello: disk full a=1 b=2"},
		{func() { a.Named("hello-bin").Trace("t") }, "trace1", "456", "plugin hello: t"},
		{func() { a.Named("hello-bin").Log(hclog.NoLevel, "n") }, "info", "456", "plugin hello: n"},
		// The SDK names the exact httpd level beside hclog's.
		{func() { a.Named("hello-bin").Error("c", "@httpd_level", "crit", "k", "v") }, "crit", "456", "plugin hello: c k=v"},
		{func() { a.Named("hello-bin").Error("a", "@httpd_level", "alert") }, "alert", "456", "plugin hello: a"},
		{func() { a.Named("hello-bin").Error("e", "@httpd_level", "emerg") }, "emerg", "456", "plugin hello: e"},
		{func() { a.Named("hello-bin").Warn("n", "@httpd_level", "notice") }, "notice", "456", "plugin hello: n"},
		{func() { a.Named("hello-bin").Debug("d", "@httpd_level", "debug") }, "debug", "456", "plugin hello: d"},
		{func() { a.Named("hello-bin").Warn("w", "@httpd_level", "loud") }, "warn", "456", "plugin hello: w"},
		// Only the plugin's own lines may choose their level.
		{func() { a.Warn("g", "@httpd_level", "emerg") }, "warn", "", "gobridged: g plugin=hello @httpd_level=emerg"},
		{func() { a.Error("plugin process exited", "plugin", "/bin/x", "id", "456") },
			"debug", "", "gobridged: plugin process exited plugin=hello binary=/bin/x id=456"},
		{func() { a.Debug("starting plugin", "args", []string{"--password", "s3cret"}) },
			"debug", "", "gobridged: starting plugin plugin=hello args=[redacted]"},
		{func() { a.Named("stdio").Warn("stdio service not available") },
			"warn", "", "gobridged: stdio service not available plugin=hello"},
	}
	for _, tt := range tests {
		buf.Reset()
		tt.log()
		m := line.FindStringSubmatch(buf.String())
		if m == nil {
			t.Errorf("hclog line = %q; want httpd's format", buf.String())
			continue
		}
		if tt.wantPID == "" {
			tt.wantPID = m[2] // gobridged's own pid
			if m[2] == "456" {
				t.Errorf("hclog line %q has the plugin's pid; want gobridged's", buf.String())
			}
		}
		if m[1] != tt.wantLevel || m[2] != tt.wantPID || m[3] != tt.wantRest {
			t.Errorf("hclog line = %q; want level %s pid %s rest %q", buf.String(), tt.wantLevel, tt.wantPID, tt.wantRest)
		}
	}
	if got := a.GetLevel(); got != hclog.Trace {
		t.Errorf("GetLevel() at trace1 = %v; want Trace", got)
	}
	if got := newHCLogAdapter(slog.New(NewHandler(&buf, LevelWarn)), "x", "x", nil).GetLevel(); got != hclog.Warn {
		t.Errorf("GetLevel() at warn = %v; want Warn", got)
	}
	// A notice line passes go-plugin's filter (the SDK writes it as hclog
	// warn) and is then judged by its exact level.
	buf.Reset()
	at := newHCLogAdapter(slog.New(NewHandler(&buf, LevelWarn)), "x", "x-bin", func() int { return 1 }).Named("x-bin")
	at.Warn("quiet", "@httpd_level", "notice")
	if buf.Len() != 0 {
		t.Errorf("notice line at LogLevel warn = %q; want nothing", buf.String())
	}
}

func TestEnabledLevelName(t *testing.T) {
	for _, name := range []string{"emerg", "crit", "error", "warn", "notice", "info", "debug", "trace1", "trace8"} {
		l, err := ParseLevel(name)
		if err != nil {
			t.Fatal(err)
		}
		if got := enabledLevelName(slog.New(NewHandler(io.Discard, l))); got != name {
			t.Errorf("enabledLevelName(logger at %s) = %q; want %q", name, got, name)
		}
	}
}

func TestPluginEnv(t *testing.T) {
	env := pluginEnv([]string{"PATH=/bin", "GOBRIDGE_LOG_LEVEL=trace8", "PLUGIN_X=1", "GOBRIDGE_PARENT_PID=1"}, "/run/s", "debug")
	got := strings.Join(env, " ")
	want := fmt.Sprintf("PATH=/bin PLUGIN_UNIX_SOCKET_DIR=/run/s GOBRIDGE_PARENT_PID=%d GOBRIDGE_LOG_LEVEL=debug", os.Getpid())
	if got != want {
		t.Errorf("pluginEnv(…) = %q; want %q", got, want)
	}
}

func TestLineWriter(t *testing.T) {
	var buf bytes.Buffer
	h := NewHandler(&buf, LevelInfo)
	w := &lineWriter{log: func() *slog.Logger { return slog.New(h.WithOrigin("plugin p", 9)) }, level: LevelInfo}
	_, _ = w.Write([]byte("hello "))
	_, _ = w.Write([]byte("world\r\nsecond\n\nthird"))
	got := buf.String()
	if strings.Count(got, "\n") != 2 || !strings.Contains(got, "plugin p: hello world\n") || !strings.Contains(got, "plugin p: second\n") {
		t.Errorf("lineWriter output = %q; want two lines, the partial third held back", got)
	}
}
