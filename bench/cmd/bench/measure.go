package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Run is one configuration being measured.
type Run struct {
	Root        string // this row's server root under the stage
	Port        int
	ErrorLog    string
	BackendNet  string // "tcp" or "unix"
	BackendAddr string
	SockDir     string // gobridge's GoBridgeSocketDir (short: sun_path)
	RusageFile  string // CGI rows: one line of CPU µs per CGI process
}

// Result is one row of the table.
type Result struct {
	Name   string
	NA     string // set: the row did not run, for this reason
	Failed bool
	Err    string

	RPS             float64
	Requests        int64
	P50, P99        float64 // µs at one connection
	CPUPerReq       float64 // µs, httpd and backend together
	BkCPUPerReq     float64 // µs, the backend's part of CPUPerReq
	SwPerReq        float64 // context switches per request, httpd and backend
	BkSwPerReq      float64 // the backend's part of SwPerReq
	HTTPDRSS, BkRSS int64   // bytes
	HTTPDPSS, BkPSS int64   // bytes
	NHTTPD, NBk     int
	Notes           []string
	Extra           []string    // lines from Config.Extra
	Pair            *PairResult // a side-by-side row's rounds (Config.Pair)
}

func measure(o *Options, st *Stage, c Config) *Result {
	res := &Result{Name: c.Name}
	logf("── %s", c.Name)
	if c.NA != "" {
		res.NA = c.NA
		logf("   n/a: %s", c.NA)
		return res
	}
	if c.Gobridge && st.GBMissing != "" {
		res.NA = "not built yet: " + st.GBMissing
		logf("   n/a: %s", res.NA)
		return res
	}

	slug := strings.Trim(regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(strings.ToLower(c.Name), "-"), "-")
	st.rows++
	r := &Run{Root: filepath.Join(st.Root, "rows", slug), BackendNet: "tcp",
		SockDir: filepath.Join(st.Root, fmt.Sprintf("g%d", st.rows))}
	r.ErrorLog = filepath.Join(r.Root, "logs", "error_log")
	fail := func(format string, args ...any) *Result {
		res.Failed = true
		res.Err = fmt.Sprintf(format, args...)
		logf("   FAILED: %s", res.Err)
		if lines := tail(readFile(r.ErrorLog), 20); lines != "" {
			logf("   error log (%s):\n%s", r.ErrorLog, lines)
		}
		return res
	}
	for _, d := range []string{"logs", "run", "sock"} {
		if err := os.MkdirAll(filepath.Join(r.Root, d), 0o755); err != nil {
			return fail("%v", err)
		}
	}
	_ = os.Chmod(filepath.Join(st.Root, "rows"), 0o755)
	// The backends run as Apache's User and create their sockets here.
	_ = os.Chown(filepath.Join(r.Root, "sock"), st.UID, st.GID)

	if c.CGI {
		r.RusageFile = filepath.Join(r.Root, "logs", "cgi-rusage")
		if err := os.WriteFile(r.RusageFile, nil, 0o666); err != nil {
			return fail("%v", err)
		}
		_ = os.Chmod(r.RusageFile, 0o666)
	}
	var err error
	if r.Port, err = freePort(); err != nil {
		return fail("no free port: %v", err)
	}

	// Backend first, so httpd finds it at its first request.
	var backend *Proc
	if c.Backend != nil {
		bp, err := freePort()
		if err != nil {
			return fail("no free port: %v", err)
		}
		r.BackendAddr = fmt.Sprintf("127.0.0.1:%d", bp)
		cmd := c.Backend(r)
		cmd.Stderr = os.Stderr
		if os.Geteuid() == 0 {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(st.UID), Gid: uint32(st.GID)}}
		}
		if backend, err = start("backend", cmd); err != nil {
			return fail("%v", err)
		}
		defer backend.Stop(10 * time.Second)
		if err := waitDial(backend, r.BackendNet, r.BackendAddr, 10*time.Second); err != nil {
			return fail("backend: %v", err)
		}
	}

	conf := filepath.Join(r.Root, "httpd.conf")
	if err := os.WriteFile(conf, []byte(httpdConf(o, st, c, r)), 0o644); err != nil {
		return fail("%v", err)
	}
	httpd := func(args ...string) *exec.Cmd {
		cmd := exec.Command(o.HTTPD, append([]string{"-d", r.Root, "-f", conf}, args...)...)
		cmd.Env = append(os.Environ(), "APACHE_RUN_DIR="+filepath.Join(r.Root, "run"),
			"APACHE_LOG_DIR="+filepath.Join(r.Root, "logs"), "APACHE_LOCK_DIR="+filepath.Join(r.Root, "run"),
			"APACHE_PID_FILE="+filepath.Join(r.Root, "run", "httpd.pid"))
		return cmd
	}
	if out, err := httpd("-t").CombinedOutput(); err != nil {
		msg := firstLine(strings.TrimSpace(string(out)))
		if c.Gobridge {
			res.NA = "config test failed: " + msg
			logf("   n/a: %s", res.NA)
			return res
		}
		return fail("httpd -t: %s", strings.TrimSpace(string(out)))
	}

	// httpd in the foreground, as our child: we know its pid, and stopping
	// it (SIGTERM, what `apachectl -k stop` sends) stops its children,
	// gobridged and the plugins.
	hcmd := httpd("-DFOREGROUND")
	hout, _ := os.Create(filepath.Join(r.Root, "logs", "stderr"))
	if hout != nil {
		defer hout.Close()
		hcmd.Stdout, hcmd.Stderr = hout, hout
	}
	hp, err := start("httpd", hcmd)
	if err != nil {
		return fail("%v", err)
	}
	stopped := false
	stopAll := func() {
		if stopped {
			return
		}
		stopped = true
		hp.Stop(20 * time.Second)
		if backend != nil {
			backend.Stop(10 * time.Second)
		}
		// Nothing started from this row may outlive it.
		deadline := time.Now().Add(10 * time.Second)
		for len(processesUnder(st.Root+"/")) > 0 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if left := processesUnder(st.Root + "/"); len(left) > 0 {
			res.Failed = true
			res.Err = fmt.Sprintf("processes left behind: %v (killed)", left)
			logf("   FAILED: %s", res.Err)
			for _, pid := range left {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	defer stopAll()

	url := fmt.Sprintf("http://127.0.0.1:%d%s", r.Port, c.Path)
	if err := waitDial(hp, "tcp", fmt.Sprintf("127.0.0.1:%d", r.Port), 20*time.Second); err != nil {
		return fail("httpd did not come up: %v\n%s", err, tail(readFile(filepath.Join(r.Root, "logs", "stderr")), 10))
	}
	// Right status and body, or nothing is measured. gobridged starts the
	// plugins after httpd listens: give a gobridge row time to get ready
	// (503 until then), then it must answer right.
	err = check(url, c.Auth)
	for deadline := time.Now().Add(20 * time.Second); err != nil && c.Gobridge && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		err = check(url, c.Auth)
	}
	if err != nil {
		return fail("%s: %v", url, err)
	}
	logf("   check OK: GET %s → 200 %q", c.Path, Hello)
	peerURL := ""
	if c.Pair != nil {
		peerURL = fmt.Sprintf("http://127.0.0.1:%d%s", r.Port, c.Pair.Path)
		if err := check(peerURL, c.Auth); err != nil {
			return fail("%s: %v", peerURL, err)
		}
		logf("   check OK: GET %s → 200 %q", c.Pair.Path, Hello)
	}
	// The wrong-password checks log errors on purpose; count from here.
	logStart := len(readFile(r.ErrorLog))

	wrkArgs := []string{}
	if c.Auth {
		wrkArgs = append(wrkArgs, "-H", "Authorization: "+basicAuth())
	}
	httpdComm := filepath.Base(o.HTTPD)
	if len(httpdComm) > 15 {
		httpdComm = httpdComm[:15]
	}
	roots := []int{hp.Pid()}
	if backend != nil {
		roots = append(roots, backend.Pid())
	}

	// Warm up until a round runs clean: prefork children load their
	// interpreters (mod_python) on their first request, which can take
	// longer than a round, and prefork starts more children meanwhile: go
	// on until a round has no timeouts and the process count held still.
	procs := sample(httpdComm, roots...).NHTTPD
	for i := 1; ; i++ {
		w, err := wrk(append(wrkArgs, "-t2", "-c32", fmt.Sprintf("-d%ds", o.Warm), url))
		now := sample(httpdComm, roots...).NHTTPD
		steady := now == procs
		procs = now
		if err == nil && !strings.Contains(w.SocketErrors, "timeout") && steady {
			break
		}
		if i == 8 {
			if err == nil {
				err = fmt.Errorf("socket errors: %s", w.SocketErrors)
			}
			return fail("warm-up did not settle after %d rounds: %v", i, err)
		}
		logf("   warm-up round %d not steady yet (%d httpd processes); again", i, now)
	}
	if c.Pair != nil {
		// The peer's first requests (a pool's connections) before its
		// measured rounds, as the row's own had in the warm-up.
		if _, err := wrk(append(slices.Clone(wrkArgs), "-t2", "-c32", fmt.Sprintf("-d%ds", o.Warm), peerURL)); err != nil {
			return fail("warm-up of %s: %v", c.Pair.Path, err)
		}
		if res.Pair, err = alternate(o, httpdComm, roots, wrkArgs, c.Pair.Against, url, peerURL); err != nil {
			return fail("side by side: %v", err)
		}
		mid, low, high := res.Pair.Ratio()
		logf("   side by side: %.2f× %s (rounds %.2f–%.2f×)", mid, c.Pair.Against, low, high)
		if errs := errorLines(r.ErrorLog, logStart); len(errs) > 0 {
			res.Notes = append(res.Notes, fmt.Sprintf("%d error-log lines", len(errs)))
			logf("   %d error-level lines in %s, e.g.\n%s", len(errs), r.ErrorLog, errs[0])
		}
		stopAll()
		return res
	}
	cgiBefore := cgiMicros(r.RusageFile)
	before := sample(httpdComm, roots...)
	load, err := wrk(append(wrkArgs, "-t2", "-c32", fmt.Sprintf("-d%ds", o.Load), url))
	after := sample(httpdComm, roots...)
	if err != nil {
		return fail("load: %v", err)
	}
	// CGI processes still running at the second sample are counted in
	// both ways; at 32 of them against thousands of requests that is noise.
	cgiUS := cgiMicros(r.RusageFile) - cgiBefore
	res.RPS, res.Requests = load.RPS, load.Requests
	if load.Requests > 0 {
		res.CPUPerReq = (ticksToMicros(after.Ticks-before.Ticks) + cgiUS) / float64(load.Requests)
		res.BkCPUPerReq = (ticksToMicros(after.BackendTicks-before.BackendTicks) + cgiUS) / float64(load.Requests)
		res.SwPerReq = float64(after.Switches-before.Switches) / float64(load.Requests)
		res.BkSwPerReq = float64(after.BackendSwitches-before.BackendSwitches) / float64(load.Requests)
	}
	if load.SocketErrors != "" {
		res.Notes = append(res.Notes, "socket errors: "+load.SocketErrors)
	}
	lat, err := wrk(append(wrkArgs, "-t1", "-c1", "--latency", fmt.Sprintf("-d%ds", o.Lat), url))
	if err != nil {
		return fail("latency: %v", err)
	}
	res.P50, res.P99 = lat.P50, lat.P99
	mem := sampleMem(httpdComm, true, roots...)
	res.HTTPDRSS, res.BkRSS, res.NHTTPD, res.NBk = mem.HTTPDRSS, mem.BackendRSS, mem.NHTTPD, mem.NBackend
	res.HTTPDPSS, res.BkPSS = mem.HTTPDPSS, mem.BackendPSS

	if c.Extra != nil && !o.NoExtras {
		lines, err := c.Extra(&ExtraRun{Opts: o, BaseURL: fmt.Sprintf("http://127.0.0.1:%d", r.Port),
			HTTPDComm: httpdComm, Roots: roots, RPS: res.RPS})
		if err != nil {
			return fail("extra measurements: %v", err)
		}
		res.Extra = lines
		for _, l := range lines {
			logf("   %s", l)
		}
	}
	if errs := errorLines(r.ErrorLog, logStart); len(errs) > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("%d error-log lines", len(errs)))
		logf("   %d error-level lines in %s, e.g.\n%s", len(errs), r.ErrorLog, errs[0])
	}
	// Still right after the load?
	if err := check(url, c.Auth); err != nil {
		return fail("after the load: %s: %v", url, err)
	}
	logf("   %.0f req/s, p50 %.0f µs, p99 %.0f µs, %.1f µs CPU/req, RSS httpd %s (%d procs, PSS %s) backend %s (%d procs, PSS %s)",
		res.RPS, res.P50, res.P99, res.CPUPerReq, mb(res.HTTPDRSS), res.NHTTPD, mb(res.HTTPDPSS),
		mb(res.BkRSS), res.NBk, mb(res.BkPSS))
	stopAll()
	return res
}

