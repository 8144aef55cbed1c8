package tests

import (
	"bufio"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gobridge/gobridge/tests/harness"
)

// authModules loads what the auth tests need beyond the harness's base set.
func authModules(e *harness.Env) string {
	var b strings.Builder
	for _, m := range []string{"authn_core", "auth_basic", "auth_digest", "authz_user", "authz_host", "authn_socache", "socache_shmcb"} {
		fmt.Fprintf(&b, "LoadModule %s_module %s/mod_%s.so\n", m, build.Modules, m)
	}
	return b.String()
}

// htpasswdUsers: user → (htpasswd flags, password), one per format.
var htpasswdUsers = []struct {
	user  string
	flags []string
	pw    string
}{
	{"u_bcrypt", []string{"-B", "-C", "4"}, "pw-bcrypt-Zq1"},
	{"u_apr1", []string{"-m"}, "pw-apr1-Xk2"},
	{"u_sha1", []string{"-s"}, "pw-sha1-Yj3"},
	{"u_crypt", []string{"-d"}, "pwCryp4W"},
	{"u_sha256", []string{"-2"}, "pw-sha256-Vh5"},
	{"u_sha512", []string{"-5"}, "pw-sha512-Ug6"},
	{"\xc3\x28latin", []string{"-m"}, "pw-nonutf8-Tf7"}, // not UTF-8
	{"bob", []string{"-m"}, "pw-bob-Se8"},
	{"carol", []string{"-m"}, "pw-carol-Rd9"},
	{"cacheuser", []string{"-m"}, "pw-cache-Qc0"},
}

func pwOf(user string) string {
	for _, u := range htpasswdUsers {
		if u.user == user {
			return u.pw
		}
	}
	return ""
}

func mkHtpasswd(t *testing.T, file string) {
	t.Helper()
	for i, u := range htpasswdUsers {
		args := []string{"-b"}
		if i == 0 {
			args[0] = "-cb"
		}
		args = append(append(args, u.flags...), file, u.user, u.pw)
		if out, err := exec.Command("htpasswd", args...).CombinedOutput(); err != nil {
			t.Fatalf("htpasswd %v: %v\n%s", args, err, out)
		}
	}
}

