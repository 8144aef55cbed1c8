#!/usr/bin/env bash
# bench/callgrind.sh — httpd's instructions per request, counted by callgrind.
#
#   bench/callgrind.sh            the noop plugin's content handler (/gb)
#   bench/callgrind.sh phases     access+authn+authz+fixup+handler (/gbp, Basic)
#   bench/callgrind.sh static     a static file, for reference
#   bench/callgrind.sh auth       a static file behind gobridge's Basic
#                                 provider (cmd/gobridge-auth, SHA1 htpasswd)
#   bench/callgrind.sh authfile   the same file behind mod_authn_file, the
#                                 native provider, for reference
#   bench/callgrind.sh remote     the noop plugin's content handler served
#                                 remotely (GOBRIDGE_LISTEN on 127.0.0.2)
#                                 over mutual TLS (/gbr): TLS's cost in httpd
#
# Instruction counts do not move with the load on the machine, so they can
# resolve a change of a few thousand instructions that wrk's numbers cannot
# (bench/README.md). httpd runs as one process (-X) under callgrind, counting
# only inside ap_run_process_connection; `ab -k -c1` sends N1 then N2
# requests in two runs, and the script prints (Ir(N2) − Ir(N1)) / (N2 − N1):
# what one more request costs, start-up and the first connection left out.
# Expects `make all` to have built the module, gobridged and the plugins.
set -euo pipefail

cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
what=${1:-handler}
n1=${N1:-500}
n2=${N2:-2500}

GOBRIDGE_DEPS_EXTRA="valgrind apache2-utils openssl" scripts/install-deps.sh >/dev/null
httpd=$(command -v apache2 || echo /usr/sbin/apache2)
modules=$(apxs -q LIBEXECDIR)

# A stage that Apache's User can read, with short socket paths.
stage=$(mktemp -d /tmp/gbcg.XXXXXX)
# CALLGRIND_KEEP=1 keeps it, for callgrind_annotate on the output files.
[ "${CALLGRIND_KEEP:-}" = 1 ] || trap 'rm -rf "$stage"' EXIT
chmod 755 "$stage"
mkdir -p "$stage/run" "$stage/logs" "$stage/htdocs" "$stage/bin"
echo hello > "$stage/htdocs/hello.txt"
mkdir -p "$stage/htdocs/ga" "$stage/htdocs/fa"
echo hello > "$stage/htdocs/ga/hello.txt"
echo hello > "$stage/htdocs/fa/hello.txt"
htpasswd -c -b -s "$stage/sha1.htpasswd" bench bench 2>/dev/null
cp mod_gobridge/.libs/mod_gobridge.so build/bin/gobridged build/bin/gobridge-auth "$stage/bin/"
go build -o "$stage/bin/noop" ./bench/plugins/noop
runas=()
if [ "$(id -u)" = 0 ]; then
    # callgrind cannot write its output once httpd dropped root: run it all
    # as www-data from the start.
    chown -R www-data:www-data "$stage"
    runas=(runuser -u www-data --)
fi

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

