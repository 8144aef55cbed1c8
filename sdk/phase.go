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

// Table names a request_rec table a phase may change.
type Table int

// The tables.
const (
	TableHeadersIn     Table = Table(pb.Mutation_TABLE_HEADERS_IN)      // r->headers_in
	TableHeadersOut    Table = Table(pb.Mutation_TABLE_HEADERS_OUT)     // r->headers_out (dropped on errors)
	TableErrHeadersOut Table = Table(pb.Mutation_TABLE_ERR_HEADERS_OUT) // r->err_headers_out (kept on errors)
	TableNotes         Table = Table(pb.Mutation_TABLE_NOTES)           // r->notes: %{key}n in the access log
	TableSubprocessEnv Table = Table(pb.Mutation_TABLE_SUBPROCESS_ENV)  // r->subprocess_env: CGI, SSI, %{key}e
	// TableConnNotes is c->notes: kept for the rest of the connection and
	// seen by later requests on it (Request.ConnNotes). Keep what you put
	// there small: it lives as long as the connection.
	TableConnNotes Table = Table(pb.Mutation_TABLE_CONN_NOTES)
)

// PhaseRequest is what a phase method gets: the request snapshot (the
// embedded *Request; Body is always empty) and methods that record
// changes to httpd's request_rec. The changes are applied in the order
// they were recorded when the method returns. Setters also update the
// snapshot, so later reads in the same method see the new value.
//
// Keys must be HTTP tokens and values free of control characters but
// HTAB (so no CR, LF or NUL); httpd refuses the whole answer otherwise.
// A setter given an invalid value records the problem instead, and the
// phase then fails with a 500 and a log line naming it.
type PhaseRequest struct {
	*Request
	Phase Phase // the phase being run

	fields   []*pb.FieldUpdate
	redirect string
	reply    *pb.PhaseReply // Reply's response
	bad      error
}

func (r *PhaseRequest) invalid(what, v string) {
	if r.bad == nil {
		r.bad = fmt.Errorf("sdk: invalid %s %q", what, v)
	}
}

// Set records apr_table_set(t, key, value): every value of key replaced.
func (r *PhaseRequest) Set(t Table, key, value string) { r.table(t, pb.Mutation_OP_SET, key, value) }

// Add records apr_table_add(t, key, value): one more value for key.
func (r *PhaseRequest) Add(t Table, key, value string) { r.table(t, pb.Mutation_OP_ADD, key, value) }

// Unset records apr_table_unset(t, key): every value of key removed.
func (r *PhaseRequest) Unset(t Table, key string) { r.table(t, pb.Mutation_OP_UNSET, key, "") }

func (r *PhaseRequest) table(t Table, op pb.Mutation_Op, key, value string) {
	switch {
	case t < TableHeadersIn || t > TableConnNotes:
		r.invalid("table", strconv.Itoa(int(t)))
		return
	case !wire.ValidName(key):
		r.invalid("key", key)
		return
	case op != pb.Mutation_OP_UNSET && !wire.ValidValue(value):
		r.invalid("value of "+key, value)
		return
	}
	r.out.addOp(pb.Mutation_Table(t), op, key, value)
}

func (r *PhaseRequest) field(f pb.FieldUpdate_Field, name, v string) bool {
	if !wire.ValidField(f, v) {
		r.invalid(name, v)
		return false
	}
	r.fields = append(r.fields, &pb.FieldUpdate{Field: f, Value: []byte(v)})
	return true
}

// SetFilename sets r->filename (an absolute path). After translate_name,
// httpd stats the new file again, so the default handler serves it.
func (r *PhaseRequest) SetFilename(path string) {
	if r.field(pb.FieldUpdate_FIELD_FILENAME, "filename", path) {
		r.Filename = path
	}
}

// SetCanonicalFilename sets r->canonical_filename (an absolute path).
func (r *PhaseRequest) SetCanonicalFilename(path string) {
	if r.field(pb.FieldUpdate_FIELD_CANONICAL_FILENAME, "canonical filename", path) {
		r.CanonicalFilename = path
	}
}

// SetURI sets r->uri, the decoded path ("/..."). In post_read_request and
// translate_name this changes what httpd maps.
func (r *PhaseRequest) SetURI(uri string) {
	if r.field(pb.FieldUpdate_FIELD_URI, "uri", uri) {
		r.URI = uri
	}
}

// SetPathInfo sets r->path_info ("" or "/...").
func (r *PhaseRequest) SetPathInfo(p string) {
	if r.field(pb.FieldUpdate_FIELD_PATH_INFO, "path info", p) {
		r.PathInfo = p
	}
}

// SetArgs sets r->args, the query string without '?' ("" for none).
func (r *PhaseRequest) SetArgs(args string) {
	if r.field(pb.FieldUpdate_FIELD_ARGS, "args", args) {
		r.Args = args
	}
}

