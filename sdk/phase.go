package sdk

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gobridge/gobridge/internal/wire"
	pb "github.com/gobridge/gobridge/proto/gobridge/v1"
)

// Handler answers a request as Apache's content handler (GoBridgeHandler).
//
// ServeGoBridge writes the response through w and reads the request body from
// r.Body. Its return value decides what httpd does next:
//
//   - nil: the response is complete. If nothing was written, the client gets
//     an empty response with the status and headers set so far (200 by
//     default).
//   - Declined: httpd tries the next handler, as if gobridge were not
//     configured. Only before anything was flushed.
//   - HTTPError(code): httpd sends its own error document for code
//     (ErrorDocument applies). Only before anything was flushed.
//   - any other error: logged to httpd's error log; the client gets a 500
//     if nothing was flushed yet, or a truncated response otherwise.
//
// A panic is recovered and handled like an error that is not Declined or an
// HTTPError.
//
// ServeGoBridge is called concurrently for concurrent requests.
type Handler interface {
	ServeGoBridge(w *ResponseWriter, r *Request) error
}

// HandlerFunc adapts an ordinary function to Handler.
type HandlerFunc func(w *ResponseWriter, r *Request) error

// ServeGoBridge calls f(w, r).
func (f HandlerFunc) ServeGoBridge(w *ResponseWriter, r *Request) error { return f(w, r) }

// Phase names a non-body request phase of httpd, configured with the
// GoBridge<Phase>Handler directives (docs/directives.md).
type Phase int

// The phases, in the order httpd runs them.
const (
	PhasePostReadRequest Phase = iota + 1 // GoBridgePostReadRequestHandler
	PhaseTranslateName                    // GoBridgeTransHandler
	PhaseMapToStorage                     // GoBridgeMapToStorageHandler
	PhaseHeaderParser                     // GoBridgeHeaderParserHandler
	PhaseAccess                           // GoBridgeAccessHandler
	PhaseAuthn                            // GoBridgeAuthnHandler
	PhaseAuthz                            // GoBridgeAuthzHandler
	PhaseTypeChecker                      // GoBridgeTypeHandler
	PhaseFixups                           // GoBridgeFixupHandler
	PhaseLog                              // GoBridgeLogHandler
)

var phaseNames = map[Phase]string{
	PhasePostReadRequest: "post_read_request",
	PhaseTranslateName:   "translate_name",
	PhaseMapToStorage:    "map_to_storage",
	PhaseHeaderParser:    "header_parser",
	PhaseAccess:          "access",
	PhaseAuthn:           "authn",
	PhaseAuthz:           "authz",
	PhaseTypeChecker:     "type_checker",
	PhaseFixups:          "fixups",
	PhaseLog:             "log",
}

// String returns httpd's name of the hook, e.g. "fixups".
func (p Phase) String() string {
	if s, ok := phaseNames[p]; ok {
		return s
	}
	return "Phase(" + strconv.Itoa(int(p)) + ")"
}