// check GETs url on a fresh connection and wants 200 and exactly Hello.
// With auth, it also wants 401 without credentials and with a wrong
// password, so an authentication row really authenticates.
func check(url string, auth bool) error {
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	get := func(authz string) (int, string, error) {
		req, _ := http.NewRequest("GET", url, nil)
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return resp.StatusCode, string(b), err
	}
	authz := ""
	if auth {
		authz = basicAuth()
	}
	code, body, err := get(authz)
	if err != nil {
		return err
	}
	if code != 200 || body != Hello {
		return fmt.Errorf("want 200 %q, got %d %q", Hello, code, truncate(body, 200))
	}
	if auth {
		if code, _, err := get(""); err != nil || code != 401 {
			return fmt.Errorf("without credentials: want 401, got %d (%v)", code, err)
		}
		wrong := "Basic " + basicAuthOf(authUser, "wrong")
		if code, _, err := get(wrong); err != nil || code != 401 {
			return fmt.Errorf("with a wrong password: want 401, got %d (%v)", code, err)
		}
	}
	return nil
}

// WrkResult is what the benchmark reads from wrk's report.
type WrkResult struct {
	RPS          float64
	Requests     int64
	P50, P99     float64 // µs, with --latency
	SocketErrors string
}

var (
	reRequests = regexp.MustCompile(`(?m)^\s*(\d+) requests in `)
	reRPS      = regexp.MustCompile(`(?m)^Requests/sec:\s*([0-9.]+)`)
	reNon2xx   = regexp.MustCompile(`(?m)^\s*Non-2xx or 3xx responses:\s*(\d+)`)
	reSockErr  = regexp.MustCompile(`(?m)^\s*Socket errors:\s*(.*)$`)
	rePct      = regexp.MustCompile(`(?m)^\s*(50|99)%\s+([0-9.]+)(us|ms|s)\s*$`)
)

