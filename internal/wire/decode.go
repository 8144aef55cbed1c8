package wire

import (
	"time"
	"unsafe"

	pb "github.com/gobridge/gobridge/proto/gobridge/v1"
)

// DecodeRequest converts a snapshot received from the module. A nil
// snapshot yields the zero Request.
//
// Every string of the snapshot (about 30 fields, plus each header, note,
// option and variable) is cut from one string holding them all, so a
// request costs one allocation for its text instead of one per field:
// that is most of the SDK's garbage per request, and garbage is what the
// plugin's GC time grows with.
func DecodeRequest(m *pb.Request) Request {
	var r Request
	var t textWalk
	walkStrings(&r, m, &t) // sizes
	t.buf = make([]byte, 0, t.size)
	t.step = copyText
	walkStrings(&r, m, &t)
	// buf is never written again, so it may back the strings directly
	// (what strings.Builder does); string(buf) would copy it once more.
	t.all = unsafe.String(unsafe.SliceData(t.buf), len(t.buf))
	t.step = sliceText
	walkStrings(&r, m, &t)

	r.ContentLength = m.GetContentLength()
	r.HasBody = m.GetHasBody()
	r.IsSubrequest = m.GetIsSubrequest()
	r.IsInternalRedirect = m.GetIsInternalRedirect()
	if us := m.GetRequestTimeUs(); us != 0 {
		r.RequestTime = time.UnixMicro(us)
	}
	r.Status = int(m.GetStatus())
	if us := m.GetMtimeUs(); us != 0 {
		r.Mtime = time.UnixMicro(us)
	}
	r.NoCache = m.GetNoCache()
	r.WasRedirected = m.GetWasRedirected()
	r.PrevStatus = int(m.GetPrevStatus())
	r.BytesSent = m.GetBytesSent()
	if c := m.GetConnection(); c != nil {
		r.RemotePort = int(c.GetRemotePort())
		r.LocalPort = int(c.GetLocalPort())
		r.Secure = c.GetSecure()
		r.ConnID = c.GetId()
		r.Keepalives = int(c.GetKeepalives())
	}
	if s := m.GetServer(); s != nil {
		r.ServerPort = int(s.GetPort())
		r.IsVirtual = s.GetIsVirtual()
		r.IsDefault = s.GetIsDefault()
		r.DefinedAt = int(s.GetDefinedAt())
		r.Timeout = time.Duration(s.GetTimeoutUs()) * time.Microsecond
		r.KeepAlive = s.GetKeepAlive()
		r.KeepAliveTimeout = time.Duration(s.GetKeepAliveTimeoutUs()) * time.Microsecond
		r.KeepAliveMax = int(s.GetKeepAliveMax())
		r.LimitRequestLine = int(s.GetLimitRequestLine())
		r.LimitRequestFieldSize = int(s.GetLimitRequestFieldsize())
		r.LimitRequestFields = int(s.GetLimitRequestFields())
	}
	return r
}

// textWalk is one of DecodeRequest's walks over the snapshot's text. A
// concrete type rather than a func value, so that the compiler sees the
// field pointers do not escape and the Request stays on the stack.
type textWalk struct {
	step int // sizeText, copyText, sliceText
	size int
	buf  []byte
	all  string
	off  int
}

const (
	sizeText = iota
	copyText
	sliceText
)

func (t *textWalk) visit(dst *string, b []byte) {
	switch t.step {
	case sizeText:
		t.size += len(b)
	case copyText:
		t.buf = append(t.buf, b...)
	default:
		*dst = t.all[t.off : t.off+len(b)]
		t.off += len(b)
	}
}

