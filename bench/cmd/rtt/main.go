// Command rtt measures the floor under every gobridge request on this
// machine: what one round trip between two processes over a unix socket
// costs, bare and through a grpc-go server, in CPU µs of each side and in
// wall time. bench/README.md ("Where the time goes") uses it to tell the
// cost of the design (a process hop per phase) from the cost of our code.
//
//	go run ./bench/cmd/rtt [-n 20000]
//
// Each row starts a server child process and runs n sequential round trips:
// the bare rows write a 448-byte request and read an 88-byte answer (the
// sizes of a gobridge content-handler call for the benchmark's /gb); the
// grpc-go rows make an empty unary call (the standard health check), the
// least a grpc-go server can be asked to do. The client's CPU time comes
// from getrusage, the server's from /proc/<pid>/stat around the measured
// calls.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

const reqSize, respSize = 448, 88

func cpuNow() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func main() {
	if len(os.Args) == 4 && os.Args[1] == "-serve" {
		serve(os.Args[2], os.Args[3])
		return
	}
	n := flag.Int("n", 20000, "round trips per row")
	flag.Parse()
	dir, err := os.MkdirTemp("", "rtt-")
	if err != nil {
		fatal(err)
	}
	defer os.RemoveAll(dir)

	fmt.Printf("%-34s %12s %12s %10s\n", "one round trip, unix socket", "client cpu", "server cpu", "wall")
	for _, row := range []struct {
		name, mode string
		env        []string
	}{
		{"bare read/write, Go ⇄ Go", "raw", nil},
		{"bare, server GOMAXPROCS=1", "raw", []string{"GOMAXPROCS=1"}},
		{"grpc-go unary (client and server)", "grpc", nil},
		{"grpc-go unary, server GOMAXPROCS=1", "grpc", []string{"GOMAXPROCS=1"}},
	} {
		c, s, w, err := measure(dir, row.mode, row.env, *n)
		if err != nil {
			fatal(fmt.Errorf("%s: %w", row.name, err))
		}
		fmt.Printf("%-34s %9.1f µs %9.1f µs %7.1f µs\n", row.name, us(c, *n), us(s, *n), us(w, *n))
	}
}

func us(d time.Duration, n int) float64 { return float64(d) / 1e3 / float64(n) }

// measure runs one row; the server reports its CPU on stdout when the
// client hangs up.
func measure(dir, mode string, env []string, n int) (client, server, wall time.Duration, err error) {
	sock := filepath.Join(dir, mode+".sock")
	_ = os.Remove(sock)
	srv := exec.Command(os.Args[0], "-serve", mode, sock)
	srv.Env = append(os.Environ(), env...)
	srv.Stderr = os.Stderr
	if err := srv.Start(); err != nil {
		return 0, 0, 0, err
	}
	defer func() { _ = srv.Process.Kill(); _ = srv.Wait() }()
	for i := 0; ; i++ {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if i == 100 {
			return 0, 0, 0, fmt.Errorf("server did not listen on %s", sock)
		}
		time.Sleep(20 * time.Millisecond)
	}
	var run func(int) error
	var done func()
	switch mode {
	case "raw":
		c, err := net.Dial("unix", sock)
		if err != nil {
			return 0, 0, 0, err
		}
		req, resp := make([]byte, reqSize), make([]byte, respSize)
		run = func(k int) error {
			for i := 0; i < k; i++ {
				if _, err := c.Write(req); err != nil {
					return err
				}
				if _, err := io.ReadFull(c, resp); err != nil {
					return err
				}
			}
			return nil
		}
		done = func() { c.Close() }
	case "grpc":
		cc, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return 0, 0, 0, err
		}
		hc := healthpb.NewHealthClient(cc)
		req := &healthpb.HealthCheckRequest{}
		run = func(k int) error {
			for i := 0; i < k; i++ {
				if _, err := hc.Check(context.Background(), req); err != nil {
					return err
				}
			}
			return nil
		}
		done = func() { cc.Close() }
	}
	if err := run(n / 10); err != nil { // warm-up
		return 0, 0, 0, err
	}
	s0, err := procCPU(srv.Process.Pid)
	if err != nil {
		return 0, 0, 0, err
	}
	c0, t0 := cpuNow(), time.Now()
	if err := run(n); err != nil {
		return 0, 0, 0, err
	}
	client, wall = cpuNow()-c0, time.Since(t0)
	s1, err := procCPU(srv.Process.Pid)
	done()
	return client, s1 - s0, wall, err
}

// procCPU reads a process's user+system time from /proc/<pid>/stat, in
// clock ticks of 10 ms (USER_HZ on Linux): n must make the run last
// seconds for a precise average.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which may contain spaces.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("cannot parse /proc/%d/stat", pid)
	}
	return time.Duration(ut+st) * 10 * time.Millisecond, nil
}

// serve answers until it is killed.
func serve(mode, sock string) {
	l, err := net.Listen("unix", sock)
	if err != nil {
		fatal(err)
	}
	switch mode {
	case "raw":
		c, err := l.Accept()
		if err != nil {
			fatal(err)
		}
		req, resp := make([]byte, reqSize), make([]byte, respSize)
		for {
			if _, err := io.ReadFull(c, req); err != nil {
				return
			}
			if _, err := c.Write(resp); err != nil {
				return
			}
		}
	case "grpc":
		s := grpc.NewServer()
		healthpb.RegisterHealthServer(s, health.NewServer())
		_ = s.Serve(l)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "rtt:", err)
	os.Exit(1)
}
