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

pkgs=(apache2 apache2-dev apache2-utils wrk libapache2-mod-python
      libnghttp2-dev libprotobuf-c-dev pkg-config)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || { echo "bench: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
        sudo=sudo
    fi
    echo "bench: installing ${missing[*]}" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    # Debian starts the system apache2 on install where it can; the
    # benchmark never uses it (nor its port 80).
fi
command -v go >/dev/null || { echo "bench: Go is required (/usr/local/go/bin must be on PATH)" >&2; exit 1; }

BENCH_CLK_TCK="$(getconf CLK_TCK)"
export BENCH_CLK_TCK

bin="$(mktemp -d /tmp/gobridge-bench-bin.XXXXXX)"
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/bench" ./bench/cmd/bench
# Not exec: the trap removes the harness binary afterwards. The harness
# stops every process it started itself (also on SIGINT/SIGTERM).
"$bin/bench" -repo . "$@"
