// Package wire converts between the generated gobridge.v1 protobuf types and
// the plain Go values that package sdk exposes, so generated types never
// appear in a public API. It also holds the limits both sides of the Handle
// stream agree on (docs/architecture.md §5) and the header checks that the
// module applies, so the SDK can refuse a bad header before it is sent.
package wire

import (
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"time"

	pb "github.com/gobridge/gobridge/proto/gobridge/v1"
)

// Limits of the Handle stream.
const (
	// MaxChunk is the largest body chunk the SDK sends, and the largest
	// amount of request body it asks for at once.
	MaxChunk = 256 << 10

	// MaxFirstBody is the most request body the module sends unasked in the
	// first HandleRequest.
	MaxFirstBody = 64 << 10

	// MaxMessage bounds every gRPC message in either direction. A request
	// snapshot is bounded by httpd's LimitRequestFields (100) times
	// LimitRequestFieldSize (8190), about 800 KiB, plus notes and
	// subprocess_env; a body chunk is at most MaxChunk.
	MaxMessage = 4 << 20
)

// Pair is one entry of an ordered, multi-valued table.
type Pair struct {
	Key, Value string
}

// Request is the request snapshot as plain Go values.
type Request struct {
	Method, Protocol, TheRequest, UnparsedURI, URI, Args, PathInfo   string
	Filename, Hostname, Scheme, User, AuthType, Handler, ContentType string
	AuthName, RemoteHost                                             string
	Plugin, LogID, Location, Files                                   string
	RequestTime                                                      time.Time
	ContentLength                                                    int64
	HasBody, IsSubrequest, IsInternalRedirect                        bool
	Headers, Options, Notes, SubprocessEnv                           []Pair

	RemoteIP, LocalIP, UseragentIP string
	RemotePort, LocalPort          int
	Secure                         bool
	ConnID                         uint64
	Keepalives                     int

	ServerName, ServerAdmin, DocumentRoot string
	ServerPort                            int

	// What the non-body phases read besides.
	Status                              int
	StatusLine, ContentEncoding         string
	ContentLanguages                    []string
	Mtime                               time.Time
	NoCache, WasRedirected              bool
	CanonicalFilename, MainURI, PrevURI string
	PrevStatus                          int
	BytesSent                           int64
	HeadersOut, ErrHeadersOut           []Pair

	// Request-object members of the second slice (all optional on the wire).
	AllowedMethods       []string
	ConnNotes            []Pair
	TLS                  *TLS
	ServerAliases        []string
	IsVirtual, IsDefault bool
	Defines              []string

	// The virtual host's settings (Server fields 9 and up).
	ServerOptions                  []Pair
	DefinedIn, ErrorLog, LogLevel  string
	DefinedAt                      int
	Timeout, KeepAliveTimeout      time.Duration
	KeepAlive                      bool
	KeepAliveMax, LimitRequestLine int
	LimitRequestFieldSize          int
	LimitRequestFields             int
}

// TLS holds mod_ssl's facts about a TLS connection.
type TLS struct {
	Protocol, Cipher, SNI                                   string
	ClientVerify, ClientSubject, ClientIssuer, ClientSerial string
}

func encodeStrings(ss []string) [][]byte {
	if len(ss) == 0 {
		return nil
	}
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}

