package sdk

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"

	"github.com/gobridge/gobridge/internal/wire"
	pb "github.com/gobridge/gobridge/proto/gobridge/v1"
)

// Table names a table of httpd's request_rec that a plugin may change with
// Request.Set, Add and Unset. Which tables a call may change depends on
// the call: see Request.Set.
type Table int

// The tables.
const (
	TableHeadersIn     Table = iota + 1 // r->headers_in
	TableHeadersOut                     // r->headers_out (dropped on errors)
	TableErrHeadersOut                  // r->err_headers_out (kept on errors)
	TableNotes                          // r->notes: %{key}n in the access log
	TableSubprocessEnv                  // r->subprocess_env: CGI, SSI, %{key}e
	// TableConnNotes is c->notes: kept for the rest of the connection and
	// seen by later requests on it (Request.ConnNotes). Keep what you put
	// there small: it lives as long as the connection.
	TableConnNotes
)

// The wire numbers the tables the same way (compile-time checks).
var (
	_ = [1]struct{}{}[int(TableHeadersIn)-int(pb.Mutation_TABLE_HEADERS_IN)]
	_ = [1]struct{}{}[int(TableConnNotes)-int(pb.Mutation_TABLE_CONN_NOTES)]
)

var tableNames = [...]string{
	TableHeadersIn:     "headers_in",
	TableHeadersOut:    "headers_out",
	TableErrHeadersOut: "err_headers_out",
	TableNotes:         "notes",
	TableSubprocessEnv: "subprocess_env",
	TableConnNotes:     "conn_notes",
}

// String returns httpd's name of the table, e.g. "headers_out".
func (t Table) String() string {
	if t >= TableHeadersIn && t <= TableConnNotes {
		return tableNames[t]
	}
	return "Table(" + strconv.Itoa(int(t)) + ")"
}

// tableSet is a set of Tables, one bit each.
type tableSet uint8

func tables(ts ...Table) tableSet {
	var s tableSet
	for _, t := range ts {
		s |= 1 << t
	}
	return s
}

func (s tableSet) has(t Table) bool {
	return t >= TableHeadersIn && t <= TableConnNotes && s&(1<<t) != 0
}

// What each kind of call may change; mod_gobridge checks the same sets
// (gb_mutate.h's GB_MUTATE_TABLES_*).
var (
	phaseTables    = tables(TableHeadersIn, TableHeadersOut, TableErrHeadersOut, TableNotes, TableSubprocessEnv, TableConnNotes)
	handlerTables  = tables(TableNotes, TableSubprocessEnv) // headers go through the ResponseWriter
	providerTables = tables(TableNotes, TableSubprocessEnv)
	filterTables   = tables(TableHeadersOut, TableErrHeadersOut, TableNotes, TableSubprocessEnv)
)

// ErrInvalidChange is wrapped by the error every method that changes the
// request returns when it refuses a change: an invalid key, value or field
// value, or a table the call may not change. Nothing is recorded then.
var ErrInvalidChange = errors.New("sdk: invalid change")

// changes records the table changes of one call (a phase, a content
// handler, an auth provider, a filter) until its answer or next message
// carries them to httpd. It is the one place a change is validated, with
// mod_gobridge's rule (gb_mutate_check_mutations): a table this kind of
// call may change, a key that is an HTTP token and a value free of control
// characters but HTAB; in the response header tables, no hop-by-hop field
// or Content-Length, which httpd sets itself.
type changes struct {
	lock    sync.Locker // guards list; the filter's own mutex for a filter
	mu      sync.Mutex  // lock when no other is given
	list    []*pb.Mutation
	allowed tableSet
	who     string       // "a content handler", for errors
	gate    func() error // with lock held: may the call change anything now? (filters)
}

func newChanges(allowed tableSet, who string) *changes {
	c := &changes{allowed: allowed, who: who}
	c.lock = &c.mu
	return c
}

