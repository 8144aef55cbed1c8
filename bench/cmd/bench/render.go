package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// Table is the result in both forms.
type Table struct{ Text, Markdown string }

var columns = []string{"configuration", "req/s", "×static", "×proxy", "p50 µs", "p99 µs", "CPU µs/req", "backend CPU",
	"switches/req (backend)", "httpd RSS (n)", "httpd PSS", "backend RSS (n)", "backend PSS", "note"}

func render(o *Options, st *Stage, results []*Result) *Table {
	var static, proxy float64
	for _, r := range results {
		if r.NA == "" && !r.Failed {
			switch r.Name {
			case rowStatic:
				static = r.RPS
			case rowProxy:
				proxy = r.RPS
			}
		}
	}
	ratio := func(v, base float64) string {
		if base == 0 {
			return "–"
		}
		return fmt.Sprintf("%.2f", v/base)
	}
	var rows [][]string
	for _, r := range results {
		if r.Pair != nil {
			continue // pairs() reports it
		}
		switch {
		case r.NA != "":
			rows = append(rows, []string{r.Name, "n/a", "", "", "", "", "", "", "", "", "", "", "", "n/a (" + r.NA + ")"})
		case r.Failed:
			rows = append(rows, []string{r.Name, "FAILED", "", "", "", "", "", "", "", "", "", "", "", firstLine(r.Err)})
		default:
			bk, bkp, bkcpu := "–", "–", "–"
			if r.NBk > 0 || r.BkCPUPerReq > 0 {
				bkcpu = fmt.Sprintf("%.1f", r.BkCPUPerReq)
			}
			if r.NBk > 0 {
				bk, bkp = fmt.Sprintf("%s (%d)", mb(r.BkRSS), r.NBk), mb(r.BkPSS)
			}
			rows = append(rows, []string{
				r.Name,
				fmt.Sprintf("%.0f", r.RPS),
				ratio(r.RPS, static),
				ratio(r.RPS, proxy),
				fmt.Sprintf("%.0f", r.P50),
				fmt.Sprintf("%.0f", r.P99),
				fmt.Sprintf("%.1f", r.CPUPerReq),
				bkcpu,
				fmt.Sprintf("%.1f (%.1f)", r.SwPerReq, r.BkSwPerReq),
				fmt.Sprintf("%s (%d)", mb(r.HTTPDRSS), r.NHTTPD),
				mb(r.HTTPDPSS),
				bk, bkp,
				strings.Join(r.Notes, "; "),
			})
		}
	}

	head := header(o)
	// Aligned text.
	width := make([]int, len(columns))
	for i, c := range columns {
		width[i] = runeLen(c)
	}
	for _, row := range rows {
		for i, c := range row {
			if i < len(columns)-1 && runeLen(c) > width[i] {
				width[i] = runeLen(c)
			}
		}
	}
	line := func(cells []string) string {
		var b strings.Builder
		for i, c := range cells {
			pad := strings.Repeat(" ", max(0, width[i]-runeLen(c)))
			switch {
			case i == len(cells)-1:
				b.WriteString(c)
			case i == 0:
				b.WriteString(c + pad + "  ")
			default:
				b.WriteString(pad + c + "  ")
			}
		}
		return strings.TrimRight(b.String(), " ") + "\n"
	}
	var t strings.Builder
	t.WriteString("\n" + head + "\n")
	t.WriteString(line(columns))
	total := 0
	for _, w := range width[:len(width)-1] {
		total += w + 2
	}
	t.WriteString(strings.Repeat("─", total+4) + "\n")
	for _, row := range rows {
		t.WriteString(line(row))
	}
	t.WriteString("\nRSS: sum over the processes after the run (count in parentheses; shared pages counted once per process).\n")
	t.WriteString("PSS: the same processes' proportional set size (shared pages split between them): what they really cost.\n")
	tg := pairs(results) + targets(results) + extras(results)
	t.WriteString(tg)

	// Markdown.
	var m strings.Builder
	m.WriteString("```\n" + head + "```\n\n")
	m.WriteString("| " + strings.Join(columns, " | ") + " |\n|")
	for i := range columns {
		if i == 0 || i == len(columns)-1 {
			m.WriteString("---|")
		} else {
			m.WriteString("---:|")
		}
	}
	m.WriteString("\n")
	for _, row := range rows {
		cells := make([]string, len(row))
		for i, c := range row {
			cells[i] = strings.ReplaceAll(c, "|", "\\|")
		}
		m.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	if tg != "" {
		m.WriteString("\n```" + tg + "```\n")
	}
	return &Table{Text: t.String(), Markdown: m.String()}
}

func header(o *Options) string {
	mode := "full"
	if o.Quick {
		mode = "quick (BENCH_QUICK=1)"
	}
	cmdOut := func(name string, args ...string) string {
		// wrk -v exits 1 after printing its version.
		out, _ := exec.Command(name, args...).CombinedOutput()
		if s := firstLine(strings.TrimSpace(string(out))); s != "" {
			return s
		}
		return "?"
	}
	cpu := "?"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				if _, v, ok := strings.Cut(l, ":"); ok {
					cpu = strings.TrimSpace(v)
				}
				break
			}
		}
	}
	httpdV := strings.TrimPrefix(cmdOut(o.HTTPD, "-v"), "Server version: ")
	var h strings.Builder
	fmt.Fprintf(&h, "gobridge bench — %s — %s\n", time.Now().Format("2006-01-02 15:04:05 MST"), mode)
	fmt.Fprintf(&h, "machine: %d CPUs (%s), %s; load average at start %s\n", runtime.NumCPU(), cpu, cmdOut("uname", "-sr"), o.LoadAvg)
	fmt.Fprintf(&h, "httpd: %s; %s; %s\n", httpdV, firstLine(cmdOut("wrk", "-v")), cmdOut("go", "version"))
	fmt.Fprintf(&h, "load: wrk -t2 -c32 -d%ds (after %ds warm-up); latency: wrk -t1 -c1 -d%ds --latency; loopback, 13-byte body\n",
		o.Load, o.Warm, o.Lat)
	fmt.Fprintf(&h, "CPU µs/req: utime+stime of httpd and backend processes (wrk excluded) over the load run ÷ requests\n")
	fmt.Fprintf(&h, "switches/req: context switches of their live threads over the load run ÷ requests (the backend's part in parentheses)\n")
	return h.String()
}

