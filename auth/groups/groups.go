// Package groups reads group files in the format of httpd's AuthGroupFile
// (mod_authz_groupfile): one group per line, "name: user user ...", members
// separated by spaces or tabs, '#' comments. A group may span several
// lines; their members add up. The file is re-read when it changes.
//
// File implements sdk.RequireChecker for
//
//	Require gobridge <plugin> group admins [other-group ...]
//
// granting when the authenticated user is in one of the groups, and asking
// for a login (AuthzDeniedNoUser) when nobody has authenticated.
package groups

import (
	"strings"

	"github.com/gobridge/gobridge/auth/internal/filecache"
	"github.com/gobridge/gobridge/sdk"
)

type table map[string]map[string]struct{} // user -> groups

func parse(b []byte) (table, error) {
	t := make(table)
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		name, members, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		name = strings.TrimSpace(name)
		for _, u := range strings.Fields(members) {
			if t[u] == nil {
				t[u] = make(map[string]struct{})
			}
			t[u][name] = struct{}{}
		}
	}
	return t, nil
}

// File is a group file, safe for concurrent use.
type File struct {
	f *filecache.File[table]
}

// New returns the group file at path, read on first use and whenever it
// changes. An unreadable file makes every check an error.
func New(path string) *File { return &File{f: filecache.New(path, parse)} }

// Open is New followed by a first read.
func Open(path string) (*File, error) {
	f := New(path)
	if _, err := f.f.Get(); err != nil {
		return nil, err
	}
	return f, nil
}

// Path returns the file's path.
func (f *File) Path() string { return f.f.Path() }

// Groups returns the groups user belongs to, unsorted.
func (f *File) Groups(user string) ([]string, error) {
	t, err := f.f.Get()
	if err != nil {
		return nil, err
	}
	var out []string
	for g := range t[user] {
		out = append(out, g)
	}
	return out, nil
}

// InAny reports whether user is a member of at least one of groups.
func (f *File) InAny(user string, groups ...string) (bool, error) {
	t, err := f.f.Get()
	if err != nil {
		return false, err
	}
	mine := t[user]
	for _, g := range groups {
		if _, ok := mine[g]; ok {
			return true, nil
		}
	}
	return false, nil
}

// Authorize decides `Require ... group g1 [g2 ...]` for user: args are the
// Require line's arguments after the plugin name, which must start with the
// word "group" and name at least one group (anything else is a
// configuration error: general error, so httpd answers 500 rather than
// silently granting or denying).
func (f *File) Authorize(user string, args []string) (sdk.AuthzResult, error) {
	if len(args) < 2 || args[0] != "group" {
		return sdk.AuthzGeneralError, errBadArgs(args)
	}
	if user == "" {
		return sdk.AuthzDeniedNoUser, nil
	}
	ok, err := f.InAny(user, args[1:]...)
	if err != nil {
		return sdk.AuthzGeneralError, err
	}
	if ok {
		return sdk.AuthzGranted, nil
	}
	return sdk.AuthzDenied, nil
}

// CheckAuthorization implements sdk.RequireChecker.
func (f *File) CheckAuthorization(_ *sdk.Request, user string, args []string) (sdk.AuthzResult, error) {
	return f.Authorize(user, args)
}

type argsError struct{ args []string }

func errBadArgs(args []string) error { return &argsError{args} }

func (e *argsError) Error() string {
	return "groups: want `Require gobridge <plugin> group <name> [<name> ...]`, got arguments " + strings.Join(quote(e.args), " ")
}

func quote(a []string) []string {
	out := make([]string, len(a))
	for i, s := range a {
		out[i] = `"` + strings.ReplaceAll(s, `"`, `\"`) + `"`
	}
	return out
}

var _ sdk.RequireChecker = (*File)(nil)
