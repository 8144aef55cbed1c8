package main

import "testing"

func TestPairRatio(t *testing.T) {
	legs := func(rps ...float64) []Leg {
		out := make([]Leg, len(rps))
		for i, v := range rps {
			out[i] = Leg{RPS: v}
		}
		return out
	}
	for _, tc := range []struct {
		name           string
		a, b           []Leg
		mid, low, high float64
	}{
		{"one round", legs(200), legs(100), 2, 2, 2},
		{"odd rounds: middle values", legs(90, 110, 100), legs(100, 100, 50), 1, 0.9, 2},
		{"even rounds: mean of the middle two", legs(100, 120, 110, 90), legs(100, 100, 100, 100), 1.05, 0.9, 1.2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &PairResult{A: tc.a, B: tc.b}
			mid, low, high := p.Ratio()
			if !near(mid, tc.mid) || !near(low, tc.low) || !near(high, tc.high) {
				t.Errorf("Ratio() = %.3f, %.3f, %.3f; want %.3f, %.3f, %.3f", mid, low, high, tc.mid, tc.low, tc.high)
			}
		})
	}
}

func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }
