package main

import (
	"fmt"
	"slices"
	"strings"
)

// Pair makes a configuration a side-by-side comparison instead of a table
// row: one httpd serves the row's Path and Pair.Path, and the two are
// loaded in turn, round after round. Rows of the table run minutes apart,
// and on a shared VM the machine's speed drifts more between them than
// most changes move a number; two paths of one server measured in
// alternation see the same machine, the same httpd and the same moment, so
// their ratio is what the comparison means.
type Pair struct {
	Against string // what Path is set against, for the report
	Path    string
}

// Leg is one load run of one side of a pair.
type Leg struct {
	RPS      float64
	HTTPDUs  float64 // httpd's CPU µs per request
	BackUs   float64 // the plugin's or backend's CPU µs per request
	HTTPDSw  float64 // httpd's context switches per request
	BackSw   float64 // the plugin's or backend's
	Requests int64
}

// PairResult is a pair's rounds, side A (the row's Path) and B (the peer).
type PairResult struct {
	Against string
	Seconds int
	A, B    []Leg
}

// pairRounds is how many times each side is loaded.
func pairRounds(o *Options) int {
	if o.Quick {
		return 2
	}
	return 5
}

// alternate loads urlA and urlB in turn with wrk -t2 -c32, each for
// o.Load/2 seconds (at least 1), and reads the CPU the processes spent in
// each run: with one side idle, what the backends spend is the loaded
// side's plugin or server.
func alternate(o *Options, httpdComm string, roots []int, wrkArgs []string, against, urlA, urlB string) (*PairResult, error) {
	pr := &PairResult{Against: against, Seconds: max(1, o.Load/2)}
	leg := func(url string) (Leg, error) {
		before := sample(httpdComm, roots...)
		w, err := wrk(append(slices.Clone(wrkArgs), "-t2", "-c32", fmt.Sprintf("-d%ds", pr.Seconds), url))
		after := sample(httpdComm, roots...)
		if err != nil {
			return Leg{}, err
		}
		if w.Requests == 0 {
			return Leg{}, fmt.Errorf("%s: no request completed", url)
		}
		bk := ticksToMicros(after.BackendTicks - before.BackendTicks)
		all := ticksToMicros(after.Ticks - before.Ticks)
		n := float64(w.Requests)
		bsw := float64(after.BackendSwitches - before.BackendSwitches)
		asw := float64(after.Switches - before.Switches)
		return Leg{RPS: w.RPS, HTTPDUs: (all - bk) / n, BackUs: bk / n,
			HTTPDSw: (asw - bsw) / n, BackSw: bsw / n, Requests: w.Requests}, nil
	}
	for i := 0; i < pairRounds(o); i++ {
		// Which side goes first alternates too, so a machine that speeds
		// up or slows down during the run favours neither.
		first, second := urlA, urlB
		if i%2 == 1 {
			first, second = urlB, urlA
		}
		l1, err := leg(first)
		if err != nil {
			return nil, err
		}
		l2, err := leg(second)
		if err != nil {
			return nil, err
		}
		if i%2 == 1 {
			l1, l2 = l2, l1
		}
		pr.A, pr.B = append(pr.A, l1), append(pr.B, l2)
	}
	return pr, nil
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func legField(legs []Leg, f func(Leg) float64) []float64 {
	out := make([]float64, len(legs))
	for i, l := range legs {
		out[i] = f(l)
	}
	return out
}

// Ratio is the median of A's req/s over the median of B's; Low and High
// bound the rounds' own ratios.
func (p *PairResult) Ratio() (mid, low, high float64) {
	rps := func(l Leg) float64 { return l.RPS }
	mid = median(legField(p.A, rps)) / median(legField(p.B, rps))
	for i := range p.A {
		r := p.A[i].RPS / p.B[i].RPS
		if i == 0 || r < low {
			low = r
		}
		if i == 0 || r > high {
			high = r
		}
	}
	return mid, low, high
}

// pairs renders the side-by-side comparisons.
func pairs(results []*Result) string {
	var b strings.Builder
	for _, r := range results {
		p := r.Pair
		if p == nil {
			continue
		}
		if b.Len() == 0 {
			fmt.Fprintf(&b, "\nside by side: one httpd serves both paths, loaded in turn (wrk -t2 -c32, %d rounds of %d s each, medians):\n", len(p.A), p.Seconds)
		}
		mid, low, high := p.Ratio()
		rps := func(l Leg) float64 { return l.RPS }
		hu := func(l Leg) float64 { return l.HTTPDUs }
		bu := func(l Leg) float64 { return l.BackUs }
		hs := func(l Leg) float64 { return l.HTTPDSw }
		bs := func(l Leg) float64 { return l.BackSw }
		fmt.Fprintf(&b, "  %s: %.2f× (rounds %.2f–%.2f×)\n", r.Name, mid, low, high)
		side := func(name, other string, legs []Leg) {
			fmt.Fprintf(&b, "    %-40s %7.0f req/s; per request: CPU µs httpd %5.1f, %s %5.1f; switches httpd %.1f, %s %.1f\n",
				name, median(legField(legs, rps)), median(legField(legs, hu)), other, median(legField(legs, bu)),
				median(legField(legs, hs)), other, median(legField(legs, bs)))
		}
		side("gobridge", "plugin", p.A)
		side(p.Against, "backend", p.B)
	}
	return b.String()
}