// SetHandler sets r->handler ("" for none), e.g. "default-handler", to
// hand the content to another httpd module. To have a gobridge plugin
// serve it, use SetGoBridgeHandler: r->handler "gobridge" alone names no
// plugin, and httpd answers 500 (GB0040) where no GoBridgeHandler applies.
func (r *PhaseRequest) SetHandler(h string) {
	if r.field(pb.FieldUpdate_FIELD_HANDLER, "handler", h) {
		r.Handler = h
	}
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
func (r *PhaseRequest) SetGoBridgeHandler(plugin string) {
	if r.field(pb.FieldUpdate_FIELD_GOBRIDGE_HANDLER, "gobridge handler", plugin) {
		r.Handler = "gobridge"
	}
}

// SetContentType sets the response content type ("type/subtype[; params]")
// through ap_set_content_type.
func (r *PhaseRequest) SetContentType(ct string) {
	if r.field(pb.FieldUpdate_FIELD_CONTENT_TYPE, "content type", ct) {
		r.ContentType = ct
	}
}

// SetContentEncoding sets r->content_encoding (a token such as "gzip";
// "" for none).
func (r *PhaseRequest) SetContentEncoding(enc string) {
	if r.field(pb.FieldUpdate_FIELD_CONTENT_ENCODING, "content encoding", enc) {
		r.ContentEncoding = enc
	}
}

// SetContentLanguages sets r->content_languages (tags such as "en",
// "pt-BR"; none clears them).
func (r *PhaseRequest) SetContentLanguages(langs ...string) {
	if r.field(pb.FieldUpdate_FIELD_CONTENT_LANGUAGES, "content languages", strings.Join(langs, ",")) {
		r.ContentLanguages = append([]string(nil), langs...)
	}
}

// SetUser sets r->user, the authenticated user ("" for none): REMOTE_USER
// for CGI, %u in the access log, what Require lines check.
func (r *PhaseRequest) SetUser(user string) {
	if r.field(pb.FieldUpdate_FIELD_USER, "user", user) {
		r.User = user
	}
}

// SetAuthType sets r->ap_auth_type (a token such as "Bearer"; "" for none).
func (r *PhaseRequest) SetAuthType(t string) {
	if r.field(pb.FieldUpdate_FIELD_AUTH_TYPE, "auth type", t) {
		r.AuthType = t
	}
}

// SetStatusLine sets r->status_line ("NNN Reason"; "" lets httpd choose).
func (r *PhaseRequest) SetStatusLine(line string) {
	if r.field(pb.FieldUpdate_FIELD_STATUS_LINE, "status line", line) {
		r.StatusLine = line
	}
}

// SetNoCache sets r->no_cache: the response must not be cached.
func (r *PhaseRequest) SetNoCache(on bool) {
	v := "0"
	if on {
		v = "1"
	}
	if r.field(pb.FieldUpdate_FIELD_NO_CACHE, "no cache", v) {
		r.NoCache = on
	}
}

// SetAllowedMethods sets the methods allowed for the resource (r->allowed
// and r->allowed_methods, as ap_allow_methods(r, 1, …) does): httpd lists
// them in the Allow header of OPTIONS and 405 answers. Method names are
// tokens ("GET", "PROPFIND"); none clears the list.
func (r *PhaseRequest) SetAllowedMethods(methods ...string) {
	if r.field(pb.FieldUpdate_FIELD_ALLOWED_METHODS, "allowed methods", strings.Join(methods, ",")) {
		r.AllowedMethods = append([]string(nil), methods...)
	}
}

// UpdateMtime tells httpd that the response depends on something last
// changed at t: like ap_update_mtime, r->mtime only moves forward (the
// newest dependency wins), then httpd sets Last-Modified from it
// (ap_set_last_modified: never later than the request time). A zero t
// does nothing.
func (r *PhaseRequest) UpdateMtime(t time.Time) {
	if t.IsZero() || t.UnixMicro() <= 0 {
		return
	}
	if r.field(pb.FieldUpdate_FIELD_MTIME, "mtime", strconv.FormatInt(t.UnixMicro(), 10)) && t.After(r.Mtime) {
		r.Mtime = t
	}
}

// SetETag sets the response's ETag header (headers_out) to etag, an entity
// tag in its quoted form as made by ETag or WeakETag (`"abc"`, `W/"abc"`).
// An invalid tag is recorded as an error, failing the phase with a 500.
func (r *PhaseRequest) SetETag(etag string) {
	if !validETag(etag) {
		r.invalid("ETag", etag)
		return
	}
	r.Set(TableHeadersOut, "ETag", etag)
}

// InternalRedirect asks httpd to serve uri ("/path[?query]") instead of
// this request's content, as a new internally redirected request (its
// phases run again for the new URI, and IsInternalRedirect is true
// there). The phases up to the content handler still run for this request
// first. Not allowed in the log phase.
func (r *PhaseRequest) InternalRedirect(uri string) {
	if !wire.ValidRedirect(uri) {
		r.invalid("internal redirect", uri)
		return
	}
	r.redirect = uri
}
