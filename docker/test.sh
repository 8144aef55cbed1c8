#!/usr/bin/env bash
# Builds docker/Dockerfile and checks the image by running it, with podman,
# on a machine that reaches Debian's mirror and the Go module proxy but no
# image registry (`make docker-test`):
#
#   0. docker/compose.yaml checked against the Dockerfile and the tree;
#   1. a Debian bookworm base made with mmdebstrap, imported into podman
#      (cached in build/docker/, made again when a week old);
#   2. the image built on it (podman build --format docker, for HEALTHCHECK);
#   3. a container of it, under the event, prefork and worker MPMs,
#      with a mounted conf directory, checked over real HTTP: /hello,
#      /private/ (401, then 200), the mounted configuration and a graceful
#      restart after changing it, a JWT, plugins not running as root, a
#      restart of the container, logs on stdout/stderr;
#   4. a clean stop (docker stop's SIGWINCH; exit status 0) and no
#      [warn]/[error]/[crit]/[alert]/[emerg] line in the container's log;
#   5. a malformed mounted conf refused at configtest with file and line;
#   6. the health check's verdicts: healthy with no plugins, unhealthy with
#      a plugin that cannot start.
#
# Podman runs rootful with storage, run and tmp directories and config
# files of its own under build/docker/.podman/ and every setting given as
# flags: nothing in the host's /etc/containers is read (but policy.json) or
# changed. Containers are removed by id, even when a check fails. Prints
# "N passed, 0 failed" at the end; exits non-zero at the first failure.
#
# Environment: GOBRIDGE_DOCKER_DIR (state directory, default build/docker),
# GOBRIDGE_PODMAN_DRIVER (overlay, or vfs where overlay mounts fail),
# DEBIAN_MIRROR, DEBIAN_SECURITY_MIRROR, GOPROXY, GOBRIDGE_CA_BUNDLE (trust
# store for the build's HTTPS downloads; default the host's),
# GOBRIDGE_DOCKER_KEEP=1 (leave the containers for a look; the script
# prints how to remove them).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
state=${GOBRIDGE_DOCKER_DIR:-$top/build/docker}
driver=${GOBRIDGE_PODMAN_DRIVER:-overlay}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
security_mirror=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
base_image=localhost/gobridge-base:bookworm
image=localhost/gobridge:test
started=$(date +%s)

say() { printf '%s docker-test: %s\n' "$(date +%H:%M:%S)" "$*"; }
fail() {
    printf 'docker-test: FAIL: %s\n' "$*" >&2
    exit 1
}

# --- packages ----------------------------------------------------------------
# runc, not crun: crun refuses hosts with cgroups in hybrid mode (v1
# controllers plus an empty v2 tree), which runc handles. slirp4netns gives
# the container its own network without touching the host's firewall or
# interfaces (podman's bridge would add both).
pkgs=(podman runc slirp4netns mmdebstrap curl ca-certificates python3-yaml)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    [ "$(id -u)" -eq 0 ] || fail "run as root (rootful podman, mmdebstrap); missing: ${missing[*]}"
    say "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
[ "$(id -u)" -eq 0 ] || fail "run as root: the test uses rootful podman"

mkdir -p "$state"
# podman records its directories in its database: always the same,
# absolute spelling.
state=$(cd "$state" && pwd)
# Podman's storage holds whole file trees, Go's sources among them: under a
# directory whose name starts with a dot, which `go vet ./...`, `go list
# ./...` and the like skip, as they would not skip build/docker/storage.
pod=$state/.podman
mkdir -p "$pod"/{storage,run,tmp}
# Podman's configuration files are our own: nothing in the host's
# /etc/containers (a storage mount program, default ulimits or
# capabilities, a network backend) changes what is tested, and nothing
# there is changed. CONTAINERS_CONF set means only that file is read.
printf '[storage]\ndriver = "%s"\ngraphroot = "%s"\nrunroot = "%s"\n' \
    "$driver" "$pod/storage" "$pod/run" >"$pod/storage.conf"
printf '# docker/test.sh: defaults only; the settings are flags.\n[containers]\n[engine]\n' \
    >"$pod/containers.conf"
