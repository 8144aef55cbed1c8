package tests

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gobridge/gobridge/tests/harness"
)

// phaseConf configures every GoBridge<Phase>Handler with the scripted
// phases plugin (tests/plugins/phases), declared twice for chaining, and a
// plugin that never comes up ("down") for the fail-closed cases.
func phaseConf(e *harness.Env) string {
	return fmt.Sprintf(`
GoBridgePlugin phases %[1]s
GoBridgePlugin phases2 %[1]s
GoBridgePlugin down %[1]s -exit
GoBridgeTimeout 5
LogFormat "%%U %%>s n=%%{gbnote}n e=%%{GBENV}e u=%%u" gbphase
CustomLog logs/access_log gbphase
GoBridgePostReadRequestHandler phases
GoBridgeTransHandler phases
GoBridgeMapToStorageHandler phases
<Location /p>
    GoBridgeHeaderParserHandler phases
    GoBridgeAccessHandler phases
    GoBridgeTypeHandler phases phases2
    GoBridgeFixupHandler phases phases2
    GoBridgeLogHandler phases
    Header always set X-Env-Echo "%%{GBENV}e" "expr=-n reqenv('GBENV')"
</Location>
<Location /p/auth>
    Require expr "%%{REMOTE_USER} =~ /^.+$/"
    GoBridgeAuthnHandler phases
    GoBridgeAuthzHandler phases
    GoBridgeOption phases.authn userhdr=X-User
    GoBridgeOption phases.authz requser=ann
</Location>
<Location /p/down>
    GoBridgeAccessHandler down
</Location>
<Location /p/downauthn>
    Require expr "%%{REMOTE_USER} =~ /^.+$/"
    GoBridgeAuthnHandler down
</Location>
<Location /p/downauthz>
    Require expr "%%{REMOTE_USER} =~ /^.+$/"
    GoBridgeAuthnHandler phases
    GoBridgeOption phases.authn userhdr=X-User
    GoBridgeAuthzHandler down
</Location>
<Location /p/slow>
    GoBridgeTimeout 1
</Location>
<Location /p/held>
    # Longer than any client waits: a call held at a gate ends only
    # when the test releases it.
    GoBridgeTimeout 600
</Location>
<Location /p/none>
    GoBridgeFixupHandler None
</Location>
`, e.Bin("phases"))
}

func startPhases(t *testing.T, mpm string) *harness.Env {
	e := harness.New(t, build, mpm)
	for _, d := range []string{"p", "p/auth", "p/down", "p/downauthn", "p/downauthz", "p/slow", "p/held", "p/none"} {
		dir := filepath.Join(e.Root, "htdocs", d)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "file.txt"), []byte("hello file\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(e.Root, "htdocs", "p", "other.txt"), []byte("other content\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.SetConf(phaseConf(e))
	e.Start()
	// "down" never comes up: gobridged keeps restarting it.
	e.ErrorLog().Check(t, "GB0051", `plugin "down"`, "plugin down")
	return e
}

// get sends GET path with the given headers ("Name: value").
func get(t *testing.T, e *harness.Env, path string, hdrs ...string) *harness.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", e.URL(path), nil)
	for _, h := range hdrs {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Add(k, v)
	}
	return harness.Do(t, req)
}