// The phase interfaces. A plugin implements any subset of them, on one
// value given to Serve as ServeConfig.Phases (or on its Handler). Each
// method gets a *PhaseRequest: the request snapshot plus methods that
// record changes, applied by httpd when the method returns (all of them,
// or none if one is invalid). The returned error decides what httpd does:
//
//   - nil: OK. In the phases where httpd stops at the first OK
//     (translate_name, map_to_storage, access, authn, authz, type_checker)
//     no later plugin or module runs for that phase; in the others
//     (post_read_request, header_parser, fixups, log) the next one still
//     runs.
//   - Declined: this plugin has no opinion; the next plugin or module runs.
//   - Done: the request is fully answered; nothing else runs.
//   - HTTPError(code) with code 300..599: httpd ends the request with its
//     error document (ErrorDocument applies) for code.
//   - any other error: logged with the request; httpd answers 500. A panic
//     is recovered and handled the same way.
//
// In the log phase the result changes nothing: the response has been sent.
//
// Methods are called concurrently for concurrent requests.
type (
	// PostReadRequester runs right after httpd read the request headers,
	// before the URI is mapped (server-wide: GoBridgePostReadRequestHandler
	// is a server-level directive).
	PostReadRequester interface {
		PostReadRequest(r *PhaseRequest) error
	}

	// Translator maps the URI to a file (SetFilename) or rewrites it
	// (SetURI). Returning nil (OK) means "translated": httpd's own
	// DocumentRoot/Alias mapping is skipped. Server-level.
	Translator interface {
		TranslateName(r *PhaseRequest) error
	}

	// StorageMapper runs in map_to_storage. Returning nil (OK) skips
	// httpd's <Directory> and <Files> walk for the request: return
	// Declined unless that is what you mean. Server-level.
	StorageMapper interface {
		MapToStorage(r *PhaseRequest) error
	}

	// HeaderParser runs once the per-directory configuration is known,
	// before access control.
	HeaderParser interface {
		ParseHeader(r *PhaseRequest) error
	}

	// AccessChecker runs in httpd's access_checker_ex hook. nil (OK)
	// GRANTS the request without authentication: authn, authz and every
	// Require line are skipped. Return Declined to let authentication and
	// authorization go on, HTTPError(403) to refuse.
	AccessChecker interface {
		CheckAccess(r *PhaseRequest) error
	}

	// Authenticator is the raw check_authn hook (for AuthBasicProvider
	// style password checks see PasswordChecker). nil (OK) means the user
	// is authenticated and requires that SetUser was called; return
	// HTTPError(401) with a WWW-Authenticate set in ErrHeadersOut to ask
	// for credentials.
	Authenticator interface {
		Authenticate(r *PhaseRequest) error
	}

	// Authorizer is the raw check_authz hook, run before mod_authz_core's
	// Require evaluation: nil (OK) authorizes the request (Require lines
	// are not evaluated), Declined leaves the decision to them,
	// HTTPError(403) refuses.
	Authorizer interface {
		Authorize(r *PhaseRequest) error
	}

	// TypeChecker sets the content type, encoding, languages or handler
	// (it runs before mod_mime; nil (OK) stops mod_mime from running).
	TypeChecker interface {
		CheckType(r *PhaseRequest) error
	}

	// Fixupper makes last changes before the content handler runs.
	Fixupper interface {
		Fixup(r *PhaseRequest) error
	}

	// TransactionLogger runs after the response was sent. It never
	// changes the response. httpd waits at most 1s (or GoBridgeTimeout if
	// shorter) for it, so slow work belongs in a goroutine.
	TransactionLogger interface {
		LogTransaction(r *PhaseRequest) error
	}
)

// PhaseRequest is what a phase method gets: the request snapshot (the
// embedded *Request; Body is always empty) and methods that record
// changes to httpd's request_rec: the embedded Request's Set, Add, Unset,
// SetNote and SetEnv for its tables (every Table), and the setters below
// for its fields. The changes are applied in the order they were recorded
// when the method returns. Field setters also update the snapshot, so
// later reads in the same method see the new value.
//
// Every setter checks its value by the rule httpd checks it with and
// returns an error wrapping ErrInvalidChange, recording nothing, for a
// value httpd would refuse: a plugin never sends an answer httpd refuses.
type PhaseRequest struct {
	*Request
	Phase Phase // the phase being run

	fields   []*pb.FieldUpdate
	redirect string
	reply    *pb.PhaseReply // Reply's response
}

func invalid(what, v string) error {
	return fmt.Errorf("%w: %s %q", ErrInvalidChange, what, v)
}

// field records one field update: the internal entry point of every field
// setter (a new setter validates and records through it).
func (r *PhaseRequest) field(f pb.FieldUpdate_Field, name, v string) error {
	if !wire.ValidField(f, v) {
		return invalid(name, v)
	}
	r.fields = append(r.fields, &pb.FieldUpdate{Field: f, Value: []byte(v)})
	return nil
}