export CONTAINERS_STORAGE_CONF=$pod/storage.conf CONTAINERS_CONF=$pod/containers.conf
# Every podman setting that matters, on the command line. cgroupfs: there
# is no systemd to ask for cgroups; events to a file: no journald.
podman=(podman --root "$pod/storage" --runroot "$pod/run" --tmpdir "$pod/tmp"
        --storage-driver "$driver" --runtime runc --cgroup-manager cgroupfs
        --events-backend file)

# Rootful podman asks for RLIMIT_NOFILE 1048576 in containers, more than
# this sandbox's hard limit (20000): setrlimit fails with EPERM and no
# container starts. Ask for what the host allows; NPROC is capped at
# 32768 because podman lowers its own limit to that at start.
hard_nofile=$(ulimit -Hn)
hard_nproc=$(ulimit -Hu)
[ "$hard_nofile" = unlimited ] && hard_nofile=1048576
[ "$hard_nproc" = unlimited ] && hard_nproc=32768
[ "$hard_nofile" -gt 1048576 ] && hard_nofile=1048576
[ "$hard_nproc" -gt 32768 ] && hard_nproc=32768
ulimits=(--ulimit "nofile=$hard_nofile:$hard_nofile" --ulimit "nproc=$hard_nproc:$hard_nproc")

# --- cleanup -----------------------------------------------------------------
# What a run killed before its cleanup left: its containers (by id, from
# $state/cids), then its scratch directory.
if [ -s "$state/cids" ]; then
    while read -r id; do
        say "removing container $id left by an earlier run"
        "${podman[@]}" rm -f -t 0 "$id" >/dev/null 2>&1 || true
    done <"$state/cids"
    rm -f "$state/cids"
