"""The plugin side of hashicorp/go-plugin's start-up, as gobridged (its
client) expects it: the magic cookie, the protocol version, the unix socket
and the handshake line on stdout. docs/protocol.md describes each step."""

import os
import sys
import tempfile

# Must match internal/handshake in the Go code: the cookie only stops a
# plugin from being started by hand by mistake; it is not a secret.
MAGIC_COOKIE_KEY = "GOBRIDGE_PLUGIN"
MAGIC_COOKIE_VALUE = "b3c1f0c2-6f5e-4c64-9a43-gobridge-v1"

# go-plugin's own protocol version (the first field of the handshake line)
# and gobridge's application protocol version (gobridge.v1).
CORE_PROTOCOL_VERSION = 1
APP_PROTOCOL_VERSION = 1

# gobridged's pid, so a plugin notices a parent that died before it looked.
PARENT_PID_ENV = "GOBRIDGE_PARENT_PID"


class HandshakeError(Exception):
    """The environment is not one gobridged would give: the plugin must not
    serve."""


def check_cookie(environ, prog):
    """Refuses to run without gobridged's magic cookie, saying what the
    program is for instead."""
    if environ.get(MAGIC_COOKIE_KEY) != MAGIC_COOKIE_VALUE:
        raise HandshakeError(
            "%s is a gobridge plugin: Apache httpd runs it through mod_gobridge "
            "and gobridged, for example with\n\n"
            "    GoBridgePlugin pyhello /usr/bin/python3 %s\n"
            "    <Location /py>\n        GoBridgeHandler pyhello\n    </Location>\n\n"
            "It does nothing when started by hand." % (prog, os.path.abspath(prog))
        )


def negotiate_version(environ):
    """Returns the application protocol version to speak: the one this
    plugin knows, if the host offers it in PLUGIN_PROTOCOL_VERSIONS (a
    comma-separated list; a host that sets none expects version 1)."""
    offered = environ.get("PLUGIN_PROTOCOL_VERSIONS", "")
    versions = set()
    for v in offered.split(","):
        v = v.strip()
        if v:
            try:
                versions.add(int(v))
            except ValueError:
                raise HandshakeError("PLUGIN_PROTOCOL_VERSIONS=%r is not a list of numbers" % offered)
    if versions and APP_PROTOCOL_VERSION not in versions:
        raise HandshakeError(
            "gobridged speaks protocol versions %s; this plugin speaks %d"
            % (offered, APP_PROTOCOL_VERSION)
        )
    return APP_PROTOCOL_VERSION


def refuse_unsupported(environ):
    """gobridged leaves AutoMTLS and go-plugin's gRPC multiplexing off (the
    module connects to the socket directly, in plain h2c); a host that asks
    for them is not gobridged."""
    if environ.get("PLUGIN_CLIENT_CERT"):
        raise HandshakeError("the host asks for TLS (PLUGIN_CLIENT_CERT); gobridge plugins serve plain h2c")
    if environ.get("PLUGIN_MULTIPLEX_GRPC", "").lower() in ("1", "true"):
        raise HandshakeError("the host asks for go-plugin's gRPC multiplexing, which gobridge leaves off")


def socket_path(environ):
    """Returns a fresh path for the listening socket, in
    PLUGIN_UNIX_SOCKET_DIR (gobridged's private directory) when set, named
    like go-plugin's ("plugin" and random digits). The file is not created."""
    fd, path = tempfile.mkstemp(prefix="plugin", dir=environ.get("PLUGIN_UNIX_SOCKET_DIR") or None)
    os.close(fd)
    os.unlink(path)
    return path


def share_socket(environ, path):
    """Lets PLUGIN_UNIX_SOCKET_GROUP connect, as go-plugin does, when the
    host asks (gobridged does not: the module runs as the plugin's user)."""
    group = environ.get("PLUGIN_UNIX_SOCKET_GROUP")
    if not group:
        return
    import grp

    gid = int(group) if group.isdigit() else grp.getgrnam(group).gr_gid
    os.chown(path, -1, gid)
    os.chmod(path, 0o660)


def handshake_line(version, path):
    """The line go-plugin's client waits for on stdout:
    CORE|APP|NETWORK|ADDRESS|PROTOCOL| (the empty last field: no TLS)."""
    return "%d|%d|unix|%s|grpc|\n" % (CORE_PROTOCOL_VERSION, version, path)


def announce(version, path):
    """Prints the handshake line, then points fd 1 at stderr: go-plugin's
    client discards whatever a plugin writes to stdout after the handshake,
    while stderr lines reach httpd's error log."""
    sys.stdout.write(handshake_line(version, path))
    sys.stdout.flush()
    os.dup2(2, 1)


def parent_pid(environ):
    """The process whose end should end the plugin: GOBRIDGE_PARENT_PID
    when gobridged gave it, else the parent at start."""
    try:
        pid = int(environ.get(PARENT_PID_ENV, ""))
        if pid > 0:
            return pid
    except ValueError:
        pass
    return os.getppid()
