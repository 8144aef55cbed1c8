#!/usr/bin/env bash
# Installs what building and testing gobridge needs on Debian 12, and nothing
# that is already there. Uses sudo when not root. Safe to run repeatedly.
set -euo pipefail

pkgs=(apache2 apache2-dev apache2-utils libnghttp2-dev libprotobuf-c-dev libssl-dev
      check pkg-config curl ca-certificates gdb
      python3-grpcio python3-protobuf python3-grpc-tools grpc-proto)
[ "${GOBRIDGE_DEPS_EXTRA:-}" ] && read -r -a extra <<<"$GOBRIDGE_DEPS_EXTRA" && pkgs+=("${extra[@]}")

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
        sudo=sudo
    fi
    echo "install-deps: installing ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

command -v go >/dev/null || { echo "install-deps: Go is required (https://go.dev/doc/install); /usr/local/go/bin must be on PATH" >&2; exit 1; }
go mod download