# remote: certificates (a CA, the plugin's for 127.0.0.2, httpd's client
# one) and the noop plugin serving itself on 127.0.0.2, stopped by pid.
remote_conf=
if [ "$what" = remote ]; then
    rport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.2",0)); print(s.getsockname()[1])')
    tls="$stage/tls"
    mkdir -p "$tls"
    ossl() { openssl "$@" 2>/dev/null; }
    ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj /CN=bench-ca -keyout "$tls/ca.key" -out "$tls/ca.crt"
    for who in server client; do
        ossl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
            -subj "/CN=$who" -keyout "$tls/$who.key" -out "$tls/$who.csr"
        if [ $who = server ]; then
            printf 'subjectAltName=IP:127.0.0.2\nextendedKeyUsage=serverAuth\n' >"$tls/ext"
        else
            printf 'extendedKeyUsage=clientAuth\n' >"$tls/ext"
        fi
        ossl x509 -req -in "$tls/$who.csr" -CA "$tls/ca.crt" -CAkey "$tls/ca.key" \
            -CAcreateserial -days 2 -extfile "$tls/ext" -out "$tls/$who.crt"
    done
    [ ${#runas[@]} -eq 0 ] || chown -R www-data:www-data "$tls"
    GOBRIDGE_LISTEN=tcp://127.0.0.2:$rport GOBRIDGE_TLS_CERT="$tls/server.crt" \
    GOBRIDGE_TLS_KEY="$tls/server.key" GOBRIDGE_TLS_CLIENT_CA="$tls/ca.crt" \
        "${runas[@]}" "$stage/bin/noop" -user bench -password bench 2>"$stage/logs/remote.log" &
    remote_pid=$!
    trap 'kill "$remote_pid" 2>/dev/null; wait "$remote_pid" 2>/dev/null; [ "${CALLGRIND_KEEP:-}" = 1 ] || rm -rf "$stage"' EXIT
    remote_conf="GoBridgePlugin rnoop ca=$tls/ca.crt cert=$tls/client.crt key=$tls/client.key tcp://127.0.0.2:$rport
<Location /gbr>
    GoBridgeHandler rnoop
</Location>"
fi

cat > "$stage/httpd.conf" <<EOF
ServerRoot "$stage"
LoadModule mpm_prefork_module "$modules/mod_mpm_prefork.so"
LoadModule authz_core_module "$modules/mod_authz_core.so"
LoadModule authn_core_module "$modules/mod_authn_core.so"
LoadModule auth_basic_module "$modules/mod_auth_basic.so"
LoadModule authn_file_module "$modules/mod_authn_file.so"
LoadModule authz_user_module "$modules/mod_authz_user.so"
LoadModule gobridge_module "$stage/bin/mod_gobridge.so"
ServerName 127.0.0.1
Listen 127.0.0.1:$port
PidFile "$stage/run/httpd.pid"
DefaultRuntimeDir "$stage/run"
ErrorLog "$stage/logs/error_log"
LogLevel warn
DocumentRoot "$stage/htdocs"
KeepAlive On
MaxKeepAliveRequests 0
<Directory />
    Require all granted
</Directory>
GoBridgeSocketDir "$stage/run/gb"
GoBridgeDaemon "$stage/bin/gobridged"
GoBridgePlugin noop "$stage/bin/noop" -user bench -password bench
GoBridgePlugin auth "$stage/bin/gobridge-auth"
<Location /ga/>
    AuthType Basic
    AuthName bench
    AuthBasicProvider gobridge
    GoBridgeAuthnProvider auth
    GoBridgeOption htpasswd "$stage/sha1.htpasswd"
    Require valid-user
</Location>
<Location /fa/>
    AuthType Basic
    AuthName bench
    AuthBasicProvider file
    AuthUserFile "$stage/sha1.htpasswd"
    Require valid-user
</Location>
<Location /gb>
    GoBridgeHandler noop
</Location>
<Location /gbp>
    AuthType Basic
    AuthName bench
    AuthBasicProvider gobridge
    GoBridgeAuthnProvider noop
    Require gobridge-user noop
    GoBridgeAccessHandler noop
    GoBridgeFixupHandler noop
    GoBridgeHandler noop
</Location>
$remote_conf
EOF
case $what in
handler) url=/gb; ab_auth=(); curl_auth=() ;;
phases) url=/gbp; ab_auth=(-A bench:bench); curl_auth=(-u bench:bench) ;;
static) url=/hello.txt; ab_auth=(); curl_auth=() ;;
remote) url=/gbr; ab_auth=(); curl_auth=() ;;
auth) url=/ga/hello.txt; ab_auth=(-A bench:bench); curl_auth=(-u bench:bench) ;;
authfile) url=/fa/hello.txt; ab_auth=(-A bench:bench); curl_auth=(-u bench:bench) ;;
*) echo "usage: $0 [handler|phases|static|remote|auth|authfile]" >&2; exit 2 ;;
esac

# Ir of one httpd -X run serving n requests.
count() {
    local n=$1 out="$stage/callgrind.$1" pid ready=
    # Its own session: httpd's shutdown signals its whole process group.
    setsid "${runas[@]}" valgrind --tool=callgrind --callgrind-out-file="$out" \
        --collect-atstart=no --toggle-collect=ap_run_process_connection \
        "$httpd" -X -d "$stage" -f "$stage/httpd.conf" 2>"$stage/valgrind.$n" &
    pid=$!
    for _ in $(seq 300); do
        if curl -fs "${curl_auth[@]}" -o /dev/null "http://127.0.0.1:$port$url"; then
            ready=1
            break
        fi
        sleep 0.2   # callgrind's start-up, then gobridged's plugin start
    done
    if [ -z "$ready" ]; then
        echo "callgrind.sh: httpd did not answer $url" >&2
        cat "$stage/valgrind.$n" "$stage/logs/error_log" >&2
        kill -TERM "$(cat "$stage/run/httpd.pid")" 2>/dev/null || kill "$pid"
        exit 1
    fi
    ab -q -k -c1 -n "$n" "${ab_auth[@]}" "http://127.0.0.1:$port$url" >"$stage/ab.$n"
    if ! grep -q "^Complete requests: *$n\$" "$stage/ab.$n" \
       || grep -q "^Non-2xx responses" "$stage/ab.$n"; then
        cat "$stage/ab.$n" >&2
        exit 1
    fi
    # httpd's own pid (runuser's child): it writes the counts as it exits.
    kill -TERM "$(cat "$stage/run/httpd.pid")"
    wait "$pid" || true
    callgrind_annotate "$out" 2>/dev/null \
        | awk '/PROGRAM TOTALS/ && !n++ { gsub(",", "", $1); print $1 }'
}
a=$(count "$n1")
b=$(count "$n2")
echo "$what: $(( (b - a) / (n2 - n1) )) httpd instructions per request (Ir $a for $n1, $b for $n2)"
[ "${CALLGRIND_KEEP:-}" = 1 ] && echo "kept: $stage/callgrind.$n1 $stage/callgrind.$n2"
exit 0