func wrk(args []string) (*WrkResult, error) {
	out, err := exec.Command("wrk", args...).CombinedOutput()
	s := string(out)
	if err != nil {
		return nil, fmt.Errorf("wrk %s: %v\n%s", strings.Join(args, " "), err, s)
	}
	return parseWrk(s)
}

func parseWrk(s string) (*WrkResult, error) {
	r := &WrkResult{}
	m := reRequests.FindStringSubmatch(s)
	m2 := reRPS.FindStringSubmatch(s)
	if m == nil || m2 == nil {
		return nil, fmt.Errorf("cannot parse wrk output:\n%s", s)
	}
	r.Requests, _ = strconv.ParseInt(m[1], 10, 64)
	r.RPS, _ = strconv.ParseFloat(m2[1], 64)
	if m := reNon2xx.FindStringSubmatch(s); m != nil && m[1] != "0" {
		return nil, fmt.Errorf("wrk saw %s non-2xx responses:\n%s", m[1], s)
	}
	if r.Requests == 0 {
		return nil, fmt.Errorf("wrk completed no request:\n%s", s)
	}
	if m := reSockErr.FindStringSubmatch(s); m != nil {
		r.SocketErrors = strings.TrimSpace(m[1])
	}
	for _, m := range rePct.FindAllStringSubmatch(s, -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		switch m[3] {
		case "ms":
			v *= 1e3
		case "s":
			v *= 1e6
		}
		if m[1] == "50" {
			r.P50 = v
		} else {
			r.P99 = v
		}
	}
	return r, nil
}

func readFile(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func mb(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/(1<<20)) }

// cgiMicros sums the CPU µs the CGI processes reported so far.
func cgiMicros(path string) float64 {
	if path == "" {
		return 0
	}
	var sum float64
	for _, l := range strings.Split(readFile(path), "\n") {
		if v, err := strconv.ParseFloat(strings.TrimSpace(l), 64); err == nil {
			sum += v
		}
	}
	return sum
}