// walkStrings calls t.visit for every text field of m with the field of r
// it decodes into, always in the same order (DecodeRequest walks three
// times: to size, to copy and to slice). It allocates r's tables and lists
// on the first walk; later walks find them made.
func walkStrings(r *Request, m *pb.Request, t *textWalk) {

	t.visit(&r.Method, m.GetMethod())
	t.visit(&r.Protocol, m.GetProtocol())
	t.visit(&r.TheRequest, m.GetTheRequest())
	t.visit(&r.UnparsedURI, m.GetUnparsedUri())
	t.visit(&r.URI, m.GetUri())
	t.visit(&r.Args, m.GetArgs())
	t.visit(&r.PathInfo, m.GetPathInfo())
	t.visit(&r.Filename, m.GetFilename())
	t.visit(&r.Hostname, m.GetHostname())
	t.visit(&r.Scheme, m.GetScheme())
	t.visit(&r.User, m.GetUser())
	t.visit(&r.AuthType, m.GetAuthType())
	t.visit(&r.Handler, m.GetHandler())
	t.visit(&r.ContentType, m.GetContentType())
	t.visit(&r.Plugin, m.GetPlugin())
	t.visit(&r.LogID, m.GetLogId())
	t.visit(&r.Location, m.GetLocation())
	t.visit(&r.Files, m.GetFiles())
	t.visit(&r.StatusLine, m.GetStatusLine())
	t.visit(&r.ContentEncoding, m.GetContentEncoding())
	t.visit(&r.CanonicalFilename, m.GetCanonicalFilename())
	t.visit(&r.MainURI, m.GetMainUri())
	t.visit(&r.PrevURI, m.GetPrevUri())
	t.visit(&r.AuthName, m.GetAuthName())
	t.visit(&r.RemoteHost, m.GetRemoteHost())
	walkPairs(&r.Headers, m.GetHeadersIn(), t)
	walkPairs(&r.Options, m.GetOptions(), t)
	walkPairs(&r.Notes, m.GetNotes(), t)
	walkPairs(&r.SubprocessEnv, m.GetSubprocessEnv(), t)
	walkPairs(&r.HeadersOut, m.GetHeadersOut(), t)
	walkPairs(&r.ErrHeadersOut, m.GetErrHeadersOut(), t)
	walkList(&r.ContentLanguages, m.GetContentLanguages(), t)
	walkList(&r.AllowedMethods, m.GetAllowedMethods(), t)
	if c := m.GetConnection(); c != nil {
		walkPairs(&r.ConnNotes, c.GetNotes(), t)
		t.visit(&r.RemoteIP, c.GetRemoteIp())
		t.visit(&r.LocalIP, c.GetLocalIp())
		t.visit(&r.UseragentIP, c.GetUseragentIp())
		if tls := c.GetTls(); tls != nil {
			if r.TLS == nil {
				r.TLS = &TLS{}
			}
			t.visit(&r.TLS.Protocol, tls.GetProtocol())
			t.visit(&r.TLS.Cipher, tls.GetCipher())
			t.visit(&r.TLS.SNI, tls.GetSni())
			t.visit(&r.TLS.ClientVerify, tls.GetClientVerify())
			t.visit(&r.TLS.ClientSubject, tls.GetClientSubject())
			t.visit(&r.TLS.ClientIssuer, tls.GetClientIssuer())
			t.visit(&r.TLS.ClientSerial, tls.GetClientSerial())
		}
	}
	if s := m.GetServer(); s != nil {
		t.visit(&r.ServerName, s.GetHostname())
		t.visit(&r.ServerAdmin, s.GetAdmin())
		t.visit(&r.DocumentRoot, s.GetDocumentRoot())
		walkList(&r.ServerAliases, s.GetAliases(), t)
		walkList(&r.Defines, s.GetDefines(), t)
		walkPairs(&r.ServerOptions, s.GetOptions(), t)
		t.visit(&r.DefinedIn, s.GetDefinedIn())
		t.visit(&r.ErrorLog, s.GetErrorLog())
		t.visit(&r.LogLevel, s.GetLogLevel())
	}
}

func walkPairs(dst *[]Pair, ps []*pb.Pair, t *textWalk) {
	if len(ps) == 0 {
		return
	}
	if *dst == nil {
		*dst = make([]Pair, len(ps))
	}
	for i, p := range ps {
		t.visit(&(*dst)[i].Key, p.GetKey())
		t.visit(&(*dst)[i].Value, p.GetValue())
	}
}

func walkList(dst *[]string, bs [][]byte, t *textWalk) {
	if len(bs) == 0 {
		return
	}
	if *dst == nil {
		*dst = make([]string, len(bs))
	}
	for i, b := range bs {
		t.visit(&(*dst)[i], b)
	}
}
