// Command bench measures gobridge against what users would pick instead:
// each configuration runs in a real Apache httpd (Debian's apache2) on a
// free loopback port, is checked for the right status and body, and is then
// measured with wrk. See bench/README.md.
//
// It is run by bench/run.sh (which installs wrk & co and builds this
// program) from the repository root.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Options is what the environment and flags choose.
type Options struct {
	Quick bool
	// NoExtras skips the rows' extra measurements (BENCH_EXTRAS=0), for
	// quick before/after pairs.
	NoExtras bool
	Warm     int // seconds of warm-up load before measuring
	Load     int // seconds of wrk -t2 -c32
	Lat      int // seconds of wrk -t1 -c1 --latency
	Only     *regexp.Regexp
	Repo     string
	Out      string // results directory
	Keep     bool   // keep the staging directory
	HTTPD    string
	Modules  string
	LoadAvg  string // /proc/loadavg when the run started
}

func main() {
	o := Options{}
	flag.StringVar(&o.Repo, "repo", ".", "repository root")
	flag.StringVar(&o.Out, "out", "bench/results", "directory for the result files")
	only := flag.String("only", os.Getenv("BENCH_ONLY"), "run only configurations whose name matches this regexp (env BENCH_ONLY)")
	flag.BoolVar(&o.Keep, "keep", os.Getenv("BENCH_KEEP") == "1", "keep the staging directory under /tmp (env BENCH_KEEP=1)")
	flag.Parse()

	o.Quick = os.Getenv("BENCH_QUICK") == "1"
	o.NoExtras = os.Getenv("BENCH_EXTRAS") == "0"
	o.Warm, o.Load, o.Lat = 2, 10, 10
	if o.Quick {
		o.Warm, o.Load, o.Lat = 1, 2, 1
	}
	if d := os.Getenv("BENCH_DURATION"); d != "" {
		n, err := strconv.Atoi(d)
		if err != nil || n < 1 {
			fatalf("BENCH_DURATION must be a whole number of seconds, not %q", d)
		}
		o.Load, o.Lat = n, n
	}
	if *only != "" {
		re, err := regexp.Compile(*only)
		if err != nil {
			fatalf("BENCH_ONLY: %v", err)
		}
		o.Only = re
	}
	var err error
	if o.Repo, err = filepath.Abs(o.Repo); err != nil {
		fatalf("%v", err)
	}
	if !filepath.IsAbs(o.Out) {
		o.Out = filepath.Join(o.Repo, o.Out)
	}

	// Stop everything we started, whatever happens. A closed stdout or
	// stderr (bench | head) must not kill us before the cleanup.
	signal.Ignore(syscall.SIGPIPE)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		s := <-sig
		fmt.Fprintf(os.Stderr, "\nbench: %v: stopping everything\n", s)
		cleanupAll()
		os.Exit(130)
	}()

	code := run(&o)
	cleanupAll()
	os.Exit(code)
}

func run(o *Options) int {
	for _, tool := range []string{"wrk", "htpasswd", "go"} {
		if _, err := lookPath(tool); err != nil {
			fmt.Fprintf(os.Stderr, "bench: %s not found (bench/run.sh installs it)\n", tool)
			return 1
		}
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		f := strings.Fields(string(b))
		if len(f) >= 3 {
			o.LoadAvg = strings.Join(f[:3], " ")
			if l, _ := strconv.ParseFloat(f[0], 64); l > 0.5 {
				logf("warning: load average is %s: something else is using the CPUs; numbers will be low and noisy", o.LoadAvg)
			}
		}
	}
	var err error
	if o.HTTPD, o.Modules, err = findHTTPD(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	st, err := newStage(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	if !o.Keep {
		onCleanup(func() { _ = os.RemoveAll(st.Root) })
	}

	mode := "full"
	if o.Quick {
		mode = "quick (BENCH_QUICK=1)"
	}
	logf("mode %s: warm-up %ds, load %ds (wrk -t2 -c32), latency %ds (wrk -t1 -c1); staging in %s",
		mode, o.Warm, o.Load, o.Lat, st.Root)

	var results []*Result
	failed := false
	for _, c := range configs(st) {
		if o.Only != nil && !o.Only.MatchString(c.Name) {
			continue
		}
		r := measure(o, st, c)
		results = append(results, r)
		if r.Failed {
			failed = true
		}
	}
	table := render(o, st, results)
	fmt.Print(table.Text)
	if err := writeResults(o, table); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	if failed {
		fmt.Fprintln(os.Stderr, "bench: FAILED: at least one configuration did not serve the expected response or left processes behind (see above)")
		return 1
	}
	return 0
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
	os.Exit(2)
}

func writeResults(o *Options, t *Table) error {
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return err
	}
	stamp := time.Now().Format("20060102-150405")
	if o.Quick {
		stamp += "-quick"
	}
	txt := filepath.Join(o.Out, stamp+".txt")
	md := filepath.Join(o.Out, stamp+".md")
	if err := os.WriteFile(txt, []byte(t.Text), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(md, []byte(t.Markdown), 0o644); err != nil {
		return err
	}
	logf("results written to %s and %s", rel(o.Repo, txt), rel(o.Repo, md))
	return nil
}

func rel(base, p string) string {
	if r, err := filepath.Rel(base, p); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return p
}
