package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gobridge/gobridge/internal/wire"
	pb "github.com/gobridge/gobridge/proto/gobridge/v1"
)

// Pair is one entry of an ordered, multi-valued table such as the request
// headers as received, notes, subprocess_env or GoBridgeOption values.
type Pair struct {
	Key, Value string
}

// Request is the snapshot of httpd's request_rec that the content handler
// sees. Field names follow request_rec and mod_python. All fields are
// filled before the handler runs; changing them has no effect on httpd.
//
// The snapshot's strings share one allocation: keeping any one of them
// (in a cache, a map of sessions) keeps the whole request's text alive.
// Copy what outlives the request with strings.Clone.
type Request struct {
	Method      string // "GET"
	Protocol    string // "HTTP/1.1"
	TheRequest  string // the request line as received
	UnparsedURI string // the URI as received, with query string: "/app/x%20y?a=1"
	URI         string // the decoded path: "/app/x y"
	Args        string // the query string without '?': "a=1"
	PathInfo    string // the path after the part that was mapped
	Filename    string // the file the URI maps to
	Hostname    string // from the Host header or the request line, no port
	Scheme      string // "http" or "https"

	// Header holds the request headers with canonical names. HeaderList
	// holds them as received: original spelling, order and repeats.
	Header     http.Header
	HeaderList Pairs

	// ContentLength is the request body's length, -1 when unknown
	// (chunked). Body streams the request body; it is never nil, and reads
	// pull the body from httpd in chunks of at most 256 KiB on demand.
	ContentLength int64
	Body          io.ReadCloser

	User        string // r->user: the authenticated user, if any
	AuthType    string // r->ap_auth_type once someone authenticated, else the configured AuthType (as ap_auth_type)
	AuthName    string // the AuthName in effect here (the realm), set or not a login
	Handler     string // r->handler
	ContentType string // r->content_type
	RequestTime time.Time

	// RemoteAddr is the peer of the TCP connection ("ip:port"); UseragentIP
	// is the client's address as httpd sees it, which differs from the peer
	// behind mod_remoteip. LocalAddr is the address that accepted the
	// connection.
	RemoteAddr  string
	UseragentIP string
	// RemoteHost is the client's host name as httpd's REMOTE_HOST gives
	// it: where HostnameLookups is On, one reverse lookup (the owner of the
	// address's PTR record chooses it); verified forward and back only
	// under HostnameLookups Double. It may also be a name another module
	// made httpd look up for the connection (Require host), and is empty
	// when nothing did. Do not grant access on it unless the location uses
	// HostnameLookups Double. gobridge makes no lookup of its own.
	RemoteHost string
	LocalAddr  string
	Secure     bool   // the connection uses TLS
	ConnID     uint64 // c->id
	Keepalives int    // requests served on the connection before this one

	ServerName   string // ServerName of the virtual host
	ServerPort   int
	ServerAdmin  string
	DocumentRoot string

	Notes         Pairs
	SubprocessEnv Pairs

	Plugin string // the GoBridgePlugin name being called
	// Options are the GoBridgeOption values in effect, in merge order (the
	// most specific section's last); read one with Option or LookupOption.
	Options Pairs
	LogID   string // r->log_id, for correlating log lines
	// Location is the section whose configuration applies: the
	// <Location> or <Directory> path as httpd names it (a directory with a
	// trailing slash), or the directory of the .htaccess file; empty at
	// server level. For a <Files>/<FilesMatch> section it is the section
	// around it, and Files holds the pattern, so Location and Files
	// together tell two <Files "*.py"> sections apart: key per-location
	// state on both.
	Location string
	// Files is the <Files>/<FilesMatch> pattern when such a section holds
	// the configuration that applies, as written ("*.py"); empty otherwise.
	Files              string
	IsSubrequest       bool
	IsInternalRedirect bool

	// What the non-body phases (PhaseRequest) mostly read. Status is
	// r->status (200 until something sets it); StatusLine is empty unless
	// set. Mtime is r->mtime, zero when unknown.
	Status            int
	StatusLine        string
	ContentEncoding   string
	ContentLanguages  []string
	Mtime             time.Time
	NoCache           bool
	CanonicalFilename string
	// HeaderOut and ErrHeaderOut are r->headers_out and r->err_headers_out
	// as they stand when the phase runs, in order.
	HeaderOut    Pairs
	ErrHeaderOut Pairs
	// WasRedirected: httpd redirected this request internally to another
	// (r->next; seen in the log phase). MainURI is the main request's URI
	// of a sub-request; PrevURI and PrevStatus describe the request an
	// internal redirect came from.
	WasRedirected bool
	MainURI       string
	PrevURI       string
	PrevStatus    int
	BytesSent     int64 // response body bytes sent (the log phase)

	// AllowedMethods are the methods allowed for the resource (r->allowed
	// and r->allowed_methods), which httpd lists in Allow on OPTIONS and
	// 405 answers; PhaseRequest.SetAllowedMethods changes them.
	AllowedMethods []string

	// ConnNotes are the connection's notes (c->notes): unlike Notes they
	// last for the whole connection, so a phase can leave something for
	// later requests on the same keep-alive connection
	// (PhaseRequest.Set(TableConnNotes, …)).
	ConnNotes Pairs

	// TLS describes the connection's TLS session when mod_ssl serves it;
	// nil for plain HTTP or when mod_ssl is not loaded.
	TLS *TLSInfo

	// ServerAliases are the virtual host's ServerAlias names (wildcards
	// included), in order. IsVirtualHost: the request is served by a
	// <VirtualHost>, not the main server. IsDefaultVhost: it is served by
	// the default server for the address the connection came in on (the
	// first <VirtualHost> for it, or the main server): no name-based
	// virtual host matched the Host header, or the first one did.
	ServerAliases  []string
	IsVirtualHost  bool
	IsDefaultVhost bool

	// Defines are the names set with Define in httpd.conf or -D on
	// httpd's command line (<IfDefine> names), in order.
	Defines []string

	// Server is the virtual host's configuration: timeouts, keep-alive,
	// limits, log level, its own GoBridgeOption values.
	Server ServerConfig

	ctx    context.Context
	logger *slog.Logger
	out    *changes // Set, Add, Unset, SetNote, SetEnv (mutate.go)
	// The content handler's stream, for calls into httpd mid-request
	// (sub-requests, DiscardBody); nil in other phases.
	call *call
	body *bodyReader
}

