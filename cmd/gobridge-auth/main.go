// Command gobridge-auth is a ready-made gobridge plugin that serves the
// auth/ packages as Apache authentication and authorization providers.
// Everything per location comes from GoBridgeOption; throttling, which is
// process-wide, from the command line of GoBridgePlugin:
//
//	GoBridgePlugin auth /usr/local/libexec/gobridge/gobridge-auth -throttle-failures 10
//	<Location /private>
//	    AuthType Basic
//	    AuthName "private"
//	    AuthBasicProvider gobridge
//	    GoBridgeAuthnProvider auth
//	    GoBridgeOption htpasswd /etc/apache2/users.htpasswd
//	    GoBridgeOption groups /etc/apache2/groups
//	    <RequireAll>
//	        Require valid-user
//	        Require gobridge auth group admins
//	    </RequireAll>
//	</Location>
//
// Options:
//
//	htpasswd PATH  password file for AuthBasicProvider (every htpasswd format)
//	htdigest PATH  htdigest file for AuthDigestProvider
//	groups PATH    AuthGroupFile-format file for `Require gobridge auth group G...`
//	jwks PATH      JWKS for bearer tokens (GoBridgeAuthnHandler; see bearer.go)
//
// Require lines it understands:
//
//	Require gobridge auth group G [G...]   the user is in one of the groups
//	Require gobridge auth user U [U...]    the user is one of these
//
// See docs/auth.md.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/gobridge/gobridge/auth/groups"
	"github.com/gobridge/gobridge/auth/htpasswd"
	"github.com/gobridge/gobridge/auth/throttle"
	"github.com/gobridge/gobridge/sdk"
)

func main() {
	fs := flag.NewFlagSet("gobridge-auth", flag.ExitOnError)
	failures := fs.Int("throttle-failures", 5, "failed logins per user, and per client address, before a lockout (0: no throttling)")
	window := fs.Duration("throttle-window", time.Minute, "window in which failures are counted")
	lockout := fs.Duration("throttle-lockout", time.Minute, "first lockout; doubles on each renewal")
	maxLockout := fs.Duration("throttle-max-lockout", time.Hour, "longest lockout")
	_ = fs.Parse(os.Args[1:])

	p := newProvider()
	if *failures > 0 {
		p.guard = throttle.NewGuard(throttle.Config{MaxFailures: *failures, Window: *window, Lockout: *lockout, MaxLockout: *maxLockout})
	}
	sdk.Serve(&sdk.ServeConfig{PasswordChecker: p, RealmHasher: p, RequireChecker: p, Phases: p})
}

// provider answers every auth call from the files the request's
// GoBridgeOption values name. Files are opened once per path and re-read
// when they change.
type provider struct {
	pw     files[*htpasswd.File]
	digest files[*htpasswd.DigestFile]
	grp    files[*groups.File]
	guard  *throttle.Guard // nil: no throttling
	jwt    verifiers
}

func newProvider() *provider {
	return &provider{
		pw:     files[*htpasswd.File]{open: htpasswd.New},
		digest: files[*htpasswd.DigestFile]{open: htpasswd.NewDigest},
		grp:    files[*groups.File]{open: groups.New},
	}
}

// files holds one opened file per path. Paths come from the configuration,
// so the set only grows to a few entries and is then read by every call:
// a sync.Map answers those reads without a lock that concurrent logins
// would queue on.
type files[T any] struct {
	open func(string) T
	m    sync.Map // path → T
}

func (fs *files[T]) get(path string) T {
	if f, ok := fs.m.Load(path); ok {
		return f.(T)
	}
	f, _ := fs.m.LoadOrStore(path, fs.open(path))
	return f.(T)
}

var errNoOption = errors.New("option not set")

func option(r *sdk.Request, key string) (string, error) {
	v, ok := r.LookupOption(key)
	if !ok || v == "" {
		return "", fmt.Errorf("GoBridgeOption %s is not set for %s: %w", key, r.Location, errNoOption)
	}
	return v, nil
}

func (p *provider) CheckPassword(r *sdk.Request, user, password string) (sdk.AuthnResult, error) {
	path, err := option(r, "htpasswd")
	if err != nil {
		return sdk.AuthnGeneralError, err
	}
	client := r.UseragentIP
	if p.guard != nil && !p.guard.Allowed(user, client) {
		r.Logger().Warn("gobridge-auth: too many failed logins; refused without checking", "user", user, "client", client)
		return sdk.AuthnDenied, nil
	}
	f := p.pw.get(path)
	res, err := f.CheckPassword(r, user, password)
	if err != nil {
		return res, err
	}
	if p.guard != nil {
		p.guard.Record(user, client, res == sdk.AuthnGranted)
	}
	if res == sdk.AuthnGranted {
		if err := r.SetEnv("GOBRIDGE_AUTH_SOURCE", "htpasswd"); err != nil {
			return sdk.AuthnGeneralError, err
		}
	}
	return res, nil
}

func (p *provider) GetRealmHash(r *sdk.Request, user, realm string) (string, sdk.AuthnResult, error) {
	path, err := option(r, "htdigest")
	if err != nil {
		return "", sdk.AuthnGeneralError, err
	}
	return p.digest.get(path).RealmHash(user, realm)
}

func (p *provider) CheckAuthorization(r *sdk.Request, user string, args []string) (sdk.AuthzResult, error) {
	if len(args) == 0 {
		return sdk.AuthzGeneralError, errors.New("Require gobridge <plugin>: say what to check: 'group G...' or 'user U...'")
	}
	switch args[0] {
	case "group":
		path, err := option(r, "groups")
		if err != nil {
			return sdk.AuthzGeneralError, err
		}
		return p.grp.get(path).Authorize(user, args)
	case "user":
		if len(args) < 2 {
			return sdk.AuthzGeneralError, errors.New("Require gobridge <plugin> user: name at least one user")
		}
		if user == "" {
			return sdk.AuthzDeniedNoUser, nil
		}
		if slices.Contains(args[1:], user) {
			return sdk.AuthzGranted, nil
		}
		return sdk.AuthzDenied, nil
	}
	return sdk.AuthzGeneralError, fmt.Errorf("Require gobridge <plugin> %q: unknown check; use 'group' or 'user'", args[0])
}
