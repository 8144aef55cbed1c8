package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ExtraRun is what a row's extra measurements get: its httpd still runs.
type ExtraRun struct {
	Opts      *Options
	BaseURL   string // http://127.0.0.1:port
	HTTPDComm string
	Roots     []int
	RPS       float64 // the row's req/s, to size the soak
}

// Extra sizes: the 100 MB each way and 1 million requests; the
// quick run keeps the shape and shrinks the counts.
func extraSizes(o *Options) (streamMB int, soak int64) {
	if o.Quick {
		return 20, 50_000
	}
	return 100, 1_000_000
}

// gbExtras measures, on the gobridge handler row, what the table cannot
// show: memory over many requests (it must stay flat) and a large body
// streamed each way (MB/s, and the memory that holds). It returns the
// report's lines; an error means a wrong answer.
func gbExtras(x *ExtraRun) ([]string, error) {
	streamMB, soak := extraSizes(x.Opts)
	var out []string

	// Soak first, from the state the table's load left: growth here is
	// what requests leave behind, not the stream's buffers.
	before := memByRole(x.HTTPDComm, x.Roots)
	done, elapsed, err := soakRequests(x.BaseURL+"/gb", soak, x.RPS)
	if err != nil {
		return nil, err
	}
	after := memByRole(x.HTTPDComm, x.Roots)
	out = append(out, fmt.Sprintf("memory over %d requests (%.0f s): httpd children %s → %s (largest child %s → %s), plugin %s → %s, gobridged %s → %s",
		done, elapsed.Seconds(), mb(before.httpd), mb(after.httpd), mb(before.httpdMax), mb(after.httpdMax),
		mb(before.plugin), mb(after.plugin), mb(before.daemon), mb(after.daemon)))

	size := int64(streamMB) << 20
	start := time.Now()
	got, err := upload(x.BaseURL+"/gb/up", size)
	if err != nil {
		return nil, fmt.Errorf("upload: %w", err)
	}
	if got != size {
		return nil, fmt.Errorf("upload: the plugin read %d bytes; want %d", got, size)
	}
	up := time.Since(start)
	start = time.Now()
	n, err := download(fmt.Sprintf("%s/gb/down?mb=%d", x.BaseURL, streamMB))
	if err != nil {
		return nil, fmt.Errorf("download: %w", err)
	}
	if n != size {
		return nil, fmt.Errorf("download: got %d bytes; want %d", n, size)
	}
	down := time.Since(start)
	peak := peakByRole(x.HTTPDComm, x.Roots)
	out = append(out, fmt.Sprintf("%d MB streamed: upload %.0f MB/s, download %.0f MB/s; peak RSS since start: largest httpd child %s, plugin %s",
		streamMB, float64(streamMB)/up.Seconds(), float64(streamMB)/down.Seconds(), mb(peak.httpdMax), mb(peak.plugin)))
	return out, nil
}

// soakRequests loads url with wrk -t2 -c32 until n requests are done,
// in rounds of about 10 s at the row's rate.
func soakRequests(url string, n int64, rps float64) (int64, time.Duration, error) {
	if rps < 100 {
		rps = 100
	}
	var done int64
	start := time.Now()
	for done < n {
		secs := int(float64(n-done)/rps) + 1
		secs = min(secs, 10)
		w, err := wrk([]string{"-t2", "-c32", fmt.Sprintf("-d%ds", secs), url})
		if err != nil {
			return done, time.Since(start), fmt.Errorf("soak: %w", err)
		}
		done += w.Requests
	}
	return done, time.Since(start), nil
}

// patternReader yields byte(i % 251) forever: a body that costs nothing to
// make and is not all zeros.
type patternReader struct{ i int64 }

func (p *patternReader) Read(b []byte) (int, error) {
	for k := range b {
		b[k] = byte(p.i % 251)
		p.i++
	}
	return len(b), nil
}

var streamClient = &http.Client{Timeout: 5 * time.Minute}

func upload(url string, size int64) (int64, error) {
	req, err := http.NewRequest("POST", url, io.LimitReader(&patternReader{}, size))
	if err != nil {
		return 0, err
	}
	req.ContentLength = size
	resp, err := streamClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	if resp.StatusCode != 200 {
		return 0, fmt.Errorf("status %d: %q", resp.StatusCode, b)
	}
	return strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
}

func download(url string) (int64, error) {
	resp, err := streamClient.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return 0, fmt.Errorf("status %d", resp.StatusCode)
	}
	// Check the pattern as it goes: a right length of wrong bytes is wrong.
	br := bufio.NewReaderSize(resp.Body, 256<<10)
	var n int64
	for {
		c, err := br.ReadByte()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		if c != byte(n%251) {
			return n, fmt.Errorf("byte %d is %d; want %d", n, c, byte(n%251))
		}
		n++
	}
}

// roleMem is memory by role: httpd's processes, the plugin, gobridged.
type roleMem struct {
	httpd, httpdMax, plugin, daemon int64 // bytes
}

func memByRole(httpdComm string, roots []int) roleMem { return readRoles(httpdComm, roots, "VmRSS:") }

// peakByRole is memByRole with each process's peak (VmHWM) instead.
func peakByRole(httpdComm string, roots []int) roleMem { return readRoles(httpdComm, roots, "VmHWM:") }

func readRoles(httpdComm string, roots []int, field string) roleMem {
	var m roleMem
	for _, p := range tree(allProcs(), roots...) {
		if p.Zombie {
			continue
		}
		v := procKB(p.Pid, "status", field)
		switch {
		case p.Comm == httpdComm && !slices.Contains(roots, p.Pid): // a child
			m.httpd += v
			m.httpdMax = max(m.httpdMax, v)
		case p.Comm == "gobridged":
			m.daemon += v
		case p.Comm != httpdComm:
			m.plugin += v
		}
	}
	return m
}
