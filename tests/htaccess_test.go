package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gobridge/gobridge/tests/harness"
)

// htaccessConf: per-directory GoBridge directives in .htaccess files under
// several AllowOverride settings, merged with <Directory> and <Files>.
func htaccessConf(e *harness.Env) string {
	return fmt.Sprintf(`
GoBridgePlugin phases %[1]s
GoBridgePlugin state %[2]s
AccessFileName .htaccess
<Directory %[3]s/ht>
    AllowOverride FileInfo Options
    GoBridgeFixupHandler phases
    GoBridgeOption phases.fixups hout=X-Fix:on
</Directory>
<Directory %[3]s/ht/auth>
    AllowOverride FileInfo AuthConfig Options
</Directory>
<Directory %[3]s/ht/opts>
    AllowOverride Options
</Directory>
<Directory %[3]s/ht/list>
    AllowOverride None
    AllowOverrideList GoBridgeHandler
</Directory>
<Directory %[3]s/ht/files>
    <Files "*.gb">
        GoBridgeHandler state
        GoBridgeOption who files
    </Files>
</Directory>
<Directory %[3]s/ht/files2>
    <IfModule mod_mime.c>
        <Files "*.gb">
            GoBridgeHandler state
        </Files>
    </IfModule>
</Directory>
`, e.Bin("phases"), e.Bin("state"), filepath.Join(e.Root, "htdocs"))
}

