package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
)

// Config is one row of the table: an httpd configuration, maybe a backend
// process, and the URL to load.
type Config struct {
	Name     string
	MPM      string   // "event" or "prefork"
	Path     string   // URL path to request
	Auth     bool     // send Basic credentials (and check that none → 401)
	Modules  []string // extra modules from httpd's modules directory
	Gobridge bool     // needs the gobridge artifacts
	// CGI: the backend is a short-lived process per request whose CPU time
	// it reports itself (Run.RusageFile), since nothing reaps it.
	CGI bool
	// NA, when set, makes the row print "n/a (NA)" without running.
	NA string
	// Conf returns the configuration specific to this row.
	Conf func(r *Run) string
	// Backend, when set, returns a backend command to start before httpd;
	// Run.BackendAddr is where it listens ("tcp" or "unix" in BackendNet).
	Backend func(r *Run) *exec.Cmd
	// Extra, when set, runs more measurements after the table's, while the
	// row's httpd still runs, and returns lines for the report; an error
	// fails the row.
	Extra func(x *ExtraRun) ([]string, error)
	// Pair, when set, makes the row a side-by-side comparison (pair.go):
	// measured in turn with Pair.Path of the same httpd, reported apart
	// from the table.
	Pair *Pair
}

const (
	// Ratios are computed against these rows.
	rowStatic = "static file (event)"
	rowProxy  = "mod_proxy_http → Go net/http"
	// Against the prefork gobridge row.
	rowProxyPrefork = "mod_proxy_http → Go net/http (prefork)"
	rowGBEvent      = "gobridge handler (event)"
	rowGBPrefork    = "gobridge handler (prefork)"
	rowGBPhases     = "gobridge access+authn+authz+fixup+handler"
	rowFcgi         = "mod_proxy_fcgi → Go fcgi (unix)"

	// The auth targets compare these.
	rowFileSHA1     = "Basic file SHA1"
	rowGBSHA1       = "gobridge Basic SHA1"
	rowFcgiSHA1     = "mod_authnz_fcgi → Go SHA1"
	rowGBSocacheSHA = "gobridge Basic bcrypt(5) + socache (sha1)"

	// Side by side (Config.Pair).
	pairGBProxy        = "gobridge handler ⇄ mod_proxy_http (event)"
	pairGBProxyPrefork = "gobridge handler ⇄ mod_proxy_http (prefork)"
	pairGBFcgiAuth     = "gobridge Basic SHA1 ⇄ mod_authnz_fcgi (SHA1)"
)

