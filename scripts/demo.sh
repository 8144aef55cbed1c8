#!/usr/bin/env bash
# Runs httpd in the foreground with examples/httpd/demo.conf on
# http://127.0.0.1:$PORT/. Ctrl-C stops httpd, gobridged and every plugin.
# Expects `make` to have built everything (make demo does).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
port=${PORT:-8080}
httpd=${HTTPD:-/usr/sbin/apache2}
modules=$(apxs -q LIBEXECDIR)

# Stage into a directory Apache's User can enter: the checkout may live
# somewhere only its owner can (e.g. /root).
root=${DEMO_DIR:-${TMPDIR:-/tmp}/gobridge-demo-$(id -un)}
rm -rf "$root"
mkdir -p "$root"/{bin,htdocs,logs,run}
chmod 755 "$root"
cp "$top"/build/bin/{gobridged,hello,headers,app,gobridge-auth} "$root/bin/"
# Auth data for /private/ and /api/ (readable by Apache's User).
mkdir -p "$root"/auth "$root"/htdocs/{private,api,headers/secret}
htpasswd -cbB "$root/auth/users.htpasswd" demo demo-password 2>/dev/null
htpasswd -bm "$root/auth/users.htpasswd" guest guest-password 2>/dev/null
printf 'admins: demo\n' > "$root/auth/groups"
"$top/build/bin/jwtmint" -dir "$root/auth" -sub demo -aud demo-api -claim email=demo@example.com > "$root/auth/token"
"$top/build/bin/jwtmint" -dir "$root/auth" -sub demo -aud demo-api -ttl -1h > "$root/auth/expired-token"
# The Python plugin: its sources, the modules make generated from proto/,
# and a user table made with its own --hash-password.
mkdir -p "$root/python/gbplugin"
cp "$top"/examples/python/{plugin.py,users.py} "$root/python/"
cp "$top"/examples/python/gbplugin/*.py "$root/python/gbplugin/"
cp -R "$top/build/python" "$root/python/gen"
printf demo-password | /usr/bin/python3 -B "$root/python/plugin.py" --hash-password demo > "$root/auth/pyusers"
chmod -R a+rX "$root/python"
chmod 644 "$root"/auth/users.htpasswd "$root"/auth/groups "$root"/auth/jwks.json "$root"/auth/pyusers
echo "private page: only admins see this" > "$root/htdocs/private/index.html"
echo '{"ok": true, "from": "a JWT-protected location"}' > "$root/htdocs/api/index.json"
echo "a static file; see its X-Served-Via header" > "$root/htdocs/headers/index.html"
echo "never served: the headers plugin denies it" > "$root/htdocs/headers/secret/index.html"
cp "$top"/mod_gobridge/.libs/mod_gobridge.so "$root/"
user_lines=""
[ "$(id -u)" -eq 0 ] && user_lines=$'User www-data\nGroup www-data'
sed -e "s|@ROOT@|$root|g" -e "s|@PORT@|$port|g" -e "s|@MODULES@|$modules|g" \
    "$top/examples/httpd/demo.conf" | awk -v u="$user_lines" '{ if ($0 == "@USER_LINES@") print u; else print }' \
    > "$root/httpd.conf"
cat > "$root/htdocs/index.html" <<HTML
<!doctype html><title>gobridge demo</title>
<h1>gobridge demo</h1>
<ul>
<li><a href="/hello">/hello</a> — the smallest plugin (try <a href="/hello?name=Apache">?name=Apache</a>)</li>
<li><a href="/app/">/app/</a> — a net/http application behind Apache</li>
<li><a href="/headers/">/headers/</a> — phases from Go: an X-Served-Via header on static files, <a href="/headers/secret/">/headers/secret/</a> denied</li>
<li><a href="/private/">/private/</a> — Basic auth through Go (demo / demo-password)</li>
<li><a href="/py/hello">/py/hello</a> — a plugin in Python; <a href="/py-private/">/py-private/</a> with Basic auth answered in Python (demo / demo-password)</li>
<li>/api/index.json — JWT bearer tokens (see the curl lines printed by make demo)</li>
</ul>
HTML

if ! "$httpd" -d "$root" -f "$root/httpd.conf" -t >/dev/null 2>"$root/logs/configtest"; then
    cat "$root/logs/configtest" >&2
    exit 1
fi

"$httpd" -d "$root" -f "$root/httpd.conf" -DFOREGROUND &
httpd_pid=$!

stop() {
    trap - INT TERM
    echo
    echo "demo: stopping httpd (pid $httpd_pid)…"
    kill -TERM "$httpd_pid" 2>/dev/null || true
    wait "$httpd_pid" 2>/dev/null || true
    for _ in $(seq 50); do
        pgrep -f "$root/" >/dev/null || break
        sleep 0.1
    done
    if pgrep -f "$root/" >/dev/null; then
        echo "demo: processes left behind, killing: $(pgrep -f "$root/" | tr '\n' ' ')" >&2
        pkill -KILL -f "$root/" || true
    else
        echo "demo: httpd, gobridged and plugins stopped; nothing left running."
    fi
    exit 0
}
trap stop INT TERM

for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$port/" && break
    kill -0 "$httpd_pid" 2>/dev/null || { cat "$root/logs/error_log" >&2; exit 1; }
    sleep 0.1
done

cat <<MSG

  gobridge demo: httpd is running on http://127.0.0.1:$port/

    curl http://127.0.0.1:$port/hello
    curl 'http://127.0.0.1:$port/hello?name=Apache'
    curl http://127.0.0.1:$port/app/
    curl http://127.0.0.1:$port/app/api/items
    curl -d name=teapot http://127.0.0.1:$port/app/api/items

    # Basic auth through Go: 401, 200 (demo is an admin), 401 (guest is not)
    curl -i http://127.0.0.1:$port/private/
    curl -u demo:demo-password http://127.0.0.1:$port/private/
    curl -i -u guest:guest-password http://127.0.0.1:$port/private/

    # A plugin in Python (examples/python): facts, echo, Basic auth
    curl 'http://127.0.0.1:$port/py/hello?from=curl'
    curl -d 'echo me' http://127.0.0.1:$port/py/echo
    curl -u demo:demo-password http://127.0.0.1:$port/py-private/

    # JWT bearer tokens: 200 with a token, 401 without or expired
    curl -H "Authorization: Bearer \$(cat $root/auth/token)" http://127.0.0.1:$port/api/index.json
    curl -i http://127.0.0.1:$port/api/index.json
    curl -i -H "Authorization: Bearer \$(cat $root/auth/expired-token)" http://127.0.0.1:$port/api/index.json

  configuration: $root/httpd.conf
  error log:     $root/logs/error_log   (tail -f it in another terminal)
  Press Ctrl-C to stop.

MSG
wait "$httpd_pid"