// SetFilename sets r->filename (an absolute path). After translate_name,
// httpd stats the new file again, so the default handler serves it.
func (r *PhaseRequest) SetFilename(path string) error {
	if err := r.field(pb.FieldUpdate_FIELD_FILENAME, "filename", path); err != nil {
		return err
	}
	r.Filename = path
	return nil
}

// SetCanonicalFilename sets r->canonical_filename (an absolute path).
func (r *PhaseRequest) SetCanonicalFilename(path string) error {
	if err := r.field(pb.FieldUpdate_FIELD_CANONICAL_FILENAME, "canonical filename", path); err != nil {
		return err
	}
	r.CanonicalFilename = path
	return nil
}

// SetURI sets r->uri, the decoded path ("/..."). In post_read_request and
// translate_name this changes what httpd maps.
func (r *PhaseRequest) SetURI(uri string) error {
	if err := r.field(pb.FieldUpdate_FIELD_URI, "uri", uri); err != nil {
		return err
	}
	r.URI = uri
	return nil
}

// SetPathInfo sets r->path_info ("" or "/...").
func (r *PhaseRequest) SetPathInfo(p string) error {
	if err := r.field(pb.FieldUpdate_FIELD_PATH_INFO, "path info", p); err != nil {
		return err
	}
	r.PathInfo = p
	return nil
}

// SetArgs sets r->args, the query string without '?' ("" for none).
func (r *PhaseRequest) SetArgs(args string) error {
	if err := r.field(pb.FieldUpdate_FIELD_ARGS, "args", args); err != nil {
		return err
	}
	r.Args = args
	return nil
}

// SetHandler sets r->handler ("" for none), e.g. "default-handler", to
// hand the content to another httpd module. To have a gobridge plugin
// serve it, use SetGoBridgeHandler: r->handler "gobridge" alone names no
// plugin, and httpd answers 500 (GB0040) where no GoBridgeHandler applies.
func (r *PhaseRequest) SetHandler(h string) error {
	if err := r.field(pb.FieldUpdate_FIELD_HANDLER, "handler", h); err != nil {
		return err
	}
	r.Handler = h
	return nil
}

// SetGoBridgeHandler makes the plugin declared as GoBridgePlugin plugin
// serve the request's content, like assigning req.handler in mod_python:
// r->handler becomes "gobridge", and that plugin alone answers, whatever
// GoBridgeHandler list or GoBridgePhases apply to the location (a phase's
// choice for this one request wins over the configuration). The plugin is
// called with the location's GoBridgeOption values. httpd checks the name
// against its GoBridgePlugin lines when the phase answers: a name no line
// declares fails the request with 500 and GB0347 in the error log. Call it
// in a phase before the handler runs (fixups at the latest).
func (r *PhaseRequest) SetGoBridgeHandler(plugin string) error {
	if err := r.field(pb.FieldUpdate_FIELD_GOBRIDGE_HANDLER, "gobridge handler", plugin); err != nil {
		return err
	}
	r.Handler = "gobridge"
	return nil
}

// SetContentType sets the response content type ("type/subtype[; params]")
// through ap_set_content_type.
func (r *PhaseRequest) SetContentType(ct string) error {
	if err := r.field(pb.FieldUpdate_FIELD_CONTENT_TYPE, "content type", ct); err != nil {
		return err
	}
	r.ContentType = ct
	return nil
}

// SetContentEncoding sets r->content_encoding (a token such as "gzip";
// "" for none).
func (r *PhaseRequest) SetContentEncoding(enc string) error {
	if err := r.field(pb.FieldUpdate_FIELD_CONTENT_ENCODING, "content encoding", enc); err != nil {
		return err
	}
	r.ContentEncoding = enc
	return nil
}

// SetContentLanguages sets r->content_languages (tags such as "en",
// "pt-BR"; none clears them).
func (r *PhaseRequest) SetContentLanguages(langs ...string) error {
	if err := r.field(pb.FieldUpdate_FIELD_CONTENT_LANGUAGES, "content languages", strings.Join(langs, ",")); err != nil {
		return err
	}
	r.ContentLanguages = append([]string(nil), langs...)
	return nil
}

