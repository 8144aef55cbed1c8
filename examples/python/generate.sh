#!/bin/sh
# Generates the Python modules the plugin imports, from the same .proto
# files as the Go and C code, into OUTDIR (default: build/python at the top
# of the repository; never committed, so a change in proto/ cannot leave
# Python behind: `make plugins` runs this every time).
#
#   OUTDIR/gobridge/v1/{gobridge,auth,filter}_pb2{,_grpc}.py   from proto/
#   OUTDIR/grpc_health/v1/health_pb2{,_grpc}.py                from grpc-proto
#
# Needs Debian's python3-grpc-tools, python3-grpcio, python3-protobuf and
# grpc-proto (scripts/install-deps.sh installs them). It then imports what
# it wrote with the protobuf runtime the plugin will use, so a generator
# and runtime that do not fit fail here, not in httpd.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${1:-$root/build/python}
python=${PYTHON:-/usr/bin/python3}
health=${GRPC_HEALTH_PROTO:-/usr/share/grpc-proto/grpc/health/v1/health.proto}

[ -r "$health" ] || { echo "generate.sh: $health is missing: install grpc-proto (scripts/install-deps.sh)" >&2; exit 1; }
"$python" -c 'import grpc_tools.protoc' 2>/dev/null ||
    { echo "generate.sh: $python has no grpc_tools: install python3-grpc-tools (scripts/install-deps.sh)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# grpcio owns the Python package "grpc": generate the health service as
# grpc_health.v1 (the layout of grpcio-health-checking). The proto package,
# and so the service's name on the wire, stays grpc.health.v1.
mkdir -p "$tmp/grpc_health/v1" "$tmp/out"
cp "$health" "$tmp/grpc_health/v1/health.proto"

"$python" -m grpc_tools.protoc -I "$root/proto" -I "$tmp" \
    --python_out="$tmp/out" --grpc_python_out="$tmp/out" \
    gobridge/v1/gobridge.proto gobridge/v1/auth.proto gobridge/v1/filter.proto \
    grpc_health/v1/health.proto

# The generated tree replaces the old one whole: no module of a removed
# .proto lingers.
mkdir -p "$out"
rm -rf "$out/gobridge" "$out/grpc_health"
cp -R "$tmp/out/gobridge" "$tmp/out/grpc_health" "$out/"
chmod -R a+rX "$out"

PYTHONDONTWRITEBYTECODE=1 PYTHONPATH="$out" "$python" -c '
from gobridge.v1 import gobridge_pb2, gobridge_pb2_grpc, auth_pb2, auth_pb2_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
m = gobridge_pb2.HandleResponse(body=b"x", finish=gobridge_pb2.Finish(result=gobridge_pb2.RESULT_OK))
assert gobridge_pb2.HandleResponse.FromString(m.SerializeToString()) == m
' || { echo "generate.sh: the generated modules do not load with the protobuf runtime of $python" >&2; exit 1; }