// TLSInfo is what mod_ssl knows about a TLS connection, named after its
// environment variables. Empty strings mean "not known".
type TLSInfo struct {
	Protocol string // SSL_PROTOCOL: "TLSv1.3"
	Cipher   string // SSL_CIPHER: "TLS_AES_256_GCM_SHA384"
	SNI      string // SSL_TLS_SNI: the host name the client asked for

	// ClientVerify is SSL_CLIENT_VERIFY: "NONE" (no client certificate),
	// "SUCCESS", "GENEROUS" (SSLVerifyClient optional_no_ca) or
	// "FAILED:reason".
	ClientVerify  string
	ClientSubject string // SSL_CLIENT_S_DN: "CN=ann,O=Example"
	ClientIssuer  string // SSL_CLIENT_I_DN
	ClientSerial  string // SSL_CLIENT_M_SERIAL, hex
}

// Context returns the request's context. It is cancelled when httpd gives
// up on the request (GoBridgeTimeout) or the client goes away. It is never
// nil.
func (r *Request) Context() context.Context {
	if r.ctx == nil {
		return context.Background()
	}
	return r.ctx
}

// WithContext returns a shallow copy of r with its context changed to ctx.
func (r *Request) WithContext(ctx context.Context) *Request {
	if ctx == nil {
		panic("sdk: nil context")
	}
	r2 := *r
	r2.ctx = ctx
	return &r2
}

// Logger returns the request's logger. Its records go to httpd's error log
// with the request's context (log id, client address), riding along with
// the next message to httpd: logging costs no round trip. Records logged
// after the handler returned go to the process log instead.
func (r *Request) Logger() *slog.Logger {
	if r.logger == nil {
		return Logger()
	}
	return r.logger
}

// Option returns the value of the GoBridgeOption key in effect for the
// request, or "" if there is none. Keys compare case-insensitively, as
// httpd merges them. When the option is set more than once, the last value
// (the most specific section's) wins.
func (r *Request) Option(key string) string {
	v, _ := r.LookupOption(key)
	return v
}

// LookupOption is like Option and also reports whether key was set.
func (r *Request) LookupOption(key string) (string, bool) {
	for i := len(r.Options) - 1; i >= 0; i-- {
		if strings.EqualFold(r.Options[i].Key, key) {
			return r.Options[i].Value, true
		}
	}
	return "", false
}

// AbsoluteURL returns an absolute URL for path ("/x?y=1") on the server
// that answers this request, like httpd's ap_construct_url, from the
// snapshot alone (no round trip): the request's scheme, its host (the
// Host header's name, ServerName if there was none; IPv6 literals in
// brackets) and ServerPort, left out when it is the scheme's default (80
// for http, 443 for https). path gets a leading '/' if it lacks one; it is
// used as given, so escape it first. With UseCanonicalName On httpd itself
// would use ServerName even when the client sent another Host; build the
// URL from ServerName yourself in that case.
func (r *Request) AbsoluteURL(path string) string {
	scheme := r.Scheme
	if scheme == "" {
		scheme = "http"
		if r.Secure {
			scheme = "https"
		}
	}
	host := r.Hostname
	if host == "" {
		host = r.ServerName
	}
	if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
		host = "[" + host + "]"
	}
	port := r.ServerPort
	if port != 0 && !(port == 80 && scheme == "http") && !(port == 443 && scheme == "https") {
		host += ":" + strconv.Itoa(port)
	}
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	return scheme + "://" + host + path
}

