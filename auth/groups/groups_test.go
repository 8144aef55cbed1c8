package groups

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/gobridge/gobridge/sdk"
	"github.com/gobridge/gobridge/sdk/sdktest"
)

func write(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestAuthorize(t *testing.T) {
	file := filepath.Join(t.TempDir(), "groups")
	write(t, file, "# staff\nadmins: ann  bob\tcarol\nops:dave\nadmins: erin\n\nbroken line\n  users : ann dave  \n\xff: \xfe\n")
	f := New(file)
	tests := []struct {
		user string
		args []string
		want sdk.AuthzResult
	}{
		{"ann", []string{"group", "admins"}, sdk.AuthzGranted},
		{"carol", []string{"group", "admins"}, sdk.AuthzGranted},
		{"erin", []string{"group", "admins"}, sdk.AuthzGranted}, // second line adds up
		{"dave", []string{"group", "admins"}, sdk.AuthzDenied},
		{"dave", []string{"group", "admins", "ops"}, sdk.AuthzGranted},
		{"dave", []string{"group", "users"}, sdk.AuthzGranted},
		{"\xfe", []string{"group", "\xff"}, sdk.AuthzGranted},
		{"nobody", []string{"group", "admins"}, sdk.AuthzDenied},
		{"", []string{"group", "admins"}, sdk.AuthzDeniedNoUser},
		{"ann", []string{"group"}, sdk.AuthzGeneralError},
		{"ann", []string{"admins"}, sdk.AuthzGeneralError},
		{"ann", nil, sdk.AuthzGeneralError},
		{"admins", []string{"group", "admins"}, sdk.AuthzDenied},
		{"ann", []string{"group", "admins:"}, sdk.AuthzDenied},
	}
	for _, tt := range tests {
		rec := sdktest.CheckAuthorization(t, f, nil, tt.user, tt.args...)
		if rec.Authz != tt.want {
			t.Errorf("CheckAuthorization(%q, %q) = %v; want %v", tt.user, tt.args, rec.Authz, tt.want)
		}
	}
}

func TestReloadAndMissing(t *testing.T) {
	file := filepath.Join(t.TempDir(), "groups")
	write(t, file, "admins: ann\n")
	f, err := Open(file)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := f.Authorize("bob", []string{"group", "admins"}); got != sdk.AuthzDenied {
		t.Fatalf("bob before = %v", got)
	}
	write(t, file, "admins: bob ann x\n")
	if got, _ := f.Authorize("bob", []string{"group", "admins"}); got != sdk.AuthzGranted {
		t.Errorf("bob after edit = %v; want granted", got)
	}
	_ = os.Remove(file)
	if got, err := f.Authorize("bob", []string{"group", "admins"}); got != sdk.AuthzGeneralError || err == nil {
		t.Errorf("missing file = %v, %v; want general error", got, err)
	}
	if _, err := Open(file); err == nil {
		t.Errorf("Open(missing) succeeded")
	}
}