func configs(st *Stage) []Config {
	hello := st.Hello
	htdocsAuth := func(provider, file string) func(r *Run) string {
		return func(r *Run) string {
			s := fmt.Sprintf(`<Location /hello.txt>
    AuthType Basic
    AuthName bench
    AuthBasicProvider %s
`, provider)
			if file != "" {
				s += fmt.Sprintf("    AuthUserFile %q\n", file)
			}
			return s + "    Require valid-user\n</Location>\n"
		}
	}
	authMods := []string{"auth_basic", "authn_core", "authz_user"}
	authorizer := func(file string) func(r *Run) *exec.Cmd {
		return func(r *Run) *exec.Cmd {
			return exec.Command(hello, "-mode", "authz", "-listen", r.BackendAddr, "-htpasswd", file)
		}
	}
	fcgiAuthConf := func(r *Run) string {
		return fmt.Sprintf("AuthnzFcgiDefineProvider authn GoAuthn fcgi://%s/\n", r.BackendAddr) +
			htdocsAuth("GoAuthn", "")(r)
	}

	// /gb is no file: GoBridgeFileWalk Off spares it httpd's walk of the
	// document root, as ProxyPass does for the proxy rows.
	gbHandler := func(r *Run) string {
		return fmt.Sprintf(`GoBridgeDaemon %q
GoBridgePlugin noop %q
<Location /gb>
    GoBridgeHandler noop
    GoBridgeFileWalk Off
</Location>
`, st.GBDaemon, st.GBNoop)
	}
	// gobridge's Basic provider answered by cmd/gobridge-auth over the same
	// htpasswd files as the native rows (docs/auth.md's recipes).
	// cache: "" (no socache), or GoBridgeAuthnCacheHash's value.
	gbAuth := func(file string, cache string) func(r *Run) string {
		return func(r *Run) string {
			socache := cache != ""
			s := fmt.Sprintf("GoBridgeDaemon %q\nGoBridgePlugin auth %q\n", st.GBDaemon, st.GBAuth)
			if socache {
				s += "AuthnCacheSOCache shmcb\n"
			}
			s += "<Location /hello.txt>\n    AuthType Basic\n    AuthName bench\n"
			if socache {
				s += "    AuthBasicProvider socache gobridge\n    AuthnCacheProvideFor gobridge\n    AuthnCacheTimeout 300\n"
				s += "    GoBridgeAuthnCacheHash " + cache + "\n"
			} else {
				s += "    AuthBasicProvider gobridge\n"
			}
			s += fmt.Sprintf("    GoBridgeAuthnProvider auth\n    GoBridgeOption htpasswd %q\n    Require valid-user\n</Location>\n", file)
			return s
		}
	}
	// Five round trips to the noop plugin per request: access, the Basic
	// provider, the authz provider (Require gobridge-user: asked once, after
	// the login), fixups and the handler.
	gbPhases := func(r *Run) string {
		return fmt.Sprintf(`GoBridgeDaemon %q
GoBridgePlugin noop %q -user %s -password %s
<Location /gb>
    AuthType Basic
    AuthName bench
    AuthBasicProvider gobridge
    GoBridgeAuthnProvider noop
    Require gobridge-user noop
    GoBridgeAccessHandler noop
    GoBridgeFixupHandler noop
    GoBridgeHandler noop
    GoBridgeFileWalk Off
</Location>
`, st.GBDaemon, st.GBNoop, authUser, authPass)
	}
	proxyConf := func(r *Run) string {
		return fmt.Sprintf("ProxyPass /proxy http://%s/ enablereuse=on keepalive=On\n", r.BackendAddr)
	}
	proxyBackend := func(r *Run) *exec.Cmd { return exec.Command(hello, "-mode", "http", "-listen", r.BackendAddr) }
	both := func(a, b func(r *Run) string) func(r *Run) string {
		return func(r *Run) string { return a(r) + b(r) }
	}
	// mod_authnz_fcgi on its own URL of the same file, for the auth pair.
	fcgiAuthAside := func(r *Run) string {
		return fmt.Sprintf(`AuthnzFcgiDefineProvider authn GoAuthn fcgi://%s/
Alias /fa/hello.txt %q
<Location /fa/hello.txt>
    AuthType Basic
    AuthName bench
    AuthBasicProvider GoAuthn
    Require valid-user
</Location>
`, r.BackendAddr, filepath.Join(st.Docs, "hello.txt"))
	}
	gbAuthNA := ""
	if st.GBAuth == "" {
		gbAuthNA = "cmd/gobridge-auth did not build"
	}

	return []Config{
		{Name: rowStatic, MPM: "event", Path: "/hello.txt"},
		{Name: "static file (prefork)", MPM: "prefork", Path: "/hello.txt"},
		{Name: rowGBEvent, MPM: "event", Path: "/gb", Gobridge: true, Conf: gbHandler, Extra: gbExtras},
		{Name: rowGBPrefork, MPM: "prefork", Path: "/gb", Gobridge: true, Conf: gbHandler},
		{Name: rowProxy, MPM: "event", Path: "/proxy", Modules: []string{"proxy", "proxy_http"}, Conf: proxyConf, Backend: proxyBackend},
		{Name: rowProxyPrefork, MPM: "prefork", Path: "/proxy", Modules: []string{"proxy", "proxy_http"}, Conf: proxyConf, Backend: proxyBackend},
		{
			Name: rowFcgi, MPM: "event", Path: "/fcgi", Modules: []string{"proxy", "proxy_fcgi"},
			Conf: func(r *Run) string {
				return fmt.Sprintf("ProxyPass /fcgi \"unix:%s|fcgi://localhost/\" enablereuse=on\n", r.BackendAddr)
			},
			Backend: func(r *Run) *exec.Cmd {
				r.BackendNet = "unix"
				r.BackendAddr = filepath.Join(r.Root, "sock", "fcgi.sock")
				return exec.Command(hello, "-mode", "fcgi", "-listen", "unix:"+r.BackendAddr)
			},
		},
		{
			Name: "mod_cgid → Go CGI", MPM: "event", Path: "/cgi", Modules: []string{"cgid", "alias", "env"},
			CGI: true,
			Conf: func(r *Run) string {
				return fmt.Sprintf("ScriptSock %q\nScriptAlias /cgi %q\nSetEnv BENCH_RUSAGE_FILE %q\n",
					filepath.Join(r.Root, "run", "cgid.sock"), hello, r.RusageFile)
			},
		},
		{
			Name: "mod_python (prefork)", MPM: "prefork", Path: "/py", Modules: []string{"python"},
			Conf: func(r *Run) string {
				return fmt.Sprintf(`<Location /py>
    SetHandler mod_python
    PythonPath "['%s'] + sys.path"
    PythonHandler bench_hello
    PythonAutoReload Off
</Location>
`, st.PyDir)
			},
		},
		{
			Name: "mod_lua (LuaScope thread)", MPM: "event", Path: "/lua", Modules: []string{"lua"},
			Conf: func(r *Run) string {
				return fmt.Sprintf("LuaScope thread\nLuaCodeCache stat\nLuaMapHandler ^/lua$ %q\n", st.LuaFile)
			},
		},
		{Name: rowFileSHA1, MPM: "event", Path: "/hello.txt", Auth: true,
			Modules: append([]string{"authn_file"}, authMods...), Conf: htdocsAuth("file", st.SHA1File)},
		{Name: "Basic file bcrypt(5)", MPM: "event", Path: "/hello.txt", Auth: true,
			Modules: append([]string{"authn_file"}, authMods...), Conf: htdocsAuth("file", st.BcryptFile)},
		{Name: rowFcgiSHA1, MPM: "event", Path: "/hello.txt", Auth: true,
			Modules: append([]string{"authnz_fcgi"}, authMods...), Conf: fcgiAuthConf, Backend: authorizer(st.SHA1File)},
		{Name: "mod_authnz_fcgi → Go bcrypt(5)", MPM: "event", Path: "/hello.txt", Auth: true,
			Modules: append([]string{"authnz_fcgi"}, authMods...), Conf: fcgiAuthConf, Backend: authorizer(st.BcryptFile)},
		{Name: rowGBSHA1, MPM: "event", Path: "/hello.txt", Auth: true, Gobridge: true, NA: gbAuthNA,
			Modules: authMods, Conf: gbAuth(st.SHA1File, "")},
		{Name: "gobridge Basic bcrypt(5)", MPM: "event", Path: "/hello.txt", Auth: true, Gobridge: true, NA: gbAuthNA,
			Modules: authMods, Conf: gbAuth(st.BcryptFile, "")},
		{Name: "gobridge Basic bcrypt(5) + socache", MPM: "event", Path: "/hello.txt", Auth: true, Gobridge: true, NA: gbAuthNA,
			Modules: append([]string{"authn_socache", "socache_shmcb"}, authMods...), Conf: gbAuth(st.BcryptFile, "apr1")},
		{Name: rowGBSocacheSHA, MPM: "event", Path: "/hello.txt", Auth: true, Gobridge: true, NA: gbAuthNA,
			Modules: append([]string{"authn_socache", "socache_shmcb"}, authMods...), Conf: gbAuth(st.BcryptFile, "sha1")},
		{Name: "gobridge access+authn+authz+fixup+handler", MPM: "event", Path: "/gb", Auth: true, Gobridge: true,
			Modules: authMods, Conf: gbPhases},

		// Side by side (pair.go): the comparisons the targets make, each
		// pair in one httpd.
		{Name: pairGBProxy, MPM: "event", Path: "/gb", Gobridge: true,
			Modules: []string{"proxy", "proxy_http"}, Conf: both(gbHandler, proxyConf), Backend: proxyBackend,
			Pair: &Pair{Against: rowProxy, Path: "/proxy"}},
		{Name: pairGBProxyPrefork, MPM: "prefork", Path: "/gb", Gobridge: true,
			Modules: []string{"proxy", "proxy_http"}, Conf: both(gbHandler, proxyConf), Backend: proxyBackend,
			Pair: &Pair{Against: rowProxyPrefork, Path: "/proxy"}},
		{Name: pairGBFcgiAuth, MPM: "event", Path: "/hello.txt", Auth: true, Gobridge: true, NA: gbAuthNA,
			Modules: append([]string{"authnz_fcgi", "alias"}, authMods...),
			Conf:    both(gbAuth(st.SHA1File, ""), fcgiAuthAside), Backend: authorizer(st.SHA1File),
			Pair: &Pair{Against: rowFcgiSHA1, Path: "/fa/hello.txt"}},
	}
}

