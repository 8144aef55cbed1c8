package htpasswd

import (
	"crypto/md5"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gobridge/gobridge/sdk"
	"github.com/gobridge/gobridge/sdk/sdktest"
)

// htpasswdBin returns the real htpasswd tool (apache2-utils).
func htpasswdBin(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("GOBRIDGE_REQUIRE_HTTPD") == "1" {
			t.Fatalf("%s not found (install apache2-utils): %v", name, err)
		}
		t.Skipf("%s not found (install apache2-utils)", name)
	}
	return p
}

// addUser runs `htpasswd -b [flags] file user password`.
func addUser(t *testing.T, file, user, password string, flags ...string) {
	t.Helper()
	args := append([]string{"-b"}, flags...)
	if _, err := os.Stat(file); err != nil {
		args[0] = "-cb"
	}
	args = append(args, file, user, password)
	out, err := exec.Command(htpasswdBin(t, "htpasswd"), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("htpasswd %v: %v\n%s", args, err, out)
	}
}

var formats = []struct {
	name  string
	flags []string
	pw    string
}{
	{"bcrypt", []string{"-B", "-C", "4"}, "bcrypt pass"},
	{"bcrypt-default-cost", []string{"-B"}, "b2"},
	{"apr1", []string{"-m"}, "apr1-pass:with:colons"},
	{"sha1", []string{"-s"}, "sha1pass"},
	{"crypt", []string{"-d"}, "crypt12"},
	{"sha256", []string{"-2"}, "sha256 pass"},
	{"sha512", []string{"-5"}, "sha512 pass"},
	{"sha512-rounds", []string{"-5", "-r", "1000"}, "rounds"},
	{"utf8", []string{"-m"}, "pässwörd✓"},
}

