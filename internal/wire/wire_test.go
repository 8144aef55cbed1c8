package wire

import (
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
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

// fillRequest gives every field of a Request a value of its own, so a field
// that DecodeRequest forgets, or reads from another field's bytes, shows.
func fillRequest(t *testing.T) Request {
	t.Helper()
	var r Request
	n := 0
	next := func() int { n++; return n }
	var fill func(v reflect.Value, name string)
	fill = func(v reflect.Value, name string) {
		switch v.Kind() {
		case reflect.String:
			v.SetString(fmt.Sprintf("%s-%d", name, next()))
		case reflect.Bool:
			v.SetBool(true)
		case reflect.Int, reflect.Int64:
			if v.Type() == reflect.TypeOf(time.Duration(0)) {
				v.SetInt(int64(time.Duration(next()) * time.Microsecond)) // µs on the wire
				return
			}
			v.SetInt(int64(next()))
		case reflect.Uint64:
			v.SetUint(uint64(next()))
		case reflect.Slice:
			v.Set(reflect.MakeSlice(v.Type(), 2, 2))
			for i := 0; i < 2; i++ {
				fill(v.Index(i), fmt.Sprintf("%s[%d]", name, i))
			}
		case reflect.Struct:
			if v.Type() == reflect.TypeOf(time.Time{}) {
				v.Set(reflect.ValueOf(time.UnixMicro(int64(1700000000000000 + next()))))
				return
			}
			for i := 0; i < v.NumField(); i++ {
				fill(v.Field(i), v.Type().Field(i).Name)
			}
		case reflect.Pointer:
			v.Set(reflect.New(v.Type().Elem()))
			fill(v.Elem(), name)
		default:
			t.Fatalf("fillRequest: field %s of kind %v", name, v.Kind())
		}
	}
	fill(reflect.ValueOf(&r).Elem(), "")
	return r
}

func TestDecodeRequestEveryField(t *testing.T) {
	r := fillRequest(t)
	b, err := proto.Marshal(EncodeRequest(r))
	if err != nil {
		t.Fatal(err)
	}
	var m pb.Request
	if err := proto.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	got := DecodeRequest(&m)
	if !reflect.DeepEqual(got, r) {
		t.Errorf("DecodeRequest(EncodeRequest(r)) =\n%+v\nwant\n%+v", got, r)
	}
	// The decoded strings are copies: grpc-go may reuse the message.
	for i := range m.Method {
		m.Method[i] = 'X'
	}
	for _, p := range m.HeadersIn {
		for i := range p.Value {
			p.Value[i] = 'X'
		}
	}
	if got.Method != r.Method || got.Headers[0].Value != r.Headers[0].Value {
		t.Errorf("decoded strings changed with the message: %q, %q", got.Method, got.Headers[0].Value)
	}
	if z := DecodeRequest(nil); !reflect.DeepEqual(z, Request{}) {
		t.Errorf("DecodeRequest(nil) = %+v; want the zero Request", z)
	}
}