func authConf(t *testing.T, e *harness.Env) string {
	t.Helper()
	data := filepath.Join(e.Root, "authdata")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	users := filepath.Join(data, "users")
	mkHtpasswd(t, users)
	cached := filepath.Join(data, "cached-users")
	mkHtpasswd(t, cached)
	cachedSHA := filepath.Join(data, "cached-sha-users")
	mkHtpasswd(t, cachedSHA)
	if err := os.WriteFile(filepath.Join(data, "groups"), []byte("admins: u_bcrypt u_apr1\nbanned: u_sha1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("htdigest", "-c", filepath.Join(data, "digest"), "realm one", "dee")
	cmd.Stdin = strings.NewReader("pw-digest-Pb1\npw-digest-Pb1\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("htdigest: %v\n%s", err, out)
	}
	for _, d := range []string{"private", "admin", "any", "none", "merge", "merge/admins", "digest", "cached", "cachedsha", "stub", "noprov", "alias", "ht", "htghost", "badhash"} {
		if err := os.MkdirAll(filepath.Join(e.Root, "htdocs", d), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(e.Root, "htdocs", d, "index.html"), []byte("secret page "+d+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	broken := filepath.Join(e.Root, "bin", "broken")
	if err := os.WriteFile(broken, []byte("#!/bin/sh\necho 'broken plugin: cannot start' >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	basic := func(plugin string) string {
		return fmt.Sprintf(`    AuthType Basic
    AuthName "private"
    AuthBasicProvider gobridge
    GoBridgeAuthnProvider %s
    GoBridgeOption htpasswd %s
    GoBridgeOption groups %s
`, plugin, users, filepath.Join(data, "groups"))
	}
	stub := func(path, opts string) string {
		return fmt.Sprintf("<Location /stub/%s>\n%s</Location>\n", path, opts)
	}
	ht := "<RequireAll>\n    Require valid-user\n    Require gobridge auth group admins\n</RequireAll>\n"
	if err := os.WriteFile(filepath.Join(e.Root, "htdocs", "ht", ".htaccess"), []byte(ht), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.Root, "htdocs", "htghost", ".htaccess"), []byte("Require gobridge ghost group admins\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(strings.ReplaceAll(authModules(e)+fmt.Sprintf(`
DirectoryIndex index.html
LogLevel info gobridge:trace8 auth_basic:debug auth_digest:debug authn_socache:debug authz_core:debug
CustomLog %q "%%u|%%>s|%%U"
AuthnCacheSOCache shmcb
GoBridgePlugin auth %s -throttle-failures 1000
GoBridgePlugin authstub %s
GoBridgePlugin echo %s
GoBridgePlugin broken %s
GoBridgeTimeout 5
<Location /private>
%s    Require valid-user
</Location>
<Location /admin>
%s    <RequireAll>
        Require valid-user
        Require gobridge auth group admins
        Require ip 127.0.0.1
    </RequireAll>
</Location>
<Location /any>
%s    <RequireAll>
        Require gobridge auth user bob u_apr1
        Require gobridge auth group admins
    </RequireAll>
</Location>
<Location /none>
%s    <RequireAll>
        Require valid-user
        <RequireNone>
            Require gobridge auth group banned
        </RequireNone>
    </RequireAll>
</Location>
<Location /merge>
%s    Require valid-user
</Location>
<Location /merge/admins>
    AuthMerging And
    Require gobridge auth group admins
</Location>
<Location /digest>
    AuthType Digest
    AuthName "realm one"
    AuthDigestProvider gobridge
    GoBridgeAuthnProvider auth
    GoBridgeOption htdigest %s
    Require valid-user
</Location>
<AuthnProviderAlias gobridge stubalias>
    GoBridgeAuthnProvider authstub
    GoBridgeOption stub.authn granted
</AuthnProviderAlias>
<Location /alias>
    AuthType Basic
    AuthName "alias"
    AuthBasicProvider gobridge stubalias
    GoBridgeAuthnProvider auth
    GoBridgeOption htpasswd @USERS@
    Require valid-user
</Location>
<Directory "@HTDOCS@/ht">
    AllowOverride AuthConfig
</Directory>
<Directory "@HTDOCS@/htghost">
    AllowOverride AuthConfig
</Directory>
<Location /ht>
%s</Location>
<Location /htghost>
%s</Location>
<Location /badhash>
    AuthType Digest
    AuthName "realm one"
    AuthDigestProvider gobridge
    GoBridgeAuthnProvider authstub
    GoBridgeOption stub.authn granted
    GoBridgeOption stub.hash NOT-A-HASH
    Require valid-user
</Location>
<Location /noprov>
    AuthType Basic
    AuthName "noprov"
    AuthBasicProvider gobridge
    Require valid-user
</Location>
<Location /stub>
    AuthType Basic
    AuthName "stub"
    AuthBasicProvider gobridge
    GoBridgeAuthnProvider authstub
    GoBridgeOption stub.authn granted
    Require valid-user
</Location>
%s%s%s%s%s%s%s%s%s%s%s%s`,
		filepath.Join(e.Root, "logs", "access_log"),
		e.Bin("auth"), e.Bin("authstub"), e.Bin("echo"), broken,
		basic("auth"), basic("auth"), basic("auth"), basic("auth"), basic("auth"),
		filepath.Join(data, "digest"),
		basic("auth"), basic("auth"),
		stub("granted", "    GoBridgeHandler echo\n"),
		stub("unspecified", "    GoBridgeOption stub.authn unspecified\n"),
		stub("bignum", "    GoBridgeOption stub.authn 99\n"),
		stub("error", "    GoBridgeOption stub.authn error\n"),
		stub("hang", "    GoBridgeOption stub.hang 1\n    GoBridgeTimeout 1\n"),
		stub("badmut", "    GoBridgeOption stub.bad mutation\n"),
		stub("badlog", "    GoBridgeOption stub.bad loglevel\n"),
		stub("grpcerr", "    GoBridgeOption stub.grpcerr 1\n"),
		stub("down", "    GoBridgeAuthnProvider broken\n"),
		stub("authz-unspecified", "    Require gobridge authstub anything\n    GoBridgeOption stub.authz unspecified\n"),
		stub("authz-nouser", "    Require gobridge authstub anything\n    GoBridgeOption stub.authz nouser\n"),
		stub("crash", "    GoBridgeOption stub.crash 1\n"),
	)+cachedLocation("/cached", cached, "")+cachedLocation("/cachedsha", cachedSHA, "sha1"), "@USERS@", users), "@HTDOCS@", filepath.Join(e.Root, "htdocs"))
}

// cachedLocation is a Basic location behind mod_authn_socache and the
// gobridge provider over an htpasswd file; hash, when set, is its
// GoBridgeAuthnCacheHash.
func cachedLocation(path, file, hash string) string {
	h := ""
	if hash != "" {
		h = "    GoBridgeAuthnCacheHash " + hash + "\n"
	}
	return fmt.Sprintf(`<Location %s>
    AuthType Basic
    AuthName "cached"
    AuthBasicProvider socache gobridge
    AuthnCacheProvideFor gobridge
    AuthnCacheTimeout 300
    GoBridgeAuthnProvider auth
%s    GoBridgeOption htpasswd %s
    Require valid-user
</Location>
`, path, h, file)
}

func basicReq(t *testing.T, e *harness.Env, path, user, pw string) *harness.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", e.URL(path), nil)
	req.SetBasicAuth(user, pw)
	return harness.Do(t, req)
}

// rawGet sends a hand-written request (so headers may hold bytes net/http
// refuses) and returns the status code.
func rawGet(t *testing.T, e *harness.Env, path, authorization string) int {
	t.Helper()
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", e.Port), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: %s\r\nConnection: close\r\n\r\n", path, authorization)
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("raw GET %s: %v", path, err)
	}
	var code int
	if _, err := fmt.Sscanf(line, "HTTP/1.1 %d", &code); err != nil {
		t.Fatalf("raw GET %s: status line %q", path, line)
	}
	return code
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// Codes httpd's auth modules log at error level for every failed login,
// and gobridged's retries of the plugin that never starts (startAuth).
var authFailureCodes = []string{`plugin "broken"`, "AH01617", "AH01618", "AH01614", "AH01615", "AH01631", "AH01790", "AH01788", "AH01777", "AH01794"}

func startAuth(t *testing.T, mpm string) *harness.Env {
	t.Helper()
	e := harness.New(t, build, mpm)
	e.SetConf(authConf(t, e))
	e.Start()
	// The broken plugin never starts: GB0051 at start-up, then
	// gobridged's retries.
	e.ErrorLog().Check(t, "broken", "GB0051")
	return e
}

func TestAuthBasic(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		e := startAuth(t, mpm)
		log := e.ErrorLog()

		t.Run("every htpasswd format", func(t *testing.T) {
			for _, u := range htpasswdUsers {
				if r := basicReq(t, e, "/private/", u.user, u.pw); r.Status != 200 || !strings.Contains(r.Body, "secret page") {
					t.Errorf("%q right password: %d; want 200", u.user, r.Status)
				}
				// Changed in the first 8 characters: crypt(3) reads no more.
				if r := basicReq(t, e, "/private/", u.user, "X"+u.pw[1:]); r.Status != 401 {
					t.Errorf("%q wrong password: %d; want 401", u.user, r.Status)
				}
			}
			if r := e.Get("/private/"); r.Status != 401 || !strings.Contains(r.Header.Get("WWW-Authenticate"), `Basic realm="private"`) {
				t.Errorf("no credentials: %d %q; want 401 with a Basic challenge", r.Status, r.Header.Get("WWW-Authenticate"))
			}
			if r := basicReq(t, e, "/private/", "nobody", "x"); r.Status != 401 {
				t.Errorf("unknown user: %d; want 401", r.Status)
			}
			log.Check(t, authFailureCodes...)
		})

		t.Run("user in the access log", func(t *testing.T) {
			basicReq(t, e, "/private/", "u_sha512", pwOf("u_sha512"))
			ok := harness.WaitFor(5*time.Second, func() bool {
				b, _ := os.ReadFile(filepath.Join(e.Root, "logs", "access_log"))
				return strings.Contains(string(b), "u_sha512|200|/private/index.html") || strings.Contains(string(b), "u_sha512|200|/private/")
			})
			if !ok {
				b, _ := os.ReadFile(filepath.Join(e.Root, "logs", "access_log"))
				t.Errorf("access log has no %%u line for u_sha512:\n%s", b)
			}
		})

		t.Run("Require gobridge in RequireAll", func(t *testing.T) {
			for user, want := range map[string]int{"u_bcrypt": 200, "u_apr1": 200, "bob": 401, "u_sha1": 401} {
				if r := basicReq(t, e, "/admin/", user, pwOf(user)); r.Status != want {
					t.Errorf("/admin/ as %s: %d; want %d", user, r.Status, want)
				}
			}
			if r := e.Get("/admin/"); r.Status != 401 {
				t.Errorf("/admin/ anonymous: %d; want 401 (DENIED_NO_USER asks for a login)", r.Status)
			}
			log.Check(t, authFailureCodes...)
		})

		t.Run("arguments stay with their Require line", func(t *testing.T) {
			// Line 1: user bob or u_apr1; line 2: group admins. Only
			// u_apr1 satisfies both; mixing the lines' arguments (mod_lua's
			// bypass) would let bob or u_bcrypt in.
			for user, want := range map[string]int{"u_apr1": 200, "bob": 401, "u_bcrypt": 401} {
				if r := basicReq(t, e, "/any/", user, pwOf(user)); r.Status != want {
					t.Errorf("/any/ as %s: %d; want %d", user, r.Status, want)
				}
			}
			log.Check(t, authFailureCodes...)
		})

		t.Run("RequireNone", func(t *testing.T) {
			if r := basicReq(t, e, "/none/", "u_sha1", pwOf("u_sha1")); r.Status != 401 && r.Status != 403 {
				t.Errorf("banned user: %d; want 401/403", r.Status)
			}
			if r := basicReq(t, e, "/none/", "bob", pwOf("bob")); r.Status != 200 {
				t.Errorf("bob: %d; want 200", r.Status)
			}
			log.Check(t, authFailureCodes...)
		})

		t.Run("AuthMerging And", func(t *testing.T) {
			if r := basicReq(t, e, "/merge/", "bob", pwOf("bob")); r.Status != 200 {
				t.Errorf("/merge/ as bob: %d; want 200", r.Status)
			}
			if r := basicReq(t, e, "/merge/admins/", "bob", pwOf("bob")); r.Status != 401 {
				t.Errorf("/merge/admins/ as bob: %d; want 401", r.Status)
			}
			if r := basicReq(t, e, "/merge/admins/", "u_apr1", pwOf("u_apr1")); r.Status != 200 {
				t.Errorf("/merge/admins/ as u_apr1: %d; want 200", r.Status)
			}
			log.Check(t, authFailureCodes...)
		})

		t.Run("AuthnProviderAlias chains two plugins", func(t *testing.T) {
			if r := basicReq(t, e, "/alias/", "bob", pwOf("bob")); r.Status != 200 {
				t.Errorf("bob via htpasswd: %d; want 200", r.Status)
			}
			if r := basicReq(t, e, "/alias/", "bob", "wrong"); r.Status != 401 {
				t.Errorf("bob, wrong password: %d; want 401 (DENIED ends the chain)", r.Status)
			}
			if r := basicReq(t, e, "/alias/", "stranger", "anything"); r.Status != 200 {
				t.Errorf("stranger via the alias (stub grants): %d; want 200", r.Status)
			}
			if !log.Contains("via provider 'stubalias'") {
				t.Errorf("no GB0259 line for the alias")
			}
			log.Check(t, authFailureCodes...)
		})

		t.Run("Require gobridge in .htaccess", func(t *testing.T) {
			for user, want := range map[string]int{"u_apr1": 200, "bob": 401} {
				if r := basicReq(t, e, "/ht/", user, pwOf(user)); r.Status != want {
					t.Errorf("/ht/ as %s: %d; want %d", user, r.Status, want)
				}
			}
			if r := basicReq(t, e, "/htghost/", "bob", pwOf("bob")); r.Status != 500 {
				t.Errorf(".htaccess naming an undeclared plugin: %d; want 500", r.Status)
			}
			if !log.Contains("GB0256: ghost") {
				t.Errorf("no GB0256 line naming the plugin")
			}
			log.Check(t, append(authFailureCodes, "GB0256")...)
		})

		t.Run("concurrent logins", func(t *testing.T) {
			var wg sync.WaitGroup
			var bad atomic.Int64
			for w := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range 25 {
						u := htpasswdUsers[(w+i)%6]
						req, _ := http.NewRequest("GET", e.URL("/admin/"), nil)
						req.SetBasicAuth(u.user, u.pw)
						resp, err := harness.Client.Do(req)
						if err != nil {
							bad.Add(1)
							continue
						}
						resp.Body.Close()
						want := 401
						if u.user == "u_bcrypt" || u.user == "u_apr1" {
							want = 200
						}
						if resp.StatusCode != want {
							bad.Add(1)
						}
					}
				}()
			}
			wg.Wait()
			if n := bad.Load(); n > 0 {
				t.Errorf("%d of 200 concurrent logins got the wrong answer", n)
			}
			log.Check(t, authFailureCodes...)
		})

		t.Run("malformed Authorization headers", func(t *testing.T) {
			pw := pwOf("bob")
			cases := map[string]string{
				"bad base64":      "Basic !!!not*base64###",
				"missing colon":   "Basic " + b64("bob"+pw),
				"empty":           "Basic ",
				"only scheme":     "Basic",
				"other scheme":    "Bearer " + b64("bob:"+pw),
				"NUL in user":     "Basic " + b64("bob\x00:"+pw),
				"NUL before user": "Basic " + b64("\x00bob:"+pw),
				"non-UTF-8 user":  "Basic " + b64("\xff\xfe\xfd:"+pw),
				"long user":       "Basic " + b64(strings.Repeat("b", 5000)+":"+pw),
				"long password":   "Basic " + b64("bob:"+strings.Repeat("p", 5000)),
				"huge":            "Basic " + b64("bob:"+strings.Repeat("p", 20000)),
				"raw NUL":         "Basic " + b64("bob:" + pw)[:4] + "\x00" + b64("bob:" + pw)[4:],
				"raw 8-bit":       "Basic \xff\xfe" + b64("bob:"+pw),
			}
			for name, h := range cases {
				code := rawGet(t, e, "/private/", h)
				if code != 401 && code != 400 {
					t.Errorf("%s: status %d; want 401 or 400, never 200", name, code)
				}
			}
			if code := rawGet(t, e, "/private/", "Basic "+b64("bob:"+pw)); code != 200 {
				t.Errorf("raw request with the right password: %d; want 200 (the helper works)", code)
			}
			log.Check(t, authFailureCodes...)
		})

		t.Run("Digest via get_realm_hash", func(t *testing.T) {
			if code := digestGet(t, e, "/digest/", "dee", "pw-digest-Pb1"); code != 200 {
				t.Errorf("digest, right password: %d; want 200", code)
			}
			if code := digestGet(t, e, "/digest/", "dee", "wrong"); code != 401 {
				t.Errorf("digest, wrong password: %d; want 401", code)
			}
			if code := digestGet(t, e, "/digest/", "nobody", "x"); code != 401 {
				t.Errorf("digest, unknown user: %d; want 401", code)
			}
			log.Check(t, authFailureCodes...)
		})

		for _, tc := range []struct {
			name, path, file, trace string
		}{
			{"mod_authn_socache caches grants (apr1)", "/cached/", "cached-users", "GB0261"},
			{"mod_authn_socache caches grants (GoBridgeAuthnCacheHash sha1)", "/cachedsha/", "cached-sha-users", "GB0266"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				pw := pwOf("cacheuser")
				if r := basicReq(t, e, tc.path, "cacheuser", pw); r.Status != 200 {
					t.Fatalf("first login: %d; want 200", r.Status)
				}
				if !log.Contains(tc.trace + ": ") {
					t.Errorf("no %s line: the grant was not offered to the cache with the configured hash", tc.trace)
				}
				// Empty the password file: only the cache can grant now.
				if err := os.WriteFile(filepath.Join(e.Root, "authdata", tc.file), []byte("# nobody\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				for i := range 4 {
					if r := basicReq(t, e, tc.path, "cacheuser", pw); r.Status != 200 {
						t.Errorf("login %d after the file was emptied: %d; want 200 from mod_authn_socache", i, r.Status)
					}
				}
				if r := basicReq(t, e, tc.path, "cacheuser", pw+"x"); r.Status != 401 {
					t.Errorf("wrong password against the cache: %d; want 401", r.Status)
				}
				if r := basicReq(t, e, tc.path, "bob", pwOf("bob")); r.Status != 401 {
					t.Errorf("uncached user after the file was emptied: %d; want 401", r.Status)
				}
				log.Check(t, authFailureCodes...)
			})
		}

		t.Run("no passwords in the error log", func(t *testing.T) {
			// httpd's own AH01618 names the user as sent, which holds the
			// password when the client sent "userpassword" without a colon;
			// that line is httpd's, not ours.
			var kept []string
			for _, l := range strings.Split(log.All(), "\n") {
				if !strings.Contains(l, "AH01618") {
					kept = append(kept, l)
				}
			}
			all := strings.Join(kept, "\n")
			for _, u := range htpasswdUsers {
				for _, p := range []string{u.pw, "X" + u.pw[1:]} {
					if strings.Contains(all, p) {
						t.Errorf("password of %q appears in the error log", u.user)
					}
				}
			}
			if strings.Contains(all, "pw-digest-Pb1") {
				t.Errorf("digest password in the error log")
			}
			if strings.Contains(all, b64("bob:"+pwOf("bob"))) {
				t.Errorf("an Authorization header appears in the error log")
			}
		})
	})
}

func TestAuthFailsClosed(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		e := startAuth(t, mpm)
		log := e.ErrorLog()

		r := basicReq(t, e, "/stub/granted/snapshot", "ann", "stub-pw-1")
		if r.Status != 200 || !strings.Contains(r.Body, "STUB_SEEN") {
			t.Errorf("stub granted: %d %q; want 200 with STUB_SEEN in subprocess_env", r.Status, r.Body)
		}
		log.Check(t, "broken")

		cases := []struct {
			path string
			want int
			code string
		}{
			{"/stub/unspecified/", 500, "GB0254"},
			{"/stub/bignum/", 500, "GB0254"},
			{"/stub/error/", 500, "GB0258"}, // CheckPassword's GENERAL_ERROR
			{"/stub/badmut/", 500, "GB0254"},
			{"/stub/badlog/", 500, "GB0254"},
			{"/stub/grpcerr/", 500, "GB0253"},
			{"/stub/down/", 500, "GB0251"},
			{"/noprov/", 500, "GB0250"},
			{"/stub/authz-unspecified/", 500, "GB0254"},
		}
		if code := digestGet(t, e, "/badhash/", "ann", "x"); code != 500 {
			t.Errorf("/badhash/ (a realm hash that is not hex): %d; want 500", code)
		}
		if !log.Contains("GB0254: authstub: GetRealmHash") {
			t.Errorf("no GB0254 line for the bad realm hash")
		}
		log.Check(t, "GB0254", "broken")
		for _, c := range cases {
			r := basicReq(t, e, c.path, "ann", "stub-pw-2")
			if r.Status != c.want {
				t.Errorf("%s: %d; want %d", c.path, r.Status, c.want)
			}
			if !log.Contains(c.code) {
				t.Errorf("%s: no %s line in the error log", c.path, c.code)
			}
			plugin := "authstub"
			switch c.path {
			case "/stub/down/":
				plugin = "broken"
			case "/noprov/":
				plugin = "GoBridgeAuthnProvider"
			}
			if !regexp.MustCompile(c.code + `: ` + regexp.QuoteMeta(plugin) + `|` + c.code + `:.*` + regexp.QuoteMeta(plugin)).MatchString(log.Since()) {
				t.Errorf("%s: the %s line does not name %s:\n%s", c.path, c.code, plugin, log.Since())
			}
			log.Check(t, c.code, "AH01617", "AH01618", "broken")
		}

		t.Run("DENIED_NO_USER asks for a login", func(t *testing.T) {
			if r := e.Get("/stub/authz-nouser/"); r.Status != 401 {
				t.Errorf("authz-nouser: %d; want 401", r.Status)
			}
			log.Check(t, authFailureCodes...)
		})

		t.Run("plugin that never answers: GoBridgeTimeout fails closed", func(t *testing.T) {
			// The stub answers nothing until its call's context ends, so
			// only the timeout (1s) can end the call; the 500 is that
			// event, and it cannot come before the timeout.
			start := time.Now()
			r := basicReq(t, e, "/stub/hang/", "ann", "stub-pw-3")
			if r.Status != 500 {
				t.Errorf("hang: %d; want 500", r.Status)
			}
			if d := time.Since(start); d < time.Second {
				t.Errorf("hang: answered after %v; want no sooner than GoBridgeTimeout (1s)", d)
			}
			// Our timer or grpc-go's deadline (grpc-status 4) fires first.
			if !log.Contains("GB0252: authstub") && !log.Contains("GB0253: authstub: CheckPassword: grpc-status 4") {
				t.Errorf("no GB0252/GB0253 line naming the plugin")
			}
			log.Check(t, "GB0252", "GB0253", "broken")
		})

		t.Run("plugin killed mid-call", func(t *testing.T) {
			r := basicReq(t, e, "/stub/crash/", "ann", "stub-pw-4")
			if r.Status != 500 && r.Status != 503 {
				t.Errorf("crash: %d; want 500 or 503", r.Status)
			}
			// The call is lost with its pooled connection; for a GET it is
			// sent once more (GB0188), and fails again: the restarting
			// plugin is not there yet (GB0251) or crashes again (GB0262).
			if !log.Contains("GB0262: authstub") && !log.Contains("GB0251: authstub") {
				t.Errorf("no GB0262 or GB0251 line naming the plugin")
			}
			// Killed from outside, between calls: never a grant.
			pids := e.ProcessesOf("authstub")
			for _, pid := range pids {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			for range 5 {
				r := basicReq(t, e, "/stub/unspecified/", "ann", "stub-pw-5")
				if r.Status == 200 {
					t.Errorf("killed plugin: 200")
				}
			}
			// gobridged brings it back.
			if !harness.WaitFor(15*time.Second, func() bool {
				return basicReq(t, e, "/stub/granted/snapshot", "ann", "stub-pw-6").Status == 200
			}) {
				t.Errorf("the plugin did not come back")
			}
			log.Check(t, "GB0251", "GB0252", "GB0262", "GB0254", "authstub", "broken", "GB0017")
		})

		t.Run("no passwords in the error log", func(t *testing.T) {
			all := log.All()
			for i := 1; i <= 6; i++ {
				if strings.Contains(all, fmt.Sprintf("stub-pw-%d", i)) {
					t.Errorf("stub-pw-%d appears in the error log", i)
				}
			}
		})
	})
}

func TestAuthConfigErrors(t *testing.T) {
	e := harness.New(t, build, "event")
	for _, c := range []struct{ conf, want string }{
		{"<Location /x>\n    Require gobridge\n</Location>\n", "name the plugin"},
		{"<Location /x>\n    Require gobridge no/such\n</Location>\n", "invalid plugin name"},
		{"<Location /x>\n    Require gobridge ghost group a\n</Location>\n", "unknown plugin 'ghost'"},
		{"<Location /x>\n    GoBridgeAuthnProvider ghost\n</Location>\n", "unknown plugin 'ghost'"},
		{"<Location /x>\n    GoBridgeAuthnProvider bad!name\n</Location>\n", "invalid plugin name"},
	} {
		e.SetConf(authModules(e) + c.conf)
		out, ok := e.ConfigTest()
		if ok || !strings.Contains(out, c.want) {
			t.Errorf("configtest of %q = ok %v:\n%s\nwant a failure mentioning %q", c.conf, ok, out, c.want)
		}
	}
}

// digestGet does one RFC 7616 Digest (MD5, qop=auth) login.
func digestGet(t *testing.T, e *harness.Env, path, user, pw string) int {
	t.Helper()
	first := e.Get(path)
	chal := first.Header.Get("WWW-Authenticate")
	if first.Status != 401 || !strings.HasPrefix(chal, "Digest ") {
		t.Fatalf("digest challenge: %d %q", first.Status, chal)
	}
	params := map[string]string{}
	for _, m := range regexp.MustCompile(`(\w+)="?([^",]*)"?`).FindAllStringSubmatch(chal[len("Digest "):], -1) {
		params[m[1]] = m[2]
	}
	h := func(s string) string { return fmt.Sprintf("%x", md5.Sum([]byte(s))) }
	ha1 := h(user + ":" + params["realm"] + ":" + pw)
	ha2 := h("GET:" + path)
	nc, cnonce := "00000001", "0a4f113b"
	resp := h(ha1 + ":" + params["nonce"] + ":" + nc + ":" + cnonce + ":auth:" + ha2)
	req, _ := http.NewRequest("GET", e.URL(path), nil)
	req.Header.Set("Authorization", fmt.Sprintf(`Digest username="%s", realm="%s", nonce="%s", uri="%s", algorithm=MD5, response="%s", qop=auth, nc=%s, cnonce="%s"`,
		user, params["realm"], params["nonce"], path, resp, nc, cnonce))
	return harness.Do(t, req).Status
}

func TestAuthBearer(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	sign := func(alg jose.SignatureAlgorithm, k any, claims map[string]any) string {
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: k}, (&jose.SignerOptions{}).WithHeader("kid", "k1"))
		if err != nil {
			t.Fatal(err)
		}
		p, _ := json.Marshal(claims)
		o, _ := s.Sign(p)
		c, _ := o.CompactSerialize()
		return c
	}
	claims := func(extra map[string]any) map[string]any {
		c := map[string]any{"sub": "jwt-ann", "aud": "api", "iss": "https://idp.test", "exp": time.Now().Add(time.Hour).Unix(), "email": "ann@example.com"}
		for k, v := range extra {
			c[k] = v
		}
		return c
	}
	enc := base64.RawURLEncoding
	unsigned := func(header string, c map[string]any) string {
		p, _ := json.Marshal(c)
		return enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString(p) + "."
	}
	good := sign(jose.RS256, key, claims(nil))
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	confusion := func() string {
		p, _ := json.Marshal(claims(nil))
		in := enc.EncodeToString([]byte(`{"alg":"HS256","kid":"k1"}`)) + "." + enc.EncodeToString(p)
		m := hmac.New(sha256.New, pemKey)
		m.Write([]byte(in))
		return in + "." + enc.EncodeToString(m.Sum(nil))
	}()
	bad := map[string]string{
		"no header":       "",
		"basic":           "Basic " + b64("ann:x"),
		"expired":         "Bearer " + sign(jose.RS256, key, claims(map[string]any{"exp": time.Now().Add(-time.Hour).Unix()})),
		"not yet valid":   "Bearer " + sign(jose.RS256, key, claims(map[string]any{"nbf": time.Now().Add(time.Hour).Unix()})),
		"wrong audience":  "Bearer " + sign(jose.RS256, key, claims(map[string]any{"aud": "other"})),
		"wrong issuer":    "Bearer " + sign(jose.RS256, key, claims(map[string]any{"iss": "https://evil.test"})),
		"alg none":        "Bearer " + unsigned(`{"alg":"none","kid":"k1"}`, claims(nil)),
		"HS256 confusion": "Bearer " + confusion,
		"garbage":         "Bearer not.a.token",
		"tampered":        "Bearer " + good[:len(good)-6] + "AAAAAA",
		"two tokens":      "Bearer " + good + " " + good,
	}

	forEachMPM(t, func(t *testing.T, mpm string) {
		e := harness.New(t, build, mpm)
		data := filepath.Join(e.Root, "authdata")
		_ = os.MkdirAll(data, 0o755)
		jwks := filepath.Join(data, "jwks.json")
		b, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Use: "sig"}}})
		if err := os.WriteFile(jwks, b, 0o644); err != nil {
			t.Fatal(err)
		}
		e.SetConf(authModules(e) + fmt.Sprintf(`
CustomLog %q "%%u|%%>s|%%U"
GoBridgePlugin auth %s
GoBridgePlugin echo %s
<Location /api>
    AuthType Bearer
    AuthName "api"
    GoBridgeAuthnHandler auth
    GoBridgeOption jwks %s
    GoBridgeOption jwt.audience api
    GoBridgeOption jwt.issuer https://idp.test
    GoBridgeOption jwt.algorithms "RS256 HS256"
    GoBridgeOption jwt.env "email=JWT_EMAIL"
    GoBridgeHandler echo
    Require valid-user
</Location>
`, filepath.Join(e.Root, "logs", "access_log"), e.Bin("auth"), e.Bin("echo"), jwks))
		e.Start()
		log := e.ErrorLog()

		req, _ := http.NewRequest("GET", e.URL("/api/snapshot"), nil)
		req.Header.Set("Authorization", "Bearer "+good)
		r := harness.Do(t, req)
		if r.Status != 200 || !strings.Contains(r.Body, "jwt-ann") || !strings.Contains(r.Body, "ann@example.com") {
			t.Errorf("good token: %d %q; want 200 with the user and JWT_EMAIL", r.Status, clipBody(r.Body))
		}
		for name, h := range bad {
			req, _ := http.NewRequest("GET", e.URL("/api/snapshot"), nil)
			if h != "" {
				req.Header.Set("Authorization", h)
			}
			r := harness.Do(t, req)
			if r.Status != 401 {
				t.Errorf("%s: %d; want 401", name, r.Status)
			}
			if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer ") {
				t.Errorf("%s: WWW-Authenticate %q; want a Bearer challenge", name, r.Header.Get("WWW-Authenticate"))
			}
		}
		if !harness.WaitFor(5*time.Second, func() bool {
			b, _ := os.ReadFile(filepath.Join(e.Root, "logs", "access_log"))
			return strings.Contains(string(b), "jwt-ann|200|")
		}) {
			t.Errorf("no %%u line for jwt-ann in the access log")
		}
		all := log.All()
		for name, h := range bad {
			if len(h) > 40 && strings.Contains(all, h[7:47]) {
				t.Errorf("%s: the token appears in the error log", name)
			}
		}
		if strings.Contains(all, good[20:60]) {
			t.Errorf("the good token appears in the error log")
		}
		log.Check(t, authFailureCodes...)
	})
}

func clipBody(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}
