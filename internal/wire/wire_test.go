package wire

import (
	"log/slog"
	"net/http"
	"testing"
	"time"

	pb "github.com/gobridge/gobridge/proto/gobridge/v1"
	"google.golang.org/protobuf/proto"
)

func TestValid(t *testing.T) {
	tests := []struct {
		s           string
		name, value bool
	}{
		{"X-Test", true, true},
		{"", false, true},
		{"Bad Name", false, true},
		{"a\r\nb", false, false},
		{"a\x00b", false, false},
		{"tab\there", false, true},
		{"caf\xc3\xa9", false, true},
		{"del\x7f", false, false},
	}
	for _, tt := range tests {
		if got := ValidName(tt.s); got != tt.name {
			t.Errorf("ValidName(%q) = %v; want %v", tt.s, got, tt.name)
		}
		if got := ValidValue(tt.s); got != tt.value {
			t.Errorf("ValidValue(%q) = %v; want %v", tt.s, got, tt.value)
		}
	}
}

func TestLevel(t *testing.T) {
	tests := []struct {
		in   slog.Level
		want pb.LogRecord_Level
	}{
		{LevelTrace, pb.LogRecord_LEVEL_TRACE1},
		{slog.LevelDebug, pb.LogRecord_LEVEL_DEBUG},
		{slog.LevelInfo, pb.LogRecord_LEVEL_INFO},
		{LevelNotice, pb.LogRecord_LEVEL_NOTICE},
		{slog.LevelWarn, pb.LogRecord_LEVEL_WARNING},
		{slog.LevelError, pb.LogRecord_LEVEL_ERR},
		{LevelCrit, pb.LogRecord_LEVEL_CRIT},
		{LevelAlert, pb.LogRecord_LEVEL_ALERT},
		{LevelEmerg, pb.LogRecord_LEVEL_EMERG},
	}
	for _, tt := range tests {
		if got := Level(tt.in); got != tt.want {
			t.Errorf("Level(%v) = %v; want %v", tt.in, got, tt.want)
		}
		if got := SlogLevel(tt.want); got != tt.in {
			t.Errorf("SlogLevel(%v) = %v; want %v", tt.want, got, tt.in)
		}
	}
}

func TestRequestRoundTrip(t *testing.T) {
	r := Request{
		Method: "POST", UnparsedURI: "/a?b", URI: "/a", Args: "b", ContentLength: -1, HasBody: true,
		Headers:  []Pair{{"Accept", "a"}, {"accept", "b"}},
		Options:  []Pair{{"k", "v"}},
		RemoteIP: "192.0.2.1", RemotePort: 1234, UseragentIP: "198.51.100.7", Secure: true,
		ServerName: "example.com", ServerPort: 443, RequestTime: time.UnixMicro(1700000000123456),
	}
	m := EncodeRequest(r)
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var m2 pb.Request
	if err := proto.Unmarshal(b, &m2); err != nil {
		t.Fatal(err)
	}
	got := DecodeRequest(&m2)
	if got.Method != r.Method || got.UnparsedURI != r.UnparsedURI || got.ContentLength != -1 || !got.HasBody ||
		len(got.Headers) != 2 || got.Headers[1] != r.Headers[1] || got.RemotePort != 1234 ||
		got.UseragentIP != r.UseragentIP || !got.Secure || got.ServerPort != 443 || !got.RequestTime.Equal(r.RequestTime) {
		t.Errorf("DecodeRequest(EncodeRequest(r)) = %+v; want %+v", got, r)
	}
	if h := PairsToHeader(got.Headers); len(h.Values("Accept")) != 2 {
		t.Errorf("PairsToHeader(...)[Accept] = %v; want [a b]", h.Values("Accept"))
	}
}

func TestHeaderToPairs(t *testing.T) {
	h := http.Header{"B": {"1", "2"}, "A": {"x"}, "Connection": {"close"}, "Content-Length": {"3"}, "Bad": {"a\nb"}}
	ps, invalid := HeaderToPairs(h)
	var got []string
	for _, p := range ps {
		got = append(got, string(p.Key)+"="+string(p.Value))
	}
	if want := "[A=x B=1 B=2]"; fmtSlice(got) != want {
		t.Errorf("HeaderToPairs(h) = %v; want %v", got, want)
	}
	if fmtSlice(invalid) != "[Bad]" {
		t.Errorf("HeaderToPairs(h) invalid = %v; want [Bad]", invalid)
	}
}

func fmtSlice(s []string) string {
	out := "["
	for i, v := range s {
		if i > 0 {
			out += " "
		}
		out += v
	}
	return out + "]"
}