func TestPhases(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		e := startPhases(t, mpm)
		log := e.ErrorLog()
		// gobridged keeps retrying "down" in the background.
		downLines := []string{`plugin "down"`, "plugin down"}
		check := func(t *testing.T, expected ...string) {
			t.Helper()
			log.Check(t, append(expected, downLines...)...)
		}

		t.Run("no script: every phase declines", func(t *testing.T) {
			r := get(t, e, "/p/file.txt")
			if r.Status != 200 || r.Body != "hello file\n" {
				t.Errorf("GET /p/file.txt = %d %q; want 200 hello file", r.Status, r.Body)
			}
			if ct := r.Header.Get("Content-Type"); ct != "text/plain" {
				t.Errorf("Content-Type = %q; want mod_mime's text/plain", ct)
			}
			check(t)
		})

		// Per phase: declined passes through, an HTTP status ends the
		// request, and a mutation (the chain note, echoed in X-Chain) is
		// applied.
		for _, ph := range []string{"post_read_request", "translate_name", "map_to_storage",
			"header_parser", "access", "type_checker", "fixups"} {
			t.Run(ph, func(t *testing.T) {
				h := "X-Gb-phases-" + ph
				if r := get(t, e, "/p/file.txt", h+": declined"); r.Status != 200 || r.Body != "hello file\n" {
					t.Errorf("declined: %d %q; want 200 hello file", r.Status, r.Body)
				}
				if r := get(t, e, "/p/file.txt", h+": status=409"); r.Status != 409 {
					t.Errorf("status=409: %d; want 409", r.Status)
				}
				hdrs := []string{h + ": chain;declined"}
				want := "phases/" + ph + ","
				if ph != "fixups" {
					hdrs = append(hdrs, "X-Gb-phases-fixups: chain;declined")
					want += "phases/fixups,"
				}
				r := get(t, e, "/p/file.txt", hdrs...)
				if r.Status != 200 || r.Header.Get("X-Chain") != want {
					t.Errorf("chain: %d X-Chain %q; want 200 %q", r.Status, r.Header.Get("X-Chain"), want)
				}
				check(t)
			})
		}

		t.Run("translate_name sets the file the default handler serves", func(t *testing.T) {
			r := get(t, e, "/p/file.txt", "X-Gb-phases-translate_name: filename="+filepath.Join(e.Root, "htdocs/p/other.txt")+";ok")
			if r.Status != 200 || r.Body != "other content\n" {
				t.Errorf("= %d %q; want 200 other content", r.Status, r.Body)
			}
			check(t)
		})

		t.Run("type_checker sets the content type of a static file", func(t *testing.T) {
			r := get(t, e, "/p/file.txt", "X-Gb-phases-type_checker: ctype=application/x-gb-test;ok")
			if r.Status != 200 || r.Header.Get("Content-Type") != "application/x-gb-test" {
				t.Errorf("= %d Content-Type %q; want 200 application/x-gb-test", r.Status, r.Header.Get("Content-Type"))
			}
			check(t)
		})

		t.Run("fixups: header, subprocess_env for mod_headers, note in the access log", func(t *testing.T) {
			r := get(t, e, "/p/file.txt", "X-Gb-phases-fixups: hout=X-Fixup:yes;env=GBENV:world;note=gbnote:hello-note")
			if r.Status != 200 || r.Header.Get("X-Fixup") != "yes" || r.Header.Get("X-Env-Echo") != "world" {
				t.Errorf("= %d X-Fixup %q X-Env-Echo %q; want 200 yes world", r.Status, r.Header.Get("X-Fixup"), r.Header.Get("X-Env-Echo"))
			}
			if !harness.WaitFor(5*time.Second, func() bool {
				b, _ := os.ReadFile(filepath.Join(e.Root, "logs", "access_log"))
				return strings.Contains(string(b), "/p/file.txt 200 n=hello-note e=world")
			}) {
				b, _ := os.ReadFile(filepath.Join(e.Root, "logs", "access_log"))
				t.Errorf("access log lacks the note and env set in fixups:\n%s", b)
			}
			check(t)
		})

		t.Run("fixups internal redirect", func(t *testing.T) {
			r := get(t, e, "/p/file.txt", "X-Gb-phases-fixups: redirect=/p/other.txt")
			if r.Status != 200 || r.Body != "other content\n" {
				t.Errorf("= %d %q; want 200 other content", r.Status, r.Body)
			}
			check(t)
		})

		t.Run("chaining across two plugins", func(t *testing.T) {
			// fixups runs every plugin; type_checker stops at the first OK.
			r := get(t, e, "/p/file.txt", "X-Gb-phases-fixups: chain", "X-Gb-phases2-fixups: chain")
			if got := r.Header.Get("X-Chain"); got != "phases/fixups,phases2/fixups," {
				t.Errorf("fixups chain = %q; want both plugins", got)
			}
			r = get(t, e, "/p/file.txt", "X-Gb-phases-type_checker: chain;ok", "X-Gb-phases2-type_checker: chain;ok")
			if got := r.Header.Get("X-Chain"); got != "phases/type_checker," {
				t.Errorf("type_checker chain after OK = %q; want the first plugin only", got)
			}
			r = get(t, e, "/p/file.txt", "X-Gb-phases-type_checker: chain;declined", "X-Gb-phases2-type_checker: chain;ok")
			if got := r.Header.Get("X-Chain"); got != "phases/type_checker,phases2/type_checker," {
				t.Errorf("type_checker chain after DECLINED = %q; want both", got)
			}
			r = get(t, e, "/p/file.txt", "X-Gb-phases-fixups: chain;status=409", "X-Gb-phases2-fixups: chain")
			if r.Status != 409 || r.Header.Get("X-Chain") != "phases/fixups," {
				t.Errorf("fixups status: %d X-Chain %q; want 409 from the first plugin only", r.Status, r.Header.Get("X-Chain"))
			}
			r = get(t, e, "/p/none/file.txt", "X-Gb-phases-fixups: status=409")
			if r.Status != 200 {
				t.Errorf("GoBridgeFixupHandler None: %d; want 200", r.Status)
			}
			check(t)
		})

		t.Run("authn and authz", func(t *testing.T) {
			r := get(t, e, "/p/auth/file.txt")
			if r.Status != 401 || r.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("no user: %d WWW-Authenticate %q; want 401 with a challenge", r.Status, r.Header.Get("WWW-Authenticate"))
			}
			if r := get(t, e, "/p/auth/file.txt", "X-User: ann"); r.Status != 200 {
				t.Errorf("ann: %d; want 200", r.Status)
			}
			if r := get(t, e, "/p/auth/file.txt", "X-User: bob"); r.Status != 403 {
				t.Errorf("bob: %d; want 403", r.Status)
			}
			// authz declines: mod_authz_core's Require decides (any user).
			if r := get(t, e, "/p/auth/file.txt", "X-User: bob", "X-Gb-phases-authz: declined"); r.Status != 200 {
				t.Errorf("bob, authz declined: %d; want 200 from Require", r.Status)
			}
			// access_checker_ex OK grants without authentication.
			if r := get(t, e, "/p/auth/file.txt", "X-Gb-phases-access: ok"); r.Status != 200 {
				t.Errorf("access OK: %d; want 200", r.Status)
			}
			if r := get(t, e, "/p/auth/file.txt", "X-Gb-phases-authn: ok"); r.Status != 500 {
				t.Errorf("authn OK without a user: %d; want 500", r.Status)
			}
			check(t, "GB0206")
		})

		t.Run("fail closed", func(t *testing.T) {
			for _, c := range []struct {
				path string
				hdrs []string
				want int
			}{
				{"/p/down/file.txt", nil, 503},
				{"/p/downauthn/file.txt", []string{"X-User: ann"}, 503},
				{"/p/downauthz/file.txt", []string{"X-User: ann"}, 503},
				{"/p/file.txt", []string{"X-Gb-phases-access: garbage"}, 500},
				{"/p/file.txt", []string{"X-Gb-phases-access: badheader"}, 500},
				{"/p/file.txt", []string{"X-Gb-phases-access: error"}, 500},
				{"/p/auth/file.txt", []string{"X-User: ann", "X-Gb-phases-authn: garbage"}, 500},
				{"/p/auth/file.txt", []string{"X-User: ann", "X-Gb-phases-authz: garbage"}, 500},
				{"/p/auth/file.txt", []string{"X-User: ann", "X-Gb-phases-authz: badheader"}, 500},
				{"/p/auth/file.txt", []string{"X-User: ann", "X-Gb-phases-authz: error"}, 500},
				// Held at a gate never released: only the timeout ends it.
				{"/p/slow/file.txt", []string{"X-Gb-phases-access: gate=" + e.Gates().URL("access-held") + ";ok"}, 504},
			} {
				r := get(t, e, c.path, c.hdrs...)
				if r.Status != c.want {
					t.Errorf("GET %s %v = %d; want %d", c.path, c.hdrs, r.Status, c.want)
				}
				if r.Header.Get("Injected") != "" || r.Header.Get("X-Bad") != "" {
					t.Errorf("GET %s %v: refused header reached the client", c.path, c.hdrs)
				}
			}
			// The slow plugin's deadline may end the call on either side:
			// GB0201 (no answer in time) or GB0202 (DEADLINE_EXCEEDED).
			check(t, "GB0200", "GB0201", "GB0202", "GB0203", "GB0204")
		})

		t.Run("log phase", func(t *testing.T) {
			// The plugin runs as Apache's User: give it a writable place.
			dir := filepath.Join(e.Root, "gbw")
			if err := os.MkdirAll(dir, 0o777); err != nil {
				t.Fatal(err)
			}
			_ = os.Chmod(dir, 0o777)
			path := filepath.Join(dir, "gblog")
			r := get(t, e, "/p/file.txt", "X-Gb-phases-log: appendfile="+path, "X-Gb-phases-fixups: chain")
			if r.Status != 200 {
				t.Errorf("status %d; want 200", r.Status)
			}
			if !harness.WaitFor(5*time.Second, func() bool {
				b, _ := os.ReadFile(path)
				return strings.Contains(string(b), "/p/file.txt 200  chain=phases/fixups,")
			}) {
				b, _ := os.ReadFile(path)
				t.Errorf("log phase did not see the final request: %q", b)
			}
			// A failing or slow log plugin changes nothing for the client.
			if r := get(t, e, "/p/file.txt", "X-Gb-phases-log: error"); r.Status != 200 {
				t.Errorf("failing log plugin: %d; want 200", r.Status)
			}
			// The response must not wait for the log phase: the log call
			// is held at a gate, under a timeout longer than the client
			// waits, and the test releases it only once it has the
			// response. Waiting for the log phase would be a deadlock.
			g := e.Gates()
			req, _ := http.NewRequest("GET", e.URL("/p/held/file.txt"), nil)
			req.Header.Set("X-Gb-phases-log", "gate="+g.URL("log-held"))
			req.Close = true
			if r := harness.Do(t, req); r.Status != 200 {
				t.Errorf("log plugin held at a gate: %d; want 200", r.Status)
			}
			harness.Await(t, g.Arrived("log-held"), 30*time.Second, "the log phase reaching its gate")
			if n := g.Abandoned("log-held"); n != 0 {
				t.Errorf("the held log call was ended before its release (%d abandoned)", n)
			}
			g.Release("log-held")
			// A log call that never answers ends at its GoBridgeTimeout
			// (1s under /p/slow) and frees the worker; either side's
			// deadline may end it (GB0201 or GB0202), and the plugin's
			// context ends with it.
			req, _ = http.NewRequest("GET", e.URL("/p/slow/file.txt"), nil)
			req.Header.Set("X-Gb-phases-log", "gate="+g.URL("log-never"))
			if r := harness.Do(t, req); r.Status != 200 {
				t.Errorf("log plugin that never answers: %d; want 200", r.Status)
			}
			timedOut := func() bool { return log.Contains("GB0201") || log.Contains("GB0202") }
			if !harness.WaitFor(30*time.Second, timedOut) {
				t.Errorf("no GB0201/GB0202 timeout line for the log plugin that never answers")
			}
			if !harness.WaitFor(30*time.Second, func() bool { return g.Abandoned("log-never") == 1 }) {
				t.Errorf("the timed-out log call's context did not end in the plugin")
			}
			check(t, "GB0201", "GB0202", "GB0204")
		})
	})
}

