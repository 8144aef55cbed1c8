#!/usr/bin/env bash
# bench/run.sh — one command for the gobridge benchmark (bench/README.md).
#
#   bench/run.sh                 full run (~10 s per measurement)
#   BENCH_QUICK=1 bench/run.sh   smoke run for CI (1-2 s per measurement)
#   BENCH_ONLY='static|proxy' bench/run.sh   only the matching rows
#
# Installs what is missing with apt-get (through sudo when not root), builds
# the harness, the Go backends and (when it builds) gobridge, then runs every
# configuration back to back on loopback and prints/writes the table.
set -euo pipefail

cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

# The project's installer, plus what only the benchmark needs.
GOBRIDGE_DEPS_EXTRA="wrk libapache2-mod-python" scripts/install-deps.sh

BENCH_CLK_TCK="$(getconf CLK_TCK)"
export BENCH_CLK_TCK

bin="$(mktemp -d /tmp/gobridge-bench-bin.XXXXXX)"
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/bench" ./bench/cmd/bench
# Not exec: the trap removes the harness binary afterwards. The harness
# stops every process it started itself (also on SIGINT/SIGTERM).
"$bin/bench" -repo . "$@"