// EncodeRequest is the inverse of DecodeRequest; it plays the module's part
// in tests.
func EncodeRequest(r Request) *pb.Request {
	m := &pb.Request{
		Method:             []byte(r.Method),
		Protocol:           []byte(r.Protocol),
		TheRequest:         []byte(r.TheRequest),
		UnparsedUri:        []byte(r.UnparsedURI),
		Uri:                []byte(r.URI),
		Args:               []byte(r.Args),
		PathInfo:           []byte(r.PathInfo),
		Filename:           []byte(r.Filename),
		Hostname:           []byte(r.Hostname),
		Scheme:             []byte(r.Scheme),
		User:               []byte(r.User),
		AuthType:           []byte(r.AuthType),
		Handler:            []byte(r.Handler),
		ContentType:        []byte(r.ContentType),
		Plugin:             []byte(r.Plugin),
		LogId:              []byte(r.LogID),
		Location:           []byte(r.Location),
		Files:              []byte(r.Files),
		ContentLength:      r.ContentLength,
		HasBody:            r.HasBody,
		IsSubrequest:       r.IsSubrequest,
		IsInternalRedirect: r.IsInternalRedirect,
		HeadersIn:          EncodePairs(r.Headers),
		Options:            EncodePairs(r.Options),
		Notes:              EncodePairs(r.Notes),
		SubprocessEnv:      EncodePairs(r.SubprocessEnv),
		Connection: &pb.Connection{
			RemoteIp:    []byte(r.RemoteIP),
			RemotePort:  uint32(r.RemotePort),
			LocalIp:     []byte(r.LocalIP),
			LocalPort:   uint32(r.LocalPort),
			UseragentIp: []byte(r.UseragentIP),
			Secure:      r.Secure,
			Id:          r.ConnID,
			Keepalives:  uint32(r.Keepalives),
		},
		Server: &pb.Server{
			Hostname:     []byte(r.ServerName),
			Port:         uint32(r.ServerPort),
			Admin:        []byte(r.ServerAdmin),
			DocumentRoot: []byte(r.DocumentRoot),
		},
	}
	if !r.RequestTime.IsZero() {
		m.RequestTimeUs = r.RequestTime.UnixMicro()
	}
	m.Status = int32(r.Status)
	m.StatusLine = []byte(r.StatusLine)
	m.ContentEncoding = []byte(r.ContentEncoding)
	for _, l := range r.ContentLanguages {
		m.ContentLanguages = append(m.ContentLanguages, []byte(l))
	}
	if !r.Mtime.IsZero() {
		m.MtimeUs = r.Mtime.UnixMicro()
	}
	m.NoCache = r.NoCache
	m.WasRedirected = r.WasRedirected
	m.CanonicalFilename = []byte(r.CanonicalFilename)
	m.MainUri = []byte(r.MainURI)
	m.PrevUri = []byte(r.PrevURI)
	m.PrevStatus = int32(r.PrevStatus)
	m.BytesSent = r.BytesSent
	m.HeadersOut = EncodePairs(r.HeadersOut)
	m.ErrHeadersOut = EncodePairs(r.ErrHeadersOut)
	m.AllowedMethods = encodeStrings(r.AllowedMethods)
	m.AuthName = []byte(r.AuthName)
	m.RemoteHost = []byte(r.RemoteHost)
	m.Connection.Notes = EncodePairs(r.ConnNotes)
	if t := r.TLS; t != nil {
		m.Connection.Tls = &pb.TLS{
			Protocol:      []byte(t.Protocol),
			Cipher:        []byte(t.Cipher),
			Sni:           []byte(t.SNI),
			ClientVerify:  []byte(t.ClientVerify),
			ClientSubject: []byte(t.ClientSubject),
			ClientIssuer:  []byte(t.ClientIssuer),
			ClientSerial:  []byte(t.ClientSerial),
		}
	}
	m.Server.Aliases = encodeStrings(r.ServerAliases)
	m.Server.IsVirtual = r.IsVirtual
	m.Server.IsDefault = r.IsDefault
	m.Server.Defines = encodeStrings(r.Defines)
	m.Server.Options = EncodePairs(r.ServerOptions)
	m.Server.DefinedIn = []byte(r.DefinedIn)
	m.Server.DefinedAt = uint32(r.DefinedAt)
	m.Server.ErrorLog = []byte(r.ErrorLog)
	m.Server.LogLevel = []byte(r.LogLevel)
	m.Server.TimeoutUs = r.Timeout.Microseconds()
	m.Server.KeepAlive = r.KeepAlive
	m.Server.KeepAliveTimeoutUs = r.KeepAliveTimeout.Microseconds()
	m.Server.KeepAliveMax = int32(r.KeepAliveMax)
	m.Server.LimitRequestLine = int32(r.LimitRequestLine)
	m.Server.LimitRequestFieldsize = int32(r.LimitRequestFieldSize)
	m.Server.LimitRequestFields = int32(r.LimitRequestFields)
	return m
}

// DecodePairs converts a wire table, keeping order and repeats.
func DecodePairs(ps []*pb.Pair) []Pair {
	if len(ps) == 0 {
		return nil
	}
	out := make([]Pair, len(ps))
	for i, p := range ps {
		out[i] = Pair{Key: string(p.GetKey()), Value: string(p.GetValue())}
	}
	return out
}

// EncodePairs converts a table for the wire.
func EncodePairs(ps []Pair) []*pb.Pair {
	if len(ps) == 0 {
		return nil
	}
	out := make([]*pb.Pair, len(ps))
	for i, p := range ps {
		out[i] = &pb.Pair{Key: []byte(p.Key), Value: []byte(p.Value)}
	}
	return out
}

// PairsToHeader builds an http.Header from an ordered header list; keys are
// canonicalized and repeated fields become multiple values in order.
func PairsToHeader(ps []Pair) http.Header {
	h := make(http.Header, len(ps))
	for _, p := range ps {
		h.Add(p.Key, p.Value)
	}
	return h
}

// HeaderToPairs flattens h for the wire in a deterministic order (sorted by
// name, values in order), leaving out names and values that Valid refuses
// and names that Hop reports. It returns the names it dropped as invalid.
func HeaderToPairs(h http.Header) (ps []*pb.Pair, invalid []string) {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	// Sized first, so that the pairs, the pointers to them and their bytes
	// take three allocations, not one per pair and two per field: the head
	// is built for every response.
	n, size := 0, 0
	for i, k := range keys {
		if Hop(k) {
			keys[i] = ""
			continue
		}
		if !ValidName(k) {
			invalid = append(invalid, k)
			keys[i] = ""
			continue
		}
		for _, v := range h[k] {
			if !ValidValue(v) {
				invalid = append(invalid, k)
				continue
			}
			n++
			size += len(k) + len(v)
		}
	}
	if n == 0 {
		return nil, invalid
	}
	pairs := make([]pb.Pair, n)
	ps = make([]*pb.Pair, 0, n)
	buf := make([]byte, 0, size)
	for _, k := range keys {
		if k == "" {
			continue
		}
		for _, v := range h[k] {
			if !ValidValue(v) {
				continue
			}
			p := &pairs[len(ps)]
			buf = append(buf, k...)
			p.Key = buf[len(buf)-len(k) : len(buf) : len(buf)]
			buf = append(buf, v...)
			p.Value = buf[len(buf)-len(v) : len(buf) : len(buf)]
			ps = append(ps, p)
		}
	}
	return ps, invalid
}