func TestHtaccess(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		e := harness.New(t, build, mpm)
		files := map[string]string{
			"ht/file.txt":            "plain\n",
			"ht/h/.htaccess":         "GoBridgeHandler state\nGoBridgeOption who htaccess\nGoBridgeTimeout 10\n",
			"ht/h/file.txt":          "plain\n",
			"ht/off/.htaccess":       "GoBridgePhases -fixups\n",
			"ht/off/file.txt":        "plain\n",
			"ht/off/on/.htaccess":    "GoBridgePhases +fixups\nGoBridgeOption phases.fixups hout=X-Fix:again\n",
			"ht/off/on/file.txt":     "plain\n",
			"ht/noauth/.htaccess":    "GoBridgeAccessHandler phases\n",
			"ht/noauth/file.txt":     "plain\n",
			"ht/nophases/.htaccess":  "GoBridgePhases -access\n",
			"ht/nophases/file.txt":   "plain\n",
			"ht/auth/.htaccess":      "GoBridgeAccessHandler phases\nGoBridgeOption phases.access status=403\n",
			"ht/auth/file.txt":       "plain\n",
			"ht/auth/open/.htaccess": "GoBridgePhases -access\n",
			"ht/auth/open/file.txt":  "plain\n",
			"ht/opts/.htaccess":      "GoBridgeHandler state\n",
			"ht/opts/file.txt":       "plain\n",
			"ht/unknown/.htaccess":   "GoBridgeHandler nosuchplugin\n",
			"ht/unknown/file.txt":    "plain\n",
			"ht/list/.htaccess":      "GoBridgeHandler state\n",
			"ht/list/file.txt":       "plain\n",
			"ht/files/a.gb":          "x\n",
			"ht/files/b.txt":         "plain\n",
			"ht/files/sub/.htaccess": "GoBridgeOption who sub\n",
			"ht/files/sub/a.gb":      "x\n",
			"ht/files2/a.gb":         "x\n",
			"ht/hf/.htaccess":        "<Files \"*.gb\">\nGoBridgeHandler state\n</Files>\n",
			"ht/hf/a.gb":             "x\n",
		}
		for name, body := range files {
			p := filepath.Join(e.Root, "htdocs", name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		e.SetConf(htaccessConf(e))
		e.Start()
		log := e.ErrorLog()
		htdocs := filepath.Join(e.Root, "htdocs")

		t.Run("handler and options from .htaccess", func(t *testing.T) {
			r := e.Get("/ht/h/file.txt")
			m := kv(r.Body)
			if r.Status != 200 || m["plugin"] != "state" || m["who"] != "htaccess" ||
				m["location"] != htdocs+"/ht/h/" {
				t.Errorf("= %d %q; want the state plugin with who=htaccess at %s/ht/h/", r.Status, r.Body, htdocs)
			}
			if r.Header.Get("X-Fix") != "on" {
				t.Errorf("X-Fix = %q; want the <Directory>'s fixup to still run", r.Header.Get("X-Fix"))
			}
			log.Check(t)
		})

		t.Run("GoBridgePhases -phase and +phase in nested .htaccess", func(t *testing.T) {
			if r := e.Get("/ht/file.txt"); r.Status != 200 || r.Header.Get("X-Fix") != "on" {
				t.Errorf("/ht: %d X-Fix %q; want on", r.Status, r.Header.Get("X-Fix"))
			}
			if r := e.Get("/ht/off/file.txt"); r.Status != 200 || r.Header.Get("X-Fix") != "" {
				t.Errorf("/ht/off: %d X-Fix %q; want none (GoBridgePhases -fixups)", r.Status, r.Header.Get("X-Fix"))
			}
			if r := e.Get("/ht/off/on/file.txt"); r.Status != 200 || r.Header.Get("X-Fix") != "again" {
				t.Errorf("/ht/off/on: %d X-Fix %q; want again (+fixups brings the inherited list back)",
					r.Status, r.Header.Get("X-Fix"))
			}
			log.Check(t)
		})

		t.Run("auth phases need AllowOverride AuthConfig", func(t *testing.T) {
			if r := e.Get("/ht/auth/file.txt"); r.Status != 403 {
				t.Errorf("/ht/auth = %d; want 403 from the access plugin set in .htaccess", r.Status)
			}
			if r := e.Get("/ht/auth/open/file.txt"); r.Status != 200 {
				t.Errorf("/ht/auth/open = %d; want 200 (GoBridgePhases -access under AuthConfig)", r.Status)
			}
			r := e.Get("/ht/noauth/file.txt")
			if r.Status != 500 || !log.Contains(".htaccess: GoBridgeAccessHandler not allowed here") {
				t.Errorf("/ht/noauth = %d; want 500 and httpd's 'not allowed here' for GoBridgeAccessHandler\n%s",
					r.Status, log.Since())
			}
			log.Check(t, "GoBridgeAccessHandler not allowed here")
			r = e.Get("/ht/nophases/file.txt")
			if r.Status != 500 || !log.Contains("GoBridgePhases: in .htaccess") {
				t.Errorf("/ht/nophases = %d; want 500 and GoBridgePhases' AuthConfig message\n%s", r.Status, log.Since())
			}
			log.Check(t, "GoBridgePhases: in .htaccess")
		})

		t.Run("directive outside the allowed class", func(t *testing.T) {
			r := e.Get("/ht/opts/file.txt")
			if r.Status != 500 || !log.Contains(".htaccess: GoBridgeHandler not allowed here") {
				t.Errorf("/ht/opts = %d; want 500 and 'GoBridgeHandler not allowed here'\n%s", r.Status, log.Since())
			}
			log.Check(t, "GoBridgeHandler not allowed here")
		})

		t.Run("unknown plugin in .htaccess", func(t *testing.T) {
			r := e.Get("/ht/unknown/file.txt")
			if r.Status != 500 || !log.Contains("GoBridgeHandler: unknown plugin 'nosuchplugin'") {
				t.Errorf("/ht/unknown = %d; want 500 naming the plugin\n%s", r.Status, log.Since())
			}
			log.Check(t, "unknown plugin 'nosuchplugin'")
		})

		t.Run("AllowOverrideList", func(t *testing.T) {
			r := e.Get("/ht/list/file.txt")
			if m := kv(r.Body); r.Status != 200 || m["plugin"] != "state" {
				t.Errorf("/ht/list = %d %q; want the state plugin", r.Status, r.Body)
			}
			log.Check(t)
		})

		t.Run("<Files> inside <Directory>, .htaccess below", func(t *testing.T) {
			r := e.Get("/ht/files/a.gb")
			if m := kv(r.Body); r.Status != 200 || m["who"] != "files" {
				t.Errorf("/ht/files/a.gb = %d %q; want the state plugin, who=files", r.Status, r.Body)
			}
			if r := e.Get("/ht/files/b.txt"); r.Status != 200 || r.Body != "plain\n" {
				t.Errorf("/ht/files/b.txt = %d %q; want the file", r.Status, r.Body)
			}
			// <Files> merges after <Directory> and .htaccess: its option wins.
			r = e.Get("/ht/files/sub/a.gb")
			if m := kv(r.Body); r.Status != 200 || m["who"] != "files" {
				t.Errorf("/ht/files/sub/a.gb = %d %q; want who=files (<Files> after .htaccess)", r.Status, r.Body)
			}
			log.Check(t)
		})

		t.Run("<Files> sections report their directory and pattern", func(t *testing.T) {
			// Two <Directory> sections with the same <Files "*.gb">, and one
			// in an .htaccess file: three places, three locations.
			for _, c := range []struct{ path, location string }{
				{"/ht/files/a.gb", htdocs + "/ht/files/"},
				{"/ht/files/sub/a.gb", htdocs + "/ht/files/"},
				{"/ht/files2/a.gb", htdocs + "/ht/files2/"},
				{"/ht/hf/a.gb", htdocs + "/ht/hf/"},
			} {
				r := e.Get(c.path)
				if m := kv(r.Body); r.Status != 200 || m["location"] != c.location || m["files"] != "*.gb" {
					t.Errorf("GET %s = %d location %q files %q; want 200 %q %q", c.path, r.Status,
						m["location"], m["files"], c.location, "*.gb")
				}
			}
			// Outside <Files>, Files is empty.
			if m := kv(e.Get("/ht/h/file.txt").Body); m["location"] != htdocs+"/ht/h/" || m["files"] != "" {
				t.Errorf("/ht/h/file.txt: location %q files %q; want %q and none", m["location"], m["files"], htdocs+"/ht/h/")
			}
			log.Check(t)
		})
		_ = strings.Contains
	})
}
