// Command echo is the plugin that the end-to-end tests run behind a real
// httpd. What it does is chosen by the last segment of the request path;
// parameters come from the query string:
//
//	…/pid                 its process id, as text
//	…/snapshot            the request snapshot (URI, args, addresses, user, notes, …) as JSON
//	…/headers             the request headers as JSON (ordered list and map);
//	                      ?status=201&h=X-Test:1&h=X-Test:2&e=Set-Cookie:a=b sets the
//	                      status, response headers (h) and error headers (e)
//	…/options             the GoBridgeOption values as JSON
//	…/server              Request.Server (the virtual host's settings) as JSON
//	…/sha256              reads the body, streaming, and answers {"bytes":N,"sha256":"…"}
//	…/echo                streams the request body back unchanged
//	…/download?mb=N       streams N MiB (default 1) where byte i is byte(i % 251)
//	…/flush?n=3           writes n lines, flushing each
//	…/hang                answers nothing until the call's context ends (a
//	                      GoBridgeTimeout, a client gone), then logs "hang
//	                      ended" at warn and returns the context's error
//	…/gate?url=U          waits at the test's gate U (tests/gate) and answers
//	                      "released"; when the call's context ends first (a
//	                      timeout, a client gone) it returns the context's error.
//	                      &flush=1 first flushes a line "waiting"
//	…/log?marker=M        logs M at warn to httpd's error log and answers "logged"
//	…/levels?marker=M     logs "M LEVEL" at every httpd level, from trace1 to
//	                      emerg, through the process logger (sdk.Logger) and
//	                      "M req-LEVEL" through the request's logger
//	…/setnote?note=k:v&env=k:v  Request.SetNote / SetEnv for each pair, then
//	                      answers "set"; &flush=1 flushes a first line before
//	                      setting them, &bad=1 also sets a note whose key is not
//	                      an HTTP token
//	…/status?code=N       returns sdk.HTTPError(N): httpd sends its error document;
//	                      &e=Name:Value sets ErrHeader()s, which it keeps
//	…/declined            returns sdk.Declined
//	…/panic               panics before writing (expect a 500)
//	…/crash               exits the process with status 3 mid-request
//	…/badheader?kind=K    sends, past the SDK's own checks, a response the module
//	                      must refuse: K = crlf (default), nul, name, status, 1xx,
//	                      hop, headafterbody, notetable (a handler changing headers_in),
//	                      notevalue (a note with CR LF), finisherr (an error document header with CR LF), redirect (a non-local internal_redirect),
//	                      redirecthead (internal_redirect after a head), sendfilerel
//	                      (a relative send_file path)
//	…/redirect?to=/x      ResponseWriter.InternalRedirect(to)
//	…/sendfile?path=P     ResponseWriter.SendFile(P); &off=N&len=N use SendFileRange,
//	                      &ct=T sets the Content-Type, &status=N the status
//	…/absurl?path=/x      Request.AbsoluteURL(path), as text
//	…/whoami              the GoBridgePlugin name it was called as, and its pid
//
// GoBridgeOption decline.<plugin name> makes that name decline before
// anything else: "always" at once, "after-body" after reading the body,
// "with-body" when the request has one (without reading it), "with-note"
// after setting the note set-by=<plugin name>. "ok-empty" makes it answer
// at once with nothing (an empty 200).
//
// Anything else answers 404 with the list above.
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/gobridge/gobridge/internal/wire"
	pb "github.com/gobridge/gobridge/proto/gobridge/v1"
	"github.com/gobridge/gobridge/sdk"
	"github.com/gobridge/gobridge/tests/gate"
)

func main() { sdk.ServeHandler(sdk.HandlerFunc(serve)) }