// hop lists the headers the module drops from a plugin's response, plus
// Content-Length, which httpd computes itself.
var hop = map[string]bool{
	"Connection":        true,
	"Keep-Alive":        true,
	"Transfer-Encoding": true,
	"Upgrade":           true,
	"Te":                true,
	"Trailer":           true,
	"Proxy-Connection":  true,
	"Content-Length":    true,
}

// Hop reports whether a response header is one httpd owns (hop-by-hop
// headers and Content-Length); the SDK leaves those out of the head.
func Hop(name string) bool { return hop[http.CanonicalHeaderKey(name)] }

// ValidName reports whether s is an RFC 9110 token.
func ValidName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTchar(s[i]) {
			return false
		}
	}
	return true
}

func isTchar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}

// ValidValue reports whether s is a header value the module accepts: no
// control character but HTAB (so no CR, LF or NUL), and no DEL.
func ValidValue(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// Levels between slog's that httpd also has.
const (
	LevelTrace  = slog.Level(-8)
	LevelNotice = slog.Level(2)
	LevelCrit   = slog.Level(12)
	LevelAlert  = slog.Level(16)
	LevelEmerg  = slog.Level(20)
)

// Level maps a slog level to httpd's nearest at or below it.
func Level(l slog.Level) pb.LogRecord_Level {
	switch {
	case l < slog.LevelDebug:
		return pb.LogRecord_LEVEL_TRACE1
	case l < slog.LevelInfo:
		return pb.LogRecord_LEVEL_DEBUG
	case l < LevelNotice:
		return pb.LogRecord_LEVEL_INFO
	case l < slog.LevelWarn:
		return pb.LogRecord_LEVEL_NOTICE
	case l < slog.LevelError:
		return pb.LogRecord_LEVEL_WARNING
	case l < LevelCrit:
		return pb.LogRecord_LEVEL_ERR
	case l < LevelAlert:
		return pb.LogRecord_LEVEL_CRIT
	case l < LevelEmerg:
		return pb.LogRecord_LEVEL_ALERT
	default:
		return pb.LogRecord_LEVEL_EMERG
	}
}

// levelNames are httpd's names for the LogRecord levels.
var levelNames = map[pb.LogRecord_Level]string{
	pb.LogRecord_LEVEL_EMERG:   "emerg",
	pb.LogRecord_LEVEL_ALERT:   "alert",
	pb.LogRecord_LEVEL_CRIT:    "crit",
	pb.LogRecord_LEVEL_ERR:     "error",
	pb.LogRecord_LEVEL_WARNING: "warn",
	pb.LogRecord_LEVEL_NOTICE:  "notice",
	pb.LogRecord_LEVEL_INFO:    "info",
	pb.LogRecord_LEVEL_DEBUG:   "debug",
	pb.LogRecord_LEVEL_TRACE1:  "trace1",
}

// LevelName returns httpd's name for the level Level maps l to ("crit",
// "notice", "trace1" …): the same mapping for the process log as for a
// request's log.
func LevelName(l slog.Level) string { return levelNames[Level(l)] }

// ParseLevel returns the slog level for one of httpd's LogLevel names
// (emerg … debug, trace1 … trace8, case-insensitive). The SDK has one
// trace level, so every trace name gives LevelTrace.
func ParseLevel(name string) (slog.Level, bool) {
	name = strings.ToLower(name)
	if len(name) == len("trace1") && strings.HasPrefix(name, "trace") && name[5] >= '1' && name[5] <= '8' {
		return LevelTrace, true
	}
	for l, n := range levelNames {
		if n == name {
			return SlogLevel(l), true
		}
	}
	return 0, false
}

// SlogLevel is the inverse of Level, used by tests and sdktest.
func SlogLevel(l pb.LogRecord_Level) slog.Level {
	switch l {
	case pb.LogRecord_LEVEL_TRACE1:
		return LevelTrace
	case pb.LogRecord_LEVEL_DEBUG:
		return slog.LevelDebug
	case pb.LogRecord_LEVEL_NOTICE:
		return LevelNotice
	case pb.LogRecord_LEVEL_WARNING:
		return slog.LevelWarn
	case pb.LogRecord_LEVEL_ERR:
		return slog.LevelError
	case pb.LogRecord_LEVEL_CRIT:
		return LevelCrit
	case pb.LogRecord_LEVEL_ALERT:
		return LevelAlert
	case pb.LogRecord_LEVEL_EMERG:
		return LevelEmerg
	default:
		return slog.LevelInfo
	}
}
