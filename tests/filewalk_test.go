package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/gobridge/gobridge/tests/harness"
)

// TestFileWalk: GoBridgeFileWalk Off takes a plugin's URLs out of httpd's
// walk of the filesystem, as ProxyPass does for its URLs: <Directory>
// sections and .htaccess files no longer apply to them, <Location> ones
// still do, and an inner <Location> can turn the walk back on. Without the
// directive the walk happens as always.
func TestFileWalk(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		e := harness.New(t, build, mpm)
		htdocs := filepath.Join(e.Root, "htdocs")
		for _, dir := range []string{"walked", "off"} {
			if err := os.MkdirAll(filepath.Join(htdocs, dir), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		// Denials that only the walk can find.
		if err := os.WriteFile(filepath.Join(htdocs, "walked", ".htaccess"), []byte("Require all denied\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(htdocs, "off", ".htaccess"), []byte("Require all denied\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		e.SetConf(fmt.Sprintf(`
GoBridgePlugin echo %s
<Directory %q>
    AllowOverride AuthConfig
</Directory>
<Directory %q>
    Require all denied
</Directory>
<Location /walked>
    GoBridgeHandler echo
</Location>
<Location /off>
    GoBridgeHandler echo
    GoBridgeFileWalk Off
</Location>
<Location /off/private>
    Require all denied
</Location>
<Location /off/walked>
    GoBridgeFileWalk On
</Location>
`, e.Bin("echo"), htdocs, filepath.Join(htdocs, "off")))
		e.Start()

		e.AssertGet("/walked/snapshot", 403, "")
		r := e.AssertGet("/off/a/snapshot", 200, "")
		var snap struct {
			URI      string `json:"uri"`
			PathInfo string `json:"path_info"`
			Filename string `json:"filename"`
		}
		if err := json.Unmarshal([]byte(r.Body), &snap); err != nil {
			t.Fatalf("GET /off/a/snapshot: %v in %q", err, r.Body)
		}
		// Nothing split the URL at a file: all of it is the URI.
		if snap.URI != "/off/a/snapshot" || snap.PathInfo != "" {
			t.Errorf("snapshot uri %q path_info %q; want the whole URL as the URI and no path info", snap.URI, snap.PathInfo)
		}
		e.AssertGet("/off/private/snapshot", 403, "")
		e.AssertGet("/off/walked/snapshot", 403, "")
		// The walk's absence changes nothing for the plugin's answers.
		e.AssertGet("/off/whoami", 200, "echo ")
		e.ErrorLog().Check(t, "AH01630", "AH01797")
	})
}
