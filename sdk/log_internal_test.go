package sdk

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"
	"time"
)

// TestHclogFormat checks that process log lines are what go-plugin's host
// parses as hclog JSON, so gobridged keeps their levels.
func TestHclogFormat(t *testing.T) {
	tests := []struct {
		level     slog.Level
		want      string // hclog's @level
		wantHTTPD string // the exact httpd level
	}{
		{LevelTrace, "trace", "trace1"},
		{LevelDebug, "debug", "debug"},
		{LevelInfo, "info", "info"},
		{LevelNotice, "warn", "notice"}, // rounded up: go-plugin's host must not drop it
		{LevelWarn, "warn", "warn"},
		{LevelError, "error", "error"},
		{LevelCrit, "error", "crit"},
		{LevelAlert, "error", "alert"},
		{LevelEmerg, "error", "emerg"},
		{LevelEmerg + 10, "error", "emerg"},
		{LevelCrit + 1, "error", "crit"},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		l := slog.New(newHclogHandler(&buf, LevelTrace)).With("plugin", "p").WithGroup("g")
		l.Log(t.Context(), tt.level, "msg", "err", errors.New("e"), "d", time.Second, "@level", "spoof")
		var m map[string]any
		if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
			t.Fatalf("line %q is not JSON: %v", buf.String(), err)
		}
		if m["@level"] != tt.want || m["@httpd_level"] != tt.wantHTTPD || m["@message"] != "msg" || m["plugin"] != "p" || m["g.err"] != "e" || m["g.d"] != "1s" {
			t.Errorf("hclog line for %v = %s; want @level %q, @httpd_level %q, @message msg, plugin=p, g.err=e, g.d=1s", tt.level, buf.String(), tt.want, tt.wantHTTPD)
		}
		ts, _ := m["@timestamp"].(string)
		if _, err := time.Parse("2006-01-02T15:04:05.000000Z07:00", ts); err != nil {
			t.Errorf("@timestamp %q does not parse as go-plugin expects: %v", ts, err)
		}
	}
}

// TestHTTPDLevel checks that the process logger starts at the level
// gobridged passes in the environment.
func TestHTTPDLevel(t *testing.T) {
	tests := []struct {
		env  string
		want slog.Level
	}{
		{"", LevelInfo},
		{"debug", LevelDebug},
		{"DEBUG", LevelDebug},
		{"notice", LevelNotice},
		{"crit", LevelCrit},
		{"emerg", LevelEmerg},
		{"trace5", LevelTrace},
		{"trace9", LevelInfo},
		{"loud", LevelInfo},
	}
	for _, tt := range tests {
		t.Setenv("GOBRIDGE_LOG_LEVEL", tt.env)
		if got := httpdLevel(); got != tt.want {
			t.Errorf("httpdLevel() with GOBRIDGE_LOG_LEVEL=%q = %v; want %v", tt.env, got, tt.want)
		}
	}
}

func TestLogQueueBounded(t *testing.T) {
	var q logQueue
	h := &requestLogHandler{q: &q, level: slog.LevelInfo}
	l := slog.New(h)
	for range maxPendingLogs + 10 {
		l.Info("x")
	}
	recs := q.take(true)
	if len(recs) != maxPendingLogs+1 {
		t.Fatalf("take() = %d records; want %d (+1 dropped notice)", len(recs), maxPendingLogs+1)
	}
	if got := string(recs[len(recs)-1].GetMessage()); got != "sdk: 10 log records dropped (more than 1024 between messages)" {
		t.Errorf("last record = %q; want the dropped notice", got)
	}
	if q.add(nil) {
		t.Errorf("add after take(true) = true; want false (late records go to the process log)")
	}
}