// SetUser sets r->user, the authenticated user ("" for none): REMOTE_USER
// for CGI, %u in the access log, what Require lines check.
func (r *PhaseRequest) SetUser(user string) error {
	if err := r.field(pb.FieldUpdate_FIELD_USER, "user", user); err != nil {
		return err
	}
	r.User = user
	return nil
}

// SetAuthType sets r->ap_auth_type (a token such as "Bearer"; "" for none).
func (r *PhaseRequest) SetAuthType(t string) error {
	if err := r.field(pb.FieldUpdate_FIELD_AUTH_TYPE, "auth type", t); err != nil {
		return err
	}
	r.AuthType = t
	return nil
}

// SetStatusLine sets r->status_line ("NNN Reason"; "" lets httpd choose).
func (r *PhaseRequest) SetStatusLine(line string) error {
	if err := r.field(pb.FieldUpdate_FIELD_STATUS_LINE, "status line", line); err != nil {
		return err
	}
	r.StatusLine = line
	return nil
}

// SetNoCache sets r->no_cache: the response must not be cached. (Every
// bool is valid: it returns no error.)
func (r *PhaseRequest) SetNoCache(on bool) {
	v := "0"
	if on {
		v = "1"
	}
	if r.field(pb.FieldUpdate_FIELD_NO_CACHE, "no cache", v) == nil {
		r.NoCache = on
	}
}

// SetAllowedMethods sets the methods allowed for the resource (r->allowed
// and r->allowed_methods, as ap_allow_methods(r, 1, …) does): httpd lists
// them in the Allow header of OPTIONS and 405 answers. Method names are
// tokens ("GET", "PROPFIND"); none clears the list.
func (r *PhaseRequest) SetAllowedMethods(methods ...string) error {
	if err := r.field(pb.FieldUpdate_FIELD_ALLOWED_METHODS, "allowed methods", strings.Join(methods, ",")); err != nil {
		return err
	}
	r.AllowedMethods = append([]string(nil), methods...)
	return nil
}

// UpdateMtime tells httpd that the response depends on something last
// changed at t: like ap_update_mtime, r->mtime only moves forward (the
// newest dependency wins), then httpd sets Last-Modified from it
// (ap_set_last_modified: never later than the request time). A zero t,
// or one before 1970, does nothing: it returns no error.
func (r *PhaseRequest) UpdateMtime(t time.Time) {
	if t.IsZero() || t.UnixMicro() <= 0 {
		return
	}
	if r.field(pb.FieldUpdate_FIELD_MTIME, "mtime", strconv.FormatInt(t.UnixMicro(), 10)) == nil && t.After(r.Mtime) {
		r.Mtime = t
	}
}

// SetETag sets the response's ETag header (headers_out) to etag, an entity
// tag in its quoted form as made by ETag or WeakETag (`"abc"`, `W/"abc"`).
// It returns an error, and sets nothing, for an invalid tag.
func (r *PhaseRequest) SetETag(etag string) error {
	if !validETag(etag) {
		return invalid("ETag", etag)
	}
	return r.Set(TableHeadersOut, "ETag", etag)
}

// InternalRedirect asks httpd to serve uri ("/path[?query]") instead of
// this request's content, as a new internally redirected request (its
// phases run again for the new URI, and IsInternalRedirect is true
// there). The phases up to the content handler still run for this request
// first. It returns an error, and changes nothing, for a uri that is not
// local, and in the log phase (the response has been sent).
func (r *PhaseRequest) InternalRedirect(uri string) error {
	if r.Phase == PhaseLog {
		return fmt.Errorf("%w: no internal redirect in the log phase", ErrInvalidChange)
	}
	if !wire.ValidRedirect(uri) {
		return invalid("internal redirect", uri)
	}
	r.redirect = uri
	return nil
}