// httpdConf writes the whole configuration of one row: the same base for
// every row (no access log, unlimited keep-alive, workers for 32
// connections started up front), then the row's modules and directives.
func httpdConf(o *Options, st *Stage, c Config, r *Run) string {
	var b strings.Builder
	mod := func(name string) {
		file := "mod_" + name + ".so"
		fmt.Fprintf(&b, "LoadModule %s_module %q\n", name, filepath.Join(o.Modules, file))
	}
	fmt.Fprintf(&b, "# generated by bench/cmd/bench for %q\nServerRoot %q\n", c.Name, r.Root)
	mod("mpm_" + c.MPM)
	for _, m := range []string{"authz_core", "mime"} {
		mod(m)
	}
	for _, m := range c.Modules {
		mod(m)
	}
	if c.Gobridge {
		fmt.Fprintf(&b, "LoadModule gobridge_module %q\n", st.GBModule)
	}
	if st.User != "" {
		fmt.Fprintf(&b, "User %s\nGroup %s\n", st.User, st.User)
	}
	fmt.Fprintf(&b, `ServerName 127.0.0.1
Listen 127.0.0.1:%d
PidFile %q
DefaultRuntimeDir %q
ErrorLog %q
LogLevel warn
DocumentRoot %q
TypesConfig /etc/mime.types
Timeout 30
KeepAlive On
KeepAliveTimeout 15
MaxKeepAliveRequests 0
MaxConnectionsPerChild 0
EnableSendfile On
GracefulShutdownTimeout 5
<Directory />
    AllowOverride None
    Require all granted
</Directory>
`, r.Port, filepath.Join(r.Root, "run", "httpd.pid"), filepath.Join(r.Root, "run"),
		r.ErrorLog, st.Docs)
	switch c.MPM {
	case "prefork":
		// One process per connection: 32 busy + spares, all started up front
		// and never reaped during the run.
		b.WriteString("StartServers 48\nMinSpareServers 4\nMaxSpareServers 64\nServerLimit 64\nMaxRequestWorkers 64\n")
	default:
		b.WriteString("ServerLimit 2\nStartServers 2\nThreadsPerChild 32\nMaxRequestWorkers 64\nMinSpareThreads 16\nMaxSpareThreads 64\n")
	}
	if c.Gobridge {
		// Unix socket paths are short (sun_path): the plugins' sockets live
		// in a short directory of the stage, not under the row's root.
		fmt.Fprintf(&b, "GoBridgeSocketDir %q\n", r.SockDir)
	}
	if c.Conf != nil {
		b.WriteString(c.Conf(r))
	}
	return b.String()
}