func TestEveryHtpasswdFormat(t *testing.T) {
	file := filepath.Join(t.TempDir(), "users")
	for _, f := range formats {
		addUser(t, file, f.name, f.pw, f.flags...)
	}
	hf, err := Open(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range formats {
		if got, err := hf.Check(f.name, f.pw); got != sdk.AuthnGranted || err != nil {
			t.Errorf("Check(%s, right) = %v, %v; want granted", f.name, got, err)
		}
		for _, wrong := range []string{"", f.pw + "x", strings.ToUpper(f.pw), f.pw[:len(f.pw)-1], "\x00" + f.pw} {
			if got, err := hf.Check(f.name, wrong); got != sdk.AuthnDenied || err != nil {
				t.Errorf("Check(%s, %q) = %v, %v; want denied", f.name, wrong, got, err)
			}
		}
	}
	if got, _ := hf.Check("nobody", "x"); got != sdk.AuthnUserNotFound {
		t.Errorf("Check(nobody) = %v; want user not found", got)
	}
}

func TestCryptTruncatesAt8(t *testing.T) {
	// What httpd does with -d hashes: only 8 characters count.
	file := filepath.Join(t.TempDir(), "users")
	addUser(t, file, "u", "abcdefgh", "-d")
	hf := New(file)
	if got, _ := hf.Check("u", "abcdefghXYZ"); got != sdk.AuthnGranted {
		t.Errorf("crypt with 11 chars = %v; want granted (crypt(3) reads 8)", got)
	}
}

func TestBcryptLongPassword(t *testing.T) {
	long := strings.Repeat("p", 100)
	file := filepath.Join(t.TempDir(), "users")
	addUser(t, file, "u", long, "-B", "-C", "4")
	hf := New(file)
	if got, err := hf.Check("u", long); got != sdk.AuthnGranted {
		t.Errorf("bcrypt with 100-byte password = %v, %v; want granted", got, err)
	}
}

func TestPlaintextRefused(t *testing.T) {
	file := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(file, []byte("plain:secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rec := sdktest.CheckPassword(t, New(file), nil, "plain", "secret")
	if rec.Authn != sdk.AuthnDenied {
		t.Errorf("plain-text entry = %v; want denied (httpd refuses plain text on Unix)", rec.Authn)
	}
	if !rec.Logged("cannot verify") {
		t.Errorf("no warning logged: %v", rec.Logs)
	}
	if rec.Logged("secret") {
		t.Errorf("password logged: %v", rec.Logs)
	}
}

func TestParseQuirks(t *testing.T) {
	file := filepath.Join(t.TempDir(), "users")
	content := "# comment\n\n  ann:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=  \r\nann:{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=\nno-colon-line\n:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\n\xff\xfe:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\nbob:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=:extra:fields\n"
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	hf := New(file)
	tests := []struct {
		user, pw string
		want     sdk.AuthnResult
	}{
		{"ann", "secret", sdk.AuthnGranted}, // first line wins, whitespace trimmed
		{"ann", "test", sdk.AuthnDenied},    // the second line is ignored
		{"no-colon-line", "", sdk.AuthnUserNotFound},
		{"", "secret", sdk.AuthnGranted}, // httpd would match an empty name too
		{"\xff\xfe", "secret", sdk.AuthnGranted},
		{"bob", "secret", sdk.AuthnGranted},
		{"# comment", "", sdk.AuthnUserNotFound},
	}
	for _, tt := range tests {
		if got, err := hf.Check(tt.user, tt.pw); got != tt.want || err != nil {
			t.Errorf("Check(%q, %q) = %v, %v; want %v", tt.user, tt.pw, got, err, tt.want)
		}
	}
}

func TestVerifyMalformed(t *testing.T) {
	for _, h := range []string{"", "$2y$", "$2y$99$short", "$apr1$", "$5$rounds=x$salt$hash", "$6$rounds=", "{SHA}", "plaintext", "$7$whatever", "toolongfordes!"} {
		ok, _ := Verify(h, "")
		ok2, _ := Verify(h, "x")
		if ok || ok2 {
			t.Errorf("Verify(%q) matched", h)
		}
	}
}

func TestReloadOnChange(t *testing.T) {
	file := filepath.Join(t.TempDir(), "users")
	addUser(t, file, "ann", "one", "-m")
	hf := New(file)
	if got, _ := hf.Check("ann", "one"); got != sdk.AuthnGranted {
		t.Fatalf("before change = %v", got)
	}
	addUser(t, file, "ann", "two", "-m")
	addUser(t, file, "bob", "three", "-B", "-C", "4")
	if got, _ := hf.Check("ann", "one"); got != sdk.AuthnDenied {
		t.Errorf("old password after change = %v; want denied", got)
	}
	if got, _ := hf.Check("bob", "three"); got != sdk.AuthnGranted {
		t.Errorf("new user after change = %v; want granted", got)
	}
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	if got, err := hf.Check("bob", "three"); got != sdk.AuthnGeneralError || err == nil {
		t.Errorf("after removal = %v, %v; want general error and an error (fail closed)", got, err)
	}
}

// An unknown user costs as much as the dearest user of the file: its check
// verifies that user's hash (a decoy) against the password. Checked by
// which hash is verified, not by timing, which a loaded machine blurs.
func TestUnknownUserCostsAsMuch(t *testing.T) {
	file := filepath.Join(t.TempDir(), "users")
	addUser(t, file, "cheap", "x", "-m")
	addUser(t, file, "dear", "x", "-B", "-C", "10")
	addUser(t, file, "middle", "x", "-B", "-C", "5")
	hf, err := Open(file)
	if err != nil {
		t.Fatal(err)
	}
	u, err := hf.f.Get()
	if err != nil {
		t.Fatal(err)
	}
	var verified []string
	defer func(v func(string, string) (bool, error)) { verifyDecoy = v }(verifyDecoy)
	verifyDecoy = func(h, pw string) (bool, error) {
		verified = append(verified, h)
		return Verify(h, pw)
	}
	if res, err := hf.Check("nobody", "wrong"); res != sdk.AuthnUserNotFound || err != nil {
		t.Fatalf("Check(nobody) = %v, %v; want not found", res, err)
	}
	if len(verified) != 1 || verified[0] != u.hash["dear"] {
		t.Errorf("an unknown user verified %q; want once the dearest hash, dear's %q", verified, u.hash["dear"])
	}
	if _, err := hf.Check("dear", "wrong"); err != nil || len(verified) != 1 {
		t.Errorf("a known user went through the decoy (%d decoy checks)", len(verified))
	}
	if cost(u.hash["dear"]) <= cost(u.hash["middle"]) || cost(u.hash["middle"]) <= cost(u.hash["cheap"]) {
		t.Errorf("cost ranks bcrypt -C 10 at %d, -C 5 at %d, apr1 at %d; want them in that order",
			cost(u.hash["dear"]), cost(u.hash["middle"]), cost(u.hash["cheap"]))
	}
}

func TestDigestFile(t *testing.T) {
	bin := htpasswdBin(t, "htdigest")
	file := filepath.Join(t.TempDir(), "digest")
	cmd := exec.Command(bin, "-c", file, "realm one", "ann")
	cmd.Stdin = strings.NewReader("secret\nsecret\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("htdigest: %v\n%s", err, out)
	}
	d, err := OpenDigest(file)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%x", md5.Sum([]byte("ann:realm one:secret")))
	rec := sdktest.GetRealmHash(t, d, nil, "ann", "realm one")
	if rec.Authn != sdk.AuthnGranted || rec.Hash != want {
		t.Errorf("GetRealmHash = %v %q; want granted %q", rec.Authn, rec.Hash, want)
	}
	if rec := sdktest.GetRealmHash(t, d, nil, "ann", "other realm"); rec.Authn != sdk.AuthnUserNotFound {
		t.Errorf("other realm = %v; want user not found", rec.Authn)
	}
}