func serve(w *sdk.ResponseWriter, r *sdk.Request) error {
	q, _ := url.ParseQuery(r.Args)
	switch r.Option("decline." + r.Plugin) {
	case "always":
		return sdk.Declined
	case "after-body":
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			return err
		}
		return sdk.Declined
	case "with-body":
		if r.ContentLength != 0 {
			return sdk.Declined
		}
	case "with-note":
		r.SetNote("set-by", r.Plugin)
		return sdk.Declined
	case "ok-empty": // not a decline: an answer without a body
		return nil
	}
	switch path.Base(r.URI) {
	case "whoami":
		return text(w, fmt.Sprintf("%s %d", r.Plugin, os.Getpid()))
	case "pid":
		return text(w, strconv.Itoa(os.Getpid()))
	case "snapshot":
		return writeJSON(w, snapshot(r))
	case "headers":
		return headers(w, r, q)
	case "options":
		return writeJSON(w, r.Options)
	case "server":
		return writeJSON(w, r.Server)
	case "sha256":
		h := sha256.New()
		n, err := io.Copy(h, r.Body)
		if err != nil {
			return err
		}
		return writeJSON(w, map[string]any{"bytes": n, "sha256": hex.EncodeToString(h.Sum(nil))})
	case "echo":
		if ct := r.Header.Get("Content-Type"); ct != "" {
			w.Header().Set("Content-Type", ct)
		} else {
			w.Header().Set("Content-Type", "application/octet-stream")
		}
		_, err := io.Copy(w, r.Body)
		return err
	case "download":
		mb := intParam(q, "mb", 1)
		w.Header().Set("Content-Type", "application/octet-stream")
		_, err := io.Copy(w, &pattern{n: int64(mb) << 20})
		return err
	case "flush":
		n := intParam(q, "n", 3)
		w.Header().Set("Content-Type", "text/plain")
		for i := range n {
			if _, err := fmt.Fprintf(w, "line %d\n", i); err != nil {
				return err
			}
			if err := w.Flush(); err != nil {
				return err
			}
		}
		return nil
	case "hang":
		<-r.Context().Done()
		r.Logger().Warn("echo: hang ended", "err", r.Context().Err())
		return r.Context().Err()
	case "gate":
		w.Header().Set("Content-Type", "text/plain")
		if q.Get("flush") == "1" {
			fmt.Fprintln(w, "waiting")
			if err := w.Flush(); err != nil {
				return err
			}
		}
		if err := gate.Wait(r.Context(), q.Get("url")); err != nil {
			return err
		}
		return text(w, "released")
	case "log":
		marker := q.Get("marker")
		if marker == "" {
			marker = "gobridge-e2e-log-marker"
		}
		r.Logger().Warn(marker)
		return text(w, "logged")
	case "levels":
		marker := q.Get("marker")
		for _, l := range []struct {
			name  string
			level slog.Level
		}{
			{"trace1", sdk.LevelTrace}, {"debug", sdk.LevelDebug}, {"info", sdk.LevelInfo},
			{"notice", sdk.LevelNotice}, {"warn", sdk.LevelWarn}, {"error", sdk.LevelError},
			{"crit", sdk.LevelCrit}, {"alert", sdk.LevelAlert}, {"emerg", sdk.LevelEmerg},
		} {
			sdk.Logger().Log(r.Context(), l.level, marker+" "+l.name)
			r.Logger().Log(r.Context(), l.level, marker+" req-"+l.name)
		}
		return text(w, "logged")
	case "setnote":
		w.Header().Set("Content-Type", "text/plain")
		if q.Get("flush") == "1" {
			fmt.Fprintln(w, "flushed")
			if err := w.Flush(); err != nil {
				return err
			}
		}
		for _, kv := range q["note"] {
			k, v, _ := strings.Cut(kv, ":")
			if err := r.SetNote(k, v); err != nil {
				return err
			}
		}
		for _, kv := range q["env"] {
			k, v, _ := strings.Cut(kv, ":")
			if err := r.SetEnv(k, v); err != nil {
				return err
			}
		}
		if q.Get("bad") == "1" {
			// Refused by the sdk, which says why; the valid notes still go.
			if err := r.SetNote("bad key", "x"); err != nil {
				r.Logger().Warn("SetNote refused", "err", err)
			}
		}
		return text(w, "set")
	case "status":
		for _, h := range q["e"] {
			if k, v, ok := strings.Cut(h, ":"); ok {
				w.ErrHeader().Add(k, v)
			}
		}
		return sdk.HTTPError(intParam(q, "code", 500))
	case "declined":
		return sdk.Declined
	case "panic":
		panic("echo: panic requested")
	case "crash":
		os.Exit(3)
	case "badheader":
		return badHeader(w, q.Get("kind"))
	case "redirect":
		return w.InternalRedirect(q.Get("to"))
	case "sendfile":
		if ct := q.Get("ct"); ct != "" {
			w.Header().Set("Content-Type", ct)
		}
		if st := intParam(q, "status", 0); st != 0 {
			w.WriteHeader(st)
		}
		return w.SendFileRange(q.Get("path"), int64(intParam(q, "off", 0)), int64(intParam(q, "len", 0)))
	case "absurl":
		return text(w, r.AbsoluteURL(q.Get("path")))
	}
	w.WriteHeader(http.StatusNotFound)
	return text(w, "echo: unknown action; see the package documentation")
}

