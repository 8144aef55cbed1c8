package main

import "testing"

const wrkLatencyOutput = `Running 10s test @ http://127.0.0.1:33157/hello.txt
  1 threads and 1 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    61.23us   20.11us   1.20ms   91.00%
    Req/Sec    15.10k     1.02k   16.50k    70.30%
  Latency Distribution
     50%   57.00us
     75%   62.00us
     90%   75.00us
     99%    1.25ms
  150312 requests in 10.10s, 39.12MB read
Requests/sec:  14882.37
Transfer/sec:      3.87MB
`

func TestParseWrk(t *testing.T) {
	r, err := parseWrk(wrkLatencyOutput)
	if err != nil {
		t.Fatal(err)
	}
	if r.Requests != 150312 || r.RPS != 14882.37 || r.P50 != 57 || r.P99 != 1250 || r.SocketErrors != "" {
		t.Fatalf("got %+v", r)
	}
}

func TestParseWrkRejectsErrors(t *testing.T) {
	out := `Running 2s test @ http://127.0.0.1:1/x
  2 threads and 32 connections
  1000 requests in 2.00s, 1.00MB read
  Socket errors: connect 0, read 0, write 0, timeout 3
  Non-2xx or 3xx responses: 12
Requests/sec:    500.00
`
	if _, err := parseWrk(out); err == nil {
		t.Fatal("non-2xx responses were accepted")
	}
	zero := `  0 requests in 1.05s, 0.00B read
Requests/sec:      0.00
`
	if _, err := parseWrk(zero); err == nil {
		t.Fatal("zero requests were accepted")
	}
}