// DiscardBody tells httpd to read and throw away the rest of the request
// body (ap_discard_request_body), for a handler that answers without
// wanting the body: httpd must still read what the client sends before the
// connection can carry the client's next request. After it, Body reports
// io.EOF, also for data that had already arrived. It costs no round trip:
// httpd does not answer it, and discards before it acts on anything the
// handler sends after it. Calling it again, or when the whole body has
// arrived already, sends nothing.
//
// If httpd fails to read the body (the client stalls, or LimitRequestBody
// is exceeded) the response is still sent and httpd closes the connection
// after it. DiscardBody returns an error only outside a content handler or
// when the request is gone.
func (r *Request) DiscardBody() error {
	b := r.body
	if r.call == nil || b == nil {
		return errors.New("sdk: DiscardBody: not a content handler's request")
	}
	ended := b.eof
	b.buf, b.eof = nil, true
	if ended {
		return nil // httpd has already read it all
	}
	if _, err := r.call.send(&pb.HandleResponse{DiscardBody: true}, false); err != nil {
		return fmt.Errorf("sdk: DiscardBody: %w", err)
	}
	return nil
}

// newRequest builds a Request from a decoded snapshot.
func newRequest(w wire.Request) *Request {
	r := &Request{
		Method:             w.Method,
		Protocol:           w.Protocol,
		TheRequest:         w.TheRequest,
		UnparsedURI:        w.UnparsedURI,
		URI:                w.URI,
		Args:               w.Args,
		PathInfo:           w.PathInfo,
		Filename:           w.Filename,
		Hostname:           w.Hostname,
		Scheme:             w.Scheme,
		Header:             wire.PairsToHeader(w.Headers),
		HeaderList:         toPairs(w.Headers),
		ContentLength:      w.ContentLength,
		User:               w.User,
		AuthType:           w.AuthType,
		Handler:            w.Handler,
		ContentType:        w.ContentType,
		RequestTime:        w.RequestTime,
		UseragentIP:        w.UseragentIP,
		Secure:             w.Secure,
		ConnID:             w.ConnID,
		Keepalives:         w.Keepalives,
		ServerName:         w.ServerName,
		ServerPort:         w.ServerPort,
		ServerAdmin:        w.ServerAdmin,
		DocumentRoot:       w.DocumentRoot,
		Notes:              toPairs(w.Notes),
		SubprocessEnv:      toPairs(w.SubprocessEnv),
		Plugin:             w.Plugin,
		LogID:              w.LogID,
		Location:           w.Location,
		Files:              w.Files,
		IsSubrequest:       w.IsSubrequest,
		IsInternalRedirect: w.IsInternalRedirect,
		Options:            toPairs(w.Options),
		Status:             w.Status,
		StatusLine:         w.StatusLine,
		ContentEncoding:    w.ContentEncoding,
		ContentLanguages:   w.ContentLanguages,
		Mtime:              w.Mtime,
		NoCache:            w.NoCache,
		CanonicalFilename:  w.CanonicalFilename,
		HeaderOut:          toPairs(w.HeadersOut),
		ErrHeaderOut:       toPairs(w.ErrHeadersOut),
		WasRedirected:      w.WasRedirected,
		MainURI:            w.MainURI,
		PrevURI:            w.PrevURI,
		PrevStatus:         w.PrevStatus,
		BytesSent:          w.BytesSent,
		AllowedMethods:     w.AllowedMethods,
		AuthName:           w.AuthName,
		RemoteHost:         w.RemoteHost,
		ConnNotes:          toPairs(w.ConnNotes),
		ServerAliases:      w.ServerAliases,
		IsVirtualHost:      w.IsVirtual,
		IsDefaultVhost:     w.IsDefault,
		Defines:            w.Defines,
		Server:             serverConfigFromWire(&w),
	}
	if t := w.TLS; t != nil {
		r.TLS = &TLSInfo{Protocol: t.Protocol, Cipher: t.Cipher, SNI: t.SNI, ClientVerify: t.ClientVerify,
			ClientSubject: t.ClientSubject, ClientIssuer: t.ClientIssuer, ClientSerial: t.ClientSerial}
	}
	if w.RemoteIP != "" {
		r.RemoteAddr = net.JoinHostPort(w.RemoteIP, strconv.Itoa(w.RemotePort))
	}
	if w.LocalIP != "" {
		r.LocalAddr = net.JoinHostPort(w.LocalIP, strconv.Itoa(w.LocalPort))
	}
	if r.UseragentIP == "" {
		r.UseragentIP = w.RemoteIP
	}
	return r
}

func toPairs(ps []wire.Pair) []Pair {
	if ps == nil {
		return nil
	}
	out := make([]Pair, len(ps))
	for i, p := range ps {
		out[i] = Pair(p)
	}
	return out
}