// record validates and records one change.
func (c *changes) record(t Table, op pb.Mutation_Op, key, value string) error {
	if c == nil {
		return fmt.Errorf("%w: this Request is not being served by the sdk (build test requests with sdktest)", ErrInvalidChange)
	}
	if err := c.valid(t, op, key, value); err != nil {
		return err
	}
	c.lock.Lock()
	defer c.lock.Unlock()
	if c.gate != nil {
		if err := c.gate(); err != nil {
			return err
		}
	}
	c.list = append(c.list, &pb.Mutation{Table: pb.Mutation_Table(t), Op: op, Key: []byte(key), Value: []byte(value)})
	return nil
}

func (c *changes) valid(t Table, op pb.Mutation_Op, key, value string) error {
	switch {
	case !c.allowed.has(t):
		return fmt.Errorf("%w: %s may not change %v", ErrInvalidChange, c.who, t)
	case !wire.ValidName(key):
		return fmt.Errorf("%w: %v key %q is not an HTTP token", ErrInvalidChange, t, key)
	case op != pb.Mutation_OP_UNSET && !wire.ValidValue(value):
		return fmt.Errorf("%w: the value of %v %s has a control character", ErrInvalidChange, t, key)
	case (t == TableHeadersOut || t == TableErrHeadersOut) && op != pb.Mutation_OP_UNSET &&
		(wire.Hop(key) || http.CanonicalHeaderKey(key) == "Content-Length"):
		return fmt.Errorf("%w: %s is httpd's to set", ErrInvalidChange, key)
	}
	return nil
}

// take returns the changes recorded so far and forgets them.
func (c *changes) take() []*pb.Mutation {
	if c == nil {
		return nil
	}
	c.lock.Lock()
	defer c.lock.Unlock()
	return c.takeLocked()
}

// takeLocked is take with c.lock held.
func (c *changes) takeLocked() []*pb.Mutation {
	l := c.list
	c.list = nil
	return l
}

// Set sets key to value in table t of httpd's request (apr_table_set:
// every earlier value of key replaced). It is the one way every kind of
// plugin code changes httpd's tables, with one rule: key must be an HTTP
// token and value free of control characters but HTAB, and in the response
// header tables hop-by-hop fields and Content-Length are httpd's. A change
// that breaks it returns an error wrapping ErrInvalidChange and records
// nothing; httpd checks the same rule and refuses a whole answer that
// breaks it.
//
// Which tables a call may change:
//
//   - a phase method (PhaseRequest): every Table;
//   - a content handler (Handler): TableNotes and TableSubprocessEnv
//     (response headers go through ResponseWriter.Header);
//   - an auth provider (PasswordChecker, RealmHasher, RequireChecker):
//     TableNotes and TableSubprocessEnv, applied only when it grants;
//   - an output filter (BodyFilter): TableHeadersOut, TableErrHeadersOut,
//     TableNotes and TableSubprocessEnv, before its output starts
//     (ErrFilterStarted after); an input filter: none.
//
// A phase's and a provider's changes go to httpd with its answer, a
// handler's with its next message to httpd (at the latest the end of the
// response, and httpd applies them even when the handler then declines or
// fails), a filter's with its first output.
func (r *Request) Set(t Table, key, value string) error {
	return r.out.record(t, pb.Mutation_OP_SET, key, value)
}

// Add adds value to key in table t (apr_table_add: one more value, the
// earlier ones kept). Checked as Set is.
func (r *Request) Add(t Table, key, value string) error {
	return r.out.record(t, pb.Mutation_OP_ADD, key, value)
}

// Unset removes every value of key from table t (apr_table_unset).
// Checked as Set is.
func (r *Request) Unset(t Table, key string) error {
	return r.out.record(t, pb.Mutation_OP_UNSET, key, "")
}

// SetNote is Set(TableNotes, key, value): r->notes, for later phases (a
// GoBridgeLogHandler), other modules and the access log's %{key}n.
func (r *Request) SetNote(key, value string) error { return r.Set(TableNotes, key, value) }

// SetEnv is Set(TableSubprocessEnv, key, value): r->subprocess_env, seen by
// CGI scripts, SSI, mod_rewrite and the access log's %{key}e.
func (r *Request) SetEnv(key, value string) error { return r.Set(TableSubprocessEnv, key, value) }