func headers(w *sdk.ResponseWriter, r *sdk.Request, q url.Values) error {
	for _, h := range q["h"] {
		if k, v, ok := strings.Cut(h, ":"); ok {
			w.Header().Add(k, v)
		}
	}
	for _, h := range q["e"] {
		if k, v, ok := strings.Cut(h, ":"); ok {
			w.ErrHeader().Add(k, v)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(intParam(q, "status", http.StatusOK))
	return json.NewEncoder(w).Encode(map[string]any{"list": r.HeaderList, "map": r.Header})
}

// badHeader sends a head that the SDK would never send, through the raw
// hook, so the tests can check that the module refuses it.
func badHeader(w *sdk.ResponseWriter, kind string) error {
	head := &pb.ResponseHead{Status: 200}
	add := func(k, v string) { head.Headers = append(head.Headers, &pb.Pair{Key: []byte(k), Value: []byte(v)}) }
	var msgs []*pb.HandleResponse
	switch kind {
	case "", "crlf":
		add("X-Bad", "a\r\nInjected: 1")
	case "nul":
		add("X-Bad", "a\x00b")
	case "name":
		add("Bad Name", "x")
	case "status":
		head.Status = 99
	case "1xx":
		head.Status = 103
	case "hop":
		add("Connection", "close")
		add("Transfer-Encoding", "chunked")
		add("X-Hop-Test", "kept")
	case "headafterbody":
		msgs = append(msgs, &pb.HandleResponse{Head: &pb.ResponseHead{Status: 200}, Body: []byte("first\n")})
	case "big": // one 2 MiB message: over a GoBridgeMaxMessageSize of 1 MiB
		head.Headers = nil
		return wire.Hooks.SendRaw(w, &pb.HandleResponse{Head: head, Body: make([]byte, 2<<20)})
	case "badenum": // a result no version of the protocol defines
		return wire.Hooks.SendRaw(w, &pb.HandleResponse{Finish: &pb.Finish{Result: pb.Result(99)}})
	case "unspecified": // the zero value: a plugin that did not decide
		return wire.Hooks.SendRaw(w, &pb.HandleResponse{Finish: &pb.Finish{}})
	case "redirect":
		return wire.Hooks.SendRaw(w, &pb.HandleResponse{InternalRedirect: []byte("http://elsewhere/"),
			Finish: &pb.Finish{Result: pb.Result_RESULT_OK}})
	case "redirecthead":
		return wire.Hooks.SendRaw(w, &pb.HandleResponse{Head: head, InternalRedirect: []byte("/hello"),
			Finish: &pb.Finish{Result: pb.Result_RESULT_OK}})
	case "notetable", "notevalue": // SetNote's message, forged: a header, a CR LF value
		mu := &pb.Mutation{Table: pb.Mutation_TABLE_HEADERS_IN, Op: pb.Mutation_OP_SET, Key: []byte("X-Forged"), Value: []byte("1")}
		if kind == "notevalue" {
			mu = &pb.Mutation{Table: pb.Mutation_TABLE_NOTES, Op: pb.Mutation_OP_SET, Key: []byte("n"), Value: []byte("a\r\nInjected: 1")}
		}
		return wire.Hooks.SendRaw(w, &pb.HandleResponse{Mutations: []*pb.Mutation{mu}, Head: head,
			Body: []byte("this body must not reach the client\n"), Finish: &pb.Finish{Result: pb.Result_RESULT_OK}})
	case "finisherr": // an error document's header with CR LF in it
		return wire.Hooks.SendRaw(w, &pb.HandleResponse{Finish: &pb.Finish{
			Result: pb.Result_RESULT_HTTP_STATUS, HttpStatus: 401,
			ErrHeaders: []*pb.Pair{{Key: []byte("WWW-Authenticate"), Value: []byte("Basic\r\nInjected: 1")}}}})
	case "sendfilerel":
		return wire.Hooks.SendRaw(w, &pb.HandleResponse{Head: head, SendFile: &pb.SendFile{Path: []byte("etc/passwd")},
			Finish: &pb.Finish{Result: pb.Result_RESULT_OK}})

	default:
		return sdk.HTTPError(http.StatusBadRequest)
	}
	msgs = append(msgs, &pb.HandleResponse{Head: head, Body: []byte("this body must not reach the client unless kind=hop\n")})
	for _, m := range msgs {
		if err := wire.Hooks.SendRaw(w, m); err != nil {
			return err
		}
	}
	return nil
}

func snapshot(r *sdk.Request) map[string]any {
	return map[string]any{
		"method": r.Method, "protocol": r.Protocol, "the_request": r.TheRequest,
		"unparsed_uri": r.UnparsedURI, "uri": r.URI, "args": r.Args, "path_info": r.PathInfo,
		"filename": r.Filename, "hostname": r.Hostname, "scheme": r.Scheme,
		"content_length": r.ContentLength, "user": r.User, "auth_type": r.AuthType,
		"auth_name": r.AuthName, "remote_host": r.RemoteHost,
		"handler": r.Handler, "content_type": r.ContentType, "request_time": r.RequestTime,
		"remote_addr": r.RemoteAddr, "useragent_ip": r.UseragentIP, "local_addr": r.LocalAddr,
		"secure": r.Secure, "conn_id": r.ConnID, "keepalives": r.Keepalives,
		"server_name": r.ServerName, "server_port": r.ServerPort, "server_admin": r.ServerAdmin,
		"document_root": r.DocumentRoot, "notes": r.Notes, "subprocess_env": r.SubprocessEnv,
		"plugin": r.Plugin, "log_id": r.LogID, "location": r.Location, "files": r.Files,
		"is_subrequest": r.IsSubrequest, "is_internal_redirect": r.IsInternalRedirect,
		"options": r.Options, "pid": os.Getpid(),
	}
}

func text(w *sdk.ResponseWriter, s string) error {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, err := io.WriteString(w, s+"\n")
	return err
}

func writeJSON(w *sdk.ResponseWriter, v any) error {
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(v)
}

func intParam(q url.Values, key string, def int) int {
	if n, err := strconv.Atoi(q.Get(key)); err == nil {
		return n
	}
	return def
}

// pattern yields n bytes where byte i is byte(i % 251).
type pattern struct{ off, n int64 }

func (p *pattern) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	b = b[:min(int64(len(b)), p.n-p.off)]
	for i := range b {
		b[i] = byte((p.off + int64(i)) % 251)
	}
	p.off += int64(len(b))
	return len(b), nil
}
