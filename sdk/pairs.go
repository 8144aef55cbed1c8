package sdk

import (
	"encoding/base64"
	"strings"
)

// Pairs is an ordered, multi-valued table of httpd's (apr_table_t): the
// request headers as received, notes, subprocess_env, the response headers
// a phase sees. Keys compare case-insensitively, as httpd's tables do; the
// order and repeats are httpd's. Pairs is a []Pair: range over it, or
// append to a copy.
type Pairs []Pair

// Get returns the value of the first entry whose key is key, ignoring
// case, or "" when there is none (use Lookup to tell an empty value from a
// missing one).
func (t Pairs) Get(key string) string {
	v, _ := t.Lookup(key)
	return v
}

// Lookup returns the value of the first entry whose key is key, ignoring
// case, and whether there is one.
func (t Pairs) Lookup(key string) (string, bool) {
	for _, p := range t {
		if strings.EqualFold(p.Key, key) {
			return p.Value, true
		}
	}
	return "", false
}

// Values returns the values of every entry whose key is key, ignoring
// case, in order; nil when there is none.
func (t Pairs) Values(key string) []string {
	var vs []string
	for _, p := range t {
		if strings.EqualFold(p.Key, key) {
			vs = append(vs, p.Value)
		}
	}
	return vs
}

// Has reports whether an entry's key is key, ignoring case.
func (t Pairs) Has(key string) bool {
	_, ok := t.Lookup(key)
	return ok
}

// BasicAuth returns the user name and password of the request's
// Authorization header when it uses HTTP Basic authentication (RFC 7617),
// like net/http's Request.BasicAuth and mod_python's get_basic_auth_pw. It
// checks nothing: an Authenticator checks the password, then calls
// SetUser. ok is false when the header is missing, not Basic, or
// malformed.
func (r *Request) BasicAuth() (user, password string, ok bool) {
	auth := r.Header.Get("Authorization")
	scheme, enc, found := strings.Cut(auth, " ")
	if !found || !strings.EqualFold(scheme, "Basic") {
		return "", "", false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(enc))
	if err != nil {
		return "", "", false
	}
	user, password, ok = strings.Cut(string(raw), ":")
	if !ok {
		return "", "", false
	}
	return user, password, true
}
