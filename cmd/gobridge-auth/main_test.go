package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gobridge/gobridge/auth/throttle"
	"github.com/gobridge/gobridge/sdk"
	"github.com/gobridge/gobridge/sdk/sdktest"
)

func setup(t *testing.T) (*provider, *sdk.Request) {
	t.Helper()
	dir := t.TempDir()
	pw := filepath.Join(dir, "users")
	if out, err := exec.Command("htpasswd", "-cbB", "-C", "4", pw, "ann", "secret").CombinedOutput(); err != nil {
		t.Skipf("htpasswd: %v %s", err, out)
	}
	grp := filepath.Join(dir, "groups")
	if err := os.WriteFile(grp, []byte("admins: ann\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := sdktest.NewRequest("GET", "/private/", nil)
	r.Options = sdk.Pairs{{Key: "htpasswd", Value: pw}, {Key: "groups", Value: grp}}
	return newProvider(), r
}

func TestProvider(t *testing.T) {
	p, r := setup(t)
	if rec := sdktest.CheckPassword(t, p, r, "ann", "secret"); rec.Authn != sdk.AuthnGranted {
		t.Errorf("ann/secret = %v; want granted", rec.Authn)
	}
	if rec := sdktest.CheckPassword(t, p, r, "ann", "nope"); rec.Authn != sdk.AuthnDenied {
		t.Errorf("ann/nope = %v; want denied", rec.Authn)
	}
	for _, tt := range []struct {
		user string
		args []string
		want sdk.AuthzResult
	}{
		{"ann", []string{"group", "admins"}, sdk.AuthzGranted},
		{"bob", []string{"group", "admins"}, sdk.AuthzDenied},
		{"", []string{"group", "admins"}, sdk.AuthzDeniedNoUser},
		{"bob", []string{"user", "ann", "bob"}, sdk.AuthzGranted},
		{"carl", []string{"user", "ann", "bob"}, sdk.AuthzDenied},
		{"ann", []string{"valid-user"}, sdk.AuthzGeneralError},
		{"ann", nil, sdk.AuthzGeneralError},
	} {
		if rec := sdktest.CheckAuthorization(t, p, r, tt.user, tt.args...); rec.Authz != tt.want {
			t.Errorf("Require %v for %q = %v; want %v", tt.args, tt.user, rec.Authz, tt.want)
		}
	}
}

func TestMissingOptionFailsClosed(t *testing.T) {
	p := newProvider()
	rec := sdktest.CheckPassword(t, p, nil, "ann", "secret")
	if rec.Authn != sdk.AuthnGeneralError || !rec.Logged("htpasswd") {
		t.Errorf("no htpasswd option = %v %v; want general error, logged", rec.Authn, rec.Logs)
	}
}

func TestThrottle(t *testing.T) {
	p, r := setup(t)
	p.guard = throttle.NewGuard(throttle.Config{MaxFailures: 3})
	for range 3 {
		sdktest.CheckPassword(t, p, r, "ann", "wrong")
	}
	rec := sdktest.CheckPassword(t, p, r, "ann", "secret")
	if rec.Authn != sdk.AuthnDenied || !rec.Logged("too many failed logins") {
		t.Errorf("right password while locked out = %v; want denied and a warning", rec.Authn)
	}
	for _, l := range rec.Logs {
		if strings.Contains(l.Message, "secret") {
			t.Errorf("password logged: %q", l.Message)
		}
	}
}
