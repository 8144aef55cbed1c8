#!/usr/bin/python3 -B
"""pyhello: a gobridge plugin written in Python, with grpcio.

One process serves two things to httpd:

  * a content handler: GET answers a page of facts about the request (and
    about the process: it runs as httpd's User), POST echoes the request
    body back, a path ending in /missing gets httpd's 404 page, one in .txt
    is declined (httpd serves the file), and one ending in /boom raises an
    exception (httpd answers 500 and logs it);
  * a password checker for `AuthBasicProvider gobridge`, from a user table
    (--users FILE, "name:hash" lines made with --hash-password);
  * an authorization provider: `Require gobridge pyhello user NAME...`;
  * a fixups phase (GoBridgeFixupHandler) that adds an X-Python-Fixup
    header to what httpd serves, static files included.

httpd.conf:

    GoBridgePlugin pyhello /usr/bin/python3 /path/to/plugin.py --users /etc/apache2/pyusers
    <Location /py>
        GoBridgeHandler pyhello
    </Location>
    <Location /private>
        AuthType Basic
        AuthName private
        AuthBasicProvider gobridge
        GoBridgeAuthnProvider pyhello
        Require valid-user
        GoBridgeHandler pyhello
    </Location>

Make a user table line with:

    echo -n secret | python3 plugin.py --hash-password alice >> pyusers

The modules generated from proto/ are looked for in --generated (default:
build/python at the top of the repository, where `make plugins` puts them).
"""

import argparse
import os
import platform
import pwd
import sys

sys.dont_write_bytecode = True  # httpd's User cannot write next to the code

import users  # noqa: E402 - after the line above: no __pycache__ either

HERE = os.path.dirname(os.path.abspath(__file__))

gbplugin = None  # imported by main() once the generated modules are on sys.path


def parse_args(argv):
    p = argparse.ArgumentParser(prog="plugin.py", description="gobridge example plugin in Python")
    p.add_argument("--generated", default=os.path.join(HERE, "..", "..", "build", "python"),
                   help="directory of the modules generated from proto/ (generate.sh)")
    p.add_argument("--users", help="user table for the password checker; without it the plugin checks no passwords")
    p.add_argument("--workers", type=int, default=16, help="gRPC worker threads (calls served at once)")
    p.add_argument("--hash-password", metavar="NAME",
                   help="read a password on stdin, print NAME's user table line and exit")
    return p.parse_args(argv)


def facts(request):
    """The lines of the facts page."""
    uid = os.getuid()
    try:
        account = pwd.getpwuid(uid).pw_name
    except KeyError:
        account = "?"
    return [
        "Hello from Python %s via gobridge!" % platform.python_version(),
        "",
        "method: %s" % request.method,
        "uri: %s" % request.uri,
        "args: %s" % request.args,
        "protocol: %s" % request.protocol,
        "host: %s" % request.hostname,
        "client: %s" % request.remote_ip,
        "user: %s" % (request.user or "-"),
        "user-agent: %s" % (request.header("User-Agent") or "-"),
        "greeting: %s" % request.option("greeting", "-"),
        "plugin: %s" % request.plugin,
        "process: pid %d, uid %d (%s)" % (os.getpid(), uid, account),
    ]


def hello(request, response):
    """The content handler."""
    if request.uri.endswith("/boom"):
        raise RuntimeError("boom: %s asked the handler to fail" % request.uri)
    if request.uri.endswith("/missing"):
        raise gbplugin.HTTPError(404)  # httpd sends its own error document
    if request.uri.endswith(".txt"):
        raise gbplugin.Declined()  # httpd's own handler serves the file
    if request.method == "POST":
        body = request.read()
        response.set_header("Content-Type", request.header("Content-Type") or "application/octet-stream")
        response.set_header("X-Body-Length", str(len(body)))
        response.write(body)
        return
    response.set_header("Content-Type", "text/plain; charset=utf-8")
    response.set_header("X-Plugin-Language", "Python")
    request.log("facts page for %s" % request.uri, level="debug")
    response.write("\n".join(facts(request)) + "\n")


def fixups(request, answer):
    """GoBridgeFixupHandler: marks what httpd serves here, static files
    included, with a response header (a phase changes tables; httpd still
    picks the handler)."""
    answer.set_header("X-Python-Fixup", "seen %s" % request.uri)
    return gbplugin.PHASE_OK


def password_checker(table):
    """Adapts the user table to gbplugin's checker contract."""
    answers = {"granted": gbplugin.GRANTED, "denied": gbplugin.DENIED, "not found": gbplugin.USER_NOT_FOUND}

    def check(user, password, request):
        return answers[table.check(user, password)]

    return check


def require(user, args, request):
    """`Require gobridge pyhello user NAME...`: the logged-in user must be
    one of the names. Anything else in the line is a configuration error,
    answered with an error (500), never with a grant."""
    if not args or args[0] != b"user":
        raise ValueError("unknown Require gobridge arguments %r; want: user NAME..." % (b" ".join(args),))
    if not user:
        return gbplugin.AUTHZ_DENIED_NO_USER
    return gbplugin.AUTHZ_GRANTED if user in args[1:] else gbplugin.AUTHZ_DENIED


def main(argv):
    args = parse_args(argv)
    if args.hash_password:
        password = sys.stdin.buffer.read().rstrip(b"\r\n")
        if not password:
            sys.exit("plugin.py: no password on stdin")
        print("%s:%s" % (args.hash_password, users.hash_password(password)))
        return
    # The generated modules come from the build, not from this directory.
    sys.path.insert(0, os.path.abspath(args.generated))
    global gbplugin
    try:
        import gbplugin
    except ImportError as e:
        sys.exit("plugin.py: %s: generate the modules with examples/python/generate.sh "
                 "(make plugins) or point --generated at them" % e)
    checker = password_checker(users.UserTable(args.users)) if args.users else None
    gbplugin.serve(handler=hello, phases={"fixups": fixups}, password_checker=checker, require_checker=require,
                   workers=args.workers)


if __name__ == "__main__":
    main(sys.argv[1:])