func TestPhaseConfig(t *testing.T) {
	e := harness.New(t, build, "event")
	for _, c := range []struct{ conf, want string }{
		{"<Location /x>\nGoBridgeFixupHandler nosuch\n</Location>\n", "GB0001"},
		{"<Location /x>\nGoBridgeTransHandler phases\n</Location>\n", "not allowed"},
		{"GoBridgePlugin phases " + e.Bin("phases") + "\nGoBridgeLogHandler phases bad/name\n", "invalid plugin name"},
	} {
		e.SetConf(c.conf)
		out, ok := e.ConfigTest()
		if ok || !strings.Contains(out, c.want) {
			t.Errorf("configtest of %q: ok=%v\n%s\nwant a failure mentioning %q", c.conf, ok, out, c.want)
		}
	}
}

// TestPhaseChoosesPlugin: a phase names the GoBridgePlugin that serves the
// content (PhaseRequest.SetGoBridgeHandler, mod_python's req.handler = …),
// even where GoBridgePhases -handler switched the location's list off or
// none is configured; an undeclared name fails closed with GB0347.
func TestPhaseChoosesPlugin(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		e := harness.New(t, build, mpm)
		e.SetConf(fmt.Sprintf(`
GoBridgePlugin phases %s
GoBridgePlugin echo %s
GoBridgePlugin hello %s
<Location /ch>
    GoBridgeFixupHandler phases
    GoBridgeHandler hello
</Location>
<Location /ch/off>
    GoBridgePhases -handler
</Location>
<Location /plain>
    GoBridgeFixupHandler phases
</Location>
`, e.Bin("phases"), e.Bin("echo"), e.Bin("hello")))
		e.Start()
		log := e.ErrorLog()
		for _, tc := range []struct {
			name, path, script string
			status             int
			body, code         string
		}{
			{"over the GoBridgeHandler list", "/ch/whoami", "gbhandler=echo", 200, "echo ", ""},
			{"where GoBridgePhases -handler is set", "/ch/off/whoami", "gbhandler=echo", 200, "echo ", ""},
			{"where no GoBridgeHandler is configured", "/plain/whoami", "gbhandler=echo", 200, "echo ", ""},
			{"the list when no phase chooses", "/ch/whoami", "ok", 200, "Hello", ""},
			{"an undeclared plugin fails closed", "/ch/whoami", "gbhandler=nosuch", 500, "", "GB0347"},
			{"SetHandler gobridge alone names no plugin", "/ch/off/whoami", "handler=gobridge", 500, "", "GB0040"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := get(t, e, tc.path, "X-Gb-phases-fixups: "+tc.script)
				if r.Status != tc.status || !strings.HasPrefix(r.Body, tc.body) {
					t.Errorf("GET %s with fixups %q = %d %q; want %d %q…", tc.path, tc.script, r.Status, r.Body, tc.status, tc.body)
				}
				if tc.code != "" && !log.Contains(tc.code) {
					t.Errorf("no %s line in the error log:\n%s", tc.code, log.Since())
				}
				if tc.code == "GB0347" && !log.Contains("'nosuch'") {
					t.Errorf("the GB0347 line does not name the plugin:\n%s", log.Since())
				}
				if tc.code != "" {
					log.Check(t, tc.code)
				} else {
					log.Check(t)
				}
			})
		}
	})
}
