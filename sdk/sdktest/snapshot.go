package sdktest

import (
	"net"
	"net/http"
	"sort"
	"strconv"

	"github.com/gobridge/gobridge/internal/wire"
	"github.com/gobridge/gobridge/sdk"
)

// snapshot is the request snapshot mod_gobridge would send for req: the
// inverse of the sdk's decoding, from req's exported fields.
func snapshot(r *sdk.Request) wire.Request {
	w := wire.Request{
		Method:             r.Method,
		Protocol:           r.Protocol,
		TheRequest:         r.TheRequest,
		UnparsedURI:        r.UnparsedURI,
		URI:                r.URI,
		Args:               r.Args,
		PathInfo:           r.PathInfo,
		Filename:           r.Filename,
		Hostname:           r.Hostname,
		Scheme:             r.Scheme,
		User:               r.User,
		AuthType:           r.AuthType,
		Handler:            r.Handler,
		ContentType:        r.ContentType,
		Plugin:             r.Plugin,
		LogID:              r.LogID,
		Location:           r.Location,
		Files:              r.Files,
		RequestTime:        r.RequestTime,
		ContentLength:      r.ContentLength,
		HasBody:            r.Body != nil && r.Body != http.NoBody,
		IsSubrequest:       r.IsSubrequest,
		IsInternalRedirect: r.IsInternalRedirect,
		Options:            wirePairs(r.Options),
		Notes:              wirePairs(r.Notes),
		SubprocessEnv:      wirePairs(r.SubprocessEnv),
		UseragentIP:        r.UseragentIP,
		Secure:             r.Secure,
		ConnID:             r.ConnID,
		Keepalives:         r.Keepalives,
		ServerName:         r.ServerName,
		ServerPort:         r.ServerPort,
		ServerAdmin:        r.ServerAdmin,
		DocumentRoot:       r.DocumentRoot,
		Status:             r.Status,
		StatusLine:         r.StatusLine,
		ContentEncoding:    r.ContentEncoding,
		ContentLanguages:   r.ContentLanguages,
		Mtime:              r.Mtime,
		NoCache:            r.NoCache,
		CanonicalFilename:  r.CanonicalFilename,
		HeadersOut:         wirePairs(r.HeaderOut),
		ErrHeadersOut:      wirePairs(r.ErrHeaderOut),
		WasRedirected:      r.WasRedirected,
		MainURI:            r.MainURI,
		PrevURI:            r.PrevURI,
		PrevStatus:         r.PrevStatus,
		BytesSent:          r.BytesSent,
		AllowedMethods:     r.AllowedMethods,
		AuthName:           r.AuthName,
		RemoteHost:         r.RemoteHost,
		ConnNotes:          wirePairs(r.ConnNotes),
		ServerAliases:      r.ServerAliases,
		IsVirtual:          r.IsVirtualHost,
		IsDefault:          r.IsDefaultVhost,
		Defines:            r.Defines,
	}
	sc := &r.Server
	w.ServerOptions = wirePairs(sc.Options)
	w.DefinedIn, w.DefinedAt, w.ErrorLog, w.LogLevel = sc.DefinedIn, sc.DefinedAt, sc.ErrorLog, sc.LogLevel
	w.Timeout, w.KeepAlive, w.KeepAliveTimeout = sc.Timeout, sc.KeepAlive, sc.KeepAliveTimeout
	w.KeepAliveMax, w.LimitRequestLine = sc.MaxKeepAliveRequests, sc.LimitRequestLine
	w.LimitRequestFieldSize, w.LimitRequestFields = sc.LimitRequestFieldSize, sc.LimitRequestFields
	if t := r.TLS; t != nil {
		w.TLS = &wire.TLS{Protocol: t.Protocol, Cipher: t.Cipher, SNI: t.SNI, ClientVerify: t.ClientVerify,
			ClientSubject: t.ClientSubject, ClientIssuer: t.ClientIssuer, ClientSerial: t.ClientSerial}
	}
	if r.HeaderList != nil {
		w.Headers = wirePairs(r.HeaderList)
	} else {
		keys := make([]string, 0, len(r.Header))
		for k := range r.Header {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			for _, v := range r.Header[k] {
				w.Headers = append(w.Headers, wire.Pair{Key: k, Value: v})
			}
		}
	}
	w.RemoteIP, w.RemotePort = splitAddr(r.RemoteAddr)
	w.LocalIP, w.LocalPort = splitAddr(r.LocalAddr)
	return w
}

func splitAddr(a string) (string, int) {
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return a, 0
	}
	p, _ := strconv.Atoi(port)
	return host, p
}

func wirePairs(ps []sdk.Pair) []wire.Pair {
	if ps == nil {
		return nil
	}
	out := make([]wire.Pair, len(ps))
	for i, p := range ps {
		out[i] = wire.Pair(p)
	}
	return out
}