fi
rm -rf "$state"/work.*
# Scratch files (mounted conf directories, logs), under the state directory.
work=$(mktemp -d "$state/work.XXXXXX")
# Every container this run started, by id; also written to $state/cids so
# that a run killed before its cleanup has them removed by the next one.
cids=()
cleanup() {
    local rc=$? id
    for id in "${cids[@]}"; do
        if [ "${GOBRIDGE_DOCKER_KEEP:-}" = 1 ]; then
            say "left container $id: CONTAINERS_CONF=$CONTAINERS_CONF CONTAINERS_STORAGE_CONF=$CONTAINERS_STORAGE_CONF ${podman[*]} rm -f $id"
        else
            "${podman[@]}" rm -f -t 5 "$id" >/dev/null 2>&1 ||
                echo "docker-test: could not remove container $id" >&2
        fi
    done
    # Kept containers keep their mounts (and the next run removes both).
    [ "${GOBRIDGE_DOCKER_KEEP:-}" = 1 ] || rm -rf "$state/cids" "$work"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM


# start RUN_ARGS...: starts a container (podman run -d RUN_ARGS) and sets
# $cid. No healthcheck timer (--health-interval disable): podman would ask
# systemd for one, and there is none; the test runs the image's
# HEALTHCHECK command itself (podman healthcheck run).
start() {
    cid=$("${podman[@]}" run -d --health-interval disable "${ulimits[@]}" "$@" 2>"$work/run.err") ||
        fail "podman run: $(cat "$work/run.err")"
    cids+=("$cid")
    echo "$cid" >>"$state/cids"
}

# remove ID: removes a container (stopping it first if it runs) and
# forgets it. Podman's stderr is kept for failures only: without systemd it
# says, at level "error", that it could not remove a healthcheck timer
# (which it never made).
remove() {
    "${podman[@]}" rm -f -t 10 "$1" >/dev/null 2>"$work/podman.err" ||
        fail "podman rm $1: $(cat "$work/podman.err")"
    forget "$1"
}

# forget ID: the container is gone; no need to remove it at exit.
forget() {
    local id keep=()
    for id in "${cids[@]}"; do [ "$id" = "$1" ] || keep+=("$id"); done
    cids=("${keep[@]}")
    printf '%s\n' "${cids[@]}" | grep . >"$state/cids" || rm -f "$state/cids"
}

# wait_healthy ID: waits until the image's HEALTHCHECK command passes in
# the container, or fails the test when it exits or after 120 tries, half a
# second apart.
wait_healthy() {
    local id=$1
    for _ in $(seq 120); do
        if [ "$("${podman[@]}" inspect -f '{{.State.Running}}' "$id")" != true ]; then
            "${podman[@]}" logs "$id" >&2 || true
            fail "container ${id:0:12} exited while starting"
        fi
        "${podman[@]}" healthcheck run "$id" >/dev/null 2>&1 && return 0
        sleep 0.5
    done
    "${podman[@]}" exec "$id" gobridge-healthcheck >&2 || true
    "${podman[@]}" logs "$id" >&2 || true
    fail "container ${id:0:12} never became healthy"
}

# --- 0. docker/compose.yaml agrees with the image and the tree ----------------
# No compose tool runs here (it would need an engine or podman's bridge
# network); check what the README's example relies on instead.
/usr/bin/python3 - "$top" <<'EOF' || fail "docker/compose.yaml (above)"
import os, re, sys, yaml
top = sys.argv[1]
d = os.path.join(top, "docker")
svc = yaml.safe_load(open(os.path.join(d, "compose.yaml")))["services"]["httpd"]
dockerfile = open(os.path.join(d, "Dockerfile")).read()
problems = []
ctx = os.path.normpath(os.path.join(d, svc["build"]["context"]))
if ctx != os.path.normpath(top):
    problems.append("build.context is %s, not the repository root" % ctx)
if not os.path.isfile(os.path.join(ctx, svc["build"]["dockerfile"])):
    problems.append("build.dockerfile %s does not exist" % svc["build"]["dockerfile"])
for v in svc.get("volumes", []):
    src, dst = v.split(":")[:2]
    if not os.path.isdir(os.path.join(d, src)):
        problems.append("volume source %s does not exist" % src)
    if dst == "/etc/apache2/gobridge.d" and not os.path.isfile(os.path.join(d, src, "demo.conf")):
        problems.append("%s has no demo.conf" % src)
if not any(p.endswith(":80") for p in svc.get("ports", [])):
    problems.append("no port mapped to the container's 80")
stop = re.search(r"^STOPSIGNAL (\S+)", dockerfile, re.M).group(1)
if svc.get("stop_signal") != stop:
    problems.append("stop_signal %s, Dockerfile says %s" % (svc.get("stop_signal"), stop))
for p in problems:
    print("compose.yaml: " + p, file=sys.stderr)
sys.exit(1 if problems else 0)
EOF
checks=1
say "ok: docker/compose.yaml matches the Dockerfile and the tree"

# --- 1. the bookworm base ----------------------------------------------------
t0=$(date +%s)
base_tar=$state/bookworm.tar
if [ -f "$base_tar" ] && [ -n "$(find "$base_tar" -mtime +7)" ]; then
    say "base older than a week: making it again (security updates)"
    rm -f "$base_tar"
    "${podman[@]}" rmi -f "$base_image" >/dev/null 2>&1 || true
fi
if [ ! -f "$base_tar" ]; then
    say "making a Debian bookworm base with mmdebstrap"
    # minbase with documentation left out, as the official -slim images do.
    mmdebstrap --variant=minbase --format=tar --quiet \
        --dpkgopt='path-exclude=/usr/share/doc/*' \
        --dpkgopt='path-include=/usr/share/doc/*/copyright' \
        --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/info/*' \
        --dpkgopt='path-exclude=/usr/share/locale/*' \
        --dpkgopt='path-exclude=/usr/share/lintian/*' \
        --aptopt='Acquire::Languages "none"' \
        bookworm "$base_tar.part" \
        "deb $mirror bookworm main" \
        "deb $mirror bookworm-updates main" \
        "deb $security_mirror bookworm-security main"
    mv "$base_tar.part" "$base_tar"
    "${podman[@]}" rmi -f "$base_image" >/dev/null 2>&1 || true
fi
if ! "${podman[@]}" image exists "$base_image"; then
    say "importing the base as $base_image"
    "${podman[@]}" import --quiet --change 'CMD ["/bin/bash"]' "$base_tar" "$base_image" >/dev/null
fi
t_base=$(( $(date +%s) - t0 ))

# --- 2. the image -------------------------------------------------------------
t0=$(date +%s)
goproxy=${GOPROXY:-}
if [ -z "$goproxy" ] && command -v go >/dev/null; then
    goproxy=$(go env GOPROXY)
elif [ -z "$goproxy" ] && [ -x /usr/local/go/bin/go ]; then
    goproxy=$(/usr/local/go/bin/go env GOPROXY)
fi
build_args=(--build-arg "BASE=$base_image")
[ -n "$goproxy" ] && build_args+=(--build-arg "GOPROXY=$goproxy")
# The host's trust store for the build's HTTPS downloads (Go toolchain and
# modules): where a proxy inspects TLS with its own CA, only the host knows
# it. A build secret, so it is not stored in the image.
host_ca=${GOBRIDGE_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
[ -s "$host_ca" ] && build_args+=(--secret "id=ca-certificates,src=$host_ca")
say "building $image (log: $state/build.log)"
# --network host: the build's RUN steps reach the Debian mirror and the Go
# proxy through the host's network, with no bridge set up for them.
# TMPDIR: buildah keeps RUN --mount=type=cache directories (the Go build
# cache) under it; keep them in our state directory.
# The build stage is tagged too (first command): the prune below removes
# only untagged images, i.e. what earlier builds left, and would otherwise
# take the build stage's layers, the cache of the next run, with them.
: >"$state/build.log"
for target in "--target build -t localhost/gobridge-build:test" "-t $image"; do
    # shellcheck disable=SC2086 # $target is two options and their values
    if ! TMPDIR=$pod/tmp "${podman[@]}" build --format docker --pull=never --network host \
            "${ulimits[@]}" "${build_args[@]}" $target -f "$top/docker/Dockerfile" "$top" \
            >>"$state/build.log" 2>&1; then
        tail -40 "$state/build.log" >&2
        fail "podman build failed (whole log: $state/build.log)"
    fi
done
"${podman[@]}" image prune -f >/dev/null
t_build=$(( $(date +%s) - t0 ))

# --- 3. run it, 4. stop it: under each MPM ------------------------------------
# expect DESC STATUS BODY_PATTERN CURL_ARGS...: one request and its answer.
expect() {
    local desc=$1 want=$2 pattern=$3
    shift 3
    local status
    status=$(curl -sS --max-time 10 -D "$work/headers" -o "$work/body" -w '%{http_code}' "$@") ||
        fail "$desc: curl failed"
    [ "$status" = "$want" ] || fail "$desc: status $status, want $want; body: $(head -c 300 "$work/body")"
    if [ -n "$pattern" ] && ! grep -Eq -- "$pattern" "$work/body" "$work/headers"; then
        fail "$desc: no match for /$pattern/ in: $(head -c 300 "$work/body")"
    fi
    checks=$((checks + 1))
    say "ok: $desc ($status)"
}

# A plugin of one's own, mounted with the configuration as docker/README.md
# shows: here a copy of the image's hello plugin, taken out of the image.
mkdir -p "$work/plugins"
tmp_cid=$("${podman[@]}" create --health-interval disable "$image" 2>"$work/run.err") ||
    fail "podman create: $(cat "$work/run.err")"
cids+=("$tmp_cid")
echo "$tmp_cid" >>"$state/cids"
"${podman[@]}" cp "$tmp_cid:/usr/local/libexec/gobridge/plugins/hello" "$work/plugins/own"
remove "$tmp_cid"
chmod -R a+rX "$work/plugins"

# serve_and_stop MPM: a container of the image under MPM (GOBRIDGE_MPM),
# with a mounted conf directory and plugin, checked over HTTP, then stopped
# and its log checked.
serve_and_stop() {
    local mpm=$1 conf=$work/conf-$1 t0 port url status token procs www code logfile
    t0=$(date +%s)
    # The mounted conf directory: the image's demo plus a location of our
    # own, served by the mounted plugin, which only exists if the mounts
    # are what httpd reads.
    mkdir -p "$conf"
    cp "$top/docker/gobridge.d/demo.conf" "$conf/"
    cat >"$conf/mounted.conf" <<'EOF'
GoBridgePlugin own /opt/gobridge/plugins/own
<Location /mounted>
    GoBridgeHandler own
    GoBridgeOption greeting "Mounted"
</Location>
EOF
    chmod -R a+rX "$conf"

    say "starting a container ($mpm MPM)"
    # -p 127.0.0.1::80 lets podman pick a free port on the loopback address.
    start --network slirp4netns -p 127.0.0.1::80 -e "GOBRIDGE_MPM=$mpm" \
        -v "$conf:/etc/apache2/gobridge.d:ro" -v "$work/plugins:/opt/gobridge/plugins:ro" "$image"
    # (From inspect: podman 4.3's `port` prints nothing for slirp4netns.)
    port=$("${podman[@]}" inspect -f '{{range (index .NetworkSettings.Ports "80/tcp")}}{{.HostPort}}{{end}}' "$cid")
    [ -n "$port" ] || fail "no host port published for the container's port 80"
    say "container ${cid:0:12} on 127.0.0.1:$port"
    url=http://127.0.0.1:$port

    # HEALTHCHECK's own command: httpd answers, gobridged and every plugin run.
    wait_healthy "$cid"
    t_start=$(( $(date +%s) - t0 ))
    say "healthy after ${t_start}s"
    "${podman[@]}" exec "$cid" apache2ctl -V 2>/dev/null | grep -qx "Server MPM: *$mpm" ||
        fail "the container does not run the $mpm MPM"
    checks=$((checks + 1))
    say "ok: httpd runs the $mpm MPM"

    expect "/hello from the hello plugin" 200 '^Bonjour, world, from Go via gobridge!$' "$url/hello"
    expect "/hello with a query" 200 '^Bonjour, Docker, ' "$url/hello?name=Docker"
    expect "/private/ without credentials" 401 '^WWW-Authenticate: Basic realm="gobridge demo"' "$url/private/"
    expect "/private/ with a wrong password" 401 '' -u demo:wrong "$url/private/"
    expect "/private/ as guest (not in admins)" 401 '' -u guest:guest-password "$url/private/"
    expect "/private/ as demo" 200 'only admins see this' -u demo:demo-password "$url/private/"
    expect "/app/ (net/http through sdk/nethttp)" 200 '"GET /app/api/items"' "$url/app/"
    expect "/headers/ gets X-Served-Via from fixups" 200 '^X-Served-Via: gobridge' "$url/headers/"
    expect "/headers/secret/ refused in access" 403 '' "$url/headers/secret/"
    expect "/gzip/ compressed by the output filter" 200 '^Content-Encoding: gzip' \
        -H 'Accept-Encoding: gzip' "$url/gzip/"
    [ "$(gzip -dc <"$work/body")" = "$(cat "$top/docker/htdocs/gzip/index.html")" ] ||
        fail "/gzip/: the body does not gunzip to the file"
    expect "/gzip/ left alone without Accept-Encoding" 200 'filtered by gobridge' "$url/gzip/"
    if grep -qi '^Content-Encoding' "$work/headers"; then fail "/gzip/ encoded for a client that did not ask"; fi
    expect "/mounted: mounted conf, mounted plugin" 200 '^Mounted, world, ' "$url/mounted"
    expect "/gobridge-status not on the published port" 404 '' "$url/gobridge-status?auto"
    expect "no /server-status (mod_status is off)" 404 '' "$url/server-status"
    status=$("${podman[@]}" exec "$cid" curl -fsS http://127.0.0.1:8081/gobridge-status?auto) ||
        fail "no status page on the container's 127.0.0.1:8081"
    grep -qx 'Plugin.hello.State: running' <<<"$status" || fail "status page inside the container: $status"
    checks=$((checks + 1))
    say "ok: /gobridge-status on the container's loopback port"

    token=$("${podman[@]}" exec "$cid" gobridge-jwtmint -dir /etc/gobridge/auth -sub demo -aud demo-api)
    expect "/api/ without a token" 401 '^WWW-Authenticate: Bearer' "$url/api/index.json"
    expect "/api/ with a JWT minted in the container" 200 '"ok": true' \
        -H "Authorization: Bearer $token" "$url/api/index.json"

    # gobridged and the plugins: all up, none as root. From /proc, since
    # the image has no ps; argv[0] (cmdline), because reading another
    # user's /proc/PID/exe needs CAP_SYS_PTRACE, which exec does not get.
    # shellcheck disable=SC2016 # expanded by the container's sh
    procs=$("${podman[@]}" exec "$cid" sh -c '
        for d in /proc/[0-9]*; do
            exe=$(tr "\000" "\n" <"$d/cmdline" 2>/dev/null | head -1) || continue
            case "$exe" in /usr/local/libexec/gobridge/* | /opt/gobridge/plugins/*)
                echo "$(awk "/^Uid:/ {print \$2}" "$d/status") $exe";;
            esac
        done')
    printf '%s\n' "$procs" | sed 's/^/    uid /'
    for bin in /usr/local/libexec/gobridge/gobridged /opt/gobridge/plugins/own \
            /usr/local/libexec/gobridge/plugins/{hello,headers,app,gobridge-auth,gzipfilter}; do
        grep -q " $bin\$" <<<"$procs" || fail "$bin is not running"
    done
    if awk '$1 == 0' <<<"$procs" | grep -q .; then
        fail "gobridge processes running as root: $(awk '$1 == 0' <<<"$procs")"
    fi
    www=$("${podman[@]}" exec "$cid" id -u www-data)
    if awk -v u="$www" '$1 != u' <<<"$procs" | grep -q .; then
        fail "gobridge processes not running as www-data ($www)"
    fi
    checks=$((checks + 1))
    say "ok: gobridged and 6 plugins run as www-data (uid $www)"

    # A change to the mounted configuration, taken by a graceful restart,
    # as docker/README.md tells: the new location answers once the new
    # generation of children serves (polled, bounded: 40 tries, 0.25 s
    # apart).
    cat >"$conf/reloaded.conf" <<'EOF'
<Location /reloaded>
    GoBridgeHandler hello
    GoBridgeOption greeting "Reloaded"
</Location>
EOF
    chmod a+r "$conf/reloaded.conf"
    "${podman[@]}" exec "$cid" apache2ctl graceful >"$work/graceful" 2>&1 ||
        fail "apache2ctl graceful in the container: $(cat "$work/graceful")"
    for _ in $(seq 40); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "$url/reloaded")" = 200 ] && break
        sleep 0.25
    done
    expect "/reloaded after apache2ctl graceful" 200 '^Reloaded, world, ' "$url/reloaded"
    expect "/hello still served after the graceful restart" 200 '^Bonjour, world, ' "$url/hello"

    # A restart of the same container (docker restart, restart policies):
    # the pid file, gobridged's runtime directory and the JWT key are
    # left from the first run, and must not stop the second.
    "${podman[@]}" restart -t 30 "$cid" >/dev/null 2>"$work/podman.err" ||
        fail "podman restart: $(cat "$work/podman.err")"
    wait_healthy "$cid"
    port=$("${podman[@]}" inspect -f '{{range (index .NetworkSettings.Ports "80/tcp")}}{{.HostPort}}{{end}}' "$cid")
    url=http://127.0.0.1:$port
    expect "/hello after a restart of the container" 200 '^Bonjour, world, ' "$url/hello"
    expect "/private/ as demo after the restart" 200 'only admins see this' -u demo:demo-password "$url/private/"

    # A clean stop: docker stop's signal (STOPSIGNAL SIGWINCH), status 0.
    t0=$(date +%s)
    say "stopping the container (STOPSIGNAL SIGWINCH)"
    "${podman[@]}" stop -t 30 "$cid" >/dev/null 2>"$work/podman.err" ||
        fail "podman stop: $(cat "$work/podman.err")"
    code=$("${podman[@]}" wait "$cid")
    [ "$code" = 0 ] || fail "the container exited with status $code, want 0 (a clean stop)"
    checks=$((checks + 1))
    t_stop=$(( $(date +%s) - t0 ))
    say "ok: stopped with status 0 in ${t_stop}s"

    # The container's output, as its log driver kept it: a stream name per
    # line (k8s-file: "TIME stdout|stderr F|P TEXT"), so we see which went
    # where.
    logfile=$("${podman[@]}" inspect -f '{{.HostConfig.LogConfig.Path}}' "$cid")
    [ -f "$logfile" ] || fail "no container log file at $logfile"
    cp "$logfile" "$work/container-$mpm.log"
    grep -Eq '^[^ ]+ stdout [FP] .*"GET /hello HTTP/1.1" 200 ' "$work/container-$mpm.log" ||
        fail "no access-log line for /hello on stdout"
    # (The MPM's own lines: AH00489/AH00492 from event, AH00163/AH00170
    # from prefork.)
    grep -Eq '^[^ ]+ stderr [FP] .*configured -- resuming normal operations' "$work/container-$mpm.log" ||
        fail "no start-up line (resuming normal operations) on stderr"
    grep -Eq '^[^ ]+ stderr [FP] .*caught SIGWINCH, shutting down gracefully' "$work/container-$mpm.log" ||
        fail "no graceful-stop line (caught SIGWINCH) on stderr"
    checks=$((checks + 1))
    say "ok: access log on stdout, error log on stderr"
    # Like the e2e tests' ErrorLog().Check: every such line must carry a
    # code that a check above asked for (the wrong password, the guest).
    if grep -E '\[([a-z_0-9]+:)?(warn|error|crit|alert|emerg)\]' "$work/container-$mpm.log" |
            grep -Ev 'AH01617:|AH01631:' >&2; then
        fail "unexpected error lines in the container's log (above)"
    fi
    checks=$((checks + 1))
    say "ok: no [warn]/[error]/[crit]/[alert]/[emerg] in the container's log"
    remove "$cid"
}

serve_and_stop event
serve_and_stop prefork
serve_and_stop worker

# --- 5. a malformed mounted conf ---------------------------------------------
mkdir -p "$work/bad"
printf '# line 1\n\nGoBridgeTimeout soon\n' >"$work/bad/broken.conf"
chmod -R a+rX "$work/bad"
if "${podman[@]}" run --rm --network none --health-interval disable "${ulimits[@]}" \
        -v "$work/bad:/etc/apache2/gobridge.d:ro" "$image" gobridge-foreground -t \
        >"$work/configtest" 2>&1; then
    fail "configtest accepted a malformed conf: $(cat "$work/configtest")"
fi
grep -q 'line 3 of /etc/apache2/gobridge.d/broken.conf' "$work/configtest" ||
    fail "configtest did not name the file and line: $(cat "$work/configtest")"
grep -q 'GoBridgeTimeout' "$work/configtest" ||
    fail "configtest did not name the directive: $(cat "$work/configtest")"
checks=$((checks + 1))
say "ok: malformed mounted conf refused: $(grep -m1 'line 3' "$work/configtest")"

# --- 6. what the health check says -------------------------------------------
# An empty conf directory: no plugins, no gobridged, httpd alone is healthy.
mkdir -p "$work/empty"
start --network none -v "$work/empty:/etc/apache2/gobridge.d:ro" "$image"
wait_healthy "$cid"
code=$("${podman[@]}" exec "$cid" curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1/hello)
[ "$code" = 404 ] || fail "/hello with an empty conf directory: $code, want 404"
remove "$cid"
checks=$((checks + 1))
say "ok: an empty conf directory is healthy and serves no plugin"

# A plugin that never starts: once gobridged has tried and restarts it
# (Restarts >= 1 on the status page; polled, bounded), unhealthy.
mkdir -p "$work/sick"
printf 'GoBridgePlugin sick /bin/false\n' >"$work/sick/sick.conf"
chmod -R a+rX "$work/sick"
start --network none -v "$work/sick:/etc/apache2/gobridge.d:ro" "$image"
restarted=""
for _ in $(seq 60); do
    page=$("${podman[@]}" exec "$cid" curl -s "http://127.0.0.1:8081/gobridge-status?auto" || true)
    if grep -Eq '^Plugin\.sick\.Restarts: [1-9]' <<<"$page"; then
        restarted=1
        break
    fi
    sleep 0.5
done
[ -n "$restarted" ] || fail "gobridged never restarted the sick plugin: $page"
if "${podman[@]}" healthcheck run "$cid" >/dev/null 2>&1; then
    fail "healthy although plugin sick cannot start"
fi
verdict=$("${podman[@]}" exec "$cid" gobridge-healthcheck 2>&1 || true)
grep -q '^plugin sick is ' <<<"$verdict" || fail "health check did not name the sick plugin: $verdict"
remove "$cid"
checks=$((checks + 1))
say "ok: a plugin that cannot start makes the container unhealthy ($verdict)"

total=$(( $(date +%s) - started ))
say "base ${t_base}s, build ${t_build}s, start ${t_start}s, stop ${t_stop}s, total ${total}s"
echo "$checks passed, 0 failed"