func runeLen(s string) int { return len([]rune(s)) }

// targets prints the speed targets of issue 9 (the hop) against this
// run's numbers. Informational: speed is never asserted.
func targets(results []*Result) string {
	by := map[string]*Result{}
	for _, r := range results {
		if r.NA == "" && !r.Failed {
			by[r.Name] = r
		}
	}
	var b strings.Builder
	printed := false
	line := func(ok bool, format string, args ...any) {
		printed = true
		mark := "MISS"
		if ok {
			mark = "met "
		}
		fmt.Fprintf(&b, "  [%s] "+format+"\n", append([]any{mark}, args...)...)
	}
	b.WriteString("\ntargets (issue 9) in this run:\n")
	for _, pair := range [][2]string{{rowGBEvent, rowProxy}, {rowGBPrefork, rowProxyPrefork}} {
		gb, p := by[pair[0]], by[pair[1]]
		if gb == nil || p == nil {
			continue
		}
		line(gb.RPS >= 1.25*p.RPS, "%s ≥ 1.25× %s req/s: %.2f×", pair[0], pair[1], gb.RPS/p.RPS)
		line(gb.P50 < p.P50, "%s p50 at one connection below mod_proxy_http's: %.0f µs vs %.0f µs", pair[0], gb.P50, p.P50)
	}
	if gb := by[rowGBEvent]; gb != nil {
		line(gb.CPUPerReq <= 55, "gobridge handler (event) ≤ 55 µs CPU per request: %.1f µs", gb.CPUPerReq)
		if ph := by[rowGBPhases]; ph != nil {
			// Four more calls than the handler row: access, the Basic
			// provider, Require gobridge-user (asked once: the module
			// answers mod_authz_core's anonymous round), fixups.
			per := (ph.CPUPerReq - gb.CPUPerReq) / 4
			line(per <= 25, "each extra phase ≤ 25 µs CPU (4 more calls than the handler row): %.1f µs", per)
		}
	}
	// The same comparisons side by side (pair.go), where the machine's
	// drift between rows cannot decide them.
	for _, name := range []string{pairGBProxy, pairGBProxyPrefork} {
		if p := by[name]; p != nil && p.Pair != nil {
			mid, low, high := p.Pair.Ratio()
			line(mid >= 1.25, "%s, side by side: ≥ 1.25× req/s: %.2f× (rounds %.2f–%.2f×)", name, mid, low, high)
		}
	}
	if p := by[pairGBFcgiAuth]; p != nil && p.Pair != nil {
		mid, low, high := p.Pair.Ratio()
		line(mid >= 1.5, "%s, side by side: ≥ 1.5×: %.2f× (rounds %.2f–%.2f×)", pairGBFcgiAuth, mid, low, high)
	}
	if a, f := by[rowGBSHA1], by[rowFcgiSHA1]; a != nil && f != nil {
		line(a.RPS >= 1.5*f.RPS, "gobridge Basic ≥ 1.5× mod_authnz_fcgi (SHA1): %.2f×", a.RPS/f.RPS)
	}
	if a, f := by[rowGBSHA1], by[rowFileSHA1]; a != nil && f != nil {
		line(a.RPS >= 0.6*f.RPS, "gobridge Basic ≥ 0.6× the native file provider (SHA1): %.2f×", a.RPS/f.RPS)
	}
	if !printed {
		return ""
	}
	return b.String()
}

// extras prints the rows' extra measurements (Config.Extra).
func extras(results []*Result) string {
	var b strings.Builder
	for _, r := range results {
		if len(r.Extra) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n%s, more:\n", r.Name)
		for _, l := range r.Extra {
			fmt.Fprintf(&b, "  %s\n", l)
		}
	}
	return b.String()
}
