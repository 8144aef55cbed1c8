// Package htpasswd checks passwords against Apache htpasswd files, in every
// format Apache's htpasswd tool writes, and answers Digest realm hashes from
// htdigest files.
//
// Formats (the prefix of the hash decides): bcrypt "$2y$" (and $2a$,
// $2b$; htpasswd -B), SHA-512 crypt "$6$" (-5), SHA-256 crypt "$5$" (-2),
// Apache MD5 "$apr1$" (-m, the default) and glibc MD5 "$1$", SHA-1
// "{SHA}" (-s) and traditional crypt(3) DES (-d, 13 characters).
// Plain-text passwords (-p) are refused, as httpd refuses them on Unix.
//
// Like httpd's mod_authn_file, the first line for a user wins, lines
// starting with '#' and empty lines are skipped, and a file is re-read as
// soon as it changes. Unlike a naive implementation, a check for an unknown
// user costs as much as one for a known user (the password is checked
// against the file's most expensive hash and the result thrown away), and
// every comparison is constant-time.
package htpasswd

import (
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"

	"github.com/gobridge/gobridge/auth/internal/filecache"
	"github.com/gobridge/gobridge/sdk"
	"golang.org/x/crypto/bcrypt"
)

// ErrUnknownFormat is returned by Verify for a hash it does not recognise.
var ErrUnknownFormat = errors.New("htpasswd: unrecognised password hash format")

// bcrypt only reads the first 72 bytes of a password; so does httpd's.
const bcryptMaxPassword = 72

// Verify reports whether password matches hash, a password field of an
// htpasswd file. It returns ErrUnknownFormat (and false) for anything it
// cannot verify, plain text included.
func Verify(hash, password string) (bool, error) {
	switch {
	case strings.HasPrefix(hash, "$2a$"), strings.HasPrefix(hash, "$2b$"), strings.HasPrefix(hash, "$2y$"):
		pw := []byte(password)
		if len(pw) > bcryptMaxPassword {
			pw = pw[:bcryptMaxPassword]
		}
		err := bcrypt.CompareHashAndPassword([]byte(hash), pw)
		if err == nil {
			return true, nil
		}
		if errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) {
			return false, nil
		}
		return false, ErrUnknownFormat
	case strings.HasPrefix(hash, "$apr1$"):
		return equal(md5Crypt(password, "$apr1$", hash[len("$apr1$"):]), hash), nil
	case strings.HasPrefix(hash, "$1$"):
		return equal(md5Crypt(password, "$1$", hash[len("$1$"):]), hash), nil
	case strings.HasPrefix(hash, "$5$"), strings.HasPrefix(hash, "$6$"):
		got, ok := shaCrypt(password, hash[:3], hash[3:])
		if !ok {
			return false, ErrUnknownFormat
		}
		return equal(got, hash), nil
	case strings.HasPrefix(hash, "{SHA}"):
		sum := sha1.Sum([]byte(password))
		return equal("{SHA}"+base64.StdEncoding.EncodeToString(sum[:]), hash), nil
	case isDES(hash):
		return equal(desCrypt(password, [2]byte{hash[0], hash[1]}), hash), nil
	}
	return false, ErrUnknownFormat
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

func isDES(h string) bool {
	if len(h) != 13 {
		return false
	}
	for i := 0; i < len(h); i++ {
		if strings.IndexByte(itoa64, h[i]) < 0 {
			return false
		}
	}
	return true
}

// cost ranks hashes by how long Verify takes, to pick the decoy for
// unknown users.
func cost(h string) int {
	switch {
	case strings.HasPrefix(h, "$2"):
		if len(h) >= 7 {
			if n, err := strconv.Atoi(h[4:6]); err == nil {
				return 1_000_000 << min(n, 31)
			}
		}
	case strings.HasPrefix(h, "$5$"), strings.HasPrefix(h, "$6$"):
		rounds := shaRoundsDefault
		if r, ok := strings.CutPrefix(h[3:], "rounds="); ok {
			if i := strings.IndexByte(r, '$'); i > 0 {
				if n, err := strconv.Atoi(r[:i]); err == nil {
					rounds = n
				}
			}
		}
		return 2 * rounds
	case strings.HasPrefix(h, "$apr1$"), strings.HasPrefix(h, "$1$"):
		return 1000
	case isDES(h):
		return 25
	}
	return 1
}

// verifyDecoy is Verify, for the decoy of an unknown user; a variable so
// that a test can see which hash an unknown user costs.
var verifyDecoy = Verify

// defaultDecoy is checked for unknown users when the file has no usable
// hash: bcrypt at htpasswd's default cost (a random password's hash).
const defaultDecoy = "$2y$05$WPvpwx4oICHqz.tJhbnfMefuaYEg8BtnwB29pKEGD3k1Cc9Re.sFu"

// users is a parsed htpasswd file.
type users struct {
	hash  map[string]string
	decoy string
}

// Parse parses the content of an htpasswd file.
func parse(b []byte) (*users, error) {
	u := &users{hash: make(map[string]string), decoy: defaultDecoy}
	best := 0
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		h, _, _ := strings.Cut(rest, ":")
		if _, dup := u.hash[name]; dup {
			continue
		}
		u.hash[name] = h
		if c := cost(h); c > best {
			if _, err := Verify(h, ""); err == nil {
				best, u.decoy = c, h
			}
		}
	}
	return u, nil
}

// File is an htpasswd file. It is safe for concurrent use and implements
// sdk.PasswordChecker.
type File struct {
	f *filecache.File[*users]
}

// New returns the htpasswd file at path. It is read on the first check and
// again whenever it changes; an unreadable file makes every check fail
// with an error (httpd answers 500).
func New(path string) *File {
	return &File{f: filecache.New(path, parse)}
}

// Open is New followed by a first read, so that a missing or unreadable
// file is reported at once.
func Open(path string) (*File, error) {
	f := New(path)
	if _, err := f.f.Get(); err != nil {
		return nil, err
	}
	return f, nil
}

// Path returns the file's path.
func (f *File) Path() string { return f.f.Path() }

// Check checks user's password. It returns sdk.AuthnGranted,
// sdk.AuthnDenied (wrong password, or a hash in a format it cannot verify)
// or sdk.AuthnUserNotFound, and an error only when the file cannot be read.
func (f *File) Check(user, password string) (sdk.AuthnResult, error) {
	res, _, err := f.check(user, password)
	return res, err
}

// check also returns, as warn, why a stored hash could not be verified.
func (f *File) check(user, password string) (res sdk.AuthnResult, warn, err error) {
	u, err := f.f.Get()
	if err != nil {
		return sdk.AuthnGeneralError, nil, err
	}
	h, ok := u.hash[user]
	if !ok {
		// Spend the same time as for a real user; ignore the result.
		_, _ = verifyDecoy(u.decoy, password)
		return sdk.AuthnUserNotFound, nil, nil
	}
	match, verr := Verify(h, password)
	if verr != nil {
		return sdk.AuthnDenied, verr, nil
	}
	if match {
		return sdk.AuthnGranted, nil, nil
	}
	return sdk.AuthnDenied, nil, nil
}

// CheckPassword implements sdk.PasswordChecker.
func (f *File) CheckPassword(r *sdk.Request, user, password string) (sdk.AuthnResult, error) {
	res, warn, err := f.check(user, password)
	if warn != nil && r != nil {
		r.Logger().Warn("htpasswd: cannot verify the stored hash; denied", "file", f.Path(), "user", user, "err", warn)
	}
	return res, err
}

var _ sdk.PasswordChecker = (*File)(nil)
